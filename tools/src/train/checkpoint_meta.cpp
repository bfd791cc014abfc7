#include "train/checkpoint_meta.hpp"
#include "train/train_config.hpp"
#include "tide/core/atomic_file.hpp"
#include "tide/data/config_object.hpp"
#include <zlib.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
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

namespace {

void require_key(ConfigObject& k, const std::string& source, const char* key) {
  if (!k.has(key)) fail("{}: missing key '{}' (not a `tide train` checkpoint?)", source, key);
}

// The training position a checkpoint's metadata records, over `p`.
Position read_position(ConfigObject& k, const std::string& source, Position p) {
  const auto need = [&](const char* key) { require_key(k, source, key); };
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
  return p;
}

}  // namespace

CheckpointConfig read_checkpoint_meta(const std::string& text, const std::string& source, Position& position) {
  const json meta = parse_json_text(text, source);
  ConfigObject k(meta, source);
  const auto need = [&](const char* key) { require_key(k, source, key); };
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
  const Position p = read_position(k, source, position);  // nothing changes unless all of it reads
  k.finish("a `tide train` checkpoint's metadata");
  position = p;
  return read;
}

namespace {

namespace fs = std::filesystem;

// A file's size and CRC32, read in blocks; nullopt when it cannot be read.
std::optional<std::pair<std::uintmax_t, std::uint32_t>> fingerprint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::vector<char> block(1 << 16);
  uLong crc = crc32(0L, Z_NULL, 0);
  std::uintmax_t bytes = 0;
  while (in.read(block.data(), static_cast<std::streamsize>(block.size())) || in.gcount() > 0) {
    crc = crc32(crc, reinterpret_cast<const Bytef*>(block.data()), static_cast<uInt>(in.gcount()));
    bytes += static_cast<std::uintmax_t>(in.gcount());
  }
  return std::pair{bytes, static_cast<std::uint32_t>(crc)};
}

// Whether a data key names a file: path, val_path, test_path, the idx dataset's train_images,
// test_labels, ... (not a column that happens to share a file's name: "targets": "y").
bool file_key(const std::string& key) {
  return key == "path" || key.ends_with("_path") || key.ends_with("_images") || key.ends_with("_labels");
}

// The data section's file keys whose string value names a regular file, with the path.
std::vector<std::pair<std::string, std::string>> data_files(const json& data_section) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!data_section.is_object()) return out;
  std::error_code ec;
  for (const auto& [key, value] : data_section.items())
    if (file_key(key) && value.is_string() && fs::is_regular_file(value.get<std::string>(), ec))
      out.emplace_back("data." + key, value.get<std::string>());
  return out;
}

// The run's data_files.json, or null when it has none.
json read_data_record(const std::string& run_dir) {
  const std::string path = run_dir + "/" + data_record_name;
  if (!fs::exists(path)) return json();
  std::ifstream in(path, std::ios::binary);
  const json record = parse_json_text(std::string(std::istreambuf_iterator<char>(in), {}), path);
  if (!record.is_object() || !record.value("files", json()).is_array()) fail("{}: expected an object with \"files\" (an array)", path);
  return record;
}

}  // namespace

json data_record(const json& data_section) {
  json files = json::array();
  for (const auto& [key, path] : data_files(data_section))
    if (const auto print = fingerprint(path))
      files.push_back({{"key", key}, {"path", path}, {"bytes", print->first}, {"crc32", fmt::format("{:08x}", print->second)}});
  std::error_code ec;
  return {{"directory", fs::current_path(ec).string()}, {"files", files}};
}

void write_data_record(const std::string& run_dir, const json& data_section) {
  write_file_atomically(run_dir + "/" + data_record_name, data_record(data_section).dump(2) + "\n");
}

namespace {

std::vector<std::string> compare_data_files(const json& record, const std::string& consequence) {
  std::vector<std::string> changed;
  for (const json& f : record.at("files")) {
    const std::string path = f.value("path", ""), key = f.value("key", "");
    const auto now = fingerprint(path);
    const std::string then = fmt::format("{} bytes, CRC32 {}", f.value("bytes", std::uintmax_t{0}), f.value("crc32", ""));
    if (!now) continue;  // reading the data says so
    if (now->first != f.value("bytes", std::uintmax_t{0}) || fmt::format("{:08x}", now->second) != f.value("crc32", ""))
      changed.push_back(fmt::format("{} ({}) has changed since the run was trained ({} then, {} bytes, CRC32 {:08x} now): {}", path, key,
                                    then, now->first, now->second, consequence));
  }
  return changed;
}

}  // namespace

std::vector<std::string> changed_data_files(const std::string& run_dir, const std::string& consequence) {
  // the record only serves this warning: a damaged one is said, and stops nothing
  try {
    const json record = read_data_record(run_dir);
    return record.is_null() ? std::vector<std::string>{} : compare_data_files(record, consequence);
  } catch (const std::exception& e) {
    return {fmt::format("{}/{} cannot be read ({}): the data files were not compared with the run's", run_dir, data_record_name,
                        e.what())};
  }
}

void warn_changed_data_files(const std::string& run_dir, const std::string& consequence) {
  for (const std::string& line : changed_data_files(run_dir, consequence)) std::fprintf(stderr, "warning: %s\n", line.c_str());
}

std::string relative_data_note(const std::string& run_dir, const json& data_section) {
  json record;
  try {
    record = read_data_record(run_dir);
  } catch (const Error&) {
    return "";  // the load's own error is the one to show
  }
  std::error_code ec;
  const std::string here = fs::current_path(ec).string(), there = record.is_object() ? record.value("directory", "") : "";
  if (there.empty() || there == here || !data_section.is_object()) return "";
  for (const auto& [key, value] : data_section.items()) {
    if (key == "dataset" || !value.is_string()) continue;
    const fs::path path = value.get<std::string>();
    if (path.is_relative() && !fs::exists(path, ec) && fs::exists(fs::path(there) / path, ec))
      return fmt::format("data.{} \"{}\" is relative to the current directory ({}); the run was trained in {}: run the command "
                         "there, or give the config absolute paths", key, path.string(), here, there);
  }
  return "";
}

}  // namespace tide::cli
