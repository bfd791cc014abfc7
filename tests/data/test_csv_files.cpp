// CSV files as users have them (issue: "your own data"): an implicit index column, date-time
// columns, no header, missing-value tokens, columns by position, labels checked, separate
// train / validation / test files. Each shape is written small, the way real files write it.
#include "data_test_util.hpp"
#include "../stderr_capture.hpp"
#include "tide/data/csv.hpp"
#include "tide/data/registry.hpp"
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <cstdio>
#include <unistd.h>

using namespace tide;
using namespace tide::data;
using namespace tide::data::test;
using json = nlohmann::json;
using tide_test::stderr_of;

namespace {

// The values of a tensor, each close to the expected one (the loader reads f32).
void check_close(const Tensor& t, const std::vector<double>& expected) {
  const std::vector<double> v = t.to_vector();
  REQUIRE(v.size() == expected.size());
  for (std::size_t i = 0; i < v.size(); ++i) CHECK(v[i] == doctest::Approx(expected[i]).epsilon(1e-6));
}

}  // namespace

TEST_CASE("csv files: a header one field shorter than its rows has an index column first, as pandas reads it") {
  const CsvTable t = parse_csv("\"date\",\"x\"\n\"1\",\"2015-02-04 17:51:00\",3\n\"2\",\"2015-02-04 17:52:00\",4\n", "occ.csv");
  CHECK(t.header == std::vector<std::string>{"(index)", "date", "x"});
  CHECK(t.rows[1] == std::vector<std::string>{"2", "2015-02-04 17:52:00", "4"});
  CHECK(t.column_index(CsvColumn(1)) == 1);
  CHECK(t.column_index(CsvColumn("x")) == 2);
  CHECK_ERROR_NAMES(t.column_index(CsvColumn(3)), "occ.csv: column index 3 is past the last column (the file has 3, indices 0..2)");
  // every row must then carry the index
  CHECK_ERROR_NAMES(parse_csv("a,b\n1,2,3\n4,5\n", "r.csv"), "r.csv:3: 2 fields, expected 3 (the header's 2, plus the index column '(index)' inferred from the first data row, line 2");
  CsvOptions strict;
  strict.implicit_index = false;
  CHECK_ERROR_NAMES(parse_csv("a,b\n1,2,3\n", "s.csv", strict), "s.csv:2: 3 fields, expected 2 (as in the header)");
}

TEST_CASE("csv files: a date-time column gives dt in the unit asked for; the index column is not a feature") {
  TempDir dir;
  const auto path = write_file(dir.file("sensor.csv"),
                               "\"date\",\"temp\",\"occupied\"\n"
                               "\"1\",\"2015-02-04 17:51:00\",23.1,1\n"
                               "\"2\",\"2015-02-04 17:52:00\",23.2,1\n"
                               "\"3\",\"2015-02-04 17:55:30\",23.0,0\n");
  CsvSequenceSpec spec;
  spec.time_columns = {"date"};
  spec.time_unit = 60;  // minutes
  spec.target_columns = {"occupied"};
  spec.window = 3;
  const SequenceSet s = load_csv_sequences(path, spec);
  CHECK(s.features() == 1);  // temp: not the index, the date or the target
  CHECK(s.dt.to_vector() == std::vector<double>{0, 1, 3.5});
  check_close(s.x, {23.1, 23.2, 23.0});
  // numbers in a time column are used as written: a unit for them is an error, not a silent scale
  const auto numeric = write_file(dir.file("t.csv"), "t,x,y\n0,1,0\n2,1,1\n");
  CsvSequenceSpec n;
  n.time_columns = {"t"};
  n.time_unit = 60;
  n.target_columns = {"y"};
  CHECK_ERROR_NAMES(load_csv_sequences(numeric, n), "time_unit applies to date-time columns; column 't' holds numbers");
  CHECK_ERROR_NAMES(load_csv_sequences(numeric, n), "dt is in the column's own unit. Leave time_unit out, and divide the column "
                                                    "in the file for another unit (seconds / 60 for minutes), or write the times as date-times");
  // a bad date names the file, line and column, and says why
  const auto bad = write_file(dir.file("bad.csv"), "date,x,occupied\n2015-02-04 10:00:00,1,0\n2015-02-30 10:00:00,1,1\n");
  spec.time_unit = 0;
  CHECK_ERROR_NAMES(load_csv_sequences(bad, spec), bad + ":3: column 1 ('date'): '2015-02-30 10:00:00' is not a date-time in ISO 8601");
  CHECK_ERROR_NAMES(load_csv_sequences(bad, spec), "day 30 is out of range for month 2");
}

