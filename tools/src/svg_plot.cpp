#include "svg_plot.hpp"
#include "tide/core/atomic_file.hpp"
#include "tide/core/error.hpp"
#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

namespace tide::cli {

namespace {

// The bytes of the UTF-8 sequence at s[at]: `length` bytes, well formed or not; an ill-formed one
// is its longest valid start (at least one byte), which becomes one U+FFFD.
struct Utf8Sequence {
  std::size_t length = 1;
  bool well_formed = true;
};

Utf8Sequence utf8_sequence(const std::string& s, std::size_t at) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) return {};
  // the length and the second byte's range (Unicode table 3-7: no overlong form, surrogate or code point past U+10FFFF)
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) length = 2;
  else if (lead >= 0xE0 && lead <= 0xEF) length = 3, low = lead == 0xE0 ? 0xA0 : 0x80, high = lead == 0xED ? 0x9F : 0xBF;
  else if (lead >= 0xF0 && lead <= 0xF4) length = 4, low = lead == 0xF0 ? 0x90 : 0x80, high = lead == 0xF4 ? 0x8F : 0xBF;
  else return {1, false};
  for (std::size_t k = 1; k < length; ++k, low = 0x80, high = 0xBF)
    if (at + k >= s.size() || byte(at + k) < low || byte(at + k) > high) return {k, false};
  return {length, true};
}

// Whether a well-formed sequence is a character XML 1.0 allows: no C0 control but tab, line feed
// and carriage return, and neither U+FFFE nor U+FFFF.
bool xml_char(const std::string& s, std::size_t at, std::size_t length) {
  const auto lead = static_cast<unsigned char>(s[at]);
  if (length == 1) return lead >= 0x20 || lead == '\t' || lead == '\n' || lead == '\r';
  return !(length == 3 && s.compare(at, 2, "\xEF\xBF") == 0 && (s[at + 2] == '\xBE' || s[at + 2] == '\xBF'));
}

const char* entity(char c) {
  return c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : c == '"' ? "&quot;" : nullptr;
}

}  // namespace

// Each character XML forbids (a control character) and each ill-formed UTF-8 sequence (Latin-1
// bytes in a file name) becomes U+FFFD, as summary.json writes them.
std::string xml_escape(const std::string& s) {
  std::string out;
  for (std::size_t at = 0; at < s.size();) {
    const Utf8Sequence sequence = utf8_sequence(s, at);
    if (!sequence.well_formed || !xml_char(s, at, sequence.length)) out += "\xEF\xBF\xBD";  // U+FFFD
    else if (const char* escaped = entity(s[at])) out += escaped;
    else out.append(s, at, sequence.length);
    at += sequence.length;
  }
  return out;
}

namespace {

constexpr double inf = std::numeric_limits<double>::infinity(), largest_double = std::numeric_limits<double>::max();

// m * 10^e with a single rounding: an integer m times or divided by an exact power of ten, so a
// tick at 3 * 10^-1 is the double nearest 0.3, not 0.30000000000000004. Past 10^300 (subnormal
// or huge ticks) in two steps, as 10^|e| itself would overflow.
double scaled(double m, int e) {
  if (e > 300 || e < -300) return scaled(scaled(m, e > 0 ? 300 : -300), e > 0 ? e - 300 : e + 300);
  double p = 1;
  for (int i = 0; i < std::abs(e); ++i) p *= 10;  // exact up to 10^22
  return e >= 0 ? m * p : m / p;
}

// The ticks' labels with `digits` decimals (of the mantissa when `scientific`).
std::vector<std::string> labels_with(const std::vector<double>& values, bool scientific, int digits) {
  std::vector<std::string> labels;
  for (double v : values) {
    if (scientific && v == 0) labels.push_back("0");
    else labels.push_back(scientific ? fmt::format("{:.{}e}", v, digits) : fmt::format("{:.{}f}", v, digits));
  }
  return labels;
}

// Fixed decimals for steps of 10^e (e >= -4, values below a million), else scientific notation
// with as many mantissa digits as the step needs; the same format for every tick of an axis, with
// more digits while two neighbours read alike (a step rounded where 10^e is subnormal).
std::vector<std::string> tick_labels(const std::vector<double>& values, int e) {
  double largest = 0;
  for (double v : values) largest = std::max(largest, std::abs(v));
  const bool scientific = e < -4 || largest >= 1e6;
  const int magnitude = largest > 0 ? static_cast<int>(std::floor(std::log10(largest))) : e;
  int digits = scientific ? std::clamp(magnitude - e, 0, 6) : std::max(0, -e);
  for (;; ++digits) {
    std::vector<std::string> labels = labels_with(values, scientific, digits);
    if (digits >= 17 || std::adjacent_find(labels.begin(), labels.end()) == labels.end()) return labels;
  }
}

// v clamped to the finite doubles (twice, or padded, a value near the largest double overflows).
double finite(double v) { return std::clamp(v, -largest_double, largest_double); }

// Ticks from `first` to `last` (integers) times c * 10^e that are finite, and the range [lo, hi]
// widened to them: an outer tick past the largest double is left out, and the range ends at the data.
AxisTicks ticks_between(double lo, double hi, double first, double last, double c, int e) {
  AxisTicks t;
  for (double k = first; k <= last; ++k)
    if (const double v = scaled(k * c, e); std::isfinite(v)) t.values.push_back(v);
  if (t.values.empty()) t.values = {lo, hi};  // a single interval wider than the largest double
  t.lo = std::min(lo, t.values.front()), t.hi = std::max(hi, t.values.back());
  t.labels = tick_labels(t.values, e);
  return t;
}

}  // namespace

