// `tide train`'s output pieces: the progress line (exact text under an injected clock) and the
// JSON Lines metrics log (flushed per record, torn last line tolerated, corrupt lines located).
#include "train/metrics_log.hpp"
#include "train/progress.hpp"
#include "tide/core/error.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <unistd.h>

using namespace tide::cli;
namespace fs = std::filesystem;

namespace {

// Everything written so far to a tmpfile().
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string text;
  char block[512];
  for (std::size_t n; (n = std::fread(block, 1, sizeof block, f)) > 0;) text.append(block, n);
  return text;
}

// A terminal redraw of `line` over a previous line `previous_width` characters long.
std::string redraw(const std::string& line, std::size_t previous_width, bool final = false) {
  std::string out = "\r" + line;
  if (line.size() < previous_width) out.append(previous_width - line.size(), ' ');
  return out + (final ? "\n" : "");
}

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / ("tide-test-train-output-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void append_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::app) << text;
}
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const tide::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("durations print as 12.3s, 4m05s and 1h02m03s") {
  CHECK(format_duration(0) == "0.0s");
  CHECK(format_duration(12.34) == "12.3s");
  CHECK(format_duration(59.94) == "59.9s");
  CHECK(format_duration(59.96) == "1m00s");
  CHECK(format_duration(245) == "4m05s");
  CHECK(format_duration(3599.4) == "59m59s");
  CHECK(format_duration(3723) == "1h02m03s");
  CHECK(format_duration(100 * 3600 + 61) == "100h01m01s");
  CHECK(format_duration(-1) == "?");
  CHECK(format_duration(std::nan("")) == "?");
}

TEST_CASE("on a terminal the progress line is redrawn in place, at most once per redraw interval") {
  std::FILE* out = std::tmpfile();
  REQUIRE(out);
  double t = 0;
  {
    Progress progress(out, 4, true, "train", {.redraw_seconds = 1.0, .bar_width = 8, .clock = [&] { return t; }});
    for (int step = 1; step <= 4; ++step) {
      t = 0.5 * step;
      progress.update(step, {{"loss", 1.0 / (1 << step)}});
    }
    progress.finish();
    progress.finish();  // once only
  }
  const std::string first = "train   25% [##......] 1/4  2 steps/s  loss=0.5  elapsed 0.5s  eta 1.5s";
  // step 2 comes 0.5 s after the first draw: not drawn
  const std::string third = "train   75% [######..] 3/4  2 steps/s  loss=0.125  elapsed 1.5s  eta 0.5s";
  const std::string last = "train  100% [########] 4/4  2 steps/s  loss=0.0625  elapsed 2.0s  eta 0.0s";
  const std::string done = "train  done 4/4 steps in 2.0s  2 steps/s  loss=0.0625";
  CHECK(contents(out) == redraw(first, 0) + redraw(third, first.size()) + redraw(last, third.size()) +
                             redraw(done, last.size(), true));
  std::fclose(out);
}

TEST_CASE("a progress line cut to the terminal's width, and one left open ends with a newline") {
  std::FILE* out = std::tmpfile();
  REQUIRE(out);
  double t = 0;
  {
    Progress progress(out, 10, true, "", {.bar_width = 4, .columns = 21, .clock = [&] { return t; }});
    t = 1;
    progress.update(5, {});
  }
  CHECK(contents(out) == "\r 50% [##..] 5/10  5 \n");
  std::fclose(out);
}

TEST_CASE("elsewhere the progress prints plain lines every tenth of the run or every so many seconds") {
  std::FILE* out = std::tmpfile();
  REQUIRE(out);
  double t = 0;
  Progress progress(out, 20, false, "eval", {.line_seconds = 1000, .line_fraction = 0.25, .clock = [&] { return t; }});
  for (int step = 1; step <= 20; ++step) {
    t = 0.5 * step;
    progress.update(step, {{"loss", 1.0 / step}});
  }
  progress.finish({{"loss", 0.04}, {"acc", 0.975}});
  CHECK(contents(out) ==
        "eval  step 1/20 (5%)  2 steps/s  loss=1  elapsed 0.5s  eta 9.5s\n"
        "eval  step 5/20 (25%)  2 steps/s  loss=0.2  elapsed 2.5s  eta 7.5s\n"
        "eval  step 10/20 (50%)  2 steps/s  loss=0.1  elapsed 5.0s  eta 5.0s\n"
        "eval  step 15/20 (75%)  2 steps/s  loss=0.06667  elapsed 7.5s  eta 2.5s\n"
        "eval  step 20/20 (100%)  2 steps/s  loss=0.05  elapsed 10.0s  eta 0.0s\n"
        "eval  done 20/20 steps in 10.0s  2 steps/s  loss=0.04  acc=0.975\n");
  std::fclose(out);

  out = std::tmpfile();
  REQUIRE(out);
  t = 0;
  {
    Progress timed(out, 0, false, "", {.line_seconds = 2.5, .line_fraction = 0.1, .clock = [&] { return t; }});
    for (int step = 1; step <= 7; ++step) {
      t = step;
      timed.update(step, {});
    }
  }  // no finish: a plain log needs no closing newline
  const std::string text = contents(out);
  CHECK(text == "step 1  1 steps/s  elapsed 1.0s\nstep 4  1 steps/s  elapsed 4.0s\nstep 7  1 steps/s  elapsed 7.0s\n");
  CHECK(text.find('\r') == std::string::npos);
  std::fclose(out);
}

