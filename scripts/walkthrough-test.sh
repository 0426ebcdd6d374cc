#!/usr/bin/env bash
# Runs the AI-dApp walk-through (docs/dapp-walkthrough.md) against a running dev node:
#   scripts/walkthrough-test.sh http://127.0.0.1:8545
# The fenced ```bash blocks preceded by `<!-- walkthrough:run -->` are extracted in order into
# one script, which runs with `bash -euo pipefail` in a fresh temporary directory with
# RPC / ETH_RPC_URL set to the node, DBC_REPO to this checkout and Foundry on PATH. Any failing
# command fails the run; the last block checks the outcome (the provider minted tokens).
# The node needs the dev methods the walk-through uses (`anvil_mine`): `dbc-node --dev`.
set -euo pipefail
RPC_URL="${1:?usage: scripts/walkthrough-test.sh RPC_URL}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
DOC="$REPO/docs/dapp-walkthrough.md"

# Foundry: the platform binaries from npm (./scripts/setup-test.sh), whose exit status is the
# tool's (the npm wrapper in node_modules/.bin exits 0 when forge or cast fail), else whatever
# forge/cast are on PATH (foundryup).
case "$(uname -m)" in
  aarch64 | arm64) arch=arm64 ;;
  *) arch=amd64 ;;
esac
os="$(uname -s | tr '[:upper:]' '[:lower:]')"
for tool in forge cast; do
  dir="$REPO/scripts/node_modules/@foundry-rs/$tool-$os-$arch/bin"
  if [ -x "$dir/$tool" ]; then
    PATH="$dir:$PATH"
  elif ! command -v "$tool" >/dev/null; then
    echo "walkthrough-test: $tool not found: run ./scripts/setup-test.sh" >&2
    exit 1
  fi
done
export PATH

WORK="$(mktemp -d "${TMPDIR:-/tmp}/dbc-walkthrough.XXXXXX")"
SCRIPT="$WORK/walkthrough.sh"

# Extract the marked blocks; a marker must be followed (blank lines aside) by a ```bash fence.
if ! {
  echo "trap 'echo \"walkthrough-test: failed (exit \$?): \$BASH_COMMAND\" >&2' ERR"
  awk '
    /^<!-- walkthrough:run -->[[:space:]]*$/ { armed = 1; start = NR; next }
    armed && /^[[:space:]]*$/ { next }
    armed && /^```bash[[:space:]]*$/ {
      armed = 0; inside = 1; n++
      printf "echo \"== walkthrough block %d (docs/dapp-walkthrough.md line %d)\"\n", n, NR + 1
      next
    }
    armed { printf "walkthrough-test: the marker at line %d is not followed by a ```bash block\n", start > "/dev/stderr"; bad = 1; exit }
    inside && /^```[[:space:]]*$/ { inside = 0; next }
    inside { print }
    END {
      if (bad) exit 2
      if (armed || inside) { print "walkthrough-test: unterminated block at the end of the file" > "/dev/stderr"; exit 2 }
      if (n == 0) { print "walkthrough-test: no marked blocks" > "/dev/stderr"; exit 2 }
    }
  ' "$DOC"
} >"$SCRIPT"; then
  rm -rf "$WORK"
  exit 2
fi
blocks="$(grep -c '^echo "== walkthrough block' "$SCRIPT")"
echo "walkthrough-test: running $blocks blocks of docs/dapp-walkthrough.md in $WORK against $RPC_URL"

status=0
(
  cd "$WORK"
  RPC="$RPC_URL" ETH_RPC_URL="$RPC_URL" DBC_REPO="$REPO" bash -euo pipefail "$SCRIPT"
) || status=$?
if [ "$status" != 0 ]; then
  echo "walkthrough-test: FAILED (exit $status); the extracted script and project are in $WORK" >&2
  exit "$status"
fi
rm -rf "$WORK"
echo "walkthrough-test: all $blocks blocks passed"