AxisTicks linear_ticks(double lo, double hi, bool integer, int max_intervals) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  // half the span: the span itself overflows from -1e308 to 1e308
  if (!(hi / 2 - lo / 2 > 0.5e-12 * std::max(std::abs(lo), std::abs(hi)))) {  // one value: 0 to twice it, so a constant reads as such
    const double v = lo;
    lo = v == 0 ? 0 : std::min(0.0, finite(2 * v));
    hi = v == 0 ? 1 : std::max(0.0, finite(2 * v));
  }
  const int n = std::max(1, max_intervals);
  // the smallest round step (1, 2 or 5 times 10^e) that covers [lo, hi] in at most n intervals
  for (int e = static_cast<int>(std::floor(std::log10(hi / 2 - lo / 2) + std::log10(2.0 / n))) - 1;; ++e)
    for (const double c : {1.0, 2.0, 5.0}) {
      const double step = scaled(c, e);
      if (step == 0 || (integer && step < 1)) continue;  // 10^e below the smallest subnormal is 0
      const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
      if (last - first > n && std::isfinite(step)) continue;
      return ticks_between(lo, hi, first, last, c, e);
    }
}

AxisTicks log_ticks(double lo, double hi) {
  if (!(lo <= hi)) lo = 1, hi = 10;  // no range (an empty extent: inf..-inf, or NaN): the decade 1..10
  // inside the positive finite doubles, so the decades below are small integers
  lo = std::clamp(lo, std::numeric_limits<double>::denorm_min(), largest_double);
  hi = std::clamp(hi, lo, largest_double);
  int first = static_cast<int>(std::floor(std::log10(lo) + 1e-9)), last = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
  if (last <= first) last = first + 1;
  const int every = (last - first + 8) / 9;  // at most ~9 labels; the other decades keep their grid line
  const bool plain = first >= -4 && last <= 5;  // 0.001 ... 100000, else 1e-06 ... on the whole axis
  AxisTicks t;
  for (int e = first; e <= last; ++e) {
    if (!std::isfinite(scaled(1, e)) || scaled(1, e) == 0) continue;  // past the doubles: 1e309, 1e-324
    t.values.push_back(scaled(1, e));
    t.labels.push_back((e - first) % every != 0 ? "" : plain ? fmt::format("{:.{}f}", t.values.back(), std::max(0, -e))
                                                                     : fmt::format("{:.0e}", t.values.back()));
  }
  t.lo = std::min(lo, t.values.front()), t.hi = std::max(hi, t.values.back());
  return t;
}

bool spans_more_than(const std::vector<PlotSeries>& series, double factor) {
  double lo = inf, hi = 0;
  for (const PlotSeries& s : series)
    for (const auto* ys : {&s.y, &s.band_low, &s.band_high})
      for (double y : *ys) {
        if (!std::isfinite(y)) continue;
        if (y <= 0) return false;
        lo = std::min(lo, y), hi = std::max(hi, y);
      }
  return hi > factor * lo;
}

