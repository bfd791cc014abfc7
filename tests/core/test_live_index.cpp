// The plan's index of placed buffers by lifetime (core/src/plan/live_index.hpp) against a scan of
// every buffer: the same buffers, each once, for random lifetimes short and long.
#include "plan/live_index.hpp"
#include <doctest/doctest.h>
#include <algorithm>
#include <random>
#include <vector>

using tide::detail::LiveIndex;

namespace {

struct Life {
  int first, last;
};

std::vector<int> scanned(const std::vector<Life>& added, int first, int last) {
  std::vector<int> out;
  for (std::size_t b = 0; b < added.size(); ++b)
    if (added[b].first <= last && first <= added[b].last) out.push_back(static_cast<int>(b));
  return out;
}

std::vector<int> indexed(const LiveIndex& index, int first, int last) {
  std::vector<int> out;
  index.each_overlapping(first, last, [&](int b) { out.push_back(b); });
  std::sort(out.begin(), out.end());
  return out;
}

Life random_life(std::mt19937& rng, int calls) {
  const int first = std::uniform_int_distribution<int>(0, calls - 1)(rng);
  const int longest = (rng() % 4 == 0) ? calls : 3;
  const int last = std::min(calls - 1, first + std::uniform_int_distribution<int>(0, longest)(rng));
  return {first, last};
}

}  // namespace

TEST_CASE("live index: the buffers overlapping a lifetime are those a scan finds, each once") {
  std::mt19937 rng(7);
  for (int calls : {1, 2, 3, 5, 8, 13, 64, 100}) {
    LiveIndex index(static_cast<std::size_t>(calls));
    std::vector<Life> added;
    for (int step = 0; step < 300; ++step) {
      const Life query = random_life(rng, calls);
      CAPTURE(calls);
      CAPTURE(step);
      CHECK(indexed(index, query.first, query.last) == scanned(added, query.first, query.last));
      index.add(static_cast<int>(added.size()), query.first, query.last);
      added.push_back(query);
    }
  }
}

TEST_CASE("live index: lifetimes that touch at one call overlap; those that only abut do not") {
  LiveIndex index(10);
  index.add(0, 2, 4);
  index.add(1, 5, 9);
  index.add(2, 0, 0);
  CHECK(indexed(index, 4, 5) == std::vector<int>{0, 1});
  CHECK(indexed(index, 0, 1) == std::vector<int>{2});
  CHECK(indexed(index, 1, 1).empty());
  CHECK(indexed(index, 9, 9) == std::vector<int>{1});
  CHECK(indexed(index, 0, 9) == std::vector<int>{0, 1, 2});
}
