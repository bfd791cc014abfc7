#include "windows.hpp"
#include "tide/core/error.hpp"
#include <algorithm>
#include <cstring>

namespace tide::data::detail {

SequenceSet zero_set(std::string name, Task task, bool per_step, std::int64_t classes, std::int64_t n,
                     std::int64_t steps, std::int64_t features, std::int64_t outputs, DType x_dtype) {
  TIDE_ASSERT(x_dtype == DType::f32 || x_dtype == DType::f64);
  const Device cpu = Device::cpu();
  SequenceSet set;
  set.name = std::move(name);
  set.task = task;
  set.per_step = per_step;
  set.classes = task == Task::classification ? classes : 0;
  set.x = Tensor::zeros(Shape{n, steps, features}, x_dtype, cpu);
  set.dt = Tensor::zeros(Shape{n, steps}, DType::f32, cpu);
  set.mask = Tensor::zeros(Shape{n, steps}, DType::f32, cpu);
  if (task == Task::classification)
    set.y = Tensor::zeros(per_step ? Shape{n, steps} : Shape{n}, DType::i64, cpu);
  else
    set.y = Tensor::zeros(per_step ? Shape{n, steps, outputs} : Shape{n, outputs}, DType::f32, cpu);
  return set;
}

std::vector<std::int64_t> reference_window_starts(std::int64_t rows, std::int64_t length, std::int64_t stride) {
  if (length < 1 || stride < 1) fail("windows: length {} and stride {} must be at least 1", length, stride);
  std::vector<std::int64_t> starts;
  if (rows <= length) return starts;
  for (std::int64_t k = 0, last = (rows - length - 1) / stride; k <= last; ++k) starts.push_back(k * stride);  // no overflow for any stride
  return starts;
}

namespace {

// `count` feature values of a series into x (f32 or f64) from element `at` on.
void put_features(Tensor& x, std::int64_t at, const double* from, std::size_t count) {
  if (x.dtype() == DType::f64) std::copy_n(from, count, x.data<double>() + at);
  else std::transform(from, from + count, x.data<float>() + at, [](double v) { return static_cast<float>(v); });
}

}  // namespace

SequenceSet assemble_windows(std::string name, Task task, bool per_step, std::int64_t classes,
                             const std::vector<Series>& series, const std::vector<Window>& windows,
                             std::int64_t steps, DType x_dtype) {
  const std::int64_t features = series.empty() ? 0 : series[0].features;
  const std::int64_t outputs = series.empty() ? 1 : std::max<std::int64_t>(series[0].outputs, 1);
  const auto n = static_cast<std::int64_t>(windows.size());
  SequenceSet set = zero_set(std::move(name), task, per_step, classes, n, steps, features, outputs, x_dtype);
  float* dt = set.dt.data<float>();
  float* mask = set.mask.data<float>();
  for (std::int64_t w = 0; w < n; ++w) {
    const Window& win = windows[static_cast<std::size_t>(w)];
    const Series& s = series.at(win.series_index);
    TIDE_ASSERT(win.length >= 1 && win.length <= steps && win.start + win.length <= s.rows());
    const auto row0 = static_cast<std::size_t>(win.start), len = static_cast<std::size_t>(win.length);
    const auto width = static_cast<std::size_t>(features);
    put_features(set.x, w * steps * features, s.x.data() + row0 * width, len * width);
    std::memcpy(dt + w * steps, s.dt.data() + row0, len * sizeof(float));
    std::fill(mask + w * steps, mask + w * steps + win.length, 1.0f);
    const std::size_t last = row0 + len - 1;
    if (task == Task::classification) {
      std::int64_t* y = set.y.data<std::int64_t>();
      if (per_step) std::copy(s.label.begin() + static_cast<std::ptrdiff_t>(row0),
                              s.label.begin() + static_cast<std::ptrdiff_t>(row0 + len), y + w * steps);
      else y[w] = s.label[last];
    } else {
      float* y = set.y.data<float>();
      const auto o = static_cast<std::size_t>(outputs);
      if (per_step) std::memcpy(y + w * steps * outputs, s.target.data() + row0 * o, len * o * sizeof(float));
      else std::memcpy(y + w * outputs, s.target.data() + last * o, o * sizeof(float));
    }
  }
  return set;
}

}  // namespace tide::data::detail
