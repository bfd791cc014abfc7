// A small SVG line-plot writer for the `tide` tools (cost-vs-K plots, learning curves): axes with
// round ticks (linear, or log10 y with decade ticks), one polyline per series (markers only when it
// has few points; thinned to at most 4 a pixel column when long), optional shaded bands, marked
// epochs and points, a legend. No dependencies.
#pragma once
#include <string>
#include <vector>

namespace tide::cli {

struct PlotSeries {
  std::string name;          // "" leaves the series out of the legend
  std::vector<double> x, y;  // points with a non-finite or (log axis) non-positive y are skipped
  int dash = 0;  // the line's pattern: 0 solid, 1 dashed, 2 dotted, 3 dash-dot (taken modulo 4)
  // the fields below have initialisers so that {name, x, y} and {name, x, y, dash} stay complete
  std::string color = "";  // "" picks the palette colour of the series' index
  double opacity = 1, line_width = 2;
  std::vector<double> band_low = {}, band_high = {};  // a shaded band along x under the line (a spread); empty: none
};

// A dashed vertical line at x, labelled above the frame ("best (epoch 12)").
struct PlotVLine {
  double x = 0;
  std::string label;
};

// A single highlighted point (a diamond), labelled beside it ("test 0.897").
struct PlotMark {
  double x = 0, y = 0;
  std::string label;
};

struct Plot {
  std::string title, x_label, y_label;
  bool log_y = false;  // the y label then says " (log scale)"
  std::vector<PlotSeries> series;
  std::vector<PlotVLine> vlines = {};  // initialised: {title, x, y, log, series} stays complete
  std::vector<PlotMark> marks = {};
};

// An axis' tick values and their labels (equal decimals along the axis) and the range it spans.
struct AxisTicks {
  double lo = 0, hi = 1;
  std::vector<double> values;
  std::vector<std::string> labels;
};

// Round ticks (steps 1, 2 or 5 times a power of ten, at most max_intervals of them) covering
// [lo, hi]; lo and hi are widened to the outer ticks. `integer`: steps of at least 1 (epochs).
AxisTicks linear_ticks(double lo, double hi, bool integer = false, int max_intervals = 8);
// Decade ticks 10^k covering [lo, hi] (both > 0); lo and hi are widened to whole decades. Bounds
// outside the positive finite doubles are clamped into them; no range (lo > hi, NaN) gives 1..10.
AxisTicks log_ticks(double lo, double hi);
// Whether every finite y (bands included) is > 0 and the largest is more than `factor` times the
// smallest: where a log axis shows more than a linear one.
bool spans_more_than(const std::vector<PlotSeries>& series, double factor);

// Text for an SVG element or attribute: &, <, > and " escaped; a control character XML forbids
// and each ill-formed UTF-8 sequence replaced by U+FFFD (well-formed UTF-8 kept as it is).
std::string xml_escape(const std::string& s);
std::string render_svg(const Plot& plot);
// Writes the SVG atomically (temporary file, then rename); throws tide::Error naming the path.
void write_svg(const std::string& path, const Plot& plot);

}  // namespace tide::cli
