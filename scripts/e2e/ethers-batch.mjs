// ethers v6 batches concurrent requests into JSON-RPC arrays by default. This script issues a
// burst of reads and a transfer through one provider and checks every answer.
import { ethers } from 'ethers';
import assert from 'node:assert/strict';

const url = process.argv[2];
const chainId = BigInt(process.argv[3]);
const KEY = '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a'; // dev account 2
const provider = new ethers.JsonRpcProvider(url, undefined, { batchMaxCount: 100, staticNetwork: false });
const wallet = new ethers.Wallet(KEY, provider);

// Count the batches actually sent, to prove batching happened.
let batches = 0;
const origSend = provider._send.bind(provider);
provider._send = async (payload) => {
  if (Array.isArray(payload) && payload.length > 1) batches += 1;
  return origSend(payload);
};

const [network, blockNumber, balance, feeData, nonce, code, block] = await Promise.all([
  provider.getNetwork(),
  provider.getBlockNumber(),
  provider.getBalance(wallet.address),
  provider.getFeeData(),
  provider.getTransactionCount(wallet.address, 'pending'),
  provider.getCode('0x4e59b44847b379578588920ca78fbf26c0b4956c'),
  provider.getBlock('latest'),
]);
assert.equal(network.chainId, chainId);
assert.ok(blockNumber >= 0);
assert.ok(balance > 0n);
assert.ok(feeData.maxFeePerGas > 0n);
assert.ok(code.length > 2, 'CREATE2 deployer predeployed');
assert.ok(block.baseFeePerGas !== null);

const to = ethers.Wallet.createRandom().address;
const tx = await wallet.sendTransaction({ to, value: ethers.parseEther('0.25'), nonce });
const receipt = await tx.wait(1, 60_000);
assert.equal(receipt.status, 1);
const [toBalance, logs] = await Promise.all([
  provider.getBalance(to),
  provider.getLogs({ fromBlock: 0, toBlock: 'latest', address: to }),
]);
assert.equal(toBalance, ethers.parseEther('0.25'));
assert.equal(logs.length, 0);
assert.ok(batches >= 1, `expected batched requests, saw ${batches}`);
console.log(JSON.stringify({ ok: true, batches, hash: tx.hash }));
