#!/usr/bin/env bash
# Runs dbc-bench's end-to-end load against dbc-node and anvil (from npm) on this machine, three
# times per workload and node, and prints the medians and the dbc-node/anvil ratios.
#
# Usage: ./scripts/bench-vs-anvil.sh [--instant]   (default: 1 s blocks)
#        WORKLOADS=erc20 ./scripts/bench-vs-anvil.sh  (only some workloads: native, erc20)
#
# With 1 s blocks a burst is included at the first block boundary after it has been accepted, so
# its end-to-end time depends on where in the slot it starts. Each run therefore sends one burst
# at each of four start phases (0, ¼, ½ and ¾ of a slot after a block, on the same node) and
# counts all included transactions over the summed end-to-end time. Phase 0 alone is the worst
# case for the faster node: both have the whole slot to accept the burst.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-test.sh >/dev/null
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbc-target}"
cargo build --release --locked -q -p dbc-node -p dbc-bench
(cd contracts && ../scripts/node_modules/.bin/forge build --quiet)
BIN="$CARGO_TARGET_DIR/release"
# The platform binary itself, not npm's launcher: killing the launcher can leave anvil running
# (and holding the port).
ANVIL=$(ls scripts/node_modules/@foundry-rs/anvil-*/bin/anvil 2>/dev/null | head -1)
ANVIL=${ANVIL:-scripts/node_modules/.bin/anvil}
MODE="${1:-}"
RUNS=3
PHASES="0 0.25 0.5 0.75"
[ "$MODE" = --instant ] && PHASES="none"
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT

start_node() { # name port
  if [ "$1" = dbc ]; then
    local extra=(--dev.block-time 1s); [ "$MODE" = --instant ] && extra=(--dev.instant)
    "$BIN/dbc-node" --dev --datadir "$OUT/db-$RANDOM" --dev.accounts 1000 "${extra[@]}" \
      --builder.gaslimit 1000000000 --http.port "$2" --ws.port $(( $2 + 1 )) --log.filter warn >"$OUT/node.log" 2>&1 &
  else
    local extra=(--block-time 1); [ "$MODE" = --instant ] && extra=()
    "$ANVIL" --accounts 1000 "${extra[@]}" --gas-limit 1000000000 --port "$2" --silent >"$OUT/node.log" 2>&1 &
  fi
  NODE_PID=$!
  for _ in $(seq 1 100); do
    curl -sf -XPOST "127.0.0.1:$2" -H 'content-type: application/json' \
      -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}' >/dev/null && return 0
    sleep 0.2
  done
  echo "node $1 did not start" >&2; exit 1
}

# Median of the numbers on stdin; runs that did not finish are absent, so fewer than all runs
# finishing is shown as "did not finish".
median() { sort -n | awk -v runs="$RUNS" '{a[NR]=$1} END { if (NR < runs) print "dnf"; else print a[int((NR+1)/2)] }'; }
stop_node() {
  kill "$NODE_PID" 2>/dev/null || true; wait "$NODE_PID" 2>/dev/null || true
  # Wait until the port is free for the next node.
  for _ in $(seq 1 50); do
    curl -s -m 1 -XPOST "127.0.0.1:$1" >/dev/null 2>&1 || return 0
    sleep 0.2
  done
}
field() { sed -n "s/.*$1.*/\\1/p"; }

for workload in "native 20000 1000" "erc20 10000 500"; do
  set -- $workload
  case " ${WORKLOADS:-native erc20} " in *" $1 "*) ;; *) continue ;; esac
  for node in dbc anvil; do
    : >"$OUT/$node-$1.e2e"; : >"$OUT/$node-$1.intake"
    for run in $(seq 1 $RUNS); do
      start_node "$node" 28600
      included=0; seconds=0; finished=1
      for phase in $PHASES; do
        args=(); [ "$phase" != none ] && args=(--phase "$phase")
        line=$(timeout 180 "$BIN/dbc-bench" load --rpc 127.0.0.1:28600 --kind "$1" --txs "$2" --senders "$3" --timeout 120 "${args[@]}" 2>/dev/null | tail -1 || true)
        echo "$node $1 run $run: ${line:-no result (timed out)}"
        n=$(echo "$line" | field '(\([0-9]*\) included in [0-9.]*s.*'); s=$(echo "$line" | field '([0-9]* included in \([0-9.]*\)s.*')
        if [ -n "$n" ] && [ -n "$s" ] && [ "$n" -eq "$2" ]; then
          included=$(( included + n )); seconds=$(awk -v a="$seconds" -v b="$s" 'BEGIN{print a+b}')
          [ "$phase" != none ] && echo "$s" >>"$OUT/$node-$1-phase-$phase"
        else
          finished=0
        fi
        echo "$line" | field '.*intake \([0-9]*\) tx\/s.*' >>"$OUT/$node-$1.intake"
      done
      stop_node 28600
      [ "$finished" = 1 ] && awk -v n="$included" -v s="$seconds" 'BEGIN{printf "%.0f\n", n/s}' >>"$OUT/$node-$1.e2e"
    done
  done
  d=$(median <"$OUT/dbc-$1.e2e"); a=$(median <"$OUT/anvil-$1.e2e")
  di=$(median <"$OUT/dbc-$1.intake"); ai=$(median <"$OUT/anvil-$1.intake")
  if [ "$MODE" != --instant ]; then
    for phase in $PHASES; do
      echo "   $1 phase $phase: median end-to-end seconds dbc-node $(median <"$OUT/dbc-$1-phase-$phase"), anvil $(median <"$OUT/anvil-$1-phase-$phase")"
    done
  fi
  echo "== $1: median end-to-end dbc-node ${d:-?} tx/s, anvil ${a:-?} tx/s, ratio $(awk -v d="$d" -v a="$a" 'BEGIN{ if (a+0>0 && d+0>0) printf "%.2f", d/a; else print "n/a" }'); intake dbc-node ${di:-?}, anvil ${ai:-?}"
done
