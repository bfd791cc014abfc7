// Irregular series (data/irregular.hpp): the PhysioNet loader on small generated .tar.gz archives
// in the challenge's format (values, masks, times, labels, normalisation, the records left out,
// and an error naming the member and line for each kind of bad input), the periodic toy, subsets
// and the checks.
#include "data_test_util.hpp"
#include "tide/data/irregular.hpp"
#include "tide/data/registry.hpp"
#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <random>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

using namespace tide;
using namespace tide::data;
namespace fs = std::filesystem;

namespace {

// A fresh folder under the temp dir for one test.
fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("tide_irregular_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A gzipped tar at `path` holding a directory entry and the (name, text) members.
void write_tar_gz(const fs::path& path, const std::string& dir, const std::vector<std::pair<std::string, std::string>>& members) {
  archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  REQUIRE(archive_write_open_filename(a, path.c_str()) == ARCHIVE_OK);
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, (dir + "/").c_str());
  archive_entry_set_filetype(e, AE_IFDIR);
  archive_entry_set_perm(e, 0755);
  archive_write_header(a, e);
  for (const auto& [name, text] : members) {
    archive_entry_clear(e);
    archive_entry_set_pathname(e, (dir + "/" + name).c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(text.size()));
    archive_write_header(a, e);
    archive_write_data(a, text.data(), text.size());
  }
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
}

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

const std::string kHeader = "Time,Parameter,Value\n";
std::string descriptors(int id, const std::string& weight = "70") {
  return kHeader + "00:00,RecordID," + std::to_string(id) + "\n00:00,Age,54\n00:00,Gender,0\n00:00,Height,-1\n00:00,ICUType,4\n00:00,Weight," +
         weight + "\n";
}

// Three records: one with duplicate values at a rounded time, one with only descriptors, one plain.
fs::path small_physionet(const std::string& name) {
  const fs::path dir = scratch(name);
  write_tar_gz(dir / "set-a.tar.gz", "set-a",
               {{"132539.txt", descriptors(132539) + "00:04,HR,73\n00:04,Temp,35.1\n00:07,HR,77\n01:37,HR,60\n01:37,GCS,15\n"},
                {"140501.txt", descriptors(140501, "-1")},
                {"132540.txt", descriptors(132540, "-1") + "00:00,HR,90\n02:00,pH,7.4\n"}});
  write_text(dir / "Outcomes-a.txt", "RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death\n132539,6,1,5,-1,0\n"
                                    "132540,16,8,8,-1,1\n140501,1,1,1,-1,0\n");
  return dir;
}

std::size_t column(const std::string& variable, bool with_descriptors = false) {
  const std::vector<std::string> names = physionet_variables(with_descriptors);
  return static_cast<std::size_t>(std::find(names.begin(), names.end(), variable) - names.begin());
}

}  // namespace

