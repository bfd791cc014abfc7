// `tide train`'s metrics log: one JSON object per line (JSON Lines), flushed after every line, so
// a crash loses at most the line being written. read_metrics reads it back, dropping a torn last
// line; a resumed run appends to the same file.
#pragma once
#include <nlohmann/json.hpp>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace tide::cli {

class MetricsLog {
public:
  MetricsLog() = default;
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // Starts a new file, or with `append` continues an existing one (created when missing). A torn
  // last line left by a crash is cut off first (or, when it is a whole record that lost only its
  // newline, completed), so the records appended after it stay readable.
  void open(const std::string& path, bool append);
  // Writes `record` (a JSON object) as one line and flushes it. Errors name the file.
  void write(const nlohmann::json& record);
  void close();
  bool is_open() const { return file_ != nullptr; }
  const std::string& path() const { return path_; }
  // Bytes of a torn last line that open() cut off (0 when the file ended cleanly).
  std::int64_t dropped_bytes() const { return dropped_bytes_; }

private:
  std::FILE* file_ = nullptr;
  std::string path_;
  std::int64_t dropped_bytes_ = 0;
};

// The records of a metrics file in order. A last line without its newline that does not parse
// (a write cut short) is skipped and counted in *torn_lines; any other line that is not a JSON
// object (or holds a value nested deeper than 128 levels) is an error naming file:line. Blank lines
// are skipped.
std::vector<nlohmann::json> read_metrics(const std::string& path, std::int64_t* torn_lines = nullptr);

}  // namespace tide::cli
