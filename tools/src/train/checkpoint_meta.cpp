#include "train/checkpoint_meta.hpp"
#include "train/train_config.hpp"
#include "tide/data/config_object.hpp"
#include <limits>

namespace tide::cli {

using json = nlohmann::json;

std::string checkpoint_meta(const json& config, const Position& p, const FlagKeys& flag_keys, std::int64_t blas_threads) {
  json meta = {{"format", "tide train checkpoint"}, {"version", 3}, {"config", config}, {"flag_keys", flag_keys},
               {"blas_threads", blas_threads},
               {"epoch", p.epoch}, {"batch", p.batch}, {"global_step", p.global_step}, {"best_epoch", p.best_epoch},
               {"records", p.records_written}, {"loss_sum", p.loss_sum}, {"metric_sum", p.metric_sum},
               {"metric_count", p.metric_count}, {"seen", p.seen}};
  if (p.best_epoch >= 0) meta["best_val"] = p.best_val;
  if (!p.extra.empty()) {
    json extra = json::object();
    for (const auto& [name, sums] : p.extra) extra[name] = {sums.first, sums.second};
    meta["extra_metrics"] = extra;
  }
  return meta.dump();
}

CheckpointConfig read_checkpoint_meta(const std::string& text, const std::string& source, Position& position) {
  const json meta = parse_json_text(text, source);
  ConfigObject k(meta, source);
  const auto need = [&](const char* key) {
    if (!k.has(key)) fail("{}: missing key '{}' (not a `tide train` checkpoint?)", source, key);
  };
  need("format");
  k.string("format", "", {"tide train checkpoint"});
  need("version");
  // Version 2 added flag_keys and version 3 blas_threads (so that an older tide refuses it by its
  // version, not by a key it does not know); older checkpoints read as before.
  const std::int64_t version = k.integer("version", 3, 1, 3);
  need("config");
  CheckpointConfig read{*k.object("config"), std::nullopt, std::nullopt};
  if (version >= 2) {
    need("flag_keys");
    read.flag_keys = k.texts("flag_keys");
  }
  if (version >= 3) {
    need("blas_threads");
    read.blas_threads = k.integer("blas_threads", 1, 1, std::numeric_limits<int>::max());
  }
  for (const std::string& key : read.flag_keys.value_or(FlagKeys{}))
    if (key != "epochs" && key != "seed" && key != "compile")
      fail("{}: expected the keys flags set (epochs, seed, compile), got '{}'", k.path("flag_keys"), key);
  // Counts stay below 2^62, so the steps a resumed run adds cannot overflow them.
  constexpr std::int64_t max_count = std::int64_t{1} << 62;
  const auto count = [&](const char* key, std::int64_t lo) {
    need(key);
    return k.integer(key, 0, lo, max_count);
  };
  const auto number = [&](const char* key, double lo) {
    need(key);
    return k.number(key, 0, lo, std::numeric_limits<double>::max());
  };
  Position p = position;  // nothing changes unless all of it reads
  p.epoch = count("epoch", 0), p.batch = count("batch", 0), p.global_step = count("global_step", 0);
  p.best_epoch = count("best_epoch", -1), p.records_written = count("records", 0);
  if (p.best_epoch >= 0) p.best_val = number("best_val", -std::numeric_limits<double>::max());
  p.loss_sum = number("loss_sum", -std::numeric_limits<double>::max());
  p.metric_sum = number("metric_sum", -std::numeric_limits<double>::max());
  p.metric_count = number("metric_count", 0), p.seen = number("seen", 0);
  p.extra.clear();
  if (const json* extra = k.object("extra_metrics"))  // absent in checkpoints of models with one metric
    for (const auto& [name, v] : extra->items()) {
      if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number() || !(v[1].get<double>() >= 0))
        fail("{}: extra_metrics.{}: expected [sum, count >= 0], got {}", source, name, v.dump());
      p.extra[name] = {v[0].get<double>(), v[1].get<double>()};
    }
  k.finish("a `tide train` checkpoint's metadata");
  position = p;
  return read;
}

}  // namespace tide::cli
