#include "data_test_util.hpp"
#include "tide/core/ops.hpp"
#include "tide/data/csv.hpp"
#include <cmath>

using namespace tide;
using namespace tide::data;
using namespace tide::data::test;

namespace {

CsvSequenceSpec regression_spec() {
  CsvSequenceSpec spec;
  spec.time_columns = {"t"};
  spec.feature_columns = {"a", "b"};
  spec.target_columns = {"y"};
  spec.task = Task::regression;
  spec.id_column = std::string("id");
  spec.window = 3;
  spec.stride = 2;
  return spec;
}

// Two interleaved sequences: s1 has 6 rows (times 0 1 3 6 10 15), s2 has 2 rows.
const char* two_sequences =
    "id,t,a,b,y,label\n"
    "s1,0,1,10,0.5,walk\n"
    "s1,1,2,20,1.5,walk\n"
    "s2,5,100,1000,9,run\n"
    "s1,3,3,30,2.5,sit\n"
    "s1,6,4,40,3.5,walk\n"
    "s2,7.5,200,2000,8,sit\n"
    "s1,10,5,50,4.5,run\n"
    "s1,15,6,60,5.5,run\n";

}  // namespace

TEST_CASE("csv sequences: rows grouped by id, windows within each sequence, dt from the time column") {
  TempDir dir;
  const auto path = write_file(dir.file("seq.csv"), two_sequences);
  const SequenceSet s = load_csv_sequences(path, regression_spec());
  s.validate();
  // s1: 6 rows, window 3, stride 2 -> starts 0, 2 (start 4 would need rows 4..6); s2: 2 rows -> one padded window
  REQUIRE(s.size() == 3);
  CHECK(s.x.shape() == Shape{3, 3, 2});
  CHECK(s.x.to_vector() == std::vector<double>{1, 10, 2, 20, 3, 30,  3, 30, 4, 40, 5, 50,  100, 1000, 200, 2000, 0, 0});
  CHECK(s.dt.to_vector() == std::vector<double>{0, 1, 2,  2, 3, 4,  0, 2.5, 0});
  CHECK(s.mask.to_vector() == std::vector<double>{1, 1, 1, 1, 1, 1, 1, 1, 0});
  CHECK(s.y.shape() == Shape{3, 3, 1});
  CHECK(s.y.to_vector() == std::vector<double>{0.5, 1.5, 2.5, 2.5, 3.5, 4.5, 9, 8, 0});
  CHECK(s.outputs() == 1);
}

TEST_CASE("csv sequences: windows go straight into x of the spec's dtype, with no second copy at the peak") {
  // overlapping windows (stride 1) make x 16 times the rows: a throw-away f32 x or a staging
  // copy beside it multiplied the memory a load needs
  TempDir dir;
  std::string text = "v,w,y\n";
  for (int r = 0; r < 300; ++r) text += fmt::format("{},{},0.5\n", 1700000000 + r, r);
  const auto path = write_file(dir.file("long.csv"), text);
  CsvSequenceSpec spec;
  spec.feature_columns = {"v", "w"};
  spec.target_columns = {"y"};
  spec.task = Task::regression;
  spec.window = 16;
  spec.stride = 1;
  for (const DType dtype : {DType::f32, DType::f64}) {
    spec.x_dtype = dtype;
    reset_peak_memory();
    const std::int64_t before = memory_stats().current;
    const SequenceSet s = load_csv_sequences(path, spec);
    const std::int64_t peak = memory_stats().peak - before;
    REQUIRE(s.x.dtype() == dtype);
    const auto held = static_cast<std::int64_t>(s.x.numel() * dtype_size(dtype) + (s.dt.numel() + s.mask.numel() + s.y.numel()) * 4);
    INFO(std::string(dtype_name(dtype)) << ": peak " << peak << " bytes, the set holds " << held);
    CHECK(peak < held + s.x.numel());  // the extra x of before was 4 or 8 bytes a value
    const std::vector<double> x = s.x.to_vector();
    CHECK(x[0] == (dtype == DType::f64 ? 1700000000.0 : static_cast<double>(static_cast<float>(1700000000.0))));
    CHECK(x[2 * 16 + 2 * 3] == (dtype == DType::f64 ? 1700000004.0 : static_cast<double>(static_cast<float>(1700000004.0))));
    CHECK(x[2 * 16 + 2 * 3 + 1] == 4);  // window 1, step 3: row 4
  }
  spec.x_dtype = DType::i64;
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ": CsvSequenceSpec x_dtype must be f32 or f64, got i64");
}

