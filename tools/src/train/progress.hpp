// `tide train`'s progress display. On a terminal: one line redrawn in place ("\r") with a bar,
// step/total, a smoothed rate, the latest figures (loss, accuracy, ...), elapsed time and ETA,
// at most ~10 redraws a second. Elsewhere (a log file, CI): a plain line every so many seconds or
// every tenth of the run, never a carriage return. The clock is injectable so tests are exact.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace tide::cli {

// Named figures shown after the rate, in order: {{"loss", 0.25}, {"acc", 0.9}}.
using Figures = std::vector<std::pair<std::string, double>>;

struct ProgressOptions {
  double redraw_seconds = 0.1;   // terminal: at least this long between redraws
  double line_seconds = 30.0;    // plain: a line when this long has passed since the last one...
  double line_fraction = 0.1;    // ...or when the run has crossed another such fraction of its steps
  int bar_width = 20;            // terminal: characters inside the bar's brackets
  int columns = 0;               // terminal: lines are cut to columns - 1 characters (0: no limit)
  double rate_time_constant = 5.0;  // seconds over which the steps/s figure is smoothed
  std::int64_t start_step = 0;      // steps done before (a resumed run): rate and ETA count from here
  std::function<double()> clock;    // seconds from any fixed origin; empty: the steady clock
};

// "12.3s", "4m05s", "1h02m03s"; "?" for a negative or non-finite time.
std::string format_duration(double seconds);

class Progress {
public:
  // total_steps <= 0: unknown (no bar, percentage or ETA).
  Progress(std::FILE* out, std::int64_t total_steps, bool interactive, std::string label, ProgressOptions options = {});
  // interactive when `out` is a terminal, columns from the terminal's width.
  static Progress for_stream(std::FILE* out, std::int64_t total_steps, std::string label, ProgressOptions options = {});
  ~Progress();  // ends a redrawn line that finish() did not
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `step` steps are done (counting from 1, including start_step) and these are the latest figures.
  void update(std::int64_t step, const Figures& figures);
  // Text shown after the label from the next line on ("epoch 3/10"); empty: none.
  void set_note(std::string note) { note_ = std::move(note); }
  // The closing line: steps done, total time, mean rate, and `figures` (the last update's when
  // empty). Calls after the first do nothing.
  void finish(const Figures& figures = {});

private:
  double now() const;
  std::string status_line(bool final) const;
  void draw(bool final);

  std::FILE* out_;
  std::int64_t total_;
  bool interactive_;
  std::string label_;
  ProgressOptions options_;
  double start_ = 0, last_time_ = 0, last_draw_ = 0;
  double rate_ = 0;  // smoothed steps per second; 0 until two updates are apart in time
  std::int64_t step_ = 0, last_step_ = 0, last_line_step_ = 0;
  Figures figures_;
  std::string note_;
  bool drawn_ = false, finished_ = false;
  std::size_t drawn_width_ = 0;  // terminal: length of the line on screen, to blank its tail
};

}  // namespace tide::cli
