// IDX images as byte vectors for density estimation, optionally average-pooled, and Fashion-MNIST
// in that form (the event-based sequence form is event_images.cpp).
#include "image_labels.hpp"
#include "tide/core/error.hpp"
#include "tide/data/idx.hpp"
#include "tide/data/vectors.hpp"
#include <algorithm>

namespace tide::data {
namespace {

// The k x k block averages of one rows x cols image, rounded to the nearest byte (halves up).
void pool_image(const std::uint8_t* image, std::int64_t rows, std::int64_t cols, std::int64_t k, double* out) {
  const std::int64_t out_cols = cols / k, block = k * k;
  for (std::int64_t r = 0; r < rows / k; ++r)
    for (std::int64_t c = 0; c < out_cols; ++c) {
      std::int64_t sum = 0;
      for (std::int64_t i = 0; i < k; ++i)
        for (std::int64_t j = 0; j < k; ++j) sum += image[(r * k + i) * cols + c * k + j];
      out[r * out_cols + c] = static_cast<double>((2 * sum + block) / (2 * block));
    }
}

}  // namespace

VectorSet idx_image_vectors(const std::string& images_path, std::int64_t downsample, std::int64_t limit,
                            const std::string& labels_path) {
  if (downsample < 1) fail("{}: downsample = {} (must be at least 1)", images_path, downsample);
  if (limit < 0) fail("{}: limit = {} (must be >= 0; 0 keeps every image)", images_path, limit);
  const IdxImages images = read_idx_images(images_path);
  if (images.rows % downsample != 0 || images.cols % downsample != 0)
    fail("{}: images of {} x {} cannot be downsampled by {} (rows and cols must be divisible by it)", images_path,
         images.rows, images.cols, downsample);
  const std::int64_t n = limit > 0 ? std::min(limit, images.count) : images.count;
  const std::int64_t rows = images.rows / downsample, cols = images.cols / downsample;
  Tensor x = Tensor::empty(Shape{n, rows * cols}, DType::f64, Device::cpu());
  for (std::int64_t i = 0; i < n; ++i)
    pool_image(images.image(i), images.rows, images.cols, downsample, x.data<double>() + i * rows * cols);
  VectorSet out{images_path, x, {1, rows, cols}};
  if (!labels_path.empty()) {
    const std::vector<std::uint8_t> labels = read_idx_labels(labels_path);
    if (static_cast<std::int64_t>(labels.size()) != images.count)
      fail("{}: {} labels for the {} images of {}", labels_path, labels.size(), images.count, images_path);
    std::vector<std::int64_t> ids(labels.begin(), labels.begin() + n);
    out.labels = Tensor::from_indices(ids, Shape{n}, Device::cpu());
    out.classes = ids.empty() ? 0 : *std::max_element(ids.begin(), ids.end()) + 1;
  }
  return out;
}

namespace detail {
void check_labels(const VectorSet& set, std::int64_t classes, const std::string& file, const std::string& why) {
  const std::vector<std::int64_t> ids = set.labels.to_indices();
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (ids[i] >= classes) fail("{}: label {} of image {} is outside 0..{} ({})", file, ids[i], i, classes - 1, why);
}
}  // namespace detail

VectorSplit image_fashion_mnist(const std::string& dir, std::uint64_t seed, double val_fraction,
                                std::int64_t downsample, std::int64_t limit) {
  const std::string train_labels = fashion_mnist_file(dir, "train-labels-idx1-ubyte");
  const std::string test_labels = fashion_mnist_file(dir, "t10k-labels-idx1-ubyte");
  VectorSet train = idx_image_vectors(fashion_mnist_file(dir, "train-images-idx3-ubyte"), downsample, limit, train_labels);
  detail::check_labels(train, 10, train_labels, "Fashion-MNIST's 10 classes");  // a bad label failed only in the loss, after an epoch
  train.name = "fashion-mnist";
  VectorSplit out = split(train, val_fraction, 0.0, seed);
  out.test = idx_image_vectors(fashion_mnist_file(dir, "t10k-images-idx3-ubyte"), downsample, limit, test_labels);
  detail::check_labels(out.test, 10, test_labels, "Fashion-MNIST's 10 classes");
  out.test.classes = out.train.classes = out.val.classes = 10;
  out.test.name = "fashion-mnist/test";
  return out;
}

}  // namespace tide::data
