"""Helpers shared by the indexer checks: JSON-RPC calls and assertion reporting."""
import json
import sys
import urllib.request


def rpc(url, method, params):
    req = urllib.request.Request(url, data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode(),
                                 headers={"content-type": "application/json"})
    body = json.load(urllib.request.urlopen(req))
    if "error" in body:
        raise RuntimeError(f"{method}: {body['error']}")
    return body["result"]


def check(cond, what):
    if not cond:
        print(json.dumps({"ok": False, "failed": what}))
        sys.exit(1)
