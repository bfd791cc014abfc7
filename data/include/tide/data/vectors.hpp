// Vectors for density estimation (continuous normalising flows): one f64 row per example, the
// toy densities of FFJORD and STEER, a user's own table (CSV or .npy) and images from IDX files.
//
//   x      f64 [N, D]   the examples (standardised, or image bytes 0..255 as stored)
//   image  {}           vector data; {channels, rows, cols} for images, with D their product:
//                       the model dequantises and logit-transforms them and reports bits/dim
//   labels i64 [N]      class ids 0..classes-1 for labelled images (the ODE image classifier);
//                       undefined for unlabelled vectors
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
  Tensor labels{};                   // i64 [N] class ids, or undefined
  std::int64_t classes = 0;          // with labels: the number of classes

  std::int64_t size() const { return x.defined() ? x.size(0) : 0; }
  std::int64_t dims() const { return x.defined() ? x.size(1) : 0; }
  bool is_image() const { return !image.empty(); }
  bool labelled() const { return labels.defined(); }
  VectorSet subset(const std::vector<std::int64_t>& index) const;  // the rows at `index`, in order
  VectorSet slice(std::int64_t begin, std::int64_t end) const;     // rows begin..end-1
  // Throws tide::Error naming `name`: x not f64 [N, D] with D >= 1, a NaN or inf, an image shape
  // whose product is not D, image values outside 0..255, or labels not i64 [N] in [0, classes).
  void validate() const;
};

class VectorExamples final : public Examples {
public:
  explicit VectorExamples(VectorSet set) : set_(std::move(set)) {}
  std::int64_t size() const override { return set_.size(); }
  ExamplesPtr subset(const std::vector<std::int64_t>& index) const override;
  ExamplesPtr slice(std::int64_t begin, std::int64_t end) const override;
  std::vector<double> class_counts() const override;
  const VectorSet& set() const { return set_; }

private:
  VectorSet set_;
};

// The vectors of `examples`; throws naming `what` when they are of another form.
const VectorSet& vectors_of(const Examples& examples, const std::string& what);

// A seeded split of rows (split_rows in sequence_set.hpp: the same order as split() of
// sequences); the parts are named all.name + "/train", "/val", "/test".
struct VectorSplit {
  VectorSet train, val, test;
};
VectorSplit split(const VectorSet& all, double val_fraction, double test_fraction, std::uint64_t seed);

// FFJORD's 2-D toy densities by name (8gaussians, pinwheel, 2spirals, checkerboard, moons,
// circles, rings, swissroll) and STEER's 1-D mixture of Gaussians (mog1d): n samples drawn from
// `gen`, f64 [n, 2] (or [n, 1]), on the scale FFJORD's generators use. Where FFJORD puts one
// class (moon, circle, ring, spiral arm) after another and shuffles, row i here belongs to class
// i mod (number of classes), so any prefix of the rows mixes them; toy_densities.cpp says how
// each density is drawn.
std::vector<std::string> toy_density_names();
Tensor toy_density(const std::string& name, std::int64_t n, Generator& gen);
// mog1d is our choice, as STEER does not list its parameters: 0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2)
// (mean 0, variance 4.25). Its exact log density at x:
double mog1d_log_density(double x);

// A user's own vectors. CSV: a header row of column names (one of only numbers is an error: the
// file has none), then numbers (blank lines skipped, and '#' comment lines before the header: a
// later line starting with '#' is a row); `columns` selects by name, each once (absent: all but
// an index column, CsvTable::is_index). .npy (format 1.0, 2.0 or 3.0): a
// 2-D (or 1-D: one column) array of little-endian f8 or f4 (or <i8, <i4, |u1, converted), in C or
// Fortran order. Plain or gzipped files. Errors name the file and the line, column or header
// field; NaN and inf are rejected, and so are <i8 values beyond 2^53 in magnitude (f64 would
// round them).
Tensor read_vectors_csv(const std::string& path, const std::vector<std::string>& columns = {});
Tensor read_npy(const std::string& path);

// Column means and population standard deviations (divided by N, numpy's default) of `train`
// (a constant column gets std 1), and x standardised with them: (x - mean) / std, f64.
struct Standardiser {
  Tensor mean, std;  // f64 [D]
  static Standardiser fit(const Tensor& train);
  Tensor apply(const Tensor& x) const;
};

// IDX images as byte vectors with image = {1, rows, cols}; `downsample` k > 1 averages k x k blocks
// (rounded to the nearest byte, halves up; rows and cols must be divisible by k). limit > 0 keeps
// the first `limit` images only. With `labels_path` (an IDX label file of the same count), the
// labels too, with classes = the largest label + 1.
VectorSet idx_image_vectors(const std::string& images_path, std::int64_t downsample = 1, std::int64_t limit = 0,
                            const std::string& labels_path = "");

// Fashion-MNIST images as labelled vectors (idx_image_vectors, limit applied to each file): the
// training images split (seeded) into train and a val_fraction validation part, the t10k images as
// test.
VectorSplit image_fashion_mnist(const std::string& dir, std::uint64_t seed = 0, double val_fraction = 0.1,
                                std::int64_t downsample = 1, std::int64_t limit = 0);

}  // namespace tide::data
