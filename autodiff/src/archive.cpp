// Archive files (layout in archive.hpp): atomic save through a temporary file and rename, and a
// loader that trusts no size in the file beyond the file's own length.
#include "tide/autodiff/archive.hpp"
#include "tide/core/atomic_file.hpp"
#include <nlohmann/json.hpp>
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <sys/stat.h>
#include <set>

namespace tide {

static_assert(std::endian::native == std::endian::little, "archive data is written in host byte order");

namespace {
using json = nlohmann::json;

constexpr char magic[8] = {'T', 'I', 'D', 'E', 'A', 'R', 'C', 'H'};
constexpr std::uint32_t format_version = 1;
constexpr std::uint64_t preamble_bytes = 20;  // magic, version, header length
constexpr std::uint64_t checksum_bytes = 8;

// FNV-1a 64: h = (h xor byte) * prime, over every byte before the trailing checksum.
struct Fnv1a {
  std::uint64_t hash = 14695981039346656037ull;
  void update(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) hash = (hash ^ p[i]) * 1099511628211ull;
  }
};

void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}
std::uint64_t get_le(const std::string& in, std::uint64_t at, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return value;
}

// A CPU copy that shares no storage with `t` (so later in-place writes to t do not show).
Tensor host_copy(const Tensor& t) { return t.device() == Device::cpu() ? t.clone() : t.to(Device::cpu()); }

std::string archive_name(const Archive& archive) { return archive.path.empty() ? "(in memory)" : "'" + archive.path + "'"; }

