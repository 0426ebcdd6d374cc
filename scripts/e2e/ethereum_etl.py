"""Runs ethereum-etl's exporters against a node and checks every output against the node's own
JSON-RPC answers (counts and values). Prints a JSON summary; exits non-zero on any mismatch.

usage: ethereum_etl.py RPC_URL WORKDIR
"""
import csv
import json
import os
import subprocess
import sys

from nodeutil import check, rpc as _rpc

url, work = sys.argv[1], sys.argv[2]


def rpc(method, params):
    return _rpc(url, method, params)


etl = os.path.join(os.path.dirname(sys.executable), "ethereumetl")


def run(*args):
    subprocess.run([etl, *args], check=True, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def rows(name):
    with open(os.path.join(work, name)) as f:
        return list(csv.DictReader(f))


head = int(rpc("eth_blockNumber", []), 16)
rng = ["-s", "0", "-e", str(head), "-p", url]
run("export_blocks_and_transactions", *rng, "--blocks-output", "blocks.csv", "--transactions-output", "transactions.csv")
blocks, txs = rows("blocks.csv"), rows("transactions.csv")
check(len(blocks) == head + 1, f"blocks: {len(blocks)} != {head + 1}")
node_blocks = [rpc("eth_getBlockByNumber", [hex(n), True]) for n in range(head + 1)]
for b in blocks:
    nb = node_blocks[int(b["number"])]
    check(b["hash"] == nb["hash"], f"block hash {b['number']}")
    check(int(b["transaction_count"]) == len(nb["transactions"]), f"tx count {b['number']}")
    check(int(b["gas_used"]) == int(nb["gasUsed"], 16), f"gas used {b['number']}")
    check(int(b["base_fee_per_gas"] or 0) == int(nb["baseFeePerGas"], 16), f"base fee {b['number']}")
node_txs = {t["hash"]: t for nb in node_blocks for t in nb["transactions"]}
check(len(txs) == len(node_txs), f"transactions: {len(txs)} != {len(node_txs)}")
for t in txs:
    nt = node_txs[t["hash"]]
    check(t["from_address"] == nt["from"].lower(), "tx from")
    check(int(t["value"]) == int(nt["value"], 16), "tx value")
    check(int(t["nonce"]) == int(nt["nonce"], 16), "tx nonce")

with open(os.path.join(work, "hashes.txt"), "w") as f:
    f.write("\n".join(t["hash"] for t in txs) + "\n")
run("export_receipts_and_logs", "--transaction-hashes", "hashes.txt", "-p", url, "--receipts-output", "receipts.csv", "--logs-output", "logs.csv")
receipts, logs = rows("receipts.csv"), rows("logs.csv")
check(len(receipts) == len(txs), "receipt count")
for r in receipts:
    nr = rpc("eth_getTransactionReceipt", [r["transaction_hash"]])
    check(int(r["status"]) == int(nr["status"], 16), "receipt status")
    check(int(r["gas_used"]) == int(nr["gasUsed"], 16), "receipt gas")
    check((r["contract_address"] or None) == (nr["contractAddress"] or None), "contract address")
node_logs = rpc("eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(head)}])
check(len(logs) == len(node_logs), f"logs: {len(logs)} != {len(node_logs)}")

run("export_token_transfers", *rng, "--output", "token_transfers.csv")
transfers = rows("token_transfers.csv")
topic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
erc20 = [l for l in node_logs if l["topics"] and l["topics"][0] == topic and len(l["topics"]) == 3]
check(len(transfers) == len(erc20), f"token transfers: {len(transfers)} != {len(erc20)}")
for tt, l in zip(sorted(transfers, key=lambda x: (int(x["block_number"]), int(x["log_index"]))), erc20):
    check(int(tt["value"]) == int(l["data"], 16), "token transfer value")

run("export_geth_traces", *rng, "--output", "geth_traces.json")
with open(os.path.join(work, "geth_traces.json")) as f:
    geth = [json.loads(line) for line in f if line.strip()]
traced = sum(len(bt["transaction_traces"]) for bt in geth)
check(traced == len(txs), f"geth traces: {traced} != {len(txs)}")

run("export_traces", *rng, "--output", "traces.csv", "--no-genesis-traces", "--no-daofork-traces")
parity = rows("traces.csv")
node_traces = sum(len(rpc("trace_block", [hex(n)])) for n in range(head + 1))
check(len(parity) == node_traces, f"parity traces: {len(parity)} != {node_traces}")
internal = [p for p in parity if p["trace_address"] not in ("", "[]")]
print(json.dumps({"ok": True, "blocks": len(blocks), "transactions": len(txs), "logs": len(logs),
                  "token_transfers": len(transfers), "geth_traces": traced, "parity_traces": len(parity),
                  "internal_traces": len(internal)}))
