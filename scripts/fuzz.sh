#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time and exits non-zero if any crashed.
#
#   scripts/fuzz.sh [seconds-per-target] [target ...]
#
# Default: 60 s per target, all targets. Needs the nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`). Builds in its own target directory ($DBC_FUZZ_TARGET_DIR,
# default ~/.cache/dbc-fuzz-target) with $CARGO_BUILD_JOBS jobs (default 1). The corpus
# grows in fuzz/corpus/<target> between runs; a crashing input is saved in
# fuzz/artifacts/<target>/ and reproduces with
#   cargo +nightly fuzz run --sanitizer none <target> fuzz/artifacts/<target>/<file>
# Every crash found becomes a regression test in the crate that owns the code.
set -euo pipefail

secs=${1:-60}
shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"

export CARGO_TARGET_DIR=${DBC_FUZZ_TARGET_DIR:-$HOME/.cache/dbc-fuzz-target}
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 2
fi
# Safe Rust: no sanitizer (about twice the executions per second); debug assertions and
# overflow checks stay on (cargo-fuzz's default), so arithmetic overflow is a crash.
flags=(--sanitizer none --target-dir "$CARGO_TARGET_DIR")

echo "building fuzz targets (jobs: $CARGO_BUILD_JOBS, target dir: $CARGO_TARGET_DIR) ..."
cargo +nightly fuzz build "${flags[@]}"

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

failed=()
printf '%-20s %-6s %12s %10s %8s\n' target result runs exec/s corpus
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    log=$(mktemp)
    status=ok
    if ! cargo +nightly fuzz run "${flags[@]}" "$t" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" >"$log" 2>&1; then
        status=CRASH
        failed+=("$t")
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    runs=${runs:-0}
    printf '%-20s %-6s %12s %10s %8s\n' "$t" "$status" "$runs" "$((runs / secs))" \
        "$(find "corpus/$t" -type f | wc -l)"
    if [ "$status" != ok ]; then
        grep -v '^#' "$log" | tail -40 >&2
        ls -1 "artifacts/$t" >&2 || true
    fi
    rm -f "$log"
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "no crash in ${#targets[@]} targets (${secs}s each)"
