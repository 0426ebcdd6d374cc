#!/usr/bin/env bash
# Installs what testing dbc-node needs on top of scripts/setup.sh: Node.js, the npm tooling
# (Foundry's forge/cast/anvil, solc-js, viem, ethers, puppeteer-core), Chromium (the web app's
# headless-browser test), podman and what dbc-agent's container tests build their image from,
# ponder, Hardhat (tests/hardhat), and the Python indexers (ethereum-etl, cryo) and
# prometheus_client. Idempotent: does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
if ! command -v node >/dev/null; then
  echo "setup: installing nodejs npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
# Debian's Chromium: scripts/e2e/webapp.mjs drives the web app (webapp/) in it, headless,
# through puppeteer-core (which downloads no browser of its own).
if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing chromium"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# Container runtime and the pieces of dbc-agent's container tests' image (built locally, no
# registry: bin/dbc-agent/tests/data/build-test-image.sh): podman with runc, busybox, dropbear,
# and the ssh client that logs into it. On hosts where podman's default runtime (crun) cannot
# set rlimits (e.g. inside a restricted VM or container), the tests use runc through
# bin/dbc-agent/tests/data/containers.conf; run podman by hand with
# CONTAINERS_CONF=$PWD/bin/dbc-agent/tests/data/containers.conf there.
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v busybox >/dev/null \
  || ! { command -v dropbear >/dev/null || [ -x /usr/sbin/dropbear ]; } || ! command -v ssh >/dev/null; then
  echo "setup: installing podman runc busybox-static dropbear-bin openssh-client"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq podman runc busybox-static dropbear-bin openssh-client >/dev/null
fi

# npm tooling, pinned by package-lock.json.
if [ ! -x scripts/node_modules/.bin/forge ] || [ scripts/package-lock.json -nt scripts/node_modules/.package-lock.json ]; then
  echo "setup: installing npm tooling (forge, cast, anvil, solc-js, viem, ethers, puppeteer-core)"
  (cd scripts && npm install --no-audit --no-fund --loglevel=error)
fi
# ponder (an indexer the explorer tests run), pinned by its own package-lock.json.
if [ ! -x scripts/ponder/node_modules/.bin/ponder ] || [ scripts/ponder/package-lock.json -nt scripts/ponder/node_modules/.package-lock.json ]; then
  echo "setup: installing ponder into scripts/ponder"
  (cd scripts/ponder && npm install --no-audit --no-fund --loglevel=error)
fi
# Hardhat (tests/hardhat: the Hardhat project run against the node), pinned by its own
# package-lock.json; `npm ci` installs exactly the lockfile and never rewrites it.
if [ ! -x tests/hardhat/node_modules/.bin/hardhat ] || [ tests/hardhat/package-lock.json -nt tests/hardhat/node_modules/.package-lock.json ]; then
  echo "setup: installing hardhat into tests/hardhat"
  (cd tests/hardhat && npm ci --no-audit --no-fund --loglevel=error)
fi
# Python indexers for the explorer tests (ethereum-etl 2.4.2 needs parsimonious 0.9 on 3.11).
if [ ! -x scripts/.venv/bin/ethereumetl ]; then
  echo "setup: installing ethereum-etl into scripts/.venv"
  python3 -m venv scripts/.venv
  scripts/.venv/bin/pip install -q --disable-pip-version-check ethereum-etl==2.4.2
  scripts/.venv/bin/pip install -q --disable-pip-version-check --no-deps parsimonious==0.9.0 regex
fi
if ! scripts/.venv/bin/python -c "import cryo, pandas, pyarrow, polars" 2>/dev/null; then
  echo "setup: installing cryo into scripts/.venv"
  scripts/.venv/bin/pip install -q --disable-pip-version-check cryo polars pyarrow pandas
fi
# prometheus_client: its text-format parser checks the node's /metrics (scripts/e2e/prom_check.py).
if ! scripts/.venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('prometheus_client') != '0.21.1')" 2>/dev/null; then
  echo "setup: installing prometheus_client into scripts/.venv"
  scripts/.venv/bin/pip install -q --disable-pip-version-check prometheus_client==0.21.1
fi
scripts/node_modules/.bin/forge --version | head -1
scripts/solc --version | tail -1
