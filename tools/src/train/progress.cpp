// The progress line: decides when to draw (throttled redraws on a terminal, sparse plain lines
// elsewhere) and formats step, rate, figures and times.
#include "train/progress.hpp"
#include <fmt/format.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <sys/ioctl.h>
#include <unistd.h>

namespace tide::cli {

namespace {
std::string format_rate(double steps_per_second) {
  if (!(steps_per_second > 0) || !std::isfinite(steps_per_second)) return "?";
  return steps_per_second >= 100 ? fmt::format("{:.0f}", steps_per_second) : fmt::format("{:.3g}", steps_per_second);
}
std::string format_figure(double value) { return fmt::format("{:.4g}", value); }

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 59.95) return fmt::format("{:.1f}s", seconds);  // 59.96 would print as 60.0s
  const long long whole = std::llround(seconds);
  if (whole < 3600) return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  return fmt::format("{}h{:02}m{:02}s", whole / 3600, whole / 60 % 60, whole % 60);
}

Progress::Progress(std::FILE* out, std::int64_t total_steps, bool interactive, std::string label, ProgressOptions options)
    : out_(out), total_(total_steps), interactive_(interactive), label_(std::move(label)), options_(std::move(options)) {
  if (!options_.clock) options_.clock = steady_seconds;
  start_ = last_time_ = last_draw_ = now();
  step_ = last_step_ = last_line_step_ = options_.start_step;
}

Progress Progress::for_stream(std::FILE* out, std::int64_t total_steps, std::string label, ProgressOptions options) {
  const int fd = fileno(out);
  const bool terminal = fd >= 0 && ::isatty(fd);
  winsize size{};
  if (terminal && options.columns == 0 && ::ioctl(fd, TIOCGWINSZ, &size) == 0) options.columns = size.ws_col;
  return Progress(out, total_steps, terminal, std::move(label), std::move(options));
}

Progress::~Progress() {
  if (interactive_ && drawn_ && !finished_) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
}

double Progress::now() const { return options_.clock(); }

void Progress::update(std::int64_t step, const Figures& figures) {
  if (finished_) return;
  const double t = now();
  // The rate is smoothed over time, not over calls: a sample dt seconds long gets the weight
  // 1 - exp(-dt / tau). Calls within one clock tick fold into the next sample.
  if (step < last_step_) {  // the count went back (a restart): measure afresh from here
    last_step_ = step, last_time_ = t, rate_ = 0;
  } else if (t > last_time_ && step > last_step_) {
    const double dt = t - last_time_;
    const double sample = static_cast<double>(step - last_step_) / dt;
    rate_ = rate_ == 0 ? sample : rate_ + (1 - std::exp(-dt / options_.rate_time_constant)) * (sample - rate_);
    last_step_ = step, last_time_ = t;
  }
  step_ = step;
  figures_ = figures;

  const bool at_end = total_ > 0 && step >= total_;
  bool due = !drawn_ || at_end;
  if (interactive_) {
    due = due || t - last_draw_ >= options_.redraw_seconds;
  } else {
    due = due || t - last_draw_ >= options_.line_seconds;
    if (total_ > 0 && options_.line_fraction > 0) {
      // a line whenever the run crosses another multiple of line_fraction
      const double every = static_cast<double>(total_) * options_.line_fraction;
      const auto mark = [every](std::int64_t s) { return std::floor(static_cast<double>(s) / every + 1e-9); };
      due = due || mark(step) > mark(last_line_step_);
    }
  }
  if (!due) return;
  last_draw_ = t;
  last_line_step_ = step;
  draw(false);
}

void Progress::finish(const Figures& figures) {
  if (finished_) return;
  if (!figures.empty()) figures_ = figures;
  draw(true);
  finished_ = true;
}

std::string Progress::status_line(bool final) const {
  const double elapsed = now() - start_;
  std::vector<std::string> parts;
  if (!label_.empty()) parts.push_back(label_);
  if (!note_.empty() && !final) parts.push_back(note_);
  if (final) {
    parts.push_back(total_ > 0 ? fmt::format("done {}/{} steps in {}", step_, total_, format_duration(elapsed))
                               : fmt::format("done {} steps in {}", step_, format_duration(elapsed)));
    // a run resumed after its last step (to score it) took none here: no rate ("?") to show
    const double mean_rate = elapsed > 0 ? static_cast<double>(step_ - options_.start_step) / elapsed : 0.0;
    if (step_ > options_.start_step) parts.push_back(format_rate(mean_rate) + " steps/s");
  } else {
    if (total_ > 0) {
      const double fraction = std::clamp(static_cast<double>(step_) / static_cast<double>(total_), 0.0, 1.0);
      const int percent = static_cast<int>(std::floor(100 * fraction + 1e-9));
      if (interactive_) {
        const int width = std::max(options_.bar_width, 1);
        const int filled = std::min(width, static_cast<int>(std::floor(width * fraction + 1e-9)));
        parts.push_back(fmt::format("{:3}% [{}{}] {}/{}", percent, std::string(filled, '#'),
                                    std::string(width - filled, '.'), step_, total_));
      } else {
        parts.push_back(fmt::format("step {}/{} ({}%)", step_, total_, percent));
      }
    } else {
      parts.push_back(fmt::format("step {}", step_));
    }
    parts.push_back(format_rate(rate_) + " steps/s");
  }
  for (const auto& [name, value] : figures_) parts.push_back(name + "=" + format_figure(value));
  if (!final) {
    parts.push_back("elapsed " + format_duration(elapsed));
    if (total_ > 0)
      parts.push_back("eta " + (rate_ > 0 ? format_duration(static_cast<double>(std::max<std::int64_t>(total_ - step_, 0)) / rate_)
                                          : std::string("?")));
  }
  std::string line;
  for (const std::string& part : parts) line += (line.empty() ? "" : "  ") + part;
  return line;
}

void Progress::draw(bool final) {
  std::string line = status_line(final);
  if (!interactive_) {
    line += '\n';
    std::fputs(line.c_str(), out_);
    std::fflush(out_);
    drawn_ = true;
    return;
  }
  // Cut to the terminal's width (a wrapped line cannot be redrawn with \r), then blank whatever
  // is left on screen of a longer previous line.
  if (options_.columns > 1 && line.size() > static_cast<std::size_t>(options_.columns - 1))
    line.resize(static_cast<std::size_t>(options_.columns - 1));
  const std::size_t width = line.size();
  if (width < drawn_width_) line.append(drawn_width_ - width, ' ');
  drawn_width_ = width;
  std::fputs(("\r" + line + (final ? "\n" : "")).c_str(), out_);
  std::fflush(out_);
  drawn_ = true;
}

}  // namespace tide::cli
