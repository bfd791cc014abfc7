// Shared by the compiled-dynamics tests: how many plan calls a compiled dynamics has served.
#pragma once
#include "tide/tide.hpp"

namespace tide::test {

// Plan calls of a compiled dynamics and its variants (a solve's explicit steps run as the "step .."
// variant), over every row and over subsets.
inline std::int64_t plan_calls(const CompiledDynamicsStats& st, bool subsets_only = false) {
  std::int64_t n = st.subset_rows.calls + (subsets_only ? 0 : st.all_rows.calls);
  for (const CompiledVariantStats& v : st.variants) n += v.subset_rows.calls + (subsets_only ? 0 : v.all_rows.calls);
  return n;
}

}  // namespace tide::test
