#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS on a copy of its
# seed corpus (fuzz/corpus/<target>, with fuzz/<target>.dict where there is one). Fails on the
# first target that finds a crash, a leak, a timeout or an out-of-memory; the input is kept as
# BUILD_DIR/fuzz-runs/<target>/crash-* (or timeout-*, oom-*, leak-*) with the log beside it.
#
#   fuzz/run.sh [SECONDS-PER-TARGET] [BUILD_DIR]      (defaults: 60, build-fuzz)
#
# Environment: FUZZ_TARGETS="csv idx" runs only those; FUZZ_RUNS=N runs each N inputs instead of
# for SECONDS; FUZZ_JOBS=N builds with N jobs (default: ninja's, one per core).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${2:-build-fuzz}
targets=(${FUZZ_TARGETS:-config csv csv_sequences idx physionet archive})

# -O1 with line tables only, as OSS-Fuzz builds: about as fast to fuzz as -O2 -g, much faster to
# compile (the build of every library is most of CI's fuzz stage), and crash reports keep their lines
CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTIDE_FUZZ=ON \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
  -DTIDE_CUDA=OFF -DTIDE_BUILD_TESTS=OFF -DTIDE_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build" --target tide_fuzzers ${FUZZ_JOBS:+-j "$FUZZ_JOBS"}

limit=(-max_total_time="$seconds")
[ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")
for t in "${targets[@]}"; do
  work="$build/fuzz-runs/$t"
  rm -rf "$work" && mkdir -p "$work/corpus"
  cp fuzz/corpus/"$t"/* "$work/corpus/"  # the committed seeds stay as they are
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  echo "fuzz_$t: ${limit[*]}"
  if ! "$build/fuzz/fuzz_$t" "${limit[@]}" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
      -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1; then
    tail -n 60 "$work/log"
    echo "fuzz_$t FAILED: the input is in $work/ (reproduce: $build/fuzz/fuzz_$t <file>)" >&2
    exit 1
  fi
  grep -E '^Done|stat::number_of_executed_units|stat::peak_rss_mb' "$work/log" | tr '\n' ' '
  echo
done
echo "fuzz: ${#targets[@]} targets, no crash"
