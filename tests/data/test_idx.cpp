#include "data_test_util.hpp"
#include "idx_files.hpp"
#include "tide/data/idx.hpp"
#include <cmath>

using namespace tide;
using namespace tide::data;
using namespace tide::data::test;

namespace {

std::vector<std::uint8_t> random_pixels(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> p(n);
  // mostly dark with bright blobs, like a digit: long runs, a few dozen events per image
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(rng() % 100 < 12 ? 200 + rng() % 56 : rng() % 140);
  for (std::size_t i = 1; i < n; ++i)
    if (rng() % 100 < 80) p[i] = p[i - 1];  // runs
  return p;
}

}  // namespace

TEST_CASE("IDX images and labels round-trip through files the test writes, plain and gzipped") {
  TempDir dir;
  const auto pixels = random_pixels(5 * 4 * 3, 1);
  const std::vector<std::uint8_t> labels = {3, 0, 9, 1, 1};
  for (const bool packed : {false, true}) {
    CAPTURE(packed);
    const std::string images_bytes = idx_images_bytes(5, 4, 3, pixels), labels_bytes = idx_labels_bytes(labels);
    const auto images_path = write_file(dir.file(packed ? "img.gz" : "img"), packed ? gzip_stored(images_bytes) : images_bytes);
    const auto labels_path = write_file(dir.file(packed ? "lab.gz" : "lab"), packed ? gzip_stored(labels_bytes) : labels_bytes);
    const IdxImages images = read_idx_images(images_path);
    CHECK(images.count == 5);
    CHECK(images.rows == 4);
    CHECK(images.cols == 3);
    CHECK(images.pixels == pixels);
    CHECK(images.image(2)[0] == pixels[24]);
    CHECK(read_idx_labels(labels_path) == labels);
  }
}

TEST_CASE("IDX errors name the file: wrong magic, truncation, trailing bytes, zero extents") {
  TempDir dir;
  const auto labels = write_file(dir.file("labels"), idx_labels_bytes({1, 2}));
  CHECK_ERROR_NAMES(read_idx_images(labels), labels + ": IDX magic 0x00000801 (a labels file), expected 0x00000803");
  const auto images = write_file(dir.file("images"), idx_images_bytes(2, 2, 2, {1, 2, 3, 4, 5, 6, 7, 8}));
  CHECK_ERROR_NAMES(read_idx_labels(images), images + ": IDX magic 0x00000803 (an images file)");
  const auto short_file = write_file(dir.file("short"), idx_images_bytes(2, 2, 2, {1, 2, 3, 4, 5, 6, 7}));
  CHECK_ERROR_NAMES(read_idx_images(short_file), "the file is truncated");
  const auto long_file = write_file(dir.file("long"), idx_images_bytes(2, 2, 2, {1, 2, 3, 4, 5, 6, 7, 8, 9}));
  CHECK_ERROR_NAMES(read_idx_images(long_file), "longer than its header says");
  const auto zero = write_file(dir.file("zero"), idx_images_bytes(2, 0, 2, {}));
  CHECK_ERROR_NAMES(read_idx_images(zero), "0 x 2 pixels");
  const auto huge = write_file(dir.file("huge"), idx_images_bytes(0xffffffffu, 0xffffffffu, 0xffffffffu, {}));
  CHECK_ERROR_NAMES(read_idx_images(huge), "over 2^64");
  CHECK_ERROR_NAMES(read_idx_images(dir.file("missing")), dir.file("missing") + ": cannot open");
  CHECK_ERROR_NAMES(read_idx_images(dir.path().string()), "is a directory");
  std::string gz = gzip_stored(idx_labels_bytes({1, 2, 3}));
  gz[gz.size() - 6] ^= 0x40;  // the CRC
  CHECK_ERROR_NAMES(read_idx_labels(write_file(dir.file("bad.gz"), gz)), "gzip data is corrupt or truncated");
  gz = gzip_stored(idx_labels_bytes({1, 2, 3}));
  CHECK_ERROR_NAMES(read_idx_labels(write_file(dir.file("cut.gz"), gz.substr(0, gz.size() - 3))), "cut.gz: gzip data");
}

TEST_CASE("event_images decodes back to the thresholded image; runs last run / 256") {
  const std::int64_t n = 20;
  IdxImages images{n, 28, 28, random_pixels(n * 784, 7)};
  std::vector<std::uint8_t> labels;
  for (std::int64_t i = 0; i < n; ++i) labels.push_back(static_cast<std::uint8_t>(i % 10));
  const SequenceSet s = event_images(images, labels);
  s.validate();
  CHECK(s.x.shape() == Shape{n, 256, 1});
  CHECK(s.y.to_indices() == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  const auto x = s.x.to_vector(), dt = s.dt.to_vector(), mask = s.mask.to_vector();
  std::int64_t total_events = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<int> decoded;
    for (std::int64_t t = 0; t < 256 && mask[static_cast<std::size_t>(i * 256 + t)] == 1.0; ++t) {
      const auto k = static_cast<std::size_t>(i * 256 + t);
      const double run = dt[k] * 256;
      REQUIRE(run == std::round(run));
      decoded.insert(decoded.end(), static_cast<std::size_t>(run), static_cast<int>(x[k]));
      ++total_events;
    }
    REQUIRE(decoded.size() == 784);
    for (std::size_t p = 0; p < 784; ++p)
      CHECK(decoded[p] == (images.image(i)[p] > 128 ? 1 : 0));
  }
  CHECK(total_events > n * 10);
}

TEST_CASE("event_images truncates at max_events and checks its inputs") {
  IdxImages checker{1, 28, 28, std::vector<std::uint8_t>(784)};
  for (std::size_t p = 0; p < 784; ++p) checker.pixels[p] = p % 2 ? 255 : 0;  // 784 runs of one pixel
  const SequenceSet s = event_images(checker, {4});
  s.validate();
  const auto mask = s.mask.to_vector(), x = s.x.to_vector(), dt = s.dt.to_vector();
  CHECK(std::count(mask.begin(), mask.end(), 1.0) == 256);
  CHECK(x[0] == 0.0);
  CHECK(x[1] == 1.0);
  CHECK(dt[255] == doctest::Approx(1.0 / 256));
  // the threshold: 128 itself is dark, 129 bright
  IdxImages edge{1, 1, 2, {128, 129}};
  const SequenceSet e = event_images(edge, {0}, 128, 4);
  CHECK(e.x.to_vector() == std::vector<double>{0, 1, 0, 0});
  CHECK(e.dt.to_vector() == std::vector<double>{0.25, 0.25, 0, 0});
  CHECK_ERROR_NAMES(event_images(checker, {1, 2}), "2 labels for 1 images");
  CHECK_ERROR_NAMES(event_images(checker, {10}), "label 10 of image 0 outside [0, 10)");
}