// A regular file read from the start in pieces, so that the sizes its first bytes claim are checked
// against its length before the rest is allocated (a 1 TiB file of zeros is refused by its magic,
// not by std::bad_alloc). Opening errors start with `who` and the path; reading errors are left to
// the caller's, which adds them.
class InputFile {
public:
  InputFile(const std::string& path, const char* who) : path_(path) {
    struct stat info {};
    // checked before opening: fopen of a FIFO would wait for a writer
    if (stat(path.c_str(), &info) != 0) fail("{} '{}': cannot open: {}", who, path, std::strerror(errno));
    if (!S_ISREG(info.st_mode)) fail("{} '{}': not a regular file", who, path);
    file_ = std::fopen(path.c_str(), "rb");
    if (!file_) fail("{} '{}': cannot open: {}", who, path, std::strerror(errno));
    if (fstat(fileno(file_), &info) != 0 || !S_ISREG(info.st_mode)) {
      std::fclose(file_);
      fail("{} '{}': not a regular file", who, path);
    }
    size_ = static_cast<std::uint64_t>(info.st_size);
  }
  ~InputFile() { std::fclose(file_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  std::uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Appends the next n bytes to `bytes`; all n, or a "truncated" error (the file shrank while read).
  void read(std::string& bytes, std::uint64_t n) {
    const std::size_t before = bytes.size();
    try {
      bytes.resize(before + n);
    } catch (const std::exception&) {  // std::bad_alloc, or length_error past max_size()
      fail("the file's {} bytes do not fit in memory (reading {} bytes after byte {})", size_, n, before);
    }
    const std::size_t got = n ? std::fread(bytes.data() + before, 1, n, file_) : 0;
    if (std::ferror(file_)) fail("read failed: {}", std::strerror(errno));
    bytes.resize(before + got);
    if (got != n) fail("truncated at byte {} (the file shrank while it was read)", before + got);
  }

private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::uint64_t size_ = 0;
};

// The two formats told apart by their first bytes, so that a file given to the other loader (its
// extension naming the other format) is named for what it is rather than as corrupt.
bool starts_as_tide_archive(const std::string& head) {
  return head.size() >= sizeof magic && std::memcmp(head.data(), magic, sizeof magic) == 0;
}
bool starts_as_safetensors(const std::string& head, std::uint64_t file_size) {
  return head.size() > 8 && get_le(head, 0, 8) <= file_size - 8 && head[8] == '{';
}
// "not a <format>", or "not the <format> its extension <extension> names" when the path ends so.
std::string not_the(const std::string& format, const std::string& path, const char* extension) {
  return path.ends_with(extension) ? fmt::format("not the {} its extension {} names", format, extension) : "not a " + format;
}

// The one bound on a stored shape, applied by the savers and the loaders alike (a file tide writes,
// tide reads): at most max_rank extents, and the element count with each zero extent counted as 1
// below 2^58, so that neither the byte count nor the strides of the tensor made from it can overflow.
void check_shape_bound(const std::vector<std::uint64_t>& extents, const std::string& what) {
  if (extents.size() > static_cast<std::size_t>(max_rank))
    fail("{}: rank {} above the maximum of {}", what, extents.size(), max_rank);
  constexpr std::uint64_t max_elements = std::uint64_t{1} << 58;
  std::uint64_t elements = 1;
  for (const std::uint64_t extent : extents) {
    if (std::max<std::uint64_t>(extent, 1) > max_elements / elements)
      fail("{}: shape {} is too large (2^58 elements or more, each zero extent counted as 1)", what, json(extents).dump());
    elements *= std::max<std::uint64_t>(extent, 1);
  }
}
std::vector<std::uint64_t> extents_of(const Shape& shape) {
  std::vector<std::uint64_t> out;
  for (const std::int64_t extent : shape.vec()) out.push_back(static_cast<std::uint64_t>(extent));
  return out;
}

// A header field of the expected JSON type; `what` names it in the error.
const json& field(const json& object, const char* key, json::value_t type, const std::string& what) {
  const auto it = object.find(key);
  if (it == object.end()) fail("{}: missing \"{}\"", what, key);
  const bool ok = type == json::value_t::number_unsigned ? it->is_number_unsigned() : it->type() == type;
  if (!ok) fail("{}: \"{}\" is {}, expected {}", what, key, it->type_name(),
                type == json::value_t::number_unsigned ? "an unsigned integer" : json(type).type_name());
  return *it;
}

DType parse_dtype(const std::string& name, const std::string& what) {
  for (DType t : {DType::f32, DType::f64, DType::i64})
    if (name == dtype_name(t)) return t;
  fail("{}: unknown dtype \"{}\" (expected f32, f64 or i64)", what, name);
}

// One tensor as a header describes it, checked against the data section before any data is read.
struct StoredTensor {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t offset, size;
};

StoredTensor check_entry(const json& entry, std::size_t index, std::uint64_t data_size, std::uint64_t& unclaimed) {
  std::string what = fmt::format("header: tensor {}", index);
  if (!entry.is_object()) fail("{} is {}, not an object", what, entry.type_name());
  std::string name = field(entry, "name", json::value_t::string, what).get<std::string>();
  what = fmt::format("header: tensor '{}'", name);
  const DType dtype = parse_dtype(field(entry, "dtype", json::value_t::string, what).get<std::string>(), what);
  const json& dims = field(entry, "shape", json::value_t::array, what);
  std::vector<std::uint64_t> extents;
  for (const json& d : dims) {
    if (!d.is_number_unsigned()) fail("{}: shape {} has an extent that is not an unsigned integer", what, dims.dump());
    extents.push_back(d.get<std::uint64_t>());
  }
  check_shape_bound(extents, what);
  Shape shape;
  std::uint64_t elements = 1;
  for (const std::uint64_t extent : extents) {
    elements *= extent;
    shape.push_back(static_cast<std::int64_t>(extent));
  }
  const std::uint64_t needed = elements * dtype_size(dtype);  // 0 with a zero extent
  const std::uint64_t offset = field(entry, "offset", json::value_t::number_unsigned, what).get<std::uint64_t>();
  const std::uint64_t size = field(entry, "size", json::value_t::number_unsigned, what).get<std::uint64_t>();
  if (offset > data_size || size > data_size - offset)
    fail("{}: {} bytes from byte {} lie outside the data section ({} bytes)", what, size, offset, data_size);
  if (size != needed) fail("{}: size {} does not match {} shape {} ({} bytes)", what, size, dtype_name(dtype), dims.dump(), needed);
  if (size > unclaimed) fail("{}: the tensors up to this one hold more bytes than the data section's {}", what, data_size);
  unclaimed -= size;
  return {std::move(name), dtype, shape, offset, size};
}

// The checked tensor's elements, copied out of the data section that starts at bytes[data_start].
std::pair<std::string, Tensor> read_tensor(StoredTensor stored, const std::string& bytes, std::uint64_t data_start) {
  Tensor t = Tensor::empty(stored.shape, stored.dtype, Device::cpu());
  if (stored.size) std::memcpy(t.raw_data(), bytes.data() + data_start + stored.offset, stored.size);
  return {std::move(stored.name), std::move(t)};
}

// Refuses text whose arrays and objects nest deeper than max_depth (brackets in strings aside).
void check_nesting(std::string::const_iterator first, std::string::const_iterator last, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (auto it = first; it != last; ++it) {
    if (in_string) {
      if (*it == '\\' && it + 1 != last) ++it;
      else if (*it == '"') in_string = false;
    } else if (*it == '"') {
      in_string = true;
    } else if (*it == '{' || *it == '[') {
      if (depth++ >= max_depth) fail("header JSON nested deeper than {} levels", max_depth);
    } else if (*it == '}' || *it == ']') {
      --depth;
    }
  }
}

// A header's JSON, its nesting bounded before it is parsed (a tensor entry sits 3 levels down): a
// shape nested 200,000 levels deep overflowed the stack in the recursive copies and dumps after it.
// The bound is checked on the text, not by a parser callback: with a callback the parser rescans the
// enclosing container each time an object in it ends, which made a 64,000-tensor header quadratic.
json parse_header(const std::string& bytes, std::uint64_t begin, std::uint64_t size) {
  const auto first = bytes.begin() + static_cast<std::ptrdiff_t>(begin);
  const auto last = first + static_cast<std::ptrdiff_t>(size);
  check_nesting(first, last, 8);
  try {
    return json::parse(first, last);
  } catch (const json::exception& e) {
    fail("header JSON error: {}", e.what());
  }
}

// Reads the preamble, then the header, then (once the sizes they claim match the file's) the rest.
Archive parse_archive(InputFile& file) {
  const std::uint64_t n = file.size();
  std::string bytes;
  file.read(bytes, std::min(n, preamble_bytes));
  if (!starts_as_tide_archive(bytes)) {
    if (starts_as_safetensors(bytes, n))
      fail("the file is a safetensors file (an 8-byte header length, then JSON), {}: give it the extension "
           ".safetensors, or read it with load_safetensors", not_the("tide archive", file.path(), ".tide"));
    if (std::memcmp(bytes.data(), magic, std::min<std::uint64_t>(n, sizeof magic)) != 0)
      fail("not a tide archive (bad magic: expected \"TIDEARCH\")");
  }
  if (n < preamble_bytes) fail("truncated at byte {} (the {}-byte preamble is incomplete)", n, preamble_bytes);
  if (const auto version = get_le(bytes, 8, 4); version != format_version)
    fail("unsupported format version {} (this build reads version {})", version, format_version);
  const std::uint64_t header_size = get_le(bytes, 12, 8);
  if (header_size > n - preamble_bytes || n - preamble_bytes - header_size < checksum_bytes)
    fail("truncated at byte {} (the header claims {} bytes after byte {}, plus the checksum)", n, header_size, preamble_bytes);
  file.read(bytes, header_size);
  const json header = parse_header(bytes, preamble_bytes, header_size);
  if (!header.is_object()) fail("header is {}, not a JSON object", header.type_name());
  const std::uint64_t data_start = preamble_bytes + header_size;
  const std::uint64_t data_size = field(header, "data_size", json::value_t::number_unsigned, "header").get<std::uint64_t>();
  if (data_size > n - data_start - checksum_bytes)
    fail("truncated at byte {} (the header describes a data section of {} bytes from byte {}, plus the checksum)", n,
         data_size, data_start);
  if (const std::uint64_t expected = data_start + data_size + checksum_bytes; n != expected)
    fail("{} unexpected bytes after byte {} where the archive should end", n - expected, expected);
  file.read(bytes, data_size + checksum_bytes);
  Fnv1a checksum;
  checksum.update(bytes.data(), n - checksum_bytes);
  if (const std::uint64_t stored = get_le(bytes, n - checksum_bytes, 8); stored != checksum.hash)
    fail("checksum mismatch (stored {:016x}, computed {:016x}): the file is corrupted", stored, checksum.hash);

  Archive archive;
  archive.meta_json = field(header, "meta", json::value_t::string, "header").get<std::string>();
  const json& entries = field(header, "tensors", json::value_t::array, "header");
  std::set<std::string> names;
  // The sizes may add up to no more than the data section, so that all the tensors allocated
  // together stay within the file's size however the entries overlap.
  std::uint64_t unclaimed = data_size;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    StoredTensor stored = check_entry(entries[i], i, data_size, unclaimed);
    if (!names.insert(stored.name).second) fail("header: duplicate tensor name '{}'", stored.name);
    archive.tensors.push_back(read_tensor(std::move(stored), bytes, data_start));
  }
  return archive;
}

// safetensors: the names of the dtypes tide stores.
constexpr std::pair<DType, const char*> kSafetensorsDtypes[] = {{DType::f32, "F32"}, {DType::f64, "F64"}, {DType::i64, "I64"}};

// One safetensors header entry as the tide header entry check_entry checks.
json as_tide_entry(const std::string& name, const json& e) {
  const std::string what = fmt::format("header: tensor '{}'", name);
  if (!e.is_object()) fail("{} is {}, not an object", what, e.type_name());
  const json& offsets = field(e, "data_offsets", json::value_t::array, what);
  if (offsets.size() != 2 || !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned() ||
      offsets[1].get<std::uint64_t>() < offsets[0].get<std::uint64_t>())
    fail("{}: data_offsets must be [begin, end] with begin <= end, got {}", what, offsets.dump());
  const std::string dtype = field(e, "dtype", json::value_t::string, what).get<std::string>();
  const auto* t = std::find_if(std::begin(kSafetensorsDtypes), std::end(kSafetensorsDtypes), [&](const auto& d) { return dtype == d.second; });
  if (t == std::end(kSafetensorsDtypes)) fail("{}: dtype \"{}\" is not one tide reads (F32, F64, I64)", what, dtype);
  const std::uint64_t begin = offsets[0].get<std::uint64_t>(), end = offsets[1].get<std::uint64_t>();
  return {{"name", name}, {"dtype", dtype_name(t->first)}, {"shape", field(e, "shape", json::value_t::array, what)},
          {"offset", begin}, {"size", end - begin}};
}

// Reads the header length, the header, checks every entry against the file's length, then reads the data.
Archive parse_safetensors(InputFile& file) {
  const std::uint64_t n = file.size();
  std::string bytes;
  file.read(bytes, std::min<std::uint64_t>(n, 8));
  if (starts_as_tide_archive(bytes))
    fail("the file is a tide archive (it starts with \"TIDEARCH\"), {}: give it the extension .tide, or read it "
         "with load_archive", not_the("safetensors file", file.path(), ".safetensors"));
  if (n < 8) fail("truncated: {} bytes, fewer than the 8-byte header length", n);
  const std::uint64_t header_size = get_le(bytes, 0, 8);
  if (header_size > n - 8) fail("truncated at byte {} (the header claims {} bytes after byte 8)", n, header_size);
  file.read(bytes, header_size);
  const json header = parse_header(bytes, 8, header_size);
  if (!header.is_object()) fail("header is {}, not a JSON object", header.type_name());
  const std::uint64_t data_start = 8 + header_size, data_size = n - data_start;
  Archive archive;
  std::vector<StoredTensor> stored;
  std::uint64_t unclaimed = data_size;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (it->is_object() && it->contains("tide") && it->at("tide").is_string()) archive.meta_json = it->at("tide").get<std::string>();
      continue;
    }
    stored.push_back(check_entry(as_tide_entry(it.key(), *it), stored.size(), data_size, unclaimed));
  }
  // the format stores the tensors back to back, covering the whole buffer
  std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;
  for (const StoredTensor& t : stored) spans.emplace_back(t.offset, t.offset + t.size);
  std::sort(spans.begin(), spans.end());
  std::uint64_t at = 0;
  for (const auto& [begin, end] : spans) {
    if (begin != at) fail("the tensors' bytes are not back to back: a tensor starts at {}, the previous ends at {}", begin, at);
    at = end;
  }
  if (at != data_size) fail("{} bytes after the last tensor's end ({}) are not any tensor's", data_size - at, at);
  file.read(bytes, data_size);
  for (StoredTensor& t : stored) archive.tensors.push_back(read_tensor(std::move(t), bytes, data_start));
  return archive;
}

}  // namespace

