#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for a bounded time each.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     default: 30 s, all targets
#
# More libFuzzer options go in FUZZ_ARGS, e.g. FUZZ_ARGS=-max_len=70000.
#
# Works on the stable toolchain: with `--sanitizer none` cargo-fuzz passes
# rustc only stable flags (coverage instrumentation through -Cpasses and
# -Cllvm-args), so no nightly and no RUSTC_BOOTSTRAP is needed. It needs a
# C++ compiler, which libfuzzer-sys uses to build libFuzzer.
#
# Each target starts from its committed seeds (fuzz/seeds/TARGET, read
# only) plus what earlier runs found (fuzz/corpus/TARGET, not committed).
# A crash leaves its input in fuzz/artifacts/TARGET/ and makes this script
# exit 1 after the other targets have run; reproduce it with
#   cargo fuzz run --sanitizer none --debug-assertions TARGET fuzz/artifacts/TARGET/crash-...
# If cargo-fuzz is missing and cannot be installed, the script says so and
# exits 0, so a machine without it is not a failure.
set -uo pipefail

cd "$(dirname "$0")"
seconds="${1:-30}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
    echo "usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(request_head chunked multipart cookie gzip server_connection client_connection
             websocket_reader websocket_inflate)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: cargo-fuzz not found; installing it from crates.io (about 2 minutes)"
    if ! cargo install cargo-fuzz --locked; then
        echo "fuzz: SKIPPED: cargo-fuzz is missing and could not be installed"
        exit 0
    fi
fi

# Overflow checks and debug assertions on: an arithmetic overflow is a bug.
flags=(--sanitizer none --debug-assertions)
echo "fuzz: building the targets"
if ! cargo fuzz build "${flags[@]}"; then
    echo "fuzz: FAILED: the targets do not build" >&2
    exit 1
fi

failed=()
for target in "${targets[@]}"; do
    echo "fuzz: $target for ${seconds}s"
    mkdir -p "corpus/$target"
    # -timeout: an input that takes over 10 s is reported as a crash (a
    # hang or quadratic work), as is a run over 2 GiB of memory.
    if ! cargo fuzz run "${flags[@]}" "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 ${FUZZ_ARGS:-}; then
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz: ok: ${targets[*]} ran ${seconds}s each without a crash"
