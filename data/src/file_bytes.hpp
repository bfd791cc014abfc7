// Whole-file reads for the loaders: the bytes of a file, inflated first when it is gzipped (the
// Fashion-MNIST files Debian installs are .gz), with errors that name the file.
#pragma once
#include <string>

namespace tide::data::detail {

// The file's bytes; a gzip file (magic 1f 8b) is decompressed. Throws tide::Error naming `path`
// when it cannot be opened or read or when its gzip data is corrupt or truncated.
std::string read_file_bytes(const std::string& path);

}  // namespace tide::data::detail