TEST_CASE("csv sequences: overlapping windows are split by time, so no row is in two parts; others at random") {
  // One 400-row sequence, windows of 8 every 4 rows: split at random, 45 of 63 validation rows were
  // also in training windows (bug hunt).
  TempDir dir;
  std::string text = "v,y\n";
  for (int r = 0; r < 400; ++r) text += fmt::format("{},0\n", r);
  const auto path = write_file(dir.file("long.csv"), text);
  CsvSequenceSpec spec;
  spec.feature_columns = {"v"};
  spec.target_columns = {"y"};
  spec.task = Task::regression;
  spec.window = 8;
  spec.stride = 4;
  const auto rows_of = [](const SequenceSet& s) {
    std::vector<double> v = s.x.to_vector();
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  };
  const Split by_time = load_csv_split(path, spec, 0.1, 0.15, 3);
  const std::vector<double> train = rows_of(by_time.train), val = rows_of(by_time.val), test = rows_of(by_time.test);
  CHECK(train.front() == 0);
  CHECK(train.back() == 299);  // 400 - 40 - 60 rows
  CHECK(val.front() == 300);
  CHECK(val.back() == 339);
  CHECK(test.front() == 340);
  CHECK(test.back() == 399);
  CHECK(by_time.val.size() == (40 - 8) / 4 + 1);
  CHECK(by_time.val.name == by_time.train.name.substr(0, by_time.train.name.size() - 6) + "/val");
  // windows that do not overlap keep the seeded random split of the windows
  spec.stride = 8;
  const Split random = load_csv_split(path, spec, 0.1, 0.15, 3);
  const Split same = split(load_csv_sequences(path, spec), 0.1, 0.15, 3);
  CHECK(random.val.x.to_vector() == same.val.x.to_vector());
  CHECK(rows_of(random.train).back() > 340);  // training windows from all along the sequence
  // Next to a long sequence, sequences that fit in one window go whole to one part (review: they
  // were cut by time into windows of a few rows).
  std::string mixed = "id,v,y\n";
  for (int r = 0; r < 400; ++r) mixed += fmt::format("long,{},0\n", r);
  for (int s = 0; s < 20; ++s)
    for (int r = 0; r < 6; ++r) mixed += fmt::format("s{},{},0\n", s, 1000 + 10 * s + r);
  spec.stride = 4;
  spec.id_column = std::string("id");
  const Split parts = load_csv_split(write_file(dir.file("mixed.csv"), mixed), spec, 0.1, 0.15, 3);
  std::int64_t short_windows = 0;
  for (const SequenceSet* p : {&parts.train, &parts.val, &parts.test}) {
    const std::vector<double> x = p->x.to_vector(), m = p->mask.to_vector();
    for (std::int64_t w = 0; w < p->size(); ++w)
      if (x[static_cast<std::size_t>(w * 8)] >= 1000) {
        ++short_windows;
        CHECK(std::count(m.begin() + w * 8, m.begin() + w * 8 + 8, 1.0) == 6);  // the whole sequence
      }
  }
  CHECK(short_windows == 20);
  CHECK(parts.val.size() == (40 - 8) / 4 + 1 + 2);  // floor(0.1 x 20) of the short sequences
  // a fraction that leaves its part empty is refused, not scored as 0 every epoch
  spec.id_column = CsvColumn();
  CHECK_THROWS_WITH_AS(load_csv_split(write_file(dir.file("tiny.csv"), "v,y\n1,0\n2,0\n3,0\n"), spec, 0.1, 0.0, 3),
                       doctest::Contains("val_fraction 0.1 leaves the val part no window"), Error);
}

TEST_CASE("csv sequences: classification ids in sorted label order, per step or last valid step") {
  TempDir dir;
  const auto path = write_file(dir.file("seq.csv"), two_sequences);
  CsvSequenceSpec spec = regression_spec();
  spec.task = Task::classification;
  spec.target_columns = {"label"};
  std::vector<std::string> names;
  const SequenceSet s = load_csv_sequences(path, spec, &names);
  s.validate();
  CHECK(names == std::vector<std::string>{"run", "sit", "walk"});
  CHECK(s.classes == 3);
  CHECK(s.y.to_indices() == std::vector<std::int64_t>{2, 2, 1,  1, 2, 0,  0, 1, 0});
  spec.per_step = false;
  const SequenceSet last = load_csv_sequences(path, spec);
  CHECK(last.y.shape() == Shape{3});
  CHECK(last.y.to_indices() == std::vector<std::int64_t>{1, 0, 1});  // s2's window ends at its 2nd row

  // integer labels sort as numbers: 10 after 9
  const auto ints = write_file(dir.file("ints.csv"), "f,c\n1,10\n2,9\n3,10\n4,2\n");
  CsvSequenceSpec int_spec;
  int_spec.feature_columns = {"f"};
  int_spec.target_columns = {"c"};
  int_spec.window = 4;
  const SequenceSet k = load_csv_sequences(ints, int_spec, &names);
  CHECK(names == std::vector<std::string>{"2", "9", "10"});
  CHECK(k.y.to_indices() == std::vector<std::int64_t>{2, 1, 2, 0});
  CHECK(k.dt.to_vector() == std::vector<double>{1, 1, 1, 1});  // no time column: dense
}

