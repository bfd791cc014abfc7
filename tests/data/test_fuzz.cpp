// Corrupted input: every loader either returns a set that validates or throws a tide::Error whose
// message names the file; nothing crashes (the sanitizer build checks the "nothing" part).
#include "data_test_util.hpp"
#include "idx_files.hpp"
#include "tide/data/csv.hpp"
#include "tide/data/idx.hpp"
#include "tide/data/person_activity.hpp"
#include "tide/data/traffic.hpp"
#include <limits>

using namespace tide;
using namespace tide::data;
using namespace tide::data::test;

namespace {

// Runs f; passes when it returns normally or throws a tide::Error naming `path`.
template <class F> void succeeds_or_names(const std::string& path, F&& f) {
  try {
    f();
  } catch (const tide::Error& e) {
    const std::string message = e.what();
    INFO("message: " << message);
    CHECK(message.find(path) != std::string::npos);
  }
}

std::string flip_bytes(std::string bytes, std::mt19937& rng, int flips) {
  for (int k = 0; k < flips && !bytes.empty(); ++k) {
    const std::size_t at = rng() % bytes.size();
    switch (rng() % 4) {
      case 0: bytes[at] = static_cast<char>(rng() % 256); break;                      // any byte
      case 1: bytes[at] = ",\"\n\r"[rng() % 4]; break;                               // structure
      case 2: bytes.erase(at, 1 + rng() % 4); break;                                  // a gap
      default: bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at), "-e.9 \"nN,"[rng() % 9]); break;  // noise
    }
  }
  return bytes;
}

}  // namespace

TEST_CASE("IDX truncated at every offset: a tide::Error naming the file, plain and gzipped") {
  TempDir dir;
  std::vector<std::uint8_t> pixels(3 * 5 * 4);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 37);
  const std::string images = idx_images_bytes(3, 5, 4, pixels), labels = idx_labels_bytes({1, 2, 3});
  for (const bool packed : {false, true}) {
    const std::string full_images = packed ? gzip_stored(images) : images;
    const std::string full_labels = packed ? gzip_stored(labels) : labels;
    for (std::size_t n = 0; n < full_images.size(); ++n) {
      const auto path = write_file(dir.file(fmt::format("cut_images{}", n)), full_images.substr(0, n));
      CAPTURE(n);
      CHECK_ERROR_NAMES(read_idx_images(path), path);
    }
    for (std::size_t n = 0; n < full_labels.size(); ++n) {
      const auto path = write_file(dir.file(fmt::format("cut_labels{}", n)), full_labels.substr(0, n));
      CHECK_ERROR_NAMES(read_idx_labels(path), path);
    }
    CHECK(read_idx_images(write_file(dir.file("whole"), full_images)).pixels == pixels);
  }
}

TEST_CASE("IDX with random byte flips: a consistent result or a tide::Error naming the file") {
  TempDir dir;
  std::vector<std::uint8_t> pixels(4 * 28 * 28);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>((i / 7) % 3 ? 0 : 250);
  const std::string images = idx_images_bytes(4, 28, 28, pixels);
  std::mt19937 rng(1);
  for (int trial = 0; trial < 300; ++trial) {
    const bool packed = trial % 2;
    std::string bytes = packed ? gzip_stored(images) : images;
    // aim half the flips at the header, where they matter most
    for (int k = 0; k < 1 + trial % 3; ++k) {
      const std::size_t at = trial % 4 < 2 ? rng() % std::min<std::size_t>(bytes.size(), 30) : rng() % bytes.size();
      bytes[at] = static_cast<char>(rng() % 256);
    }
    const auto path = write_file(dir.file(fmt::format("flip{}", trial)), bytes);
    succeeds_or_names(path, [&] {
      const IdxImages read = read_idx_images(path);
      REQUIRE(static_cast<std::int64_t>(read.pixels.size()) == read.count * read.rows * read.cols);
      if (read.count > 0 && read.count <= 16)
        event_images(read, std::vector<std::uint8_t>(static_cast<std::size_t>(read.count), 0)).validate();
    });
  }
}

