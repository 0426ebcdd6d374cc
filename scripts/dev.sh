#!/usr/bin/env bash
# Sets up a fresh machine, builds dbc-node and runs a --dev chain (HTTP on 127.0.0.1:8545,
# WebSocket on 127.0.0.1:8546). Extra arguments go to dbc-node, e.g. `--dev.instant`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbc-target}"
exec cargo run --release --locked -p dbc-node -- --dev "$@"