TEST_CASE("csv sequences: standardise fits on the training part only (hand-computed values)") {
  TempDir dir;
  // one sequence, one feature 1..8, windows of 2 -> 4 sequences
  const auto path = write_file(dir.file("st.csv"), "v,y\n1,0\n2,0\n3,0\n4,0\n5,0\n6,0\n7,0\n8,0\n");
  CsvSequenceSpec spec;
  spec.feature_columns = {"v"};
  spec.target_columns = {"y"};
  spec.task = Task::regression;
  spec.window = 2;
  spec.stride = 2;
  const SequenceSet all = load_csv_sequences(path, spec);
  REQUIRE(all.size() == 4);
  Split parts{all.subset({0, 1}), all.subset({2}), all.subset({3})};  // train holds 1, 2, 3, 4
  const Standardizer st = standardise(parts);
  CHECK(st.mean[0] == doctest::Approx(2.5));
  CHECK(st.std[0] == doctest::Approx(std::sqrt(1.25)));
  CHECK(parts.train.x.to_vector()[0] == doctest::Approx(-1.5 / std::sqrt(1.25)));
  CHECK(parts.test.x.to_vector()[1] == doctest::Approx((8 - 2.5) / std::sqrt(1.25)));
}

TEST_CASE("sequence standardiser: a column near the double range keeps its spread (1e200 squared)") {
  TempDir dir;
  // in double, the sum of squares overflowed: std inf, so the column standardised to zeros. (A CSV
  // file's features stay within f32's range; a set built in C++ may hold any double.)
  const auto path = write_file(dir.file("huge.csv"), "a,y\n0,0\n1,0\n2,0\n0,0\n1,0\n2,0\n");
  CsvSequenceSpec spec;
  spec.feature_columns = {"a"};
  spec.target_columns = {"y"};
  spec.task = Task::regression;
  spec.window = 6;
  spec.x_dtype = DType::f64;
  SequenceSet set = load_csv_sequences(path, spec);
  set.x = mul_scalar(set.x, 1e200);
  const Standardizer st = Standardizer::fit(set);
  st.apply(set);
  CHECK(st.mean[0] == doctest::Approx(1e200));
  CHECK(st.std[0] == doctest::Approx(std::sqrt(2.0 / 3.0) * 1e200));
  const std::vector<double> x = set.x.to_vector();
  const double z = std::sqrt(1.5);
  const std::vector<double> want = {-z, 0, z, -z, 0, z};
  REQUIRE(x.size() == want.size());
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(x[i] == doctest::Approx(want[i]));
}

