// The labels of IDX images checked against their classes (image_vectors.cpp): the idx dataset's
// and Fashion-MNIST's images.
#pragma once
#include "tide/data/vectors.hpp"
#include <cstdint>
#include <string>

namespace tide::data::detail {

// Every label of `set` (read from `file`) below `classes`, naming the first that is not and `why`
// there are that many classes.
void check_labels(const VectorSet& set, std::int64_t classes, const std::string& file, const std::string& why);

}  // namespace tide::data::detail
