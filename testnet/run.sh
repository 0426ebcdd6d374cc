#!/usr/bin/env bash
# A local proof-of-stake network on 127.0.0.1: 4 validators and 1 full node.
#
#   ./testnet/run.sh              generate keys and a genesis, start all five nodes
#   ./testnet/run.sh stop         stop them all
#   ./testnet/run.sh stop v3      stop one node (v1..v4 validators, full = the full node)
#   ./testnet/run.sh start v3     start one node again (same datadir, keys and ports)
#
# RPC (HTTP): validators 127.0.0.1:8545..8548, full node 8549; WebSocket on HTTP port + 1000;
# p2p on 30304..30308. Pids in testnet/.run/pids (one a line, validators first), logs in
# testnet/.run/<node>.log. Environment overrides (used by the tests): TESTNET_DIR (state
# directory), HTTP_PORT_BASE, P2P_PORT_BASE, BLOCK_TIME (seconds, default 2), EPOCH_BLOCKS
# (default 200), DEV_ACCOUNTS (test-mnemonic accounts funded, default 10), CONFIG_DBC (a JSON
# file merged into the genesis's config.dbc, e.g. short governance periods), GAS_LIMIT (the
# genesis block gas limit; default the dev genesis's), DBC_NODE_BIN (the binary; default: build
# it in release mode).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
run="${TESTNET_DIR:-$here/.run}"
http_base="${HTTP_PORT_BASE:-8545}"
p2p_base="${P2P_PORT_BASE:-30304}"
nodes=(v1 v2 v3 v4 full)

index_of() {
  local i
  for i in "${!nodes[@]}"; do [ "${nodes[$i]}" = "$1" ] && { echo "$i"; return; }; done
  echo "unknown node $1 (use v1..v4 or full)" >&2
  exit 2
}

pid_of() { sed -n "$(( $(index_of "$1") + 1 ))p" "$run/pids" 2>/dev/null || true; }

stop_node() {
  local pid
  pid="$(pid_of "$1")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
}

set_pid() {
  local i
  i="$(index_of "$1")"
  touch "$run/pids"
  while [ "$(wc -l < "$run/pids")" -lt "${#nodes[@]}" ]; do echo "" >> "$run/pids"; done
  sed -i "$((i + 1))s/.*/$2/" "$run/pids"
}

start_node() {
  local name="$1" i
  i="$(index_of "$name")"
  # shellcheck disable=SC2046
  nohup $(cat "$run/$name.cmd") >> "$run/$name.log" 2>&1 &
  set_pid "$name" "$!"
}

wait_rpc() {
  local port="$1" name="$2"
  for _ in $(seq 300); do
    if curl -s -m 1 -H 'content-type: application/json' \
      -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' \
      "http://127.0.0.1:$port" 2>/dev/null | grep -q result; then
      return 0
    fi
    sleep 0.1
  done
  echo "$name did not answer on port $port; see $run/$name.log" >&2
  tail -20 "$run/$name.log" >&2 || true
  return 1
}

case "${1:-up}" in
  stop)
    if [ -n "${2:-}" ]; then stop_node "$2"; exit 0; fi
    for n in "${nodes[@]}"; do stop_node "$n"; done
    echo "testnet stopped"
    exit 0
    ;;
  start)
    name="${2:?usage: run.sh start <v1..v4|full>}"
    stop_node "$name"
    start_node "$name"
    wait_rpc "$((http_base + $(index_of "$name")))" "$name"
    exit 0
    ;;
  up) ;;
  *) echo "usage: run.sh [stop [node] | start <node>]" >&2; exit 2 ;;
esac

bin="${DBC_NODE_BIN:-}"
if [ -z "$bin" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbc-target}"
  (cd "$here/.." && cargo build --release --locked -p dbc-node)
  bin="$CARGO_TARGET_DIR/release/dbc-node"
fi

if [ -f "$run/pids" ]; then
  for n in "${nodes[@]}"; do stop_node "$n"; done
fi
rm -rf "$run"
mkdir -p "$run"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$run/password"
chmod 600 "$run/password"

validators=()
for n in v1 v2 v3 v4; do
  addr="$("$bin" account new --keystore "$run/$n" --password-file "$run/password" --name keystore.json 2>/dev/null)"
  validators+=("$addr")
done
gen_args=()
for a in "${validators[@]}"; do gen_args+=(--validator "$a"); done
if [ -n "${CONFIG_DBC:-}" ]; then gen_args+=(--config-dbc "$CONFIG_DBC"); fi
if [ -n "${GAS_LIMIT:-}" ]; then gen_args+=(--gas-limit "$GAS_LIMIT"); fi
# A local test network funds the public test mnemonic's first accounts (the e2e tests sign
# with them); `dbc-node genesis` funds none unless asked.
"$bin" genesis "${gen_args[@]}" --block-time "${BLOCK_TIME:-2}" \
  --epoch-blocks "${EPOCH_BLOCKS:-200}" --dev-accounts "${DEV_ACCOUNTS:-10}" \
  --out "$run/genesis.json" 2>/dev/null

addrs=()
for i in "${!nodes[@]}"; do
  n="${nodes[$i]}"
  id="$("$bin" peer-id --datadir "$run/$n")"
  addrs+=("/ip4/127.0.0.1/tcp/$((p2p_base + i))/p2p/$id")
done

for i in "${!nodes[@]}"; do
  n="${nodes[$i]}"
  boot=()
  for j in "${!nodes[@]}"; do [ "$j" != "$i" ] && boot+=("${addrs[$j]}"); done
  bootnodes="$(IFS=,; echo "${boot[*]}")"
  cmd="$bin --chain $run/genesis.json --datadir $run/$n"
  cmd+=" --http.port $((http_base + i)) --ws.port $((http_base + 1000 + i))"
  cmd+=" --p2p.port $((p2p_base + i)) --bootnodes $bootnodes"
  if [ "$n" != full ]; then
    cmd+=" --validator.keystore $run/$n/keystore.json --validator.password $run/password"
  fi
  echo "$cmd ${NODE_EXTRA_ARGS:-}" > "$run/$n.cmd"
done
for n in "${nodes[@]}"; do start_node "$n"; done
for i in "${!nodes[@]}"; do wait_rpc "$((http_base + i))" "${nodes[$i]}"; done

echo "testnet up: validators ${validators[*]}"
for i in "${!nodes[@]}"; do
  echo "  ${nodes[$i]}: http://127.0.0.1:$((http_base + i))  ws://127.0.0.1:$((http_base + 1000 + i))  pid $(pid_of "${nodes[$i]}")"
done
echo "stop with: $0 stop"
