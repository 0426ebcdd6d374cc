// Hardhat project whose tests run against a dbc-node dev chain (`dbc-node --dev --dev.instant`)
// or anvil: `scripts/hardhat-test.sh URL` (issue #19 item 1).
const path = require("node:path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

// The Solidity compiler is the solc-js that hardhat itself depends on (solc 0.8.26), so
// compiling needs no download from binaries.soliditylang.org (the test machines are offline).
// Hardhat's documented way to use a compiler of one's own: override this subtask.
const fromHardhat = { paths: [path.dirname(require.resolve("hardhat/package.json"))] };
const SOLC_DIR = path.dirname(require.resolve("solc/package.json", fromHardhat));
const SOLC_VERSION = require(path.join(SOLC_DIR, "package.json")).version;

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  // "0.8.26+commit.8a97fa7a.Emscripten.clang" -> "0.8.26+commit.8a97fa7a"
  const longVersion = require(SOLC_DIR).version().replace(/\.Emscripten\.clang$/, "");
  return {
    compilerPath: path.join(SOLC_DIR, "soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion,
  };
});

/** @type {import("hardhat/config").HardhatUserConfig} */
module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: { evmVersion: "cancun", optimizer: { enabled: true, runs: 200 } },
  },
  defaultNetwork: "dbc",
  networks: {
    dbc: {
      url: process.env.DBC_RPC_URL || "http://127.0.0.1:8545",
      chainId: 19888,
      // Signers are the node's unlocked dev accounts (eth_accounts + eth_sendTransaction).
      accounts: "remote",
      timeout: 120000,
    },
  },
  mocha: { timeout: 180000 },
  paths: { root: path.resolve(__dirname) },
};