void save_safetensors(const std::string& path, const Archive& archive) {
  std::vector<Tensor> data;
  json header = json::object();
  std::uint64_t offset = 0;
  for (const auto& [name, t] : archive.tensors) {
    if (!t.defined()) fail("save_safetensors '{}': tensor '{}' is undefined", path, name);
    check_shape_bound(extents_of(t.shape()), fmt::format("save_safetensors '{}': tensor '{}'", path, name));
    if (name == "__metadata__" || header.contains(name)) fail("save_safetensors '{}': tensor name '{}' is reserved or repeated", path, name);
    Tensor host = t.to(Device::cpu()).contiguous();
    const auto* d = std::find_if(std::begin(kSafetensorsDtypes), std::end(kSafetensorsDtypes), [&](const auto& e) { return e.first == host.dtype(); });
    if (d == std::end(kSafetensorsDtypes)) fail("save_safetensors '{}': tensor '{}' has dtype {}, not f32, f64 or i64", path, name, dtype_name(host.dtype()));
    const std::uint64_t size = static_cast<std::uint64_t>(host.numel()) * dtype_size(host.dtype());
    header[name] = {{"dtype", d->second}, {"shape", host.shape().vec()}, {"data_offsets", {offset, offset + size}}};
    offset += size;
    data.push_back(std::move(host));
  }
  if (!archive.meta_json.empty()) header["__metadata__"] = {{"tide", archive.meta_json}};
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {  // a name or the metadata that is not valid UTF-8
    fail("save_safetensors '{}': {}", path, e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // the buffer starts 8-byte aligned (the format allows trailing spaces)
  std::string length;
  put_le(length, text.size(), 8);
  AtomicFile file(path, fmt::format("save_safetensors '{}'", path));
  file.write(length.data(), length.size());
  file.write(text.data(), text.size());
  for (const Tensor& t : data) file.write(t.raw_data(), static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype()));
  file.commit();
}

Archive load_safetensors(const std::string& path) {
  InputFile file(path, "load_safetensors");
  Archive archive;
  try {
    archive = parse_safetensors(file);
  } catch (const Error& e) {
    fail("load_safetensors '{}': {}", path, e.what());
  } catch (const std::bad_alloc&) {  // the tensors, on top of the file's bytes
    fail("load_safetensors '{}': the file's {} bytes and its tensors do not fit in memory", path, file.size());
  }
  archive.path = path;
  archive.reindex();
  return archive;
}

// The entry called `name`, through the index while it covers every entry (a hit is checked
// against the entry it names), else by a scan; a miss is confirmed by a scan unless `trust_miss`
// (an entry renamed in `tensors` directly is not under its new name in the index).
const std::pair<std::string, Tensor>* Archive::find(const std::string& name, bool trust_miss) const {
  if (indexed_ == tensors.size()) {
    const auto it = index_.find(name);
    if (it != index_.end() && it->second < tensors.size() && tensors[it->second].first == name) return &tensors[it->second];
    if (it == index_.end() && trust_miss) return nullptr;
  }
  const auto entry = std::find_if(tensors.begin(), tensors.end(), [&name](const auto& e) { return e.first == name; });
  return entry == tensors.end() ? nullptr : &*entry;
}

bool Archive::contains(const std::string& name) const { return find(name, false) != nullptr; }

const Tensor& Archive::at(const std::string& name) const {
  if (const auto* entry = find(name, false)) return entry->second;
  std::string names;
  for (std::size_t i = 0; i < tensors.size() && i < 8; ++i) names += (i ? ", " : "") + tensors[i].first;
  if (tensors.size() > 8) names += ", ...";
  fail("archive {}: no tensor '{}' (it has {} tensors{}{})", archive_name(*this), name, tensors.size(),
       tensors.empty() ? "" : ": ", names);
}

void Archive::reindex() {
  index_.clear();
  indexed_ = 0;
  catch_up_index();
}

// Indexes the entries appended since the index was last in step; rebuilds it when `tensors` shrank.
void Archive::catch_up_index() {
  if (indexed_ > tensors.size()) return reindex();
  for (; indexed_ < tensors.size(); ++indexed_) index_.emplace(tensors[indexed_].first, indexed_);
}

void Archive::add(const std::string& name, const Tensor& value) {
  if (!value.defined()) fail("archive {}: tensor '{}' is undefined", archive_name(*this), name);
  catch_up_index();
  // (a miss trusted: a name renamed into `tensors` directly is refused by save_archive all the same)
  if (find(name, true)) fail("archive {}: duplicate tensor name '{}'", archive_name(*this), name);
  tensors.emplace_back(name, host_copy(value));
  catch_up_index();
}

void save_archive(const std::string& path, const Archive& archive) {
  // Everything that can fail on bad input fails before the file system is touched.
  std::vector<Tensor> data;
  json entries = json::array();
  std::set<std::string> names;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : archive.tensors) {
    if (!t.defined()) fail("save_archive '{}': tensor '{}' is undefined", path, name);
    check_shape_bound(extents_of(t.shape()), fmt::format("save_archive '{}': tensor '{}'", path, name));
    if (!names.insert(name).second) fail("save_archive '{}': duplicate tensor name '{}'", path, name);
    Tensor host = t.to(Device::cpu()).contiguous();
    const std::uint64_t size = static_cast<std::uint64_t>(host.numel()) * dtype_size(host.dtype());
    entries.push_back({{"name", name}, {"dtype", dtype_name(host.dtype())}, {"shape", host.shape().vec()},
                       {"offset", offset}, {"size", size}});
    offset += size;
    data.push_back(std::move(host));
  }
  const json header_json = {{"tensors", std::move(entries)}, {"data_size", offset}, {"meta", archive.meta_json}};
  std::string header;
  try {
    header = header_json.dump();
  } catch (const json::exception& e) {  // a name or the metadata that is not valid UTF-8
    fail("save_archive '{}': {}", path, e.what());
  }
  std::string preamble(magic, sizeof magic);
  put_le(preamble, format_version, 4);
  put_le(preamble, header.size(), 8);

  AtomicFile file(path, fmt::format("save_archive '{}'", path));
  Fnv1a checksum;
  auto write = [&](const void* bytes, std::size_t n) {
    file.write(bytes, n);
    checksum.update(bytes, n);
  };
  write(preamble.data(), preamble.size());
  write(header.data(), header.size());
  for (const Tensor& t : data) write(t.raw_data(), static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype()));
  std::string trailer;
  put_le(trailer, checksum.hash, 8);
  write(trailer.data(), trailer.size());
  file.commit();
}

