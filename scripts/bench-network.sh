#!/usr/bin/env bash
# The 4-validator testnet (testnet/run.sh: 4 validators and a full node, five processes on this
# machine) under a steady flood of native transfers sent to the full node's JSON-RPC, once per
# slot length. `dbc-bench network` reports end-to-end transfers/s, block fullness, time to
# finality (p50/p99, from each block's slot start) and each node's CPU.
#
# Usage: ./scripts/bench-network.sh [SLOT_SECS ...]            (default: 6 1)
# Environment: RATE (offered transfers/s, default 5000), SECS (seconds of sending, default 30),
# SENDERS (default 1000, the most a test genesis funds), GAS_LIMIT (genesis gas limit; default the dev genesis's),
# HTTP_PORT_BASE / P2P_PORT_BASE (default 18545 / 31304), KEEP=1 keeps each run's directory.
# DBC_NODE_BIN runs another build of the node (to compare builds with one bench).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbc-target}"
cargo build --release --locked -q -p dbc-node -p dbc-bench
BIN="$CARGO_TARGET_DIR/release"
RATE="${RATE:-5000}"
SECS="${SECS:-30}"
SENDERS="${SENDERS:-1000}"
export HTTP_PORT_BASE="${HTTP_PORT_BASE:-18545}"
export P2P_PORT_BASE="${P2P_PORT_BASE:-31304}"
slots=("$@")
[ ${#slots[@]} -eq 0 ] && slots=(6 1)
dirs=()
cleanup() {
  for d in "${dirs[@]}"; do
    TESTNET_DIR="$d" ./testnet/run.sh stop >/dev/null 2>&1 || true
    [ "${KEEP:-}" = 1 ] || rm -rf "$d"
  done
}
trap cleanup EXIT

head_of() {
  curl -s -m 2 -H 'content-type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "http://127.0.0.1:$1" |
    sed -n 's/.*"result":"0x\([0-9a-f]*\)".*/\1/p'
}

for slot in "${slots[@]}"; do
  dir="$(mktemp -d)"
  dirs+=("$dir")
  echo "== ${slot} s slots: starting the testnet in $dir"
  TESTNET_DIR="$dir" BLOCK_TIME="$slot" DEV_ACCOUNTS="$SENDERS" DBC_NODE_BIN="${DBC_NODE_BIN:-$BIN/dbc-node}" \
    ./testnet/run.sh >/dev/null
  full=$((HTTP_PORT_BASE + 4))
  # Warm up: a few blocks, so that every validator has proposed and voted.
  for _ in $(seq $((40 * slot + 40))); do
    h="$(head_of "$full")"
    [ -n "$h" ] && [ $((16#$h)) -ge 4 ] && break
    sleep 0.5
  done
  names=(v1 v2 v3 v4 full)
  pids=()
  i=0
  while read -r pid; do pids+=("${names[$i]}=$pid"); i=$((i + 1)); done < "$dir/pids"
  "$BIN/dbc-bench" network --rpc "127.0.0.1:$full" --rate "$RATE" --secs "$SECS" \
    --senders "$SENDERS" --pids "$(IFS=,; echo "${pids[*]}")" --drain $((20 * slot + 30))
  TESTNET_DIR="$dir" ./testnet/run.sh stop >/dev/null 2>&1 || true
done
