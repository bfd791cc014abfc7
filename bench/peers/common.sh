# Shared by compare_ltc.sh, compare_rnn.sh and compare_cnf.sh (sourced): argument checks, a private copy of the tide
# binary (a rebuild during the run cannot mix two builds), the figures log, and tide's training-step
# figure. Expects `here` (this folder) and the arguments TIDE_BINARY VENV ROUNDS SAMPLES in $1..$4.
tide_src=${1:-build/tools/tide}
venv=${2:-.venv}
rounds=${3:-3}
samples=${4:-20}
py="$venv/bin/python"
[[ -x "$tide_src" ]] || { echo "no tide binary at $tide_src" >&2; exit 2; }
[[ -x "$py" ]] || { echo "no venv at $venv (bench/peers/setup.sh $venv)" >&2; exit 2; }
if [[ "${needs_humanoid:-1}" == 1 ]]; then  # the LTC / RNN configs read it; the CNF toys need no file
  [[ -f runs/humanoid.csv ]] || { echo "runs/humanoid.csv missing (run from the repository root; see the header)" >&2; exit 2; }
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$tide_src" "$tmp/tide"
tide="$tmp/tide"
log="$tmp/figures.jsonl"

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tide: $tide_src ($(sha256sum "$tide" | cut -c1-12), built $(date -r "$tide_src" '+%F %T'))"

# tide_steps FIGURE CONFIG [STEPS]: ms per optimizer step of `tide train CONFIG` over STEPS steps
# (default 50), two figures per call (the binary as both A and B of train_step_ab.sh), appended to
# the log as {"side": "tide", ...}.
tide_steps() {
  local line ms
  while read -r line; do
    ms=${line##*: }; ms=${ms% ms per step}
    echo "{\"side\": \"tide\", \"figure\": \"$1\", \"median_ms\": $ms}" | tee -a "$log"
  done < <("$here/../train_step_ab.sh" "$tide" "$tide" "$2" 1 "${3:-50}" 2> >(grep -v '^stopped (--max-steps)' >&2))
}
