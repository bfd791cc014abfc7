// Writes the archive target's seed corpus (fuzz/corpus/archive/): checkpoints saved by the library
// itself, each prefixed with the target's mode byte (archive.cpp). Run from the repository root:
//   build-fuzz/fuzz/fuzz_make_archive_seeds fuzz/corpus/archive
#include "archive_model.hpp"
#include "train/checkpoint_meta.hpp"
#include <fstream>
#include <iterator>

using namespace tide;

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_seed(const std::string& path, char mode, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << mode << bytes;
}

// The archive as saved (modes 0 and 1) and as header + NUL + data (mode 2); returns it read back.
Archive seeds(const std::string& dir, const std::string& name, const Archive& archive) {
  const std::string path = dir + "/" + name + ".tidearch";
  save_archive(path, archive);
  const std::string bytes = read_bytes(path);
  Archive loaded = load_archive(path);
  std::remove(path.c_str());
  std::uint64_t header = 0;
  for (int i = 0; i < 8; ++i) header |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[12 + i])) << (8 * i);
  write_seed(dir + "/" + name + "-raw", '\0', bytes);
  write_seed(dir + "/" + name + "-parts", '\2',
             bytes.substr(20, header) + '\0' + bytes.substr(20 + header, bytes.size() - 20 - header - 8));
  return loaded;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "fuzz/corpus/archive";
  fuzz::ArchiveModel model;
  for (auto& [prefix, optimizer] : model.optimizers) model.step(*optimizer);
  Archive checkpoint;
  cli::Position position;  // as `tide train` writes it after 2 steps of an epoch of 4
  position.epoch = 1, position.batch = 2, position.global_step = 6, position.best_epoch = 1, position.records_written = 1;
  position.best_val = 0.75, position.loss_sum = 1.5, position.metric_sum = 1.25, position.metric_count = 16, position.seen = 16;
  const auto config = nlohmann::json::parse(R"({"name": "seed", "data": {"dataset": "xor", "train": 64}, "model": {"type": "gru", "hidden": 3}})");
  checkpoint.meta_json = cli::checkpoint_meta(config, position);
  add_module(checkpoint, "model.", model.layer);
  for (const auto& [prefix, optimizer] : model.optimizers) add_optimizer(checkpoint, prefix, *optimizer);
  const Archive loaded = seeds(dir, "checkpoint", checkpoint);
  cli::Position read;
  if (cli::read_checkpoint_meta(loaded.meta_json, "seed", read).config != config || read.global_step != 6) return 1;
  fuzz::ArchiveModel restored;  // the target gets past every load with this seed
  load_module(loaded, "model.", restored.layer);
  for (auto& [prefix, optimizer] : restored.optimizers) load_optimizer(loaded, prefix, *optimizer);

  Archive small;  // one tensor of each dtype, an empty one and a scalar
  small.add("f64", Tensor::from_vector({1.5, -2.0, 3.25}, Shape{3}, DType::f64));
  small.add("i64", Tensor::from_indices({4, 5, 6, 7}, Shape{2, 2}));
  small.add("empty", Tensor::zeros(Shape{0, 3}));
  small.add("scalar", Tensor::full(Shape{}, 0.5, DType::f32));
  seeds(dir, "small", small);
  seeds(dir, "empty", Archive{});
  return 0;
}
