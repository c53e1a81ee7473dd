#!/usr/bin/env bash
# Release build of the generated app (app.sh: taskboard, or saasbench for the
# variant `workload`; the Rookery workspace is two levels up from this
# folder) into $CONTENDER_OUT/target. Incremental: quick when nothing
# changed. Reads only the repository; writes only $CONTENDER_OUT.
set -euo pipefail
CONTENDER_SRC=${CONTENDER_SRC:-$(cd "$(dirname "$0")" && pwd)}
: "${CONTENDER_OUT:?set CONTENDER_OUT to a writable folder for the build}"
. "$CONTENDER_SRC/app.sh"
export CARGO_TARGET_DIR=$CONTENDER_OUT/target
cargo build --release --locked --manifest-path "$CONTENDER_SRC/../../Cargo.toml" -p "$APP"