TEST_CASE("csv sequences: numeric times read exactly (whole units and fraction apart); exponents at 2^53 or more, and a column mixing zoned and naive date-times, refused") {
  TempDir dir;
  CsvSequenceSpec spec;
  spec.time_columns = {"t"};
  spec.feature_columns = {"a"};
  spec.target_columns = {"y"};
  spec.task = Task::regression;
  spec.window = 4;
  // nanoseconds since 1970: steps of 1000 read as 1024 and 768 (a double rounds to multiples of 256)
  const auto ns = write_file(dir.file("ns.csv"), "t,a,y\n1600000000000000000,1,0\n1600000000000001000,2,1\n1600000000000002000,3,0\n");
  CHECK(load_csv_sequences(ns, spec).dt.to_vector() == std::vector<double>{0, 1000, 1000, 0});
  // seconds since 1970 with microseconds: a double holds them to ~2.4e-7, so the steps were ~20% off
  const auto us = write_file(dir.file("us.csv"), "t,a,y\n1700000000.000001,1,0\n1700000000.000002,2,1\n-0.5,3,0\n");
  CHECK_ERROR_NAMES(load_csv_sequences(us, spec), us + ":4: column 1 ('t'): time '-0.5' is earlier");
  const auto us_ok = write_file(dir.file("us_ok.csv"), "t,a,y\n1700000000.000001,1,0\n1700000000.000002,2,1\n+1700000000.5,3,0\n");
  const std::vector<double> dt = load_csv_sequences(us_ok, spec).dt.to_vector();
  CHECK(dt[1] == doctest::Approx(1e-6).epsilon(1e-6));
  CHECK(dt[2] == doctest::Approx(0.499998).epsilon(1e-6));
  // an exponent is read as a double: refused where it cannot keep the steps
  const auto exponent = write_file(dir.file("exponent.csv"), "t,a,y\n1.6e18,1,0\n1.600000000000001e18,2,1\n");
  CHECK_ERROR_NAMES(load_csv_sequences(exponent, spec), exponent + ":2: column 1 ('t'): time 1.6e18 is 2^53 or more in magnitude: "
                                                              "a double holds it only to a multiple of 256");
  CHECK(load_csv_sequences(write_file(dir.file("small.csv"), "t,a,y\n1e3,1,0\n1.5e3,2,1\n"), spec).dt.to_vector() ==
        std::vector<double>{0, 500, 0, 0});
  // a time without a zone is read as UTC: beside zoned ones it sat an hour off (dt 1.5 h, then 0.5 h)
  const auto mixed = write_file(dir.file("mixed.csv"), "t,a,y\n2020-01-01T10:00:00+01:00,1,0\n2020-01-01T10:30:00,2,1\n"
                                                       "2020-01-01T12:00:00+01:00,3,0\n");
  CHECK_ERROR_NAMES(load_csv_sequences(mixed, spec), mixed + ":3: column 1 ('t'): '2020-01-01T10:30:00' has no zone, while "
                                                     "'2020-01-01T10:00:00+01:00' on line 2 has one");
  const auto naive_first = write_file(dir.file("naive.csv"), "t,a,y\n2020-01-01 10:00,1,0\n2020-01-01 10:30Z,2,1\n");
  CHECK_ERROR_NAMES(load_csv_sequences(naive_first, spec), naive_first + ":2: column 1 ('t'): '2020-01-01 10:00' has no zone, "
                                                           "while '2020-01-01 10:30Z' on line 3 has one");
  // every time zoned (offsets may differ), or none: read as before
  const auto zoned = write_file(dir.file("zoned.csv"), "t,a,y\n2020-01-01T10:00:00+01:00,1,0\n2020-01-01T12:30:00+02:00,2,1\n"
                                                       "2020-01-01T11:00:00Z,3,0\n");
  CHECK(load_csv_sequences(zoned, spec).dt.to_vector() == std::vector<double>{0, 5400, 1800, 0});
}

TEST_CASE("csv sequences: missing values are an error, carried forward, or zero") {
  TempDir dir;
  const auto path = write_file(dir.file("gap.csv"), "id,a,b,y\nq,1,2,1\nq,,3,2\nq,4,,\nr,5,6,7\n");
  CsvSequenceSpec spec;
  spec.feature_columns = {"a", "b"};
  spec.target_columns = {"y"};
  spec.task = Task::regression;
  spec.id_column = "id";
  spec.window = 3;
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ":3: column 2 ('a'): missing value ''");
  spec.missing = MissingPolicy::fill_previous;
  SequenceSet s = load_csv_sequences(path, spec);
  CHECK(s.x.to_vector() == std::vector<double>{1, 2, 1, 3, 4, 3,  5, 6, 0, 0, 0, 0});
  CHECK(s.y.to_vector() == std::vector<double>{1, 2, 2,  7, 0, 0});
  spec.missing = MissingPolicy::zero;
  s = load_csv_sequences(path, spec);
  CHECK(s.x.to_vector() == std::vector<double>{1, 2, 0, 3, 4, 0,  5, 6, 0, 0, 0, 0});
  CHECK(s.y.to_vector() == std::vector<double>{1, 2, 0,  7, 0, 0});
  // nothing to carry on a sequence's first row (r's first row is line 3)
  const auto first = write_file(dir.file("first.csv"), "id,a,b,y\nq,1,2,1\nr,,6,7\n");
  spec.missing = MissingPolicy::fill_previous;
  CHECK_ERROR_NAMES(load_csv_sequences(first, spec), first + ":3: column 2 ('a'): missing value on the first row");
  // a missing-value token as the id names no sequence (it made one of its own)
  const auto no_id = write_file(dir.file("no_id.csv"), "id,a,b,y\nq,1,2,1\n?,3,4,2\nq,5,6,3\n");
  spec.missing = MissingPolicy::zero;
  CHECK_ERROR_NAMES(load_csv_sequences(no_id, spec), no_id + ":3: column 1 ('id'): the sequence id '?' is a missing-value token");
  spec.missing = MissingPolicy::drop;
  CHECK(load_csv_sequences(no_id, spec).size() == 1);
}