TEST_CASE("csv files: microsecond steps between date-times of 2024 keep their digits (whole seconds subtract exactly)") {
  TempDir dir;
  std::string text = "t,x,y\n";
  for (int i = 0; i < 6; ++i) text += fmt::format("2024-01-01T00:00:00.{:06},{},{}\n", i, i, i % 2);
  text += "2024-01-01T00:00:01.000000001,6,0\n";
  const auto path = write_file(dir.file("us.csv"), text);
  CsvSequenceSpec spec;
  spec.time_columns = {"t"};
  spec.time_unit = 1e-3;  // milliseconds
  spec.target_columns = {"y"};
  spec.window = 7;
  const std::vector<double> dt = load_csv_sequences(path, spec).dt.to_vector();
  const std::vector<double> expected = {0, 0.001, 0.001, 0.001, 0.001, 0.001, 999.995000001};
  for (std::size_t i = 0; i < dt.size(); ++i) CHECK(dt[i] == doctest::Approx(expected[i]).epsilon(1e-7));
  const auto back = write_file(dir.file("back.csv"), "t,x,y\n2024-01-01T00:00:00.5,1,0\n2024-01-01T00:00:00.25,1,1\n");
  spec.time_unit = 0;
  CHECK_ERROR_NAMES(load_csv_sequences(back, spec),
                    back + ":3: column 1 ('t'): time '2024-01-01T00:00:00.25' is earlier than the sequence's previous row's ('2024-01-01T00:00:00.5')");
}

TEST_CASE("csv files: no header, ';' between fields, date and time in two columns, '?' for missing values") {
  TempDir dir;
  // the household-power shape: day-first dates, a separate time column, '?' where the meter missed
  const auto path = write_file(dir.file("power.txt"),
                               "16/12/2006;17:24:00;4.216;0.418;a\n"
                               "16/12/2006;17:25:00;?;0.436;b\n"
                               "16/12/2006;17:27:00;5.360;?;a\n"
                               "16/12/2006;17:28:00;3.666;0.528;b\n");
  CsvSequenceSpec spec;
  spec.csv.header = false;
  spec.csv.delimiter = ';';
  spec.time_columns = {0, 1};
  spec.time_format = "%d/%m/%Y %H:%M:%S";
  spec.time_unit = 60;
  spec.feature_columns = {2, 3};
  spec.target_columns = {4};
  spec.window = 4;
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ":2: column 3 (index 2): missing value '?'");
  spec.missing = MissingPolicy::fill_previous;
  SequenceSet s = load_csv_sequences(path, spec);
  CHECK(s.dt.to_vector() == std::vector<double>{0, 1, 2, 1});
  check_close(s.x, {4.216, 0.418, 4.216, 0.436, 5.360, 0.436, 3.666, 0.528});
  // dropping rows with a gap: the next row's dt spans it
  spec.missing = MissingPolicy::drop;
  s = load_csv_sequences(path, spec);
  CHECK(s.dt.to_vector() == std::vector<double>{0, 4, 0, 0});
  CHECK(s.mask.to_vector() == std::vector<double>{1, 1, 0, 0});
  // tokens are configurable: with only "NA" missing, '?' is a cell that is not a number
  spec.missing = MissingPolicy::fill_previous;
  spec.missing_values = {"NA"};
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ":2: column 3 (index 2): '?' is not a number");
}

TEST_CASE("csv files: a header row read with \"header\": false is named as the likely cause") {
  TempDir dir;
  const auto path = write_file(dir.file("named.csv"), "t,a,y\n2024-01-01,1,2\n2024-01-02,3,4\n");
  CsvSequenceSpec spec;
  spec.csv.header = false;
  spec.time_columns = {0};
  spec.feature_columns = {1};
  spec.target_columns = {2};
  spec.window = 2;
  const std::string hint = "(the first row, read as data since \"header\" is false: if it names the columns, leave \"header\" out)";
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), hint);
  spec.time_columns = {};  // no time column: the first feature cell is the first number read
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ":1: column 2 (index 1): 'a' is not a number " + hint);
  // a later row's bad cell is not the header's
  const auto later = write_file(dir.file("later.csv"), "1,2,3\n4,x,6\n");
  CHECK_ERROR_NAMES(load_csv_sequences(later, spec), later + ":2: column 2 (index 1): 'x' is not a number");
  try {
    load_csv_sequences(later, spec);
    FAIL("no error");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()).find("header") == std::string::npos);
  }
}

