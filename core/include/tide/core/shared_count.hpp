// A statistics counter that threads differentiating one graph (a solve's or a compiled function's
// backward, which design.md lets several threads run at once) may all bump: a relaxed atomic add on
// a plain integer (the backward replays of implicit steps count their Newton work too), so the stats structs stay plain, copyable values.
#pragma once
#include <atomic>

namespace tide {

template <class T> void count_shared(T& counter, T amount = 1) {
  static_assert(alignof(T) >= std::atomic_ref<T>::required_alignment);
  std::atomic_ref<T>(counter).fetch_add(amount, std::memory_order_relaxed);
}

}  // namespace tide
