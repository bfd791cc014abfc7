// File reads for the loaders: a file's bytes, inflated first when it is gzipped (the Fashion-MNIST
// files Debian installs are .gz), with errors that name the file. FileReader reads them in pieces,
// so that a loader checks a header before it allocates what the header promises.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace tide::data::detail {

// A file read from its start, plain or (magic 1f 8b) inflated as it is read. Throws tide::Error
// naming the file when it cannot be opened or read, when its gzip data is corrupt or truncated,
// and when what is asked for does not fit in memory.
class FileReader {
public:
  explicit FileReader(const std::string& path);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  // The next n bytes; fewer only at the end of the data. Memory grows with the bytes that arrive,
  // not with n, so a header promising more than the file holds allocates no more than the file.
  std::string read(std::uint64_t n);
  // The bytes left, when known without reading them (a plain regular file).
  std::optional<std::uint64_t> left() const;

private:
  struct State;
  std::unique_ptr<State> state_;
};

// The whole file's bytes (inflated when gzipped).
std::string read_file_bytes(const std::string& path);

}  // namespace tide::data::detail