TEST_CASE("physionet: values, masks, rounded times, averaged duplicates, labels and the records left out") {
  const fs::path dir = small_physionet("basic");
  const PhysionetData d = read_physionet({(dir / "set-a.tar.gz").string()}, {(dir / "Outcomes-a.txt").string()});
  const IrregularSet& s = d.set;
  s.validate();
  CHECK(physionet_variables(false).size() == 37);
  CHECK(physionet_variables(true).size() == 41);
  REQUIRE(s.size() == 2);
  CHECK(d.without_series == std::vector<std::int64_t>{140501});
  CHECK(s.ids == std::vector<std::int64_t>{132539, 132540});
  CHECK(s.labels.to_indices() == std::vector<std::int64_t>{0, 1});
  const std::int64_t T = s.steps(), D = s.dims();
  // record 132539 at 0.1 h: 00:00 (weight 70), 00:04 and 00:07 both round to 0.1 h, 01:37 to 1.6 h
  CHECK(s.lengths.to_indices() == std::vector<std::int64_t>{3, 2});
  const std::vector<double> t = s.times.to_vector(), v = s.values.to_vector(), m = s.mask.to_vector();
  CHECK(t[0] == doctest::Approx(0.0));
  CHECK(t[1] == doctest::Approx(0.1 / 48));
  CHECK(t[2] == doctest::Approx(1.6 / 48));
  const auto at = [&](std::int64_t n, std::int64_t k, std::size_t v_index) { return static_cast<std::size_t>((n * T + k) * D) + v_index; };
  CHECK(v[at(0, 0, column("Weight"))] == doctest::Approx(70));
  CHECK(v[at(0, 1, column("HR"))] == doctest::Approx(75));  // (73 + 77) / 2
  CHECK(m[at(0, 1, column("HR"))] == 1);
  CHECK(v[at(0, 1, column("Temp"))] == doctest::Approx(35.1));
  CHECK(m[at(0, 1, column("GCS"))] == 0);
  CHECK(v[at(0, 2, column("GCS"))] == doctest::Approx(15));
  // record 132540: Weight -1 at 00:00 is "unknown"; HR at 00:00 is a real observation
  CHECK(m[at(1, 0, column("Weight"))] == 0);
  CHECK(v[at(1, 0, column("HR"))] == doctest::Approx(90));
  CHECK(v[at(1, 1, column("pH"))] == doctest::Approx(7.4f));
  CHECK(t[static_cast<std::size_t>(T + 1)] == doctest::Approx(2.0 / 48));
}

TEST_CASE("physionet: exact minutes, descriptors kept, other time units") {
  const fs::path dir = small_physionet("exact");
  PhysionetOptions o;
  o.quantisation = 0;
  o.descriptors = true;
  o.time_unit = 1;  // hours
  const IrregularSet s = read_physionet({(dir / "set-a.tar.gz").string()}, {}, o).set;
  CHECK_FALSE(s.labelled());
  CHECK(s.dims() == 41);
  CHECK(s.lengths.to_indices() == std::vector<std::int64_t>{4, 2});
  const std::vector<double> t = s.times.to_vector(), v = s.values.to_vector(), m = s.mask.to_vector();
  CHECK(t[1] == doctest::Approx(4.0 / 60));
  CHECK(t[2] == doctest::Approx(7.0 / 60));
  CHECK(v[column("Age", true)] == doctest::Approx(54));
  CHECK(m[column("Height", true)] == 0);  // -1: unknown
}

