#include "svg_plot.hpp"
#include "tide/core/atomic_file.hpp"
#include "tide/core/error.hpp"
#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

namespace tide::cli {

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

namespace {
constexpr double width = 720, height = 460, left = 80, right = 190, top = 50, bottom = 60;
const char* const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"};

std::string escape(const std::string& s) { return xml_escape(s); }

std::string tick_label(double v) {
  if (v == 0) return "0";
  const double a = std::abs(v);
  if (a >= 1e5 || a < 1e-3) return fmt::format("{:.0e}", v);
  return fmt::format("{:g}", v);
}
}  // namespace

std::string render_svg(const Plot& plot) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  auto usable = [&](double y) { return std::isfinite(y) && (!plot.log_y || y > 0); };
  for (const auto& s : plot.series)
    for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!usable(s.y[i]) || !std::isfinite(s.x[i])) continue;
      const double y = plot.log_y ? std::log10(s.y[i]) : s.y[i];
      x0 = std::min(x0, s.x[i]); x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, y); y1 = std::max(y1, y);
    }
  if (!std::isfinite(x0)) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
  if (x1 == x0) x1 = x0 + 1;
  if (plot.log_y) { y0 = std::floor(y0); y1 = std::ceil(y1); }
  if (y1 == y0) y1 = y0 + 1;
  const double pw = width - left - right, ph = height - top - bottom;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + ph - ((plot.log_y ? std::log10(y) : y) - y0) / (y1 - y0) * ph; };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height);
  // centred on the figure, the font shrunk so a long title fits its width (about 0.55 em a character)
  const double title_size = std::min(15.0, 0.95 * width / (0.55 * std::max<double>(1.0, static_cast<double>(plot.title.size()))));
  svg += fmt::format("<text x=\"{}\" y=\"25\" text-anchor=\"middle\" font-size=\"{:.1f}\">{}</text>\n", width / 2.0, title_size,
                     escape(plot.title));
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n", left, top, pw, ph);
  // x ticks: integers when the range is small, else 5 divisions
  const bool integer_x = x1 - x0 <= 20 && std::floor(x0) == x0;
  const int xdiv = integer_x ? static_cast<int>(x1 - x0) : 5;
  for (int i = 0; i <= xdiv; ++i) {
    const double x = x0 + (x1 - x0) * i / xdiv;
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#ddd\"/>"
                       "<text x=\"{0}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
                       px(x), top, top + ph, top + ph + 18, tick_label(x));
  }
  if (plot.log_y) {
    for (int e = static_cast<int>(y0); e <= static_cast<int>(y1); ++e)
      svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#ddd\"/>"
                         "<text x=\"{3}\" y=\"{4}\" text-anchor=\"end\">{5}</text>\n",
                         left, py(std::pow(10.0, e)), left + pw, left - 6, py(std::pow(10.0, e)) + 4, tick_label(std::pow(10.0, e)));
  } else {
    for (int i = 0; i <= 5; ++i) {
      const double y = y0 + (y1 - y0) * i / 5;
      svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#ddd\"/>"
                         "<text x=\"{3}\" y=\"{4}\" text-anchor=\"end\">{5}</text>\n",
                         left, py(y), left + pw, left - 6, py(y) + 4, tick_label(y));
    }
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", left + pw / 2, height - 15, escape(plot.x_label));
  svg += fmt::format("<text x=\"18\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {0})\">{1}</text>\n",
                     top + ph / 2, escape(plot.y_label));
  for (std::size_t k = 0; k < plot.series.size(); ++k) {
    const auto& s = plot.series[k];
    const char* color = colors[k % (sizeof(colors) / sizeof(colors[0]))];
    std::string points;
    for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (usable(s.y[i])) points += fmt::format("{:.1f},{:.1f} ", px(s.x[i]), py(s.y[i]));
    svg += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>\n", color,
                       s.dashed ? " stroke-dasharray=\"6,4\"" : "", points);
    for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (usable(s.y[i])) svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", px(s.x[i]), py(s.y[i]), color);
    const double ly = top + 10 + 20.0 * static_cast<double>(k);
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"2\"{4}/>"
                       "<text x=\"{5}\" y=\"{6}\">{7}</text>\n",
                       left + pw + 12, ly, left + pw + 36, color, s.dashed ? " stroke-dasharray=\"6,4\"" : "", left + pw + 42, ly + 4,
                       escape(s.name));
  }
  svg += "</svg>\n";
  return svg;
}

void write_svg(const std::string& path, const Plot& plot) {
  write_file_atomically(path, render_svg(plot), fmt::format("cannot write the plot to '{}'", path));
}

}  // namespace tide::cli
