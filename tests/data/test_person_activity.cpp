#include "data_test_util.hpp"
#include "tide/data/person_activity.hpp"
#include <fmt/format.h>

using namespace tide;
using namespace tide::data;
using namespace tide::data::test;

namespace {

struct Row {
  std::string recording;
  std::size_t tag;
  std::int64_t ticks;
  double x, y, z;
  std::size_t activity;  // index into person_activity_classes
};

// Recordings A01 (70 rows) and A02 (40 rows) interleaved at random, A01 first, in the file's format.
std::vector<Row> generated_rows() {
  std::mt19937 rng(42);
  std::vector<Row> rows;
  std::int64_t ticks[2] = {633790226051280329, 633790230000000000};
  const int counts[2] = {70, 40};
  int written[2] = {0, 0};
  while (written[0] < counts[0] || written[1] < counts[1]) {
    const int r = written[0] == 0 || (written[0] < counts[0] && (written[1] == counts[1] || rng() % 3 != 0)) ? 0 : 1;
    ticks[r] += 100000 + static_cast<std::int64_t>(rng() % 2000000);  // 10 ms .. 210 ms
    rows.push_back({r == 0 ? "A01" : "A02", rng() % 4, ticks[r], (rng() % 1000) / 250.0 - 2, (rng() % 1000) / 300.0,
                    (rng() % 1000) / 500.0, rng() % person_activity_classes.size()});
    ++written[r];
  }
  return rows;
}

std::string file_text(const std::vector<Row>& rows) {
  std::string text;
  for (const Row& r : rows)
    text += fmt::format("{},{},{},27.05.2009 14:03:25:127,{},{},{},{}\n", r.recording, person_activity_tags[r.tag],
                        r.ticks, r.x, r.y, r.z, person_activity_classes[r.activity].activity);
  return text;
}

}  // namespace

TEST_CASE("person activity: the 11 activities fall into 7 classes as in the reference code") {
  REQUIRE(person_activity_classes.size() == 11);
  std::vector<int> per_class(7, 0);
  for (const auto& a : person_activity_classes) ++per_class.at(static_cast<std::size_t>(a.class_id));
  CHECK(per_class == std::vector<int>{2, 2, 3, 1, 1, 1, 1});
}

TEST_CASE("person activity: a generated file round-trips into windows of 32, stride 16") {
  TempDir dir;
  const std::vector<Row> rows = generated_rows();
  const auto path = write_file(dir.file("ConfLongDemo_JSI.txt"), file_text(rows));
  const SequenceSet s = person_activity_windows(path);
  s.validate();
  // A01: 70 rows -> starts 0, 16, 32 (below 70 - 32 = 38); A02: 40 rows -> start 0
  REQUIRE(s.size() == 4);
  CHECK(s.x.shape() == Shape{4, 32, 7});
  CHECK(s.y.shape() == Shape{4, 32});
  CHECK(s.classes == 7);
  CHECK(s.per_step);
  // recordings in order of first appearance (A01 first)
  std::vector<std::vector<const Row*>> recording(2);
  for (const Row& r : rows) recording[r.recording == "A01" ? 0 : 1].push_back(&r);
  const std::pair<int, int> windows[4] = {{0, 0}, {0, 16}, {0, 32}, {1, 0}};
  const auto x = s.x.to_vector(), dt = s.dt.to_vector(), mask = s.mask.to_vector();
  const auto y = s.y.to_indices();
  for (std::size_t w = 0; w < 4; ++w)
    for (std::size_t t = 0; t < 32; ++t) {
      const auto [rec, start] = windows[w];
      const std::size_t i = static_cast<std::size_t>(start) + t;
      const Row& r = *recording[static_cast<std::size_t>(rec)][i];
      const std::size_t k = w * 32 + t;
      for (std::size_t tag = 0; tag < 4; ++tag) CHECK(x[k * 7 + tag] == (tag == r.tag ? 1.0 : 0.0));
      CHECK(x[k * 7 + 4] == doctest::Approx(r.x));
      CHECK(x[k * 7 + 5] == doctest::Approx(r.y));
      CHECK(x[k * 7 + 6] == doctest::Approx(r.z));
      const double want_dt =
          i == 0 ? 0.5 : static_cast<double>(r.ticks - recording[static_cast<std::size_t>(rec)][i - 1]->ticks) / 1e6;
      CHECK(dt[k] == doctest::Approx(want_dt));
      CHECK(mask[k] == 1.0);
      CHECK(y[k] == person_activity_classes[r.activity].class_id);
    }
  const Split parts = person_activity(path, 1, 0.25, 0.25);
  CHECK(parts.val.size() == 1);
  CHECK(parts.test.size() == 1);
  CHECK(parts.train.size() == 2);
}

TEST_CASE("person activity: bad rows name the file, the line and the field") {
  TempDir dir;
  std::string text = file_text(generated_rows());
  const auto line_start = [&](int line) {
    std::size_t at = 0;
    for (int l = 1; l < line; ++l) at = text.find('\n', at) + 1;
    return at;
  };
  std::string bad = text;
  bad.replace(bad.find(',', line_start(5)) + 1, 15, "999-999-999-999");  // line 5's tag field
  CHECK_ERROR_NAMES(person_activity_windows(write_file(dir.file("tag.txt"), bad)),
                    dir.file("tag.txt") + ":5: column 2 (index 1): unknown tag id '999-999-999-999'");
  bad = text;
  const std::size_t end7 = bad.find('\n', line_start(7));
  const std::size_t comma = bad.rfind(',', end7);
  bad.replace(comma + 1, end7 - comma - 1, "dancing");
  CHECK_ERROR_NAMES(person_activity_windows(write_file(dir.file("act.txt"), bad)), ":7: column 8 (index 7): unknown activity 'dancing'");
  std::vector<Row> rows;
  for (const Row& r : generated_rows()) {
    rows.push_back(r);
    if (rows.size() == 3) rows.push_back(Row{r.recording, r.tag, 12, r.x, r.y, r.z, r.activity});
  }
  bad = file_text(rows);  // line 4: earlier than line 3, of the same recording
  CHECK_ERROR_NAMES(person_activity_windows(write_file(dir.file("time.txt"), bad)), ":4: column 3 (index 2): timestamp 12 is earlier");
  bad = text;
  bad.insert(line_start(2), "A01,010-000-024-033,633790226051280329,date,1,2\n");
  CHECK_ERROR_NAMES(person_activity_windows(write_file(dir.file("short.txt"), bad)), ":2: 6 fields, expected 8");
  CHECK_ERROR_NAMES(person_activity_windows(write_file(dir.file("few.txt"), "A01,010-000-024-033,1,d,1,2,3,walking\n")),
                    "no recording has more than 32 rows");
}
