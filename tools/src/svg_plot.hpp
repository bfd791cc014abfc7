// A small SVG line-plot writer for the `tide` tools (cost-vs-K plots, learning curves): axes with
// ticks (linear or log10 y), one polyline with markers per series, a legend. No dependencies.
#pragma once
#include <string>
#include <vector>

namespace tide::cli {

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;  // points with a non-finite or (log axis) non-positive y are skipped
  bool dashed = false;
};

struct Plot {
  std::string title, x_label, y_label;
  bool log_y = false;
  std::vector<PlotSeries> series;
};

// Text for an SVG element or attribute: &, <, > and " escaped.
std::string xml_escape(const std::string& s);
std::string render_svg(const Plot& plot);
// Writes the SVG atomically (temporary file, then rename); throws tide::Error naming the path.
void write_svg(const std::string& path, const Plot& plot);

}  // namespace tide::cli
