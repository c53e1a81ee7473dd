#!/usr/bin/env bash
# The edit loop at 50 models: generates an app of N models (default 50;
# 7 fields each, one ref to the model before, audit on), builds it once,
# then changes one field of one model, runs `rookery generate` and times
# the incremental `cargo build`. Prints one line per step.
#
#   bench/rebuild/run.sh            # 50 models
#   MODELS=10 bench/rebuild/run.sh
#
# The app lives in target/rebuild-bench/ and builds into the workspace's
# target folder with its Cargo.lock, offline, so only the app compiles.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODELS=${MODELS:-50}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
DIR=$TARGET/rebuild-bench
APP=big$MODELS

cargo build --quiet --manifest-path "$ROOT/Cargo.toml" -p rookery-generator
ROOKERY=$TARGET/debug/rookery
rm -rf "$DIR/$APP"
mkdir -p "$DIR"
"$ROOKERY" new "$APP" --path "$DIR" --rookery-path "$ROOT/runtime" >/dev/null
PROJECT=$DIR/$APP
rm -rf "$PROJECT/src/generated" "$PROJECT/migrations"
cp "$ROOT/Cargo.lock" "$PROJECT/Cargo.lock"

spec() { # $1: extra field line for model m1, or empty
  python3 - "$MODELS" "$APP" "$1" <<'EOF'
import sys
n, app, extra = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = [f'[app]\nname = "{app}"\ntitle = "{n} models"\n',
       '[tenancy]\nmodel = "shared"\nresolve = ["header"]\n',
       '[auth]\nmethods = ["password", "api_key"]\n',
       '[roles]\nowner = { grants = ["members.manage", "members.read", "api_keys.manage", "data.read", "data.write", "data.delete", "audit.read"] }\n',
       '[plans.free]\nprice = { monthly = 0 }\n']
for i in range(1, n + 1):
    m = [f'[models.m{i}]',
         'fields.name = { type = "string", max_len = 120 }',
         'fields.notes = { type = "text", optional = true }',
         'fields.count = { type = "int", default = 0, min = 0 }',
         'fields.amount = { type = "decimal", optional = true }',
         'fields.active = { type = "bool", default = true }',
         'fields.due = { type = "datetime", optional = true }']
    m.append(f'fields.parent = {{ type = "ref", to = "m{i - 1}", optional = true }}' if i > 1
             else 'fields.state = { type = "enum", values = ["new", "done"], default = "new" }')
    if i == 1 and extra:
        m.append(extra)
    m += ['permissions = { read = "data.read", write = "data.write", delete = "data.delete" }', 'audit = true', '']
    out.append('\n'.join(m))
print('\n'.join(out))
EOF
}

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.1f} s')"; }

spec "" > "$PROJECT/rookery.toml"
"$ROOKERY" generate --project "$PROJECT" >/dev/null
build() { CARGO_TARGET_DIR=$TARGET cargo build --offline --quiet --manifest-path "$PROJECT/Cargo.toml"; }
t0=$(now); build; t1=$(now)
echo "first build of $APP ($MODELS models, dependencies cached): $(elapsed "$t0" "$t1")"
t0=$(now); build; t1=$(now)
echo "no-op rebuild: $(elapsed "$t0" "$t1")"
spec 'fields.priority = { type = "int", default = 0 }' > "$PROJECT/rookery.toml"
t0=$(now); "$ROOKERY" generate --project "$PROJECT" >/dev/null; t1=$(now)
echo "rookery generate after adding one field to m1: $(elapsed "$t0" "$t1")"
t0=$(now); build; t1=$(now)
echo "incremental cargo build after that change: $(elapsed "$t0" "$t1")"
