#include "tide/data/idx.hpp"
#include "file_bytes.hpp"
#include "tide/core/error.hpp"

namespace tide::data {
namespace {

constexpr std::uint32_t images_magic = 0x00000803, labels_magic = 0x00000801;
// At most this many pixels per image, so that rows x cols is a 64-bit signed integer even when no
// pixel backs it (a file of 0 images).
constexpr std::uint64_t max_image_pixels = std::uint64_t{1} << 32;

std::uint32_t big_endian_u32(const std::string& bytes, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t k = 0; k < 4; ++k) v = (v << 8) | static_cast<unsigned char>(bytes[at + k]);
  return v;
}

// Checks the magic and that the file holds exactly the header plus `payload` bytes.
void check_layout(const std::string& path, const std::string& bytes, std::uint32_t magic, std::size_t header,
                  const char* kind) {
  if (bytes.size() < 4)
    fail("{}: {} bytes, too short for an IDX header (expected {} bytes)", path, bytes.size(), header);
  const std::uint32_t found = big_endian_u32(bytes, 0);
  if (found != magic) {
    const char* hint = found == images_magic ? " (an images file)" : found == labels_magic ? " (a labels file)" : "";
    fail("{}: IDX magic 0x{:08x}{}, expected 0x{:08x} for {}", path, found, hint, magic, kind);
  }
  if (bytes.size() < header)
    fail("{}: {} bytes, too short for the {}-byte IDX {} header", path, bytes.size(), header, kind);
}

// `payload` bytes after the header, or overflow when the header's extents multiply past 2^64.
void check_size(const std::string& path, std::size_t have, std::size_t header, std::uint64_t payload,
                bool overflow, const std::string& what) {
  if (overflow || payload > have || have - payload != header)
    fail("{}: {} bytes, but the header promises {} ({} bytes after the {}-byte header): the file is {}", path, have,
         what, overflow ? std::string("over 2^64") : std::to_string(payload), header,
         overflow || payload > have || have - payload < header ? "truncated" : "longer than its header says");
}

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  const std::string bytes = detail::read_file_bytes(path);
  check_layout(path, bytes, images_magic, 16, "images");
  IdxImages out;
  out.count = big_endian_u32(bytes, 4);
  out.rows = big_endian_u32(bytes, 8);
  out.cols = big_endian_u32(bytes, 12);
  if (out.rows == 0 || out.cols == 0) fail("{}: IDX images of {} x {} pixels", path, out.rows, out.cols);
  std::uint64_t payload = 0;
  const bool overflow = __builtin_mul_overflow(static_cast<std::uint64_t>(out.count) * static_cast<std::uint64_t>(out.rows),
                                               static_cast<std::uint64_t>(out.cols), &payload);
  check_size(path, bytes.size(), 16, payload, overflow, fmt::format("{} images of {} x {}", out.count, out.rows, out.cols));
  // The file's size bounds the extents only when count > 0.
  if (static_cast<std::uint64_t>(out.rows) * static_cast<std::uint64_t>(out.cols) > max_image_pixels)
    fail("{}: IDX images of {} x {} pixels, more than {} per image", path, out.rows, out.cols, max_image_pixels);
  out.pixels.assign(bytes.begin() + 16, bytes.end());
  return out;
}

std::vector<std::uint8_t> read_idx_labels(const std::string& path) {
  const std::string bytes = detail::read_file_bytes(path);
  check_layout(path, bytes, labels_magic, 8, "labels");
  const std::uint32_t count = big_endian_u32(bytes, 4);
  check_size(path, bytes.size(), 8, count, false, fmt::format("{} labels", count));
  return {bytes.begin() + 8, bytes.end()};
}

}  // namespace tide::data
