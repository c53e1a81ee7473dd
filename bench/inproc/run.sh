#!/usr/bin/env bash
# Runs the in-process request benchmark against the runtime of CHECKOUT
# (default: this repository), release build, in a target folder shared by
# every checkout so only the runtime is rebuilt between them.
# Usage: bench/inproc/run.sh [CHECKOUT]     (ROUNDS, REQUESTS in the environment)
# Before/after: git archive <commit> | tar -x -C /tmp/before; run.sh /tmp/before; run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
checkout="$(cd "${1:-$here/../..}" && pwd)"
work="$checkout/bench/inproc"
if [ "$work" != "$here" ]; then
    # The same bench for every checkout (an older one may have none).
    mkdir -p "$work" && cp -r "$here/Cargo.toml" "$here/src" "$work/"
fi
# The same dependency versions for every checkout.
cp "$here/../../Cargo.lock" "$work/Cargo.lock"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rookery/inproc-target}"
cargo build --release --manifest-path "$work/Cargo.toml" 2>&1 | tail -1
"$CARGO_TARGET_DIR/release/rookery-inproc"
