// Where the real datasets live, in the order a user of dataset libraries expects: the folder the
// user names, the per-user data folder, then the project's shared data folder (see
// ../shared/data/README.md) relative to the working directory, so tests and tools run from the
// project root find it.
#pragma once
#include <optional>
#include <string>

namespace tide::data {

// The first existing `<root>/<relative>` among the roots, in this order:
//   $TIDE_DATA_DIR                                  (when set)
//   $XDG_DATA_HOME/tide, else $HOME/.local/share/tide   (the per-user data folder)
//   shared/data, ../shared/data, ../../shared/data      (relative to the working directory)
// nullopt when none exists.
std::optional<std::string> locate_shared_data(const std::string& relative);
// As locate_shared_data, but throws tide::Error listing every place it looked and how to point
// the search elsewhere.
std::string find_shared_data(const std::string& relative);

}  // namespace tide::data
