// IDX files (the MNIST / Fashion-MNIST format) and the mmRNN paper's event-based sequential image
// encoding (appendix B.1, "Event-based seqMNIST"). Plain or gzipped files (Debian's
// dataset-fashion-mnist package installs *-idx?-ubyte.gz).
#pragma once
#include "tide/data/sequence_set.hpp"
#include <cstdint>
#include <string>
#include <vector>

namespace tide::data {

// Images of rows x cols unsigned bytes, row-major, image after image.
struct IdxImages {
  std::int64_t count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  // count * rows * cols
  const std::uint8_t* image(std::int64_t i) const { return pixels.data() + i * rows * cols; }
};

// Big-endian header: magic 0x00000803, count, rows, cols, then the bytes. Throws tide::Error
// naming the file on a wrong magic, a size that disagrees with the header, images of 0 pixels or
// of more than 2^32, or corrupt gzip data.
IdxImages read_idx_images(const std::string& path);
// Big-endian header: magic 0x00000801, count, then one byte per label.
std::vector<std::uint8_t> read_idx_labels(const std::string& path);

// Event-based encoding: each image flattened row by row, binarised (1 when pixel > threshold),
// runs of equal bits become one event (feature = the bit, dt = run length / max_events, so that
// max_events pixels last 1 time unit as in the appendix), padded with mask 0 (or truncated) to
// max_events steps. y: i64 [N] in [0, classes); labels.size() must equal images.count.
SequenceSet event_images(const IdxImages& images, const std::vector<std::uint8_t>& labels, int threshold = 128,
                         std::int64_t max_events = 256, std::int64_t classes = 10);

// $TIDE_FASHION_MNIST_DIR when set, else /usr/share/datasets/fashion-mnist/ (dataset-fashion-mnist).
std::string fashion_mnist_dir();
// dir/name, or dir/name.gz when only that exists; throws naming both (and how to install the data).
std::string fashion_mnist_file(const std::string& dir, const std::string& name);
// Event-based Fashion-MNIST: the 60,000 training images split (seeded) into train and a
// val_fraction validation part, the 10,000 t10k images as test. Reads <name> or <name>.gz.
Split event_fashion_mnist(const std::string& dir = fashion_mnist_dir(), std::uint64_t seed = 0,
                          double val_fraction = 0.1);

}  // namespace tide::data
