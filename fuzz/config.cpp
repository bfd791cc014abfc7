// `tide train` configs: JSON text -> parse_json_text -> parse_train_config -> the model's cell
// (models::make_cell, what make_model builds for a dataset). A config either parses or fails with
// a tide::Error naming the file (and the key path or line:column); one that parses gives a finite
// learning rate at every step and an optimizer, and writes itself out again.
#include "fuzz_util.hpp"
#include "tide/models/registry.hpp"
#include "train/train_config.hpp"
#include <cmath>

using namespace tide;

namespace {

// Keys whose value sizes the cell's parameters. The registry accepts up to 2^16 for each, which
// would allocate gigabytes (an LTC of 65536 units has 2^32 weights per matrix): the target builds
// cells only when these are small, and still checks larger values are refused past the limits.
bool small_sizes(const nlohmann::json& model) {
  for (const char* key : {"hidden", "inter", "command", "motor", "sensory_fanout", "inter_fanout", "recurrent_command",
                          "motor_fanin", "backbone_units", "backbone_layers"}) {
    const auto it = model.find(key);
    if (it != model.end() && it->is_number() && it->get<double>() > 64 && it->get<double>() <= 65536) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string source = "fuzz.json";
  cli::TrainConfig config;
  const bool parsed = fuzz::succeeds_or_names(source, [&] { config = cli::parse_train_config(cli::parse_json_text(text, source), source); });
  if (!parsed) return 0;
  // what `tide train` does with an accepted config before it reads any data
  const std::string written = config.raw.dump(2);
  if (cli::parse_json_text(written, "written") != config.raw) fuzz::bug("the config does not read back as written");
  for (const std::int64_t epoch : {std::int64_t{0}, config.epochs / 2, config.epochs - 1})
    for (const std::int64_t step : {0, 1, 99}) {
      const double lr = config.learning_rate(epoch, step, 100);
      if (!std::isfinite(lr) || lr < 0) fuzz::bug("learning rate " + std::to_string(lr) + " at epoch " + std::to_string(epoch));
    }
  if (config.model.is_object() && small_sizes(config.model)) {
    Generator gen(config.seed);
    fuzz::succeeds_or_names(source, [&] {
      if (!models::make_cell(config.model, 3, gen, config.dtype, source + ".model")) fuzz::bug("no cell");
    });
  }
  try {
    if (!cli::make_optimizer(config.optimizer, {Var::parameter(Tensor::ones(Shape{2}))})) fuzz::bug("no optimizer");
  } catch (const std::exception& e) {
    fuzz::bug(std::string("an accepted config's optimizer cannot be built: ") + e.what());
  }
  return 0;
}