TEST_CASE("csv files: decimal commas, dotted times and a sentinel for missing values (the air-quality shape)") {
  TempDir dir;
  const auto path = write_file(dir.file("air.csv"),
                               "Date;Time;CO(GT);T\n"
                               "10/03/2004;18.00.00;2,6;13,6\n"
                               "10/03/2004;19.00.00;-200;13,3\n"
                               "10/03/2004;21.00.00;2,2;11,9\n");
  CsvSequenceSpec spec;
  spec.csv.delimiter = ';';
  spec.csv.decimal = ',';
  spec.time_columns = {"Date", "Time"};
  spec.time_format = "%d/%m/%Y %H.%M.%S";
  spec.time_unit = 3600;
  spec.feature_columns = {"CO(GT)"};
  spec.target_columns = {"T"};
  spec.task = Task::regression;
  spec.missing_values = {"-200"};
  spec.missing = MissingPolicy::fill_previous;
  spec.window = 3;
  const SequenceSet s = load_csv_sequences(path, spec);
  check_close(s.x, {2.6, 2.6, 2.2});
  check_close(s.y, {13.6, 13.3, 11.9});
  CHECK(s.dt.to_vector() == std::vector<double>{0, 1, 2});
  spec.csv.delimiter = ',';
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ": the decimal mark cannot be the delimiter");
}

TEST_CASE("csv files: class labels are checked (a target among the features, one class, non-integers, unknown labels)") {
  TempDir dir;
  const auto path = write_file(dir.file("l.csv"), "a,b,y\n1,2,1\n2,3,-1\n3,4,1.0\n4,5,-1\n");
  CsvSequenceSpec spec;
  spec.target_columns = {"y"};
  spec.window = 4;
  std::vector<std::string> names;
  const SequenceSet s = load_csv_sequences(path, spec, &names);  // -1 / 1 map to 0 / 1; "1.0" is 1
  CHECK(names == std::vector<std::string>{"-1", "1"});
  CHECK(s.y.to_indices() == std::vector<std::int64_t>{1, 0, 1, 0});
  CHECK(s.features() == 2);
  spec.classes = {"1", "-1"};  // an order given: ids follow it
  CHECK(load_csv_sequences(path, spec).y.to_indices() == std::vector<std::int64_t>{0, 1, 0, 1});
  spec.classes = {"1", "2"};
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ":3: column 3 ('y'): class label '-1' is not one of the classes (1, 2)");
  spec.classes = {};
  spec.feature_columns = {"a", "y"};
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ": column 'y' is both a feature and a target");
  spec.feature_columns = {"a", "a"};  // one column as two inputs, silently (bug hunt)
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ": column 'a' is listed twice in \"features\"");
  const auto one = write_file(dir.file("one.csv"), "a,y\n1,yes\n2,yes\n");
  spec.feature_columns = {};
  CHECK_ERROR_NAMES(load_csv_sequences(one, spec), one + ": the label column 'y' holds a single class ('yes')");
  const auto real = write_file(dir.file("real.csv"), "a,y\n1,0.25\n2,0.5\n");
  CHECK_ERROR_NAMES(load_csv_sequences(real, spec), real + ":2: column 2 ('y'): class label '0.25' is a number but not an integer");
  const auto gap = write_file(dir.file("gap.csv"), "a,y\n1,0\n2,NA\n3,1\n");
  CHECK_ERROR_NAMES(load_csv_sequences(gap, spec), gap + ":3: column 2 ('y'): missing class label 'NA'");
  spec.missing = MissingPolicy::drop;
  CHECK(load_csv_sequences(gap, spec).mask.to_vector() == std::vector<double>{1, 1, 0, 0});
  spec.missing = MissingPolicy::error;
  spec.time_columns = {"a"};
  spec.feature_columns = {"a"};
  CHECK_ERROR_NAMES(load_csv_sequences(gap, spec), "column 'a' is both a feature and the time column");
}

TEST_CASE("csv files: one column as both the time and the id is an error (rows of one time would make a sequence, dt 0)") {
  TempDir dir;
  const auto path = write_file(dir.file("tid.csv"), "seq,t,x,y\na,1,0.1,p\na,2,0.2,q\nb,1,1.1,q\nb,2,1.2,p\n");
  CsvSequenceSpec spec;
  spec.time_columns = {"t"};
  spec.id_column = "t";
  spec.feature_columns = {"x"};
  spec.target_columns = {"y"};
  spec.window = 4;
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ": column 't' is both the time and the id column");
  const json c = {{"dataset", "csv"}, {"path", path}, {"time_column", "t"}, {"id_column", "t"}, {"targets", "y"}, {"window", 4}};
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), path + ": column 't' is both the time and the id column");
}

