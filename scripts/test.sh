#!/usr/bin/env bash
# Sets up a fresh machine and runs every check and test: rustfmt, clippy (-D warnings), unit,
# integration and end-to-end tests (the e2e tests start the real node and drive it with forge,
# cast, viem and ethers). Everything runs in the release profile so that one build serves all.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-test.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbc-target}"
export CARGO_TERM_COLOR=never
# dbc-agent's container tests fail, rather than skip, where podman/docker does not work.
export DBC_REQUIRE_CONTAINERS=1
start=$(date +%s)
cargo fmt --all --check
cargo clippy --release --workspace --all-targets --locked -- -D warnings
echo "test.sh: lint done in $(( $(date +%s) - start ))s"
# Solidity: the precompiles' stand-ins (contracts/test-utils), the example dApp's unit tests and
# the replay of the recorded node trace (test/PrecompileDiff.t.sol). The platform binary, not
# the npm wrapper, which exits 0 when forge fails.
case "$(uname -m)" in aarch64 | arm64) arch=arm64 ;; *) arch=amd64 ;; esac
forge="$PWD/scripts/node_modules/@foundry-rs/forge-$(uname -s | tr A-Z a-z)-$arch/bin/forge"
(cd contracts && "$forge" build --quiet && "$forge" test --summary)
cargo test --release --workspace --locked -- --test-threads 2
echo "test.sh: all done in $(( $(date +%s) - start ))s"
