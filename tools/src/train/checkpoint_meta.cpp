#include "train/checkpoint_meta.hpp"
#include "train/train_config.hpp"

namespace tide::cli {

using json = nlohmann::json;

std::string checkpoint_meta(const json& config, const Position& p) {
  json meta = {{"format", "tide train checkpoint"}, {"version", 1}, {"config", config},
               {"epoch", p.epoch}, {"batch", p.batch}, {"global_step", p.global_step}, {"best_epoch", p.best_epoch},
               {"records", p.records_written}, {"loss_sum", p.loss_sum}, {"metric_sum", p.metric_sum},
               {"metric_count", p.metric_count}, {"seen", p.seen}};
  if (p.best_epoch >= 0) meta["best_val"] = p.best_val;
  return meta.dump();
}

json read_checkpoint_meta(const std::string& text, const std::string& source, Position& p) {
  const json meta = parse_json_text(text, source);
  p.epoch = meta.at("epoch"), p.batch = meta.at("batch"), p.global_step = meta.at("global_step");
  p.best_epoch = meta.at("best_epoch"), p.records_written = meta.at("records");
  p.best_val = p.best_epoch < 0 ? p.best_val : meta.at("best_val").get<double>();
  p.loss_sum = meta.at("loss_sum"), p.metric_sum = meta.at("metric_sum"), p.metric_count = meta.at("metric_count"), p.seen = meta.at("seen");
  return meta.at("config");
}

}  // namespace tide::cli
