#include "train/resume_checks.hpp"
#include "tide/autodiff/archive.hpp"
#include "tide/core/blas.hpp"
#include "tide/data/config_object.hpp"
#include "train/built_run.hpp"
#include <cstdio>
#include <fstream>
#include <limits>

namespace tide::cli {

using json = nlohmann::json;

namespace {

// The line number of each record of the metrics log at `path`: its lines that are not blank, as
// read_metrics reads them.
std::vector<std::int64_t> record_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::int64_t> lines;
  std::string line;
  for (std::int64_t n = 1; std::getline(in, line); ++n)
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(n);
  return lines;
}

std::string value_of(const json& record, const std::string& key) {
  return record.contains(key) ? brief(record.at(key)) : "no such key";
}

}  // namespace

void check_kept_records(const std::string& path, const std::vector<json>& records, const std::string& metric_key) {
  const std::vector<std::int64_t> lines = record_lines(path);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const json& r = records[i];
    const auto refuse = [&](const std::string& key, const char* expected) {
      fail("{}:{}: \"{}\": expected {}, got {}; --resume keeps the records before its checkpoint as the run wrote them (put "
           "the line back, or start the run over with --overwrite)", path, i < lines.size() ? lines[i] : std::int64_t(i + 1), key,
           expected, value_of(r, key));
    };
    const auto number = [&](const char* key) { return r.contains(key) && r.at(key).is_number(); };
    if (!number("epoch")) refuse("epoch", "a number");
    if (!r.contains("step") || !integer_in(r.at("step"), 0, std::numeric_limits<std::int64_t>::max())) refuse("step", "an integer >= 0");
    if (!number("train_loss")) refuse("train_loss", "a number");
    if (!r.contains(metric_key) || !(r.at(metric_key).is_number() || r.at(metric_key).is_null()))
      refuse(metric_key, "a number, or null for a NaN");
  }
}

void check_position(const Position& p, const std::string& checkpoint, std::int64_t steps_per_epoch, const std::string& log_path,
                    const std::vector<json>& records) {
  const std::string source = checkpoint + " (metadata)";
  if (p.records_written != p.epoch)
    fail("{}: records: expected {}, one per finished epoch (epoch is {}), got {}", source, p.epoch, p.epoch, p.records_written);
  if (p.best_epoch == 0 || p.best_epoch > p.epoch)
    fail("{}: best_epoch: expected -1 (none yet) or a finished epoch, 1..{}, got {}", source, p.epoch, p.best_epoch);
  // batch == steps_per_epoch: stopped (--max-steps, Ctrl-C) after the epoch's last step, before its end
  if (steps_per_epoch > 0 && p.batch > steps_per_epoch)
    fail("{}: batch: expected 0..{} (the steps of an epoch of this run's data), got {}", source, steps_per_epoch, p.batch);
  // each epoch's record holds the global step at its end; both counts are below 2^62, so no sum overflows
  const std::int64_t before = records.empty() ? 0 : records.back().at("step").get<std::int64_t>();
  if (records.empty() && p.global_step != p.batch)
    fail("{}: global_step: expected batch ({}) in the first epoch, got {}", source, p.batch, p.global_step);
  if (p.global_step - p.batch != before)
    fail("{}: global_step: expected the step {} records at the end of epoch {} ({}) plus batch ({}), got {}", source, log_path,
         p.epoch, before, p.batch, p.global_step);
}

void check_best_config(const std::string& best, const json& config, const std::string& config_path, const std::string& checkpoint) {
  const json recorded = best_meta_config(load_archive(best).meta_json, best + " (metadata)");
  if (recorded.is_null() || recorded == config) return;
  fail("{}: was written by a run of another config than this run's ({} and {} agree; {}): a file copied from another run? Put "
       "the run's own best.tide back, or train a new run", best, config_path, checkpoint,
       first_difference(config, recorded, "", "in config.json", "in best.tide"));
}

void warn_other_blas_threads(const std::string& checkpoint, std::optional<std::int64_t> saved) {
  const int now = blas_info().threads;
  if (!saved || *saved == now) return;
  std::fprintf(stderr, "warning: %s was written with %lld BLAS thread%s, this run has %d: the resumed run is not bit-exact "
               "with an uninterrupted one (set TIDE_BLAS_THREADS=%lld to match)\n", checkpoint.c_str(),
               static_cast<long long>(*saved), *saved == 1 ? "" : "s", now, static_cast<long long>(*saved));
}

bool warn_data_changed(const std::string& run_dir, const std::string& consequence) {
  const std::vector<std::string> lines = changed_data_files(run_dir, consequence);
  for (const std::string& line : lines) std::fprintf(stderr, "warning: %s\n", line.c_str());
  return !lines.empty();
}

}  // namespace tide::cli
