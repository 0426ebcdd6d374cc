#!/usr/bin/env bash
# Sets up a fresh machine and runs every check and test: rustfmt, clippy (-D warnings), unit,
# integration and end-to-end tests (the e2e tests start the real node and drive it with forge,
# cast, viem and ethers). Everything runs in the release profile so that one build serves all.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-test.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbc-target}"
export CARGO_TERM_COLOR=never
start=$(date +%s)
cargo fmt --all --check
cargo clippy --release --workspace --all-targets --locked -- -D warnings
echo "test.sh: lint done in $(( $(date +%s) - start ))s"
(cd contracts && ../scripts/node_modules/.bin/forge build --quiet)
cargo test --release --workspace --locked -- --test-threads 2
echo "test.sh: all done in $(( $(date +%s) - start ))s"