TEST_CASE("the rate is smoothed over time and a resumed run counts from its first step") {
  std::FILE* out = std::tmpfile();
  REQUIRE(out);
  double t = 0;
  Progress progress(out, 100, false, "", {.line_seconds = 0, .rate_time_constant = 1.0, .start_step = 40, .clock = [&] { return t; }});
  t = 1;
  progress.update(41, {});  // 1 step/s
  t = 1;
  progress.update(42, {});  // no time passed: folded into the next sample
  t = 2;
  progress.update(44, {});  // 3 steps/s for 1 s: 1 + (1 - e^-1) * 2
  const double rate = 1 + (1 - std::exp(-1.0)) * 2;
  CHECK(contents(out) ==
        "step 41/100 (41%)  1 steps/s  elapsed 1.0s  eta 59.0s\n"
        "step 42/100 (42%)  1 steps/s  elapsed 1.0s  eta 58.0s\n"
        "step 44/100 (44%)  " + fmt::format("{:.3g}", rate) + " steps/s  elapsed 2.0s  eta " + format_duration(56 / rate) + "\n");
  std::fclose(out);
}

TEST_CASE("the metrics log writes one flushed JSON object per line and appends on resume") {
  TempDir dir;
  const std::string path = dir.file("metrics.jsonl");
  {
    MetricsLog log;
    log.open(path, false);
    log.write({{"step", 1}, {"loss", 0.5}});
    CHECK(read_text(path) == "{\"loss\":0.5,\"step\":1}\n");  // on disk before close: flushed
    log.write({{"step", 2}, {"loss", 0.25}, {"note", "a\nb"}});
    CHECK(error_of([&] { log.write(nlohmann::json::array({1, 2})); }).find(path) != std::string::npos);
  }
  MetricsLog log;
  log.open(path, true);
  log.write({{"step", 3}});
  log.close();
  auto records = read_metrics(path);
  REQUIRE(records.size() == 3);
  CHECK(records[1]["note"] == "a\nb");
  CHECK(records[2]["step"] == 3);

  log.open(path, false);  // a fresh run starts the file over
  log.write({{"step", 1}});
  log.close();
  CHECK(read_metrics(path).size() == 1);
  CHECK(error_of([&] { log.write({{"step", 2}}); }).find("before open") != std::string::npos);
}

TEST_CASE("a torn last line is skipped and counted, and cut off before appending") {
  TempDir dir;
  const std::string path = dir.file("metrics.jsonl");
  MetricsLog log;
  log.open(path, false);
  for (int step = 1; step <= 3; ++step) log.write({{"step", step}});
  log.close();
  append_text(path, "{\"step\":4,\"lo");

  std::int64_t torn = -1;
  CHECK(read_metrics(path, &torn).size() == 3);
  CHECK(torn == 1);
  log.open(path, true);
  CHECK(log.dropped_bytes() == 13);
  log.write({{"step", 4}});
  log.close();
  auto records = read_metrics(path, &torn);
  CHECK(torn == 0);
  REQUIRE(records.size() == 4);
  CHECK(records[3]["step"] == 4);

  // a whole record that lost only its newline is kept, and completed before appending
  append_text(path, "{\"step\":5}");
  CHECK(read_metrics(path, &torn).size() == 5);
  CHECK(torn == 0);
  log.open(path, true);
  CHECK(log.dropped_bytes() == 0);
  log.write({{"step", 6}});
  log.close();
  records = read_metrics(path);
  REQUIRE(records.size() == 6);
  CHECK(records[5]["step"] == 6);
}

TEST_CASE("a corrupt line before the last is an error naming file:line") {
  TempDir dir;
  const std::string path = dir.file("bad.jsonl");
  append_text(path, "{\"step\":1}\n\n{\"step\":2,\n{\"step\":3}\n");
  std::string message = error_of([&] { read_metrics(path); });
  CHECK_MESSAGE(message.find(path + ":3:") != std::string::npos, message);

  const std::string array_path = dir.file("array.jsonl");
  append_text(array_path, "{\"step\":1}\n[1, 2]\n");
  message = error_of([&] { read_metrics(array_path); });
  CHECK_MESSAGE(message.find(array_path + ":2: expected a JSON object") != std::string::npos, message);

  message = error_of([&] { read_metrics(dir.file("absent.jsonl")); });
  CHECK_MESSAGE(message.find("absent.jsonl") != std::string::npos, message);
  MetricsLog log;
  message = error_of([&] { log.open(dir.file("no/such/dir/m.jsonl"), false); });
  CHECK_MESSAGE(message.find("no/such/dir/m.jsonl") != std::string::npos, message);
}

TEST_CASE("a resumed run with no step left ends without a rate (it printed '? steps/s')") {
  std::FILE* out = std::tmpfile();
  REQUIRE(out);
  double t = 0;
  {
    Progress progress(out, 60, false, "", {.line_seconds = 0, .start_step = 60, .clock = [&] { return t; }});
    t = 0.5;
    progress.finish({{"loss", 0.25}});
  }
  CHECK(contents(out) == "done 60/60 steps in 0.5s  loss=0.25\n");
  std::fclose(out);
}
