// Whole numbers of fixed formats written with digits only (PhysioNet's HH:MM times and RecordIDs,
// Traffic's date-times). Shared by the readers in data/src: std::from_chars alone accepts a sign,
// so "-0" would read as 0 and "-1" as an hour.
#pragma once
#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>

namespace tide::data::detail {

// `text` as a T when it is one or more digits 0-9 and nothing else, and fits a T; nullopt otherwise.
template <class T> std::optional<T> digits_only(std::string_view text) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  T out{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return out;
}

}  // namespace tide::data::detail
