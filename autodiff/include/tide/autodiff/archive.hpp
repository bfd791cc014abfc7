// Archives: a named collection of CPU tensors plus a metadata JSON string, saved atomically to one
// file. Training checkpoints are archives holding a module's parameters and an optimizer's state
// under distinct prefixes ("model.", "optim."), with the run's settings in the metadata.
//
// File layout (all integers little-endian):
//   bytes 0..7    magic "TIDEARCH"
//   bytes 8..11   u32 format version (1)
//   bytes 12..19  u64 header length H
//   next H bytes  JSON header: {"tensors": [{"name", "dtype" ("f32" | "f64" | "i64"), "shape": [..],
//                 "offset", "size"}, ...], "data_size": D, "meta": "<the metadata string>"};
//                 offset and size are in bytes, offset counted from the start of the data section
//   next D bytes  data section: each tensor's elements, row-major, little-endian, back to back
//   last 8 bytes  u64 FNV-1a 64 checksum of every byte before it
#pragma once
#include "tide/autodiff/nn.hpp"
#include "tide/autodiff/optim.hpp"
#include "tide/core/tensor.hpp"
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tide {

// Lookups by name (contains, at, add) go through an index from name to position, kept in step by
// add and by the loaders: a name found costs O(1); contains and at confirm a name not found by a
// scan of `tensors` (which may have been edited directly), add trusts the index. After renaming,
// reordering or erasing entries in `tensors` directly, reindex() makes add's duplicate check whole
// again (save_archive refuses duplicate names in any case).
struct Archive {
  std::vector<std::pair<std::string, Tensor>> tensors;  // names are unique
  std::string meta_json;                                // free-form; "" when there is none
  std::string path;                                     // set by load_archive, named in errors

  bool contains(const std::string& name) const;
  // The tensor called `name`; the error names the key and the archive's path when it is missing.
  const Tensor& at(const std::string& name) const;
  // Appends a tensor (copied to the CPU, so later in-place writes to `value` do not show);
  // a duplicate name is an error.
  void add(const std::string& name, const Tensor& value);
  // Rebuilds the name index from `tensors` (the first of two equal names is the one found).
  void reindex();

private:
  const std::pair<std::string, Tensor>* find(const std::string& name, bool trust_miss) const;
  void catch_up_index();
  std::unordered_map<std::string, std::size_t> index_;  // name -> position in tensors
  std::size_t indexed_ = 0;                             // tensors[0, indexed_) are in index_
};

// Writes the archive atomically: to path + ".tmp-<pid>", flushed and fsynced, then renamed over
// `path` (and the directory fsynced). On any failure the temporary file is removed, a tide::Error
// names the path and the system's reason, and a file already at `path` is left as it was.
// Tensors on another device are copied to the CPU; views are written as contiguous copies. A shape
// the loaders refuse (rank above max_rank, or 2^58 elements or more with each zero extent counted
// as 1) is refused here too, naming the tensor.
void save_archive(const std::string& path, const Archive& archive);

// Reads an archive, checking magic, version, sizes, offsets, shapes, duplicate names and the
// checksum. Every problem is a tide::Error naming the path and what is wrong; no size in the file
// is trusted beyond the file's own length: the preamble and header are read first, and a file
// whose length disagrees with them is refused before the rest is read. A safetensors file is named
// as one (the same for load_safetensors given a tide archive). Tensors come back on the CPU.
Archive load_archive(const std::string& path);

// The same tensors as a safetensors file, the format PyTorch (safetensors.torch.load_file), JAX,
// numpy and Hugging Face tools read: a u64 little-endian header length N, N bytes of JSON
// {"<name>": {"dtype": "F32" | "F64" | "I64", "shape": [...], "data_offsets": [begin, end]}, ...,
// "__metadata__": {"tide": "<meta_json>"}} (padded with spaces to a multiple of 8), then the
// tensors' bytes back to back, row-major, little-endian. Written atomically like save_archive;
// load_safetensors checks sizes, offsets (back to back, covering the buffer) and dtypes, naming
// the path and the tensor, and reads other dtypes (BF16, F16, ...) as an error.
void save_safetensors(const std::string& path, const Archive& archive);
Archive load_safetensors(const std::string& path);

// Every named parameter of `module` as prefix + name (copied to the CPU).
void add_module(Archive& archive, const std::string& prefix, const Module& module);
// Copies the archive's prefix + name tensors into the module's parameters in place. Checks first
// that every parameter is present with the same shape and dtype and that the archive has no other
// key under `prefix`; nothing is modified unless all checks pass.
void load_module(const Archive& archive, const std::string& prefix, Module& module);

// The optimizer's state() under prefix + key; load_optimizer hands every key under `prefix`
// (prefix removed) to load_state. Use a prefix no module key starts with.
void add_optimizer(Archive& archive, const std::string& prefix, const Optimizer& optimizer);
void load_optimizer(const Archive& archive, const std::string& prefix, Optimizer& optimizer);

}  // namespace tide
