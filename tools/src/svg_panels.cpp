#include "svg_panels.hpp"
#include "svg_plot.hpp"
#include "tide/core/atomic_file.hpp"
#include "tide/core/error.hpp"
#include <algorithm>
#include <array>
#include <cmath>
#include <fmt/format.h>
#include <zlib.h>

namespace tide::cli {

namespace {

constexpr int kSize = 260, kMargin = 34, kTitle = 40;

void put_u32(std::string& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}

void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_u32(out, static_cast<std::uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  out += body;
  put_u32(out, static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
}

std::string base64(const std::string& bytes) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (n > 1) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    if (n > 2) v |= static_cast<unsigned char>(bytes[i + 2]);
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += n > 1 ? table[(v >> 6) & 63] : '=';
    out += n > 2 ? table[v & 63] : '=';
  }
  return out;
}

// A dark-to-bright map: black, purple, red, orange, pale yellow.
std::array<unsigned char, 3> colour(ColourMap map, double u) {
  u = std::clamp(std::isfinite(u) ? u : 0.0, 0.0, 1.0);
  if (map == ColourMap::grey) {
    const auto g = static_cast<unsigned char>(std::lround(255 * u));
    return {g, g, g};
  }
  static constexpr double stops[5][3] = {{0, 0, 4}, {87, 16, 110}, {188, 55, 84}, {249, 142, 9}, {252, 255, 164}};
  const double s = u * 4;
  const int i = std::min(3, static_cast<int>(s));
  const double f = s - i;
  std::array<unsigned char, 3> c{};
  for (int k = 0; k < 3; ++k) c[static_cast<std::size_t>(k)] = static_cast<unsigned char>(std::lround(stops[i][k] + f * (stops[i + 1][k] - stops[i][k])));
  return c;
}

std::string raster_png(const Panel& p) {
  if (p.raster.size() != static_cast<std::size_t>(p.raster_width) * static_cast<std::size_t>(p.raster_height))
    fail("figure panel '{}': raster of {} values is not {} x {}", p.title, p.raster.size(), p.raster_width, p.raster_height);
  double lo = INFINITY, hi = -INFINITY;
  for (double v : p.raster)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  const double span = hi > lo ? hi - lo : 1.0;
  std::vector<unsigned char> rgb;
  rgb.reserve(p.raster.size() * 3);
  for (double v : p.raster)
    for (unsigned char c : colour(p.colours, (v - lo) / span)) rgb.push_back(c);
  return encode_png(rgb, p.raster_width, p.raster_height);
}

std::string render_panel(const Panel& p, int ox, int oy, std::size_t index) {
  const double w = p.x1 - p.x0, h = p.y1 - p.y0;
  const auto X = [&](double x) { return ox + (x - p.x0) / w * kSize; };
  const auto Y = [&](double y) { return oy + (p.y1 - y) / h * kSize; };
  std::string s = fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\">{}</text>\n", ox + kSize / 2, oy - 8, xml_escape(p.title));
  s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fff\" stroke=\"#888\"/>\n", ox, oy, kSize, kSize);
  if (p.raster_width > 0)
    s += fmt::format("<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" "
                     "href=\"data:image/png;base64,{}\"/>\n", ox, oy, kSize, kSize, base64(raster_png(p)));
  // paths and points stay inside the panel
  s += fmt::format("<clipPath id=\"panel{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath>\n<g clip-path=\"url(#panel{})\">\n",
                   index, ox, oy, kSize, kSize, index);
  // a path is cut where a point is not finite (NaN is no coordinate): one polyline per finite run
  const auto polyline = [&s](const std::string& pts) {
    if (!pts.empty())
      s += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"#1f5fa8\" stroke-opacity=\"0.35\" stroke-width=\"0.7\"/>\n", pts);
  };
  for (const auto& path : p.paths) {
    std::string pts;
    for (const auto& [x, y] : path) {
      if (std::isfinite(X(x)) && std::isfinite(Y(y))) {
        pts += fmt::format("{:.1f},{:.1f} ", X(x), Y(y));
        continue;
      }
      polyline(pts);
      pts.clear();
    }
    polyline(pts);
  }
  for (const auto& [x, y] : p.points)
    if (x >= p.x0 && x <= p.x1 && y >= p.y0 && y <= p.y1)
      s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"1\" fill=\"#c0392b\" fill-opacity=\"0.6\"/>\n", X(x), Y(y));
  s += "</g>\n";
  if (p.axes) {
    s += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\">{:g}</text><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{:g}</text>\n",
                     ox, oy + kSize + 12, p.x0, ox + kSize, oy + kSize + 12, p.x1);
    s += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{:g}</text><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{:g}</text>\n",
                     ox - 3, oy + kSize, p.y0, ox - 3, oy + 10, p.y1);
  }
  return s;
}

}  // namespace

std::string encode_png(const std::vector<unsigned char>& rgb, int width, int height) {
  if (width < 1 || height < 1 || rgb.size() != static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3)
    fail("encode_png: {} bytes are not a {} x {} RGB image", rgb.size(), width, height);
  std::string rows;
  for (int r = 0; r < height; ++r) {
    rows.push_back('\0');  // filter: none
    rows.append(reinterpret_cast<const char*>(rgb.data()) + static_cast<std::size_t>(r) * width * 3, static_cast<std::size_t>(width) * 3);
  }
  uLongf size = compressBound(static_cast<uLong>(rows.size()));
  std::string packed(size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &size, reinterpret_cast<const Bytef*>(rows.data()), static_cast<uLong>(rows.size()), 9) != Z_OK)
    fail("encode_png: zlib could not compress a {} x {} image", width, height);
  packed.resize(size);
  std::string png("\x89PNG\r\n\x1a\n", 8), header;
  put_u32(header, static_cast<std::uint32_t>(width));
  put_u32(header, static_cast<std::uint32_t>(height));
  header += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB, deflate, no filter, no interlace
  put_chunk(png, "IHDR", header);
  put_chunk(png, "IDAT", packed);
  put_chunk(png, "IEND", "");
  return png;
}

std::string render_panels(const std::vector<Panel>& panels, int columns, const std::string& title) {
  columns = std::max(1, std::min(columns, static_cast<int>(panels.size())));
  const int rows = (static_cast<int>(panels.size()) + columns - 1) / columns;
  const int cell = kSize + 2 * kMargin, width = columns * cell, height = kTitle + rows * (cell + 10);
  std::string s = fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
                              "font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n", width, height, width, height);
  s += fmt::format("<text x=\"{}\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n", width / 2, xml_escape(title));
  for (std::size_t i = 0; i < panels.size(); ++i)
    s += render_panel(panels[i], static_cast<int>(i % columns) * cell + kMargin, kTitle + static_cast<int>(i / columns) * (cell + 10) + 14, i);
  return s + "</svg>\n";
}

void write_panels(const std::string& path, const std::vector<Panel>& panels, int columns, const std::string& title) {
  write_file_atomically(path, render_panels(panels, columns, title));
}

}  // namespace tide::cli
