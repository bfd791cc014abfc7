// NumPy .npy files (format versions 1.0, 2.0 and 3.0): the magic "\x93NUMPY", two version bytes,
// the header length (u16 little-endian for 1.0, u32 for 2.0 and 3.0), a Python dict literal
// {'descr': '<f8', 'fortran_order': False, 'shape': (N, D), } padded with spaces, then the data.
#include "file_bytes.hpp"
#include "tide/core/error.hpp"
#include "tide/core/named.hpp"
#include "tide/data/vectors.hpp"
#include <bit>
#include <charconv>
#include <cmath>
#include <new>
#include <string_view>

namespace tide::data {
namespace {

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};

// The dict literal numpy writes, read key by key; errors name the file and the character.
class HeaderParser {
public:
  HeaderParser(std::string_view text, const std::string& path) : text_(text), path_(path) {}

  NpyHeader parse() {
    NpyHeader h;
    bool descr = false, order = false, shape = false;
    expect('{');
    while (skip_space(), peek() != '}') {
      const std::string key = quoted();
      expect(':');
      // a key given twice is refused: which of its values numpy meant is anyone's guess
      const auto once = [&](bool& seen) {
        if (seen) error(fmt::format("key '{}' is given twice", key));
        seen = true;
      };
      if (key == "descr") {
        once(descr);
        h.descr = quoted();
      } else if (key == "fortran_order") {
        once(order);
        h.fortran_order = boolean();
      } else if (key == "shape") {
        once(shape);
        h.shape = tuple();
      } else {
        error(fmt::format("unknown key '{}'", key));
      }
      if (skip_space(), peek() == ',') ++pos_;
      else if (peek() != '}') error(fmt::format("expected ',' or '}}' after the value of '{}'", key));
    }
    ++pos_;
    // numpy pads the dict with spaces and ends it with a line break; its reader refuses other text
    if (skip_space(), pos_ < text_.size())
      error(fmt::format("text after the closing '}}': '{}'", without_padding(text_.substr(pos_, 40))));
    if (!descr || !order || !shape) error("'descr', 'fortran_order' and 'shape' are all required");
    return h;
  }

private:
  [[noreturn]] void error(const std::string& message) const {
    fail("{}: .npy header: {} (at character {} of {})", path_, message, pos_ + 1, without_padding(text_.substr(0, 120)));
  }
  static std::string_view without_padding(std::string_view text) {
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n')) text.remove_suffix(1);
    return text;
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (peek() == ' ' || peek() == '\t' || peek() == '\n') ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) error(fmt::format("expected '{}'", c));
    ++pos_;
  }
  std::string quoted() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') error("expected a quoted string");
    const std::size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) error("a string is never closed");
    std::string out(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    for (const std::string_view word : {"True", "False"})
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return word == "True";
      }
    error("expected True or False");
  }
  std::vector<std::int64_t> tuple() {
    std::vector<std::int64_t> out;
    expect('(');
    while (skip_space(), peek() != ')') {
      std::int64_t v = 0;
      const auto [end, ec] = std::from_chars(text_.data() + pos_, text_.data() + text_.size(), v);
      if (ec != std::errc() || v < 0) error("expected a non-negative integer extent");
      pos_ = static_cast<std::size_t>(end - text_.data());
      out.push_back(v);
      if (skip_space(), peek() == ',') ++pos_;
      else if (peek() != ')') error("expected ',' or ')' in the shape");
    }
    ++pos_;
    return out;
  }

  std::string_view text_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

enum class Element { f8, f4, i8, i4, u1 };
struct ElementType {
  Element element;
  std::size_t bytes;
};
constexpr Named<ElementType> kElementTypes[] = {{"<f8", {Element::f8, 8}}, {"<f4", {Element::f4, 4}},
                                                {"<i8", {Element::i8, 8}}, {"<i4", {Element::i4, 4}},
                                                {"|u1", {Element::u1, 1}}};

template <class Unsigned> Unsigned little_endian(const char* p) {
  Unsigned v = 0;
  for (std::size_t k = 0; k < sizeof(Unsigned); ++k) v |= static_cast<Unsigned>(static_cast<unsigned char>(p[k])) << (8 * k);
  return v;
}

double decode(const char* p, Element e) {
  switch (e) {
    case Element::f8: return std::bit_cast<double>(little_endian<std::uint64_t>(p));
    case Element::f4: return std::bit_cast<float>(little_endian<std::uint32_t>(p));
    case Element::i8: return static_cast<double>(std::bit_cast<std::int64_t>(little_endian<std::uint64_t>(p)));
    case Element::i4: return std::bit_cast<std::int32_t>(little_endian<std::uint32_t>(p));
    case Element::u1: return static_cast<unsigned char>(*p);
  }
  return 0.0;
}

