// Vectors for density estimation (continuous normalising flows): one f64 row per example, the
// toy densities of FFJORD and STEER, a user's own table (CSV or .npy) and images from IDX files.
//
//   x      f64 [N, D]   the examples (standardised, or image bytes 0..255 as stored)
//   image  {}           vector data; {channels, rows, cols} for images, with D their product:
//                       the model dequantises and logit-transforms them and reports bits/dim
#pragma once
#include "tide/core/random.hpp"
#include "tide/data/examples.hpp"
#include <cstdint>
#include <string>
#include <vector>

namespace tide::data {

struct VectorSet {
  std::string name;
  Tensor x;                          // f64 [N, D]
  std::vector<std::int64_t> image;   // {} or {channels, rows, cols}: x holds bytes 0..255

  std::int64_t size() const { return x.defined() ? x.size(0) : 0; }
  std::int64_t dims() const { return x.defined() ? x.size(1) : 0; }
  bool is_image() const { return !image.empty(); }
  VectorSet subset(const std::vector<std::int64_t>& index) const;  // the rows at `index`, in order
  VectorSet slice(std::int64_t begin, std::int64_t end) const;     // rows begin..end-1
  // Throws tide::Error naming `name`: x not f64 [N, D] with D >= 1, a NaN or inf, an image shape
  // whose product is not D, or image values outside 0..255.
  void validate() const;
};

class VectorExamples final : public Examples {
public:
  explicit VectorExamples(VectorSet set) : set_(std::move(set)) {}
  std::int64_t size() const override { return set_.size(); }
  ExamplesPtr subset(const std::vector<std::int64_t>& index) const override;
  ExamplesPtr slice(std::int64_t begin, std::int64_t end) const override;
  const VectorSet& set() const { return set_; }

private:
  VectorSet set_;
};

// The vectors of `examples`; throws naming `what` when they are of another form.
const VectorSet& vectors_of(const Examples& examples, const std::string& what);

// FFJORD's 2-D toy densities by name (8gaussians, pinwheel, 2spirals, checkerboard, moons,
// circles, rings, swissroll) and STEER's 1-D mixture of Gaussians (mog1d): n samples drawn from
// `gen`, f64 [n, 2] (or [n, 1]), on the scale FFJORD's generators use.
std::vector<std::string> toy_density_names();
Tensor toy_density(const std::string& name, std::int64_t n, Generator& gen);

// A user's own vectors. CSV: a header row of column names, then numbers ('#' comment lines and
// blank lines skipped); `columns` selects by name (empty: all). .npy: a 2-D little-endian f4/f8
// (or 1-D: one column) C-order array. Errors name the file and the line, column or header field.
Tensor read_vectors_csv(const std::string& path, const std::vector<std::string>& columns = {});
Tensor read_npy(const std::string& path);

// Column means and standard deviations of `train` (a constant column gets std 1), and x
// standardised with them.
struct Standardiser {
  Tensor mean, std;  // f64 [D]
  static Standardiser fit(const Tensor& train);
  Tensor apply(const Tensor& x) const;
};

// IDX images as byte vectors with image = {1, rows, cols}; `downsample` k > 1 averages k x k blocks
// (rounded to the nearest byte; rows and cols must be divisible by k).
VectorSet idx_image_vectors(const std::string& images_path, std::int64_t downsample = 1, std::int64_t limit = 0);

}  // namespace tide::data
