// Figures of panels side by side in one SVG: each panel a heat map (a raster, embedded as a PNG
// so a 200 x 200 grid stays small), points and paths over the same axes. For the density figures
// of flows (learned density, data histogram, samples, trajectories) and image grids.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace tide::cli {

enum class ColourMap { heat, grey };

struct Panel {
  std::string title;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;  // the data range the panel shows
  // width x height values, row 0 at the top (y1); coloured from min (dark) to max (bright)
  std::vector<double> raster;
  int raster_width = 0, raster_height = 0;
  ColourMap colours = ColourMap::heat;
  std::vector<std::pair<double, double>> points;               // small dots
  std::vector<std::vector<std::pair<double, double>>> paths;   // thin lines
  bool axes = true;                                            // the range's end values written at the frame's corners
};

// width x height RGB bytes -> a PNG file's bytes (zlib-compressed, no filtering).
std::string encode_png(const std::vector<unsigned char>& rgb, int width, int height);
std::string render_panels(const std::vector<Panel>& panels, int columns, const std::string& title);
// Writes the SVG atomically; throws tide::Error naming the path.
void write_panels(const std::string& path, const std::vector<Panel>& panels, int columns, const std::string& title);

}  // namespace tide::cli
