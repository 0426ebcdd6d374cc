import { createConfig } from "ponder";
import { http, erc20Abi } from "viem";

// Everything comes from the environment so the test can point it at any node and token.
export default createConfig({
  database: { kind: "pglite", directory: process.env.PONDER_PGLITE_DIR ?? ".ponder/pglite" },
  networks: {
    dbc: {
      chainId: Number(process.env.PONDER_CHAIN_ID ?? 19888),
      transport: http(process.env.PONDER_RPC_URL ?? "http://127.0.0.1:8545"),
      pollingInterval: 250,
    },
  },
  contracts: {
    Token: {
      network: "dbc",
      abi: erc20Abi,
      address: process.env.PONDER_TOKEN as `0x${string}`,
      startBlock: Number(process.env.PONDER_START_BLOCK ?? 0),
      includeTransactionReceipts: true,
    },
  },
});
