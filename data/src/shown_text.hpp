// Untrusted text (a CSV cell, a date) as the readers in data/src handle it: trimmed of its blanks,
// and shown in an error message.
#pragma once
#include <fmt/format.h>
#include <string>
#include <string_view>

namespace tide::data::detail {

// `s` without its leading and trailing spaces and tabs.
inline std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// `text` as an error message shows it: at most `limit` bytes, each unprintable byte as \xNN, "..." when cut.
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
