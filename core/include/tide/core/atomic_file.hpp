// A file written whole or not at all, and durable once written: the bytes go to a temporary file
// beside the target, and commit() flushes it, syncs it to the disk, renames it over the target and
// syncs the directory, so that after a crash or a power loss the target holds either its old
// content or the new one, never an empty or partial file. Destroyed without commit() (an
// exception, a failed write), the temporary file is removed and the target is left as it was.
// A symbolic link is written through: its final target is replaced (the temporary file goes beside
// it) and the link stays a link. An existing target that is not a regular file (a directory, a
// FIFO, a device) is refused before anything is written.
#pragma once
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

namespace tide {

class AtomicFile {
public:
  // `context` starts every error message (e.g. "save_archive 'run/x.tide'"); by default the path.
  explicit AtomicFile(std::string path, std::string context = "");
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  void write(const void* bytes, std::size_t n);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Makes the written bytes the target's content; throws tide::Error naming the step that failed
  // and the system's reason (the temporary file is removed and the target is unchanged).
  void commit();

  const std::string& path() const { return path_; }
  const std::string& target() const { return target_; }  // path(), or a symbolic link's final target
  const std::string& temporary_path() const { return temp_; }

private:
  [[noreturn]] void abandon(const std::string& step, int error);

  std::string path_, context_, target_, temp_;  // (in this order: each is made from the ones before)
  std::FILE* file_ = nullptr;
};

// The whole of `bytes` written to `path` through an AtomicFile.
void write_file_atomically(const std::string& path, std::string_view bytes, const std::string& context = "");

}  // namespace tide
