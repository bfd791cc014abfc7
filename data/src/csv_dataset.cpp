// The "csv" dataset of the registry: a user's own CSV files as sequences. Config keys -> a
// CsvSequenceSpec (csv.hpp), then one file split three ways, or separate train / val / test
// files, standardised with the training part's statistics.
#include "csv_dataset.hpp"
#include "tide/data/timestamps.hpp"
#include "tide/core/named.hpp"
#include <fmt/ranges.h>
#include <algorithm>
#include <cmath>
#include <limits>

namespace tide::data::detail {
namespace {

using json = nlohmann::json;

constexpr Named<Task> kTasks[] = {{"classification", Task::classification}, {"regression", Task::regression}};
constexpr Named<MissingPolicy> kMissingPolicies[] = {{"error", MissingPolicy::error},
                                                     {"fill_previous", MissingPolicy::fill_previous},
                                                     {"zero", MissingPolicy::zero},
                                                     {"drop", MissingPolicy::drop}};
constexpr Named<double> kTimeUnits[] = {{"ms", 1e-3}, {"s", 1.0}, {"min", 60.0}, {"h", 3600.0}, {"d", 86400.0}};

// A column by name (a string) or by 0-based position (an integer).
CsvColumn column_of(const json& v, const std::string& where) {
  if (v.is_string() && !v.get<std::string>().empty()) return CsvColumn(v.get<std::string>());
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return CsvColumn(v.get<std::int64_t>());
  fail("{}: expected a column name or a 0-based column index, got {}", where, brief(v));
}

// One column, or an array of them (`single`: exactly one).
std::vector<CsvColumn> columns_of(ConfigObject& k, const std::string& key, bool single = false) {
  const json* v = k.value(key);
  if (!v) return {};
  if (!v->is_array()) return {column_of(*v, k.path(key))};
  if (single) fail("{}: expected one column (a name or a 0-based index), got {}", k.path(key), brief(*v));
  if (v->empty()) fail("{}: expected a non-empty array of columns", k.path(key));
  std::vector<CsvColumn> out;
  for (std::size_t i = 0; i < v->size(); ++i) out.push_back(column_of((*v)[i], fmt::format("{}[{}]", k.path(key), i)));
  return out;
}

// A single character ("delimiter", "comment"); "\t" is a tab.
char character(ConfigObject& k, const std::string& key, char fallback) {
  const std::string s = k.text(key, std::string(1, fallback));
  if (s.size() != 1) fail("{}: expected a single character, got \"{}\"", k.path(key), s);
  return s[0];
}

// Class labels as strings; JSON integers are accepted as labels too ([0, 1]).
std::vector<std::string> class_labels(ConfigObject& k) {
  const json* v = k.value("classes");
  std::vector<std::string> out;
  if (!v) return out;
  if (!v->is_array() || v->size() < 2) fail("{}: expected an array of at least two class labels, got {}", k.path("classes"), brief(*v));
  for (const json& e : *v) {
    if (e.is_string()) out.push_back(e.get<std::string>());
    else if (e.is_number_integer()) out.push_back(std::to_string(e.get<std::int64_t>()));
    else fail("{}: expected class labels (strings or integers), got {}", k.path("classes"), brief(*v));
  }
  return out;
}

void read_time(ConfigObject& k, CsvSequenceSpec& s) {
  s.time_columns = columns_of(k, "time_column");
  s.time_format = k.text("time_format", "");
  if (!s.time_format.empty()) {
    try {
      check_timestamp_format(s.time_format);
    } catch (const Error& e) {
      fail("{}: {}", k.path("time_format"), e.what());
    }
  }
  if (k.has("time_unit")) s.time_unit = k.choice("time_unit", "s", kTimeUnits);
  if (s.time_columns.empty() && (!s.time_format.empty() || s.time_unit > 0))
    fail("{}: time_format and time_unit describe a time column; set \"time_column\" too", k.where());
}

void read_table_options(ConfigObject& k, CsvSequenceSpec& s) {
  s.csv.header = k.boolean("header", true);
  s.csv.numeric_header = k.has("header") && s.csv.header;  // said explicitly: a header of numbers is one
  s.csv.delimiter = character(k, "delimiter", ',');
  s.csv.comment = k.has("comment") ? character(k, "comment", '#') : '\0';
  s.csv.decimal = character(k, "decimal", '.');
  if (s.csv.decimal != '.' && s.csv.decimal != ',') fail("{}: expected \".\" or \",\", got \"{}\"", k.path("decimal"), s.csv.decimal);
  s.missing = k.choice("missing", "error", kMissingPolicies);
  if (k.has("missing_values")) s.missing_values = k.texts("missing_values");
}

}  // namespace

CsvSequenceSpec csv_spec(ConfigObject& k) {
  CsvSequenceSpec s;
  read_time(k, s);
  if (!k.has("targets")) fail("{}: missing key 'targets' (the target column, or columns for regression)", k.where());
  s.target_columns = columns_of(k, "targets");
  s.feature_columns = columns_of(k, "features");
  s.exclude = columns_of(k, "exclude");
  if (!s.feature_columns.empty() && !s.exclude.empty())
    fail("{}: 'exclude' narrows the default features (every other column); with 'features' given it has no meaning", k.path("exclude"));
  s.task = k.choice("task", "classification", kTasks);
  if (s.task == Task::classification && s.target_columns.size() > 1)
    fail("{}: classification{} takes exactly one target (label) column, got {}; for several targets set \"task\": \"regression\"",
         k.path("targets"), k.has("task") ? "" : " (the default \"task\")", s.target_columns.size());
  s.classes = class_labels(k);
  if (!s.classes.empty() && s.task != Task::classification) fail("{}: classes are for classification", k.path("classes"));
  const std::vector<CsvColumn> id = columns_of(k, "id_column", true);
  if (!id.empty()) s.id_column = id[0];
  s.window = k.integer("window", 32, 1, 1 << 20);
  s.stride = k.integer("stride", s.window, 1, 1 << 20);
  s.per_step = k.boolean("per_step", true);
  read_table_options(k, s);
  return s;
}

double split_fraction(ConfigObject& k, const std::string& key, double fallback, const std::string& own_file) {
  const nlohmann::json* v = k.value(key);
  if (!v) return fallback;
  if (v->is_number() && v->get<double>() == 0)  // an empty part fails later anyway, as "give it more data"
    fail("{}: 0 leaves the {} part empty, and training needs one; give a fraction in (0, 0.9]{}", k.path(key),
         key.substr(0, key.find('_')), own_file.empty() ? std::string() : " or a file of its own (" + own_file + ")");
  // checked here, not by k.number: its closed range would offer 0
  if (!v->is_number() || !(v->get<double>() > 0 && v->get<double>() <= 0.9))
    fail("{}: expected a number in (0, 0.9], got {}", k.path(key), brief(*v));
  return v->get<double>();
}

namespace {

// The fractions of the training file's windows drawn for validation and test: 0 for a part that
// has its own file (where a fraction is an error, not silently ignored).
std::pair<double, double> part_fractions(ConfigObject& k) {
  double fraction[2] = {0.1, 0.15};
  const char* parts[2] = {"val", "test"};
  for (int p = 0; p < 2; ++p) {
    const std::string own = std::string(parts[p]) + "_path", key = std::string(parts[p]) + "_fraction";
    if (k.has(own) && k.has(key)) fail("{}: the {} part comes from {}, so a fraction of the training file has no meaning", k.path(key), parts[p], own);
    fraction[p] = k.has(own) ? 0.0 : split_fraction(k, key, fraction[p], own);
  }
  if (fraction[0] + fraction[1] >= 1.0) fail("{}: val_fraction + test_fraction must be < 1, got {:g}", k.where(), fraction[0] + fraction[1]);
  return {fraction[0], fraction[1]};
}

// Every part has the training file's feature columns (a separate file may have other columns).
void check_widths(const Split& out, const std::string& path, std::int64_t features) {
  for (const SequenceSet* part : {&out.val, &out.test})
    if (part->size() > 0 && part->features() != features)
      fail("{}: {} feature columns, the training file {} has {}", part->name, part->features(), path, features);
}

// The features as the models read them (f32), once standardised in double. A value beyond f32's
// range (in another file, far outside the training part's spread) is an error, not an inf (the
// reader's test, so a value it let through passes here unstandardised too).
void features_to_f32(SequenceSet& set, const std::vector<CsvColumn>& features) {
  const std::vector<double> x = set.x.to_vector();
  const auto F = static_cast<std::size_t>(set.features()), T = static_cast<std::size_t>(set.steps());
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isnan(x[i]) && !std::isfinite(static_cast<float>(x[i]))) {
      const std::size_t f = i % F;
      fail("{}: window {}, step {}: feature '{}' is {:g} after standardising with the training part's mean and std, beyond "
           "the f32 range the models read (an outlier, or a unit other than the training file's?)", set.name, i / F / T,
           i / F % T, f < features.size() && !features[f].name.empty() ? features[f].name : std::to_string(f), x[i]);
    }
  set.x = set.x.to(DType::f32);
}

// Whether a file to predict holds the targets: not when it has none of the target columns, or
// only columns of missing values (new data to forecast). With some of them only, it does: reading
// it then names the one missing. (Names as read: a numeric header is the load's to refuse.)
bool holds_targets(const std::string& path, const CsvSequenceSpec& spec) {
  CsvOptions options = spec.csv;
  options.numeric_header = true;
  const CsvTable table = read_csv(path, options);
  std::vector<std::size_t> found;
  for (const CsvColumn& c : spec.target_columns)
    if (const auto at = std::find(table.header.begin(), table.header.end(), c.name); at != table.header.end())
      found.push_back(static_cast<std::size_t>(at - table.header.begin()));
  if (found.size() < spec.target_columns.size()) return !found.empty();
  return std::any_of(table.rows.begin(), table.rows.end(), [&](const std::vector<std::string>& row) {
    // an empty cell is missing here whatever missing_values holds: an empty column is no target
    return std::any_of(found.begin(), found.end(),
                       [&](std::size_t k) { return !is_missing(row[k], spec.missing_values) && !is_missing(row[k], {""}); });
  });
}

// A file to predict without its targets: read with the first feature standing in for them (so no
// row is dropped or refused for a missing target), then y set to placeholders of the shape and
// dtype the model reads (class 0, or 0.0).
SequenceSet without_targets(const std::string& path, CsvSequenceSpec spec) {
  const Task task = spec.task;
  const auto classes = static_cast<std::int64_t>(spec.classes.size()), outputs = static_cast<std::int64_t>(spec.target_columns.size());
  if (spec.feature_columns.empty()) fail("{}: no feature column to read the file by", path);
  spec.target_columns = {spec.feature_columns.front()};
  spec.stand_in_target = true;
  spec.task = Task::regression;
  spec.classes.clear();
  SequenceSet set = load_csv_sequences(path, spec);
  const std::int64_t N = set.size(), T = set.steps();
  set.task = task;
  if (task == Task::classification) {
    set.classes = classes;
    set.y = Tensor::zeros(set.per_step ? Shape{N, T} : Shape{N}, DType::i64);
  } else {
    set.y = Tensor::zeros(set.per_step ? Shape{N, T, outputs} : Shape{N, outputs}, DType::f32);
  }
  set.validate();
  return set;
}

}  // namespace

