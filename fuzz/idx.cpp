// IDX files (plain or gzipped): the bytes are written to a file that read_idx_images and
// read_idx_labels both read (at most one accepts it: the magic differs). Images that read are
// consistent with their header, and a few of them encode as event sequences.
#include "fuzz_util.hpp"
#include "tide/data/idx.hpp"

using namespace tide;
using namespace tide::data;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fuzz::TempFile file("idx", ".idx");
  const std::string& path = file.write({reinterpret_cast<const char*>(data), size});
  fuzz::succeeds_or_names(path, [&] {
    const IdxImages images = read_idx_images(path);
    if (images.count < 0 || images.rows < 1 || images.cols < 1 ||
        images.pixels.size() != static_cast<std::size_t>(images.count * images.rows * images.cols))
      fuzz::bug("images disagree with their header");
    if (images.count <= 16) {
      std::vector<std::uint8_t> labels(static_cast<std::size_t>(images.count));
      for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = images.pixels[i % images.pixels.size()] % 10;
      event_images(images, labels, 128, 64).validate();
    }
  });
  fuzz::succeeds_or_names(path, [&] {
    const std::vector<std::uint8_t> labels = read_idx_labels(path);
    if (labels.size() + 8 > size && size >= 8 && data[0] != 0x1f) fuzz::bug("more labels than bytes");
  });
  return 0;
}
