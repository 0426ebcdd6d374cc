"""Collects blocks, transactions and logs with cryo's Python API and checks them against the
node's JSON-RPC answers. Prints a JSON summary; exits non-zero on any mismatch.

usage: cryo_check.py RPC_URL
"""
import json
import sys

import cryo

from nodeutil import check, rpc as _rpc

url = sys.argv[1]


def rpc(method, params):
    return _rpc(url, method, params)


head = int(rpc("eth_blockNumber", []), 16)
span = [f"0:{head + 1}"]
blocks = cryo.collect("blocks", blocks=span, rpc=url, output_format="pandas")
txs = cryo.collect("transactions", blocks=span, rpc=url, output_format="pandas")
logs = cryo.collect("logs", blocks=span, rpc=url, output_format="pandas")

node_blocks = [rpc("eth_getBlockByNumber", [hex(n), True]) for n in range(head + 1)]
check(len(blocks) == head + 1, f"blocks {len(blocks)} != {head + 1}")
for _, b in blocks.iterrows():
    nb = node_blocks[int(b["block_number"])]
    check("0x" + bytes(b["block_hash"]).hex() == nb["hash"], f"hash of {b['block_number']}")
    check(int(b["gas_used"]) == int(nb["gasUsed"], 16), f"gas of {b['block_number']}")
node_txs = {t["hash"]: t for nb in node_blocks for t in nb["transactions"]}
check(len(txs) == len(node_txs), f"transactions {len(txs)} != {len(node_txs)}")
for _, t in txs.iterrows():
    nt = node_txs["0x" + bytes(t["transaction_hash"]).hex()]
    check("0x" + bytes(t["from_address"]).hex() == nt["from"].lower(), "tx from")
    check(int(t["nonce"]) == int(nt["nonce"], 16), "tx nonce")
node_logs = rpc("eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(head)}])
check(len(logs) == len(node_logs), f"logs {len(logs)} != {len(node_logs)}")
node_keys = sorted((int(l["blockNumber"], 16), int(l["logIndex"], 16), l["address"].lower()) for l in node_logs)
cryo_keys = sorted((int(r["block_number"]), int(r["log_index"]), "0x" + bytes(r["address"]).hex()) for _, r in logs.iterrows())
check(node_keys == cryo_keys, "log positions and addresses")
print(json.dumps({"ok": True, "blocks": len(blocks), "transactions": len(txs), "logs": len(logs)}))