namespace {

constexpr double base_width = 720, height = 460, left = 80, base_right = 190, top = 50, bottom = 60;
constexpr std::size_t marker_limit = 40;  // beyond this many points markers hide the line: none
const char* const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"};

// The plot area and the maps from data to pixels.
struct Frame {
  double width = base_width, plot_w = 0, plot_h = height - top - bottom;
  AxisTicks x, y;
  bool log_y = false;
  // where v lies from lo (0) to hi (1); in halves where hi - lo overflows (an axis from -1e308 to 1e308)
  static double fraction(double v, double lo, double hi) {
    return std::isfinite(hi - lo) ? (v - lo) / (hi - lo) : (v / 2 - lo / 2) / (hi / 2 - lo / 2);
  }
  double px(double v) const { return left + fraction(v, x.lo, x.hi) * plot_w; }
  double py(double v) const {
    const double f = log_y ? fraction(std::log10(v), std::log10(y.lo), std::log10(y.hi)) : fraction(v, y.lo, y.hi);
    return top + plot_h - f * plot_h;
  }
  bool usable(double v) const { return std::isfinite(v) && (!log_y || v > 0); }
};

struct Extent {
  double x0 = inf, x1 = -inf, y0 = inf, y1 = -inf;
  bool integer_x = true;  // every x an integer (epochs, orders): integer ticks
  void add_x(double x) {
    if (!std::isfinite(x)) return;
    x0 = std::min(x0, x), x1 = std::max(x1, x);
    integer_x = integer_x && x == std::floor(x);
  }
  void add(double x, double y, bool y_usable) {
    if (!y_usable || !std::isfinite(x)) return;
    add_x(x);
    y0 = std::min(y0, y), y1 = std::max(y1, y);
  }
};

Extent extent(const Plot& plot, const Frame& f) {
  Extent e;
  for (const PlotSeries& s : plot.series)
    for (const auto* ys : {&s.y, &s.band_low, &s.band_high})
      for (std::size_t i = 0; i < std::min(s.x.size(), ys->size()); ++i) e.add(s.x[i], (*ys)[i], f.usable((*ys)[i]));
  for (const PlotMark& m : plot.marks) e.add(m.x, m.y, f.usable(m.y));
  for (const PlotVLine& v : plot.vlines) e.add_x(v.x);
  return e;
}

// x: the data's range with round ticks inside it; y: widened to the outer round ticks.
Frame frame_for(const Plot& plot, double right) {
  Frame f;
  f.log_y = plot.log_y;
  f.width = base_width - base_right + right;
  f.plot_w = f.width - left - right;
  const Extent e = extent(plot, f);
  const bool empty = !std::isfinite(e.x0);
  const bool no_y = !std::isfinite(e.y0);  // a marked epoch but no point to draw: x only
  f.x = linear_ticks(empty ? 0 : e.x0, empty ? 1 : e.x1, !empty && e.integer_x, 10);
  if (!empty && e.x1 > e.x0) {
    AxisTicks inside{e.x0, e.x1, {}, {}};
    for (std::size_t i = 0; i < f.x.values.size(); ++i)
      if (f.x.values[i] >= e.x0 - 1e-9 * (e.x1 - e.x0) && f.x.values[i] <= e.x1 + 1e-9 * (e.x1 - e.x0))
        inside.values.push_back(f.x.values[i]), inside.labels.push_back(f.x.labels[i]);
    f.x = inside;
  }
  if (no_y) f.y = plot.log_y ? log_ticks(1, 10) : linear_ticks(0, 1);
  else if (plot.log_y) f.y = log_ticks(e.y0, e.y1);
  else {
    // a little room above and below the data (not across 0), so no point sits on the frame
    const double pad = 0.04 * e.y1 - 0.04 * e.y0, below = finite(e.y0 - pad), above = finite(e.y1 + pad);  // (no overflow at 1e308)
    f.y = linear_ticks(e.y0 >= 0 ? std::max(0.0, below) : below, e.y1 <= 0 ? std::min(0.0, above) : above);
  }
  return f;
}

std::string y_label(const Plot& plot) {
  if (!plot.log_y || plot.y_label.find("log") != std::string::npos) return plot.y_label;
  return plot.y_label + " (log scale)";
}

std::string axes_svg(const Plot& plot, const Frame& f) {
  const double bottom_y = top + f.plot_h;
  std::string svg = fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n", left, top, f.plot_w, f.plot_h);
  for (std::size_t i = 0; i < f.x.values.size(); ++i)
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#ddd\"/>"
                       "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
                       f.px(f.x.values[i]), top, bottom_y, bottom_y + 18, f.x.labels[i]);
  for (std::size_t i = 0; i < f.y.values.size(); ++i)
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#ddd\"/>"
                       "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
                       left, f.py(f.y.values[i]), left + f.plot_w, left - 6, f.py(f.y.values[i]) + 4, f.y.labels[i]);
  // a log axis over few decades: short minor ticks at 2..9 times each decade
  if (f.log_y && f.y.values.size() <= 5)
    for (double decade : f.y.values)
      for (int m = 2; m <= 9 && decade * m < f.y.hi; ++m)
        svg += fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#444\"/>\n", left, f.py(decade * m), left + 5);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", left + f.plot_w / 2, height - 15, xml_escape(plot.x_label));
  svg += fmt::format("<text x=\"18\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {0})\">{1}</text>\n", top + f.plot_h / 2,
                     xml_escape(y_label(plot)));
  return svg;
}

