// Checkpoints: bytes -> a file -> load_archive, then the metadata as a `tide train` checkpoint's
// (tools/src/train/checkpoint_meta.hpp), load_module and load_optimizer into the model and
// optimizers of archive_model.hpp, and a training step with each optimizer restored. Every
// failure must be a tide::Error naming the file.
//
// The first byte picks how the rest becomes the file, so that mutations also get past the
// checksum and the header length: 0 the bytes as they are; 1 the bytes with the trailing
// checksum recomputed; 2 a JSON header up to the first NUL byte and a data section after it,
// assembled with a correct preamble and checksum; 3 the same split read as a safetensors file
// (its 8-byte header length, the header, the buffer), through load_safetensors.
#include "archive_model.hpp"
#include "fuzz_util.hpp"
#include "train/checkpoint_meta.hpp"

using namespace tide;

namespace {

std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t hash = 14695981039346656037ull;
  for (const char c : bytes) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return hash;
}
void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::string file_bytes(fuzz::Bytes& in) {
  const int mode = in.byte() % 4;
  std::string bytes(in.rest());
  if (mode == 3) {
    const std::size_t nul = std::min(bytes.find('\0'), bytes.size());
    std::string out;
    put_le(out, nul, 8);
    return out + bytes.substr(0, nul) + (nul < bytes.size() ? bytes.substr(nul + 1) : "");
  }
  if (mode == 1 && bytes.size() >= 8) {
    bytes.resize(bytes.size() - 8);
    put_le(bytes, fnv1a(bytes), 8);
  } else if (mode == 2) {
    const std::size_t nul = std::min(bytes.find('\0'), bytes.size());
    const std::string header = bytes.substr(0, nul), data = nul < bytes.size() ? bytes.substr(nul + 1) : "";
    bytes = "TIDEARCH";
    put_le(bytes, 1, 4);
    put_le(bytes, header.size(), 8);
    bytes += header + data;
    put_le(bytes, fnv1a(bytes), 8);
  }
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fuzz::TempFile file("archive", ".tidearch");
  fuzz::Bytes in(data, size);
  const bool safetensors = size > 0 && data[0] % 4 == 3;
  const std::string& path = file.write(file_bytes(in));
  Archive archive;
  if (!fuzz::succeeds_or_names(path, [&] { archive = safetensors ? load_safetensors(path) : load_archive(path); })) return 0;
  if (archive.path != path) fuzz::bug("the archive does not remember its path");
  for (const auto& [name, t] : archive.tensors)
    if (&archive.at(name) != &t) fuzz::bug("tensor names are not unique");

  cli::Position position;
  if (fuzz::succeeds_or_names(path, [&] { (void)cli::read_checkpoint_meta(archive.meta_json, path + " (metadata)", position); }))
    if (position.epoch < 0 || position.batch < 0 || position.global_step < 0 || position.records_written < 0 ||
        position.best_epoch < -1 || !(position.seen >= 0) || !(position.metric_count >= 0))
      fuzz::bug("a checkpoint position the trainer cannot resume from");

  fuzz::ArchiveModel model;
  fuzz::succeeds_or_names(path, [&] { load_module(archive, "model.", model.layer); });
  for (auto& entry : model.optimizers) {
    Optimizer& optimizer = *entry.second;
    if (fuzz::succeeds_or_names(path, [&] { load_optimizer(archive, entry.first, optimizer); })) try {
        model.step(optimizer);  // a state load_state accepts is one a step can use
      } catch (const std::exception& e) {
        fuzz::bug(std::string("a step after a successful load_optimizer failed: ") + e.what());
      }
  }
  return 0;
}