TEST_CASE("csv files: configured classes are read as the labels are (\"1.0\" and \"+1\" are class 1); two names for one are an error") {
  TempDir dir;
  const auto path = write_file(dir.file("l.csv"), "a,y\n1,1.0\n2,2.0\n3,+1\n4,2\n");
  CsvSequenceSpec spec;
  spec.target_columns = {"y"};
  spec.window = 4;
  std::vector<std::string> names;
  spec.classes = {"2.0", "1.0"};
  CHECK(load_csv_sequences(path, spec, &names).y.to_indices() == std::vector<std::int64_t>{1, 0, 1, 0});
  CHECK(names == spec.classes);  // as configured
  spec.classes = {"-1", "+1"};
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ":3: column 2 ('y'): class label '2.0' is not one of the classes (-1, +1)");
  spec.classes = {"1", "2", "1.0"};
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ": classes '1' and '1.0' are the same label 1");
  spec.classes = {"walk", "run", "walk"};
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ": classes 'walk' and 'walk' are the same label walk");
}

namespace {

// The registry's csv dataset over a train file and separate validation / test files.
json parts_config(const std::string& train, const std::string& val, const std::string& test) {
  return {{"dataset", "csv"}, {"path", train}, {"val_path", val}, {"test_path", test}, {"targets", "y"},
          {"features", json::array({"x"})}, {"window", 2}};
}

}  // namespace

TEST_CASE("csv files: other files are read by the training file's column names, whatever their order; new files cover every row") {
  TempDir dir;
  const auto train = write_file(dir.file("train.csv"), "a,b,y\n1,10,p\n2,20,q\n3,30,p\n4,40,q\n");
  const auto swapped = write_file(dir.file("swapped.csv"), "y,b,a\np,50,5\nq,60,6\n");
  json c = {{"dataset", "csv"}, {"path", train}, {"val_path", swapped}, {"test_path", swapped}, {"targets", "y"}, {"window", 2},
            {"standardise", false}};
  const Dataset d = load_dataset(c, 1, "data");  // default features: a, b in the training file's order
  CHECK(sequences_of(*d.test, "test").x.to_vector() == std::vector<double>{5, 50, 6, 60});
  const auto missing = write_file(dir.file("missing.csv"), "y,a\np,5\n");
  c["test_path"] = missing;
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), missing + ": no column named 'b'");
  // a new file for predictions: windows of `window` rows, the last one padded, so every row is predicted once
  const auto fresh = write_file(dir.file("new.csv"), "a,b,y\n1,1,p\n2,2,q\n3,3,p\n4,4,q\n5,5,p\n");
  c["test_path"] = swapped;
  const Dataset p = load_dataset_with_test_file(c, 1, "data", fresh);
  const SequenceSet& t = sequences_of(*p.test, "test");
  CHECK(t.size() == 3);
  CHECK(t.mask.to_vector() == std::vector<double>{1, 1, 1, 1, 1, 0});
}

TEST_CASE("csv files: separate train / val / test files share the training file's classes and standardisation") {
  TempDir dir;
  const auto train = write_file(dir.file("train.csv"), "x,y\n1,cat\n2,dog\n3,cat\n4,dog\n");
  const auto val = write_file(dir.file("val.csv"), "x,y\n5,dog\n");
  const auto test = write_file(dir.file("test.csv"), "x,y\n6,cat\n7,cat\n");
  const Dataset d = load_dataset(parts_config(train, val, test), 1, "data");
  CHECK(d.train->size() == 2);  // all of the training file (windows of 2)
  CHECK(d.class_names == std::vector<std::string>{"cat", "dog"});
  const SequenceSet& t = sequences_of(*d.test, "test");
  // standardised with the training file's mean 2.5 and std sqrt(1.25)
  CHECK(t.x.to_vector()[0] == doctest::Approx((6 - 2.5) / std::sqrt(1.25)));
  CHECK(t.y.to_indices() == std::vector<std::int64_t>{0, 0});  // "cat" is class 0 although the test file has only cats
  CHECK(sequences_of(*d.val, "val").y.to_indices() == std::vector<std::int64_t>{1, 0});
  json c = parts_config(train, val, test);
  c["test_fraction"] = 0.2;
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), "data.test_fraction: the test part comes from test_path, so a fraction of the training file has no meaning");
  const auto unseen = write_file(dir.file("unseen.csv"), "x,y\n5,bird\n");
  CHECK_ERROR_NAMES(load_dataset(parts_config(train, val, unseen), 1, "data"), unseen + ":2: column 2 ('y'): class label 'bird' is not one of");
  // a file to predict (tide predict --data) with a label the run never saw: it says what a file to predict may hold (it had
  // the validation / test file's wording)
  const std::string predicted = error_of([&] { load_dataset_with_test_file(parts_config(train, val, test), 1, "data", unseen); });
  CHECK(predicted == unseen + ":2: column 2 ('y'): class label 'bird' is not one of the classes (cat, dog) (the run's classes: a "
                              "file to predict holds those only; leave the whole label column empty, or out, to predict without targets)");
  c = parts_config(train, val, test);
  c["features"] = json::array({0, "nope"});
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), train + ": no column named 'nope'");
  c["features"] = json::array({"X"});
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), train + ": no column named 'X' (did you mean 'x'?)");
  c["features"] = json::array({-1});
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), "data.features[0]: expected a column name or a 0-based column index, got -1");
  c = parts_config(train, val, test);
  c["time_unit"] = "min";
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), "data: time_format and time_unit describe a time column");
  c["time_column"] = "x";
  c["time_unit"] = "week";
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), "data.time_unit: expected one of ms, s, min, h, d");
  c["time_unit"] = "s";
  c["time_format"] = "%d/%q";
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), "data.time_format: timestamp format '%d/%q': unknown directive %q");
}