// The stroke-dasharray attribute of a series' pattern ("" for a solid line).
const char* dash_of(const PlotSeries& s) {
  static const char* const patterns[] = {"", " stroke-dasharray=\"6,4\"", " stroke-dasharray=\"1.5,3\"", " stroke-dasharray=\"8,3,1.5,3\""};
  return patterns[((s.dash % 4) + 4) % 4];
}

const char* color_of(const PlotSeries& s, std::size_t k) {
  return s.color.empty() ? palette[k % (sizeof(palette) / sizeof(palette[0]))] : s.color.c_str();
}

// The points to draw, in data order: all of them, or where a series has more than 4 a pixel column
// (a long run's curves), per run of points in one column the first, the lowest, the highest and the
// last (by `low` and `high`), which draw the same pixels.
std::vector<std::size_t> thinned(const std::vector<std::size_t>& points, const std::vector<double>& x, const std::vector<double>& low,
                                 const std::vector<double>& high, const Frame& f) {
  if (static_cast<double>(points.size()) <= 4 * std::ceil(f.plot_w)) return points;
  std::vector<std::size_t> kept;
  for (std::size_t begin = 0, end = 0; begin < points.size(); begin = end) {
    const double column = std::floor(f.px(x[points[begin]]));
    std::size_t lowest = points[begin], highest = points[begin];
    for (end = begin + 1; end < points.size() && std::floor(f.px(x[points[end]])) == column; ++end) {
      if (low[points[end]] < low[lowest]) lowest = points[end];
      if (high[points[end]] > high[highest]) highest = points[end];
    }
    std::size_t run[] = {points[begin], lowest, highest, points[end - 1]};
    std::sort(std::begin(run), std::end(run));
    std::unique_copy(std::begin(run), std::end(run), std::back_inserter(kept));
  }
  return kept;
}

std::string band_svg(const PlotSeries& s, const char* color, const Frame& f) {
  std::vector<std::size_t> points;
  for (std::size_t i = 0; i < std::min({s.x.size(), s.band_low.size(), s.band_high.size()}); ++i)
    if (f.usable(s.band_low[i]) && f.usable(s.band_high[i]) && std::isfinite(s.x[i])) points.push_back(i);
  if (points.empty()) return "";
  points = thinned(points, s.x, s.band_low, s.band_high, f);
  std::string upper, lower;  // along the upper edge, back along the lower one
  for (std::size_t i : points) upper += fmt::format("{:.1f},{:.1f} ", f.px(s.x[i]), f.py(s.band_high[i]));
  for (auto i = points.rbegin(); i != points.rend(); ++i) lower += fmt::format("{:.1f},{:.1f} ", f.px(s.x[*i]), f.py(s.band_low[*i]));
  return fmt::format("<polygon fill=\"{}\" fill-opacity=\"0.18\" stroke=\"none\" points=\"{}{}\"/>\n", color, upper, lower);
}

// A point whose x or y is not finite (or y <= 0 on a log axis) is left out: the line joins its neighbours.
std::string line_svg(const PlotSeries& s, const char* color, const Frame& f) {
  std::vector<std::size_t> usable;
  for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
    if (f.usable(s.y[i]) && std::isfinite(s.x[i])) usable.push_back(i);
  std::string points, markers;
  for (std::size_t i : thinned(usable, s.x, s.y, s.y, f)) points += fmt::format("{:.1f},{:.1f} ", f.px(s.x[i]), f.py(s.y[i]));
  std::string svg = fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" stroke-opacity=\"{}\"{} points=\"{}\"/>\n", color,
                                s.line_width, s.opacity, dash_of(s), points);
  if (usable.size() > marker_limit) return svg;
  for (std::size_t i : usable) markers += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\"/>", f.px(s.x[i]), f.py(s.y[i]));
  return svg + fmt::format("<g fill=\"{}\" fill-opacity=\"{}\">{}</g>\n", color, s.opacity, markers);
}

