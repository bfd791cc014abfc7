// The plan's memory placement (plan.cpp): an index of the buffers placed so far by lifetime.
#pragma once
#include <cstddef>
#include <limits>
#include <set>
#include <utility>
#include <vector>

namespace tide::detail {

// Buffers by lifetime (from call `first` to call `last`): which of them overlap a given lifetime,
// found without visiting the rest (a long trace has thousands of short-lived temporaries). Those
// live at its first call come from a segment tree over the calls, each buffer stored in the
// O(log calls) nodes that cover its lifetime; those starting later from an ordered set of starts.
class LiveIndex {
 public:
  explicit LiveIndex(std::size_t calls) {
    while (leaves_ < calls) leaves_ *= 2;
    nodes_.resize(2 * leaves_);
  }
  void add(int b, int first, int last) {
    for (std::size_t l = leaves_ + to_size(first), r = leaves_ + to_size(last) + 1; l < r; l /= 2, r /= 2) {
      if (l % 2 == 1) nodes_[l++].push_back(b);
      if (r % 2 == 1) nodes_[--r].push_back(b);
    }
    starts_.emplace(first, b);
  }
  // Calls f(b) once for each buffer b added whose lifetime shares a call with [first, last].
  template <class F>
  void each_overlapping(int first, int last, F&& f) const {
    for (std::size_t i = leaves_ + to_size(first); i >= 1; i /= 2)
      for (int b : nodes_[i]) f(b);
    for (auto it = starts_.upper_bound({first, std::numeric_limits<int>::max()}); it != starts_.end() && it->first <= last; ++it)
      f(it->second);
  }

 private:
  static std::size_t to_size(int call) { return static_cast<std::size_t>(call); }
  std::size_t leaves_ = 1;
  std::vector<std::vector<int>> nodes_;
  std::set<std::pair<int, int>> starts_;  // (first call, buffer)
};

}  // namespace tide::detail