TEST_CASE("physionet: bad archives and files name the archive, member and line") {
  const fs::path dir = scratch("errors");
  const auto fails_with = [&](const std::vector<std::pair<std::string, std::string>>& members, const std::string& expected) {
    write_tar_gz(dir / "bad.tar.gz", "set-x", members);
    CHECK_THROWS_WITH(read_physionet({(dir / "bad.tar.gz").string()}, {}), doctest::Contains(expected.c_str()));
  };
  fails_with({{"readme.md", "hello"}}, "member 'set-x/readme.md' is not a record");
  fails_with({{"1.txt", descriptors(1) + "00:05,HR,abc\n"}}, "set-x/1.txt line 8: value 'abc' is not a finite number");
  fails_with({{"1.txt", descriptors(1) + "00:05,HR,70\n00:04,HR,71\n"}}, "set-x/1.txt line 9: time 00:04 comes after a later time");
  fails_with({{"1.txt", descriptors(1) + "00:05,Pulse,70\n"}}, "line 8: unknown parameter 'Pulse'");
  fails_with({{"1.txt", descriptors(1) + "0:75,HR,70\n"}}, "line 8: time '0:75' is not HH:MM");
  fails_with({{"1.txt", "Time;Parameter;Value\n"}}, "line 1: expected the header");
  fails_with({{"2.txt", descriptors(1) + "00:05,HR,70\n"}}, "RecordID 1 does not match the member name's 2");
  fails_with({{"1.txt", descriptors(1) + "1:5,HR,70\n"}}, "line 8: time '1:5' is not HH:MM");
  fails_with({{"1.txt", descriptors(1) + "-0:30,HR,70\n"}}, "line 8: time '-0:30' is not HH:MM");  // not 00:30
  fails_with({{"-0.txt", descriptors(0) + "00:05,HR,70\n"}}, "member 'set-x/-0.txt' is not a record");  // not record 0
  fails_with({{"1.txt", descriptors(1) + "00:05,HR,70\n"}, {"1.txt", descriptors(1) + "00:06,HR,70\n"}},
             "record 1 appears more than once");
  // a UTF-8 byte order mark before the header is not an error
  write_tar_gz(dir / "bom.tar.gz", "set-x", {{"1.txt", "\xEF\xBB\xBF" + descriptors(1) + "00:05,HR,70\n"}});
  CHECK(read_physionet({(dir / "bom.tar.gz").string()}, {}).set.size() == 1);
  // a truncated archive: the first half of a valid one
  write_tar_gz(dir / "whole.tar.gz", "set-x", {{"1.txt", descriptors(1) + std::string(20000, '\n') + "00:05,HR,70\n"}});
  std::ifstream in(dir / "whole.tar.gz", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir / "cut.tar.gz", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  CHECK_THROWS_WITH(read_physionet({(dir / "cut.tar.gz").string()}, {}), doctest::Contains("cut.tar.gz"));
  CHECK_THROWS_WITH(read_physionet({(dir / "nothere.tar.gz").string()}, {}), doctest::Contains("cannot open archive"));
  // outcomes: a record without a row, and a bad label
  write_tar_gz(dir / "ok.tar.gz", "set-x", {{"1.txt", descriptors(1) + "00:05,HR,70\n"}});
  write_text(dir / "out.txt", "RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death\n2,1,1,1,-1,0\n");
  CHECK_THROWS_WITH(read_physionet({(dir / "ok.tar.gz").string()}, {(dir / "out.txt").string()}), doctest::Contains("record 1 has no row"));
  write_text(dir / "out.txt", "RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death\n1,1,1,1,-1,2\n");
  CHECK_THROWS_WITH(read_physionet({(dir / "ok.tar.gz").string()}, {(dir / "out.txt").string()}), doctest::Contains("out.txt line 2"));
  write_text(dir / "out.txt", "RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death\n1,1\n");
  CHECK_THROWS_WITH(read_physionet({(dir / "ok.tar.gz").string()}, {(dir / "out.txt").string()}),
                    doctest::Contains("out.txt line 2: expected 6 fields as the header has, got 2"));
  write_text(dir / "out.txt", "RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death\n1,1,1,1,-1,0\n1,1,1,1,-1,1\n");
  CHECK_THROWS_WITH(read_physionet({(dir / "ok.tar.gz").string()}, {(dir / "out.txt").string()}),
                    doctest::Contains("out.txt line 3: record 1 has a second, different outcome"));
  // a RecordID is a whole number: 1.9 is no record 1, and 1e20 no integer at all; digits only, so -0 is no record 0
  for (const char* id : {"1.9", "1e20", "-1", "-0", "+1"}) {
    write_text(dir / "out.txt", std::string("RecordID,In-hospital_death\n") + id + ",0\n");
    CHECK_THROWS_WITH(read_physionet({(dir / "ok.tar.gz").string()}, {(dir / "out.txt").string()}),
                      doctest::Contains(fmt::format("out.txt line 2: RecordID '{}' is not a record number", id).c_str()));
  }
  // the label is read from the column the header names, wherever it is
  write_text(dir / "out.txt", "RecordID,In-hospital_death,Length_of_stay\n1,1,5\n");
  CHECK(read_physionet({(dir / "ok.tar.gz").string()}, {(dir / "out.txt").string()}).set.labels.to_indices() == std::vector<std::int64_t>{1});
  write_text(dir / "out.txt", "RecordID,Survival\n1,5\n");
  CHECK_THROWS_WITH(read_physionet({(dir / "ok.tar.gz").string()}, {(dir / "out.txt").string()}),
                    doctest::Contains("out.txt line 1: expected a header naming the columns RecordID and In-hospital_death"));
  // a quantisation below one second: 0 (exact minutes) or at least 1/3600 hours
  PhysionetOptions tiny;
  tiny.quantisation = 1e-20;
  CHECK_THROWS_WITH(read_physionet({(dir / "ok.tar.gz").string()}, {}, tiny),
                    doctest::Contains("quantisation must be 0 (exact minutes) or from 1/3600 (one second) to 48 hours, got 1e-20"));
  tiny.quantisation = 1.0 / 3600;
  CHECK(read_physionet({(dir / "ok.tar.gz").string()}, {}, tiny).set.times.to_vector()[1] == doctest::Approx(5.0 / 60 / 48));
}

TEST_CASE("physionet: times round to the nearest quantisation step with ties to even, as Python's round in the latent ODE code") {
  const fs::path dir = scratch("ties");
  // at 0.1 h: 00:03 is 0.5 steps (step 0), 00:15 is 2.5 (step 2), 00:27 is 4.5 (step 4), 00:33 is 5.5 (step 6)
  write_tar_gz(dir / "set-a.tar.gz", "set-a", {{"1.txt", descriptors(1) + "00:03,HR,70\n00:15,HR,80\n00:27,HR,90\n00:33,HR,60\n"}});
  PhysionetOptions o;
  o.time_unit = 1;  // hours
  const IrregularSet s = read_physionet({(dir / "set-a.tar.gz").string()}, {}, o).set;
  const std::vector<double> t = s.times.to_vector();
  REQUIRE(t.size() == 4);
  CHECK(t[0] == 0.0);  // 00:03 joins the admission's 00:00
  CHECK(t[1] == doctest::Approx(0.2));
  CHECK(t[2] == doctest::Approx(0.4));
  CHECK(t[3] == doctest::Approx(0.6));
  CHECK(s.values.to_vector()[column("HR")] == doctest::Approx(70));
}

TEST_CASE("physionet: the registry splits, and normalises with the training part only") {
  const fs::path dir = scratch("registry");
  std::vector<std::pair<std::string, std::string>> members;
  std::string outcomes = "RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death\n";
  for (int i = 0; i < 20; ++i) {
    const int id = 100 + i;
    members.emplace_back(std::to_string(id) + ".txt", descriptors(id) + "00:30,HR," + std::to_string(60 + i) + "\n05:00,HR,80\n");
    outcomes += std::to_string(id) + ",1,1,1,-1," + std::to_string(i % 2) + "\n";
  }
  write_tar_gz(dir / "set-a.tar.gz", "set-a", members);
  write_text(dir / "Outcomes-a.txt", outcomes);
  const Dataset d = load_dataset({{"dataset", "physionet"}, {"dir", dir.string()}, {"sets", {"a"}}}, 7, "data");
  CHECK(d.train->size() == 14);
  CHECK(d.val->size() == 2);
  CHECK(d.test->size() == 4);
  CHECK(d.description.find("physionet: 14 train / 2 val / 4 test irregular sequences") == 0);
  // minmax from the training records: their observed HR values span [min, max] -> [0, 1]
  const IrregularSet& train = irregular_of(*d.train, "test");
  const std::vector<double> v = train.values.to_vector(), m = train.mask.to_vector();
  double lo = 1e9, hi = -1e9;
  for (std::size_t i = column("HR"); i < v.size(); i += 37)
    if (m[i] != 0) lo = std::min(lo, v[i]), hi = std::max(hi, v[i]);
  CHECK(lo == doctest::Approx(0));
  CHECK(hi == doctest::Approx(1));
  // the same records as padded sequences for the recurrent models: [values, mask], elapsed times, mortality
  const Dataset seq = load_dataset({{"dataset", "physionet"}, {"dir", dir.string()}, {"sets", {"a"}}, {"form", "sequences"}}, 7, "data");
  const SequenceSet& st = sequences_of(*seq.train, "test");
  st.validate();
  CHECK(st.features() == 2 * 37);
  CHECK(st.classes == 2);
  CHECK_FALSE(st.per_step);
  const std::vector<double> dt = st.dt.to_vector();
  CHECK(dt[0] == doctest::Approx(0.0));             // the admission weight at 00:00
  CHECK(dt[1] == doctest::Approx(0.5 / 48));        // then 00:30
  CHECK(dt[2] == doctest::Approx(4.5 / 48));        // then 05:00
  CHECK(st.y.to_indices() == train.labels.to_indices());
  CHECK_THROWS_WITH(load_dataset({{"dataset", "physionet"}, {"dir", dir.string()}, {"sets", {"a"}}, {"normalise", "zscore"}}, 7, "data"),
                    doctest::Contains("data.normalise: expected one of minmax, standard, none"));
  CHECK_THROWS_WITH(load_dataset({{"dataset", "physionet"}, {"dir", dir.string()}, {"sets", {"a"}}, {"quantisation", 1e-20}}, 7, "data"),
                    doctest::Contains("data.quantisation: 1e-20 hours is below one second"));
}

TEST_CASE("periodic toy: seeded, sorted irregular times, amplitude in range; subsets trim padding") {
  Generator g1(5), g2(5);
  PeriodicOptions o;
  o.points = 20;
  const IrregularSet a = periodic_toy(8, g1, o), b = periodic_toy(8, g2, o);
  a.validate();
  CHECK(a.times.to_vector() == b.times.to_vector());
  const std::vector<double> t = a.times.to_vector(), x = a.values.to_vector();
  CHECK(t[0] != t[20]);  // each sequence its own grid
  for (double v : t) CHECK((v >= 0 && v <= o.horizon));
  for (double v : x) CHECK(std::abs(v) < o.amp_max + 0.1);

  IrregularSet s = a;  // shorten sequence 1 and take a subset without the long ones
  std::vector<std::int64_t> len(8, 20);
  len[1] = 5;
  s.lengths = Tensor::from_indices(len, Shape{8});
  Tensor mask = s.mask.clone(), values = s.values.clone();
  for (std::int64_t k = 5; k < 20; ++k) mask.data<float>()[20 + k] = 0, values.data<float>()[20 + k] = 0;
  s.mask = mask, s.values = values;
  std::vector<double> times = s.times.to_vector();
  for (std::int64_t k = 5; k < 20; ++k) times[static_cast<std::size_t>(20 + k)] = times[24];
  s.times = Tensor::from_vector(times, Shape{8, 20}, DType::f64);
  s.validate();
  const IrregularSet sub = s.subset({1});
  CHECK(sub.steps() == 5);
  sub.validate();
  IrregularSet bad = s;
  bad.values = s.values.clone();
  bad.values.data<float>()[20 + 7] = 1;  // a value on padding
  CHECK_THROWS_WITH(bad.validate(), doctest::Contains("sequence 1 step 7"));
}

TEST_CASE("irregular CSV: one sequence per id, empty cells unobserved, times checked") {
  const fs::path dir = scratch("csv");
  write_text(dir / "long.csv", "episode,time,a,b\n2,0.0,1,\n2,0.5,2,3\n1,0.1,4,5\n2,0.7,,6\n");
  const IrregularSet s = read_irregular_csv((dir / "long.csv").string(), "time", "episode");
  CHECK(s.ids == std::vector<std::int64_t>{1, 2});
  CHECK(s.lengths.to_indices() == std::vector<std::int64_t>{1, 3});
  CHECK(s.variables == std::vector<std::string>{"a", "b"});
  CHECK(s.mask.to_vector() == std::vector<double>{1, 1, 0, 0, 0, 0, 1, 0, 1, 1, 0, 1});
  CHECK(s.values.to_vector()[11] == 6);
  // a `tide data mujoco` file through the registry: whole episodes, split by episode, standardised on train
  std::string rollouts = "episode,time,q\n";
  for (int e = 0; e < 10; ++e)
    for (int k = 0; k < 4; ++k) rollouts += fmt::format("{},{},{}\n", e, 0.01 * k, e + k);  // (a chain of + tripped GCC 12's -Wrestrict)
  write_text(dir / "rollouts.csv", rollouts);
  const Dataset d = load_dataset({{"dataset", "mujoco"}, {"form", "irregular"}, {"path", (dir / "rollouts.csv").string()}}, 3, "data");
  CHECK(d.train->size() == 7);
  CHECK(d.test->size() == 2);
  const IrregularSet& train = irregular_of(*d.train, "test");
  double mean = 0;
  for (double v : train.values.to_vector()) mean += v;
  CHECK(mean == doctest::Approx(0.0).epsilon(1e-6));  // every value observed, standardised with the training episodes
  // values far from 0 (1e8 + k: f32 would keep only multiples of 8) are standardised before the cast to f32
  rollouts = "episode,time,q\n";
  for (int e = 0; e < 10; ++e)
    for (int k = 0; k < 4; ++k) rollouts += fmt::format("{},{},{}\n", e, 0.01 * k, 100000000 + k);
  write_text(dir / "far.csv", rollouts);
  const Dataset far = load_dataset({{"dataset", "mujoco"}, {"form", "irregular"}, {"path", (dir / "far.csv").string()}}, 3, "data");
  const IrregularSet& far_train = irregular_of(*far.train, "test");
  CHECK(far_train.values.dtype() == DType::f32);
  const std::vector<double> q = far_train.values.to_vector();
  const double spacing = 1 / std::sqrt(1.25);  // 0..3 standardised
  for (std::size_t i = 0; i < 4; ++i) CHECK(q[i] == doctest::Approx((static_cast<double>(i) - 1.5) * spacing).epsilon(1e-6));
  write_text(dir / "bad.csv", "episode,time,a\n1,0.5,1\n1,0.5,2\n");
  CHECK_THROWS_WITH(read_irregular_csv((dir / "bad.csv").string(), "time", "episode"), doctest::Contains("bad.csv:3"));
  // Found by a bug hunt: one long episode among many one-row ones padded them all (a 142 KB file
  // asked for gigabytes)
  std::string lopsided = "episode,time,a,b,c\n";
  for (int k = 0; k < 5000; ++k) lopsided += fmt::format("0,{},1,2,3\n", k);
  for (int e = 1; e <= 5000; ++e) lopsided += fmt::format("{},0,1,2,3\n", e);
  write_text(dir / "lopsided.csv", lopsided);
  CHECK_THROWS_WITH(read_irregular_csv((dir / "lopsided.csv").string(), "time", "episode"),
                    doctest::Contains("lopsided.csv: id 0 has 5000 rows while the 5001 ids average 2.0: every sequence is padded to the longest"));
  // Found by a new user: a time before 0 failed only when a batch reached the latent ODE (for a test
  // episode, after the whole training)
  write_text(dir / "early.csv", "episode,time,a\n1,0.5,1\n2,-0.1,2\n2,0.3,1\n");
  CHECK_THROWS_WITH(read_irregular_csv((dir / "early.csv").string(), "time", "episode"),
                    doctest::Contains("early.csv:3: column 2 ('time'): time -0.1 of id 2 is before 0"));
}

TEST_CASE("irregular sets: f64 values are a reader's staging; the examples the models read take f32 only") {
  const fs::path dir = scratch("staging");
  write_text(dir / "far.csv", "episode,time,q\n1,0,100000000\n1,1,100000001\n2,0,100000002\n");
  IrregularSet read = read_irregular_csv((dir / "far.csv").string(), "time", "episode", {}, DType::f64);
  read.name = "far";
  read.validate();  // a valid set as read
  CHECK_THROWS_WITH(IrregularExamples{read}, doctest::Contains("irregular set 'far': values are f64[2, 2, 1], the models read f32; scale the set first"));
  VariableScaler::fit(read, Normalisation::standard).apply(read);
  CHECK(IrregularExamples(read).set().values.dtype() == DType::f32);
}

TEST_CASE("irregular CSV: ids are 64-bit integers, the implicit index is no variable, bad cells name the line") {
  const fs::path dir = scratch("csv_ids");
  const auto read = [&](const std::string& name, const std::string& text) {
    write_text(dir / name, text);
    return read_irregular_csv((dir / name).string(), "time", "episode");
  };
  const IrregularSet big = read("big.csv", "time,episode,q\n0,9007199254740993,1\n0,9007199254740992,2\n0,3.0,3\n");
  CHECK(big.ids == std::vector<std::int64_t>{3, 9007199254740992, 9007199254740993});
  const std::string p = (dir / "x.csv").string();
  CHECK_ERROR_NAMES(read("x.csv", "time,episode,q\n0,1.2,1\n1,1.2,2\n0,1.7,3\n"), p + ":2: column 2 ('episode'): id '1.2' is not an integer");
  CHECK_ERROR_NAMES(read("x.csv", "time,episode,q\n0,1e300,1\n"), p + ":2: column 2 ('episode'): id '1e300' is not an integer");
  CHECK_ERROR_NAMES(read("x.csv", "time,episode,q\n0,1,1e300\n"), p + ":2: column 3 ('q'): 1e+300 is out of the range of a 32-bit float");
  CHECK_ERROR_NAMES(read("x.csv", "time,episode,q,r\n1,1,2,3\n0,2,,\n"), p + ":3: the row observes no variable (every one of q, r is empty)");
  // a blank cell is unobserved, as an empty one
  const IrregularSet blank = read("w.csv", "time,episode,q,r\n0,1, ,2\n1,1,3,\t\n");
  CHECK(blank.mask.to_vector() == std::vector<double>{0, 1, 1, 0});
  CHECK(blank.values.to_vector() == std::vector<double>{0, 2, 3, 0});
  // a file without a header: the fix named is a line of names (this reader has no "header" key)
  CHECK_ERROR_NAMES(read("n.csv", "5,1,2\n6,1,3\n"), (dir / "n.csv").string() + ":1: the header row holds only numbers (5, 1, 2): the file "
                    "seems to have no header row; add a first line naming the columns ('time', 'episode' and the variables)");
  // pandas' to_csv index (a first column without a name) is no variable
  CHECK(read("pd.csv", ",time,episode,q\n0,0,1,5\n1,1,1,6\n").variables == std::vector<std::string>{"q"});
  const IrregularSet indexed = read("i.csv", "time,episode,q\n0,0,0,5\n1,0.5,0,6\n2,0,1,7\n");
  CHECK(indexed.variables == std::vector<std::string>{"q"});
  CHECK(indexed.values.to_vector() == std::vector<double>{5, 6, 7, 0});
}

namespace {

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// Passes when f returns or throws a tide::Error naming `path` (anything else fails the test).
template <class F> void loads_or_names(const std::string& path, F&& f) {
  try {
    f();
  } catch (const tide::Error& e) {
    INFO("message: " << e.what());
    CHECK(std::string(e.what()).find(path) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("physionet: corrupted archives (byte flips, truncation, fuzz finds) load or fail naming the file") {
  const fs::path dir = scratch("corrupt");
  write_tar_gz(dir / "good.tar.gz", "set-a", {{"1.txt", descriptors(1) + "00:05,HR,70\n01:00,pH,7.3\n"},
                                              {"2.txt", descriptors(2) + "00:15,Temp,36.6\n"}});
  std::ifstream in(dir / "good.tar.gz", std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string path = (dir / "bad.tar.gz").string();
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes = good;
    if (trial % 2) bytes.resize(rng() % bytes.size());
    else for (int k = 0; k < 3; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    std::ofstream(path, std::ios::binary) << bytes;
    loads_or_names(path, [&] { read_physionet({path}, {}).set.validate(); });
  }
  // fuzz_physionet's first find: a damaged gzip stream on which libarchive sets no error message
  std::ofstream(path, std::ios::binary) << from_hex(
      "1f8b0800d17b116b02ffedd3c14ec3300c06e09efb143c80579c2669b4ded090d6ddd0e8e05c6dd6a8b46e559b49f0f6"
      "446b87049c0b48fcdf25b6e328a7bf173fab6e55e25f7d34150e32632e67f0f5e454eb8f7a98bbccdae886a31f70ee7d"
      "d5852fa3ffa9ac1ba187aaab1af1d2d15375384bcc9c33d35ab6a76eb7ba27350eeef642d68ccd528ebbf080c7b6907a"
      "ffe26976dd5d2d36e55b2b745d7f1eeeddb0efa85893d3635d4ad392b64978ab72ed68b9782465e308a6d75ff29ffe6a"
      "fe95cebee53f63e4ffafe43ffd9ce121e38aa92dc825666c42a0e71c1b97db396dbafa28a41911060000000000000000"
      "000000000000009833d35ab6a77700280000");
  loads_or_names(path, [&] { read_physionet({path}, {}).set.validate(); });
}

TEST_CASE("VariableScaler standard: the variance from the deviations, exact for values far from zero") {
  // 1e8 + {0, 8, 8, 8, 16, 16, 16, 0, 24, 8} (exact in f32): population std 7.2; E[x^2] - mean^2 gave 7.07
  const std::vector<double> offsets = {0, 8, 8, 8, 16, 16, 16, 0, 24, 8};
  IrregularSet s;
  s.name = "far";
  s.variables = {"a"};
  std::vector<double> t, v;
  for (std::size_t i = 0; i < offsets.size(); ++i) t.push_back(static_cast<double>(i + 1)), v.push_back(1e8 + offsets[i]);
  s.times = Tensor::from_vector(t, Shape{1, 10}, DType::f64);
  s.values = Tensor::from_vector(v, Shape{1, 10, 1}, DType::f32);
  s.mask = Tensor::ones(Shape{1, 10, 1}, DType::f32);
  s.lengths = Tensor::from_indices({10}, Shape{1});
  s.validate();
  const VariableScaler fitted = VariableScaler::fit(s, Normalisation::standard);
  CHECK(fitted.shift[0] == doctest::Approx(1e8 + 10.4).epsilon(1e-15));
  CHECK(fitted.scale[0] == doctest::Approx(7.2).epsilon(1e-12));
  s.values = Tensor::full(Shape{1, 10, 1}, 0.1, DType::f32);  // constant, though its mean rounds
  CHECK(VariableScaler::fit(s, Normalisation::standard).scale[0] == 1.0);
}

TEST_CASE("VariableScaler: a value another part normalises beyond f32's range is an error naming the set and the variable") {
  IrregularSet train;
  train.name = "train";
  train.variables = {"a"};
  train.times = Tensor::from_vector({1, 2}, Shape{1, 2}, DType::f64);
  train.values = Tensor::from_vector({0, 1e-30}, Shape{1, 2, 1}, DType::f64);
  train.mask = Tensor::ones(Shape{1, 2, 1}, DType::f32);
  train.lengths = Tensor::from_indices({2}, Shape{1});
  const VariableScaler fitted = VariableScaler::fit(train, Normalisation::standard);
  IrregularSet val = train;
  val.name = "val";
  val.values = Tensor::from_vector({0, 1e10}, Shape{1, 2, 1}, DType::f64);  // 2e40 after normalising: inf in f32 (was: silently)
  CHECK_ERROR_NAMES(fitted.apply(val), "val: sequence 0, step 1: variable 'a' is 2e+40 after normalising with the training part's statistics");
  fitted.apply(train);
  CHECK(train.values.to_vector() == std::vector<double>{-1, 1});
  // minmax over a range wider than a double's (max - min = inf) scaled every value to 0, silently
  train.values = Tensor::from_vector({-1e308, 1e308}, Shape{1, 2, 1}, DType::f64);
  CHECK_ERROR_NAMES(VariableScaler::fit(train, Normalisation::minmax),
                    "train: variable 'a' spans -1e+308 to 1e+308, a range beyond a double's: \"minmax\" cannot scale it");
}
