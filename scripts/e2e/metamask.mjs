// MetaMask's sequence against a running node, with viem: add the network (eth_chainId),
// detect EIP-1559 from `baseFeePerGas`, read balance/code/gas price/nonce at a numbered block,
// estimate without a block tag, send an EIP-1559 transfer, poll the receipt, read the
// transaction and its block by hash, check the balances. Exits non-zero on any mismatch.
import { createPublicClient, createWalletClient, http, parseEther, defineChain } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import assert from 'node:assert/strict';

const url = process.argv[2];
const chainIdExpected = Number(process.argv[3]);
const KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'; // dev account 1
const TO = '0x000000000000000000000000000000000000dEaD';

const raw = async (method, params) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
};

// 1. "Add network": MetaMask checks the chain id the user typed against eth_chainId.
const chainIdHex = await raw('eth_chainId', []);
assert.equal(Number(chainIdHex), chainIdExpected);
const chain = defineChain({ id: chainIdExpected, name: 'dbc-dev', nativeCurrency: { name: 'DBC', symbol: 'DBC', decimals: 18 },
  rpcUrls: { default: { http: [url] } } });
const pub = createPublicClient({ chain, transport: http(url) });
const account = privateKeyToAccount(KEY);
const wallet = createWalletClient({ account, chain, transport: http(url) });

// 2. EIP-1559 detection.
const latest = await raw('eth_getBlockByNumber', ['latest', false]);
assert.ok(latest.baseFeePerGas !== undefined, 'latest block must carry baseFeePerGas');
await raw('net_version', []);
const before = await pub.getBalance({ address: account.address });
const toBefore = await pub.getBalance({ address: TO });
assert.equal(await raw('eth_getCode', [TO, 'latest']), '0x');
await raw('eth_gasPrice', []);
const nonceAtNumber = await raw('eth_getTransactionCount', [account.address, latest.number]);
// 3. Estimate with no block tag, as MetaMask does.
const gas = await raw('eth_estimateGas', [{ from: account.address, to: TO, value: '0xde0b6b3a7640000' }]);
assert.equal(Number(gas), 21000);

// 4. EIP-1559 transfer.
const value = parseEther('1.5');
const hash = await wallet.sendTransaction({ to: TO, value, type: 'eip1559' });
const receipt = await pub.waitForTransactionReceipt({ hash, pollingInterval: 200, timeout: 60_000 });
assert.equal(receipt.status, 'success');
assert.equal(receipt.type, 'eip1559');
const tx = await raw('eth_getTransactionByHash', [hash]);
assert.equal(tx.hash, hash);
assert.equal(Number(tx.nonce), Number(nonceAtNumber));
const block = await raw('eth_getBlockByHash', [receipt.blockHash, false]);
assert.ok(block.transactions.includes(hash));

// 5. Balances: the recipient got the value, the sender paid value + gas.
const after = await pub.getBalance({ address: account.address });
const toAfter = await pub.getBalance({ address: TO });
assert.equal(toAfter - toBefore, value);
assert.equal(before - after, value + receipt.gasUsed * receipt.effectiveGasPrice);
console.log(JSON.stringify({ ok: true, hash, block: Number(receipt.blockNumber), gasUsed: Number(receipt.gasUsed) }));
