// IDX files written byte for byte by the tests (big-endian header, then the bytes).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tide::data::test {

inline void put_u32(std::string& out, std::uint32_t v) {
  for (int k = 3; k >= 0; --k) out += static_cast<char>((v >> (8 * k)) & 0xff);
}

inline std::string idx_images_bytes(std::uint32_t count, std::uint32_t rows, std::uint32_t cols,
                                    const std::vector<std::uint8_t>& pixels) {
  std::string out;
  put_u32(out, 0x00000803), put_u32(out, count), put_u32(out, rows), put_u32(out, cols);
  out.append(pixels.begin(), pixels.end());
  return out;
}

inline std::string idx_labels_bytes(const std::vector<std::uint8_t>& labels) {
  std::string out;
  put_u32(out, 0x00000801), put_u32(out, static_cast<std::uint32_t>(labels.size()));
  out.append(labels.begin(), labels.end());
  return out;
}

}  // namespace tide::data::test
