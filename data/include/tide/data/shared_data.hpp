// Where the real datasets live: the project's shared data folder (see ../shared/data/README.md),
// looked up from the current directory so tests and tools find it from the project root.
#pragma once
#include <optional>
#include <string>

namespace tide::data {

// The first existing `<root>/<relative>` among the roots $TIDE_DATA_DIR (when set),
// ../shared/data, ../../shared/data and /work/shared/data; nullopt when none exists.
std::optional<std::string> locate_shared_data(const std::string& relative);
// As locate_shared_data, but throws tide::Error listing every place it looked.
std::string find_shared_data(const std::string& relative);

}  // namespace tide::data
