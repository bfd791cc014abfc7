// AtomicFile (atomic_file.hpp): temporary file, fsync, rename, fsync of the directory.
#include "tide/core/atomic_file.hpp"
#include "tide/core/error.hpp"
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

namespace tide {

namespace {

// The directory entry of a rename is durable only once the directory itself is synced. Returns 0
// or the errno of the failure; file systems that cannot sync a directory (EINVAL, EROFS) count as
// success, and so does a directory we cannot open (the file is in place either way).
int sync_directory_of(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  return rc != 0 && error != EINVAL && error != EROFS ? error : 0;
}

}  // namespace

AtomicFile::AtomicFile(std::string path, std::string context)
    : path_(std::move(path)), temp_(path_ + ".tmp-" + std::to_string(static_cast<long>(::getpid()))),
      context_(context.empty() ? "'" + path_ + "'" : std::move(context)) {
  file_ = std::fopen(temp_.c_str(), "wb");
  if (!file_) fail("{}: cannot write '{}' (creating its temporary file '{}': {})", context_, path_, temp_, std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (!file_) return;
  std::fclose(file_);
  std::remove(temp_.c_str());
}

void AtomicFile::abandon(const char* step, int error) {
  if (file_) std::fclose(file_);
  file_ = nullptr;
  std::remove(temp_.c_str());
  fail("{}: {} '{}' failed: {}", context_, step, temp_, std::strerror(error));
}

void AtomicFile::write(const void* bytes, std::size_t n) {
  if (!file_) fail("{}: the file was already committed or abandoned", context_);
  if (n && std::fwrite(bytes, 1, n, file_) != n) abandon("writing", errno);
}

void AtomicFile::commit() {
  if (!file_) fail("{}: the file was already committed or abandoned", context_);
  if (std::fflush(file_) != 0) abandon("flushing", errno);
  if (::fsync(::fileno(file_)) != 0) abandon("syncing", errno);
  const int rc = std::fclose(file_);
  const int close_error = errno;
  file_ = nullptr;
  if (rc != 0) abandon("closing", close_error);
  if (std::rename(temp_.c_str(), path_.c_str()) != 0) abandon("renaming over the target", errno);
  if (const int error = sync_directory_of(path_))
    fail("{}: written, but syncing its directory failed: {}", context_, std::strerror(error));
}

void write_file_atomically(const std::string& path, std::string_view bytes, const std::string& context) {
  AtomicFile file(path, context);
  file.write(bytes);
  file.commit();
}

}  // namespace tide