TEST_CASE("csv sequences: with a decimal comma, class labels and a numeric time column read the comma as the mark") {
  TempDir dir;
  const auto path = write_file(dir.file("comma.csv"), "t;x;y\n0,5;1,5;1\n1,5;2,5;1,0\n2;0,5;2\n3;1,0;2,0\n4,25;3,5;1\n");
  CsvSequenceSpec spec;
  spec.csv.delimiter = ';';
  spec.csv.decimal = ',';
  spec.time_columns = {"t"};
  spec.feature_columns = {"x"};
  spec.target_columns = {"y"};
  spec.window = 5;
  std::vector<std::string> names;
  const SequenceSet s = load_csv_sequences(path, spec, &names);
  CHECK(names == std::vector<std::string>{"1", "2"});  // 1 and 1,0 are one class, as 1 and 1.0 are
  CHECK(s.y.to_indices() == std::vector<std::int64_t>{0, 0, 1, 1, 0});
  CHECK(s.dt.to_vector() == std::vector<double>{0, 1, 0.5, 1, 1.25});
  const auto fraction = write_file(dir.file("fraction.csv"), "t;x;y\n0;1;1\n1;2;2,5\n");
  CHECK_ERROR_NAMES(load_csv_sequences(fraction, spec), fraction + ":3: column 3 ('y'): class label '2,5' is a number but not an integer");
  const auto huge = write_file(dir.file("huge.csv"), "t;x;y\n0;1;1\n1;2;1e20\n");  // an integer, but not one a key holds
  CHECK_ERROR_NAMES(load_csv_sequences(huge, spec), huge + ":3: column 3 ('y'): class label '1e20' is an integer of magnitude 9e15 or more");
}

TEST_CASE("csv sequences: bad specs and bad cells name the file, line and key") {
  TempDir dir;
  const auto path = write_file(dir.file("seq.csv"), two_sequences);
  CsvSequenceSpec spec = regression_spec();
  spec.feature_columns = {"a", "nope"};
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ": no column named 'nope'");
  spec = regression_spec();
  spec.time_columns = {"when"};
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), "no column named 'when'");
  spec = regression_spec();
  spec.target_columns = {"label"};
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ":2: column 6 ('label'): 'walk' is not a number");
  spec = regression_spec();
  spec.window = 0;
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), "window 0");
  spec = regression_spec();
  spec.task = Task::classification;
  spec.target_columns = {"y", "label"};
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), "exactly one target");
  const auto back = write_file(dir.file("back.csv"), "id,t,a,b,y\nq,0,1,1,1\nq,2,1,1,1\nq,1,1,1,1\n");
  CHECK_ERROR_NAMES(load_csv_sequences(back, regression_spec()), back + ":4: column 2 ('t'): time '1' is earlier than the sequence's previous row's ('2')");
  const auto nan = write_file(dir.file("nan.csv"), "id,t,a,b,y\nq,0,1,NaN,1\n");
  CHECK_ERROR_NAMES(load_csv_sequences(nan, regression_spec()), nan + ":2: column 4 ('b'): missing value 'NaN'");
  const auto inf = write_file(dir.file("inf.csv"), "id,t,a,b,y\nq,0,1,inf,1\n");
  CHECK_ERROR_NAMES(load_csv_sequences(inf, regression_spec()), inf + ":2: column 4 ('b'): 'inf' is not a finite");
  const auto big = write_file(dir.file("big.csv"), "id,t,a,b,y\nq,0,1,1e300,1\n");
  CHECK_ERROR_NAMES(load_csv_sequences(big, regression_spec()), big + ":2: column 4 ('b'): 1e+300 is out of the range");
  const auto ragged = write_file(dir.file("ragged.csv"), "id,t,a,b,y\nq,0,1,1,1\nq,1,1,1\n");
  CHECK_ERROR_NAMES(load_csv_sequences(ragged, regression_spec()), ragged + ":3: 4 fields, expected 5");
  const auto header_only = write_file(dir.file("header.csv"), "id,t,a,b,y\n");
  CHECK_ERROR_NAMES(load_csv_sequences(header_only, regression_spec()), header_only + ": no data rows");
}