TEST_CASE("CSV sequences with random corruption: a validating set or a tide::Error naming the file") {
  TempDir dir;
  std::string text = "id,t,a,b,y\n";
  for (int r = 0; r < 40; ++r) text += fmt::format("s{},{},{},{}.5,{}\n", r % 3, r, r * 2, r, r % 4);
  CsvSequenceSpec spec{};
  spec.time_columns = {"t"};
  spec.id_column = "id";
  spec.feature_columns = {"a", "b"};
  spec.target_columns = {"y"};
  spec.window = 4;
  spec.stride = 2;
  std::mt19937 rng(2);
  int errors = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const auto path = write_file(dir.file(fmt::format("c{}.csv", trial)), flip_bytes(text, rng, 1 + trial % 4));
    spec.task = trial % 2 ? Task::classification : Task::regression;
    spec.missing = static_cast<MissingPolicy>(trial % 3);
    try {
      load_csv_sequences(path, spec).validate();
    } catch (const tide::Error& e) {
      ++errors;
      INFO("message: " << e.what());
      CHECK(std::string(e.what()).find(path) != std::string::npos);
    }
  }
  CHECK(errors > 100);  // most corruptions are caught
}

TEST_CASE("traffic and person-activity formats with random corruption never crash") {
  TempDir dir;
  std::string traffic_text = "holiday,temp,rain_1h,snow_1h,clouds_all,weather_main,weather_description,date_time,traffic_volume\n";
  for (int r = 0; r < 40; ++r)
    traffic_text += fmt::format("{},{}.5,0.0,0.0,{},Clouds,\"broken, clouds\",2013-02-{:02} {:02}:00:00,{}\n",
                                r == 3 ? "Labor Day" : "None", 270 + r, r % 100, 1 + r / 24, r % 24, 1000 + 97 * r);
  std::string person_text;
  for (int r = 0; r < 40; ++r)
    person_text += fmt::format("A01,{},{},27.05.2009 14:03:25:127,{},1.5,-0.5,{}\n", person_activity_tags[r % 4],
                               633790226051280329LL + 2110000LL * r, r * 0.1, r < 20 ? "walking" : "lying down");
  traffic_windows(write_file(dir.file("t.csv"), traffic_text)).validate();
  person_activity_windows(write_file(dir.file("p.txt"), person_text)).validate();
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    const auto t = write_file(dir.file(fmt::format("t{}.csv", trial)), flip_bytes(traffic_text, rng, 1 + trial % 3));
    succeeds_or_names(t, [&] { traffic_windows(t).validate(); });
    const auto p = write_file(dir.file(fmt::format("p{}.txt", trial)), flip_bytes(person_text, rng, 1 + trial % 3));
    succeeds_or_names(p, [&] { person_activity_windows(p).validate(); });
  }
}

// ---- inputs the fuzz targets found (fuzz/, docs/design.md "Fuzzing"); each also in fuzz/corpus ----

TEST_CASE("fuzz: CSV windows with a stride near 2^63 start at 0 only (the next start overflowed)") {
  TempDir dir;
  const auto path = write_file(dir.file("s.csv"), "id,t,a,y\ns0,0,1,0\ns0,1,2,1\ns0,2,3,1\ns0,3,1,0\ns1,0,4,1\ns1,1,5,0\ns1,2,6,1\n");
  CsvSequenceSpec spec{};
  spec.time_columns = {"t"};
  spec.id_column = "id";
  spec.feature_columns = {"a"};
  spec.target_columns = {"y"};
  spec.window = 2;
  for (const std::int64_t stride : {std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::max() / 2,
                                    std::int64_t{1} << 40}) {
    CAPTURE(stride);
    spec.stride = stride;
    const SequenceSet set = load_csv_sequences(path, spec);
    CHECK(set.size() == 2);  // one window per sequence, at row 0
    CHECK(set.x.to_vector() == std::vector<double>{1, 2, 4, 5});
  }
  spec.stride = 1;
  CHECK(load_csv_sequences(path, spec).size() == 3 + 2);
}

TEST_CASE("fuzz: an IDX file of 0 images with extents whose product passes 2^63 is refused naming the file") {
  TempDir dir;
  const auto path = write_file(dir.file("huge"), idx_images_bytes(0, 0xfffffffeu, 0xfffff902u, {}));
  CHECK_ERROR_NAMES(read_idx_images(path), path + ": IDX images of 4294967294 x 4294965506 pixels, more than 4294967296 per image");
  const auto largest = write_file(dir.file("largest"), idx_images_bytes(0, 65536, 65536, {}));
  CHECK(read_idx_images(largest).count == 0);
  // event_images checks hand-made extents before multiplying them
  IdxImages images;
  images.rows = images.cols = std::int64_t{1} << 40;
  CHECK_ERROR_NAMES(event_images(images, {}), "event_images: 0 pixel bytes for 0 images of 1099511627776 x 1099511627776");
  images.rows = -2, images.cols = -3;
  CHECK_ERROR_NAMES(event_images(images, {}), "event_images: 0 pixel bytes");
}