TEST_CASE("csv files: a header of numbers (years) names the columns when \"header\": true is given, and is refused when left out") {
  TempDir dir;
  const auto path = write_file(dir.file("years.csv"), "2019,2020\n1,10\n2,20\n3,30\n4,40\n5,50\n6,60\n7,70\n8,80\n");
  json c = {{"dataset", "csv"}, {"path", path}, {"targets", "2020"}, {"window", 2}, {"standardise", false},
            {"val_fraction", 0.25}, {"test_fraction", 0.25}};
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), path + ":1: the header row holds only numbers (2019, 2020)");
  c["header"] = true;
  const Dataset d = load_dataset(c, 1, "data");
  double total = 0;  // the feature is column "2019", every row of it in one split or another
  for (const auto* part : {&d.train, &d.val, &d.test})
    for (const double v : sequences_of(**part, "part").x.to_vector()) total += v;
  CHECK(total == 36);
}

TEST_CASE("csv files: a column far from 0 (seconds since 1970, a latitude to 1e-6) keeps its variation when standardised") {
  TempDir dir;
  std::string text = "stamp,lat,y\n";
  for (int i = 0; i < 20; ++i) text += fmt::format("{},{:.7f},{}\n", 1700000000 + i, 47.123456 + i * 1e-6, i % 2);
  const auto path = write_file(dir.file("big.csv"), text);
  const json c = {{"dataset", "csv"}, {"path", path}, {"val_path", path}, {"test_path", path}, {"targets", "y"}, {"window", 20}};
  const Dataset d = load_dataset(c, 1, "data");
  const SequenceSet& train = sequences_of(*d.train, "train");
  CHECK(train.x.dtype() == DType::f32);  // standardised in double, then cast
  const std::vector<double> x = train.x.to_vector();
  REQUIRE(x.size() == 40);
  const double step = std::sqrt(12.0 / (20.0 * 20.0 - 1.0));  // 20 evenly spaced values standardised: their spacing
  for (int i = 0; i < 20; ++i) {
    CHECK(x[2 * i] == doctest::Approx((i - 9.5) * step).epsilon(1e-5));
    CHECK(x[2 * i + 1] == doctest::Approx((i - 9.5) * step).epsilon(1e-3));  // the latitude: 1e-6 steps of a 47
  }
}

TEST_CASE("csv files: a missing time cell (an empty time beside its date, NA in a numeric column) is an error, or dropped") {
  TempDir dir;
  CsvSequenceSpec spec;
  spec.time_columns = {"date", "time"};
  spec.time_unit = 3600;
  spec.target_columns = {"y"};
  spec.window = 4;
  const auto two = write_file(dir.file("dt.csv"), "date,time,x,y\n2020-01-01,10:00,1,0\n2020-01-02,,2,1\n2020-01-02,10:00,3,0\n"
                                                  "2020-01-03,10:00,4,1\n");
  // not midnight: the date alone would join into "2020-01-02 " and read as 00:00
  CHECK_ERROR_NAMES(load_csv_sequences(two, spec), two + ":3: column 2 ('time'): missing time '' (a time is never filled in; \"missing\": \"drop\"");
  spec.missing = MissingPolicy::drop;
  CHECK(load_csv_sequences(two, spec).dt.to_vector() == std::vector<double>{0, 24, 24, 0});
  // a numeric time column: NA is a missing time, not a bad date (first row) or a bad number (later rows)
  CsvSequenceSpec numeric;
  numeric.time_columns = {"t"};
  numeric.target_columns = {"y"};
  numeric.missing = MissingPolicy::fill_previous;
  numeric.window = 2;
  const auto first = write_file(dir.file("na1.csv"), "t,x,y\nNA,1,0\n1,2,1\n");
  CHECK_ERROR_NAMES(load_csv_sequences(first, numeric), first + ":2: column 1 ('t'): missing time 'NA'");
  const auto later = write_file(dir.file("na2.csv"), "t,x,y\n0,1,0\n1,2,1\nNA,3,0\n");
  CHECK_ERROR_NAMES(load_csv_sequences(later, numeric), later + ":4: column 1 ('t'): missing time 'NA'");
  numeric.missing = MissingPolicy::drop;
  CHECK(load_csv_sequences(later, numeric).dt.to_vector() == std::vector<double>{0, 1});
}