// Text with a white outline, readable over grid lines and curves.
std::string halo_text(double x, double y, const char* anchor, const std::string& text) {
  return fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"{}\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\">{}</text>\n", x, y,
                     anchor, xml_escape(text));
}

std::string vlines_svg(const Plot& plot, const Frame& f) {
  std::string svg;
  for (const PlotVLine& v : plot.vlines) {
    const double x = f.px(v.x);
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"5,4\"/>\n", x,
                       top, top + f.plot_h);
    // above the frame, so the label never covers a curve; kept inside the figure at either edge
    const char* anchor = x > left + f.plot_w - 60 ? "end" : x < left + 60 ? "start" : "middle";
    svg += halo_text(x, top - 6, anchor, v.label);
  }
  return svg;
}

std::string marks_svg(const Plot& plot, const Frame& f) {
  std::string svg;
  for (const PlotMark& m : plot.marks) {
    if (!f.usable(m.y) || !std::isfinite(m.x)) continue;
    const double x = f.px(m.x), y = f.py(m.y), r = 7;
    svg += fmt::format("<path d=\"M{:.1f},{:.1f} L{:.1f},{:.1f} L{:.1f},{:.1f} L{:.1f},{:.1f} Z\" fill=\"black\" stroke=\"white\" stroke-width=\"1.5\"/>\n",
                       x, y - r, x + r, y, x, y + r, x - r, y);
    const bool to_left = x > left + 0.7 * f.plot_w;
    svg += halo_text(to_left ? x - r - 4 : x + r + 4, y + 4, to_left ? "end" : "start", m.label);
  }
  return svg;
}

std::string legend_svg(const Plot& plot, const Frame& f) {
  std::string svg;
  double ly = top + 10;
  for (std::size_t k = 0; k < plot.series.size(); ++k) {
    const PlotSeries& s = plot.series[k];
    if (s.name.empty()) continue;
    const char* color = color_of(s, k);
    const double x = left + f.plot_w + 12;
    if (!s.band_low.empty()) svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"24\" height=\"12\" fill=\"{}\" fill-opacity=\"0.18\"/>", x, ly - 6, color);
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"{4}\" stroke-opacity=\"{5}\"{6}/>"
                       "<text x=\"{7}\" y=\"{8}\">{9}</text>\n",
                       x, ly, x + 24, color, s.line_width, s.opacity, dash_of(s), x + 30, ly + 4,
                       xml_escape(s.name));
    ly += 20;
  }
  return svg;
}

// Room right of the plot for the longest legend entry (about 0.6 em a character at 12 px).
double legend_room(const Plot& plot) {
  std::size_t longest = 0;
  for (const PlotSeries& s : plot.series) longest = std::max(longest, s.name.size());
  return std::clamp(50 + 7.2 * static_cast<double>(longest), base_right, 420.0);
}

}  // namespace

std::string render_svg(const Plot& plot) {
  const Frame f = frame_for(plot, legend_room(plot));
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      f.width, height);
  // centred on the figure, the font shrunk so a long title fits its width (about 0.55 em a character)
  const double title_size = std::min(15.0, 0.95 * f.width / (0.55 * std::max<double>(1.0, static_cast<double>(plot.title.size()))));
  svg += fmt::format("<text x=\"{}\" y=\"25\" text-anchor=\"middle\" font-size=\"{:.1f}\">{}</text>\n", f.width / 2.0, title_size,
                     xml_escape(plot.title));
  svg += axes_svg(plot, f);
  svg += vlines_svg(plot, f);
  for (std::size_t k = 0; k < plot.series.size(); ++k) svg += band_svg(plot.series[k], color_of(plot.series[k], k), f);
  for (std::size_t k = 0; k < plot.series.size(); ++k) svg += line_svg(plot.series[k], color_of(plot.series[k], k), f);
  svg += marks_svg(plot, f);
  svg += legend_svg(plot, f);
  svg += "</svg>\n";
  return svg;
}

void write_svg(const std::string& path, const Plot& plot) {
  write_file_atomically(path, render_svg(plot), fmt::format("cannot write the plot to '{}'", path));
}

}  // namespace tide::cli