ElementType element_type(const std::string& descr, const std::string& path) {
  if (!descr.empty() && descr[0] == '>')
    fail("{}: .npy header: 'descr' '{}' is big-endian; save the array little-endian (numpy: a.astype('<f8'))", path,
         descr);
  for (const auto& row : kElementTypes)
    if (row.name == descr) return row.value;
  fail("{}: .npy header: 'descr' '{}' is not supported (supported: {})", path, descr, fmt::join(names_of(kElementTypes), ", "));
}

// The header's text, read after the preamble (the file's first bytes are checked before the rest is read).
std::string read_header(detail::FileReader& file, const std::string& path) {
  std::string preamble = file.read(10);
  if (preamble.size() < 10 || preamble.compare(0, 6, "\x93NUMPY") != 0)
    fail("{}: not a .npy file (it does not start with the magic \\x93NUMPY)", path);
  const int major = static_cast<unsigned char>(preamble[6]), minor = static_cast<unsigned char>(preamble[7]);
  if (major < 1 || major > 3) fail("{}: .npy format version {}.{} is not supported (1.0, 2.0, 3.0 are)", path, major, minor);
  const std::size_t start = major == 1 ? 10 : 12;
  preamble += file.read(start - 10);
  if (preamble.size() < start) fail("{}: {} bytes, too short for a .npy {}.{} preamble", path, preamble.size(), major, minor);
  const std::size_t length = major == 1 ? little_endian<std::uint16_t>(&preamble[8]) : little_endian<std::uint32_t>(&preamble[8]);
  std::string header = file.read(length);
  if (header.size() < length)
    fail("{}: the .npy header promises {} bytes, the file has {} after the preamble: the file is truncated", path,
         length, header.size());
  return header;
}

// <i8 values convert to f64 exactly up to 2^53 in magnitude; beyond, they would be rounded silently.
void check_exact(const char* p, Element e, const std::string& path, std::int64_t r, std::int64_t c) {
  constexpr std::int64_t exact = std::int64_t{1} << 53;
  if (e != Element::i8) return;
  if (const auto v = std::bit_cast<std::int64_t>(little_endian<std::uint64_t>(p)); v > exact || v < -exact)
    fail("{}: element [{}, {}] is {}, beyond 2^53 in magnitude: it has no exact f64 value (tide reads numbers as f64)",
         path, r, c, v);
}

}  // namespace

Tensor read_npy(const std::string& path) {
  detail::FileReader file(path);
  const NpyHeader h = HeaderParser(read_header(file, path), path).parse();
  const ElementType type = element_type(h.descr, path);
  if (h.shape.empty() || h.shape.size() > 2)
    fail("{}: .npy header: 'shape' has {} axes; expected a 1-D or 2-D array", path, h.shape.size());
  const std::int64_t n = h.shape[0], d = h.shape.size() == 2 ? h.shape[1] : 1;
  if (d < 1) fail("{}: .npy header: 'shape' ({}, {}) has no columns", path, n, d);
  std::uint64_t count = 0, need = 0;
  if (__builtin_mul_overflow(static_cast<std::uint64_t>(n), static_cast<std::uint64_t>(d), &count) ||
      __builtin_mul_overflow(count, type.bytes, &need))
    fail("{}: the .npy header promises {} x {} elements, over 2^64 bytes", path, n, d);
  const auto size_error = [&](const std::string& have, bool truncated) {
    fail("{}: the .npy header promises {} x {} elements of '{}' ({} data bytes), the file has {}: the file is {}", path,
         n, d, h.descr, need, have, truncated ? "truncated" : "longer than its header says");
  };
  // a plain file's size is checked before its data is read; a gzipped one is inflated no further
  // than one byte past what the header promises
  if (const auto left = file.left(); left && *left != need) size_error(std::to_string(*left), *left < need);
  const std::string bytes = file.read(need);
  if (bytes.size() < need) size_error(std::to_string(bytes.size()), true);
  if (!file.read(1).empty()) size_error(fmt::format("more than {}", need), false);
  std::vector<double> x;
  try {
    x.resize(static_cast<std::size_t>(n * d));
  } catch (const std::bad_alloc&) {
    fail("{}: its {} x {} values do not fit in memory", path, n, d);
  }
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t c = 0; c < d; ++c) {
      const std::int64_t stored = h.fortran_order ? c * n + r : r * d + c;
      const char* at = &bytes[static_cast<std::size_t>(stored) * type.bytes];
      check_exact(at, type.element, path, r, c);
      const double v = decode(at, type.element);
      if (!std::isfinite(v)) fail("{}: element [{}, {}] is {} (expected finite numbers)", path, r, c, v);
      x[static_cast<std::size_t>(r * d + c)] = v;
    }
  return Tensor::from_vector(x, Shape{n, d}, DType::f64, Device::cpu());
}

}  // namespace tide::data