TEST_CASE("csv files: a first column without a name (pandas' to_csv index) is no feature, as the inferred index is not") {
  TempDir dir;
  const auto path = write_file(dir.file("pd.csv"), ",x,y\n0,5,0\n1,6,1\n2,7,0\n");
  CsvSequenceSpec spec;
  spec.target_columns = {"y"};
  spec.window = 3;
  CsvSequenceSpec resolved;
  const SequenceSet s = load_csv_sequences(path, spec, nullptr, &resolved);
  CHECK(s.features() == 1);
  CHECK(s.x.to_vector() == std::vector<double>{5, 6, 7});
  CHECK(resolved.feature_columns.at(0).name == "x");
  const CsvTable t = parse_csv(",x,y\n0,5,0\n", "p.csv");
  CHECK(t.is_index(0));
  CHECK_FALSE(t.is_index(1));
  CHECK_FALSE(parse_csv("a,x\n0,5\n", "q.csv").is_index(0));
}

TEST_CASE("csv files: a position that selects the inferred (index) column is refused; positions count it") {
  TempDir dir;
  const CsvTable t = parse_csv("t,x\n0,0.0,1\n1,0.5,2\n", "ix.csv");
  CHECK(t.column_index(CsvColumn(1)) == 1);  // 't'
  CHECK_ERROR_NAMES(t.column_index(CsvColumn(0)), "ix.csv: column index 0 is the row index '(index)' (the header is one field "
                                                  "shorter than the rows); positions count it, so the first named column 't' is index 1");
  CHECK(parse_csv(",x\n0,1\n", "pd.csv").column_index(CsvColumn(0)) == 0);  // a column without a name is a column (pandas: Unnamed: 0)
  const auto path = write_file(dir.file("ix.csv"), "t,x,y\n0,0.0,0.1,0\n1,0.5,0.2,1\n");
  CsvSequenceSpec spec;
  spec.time_columns = {CsvColumn(0)};
  spec.target_columns = {"y"};
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ": column index 0 is the row index '(index)'");
}

TEST_CASE("csv files: a name the header holds twice is refused among the columns in use (other files match by name)") {
  TempDir dir;
  const auto path = write_file(dir.file("dup.csv"), "a,a,b,y\n0,1,2,0\n1,2,3,1\n");
  CsvSequenceSpec spec;
  spec.target_columns = {"y"};
  spec.window = 2;
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ": column name 'a' appears more than once in the header (columns 1, 2); rename them");
  spec.feature_columns = {"b"};  // the copies unused: no name to match
  CHECK(load_csv_sequences(path, spec).features() == 1);
  const json c = {{"dataset", "csv"}, {"path", path}, {"val_path", path}, {"test_path", path}, {"targets", "y"}, {"window", 2}};
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), path + ": column name 'a' appears more than once in the header");
}

TEST_CASE("csv files: val_fraction or test_fraction 0 is refused at the key (training needs every part)") {
  TempDir dir;
  const auto path = write_file(dir.file("f.csv"), "x,y\n1,0\n2,1\n3,0\n4,1\n");
  json c = {{"dataset", "csv"}, {"path", path}, {"targets", "y"}, {"window", 1}, {"test_fraction", 0}};
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), "data.test_fraction: 0 leaves the test part empty, and training needs one; give a "
                                                "fraction in (0, 0.9] or a file of its own (test_path)");
  c = {{"dataset", "vectors"}, {"path", write_file(dir.file("v.csv"), "a,b\n1,2\n3,4\n")}, {"val_fraction", 0.0}};
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), "data.val_fraction: 0 leaves the val part empty");
}

TEST_CASE("csv files: a fraction outside (0, 0.9] is refused naming that range, not [0, 0.9]") {
  TempDir dir;
  const auto path = write_file(dir.file("f.csv"), "x,y\n1,0\n2,1\n3,0\n4,1\n");
  for (const json& bad : {json(-0.1), json(0.95), json("0.1")}) {
    json c = {{"dataset", "csv"}, {"path", path}, {"targets", "y"}, {"window", 1}, {"val_fraction", bad}};
    CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), "data.val_fraction: expected a number in (0, 0.9], got " + bad.dump());
    c = {{"dataset", "vectors"}, {"path", write_file(dir.file("v.csv"), "a,b\n1,2\n3,4\n")}, {"test_fraction", bad}};
    CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), "data.test_fraction: expected a number in (0, 0.9], got " + bad.dump());
  }
}

