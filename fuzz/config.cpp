// `tide train` configs: JSON text -> parse_json_text -> parse_train_config. A config either parses
// or fails with a tide::Error naming the file (and the key path or line:column); one that parses
// gives a finite learning rate at every step and an optimizer, and writes itself out again.
#include "fuzz_util.hpp"
#include "train/train_config.hpp"
#include <cmath>

using namespace tide;

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
  try {
    if (!cli::make_optimizer(config.optimizer, {Var::parameter(Tensor::ones(Shape{2}))})) fuzz::bug("no optimizer");
  } catch (const std::exception& e) {
    fuzz::bug(std::string("an accepted config's optimizer cannot be built: ") + e.what());
  }
  return 0;
}
