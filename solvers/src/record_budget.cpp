// RecordBudget (record_budget.hpp).
#include "record_budget.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/core/tensor.hpp"
#include <fmt/format.h>
#include <unistd.h>

namespace tide::detail {

namespace {

// A recorded node beyond its output's storage (the node, its inputs' shapes and saved values,
// the output's Storage object): about 1.3 KB for a built-in op with a small output (a 1,000-byte
// OpNode and a 330-byte Storage holding up to 256 bytes inline), 0.4 KB for a custom node.
constexpr std::int64_t node_bytes = 1024;

std::int64_t half_physical_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<std::int64_t>(pages) * page / 2 : std::int64_t{8} << 30;
}

}  // namespace

RecordBudget::RecordBudget(std::int64_t budget_bytes)
    : budget_(budget_bytes > 0 ? budget_bytes : half_physical_memory()), start_bytes_(thread_memory_bytes()),
      start_node_(thread_node_count()) {}

// This thread's growth only: other threads' tensors and nodes are not this solve's record.
std::int64_t RecordBudget::recorded() const {
  const auto nodes = static_cast<std::int64_t>(thread_node_count() - start_node_);
  return thread_memory_bytes() - start_bytes_ + nodes * node_bytes;
}

std::string RecordBudget::message(std::int64_t steps, bool out_of_memory) const {
  const double gb = static_cast<double>(recorded()) / (1 << 30);
  const double kb_per_step = steps > 0 ? static_cast<double>(recorded()) / 1024.0 / static_cast<double>(steps) : 0.0;
  return fmt::format("{} recording the discrete gradient: about {:.2f} GB after {} steps ({:.0f} KB per step{}); use "
                     "gradient = checkpointed (one stored state per step, each step recomputed backwards; "
                     "checkpoint_budget bounds it further) or adjoint (memory independent of the steps)",
                     out_of_memory ? "out of memory" : "over max_record_bytes", gb, steps, kb_per_step,
                     out_of_memory ? "" : fmt::format(", budget {:.2f} GB", static_cast<double>(budget_) / (1 << 30)));
}

}  // namespace tide::detail
