// The metadata of a `tide train` checkpoint (the archive's meta_json, tide/autodiff/archive.hpp):
// a format tag, the config the run was written with, the model it holds and where the run stood;
// best.tide's metadata, and the model a parameter file records (models::record_model).
#pragma once
#include "tide/data/csv.hpp"
#include <nlohmann/json.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tide::models {
class Model;
}

namespace tide::cli {

// Where a run stands: restored by --resume, saved in every checkpoint.
struct Position {
  std::int64_t epoch = 0, batch = 0, global_step = 0, best_epoch = -1, records_written = 0;
  // seen: what the epoch's batch losses were means over, summed (BatchLoss::weight: examples, or valid steps)
  double best_val = 0, loss_sum = 0, metric_sum = 0, metric_count = 0, seen = 0;
  // the epoch's sums of the model's other metrics (value, count) by name (nfe, regularisers, ...)
  std::map<std::string, std::pair<double, double>> extra;

  // (0 while nothing has weight: a first batch of classes weighted 0 pools with weight 0)
  double train_loss() const { return seen > 0 ? loss_sum / seen : 0.0; }
  double train_metric() const { return metric_count > 0 ? metric_sum / metric_count : 0.0; }
};

// The config keys a run's command-line flags set (--epochs, --seed, --eager: "epochs", "seed",
// "compile"): --resume restores these, and only these, over the config file's values.
using FlagKeys = std::vector<std::string>;

// The BLAS setup a run's numbers depend on beyond the build: the thread count (GEMMs split their
// sums by thread) and the kernel set OpenBLAS picked for the CPU (tide::blas_info().core_type;
// OPENBLAS_CORETYPE or another CPU picks other kernels, which round otherwise).
struct BlasRecord {
  std::int64_t threads = 1;
  std::string core_type;
};

// What a checkpoint says besides the position: the config the run was written with, the keys
// of it that flags set and the BLAS thread count and kernel set it ran with (each nullopt in
// checkpoints written before it was recorded). A resume with another count or kernel set is valid
// but not bit-exact.
struct CheckpointConfig {
  nlohmann::json config;
  std::optional<FlagKeys> flag_keys;
  std::optional<std::int64_t> blas_threads;
  std::optional<std::string> blas_core_type;
};

// The metadata text of a checkpoint of a run of `config` (`flag_keys` of it set by flags) at
// `position`, run with the BLAS setup `blas`, with what
// models::record_model writes of `model` (its name and normalised spec) when given: the spec is what
// eval, predict and --resume check the checkpoint against (a config can build another model than
// it did when tide's defaults change).
std::string checkpoint_meta(const nlohmann::json& config, const Position& position, const FlagKeys& flag_keys = {},
                            const BlasRecord& blas = {}, const models::Model* model = nullptr);

// Reads checkpoint_meta's text into `position` (whose best_val stays as it is while no epoch has
// been best) and returns the config. Every key is checked (present, of its type, counts >= 0 and
// below 2^62, no unknown key); an error names `source` and the key, and changes nothing.
CheckpointConfig read_checkpoint_meta(const std::string& text, const std::string& source, Position& position);
// The config a best.tide's metadata `text` records (beside its epoch and scores since checkpoint
// metadata version 2); null for a best.tide from before. Text that is no JSON, or nested deeper
// than a config may be, is an error naming `source`.
nlohmann::json best_meta_config(const std::string& text, const std::string& source);
// best.tide's metadata text: its epoch, the validation scores that chose it (`metric_key`, as
// "val_accuracy", and val_loss), the run's config and what models::record_model writes of `model`.
std::string best_meta(std::int64_t epoch, const std::string& metric_key, double val_metric, double val_loss,
                      const nlohmann::json& config, const models::Model& model);

// The keys of record_model's a parameter file's metadata `text` holds (model_name, model_type,
// model_spec), as an object: what `tide export` copies into its file; empty for metadata recording
// none or no JSON object (older files, other tools).
nlohmann::json recorded_model(const std::string& text);
// models::check_model_meta of the metadata `text` of the parameter file `path` against the model
// another file's metadata records (`reference_text`: the run's own checkpoint or best.tide), for a
// command that builds no model (export --params): refused naming the first key of the spec that
// differs and both values; passes when either file records no spec.
void check_recorded_model(const std::string& text, const std::string& path, const std::string& reference_text);

// The data files a run read and the directory it was trained in, kept in the run directory's
// data_files.json: eval, predict and --resume rebuild the data (standardisation statistics,
// classes, splits) from the files as they are then, so a file edited since changes scores and
// predictions, and a resume is no longer bit-exact, without a word unless the files are compared.
// The files are the strings of the config's data section under a file key (path, *_path,
// *_images, *_labels) that name a regular file (relative paths from the current directory), each
// with its size and CRC32; a dataset read from a directory (physionet, gesture) is not recorded.
// A csv dataset's columns by role are kept too (data_columns).
constexpr const char* data_record_name = "data_files.json";
// The data section's file keys whose string value names a regular file (from the current
// directory), as ("data.path", path).
std::vector<std::pair<std::string, std::string>> data_files(const nlohmann::json& data_section);
nlohmann::json data_record(const nlohmann::json& data_section);
// A csv dataset's columns by role as the run reads them, resolved against its training file's
// header (data.path): {"features": [...], "targets": [...], "time": [...], "id": [...]}, the
// default features (every other column) spelled out; null for other datasets, a file without a
// header, or one that cannot be read. Kept in data_record as "columns": reordering the file's
// columns would silently reorder the model's inputs.
nlohmann::json data_columns(const nlohmann::json& data_section);
// The column names of a CSV file's header read with a data section's table options (delimiter,
// comment, decimal mark); empty when it cannot be read.
std::vector<std::string> csv_header(const std::string& path, const nlohmann::json& data_section);
// The csv dataset's table options (header, delimiter, comment, decimal) a data section gives.
data::CsvOptions csv_options(const nlohmann::json& data_section);
// Throws, naming the file, the role and the columns, when the training file's columns by role
// (data_columns) differ from the ones run_dir's data_files.json records; a run without the record
// passes (its files are compared by fingerprint only).
void check_data_columns(const std::string& run_dir, const nlohmann::json& data_section);
// Runs `load` (a load of `file`'s parameters into the model the run's data builds now); a
// parameter that does not fit (load_module's error: a class added to the data, a column) is said
// to come from the data, which changed since the run was trained. Other errors pass as they are.
void load_fitting_data(const std::string& file, const std::function<void()>& load);
// Writes data_record(data_section) to run_dir/data_files.json (atomically).
void write_data_record(const std::string& run_dir, const nlohmann::json& data_section);
// One line per recorded file that differs now, naming it and its key, ending in `consequence` (a
// file gone is left to the data's own error); empty for a run without the record (trained before
// it was kept); one line saying so when the record cannot be read (it stops nothing).
std::vector<std::string> changed_data_files(const std::string& run_dir, const std::string& consequence);
// Writes changed_data_files' lines to stderr as warnings.
void warn_changed_data_files(const std::string& run_dir, const std::string& consequence);
// For an error loading a run's data: a note when one of its relative data paths does not exist
// from the current directory and the run was trained in another ("ds1.csv is relative to the
// current directory /x; the run was trained in /y"); else empty.
std::string relative_data_note(const std::string& run_dir, const nlohmann::json& data_section);
// For an error loading a config's data (tide train, tide data info): a note when one of its data
// paths (path, val_path, test_path, a dataset's dir, ...) is relative and does not exist from the
// current directory, naming that directory, which such paths are read from, and, when the config
// file's directory (of `config_path`) holds it, the path to write instead; else empty.
std::string relative_path_note(const nlohmann::json& data_section, const std::string& config_path);
// Runs `load` (a load of the config's data); an error it throws gets relative_path_note's note.
void with_relative_path_note(const nlohmann::json& data_section, const std::string& config_path, const std::function<void()>& load);

}  // namespace tide::cli