Split csv_split(ConfigObject& k, std::uint64_t seed, CsvSequenceSpec spec, CsvLabels* labels, const std::string& predict_file) {
  if (!k.has("path")) fail("{}: missing key 'path' (the CSV file; the training file when val_path / test_path are given)", k.where());
  const std::string path = k.file_path("path", "");
  std::vector<std::string> names;
  // the other files are read with the training file's columns by name (whatever their order
  // there) and its classes (their labels map onto its ids)
  CsvSequenceSpec same;
  spec.x_dtype = DType::f64;  // a column far from 0 (seconds since 1970) keeps its variation until standardised
  const auto [v, t] = part_fractions(k);
  Split out = load_csv_split(path, spec, v, t, seed, &names, &same);
  spec = same;
  if (k.has("val_path")) out.val = load_csv_sequences(k.file_path("val_path", ""), spec);
  if (k.has("test_path")) out.test = load_csv_sequences(k.file_path("test_path", ""), spec);
  const bool scale = k.boolean("standardise", true);
  Standardizer fitted;
  if (scale) fitted = standardise(out);
  bool test_has_targets = true;
  if (!predict_file.empty()) {  // read like the training file, scaled with its statistics; every row predicted once
    spec.stride = spec.window, spec.pad_tail = true, spec.predicting = true;
    test_has_targets = holds_targets(predict_file, spec);
    out.test = test_has_targets ? load_csv_sequences(predict_file, spec) : without_targets(predict_file, spec);
    if (scale) fitted.apply(out.test);
  }
  for (SequenceSet* part : {&out.train, &out.val, &out.test}) features_to_f32(*part, spec.feature_columns);
  check_widths(out, path, out.train.features());
  if (labels) {
    labels->class_names = names;
    labels->target_names.clear();
    for (const CsvColumn& c : spec.target_columns) labels->target_names.push_back(c.name);
    labels->test_has_targets = test_has_targets;
  }
  return out;
}

}  // namespace tide::data::detail
