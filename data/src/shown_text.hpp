// Untrusted text (a CSV cell, a date) as an error message shows it: at most `limit` bytes, each
// unprintable byte as \xNN, "..." when cut. Shared by the readers in data/src.
#pragma once
#include <fmt/format.h>
#include <string>
#include <string_view>

namespace tide::data::detail {

inline std::string shown(std::string_view text, std::size_t limit = 40) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) out += static_cast<char>(c);
    else out += fmt::format("\\x{:02x}", c);
  }
  if (text.size() > limit) out += "...";
  return out;
}

}  // namespace tide::data::detail
