#include "tide/data/shared_data.hpp"
#include "tide/core/error.hpp"
#include <cstdlib>
#include <filesystem>
#include <vector>

namespace tide::data {
namespace {

std::vector<std::filesystem::path> candidates(const std::string& relative) {
  std::vector<std::filesystem::path> roots;
  if (const char* env = std::getenv("TIDE_DATA_DIR"); env && *env) roots.emplace_back(env);
  for (const char* root : {"../shared/data", "../../shared/data", "/work/shared/data"}) roots.emplace_back(root);
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
  fail("shared data '{}' not found (looked at {}; set TIDE_DATA_DIR to the folder holding it)", relative, tried);
}

}  // namespace tide::data
