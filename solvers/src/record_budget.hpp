// Internal: the memory a discrete-gradient solve may record. Its tape grows with every step (the
// stages and the dynamics' own nodes); past the budget the solve stops with a SolverError that
// says how large the record got and which gradient kinds keep memory bounded, instead of running
// the machine out of memory (an out-of-memory while recording says the same).
#pragma once
#include <cstdint>
#include <string>

namespace tide::detail {

class RecordBudget {
public:
  // budget_bytes <= 0: half the machine's physical memory.
  explicit RecordBudget(std::int64_t budget_bytes);
  // The estimated bytes recorded since construction: tensor storage grown plus a per-node cost
  // for the nodes recorded.
  std::int64_t recorded() const;
  bool exceeded() const { return recorded() > budget_; }
  std::int64_t budget() const { return budget_; }
  // The message for a record over budget (or out of memory) after `steps` steps.
  std::string message(std::int64_t steps, bool out_of_memory) const;

private:
  std::int64_t budget_;
  std::int64_t start_bytes_;
  std::uint64_t start_node_;
};

}  // namespace tide::detail