TEST_CASE("csv files: an empty time cell is missing even when missing_values leaves out \"\"") {
  TempDir dir;
  CsvSequenceSpec spec;
  spec.time_columns = {"date", "time"};
  spec.time_unit = 3600;
  spec.target_columns = {"y"};
  spec.window = 4;
  spec.missing_values = {"NA"};
  const auto path = write_file(dir.file("dt.csv"), "date,time,x,y\n2020-01-01,10:00,1,0\n2020-01-02,,2,1\n2020-01-02,10:00,3,0\n"
                                                   "2020-01-03,10:00,4,1\n");
  // not midnight of 2020-01-02: the date alone would join into "2020-01-02 "
  CHECK_ERROR_NAMES(load_csv_sequences(path, spec), path + ":3: column 2 ('time'): missing time ''");
  spec.missing = MissingPolicy::drop;
  CHECK(load_csv_sequences(path, spec).dt.to_vector() == std::vector<double>{0, 24, 24, 0});
}

TEST_CASE("csv files: a first line that mixes numbers and text is read as the names; a failed lookup and a warning say it looks like data") {
  TempDir dir;
  std::string rows = "0,2024-01-01T00:01:00,19.5,59.2,mild\n";
  for (int r = 1; r < 9; ++r) rows += fmt::format("{},2024-01-01T00:{:02}:00,19.{},60.{},{}\n", r, r + 1, r, r, r % 2 ? "hot" : "mild");
  const auto path = write_file(dir.file("nohdr.csv"), rows);
  json c = {{"dataset", "csv"}, {"path", path}, {"time_column", "timestamp"}, {"targets", "label"}, {"window", 1},
            {"val_fraction", 0.25}, {"test_fraction", 0.25}};
  std::string message;
  std::string warned = stderr_of([&] { message = error_of([&] { load_dataset(c, 1, "data"); }); });
  INFO("message: " << message);
  CHECK(message.find(path + ": no column named 'label' (columns: '0', '2024-01-01T00:01:00', '19.5', '59.2', 'mild'); the first "
                            "line looks like data (it holds '2024-01-01T00:01:00', '19.5', '59.2'): if the file has no header row, set \"header\": false "
                            "and pick the columns by 0-based index") != std::string::npos);
  // a run that picks the columns by position would lose the row without a word: a warning says so
  c["time_column"] = 1, c["targets"] = 4;
  warned = stderr_of([&] { load_dataset(c, 1, "data"); });
  CHECK(warned.find("warning: " + path + ":1: the header row looks like data (3 of its 5 fields are numbers or date-times: "
                    "'2024-01-01T00:01:00', '19.5', '59.2'); it is read as the column names, not as a row; if the file has no header row, set \"header\": false") != std::string::npos);
  // "header": true, given explicitly, says the line holds names: neither a note nor a warning
  c["header"] = true, c["targets"] = "label";
  warned = stderr_of([&] { message = error_of([&] { load_dataset(c, 1, "data"); }); });
  CHECK(warned.empty());
  CHECK(message.find("looks like data") == std::string::npos);
  CHECK(parse_csv("0,1,label\n5,6,7\n", "p.csv").header_note.empty());  // pandas' positions are names
  CHECK(parse_csv("1,2,Phase\n5,6,D\n", "g.csv").header_note.empty());   // so are column numbers from 1 (UCI gesture)
  CHECK(parse_csv(",0,1,2\n0,5,6,7\n", "i.csv").header_note.empty());  // pandas' names after its unnamed index column
  CHECK(parse_csv("name,value\n5,6\n", "n.csv").header_note.empty());
  CHECK(parse_csv("station,2020\n5,6\n", "y.csv").header_note == "; the first line looks like data (it holds '2020'): if the "
                                                                 "file has no header row, set \"header\": false and pick the columns by 0-based index");
}

