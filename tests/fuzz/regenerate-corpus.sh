#!/bin/sh
# Regenerates the fuzz corpus in tests/fuzz/corpus/ (not in git) from the hand-written
# starting inputs in tests/fuzz/inputs/: fuzzes each target for a while, then minimizes the result.
#
#   tests/fuzz/regenerate-corpus.sh                 # 10 minutes per target
#   SECONDS_PER_TARGET=1800 tests/fuzz/regenerate-corpus.sh stream
#   RUNS=100000 tests/fuzz/regenerate-corpus.sh     # a fixed number of inputs instead of a time
#   JOBS=2 tests/fuzz/regenerate-corpus.sh          # libFuzzer processes per target
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly compiler or RUSTC_BOOTSTRAP=1.
set -eu

fuzz_dir=$(cd "$(dirname "$0")" && pwd)
cd "$fuzz_dir"

seconds=${SECONDS_PER_TARGET:-600}
runs=${RUNS:-}
jobs=${JOBS:-}
targets=${*:-stream chunk}

if ! cargo fuzz --help >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
    exit 1
fi
export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}"

for target in $targets; do
    case "$target" in
        stream) max_len=16384 ;;
        chunk) max_len=8192 ;;
        *) echo "unknown fuzz target: $target (stream or chunk)" >&2; exit 2 ;;
    esac
    mkdir -p "corpus/$target"
    if [ -n "$runs" ]; then
        limit="-runs=$runs"
    else
        limit="-max_total_time=$seconds"
    fi
    parallel=""
    if [ -n "$jobs" ]; then
        # libFuzzer's own parallel mode: JOBS processes, their output in fuzz-N.log.
        parallel="-jobs=$jobs -workers=$jobs"
    fi
    echo "fuzzing $target ($limit -max_len=$max_len $parallel)" >&2
    # New inputs go into the first directory (corpus/); the hand-written inputs are read, never written.
    # shellcheck disable=SC2086 # $parallel is empty or two separate options
    cargo fuzz run -O "$target" "corpus/$target" "inputs/$target" -- \
        "$limit" -max_len="$max_len" $parallel
    echo "minimizing corpus/$target" >&2
    cargo fuzz cmin -O "$target" "corpus/$target" -- -max_len="$max_len"
    echo "corpus/$target: $(ls "corpus/$target" | wc -l) inputs" >&2
done
