#!/usr/bin/env bash
# Runs the Hardhat project in tests/hardhat (hardhat_mine, evm_snapshot/evm_revert, hardhat_set*,
# impersonation, time travel; issue #19 item 1) against the node whose HTTP RPC is at URL: a
# dbc-node dev chain with automine (`dbc-node --dev --dev.instant`) or anvil (`--chain-id 19888`).
# The tests change the chain (they mine 1000 blocks). Exits non-zero when a test fails.
#
# Usage: ./scripts/hardhat-test.sh [URL]   (default http://127.0.0.1:8545)
set -euo pipefail
cd "$(dirname "$0")/../tests/hardhat"
if [ ! -x node_modules/.bin/hardhat ]; then
  echo "tests/hardhat/node_modules missing: run ./scripts/setup-test.sh" >&2
  exit 2
fi
export DBC_RPC_URL="${1:-${DBC_RPC_URL:-http://127.0.0.1:8545}}"
# No telemetry question, no survey banner: the run is not interactive.
export HARDHAT_DISABLE_TELEMETRY_PROMPT=true HARDHAT_HIDE_SOLIDITY_SURVEY_MESSAGE=true
exec ./node_modules/.bin/hardhat test --network dbc
