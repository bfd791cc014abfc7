// The atomic file every `--out` of the tools goes through (tide/core/atomic_file.hpp), on the
// targets a user can name: a symbolic link is written through to its target (it used to be
// replaced by a regular file, the target unchanged), a directory or a FIFO is refused untouched
// (a FIFO used to be replaced), and a failed rename names the target and the temporary file.
#include "../data/data_test_util.hpp"
#include "tide/core/atomic_file.hpp"
#include <doctest/doctest.h>
#include <sys/stat.h>

using tide::AtomicFile;
using tide::write_file_atomically;
using tide::data::test::error_of;
using tide::data::test::TempDir;
using tide::data::test::write_file;
namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::size_t entries(const fs::path& dir) { return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator())); }

}  // namespace

TEST_CASE("an atomic file written through a symbolic link replaces the link's target and keeps the link") {
  TempDir dir;
  fs::create_directory(dir.path() / "data");
  const std::string target = write_file(dir.file("data/out.csv"), "old");
  fs::create_symlink("data/out.csv", dir.path() / "link.csv");  // relative, as `ln -s` makes them
  fs::create_symlink(dir.path() / "link.csv", dir.path() / "chain.csv");
  write_file_atomically(dir.file("chain.csv"), "new");
  CHECK(fs::is_symlink(dir.path() / "chain.csv"));
  CHECK(fs::is_symlink(dir.path() / "link.csv"));
  CHECK(read_text(target) == "new");
  CHECK(entries(dir.path() / "data") == 1);  // the temporary file went beside the target, and is gone
  // a dangling link: its target is created, as a shell's `>` would
  fs::create_symlink("data/fresh.csv", dir.path() / "dangling.csv");
  write_file_atomically(dir.file("dangling.csv"), "fresh");
  CHECK(fs::is_symlink(dir.path() / "dangling.csv"));
  CHECK(read_text(dir.file("data/fresh.csv")) == "fresh");
}

TEST_CASE("an atomic file refuses a target that is not a regular file and leaves it as it was") {
  TempDir dir;
  const std::string folder = dir.file("a folder");
  fs::create_directory(folder);
  CHECK(error_of([&] { write_file_atomically(folder, "x"); }) ==
        "'" + folder + "': cannot write '" + folder + "': it is a directory; only a regular file is replaced");
  CHECK(fs::is_directory(folder));
  const std::string fifo = dir.file("pipe");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(error_of([&] { write_file_atomically(fifo, "x", "tide eval: --out"); }) ==
        "tide eval: --out: cannot write '" + fifo + "': it is a FIFO; only a regular file is replaced");
  CHECK(fs::is_fifo(fifo));
  fs::create_symlink(fifo, dir.path() / "to_pipe");  // through a link: both named
  CHECK(error_of([&] { write_file_atomically(dir.file("to_pipe"), "x"); })
            .ends_with("cannot write '" + dir.file("to_pipe") + "' (a link to '" + fifo + "'): it is a FIFO; only a regular file is replaced"));
  CHECK(entries(dir.path()) == 3);  // no temporary file left
}

TEST_CASE("an atomic file refuses a process's descriptor (/dev/stdout): a pipe it could not name, or a file taken from under it") {
  // --out /dev/stdout into a pipe failed creating "/proc/self/fd/pipe:[N].tmp-..."; redirected to a
  // file, the rename replaced the file the process's summary was written to, and the summary was lost
  TempDir dir;
  const std::string link = dir.file("to_stdout");
  fs::create_symlink("/proc/self/fd/1", link);
  for (const std::string& path : {std::string("/dev/stdout"), std::string("/proc/self/fd/1"), std::string("/dev/fd/2"), link}) {
    CAPTURE(path);
    CHECK(error_of([&] { write_file_atomically(path, "x", "tide predict: --out"); })
              .starts_with("tide predict: --out: cannot write '" + path + "': it is a process's file descriptor; give a file's name"));
  }
  CHECK(entries(dir.path()) == 1);  // no temporary file left
}

TEST_CASE("a failed rename names the target it would replace and the temporary file") {
  TempDir dir;
  const std::string target = dir.file("out.txt");
  AtomicFile file(target);
  file.write("x");
  fs::create_directories(dir.path() / "out.txt" / "inside");  // a non-empty directory appears meanwhile
  const std::string message = error_of([&] { file.commit(); });
  CHECK(message.starts_with("'" + target + "': renaming the temporary file '" + file.temporary_path() + "' over '" + target + "' failed: "));
  CHECK_FALSE(fs::exists(file.temporary_path()));
}
