#include "file_bytes.hpp"
#include "tide/core/error.hpp"
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <zlib.h>

namespace tide::data::detail {
namespace {

bool is_gzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

// Inflates every gzip member in turn (gzip allows several back to back, as `cat a.gz b.gz` makes).
std::string gunzip(const std::string& packed, const std::string& path) {
  if (packed.size() > 0xffffffffu) fail("{}: gzip files over 4 GiB are not supported", path);
  std::string out;
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) fail("{}: zlib could not start inflating", path);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  zs.avail_in = static_cast<uInt>(packed.size());
  char buffer[1 << 16];
  int status = Z_OK;
  while (true) {
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof buffer;
    status = inflate(&zs, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - zs.avail_out);
    if (status == Z_STREAM_END && zs.avail_in > 0) {
      // zero bytes after the last member pad it to a block (tapes, some writers); gzip -t accepts them
      if (std::all_of(zs.next_in, zs.next_in + zs.avail_in, [](Bytef b) { return b == 0; })) break;
      inflateReset(&zs);  // another member follows
      continue;
    }
    if (status != Z_OK) break;  // Z_OK means progress; anything else ends the loop
  }
  const std::string message = zs.msg ? zs.msg : "unexpected end of data";
  inflateEnd(&zs);
  if (status != Z_STREAM_END) fail("{}: gzip data is corrupt or truncated ({})", path, message);
  return out;
}

}  // namespace

std::string read_file_bytes(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail("{}: is a directory, not a file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open the file ({})", path, std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail("{}: read error", path);
  return is_gzip(bytes) ? gunzip(bytes, path) : bytes;
}

}  // namespace tide::data::detail