Archive load_archive(const std::string& path) {
  InputFile file(path, "load_archive");
  Archive archive;
  try {
    archive = parse_archive(file);
  } catch (const Error& e) {
    fail("load_archive '{}': {}", path, e.what());
  } catch (const std::bad_alloc&) {  // the tensors, on top of the file's bytes
    fail("load_archive '{}': the file's {} bytes and its tensors do not fit in memory", path, file.size());
  }
  archive.path = path;
  archive.reindex();
  return archive;
}

void add_module(Archive& archive, const std::string& prefix, const Module& module) {
  for (const auto& [name, p] : module.named_parameters()) archive.add(prefix + name, p.value());
}

void load_module(const Archive& archive, const std::string& prefix, Module& module) {
  const auto params = module.named_parameters();
  std::set<std::string> keys;
  std::vector<const Tensor*> sources;
  for (const auto& [name, p] : params) {
    const std::string key = prefix + name;
    if (!archive.contains(key))
      fail("load_module: archive {} has no tensor '{}' for parameter '{}' ({} {})", archive_name(archive), key, name,
           dtype_name(p.dtype()), p.shape().str());
    const Tensor& source = archive.at(key);
    if (source.dtype() != p.dtype() || source.shape() != p.shape())
      fail("load_module: parameter '{}' is {} {} in the module but {} {} in archive {} (key '{}')", name,
           dtype_name(p.dtype()), p.shape().str(), dtype_name(source.dtype()), source.shape().str(),
           archive_name(archive), key);
    keys.insert(key);
    sources.push_back(&source);
  }
  for (const auto& [key, t] : archive.tensors)
    if (key.starts_with(prefix) && !keys.count(key))
      fail("load_module: archive {} has '{}', which matches no parameter of the module", archive_name(archive), key);
  for (std::size_t i = 0; i < params.size(); ++i) {
    Tensor value = params[i].second.value();
    value.copy_(sources[i]->to(value.device()));  // copy_ bumps the version: stale graphs cannot backpropagate
  }
}

void add_optimizer(Archive& archive, const std::string& prefix, const Optimizer& optimizer) {
  for (const auto& [key, t] : optimizer.state()) archive.add(prefix + key, t);
}

void load_optimizer(const Archive& archive, const std::string& prefix, Optimizer& optimizer) {
  std::vector<std::pair<std::string, Tensor>> state;
  for (const auto& [key, t] : archive.tensors)
    if (key.starts_with(prefix)) state.emplace_back(key.substr(prefix.size()), t);
  try {
    optimizer.load_state(state);
  } catch (const Error& e) {
    fail("load_optimizer: archive {}, prefix '{}': {}", archive_name(archive), prefix, e.what());
  }
}

}  // namespace tide
