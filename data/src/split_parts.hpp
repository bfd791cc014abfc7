// The seeded train / val / test split of any set with subset(index) and a name (SequenceSet,
// VectorSet): split_rows' indices, each part named "<name>/train" and so on.
#pragma once
#include "tide/data/sequence_set.hpp"

namespace tide::data::detail {

template <class Parts, class Set>
Parts split_parts(const Set& all, double val_fraction, double test_fraction, std::uint64_t seed) {
  const SplitRows rows = split_rows(all.size(), val_fraction, test_fraction, seed, all.name);
  const auto part = [&](const std::vector<std::int64_t>& index, const char* which) {
    Set s = all.subset(index);
    s.name = all.name + "/" + which;
    return s;
  };
  return Parts{part(rows.train, "train"), part(rows.val, "val"), part(rows.test, "test")};
}

}  // namespace tide::data::detail
