#!/usr/bin/env bash
# A fresh node joining the 4-validator testnet (testnet/run.sh) that already has a long history.
# The network first runs under a flood of native transfers sent to the full node's JSON-RPC
# (`dbc-bench network`, SECS seconds), which builds the history. Then the full node's database
# is deleted (its p2p key kept) and it starts again: it syncs from the four validators while they
# keep producing. Reported: blocks and transfers synced, the time until it reached the
# validators' head, blocks/s and transfers/s, and the node's own `sync progress` log lines.
#
# Usage: ./scripts/bench-join.sh
# Environment: SLOT (slot seconds, default 1), RATE (offered transfers/s, default 2000), SECS
# (seconds of sending, default 180), SENDERS (default 1000), GAS_LIMIT, HTTP_PORT_BASE /
# P2P_PORT_BASE (default 18545 / 31304), KEEP=1 keeps the run's directory.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbc-target}"
cargo build --release --locked -q -p dbc-node -p dbc-bench
BIN="$CARGO_TARGET_DIR/release"
SLOT="${SLOT:-1}"
RATE="${RATE:-2000}"
SECS="${SECS:-180}"
SENDERS="${SENDERS:-1000}"
export HTTP_PORT_BASE="${HTTP_PORT_BASE:-18545}"
export P2P_PORT_BASE="${P2P_PORT_BASE:-31304}"
dir="$(mktemp -d)"
cleanup() {
  TESTNET_DIR="$dir" ./testnet/run.sh stop >/dev/null 2>&1 || true
  [ "${KEEP:-}" = 1 ] || rm -rf "$dir"
}
trap cleanup EXIT

rpc() {
  curl -s -m 2 -H 'content-type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":[$3]}" "http://127.0.0.1:$1" |
    sed -n 's/.*"result":"0x\([0-9a-f]*\)".*/\1/p'
}
head_of() { local h; h="$(rpc "$1" eth_blockNumber "")"; echo $((16#${h:-0})); }

v1=$HTTP_PORT_BASE
full=$((HTTP_PORT_BASE + 4))
echo "== starting the testnet (${SLOT} s slots) in $dir"
TESTNET_DIR="$dir" BLOCK_TIME="$SLOT" DEV_ACCOUNTS="$SENDERS" DBC_NODE_BIN="$BIN/dbc-node" \
  ./testnet/run.sh >/dev/null
for _ in $(seq $((40 * SLOT + 40))); do
  [ "$(head_of "$full")" -ge 4 ] && break
  sleep 0.5
done
echo "== building the history: ${RATE} transfers/s for ${SECS} s"
"$BIN/dbc-bench" network --rpc "127.0.0.1:$full" --rate "$RATE" --secs "$SECS" \
  --senders "$SENDERS" --drain $((20 * SLOT + 30)) | grep -E "transfers/s|included|blocks" || true

echo "== the full node starts again with an empty database"
TESTNET_DIR="$dir" ./testnet/run.sh stop full >/dev/null
rm -rf "$dir/full/db"
: > "$dir/full.log"
history="$(head_of "$v1")"
txs=0
for n in $(seq 1 "$history"); do
  c="$(rpc "$v1" eth_getBlockTransactionCountByNumber "\"0x$(printf %x "$n")\"")"
  txs=$((txs + 16#${c:-0}))
done
echo "history: $history blocks, $txs transactions"
started="$(date +%s.%N)"
TESTNET_DIR="$dir" ./testnet/run.sh start full >/dev/null
while :; do
  target="$(head_of "$v1")"
  got="$(head_of "$full")"
  [ "$got" -ge "$target" ] && [ "$got" -ge "$history" ] && break
  now="$(date +%s.%N)"
  if [ "$(echo "$now - $started > 1800" | bc)" = 1 ]; then
    echo "not synced after 30 min: $got of $target" >&2
    exit 1
  fi
  sleep 0.2
done
ended="$(date +%s.%N)"
secs="$(echo "$ended - $started" | bc)"
echo "synced to the moving head ($got, history $history blocks) in ${secs} s (start-up included)"
printf 'history: %.1f blocks/s, %.0f transactions/s\n' \
  "$(echo "$history / $secs" | bc -l)" "$(echo "$txs / $secs" | bc -l)"
grep -E "sync progress" "$dir/full.log" | sed 's/\x1b\[[0-9;]*m//g' | tail -8 || true