TEST_CASE("csv files: text where a number is expected names the likely cause (a class label, a missing-value token, a time, a default feature)") {
  TempDir dir;
  // a class label in a regression target
  const auto labels = write_file(dir.file("labels.csv"), "x,label\n1,mild\n2,hot\n");
  json c = {{"dataset", "csv"}, {"path", labels}, {"targets", "label"}, {"task", "regression"}, {"window", 1}};
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), labels + ":2: column 2 ('label'): 'mild' is not a number (a class label? set "
                                                         "\"task\": \"classification\")");
  // a missing-value token the list lacks, in a target or a feature
  const auto gaps = write_file(dir.file("gaps.csv"), "x,y\n1,0.5\n2,n/a\n3,0.1\n");
  c = {{"dataset", "csv"}, {"path", gaps}, {"targets", "y"}, {"task", "regression"}, {"window", 1}};
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), gaps + ":3: column 2 ('y'): 'n/a' is not a number (a missing value? add it to "
                                                       "\"missing_values\", whose list replaces the default one: [\"\", \"?\", \"NA\", "
                                                       "\"N/A\", \"NaN\", \"nan\", \"NULL\", \"null\", \"n/a\"])");
  const auto dash = write_file(dir.file("dash.csv"), "x,y\n1,0.5\n-,0.2\n");
  c["path"] = dash, c["missing_values"] = json::array({"?"});
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), dash + ":3: column 1 ('x'): '-' is not a number (a missing value? add it to "
                                                       "\"missing_values\", whose list replaces the default one: [\"?\", \"-\"])");
  // an empty cell, once "missing_values" replaces the default list without "" (it had no hint)
  const auto empty = write_file(dir.file("empty.csv"), "x,y\n1,0.5\n,0.2\n");
  c["path"] = empty;
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), empty + ":3: column 1 ('x'): empty cell where a number is expected (a missing value? "
                                                        "add it to \"missing_values\", whose list replaces the default one: [\"?\", \"\"])");
  // a time of day beside the date picked as the time column
  const auto split_time = write_file(dir.file("dt.csv"), "Date,Time,x,y\n01/06/2023,08:01:00,0.1,0.2\n01/06/2023,08:06:00,0.3,0.4\n");
  c = {{"dataset", "csv"}, {"path", split_time}, {"time_column", "Date"}, {"time_format", "%d/%m/%Y"}, {"targets", "y"},
       {"task", "regression"}, {"window", 1}};
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), split_time + ":2: column 2 ('Time'): '08:01:00' is not a number (a date or time of "
                                                             "day: list it with the time column, \"time_column\": [\"Date\", \"Time\"], whose "
                                                             "cells are joined with a space (for \"time_format\" too); or add 'Time' to \"exclude\")");
  c["features"] = json::array({"Time", "x"});
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), "or leave it out of \"features\")");
  // a target that picks the row index leaves the label column among the default features: say why it is one
  const auto indexed = write_file(dir.file("indexed.csv"), ",t,x,label\n0,0,1.5,mild\n1,1,1.7,hot\n");
  c = {{"dataset", "csv"}, {"path", indexed}, {"time_column", "t"}, {"targets", 0}, {"window", 1}};
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), indexed + ":2: column 4 ('label'): 'mild' is not a number (a feature since "
                                                          "\"features\" is not given: every column but the time, id and target ones is; "
                                                          "the target is column 1 (''), the row index; set \"features\", or add 'label' to \"exclude\")");
  // text with no likely cause gets no guess
  c = {{"dataset", "csv"}, {"path", labels}, {"targets", "x"}, {"features", json::array({"label"})}, {"task", "regression"}, {"window", 1}};
  const std::string plain = error_of([&] { load_dataset(c, 1, "data"); });
  CHECK(plain.find("'mild' is not a number") != std::string::npos);
  CHECK(plain.find("(a ") == std::string::npos);
}

TEST_CASE("csv files: a column named by a number and given as a JSON number is past the last column: write it as a string") {
  TempDir dir;
  const auto path = write_file(dir.file("years.csv"), "2021,2022\n1,10\n2,20\n3,30\n4,40\n");
  json c = {{"dataset", "csv"}, {"path", path}, {"header", true}, {"targets", 2022}, {"task", "regression"}, {"window", 1}};
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), path + ": column index 2022 is past the last column (the file has 2, indices 0..1); "
                                                       "to pick the column named '2022', write the name as a string: \"2022\"");
  c["targets"] = 5;  // no such name: no such advice
  const std::string message = error_of([&] { load_dataset(c, 1, "data"); });
  CHECK(message.find("write the name as a string") == std::string::npos);
}

TEST_CASE("csv files: a column name one typo away is suggested by the rule config keys use (\"humdity\": did you mean 'humidity'?)") {
  const CsvTable t = parse_csv("timestamp,temp,humidity,label\n0,1,2,a\n", "s.csv");
  CHECK_ERROR_NAMES(t.column("humdity"), "s.csv: no column named 'humdity' (did you mean 'humidity'?)");
  CHECK_ERROR_NAMES(t.column("Label"), "(did you mean 'label'?)");  // case apart, as before
  CHECK_ERROR_NAMES(t.column("tmp"), "(did you mean 'temp'?)");
  const std::string far = error_of([&] { t.column("x"); });  // nothing near
  CHECK(far.find("did you mean") == std::string::npos);
}
