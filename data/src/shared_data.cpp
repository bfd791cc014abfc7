#include "tide/data/shared_data.hpp"
#include "tide/core/error.hpp"
#include <cstdlib>
#include <filesystem>
#include <vector>

namespace tide::data {
namespace {

// The variable's value, or empty when it is unset or empty.
std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// The per-user data folder: $XDG_DATA_HOME/tide, else ~/.local/share/tide (the XDG base-directory
// spec ignores a relative $XDG_DATA_HOME); empty when neither variable says where.
std::filesystem::path user_data_dir() {
  const std::filesystem::path xdg = environment("XDG_DATA_HOME");
  if (xdg.is_absolute()) return xdg / "tide";
  const std::string home = environment("HOME");
  return home.empty() ? std::filesystem::path() : std::filesystem::path(home) / ".local/share/tide";
}

std::vector<std::filesystem::path> candidates(const std::string& relative) {
  std::vector<std::filesystem::path> roots;
  if (const std::string dir = environment("TIDE_DATA_DIR"); !dir.empty()) roots.emplace_back(dir);
  if (const std::filesystem::path user = user_data_dir(); !user.empty()) roots.push_back(user);
  for (const char* root : {"shared/data", "../shared/data", "../../shared/data"}) roots.emplace_back(root);
  for (auto& root : roots) root /= relative;
  return roots;
}

}  // namespace

std::optional<std::string> locate_shared_data(const std::string& relative) {
  for (const auto& path : candidates(relative)) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) return path.string();
  }
  return std::nullopt;
}

std::string find_shared_data(const std::string& relative) {
  if (auto found = locate_shared_data(relative)) return *found;
  std::string tried;
  for (const auto& path : candidates(relative)) tried += (tried.empty() ? "" : ", ") + path.string();
  fail("shared data '{}' not found (looked at {}); put it under $TIDE_DATA_DIR or the per-user data folder "
       "$XDG_DATA_HOME/tide (default ~/.local/share/tide), or give the file's path in the config",
       relative, tried);
}

}  // namespace tide::data
