// eth_subscribe over WebSocket: newHeads, logs (filtered by address) and
// newPendingTransactions. Sends a transaction over HTTP and waits for all three notifications.
import WebSocket from 'ws';
import { ethers } from 'ethers';
import assert from 'node:assert/strict';

const [httpUrl, wsUrl, counter] = process.argv.slice(2);
const KEY = '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba'; // dev account 5
const ws = new WebSocket(wsUrl);
await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });

let nextId = 1;
const pending = new Map();
const subs = new Map();
const seen = { heads: [], logs: [], pending: [] };
ws.on('message', (data) => {
  const msg = JSON.parse(data.toString());
  if (msg.id !== undefined && pending.has(msg.id)) {
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    msg.error ? reject(new Error(JSON.stringify(msg.error))) : resolve(msg.result);
  } else if (msg.method === 'eth_subscription') {
    const kind = subs.get(msg.params.subscription);
    if (kind) seen[kind].push(msg.params.result);
  }
});
const call = (method, params) => new Promise((resolve, reject) => {
  const id = nextId++;
  pending.set(id, { resolve, reject });
  ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
});

subs.set(await call('eth_subscribe', ['newHeads']), 'heads');
subs.set(await call('eth_subscribe', ['logs', { address: counter }]), 'logs');
subs.set(await call('eth_subscribe', ['newPendingTransactions']), 'pending');
// A bad subscription kind is rejected with an error, not a crash.
await assert.rejects(call('eth_subscribe', ['noSuchThing']));

const provider = new ethers.JsonRpcProvider(httpUrl);
const wallet = new ethers.Wallet(KEY, provider);
const iface = new ethers.Interface(['function increment()']);
const tx = await wallet.sendTransaction({ to: counter, data: iface.encodeFunctionData('increment', []) });
const receipt = await tx.wait(1, 60_000);
const deadline = Date.now() + 20_000;
while ((seen.logs.length < 1 || seen.pending.length < 1 || !seen.heads.some((h) => BigInt(h.number) >= BigInt(receipt.blockNumber))) && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 100));
}
assert.ok(seen.pending.includes(tx.hash), `pending hashes ${JSON.stringify(seen.pending)}`);
assert.equal(seen.logs.length, 1);
assert.equal(seen.logs[0].transactionHash, tx.hash);
assert.equal(seen.logs[0].address.toLowerCase(), counter.toLowerCase());
const head = seen.heads.find((h) => BigInt(h.number) === BigInt(receipt.blockNumber));
assert.ok(head && head.hash === receipt.blockHash, 'newHeads carried the receipt block');
assert.ok(head.baseFeePerGas !== undefined);
const unsubscribed = await call('eth_unsubscribe', [[...subs.keys()][0]]);
assert.equal(unsubscribed, true);
ws.close();
console.log(JSON.stringify({ ok: true, heads: seen.heads.length, logs: seen.logs.length, pending: seen.pending.length }));
