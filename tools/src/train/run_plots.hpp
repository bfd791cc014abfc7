// The learning curves of a `tide train` run (curves.svg, <metric>.svg, lr.svg, nfe.svg), written
// after epochs on a schedule (curves_due), when the run stops, and at the end with the test score, and `tide plot`'s overlay of one
// metric over several runs (seeds of one setup: their mean with the spread).
#pragma once
#include "svg_plot.hpp"
#include <nlohmann/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tide::cli {

// Loss per epoch (train, val); a log axis only when the losses span more than two decades.
Plot loss_plot(const std::vector<nlohmann::json>& records, const std::string& title, std::int64_t best_epoch = -1);
// The selection metric per epoch (train when recorded, val): a dashed line at best_epoch (-1:
// none yet) and, once the run is scored, the test score as a diamond at that epoch.
Plot metric_plot(const std::vector<nlohmann::json>& records, const std::string& metric, const std::string& title,
                 std::int64_t best_epoch = -1, std::optional<double> test_score = std::nullopt);
// The learning rate at the end of each epoch; a log axis when it spans more than a factor 10.
Plot lr_plot(const std::vector<nlohmann::json>& records, const std::string& title);

// Writes dir/curves.svg, dir/<metric>.svg, dir/lr.svg and, for solver-based models (records with
// val_nfe), dir/nfe.svg. Errors name the file.
void write_run_curves(const std::string& dir, const std::vector<nlohmann::json>& records, const std::string& metric,
                      const std::string& title, std::int64_t best_epoch = -1, std::optional<double> test_score = std::nullopt);

// Whether a run redraws its curves at the end of the epoch that logs its `records`-th record: after
// each of the first 99, then every 10th up to 999, every 100th up to 9,999, ... (an SVG holds
// every point, so redrawing after every epoch made a run's cost grow with the square of its
// epochs). A run also redraws when it stops, finishes or ends with an error.
bool curves_due(std::size_t records);

// The number a metrics record holds under `key`; nullopt when it holds none (no such key, or null:
// the run writes a NaN metric as null).
std::optional<double> record_number(const nlohmann::json& record, const std::string& key);

// The record key `name` stands for: itself when the first record has it ("val_f1", "train_loss",
// "lr"), else the validation score "val_<name>" ("f1", "loss").
std::string metric_key(const std::vector<nlohmann::json>& records, const std::string& name);

// One metric per epoch over several run directories, one line per run labelled by its directory's
// name; `metric` "" means the first run's selection metric (summary.json "metric", else val_loss).
// With `mean`: the mean over the epochs every run reached, a band from min to max, and each run
// faint. Errors (tide::Error) name the run and the missing file or key.
Plot overlay_plot(const std::vector<std::string>& run_dirs, const std::string& metric = "", bool mean = false);

}  // namespace tide::cli
