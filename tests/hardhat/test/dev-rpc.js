// Hardhat's dev RPC methods on dbc-node (issue #19 item 1): hardhat_mine, evm_snapshot /
// evm_revert, hardhat_set*, impersonation and time travel, with the semantics anvil has.
//
// dbc-node's one documented deviation: each hardhat_set* edit is sealed into a block of its own
// (every block carries a real state root), so nothing here asserts that a set* call leaves the
// block number alone; the edits are checked on balances, code, storage and nonces instead.
const assert = require("node:assert/strict");
const hre = require("hardhat");
const { ethers } = require("ethers");

const CHAIN_ID = 19888;
const DEV_ADDR_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const DEAD = "0x000000000000000000000000000000000000dEaD";
const BEEF = "0x000000000000000000000000000000000000bEEF";

const rpc = (method, params = []) => hre.network.provider.request({ method, params });
const hex = (n) => "0x" + BigInt(n).toString(16);
const num = (h) => Number(BigInt(h));
const slot = (n) => ethers.toBeHex(n, 32);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const blockNumber = async () => num(await rpc("eth_blockNumber"));
const latestBlock = () => rpc("eth_getBlockByNumber", ["latest", false]);
const balance = async (a) => BigInt(await rpc("eth_getBalance", [a, "latest"]));
const nonce = async (a) => num(await rpc("eth_getTransactionCount", [a, "latest"]));
const code = (a) => rpc("eth_getCode", [a, "latest"]);
const storage = (a, s) => rpc("eth_getStorageAt", [a, slot(s), "latest"]);

async function receipt(hash) {
  const deadline = Date.now() + 60000;
  for (;;) {
    const r = await rpc("eth_getTransactionReceipt", [hash]);
    if (r) return r;
    assert.ok(Date.now() < deadline, `no receipt for ${hash}`);
    await sleep(50);
  }
}

/** Timestamps of blocks `from..=to`, fetched 100 at a time. */
async function timestamps(from, to) {
  const out = [];
  for (let start = from; start <= to; start += 100) {
    const end = Math.min(to, start + 99);
    const blocks = await Promise.all(
      Array.from({ length: end - start + 1 }, (_, i) =>
        rpc("eth_getBlockByNumber", [hex(start + i), false]),
      ),
    );
    for (const b of blocks) out.push(num(b.timestamp));
  }
  return out;
}

/** Everything evm_revert must restore for `accounts`. */
async function snapshotOf(accounts) {
  const head = await latestBlock();
  const state = { number: num(head.number), hash: head.hash };
  for (const a of accounts) {
    state[a] = {
      balance: await balance(a),
      nonce: await nonce(a),
      code: await code(a),
      slot0: await storage(a, 0),
    };
  }
  return state;
}

describe("dbc-node dev RPC through Hardhat", function () {
  // Signers use the node's unlocked accounts: no polling delay, no cached chain reads.
  const provider = new ethers.BrowserProvider(hre.network.provider, CHAIN_ID, {
    cacheTimeout: -1,
    pollingInterval: 50,
  });

  before(async function () {
    assert.equal(num(await rpc("eth_chainId")), CHAIN_ID);
    const accounts = await rpc("eth_accounts");
    assert.equal(accounts.length, 10, `eth_accounts: ${accounts}`);
    assert.equal(ethers.getAddress(accounts[0]), DEV_ADDR_0);
  });

  it("hardhat_mine mines 1000 empty blocks 12 s apart", async function () {
    const before = await latestBlock();
    const started = Date.now();
    await rpc("hardhat_mine", [hex(1000), hex(12)]);
    // The first block comes at the chain's clock (Hardhat, dbc-node) or 12 s after it (anvil);
    // each later one 12 s after its parent: exactly (Hardhat, dbc-node), or plus the wall-clock
    // seconds that pass while anvil mines.
    const slack = Math.ceil((Date.now() - started) / 1000) + 1;
    const after = await latestBlock();
    assert.equal(num(after.number), num(before.number) + 1000);
    assert.equal(after.transactions.length, 0);

    const ts = await timestamps(num(before.number) + 1, num(after.number));
    assert.equal(ts.length, 1000);
    assert.ok(ts[0] > num(before.timestamp), `first block ${ts[0]} not after ${before.timestamp}`);
    let excess = 0;
    for (let i = 1; i < ts.length; i++) {
      const gap = ts[i] - ts[i - 1];
      assert.ok(gap >= 12, `block ${num(before.number) + 1 + i}: ${ts[i]} is ${gap} s after its parent`);
      excess += gap - 12;
    }
    assert.ok(excess <= slack, `the 999 gaps exceed 12 s by ${excess} s in all (> ${slack} s)`);
    assert.ok(ts[999] - ts[0] >= 999 * 12);
    assert.equal(ts[999], num(after.timestamp));

    // Without an interval the blocks are mined all the same (anvil may give them all one
    // timestamp; Hardhat and dbc-node space them 1 s apart).
    await rpc("hardhat_mine", [hex(3)]);
    const three = await latestBlock();
    assert.equal(num(three.number), num(after.number) + 3);
    const [t1, t2, t3] = await timestamps(num(after.number) + 1, num(three.number));
    assert.ok(num(after.timestamp) <= t1 && t1 <= t2 && t2 <= t3, `${after.timestamp} ${t1} ${t2} ${t3}`);
  });

  it("evm_revert undoes a deployment, transactions, set* edits and impersonation exactly", async function () {
    const [a0, a1] = await rpc("eth_accounts");
    const watched = [a0, a1, DEAD, BEEF];
    const before = await snapshotOf(watched);
    assert.equal(before[BEEF].code, "0x");
    assert.equal(before[DEAD].nonce, 0);

    const id = await rpc("evm_snapshot");
    assert.match(id, /^0x[0-9a-f]+$/i);

    // Deploy Counter (compiled by Hardhat from contracts/Counter.sol) from signer 0.
    const artifact = await hre.artifacts.readArtifact("Counter");
    const signer = await provider.getSigner(a0);
    const counter = await new ethers.ContractFactory(artifact.abi, artifact.bytecode, signer).deploy();
    await counter.waitForDeployment();
    const address = await counter.getAddress();
    assert.equal(await code(address), artifact.deployedBytecode);
    const inc = await (await counter.increment()).wait();
    assert.equal(inc.status, 1);
    assert.equal(await counter.count(), 1n);
    const sent = await (await signer.sendTransaction({ to: a1, value: ethers.parseEther("1") })).wait();
    assert.equal(sent.status, 1);
    assert.equal(await nonce(a0), before[a0].nonce + 3);
    assert.equal(await balance(a1), before[a1].balance + ethers.parseEther("1"));

    // State edits (each may be sealed into a block of its own: only the state is checked).
    const hundred = ethers.parseEther("100");
    await rpc("hardhat_setBalance", [DEAD, hex(hundred)]);
    assert.equal(await balance(DEAD), hundred);
    await rpc("hardhat_setNonce", [BEEF, hex(5)]);
    assert.equal(await nonce(BEEF), 5);
    await rpc("hardhat_setCode", [BEEF, artifact.deployedBytecode]);
    assert.equal(await code(BEEF), artifact.deployedBytecode);
    await rpc("hardhat_setStorageAt", [BEEF, slot(0), slot(41)]);
    assert.equal(await storage(BEEF, 0), slot(41));
    assert.equal(await new ethers.Contract(BEEF, artifact.abi, provider).count(), 41n);

    // A transaction from an impersonated account that has no key on the node.
    await rpc("hardhat_impersonateAccount", [DEAD]);
    const data = counter.interface.encodeFunctionData("increment");
    const hash = await rpc("eth_sendTransaction", [{ from: DEAD, to: address, data, gas: hex(100000) }]);
    const r = await receipt(hash);
    assert.equal(num(r.status), 1);
    assert.equal(ethers.getAddress(r.from), ethers.getAddress(DEAD));
    assert.equal(await counter.count(), 2n);
    assert.equal(await nonce(DEAD), 1);
    const fee = BigInt(r.gasUsed) * BigInt(r.effectiveGasPrice);
    assert.equal(await balance(DEAD), hundred - fee);
    await rpc("hardhat_stopImpersonatingAccount", [DEAD]);
    await assert.rejects(
      rpc("eth_sendTransaction", [{ from: DEAD, to: a1, value: hex(1), gas: hex(21000) }]),
      "a transaction from an account no longer impersonated was accepted",
    );
    assert.ok((await blockNumber()) > before.number);

    // Back to the snapshot: head, state and block number exactly as they were.
    assert.equal(await rpc("evm_revert", [id]), true);
    const after = await snapshotOf(watched);
    assert.deepEqual(after, before);
    assert.equal(await code(address), "0x");
    // The id is spent.
    assert.equal(await rpc("evm_revert", [id]), false);

    // The chain goes on from the restored head.
    const again = await (await signer.sendTransaction({ to: a1, value: 1n })).wait();
    assert.equal(again.status, 1);
    assert.equal(again.blockNumber, before.number + 1);
    assert.equal(await nonce(a0), before[a0].nonce + 1);
  });

  it("evm_setNextBlockTimestamp, evm_increaseTime and evm_mine move block time", async function () {
    // A fixed timestamp; the chain's clock goes on from it (so the clock is not behind the
    // head, which blocks sealed in quick succession can leave it).
    const latest = await latestBlock();
    const exact = num(latest.timestamp) + 100;
    const started = Date.now();
    await rpc("evm_setNextBlockTimestamp", [hex(exact)]);
    await rpc("evm_mine");
    const prev = await latestBlock();
    assert.equal(num(prev.number), num(latest.number) + 1);
    assert.equal(num(prev.timestamp), exact);

    // An hour later, give or take the seconds the test takes.
    await rpc("evm_increaseTime", [3600]);
    await rpc("evm_mine");
    const slack = Math.ceil((Date.now() - started) / 1000) + 1;
    const next = await latestBlock();
    assert.equal(num(next.number), num(prev.number) + 1);
    const gap = num(next.timestamp) - num(prev.timestamp);
    assert.ok(gap >= 3600 && gap <= 3600 + slack, `evm_increaseTime(3600): the next block came ${gap} s later`);

    // evm_mine with a timestamp.
    await rpc("evm_mine", [num(next.timestamp) + 7]);
    const mined = await latestBlock();
    assert.equal(num(mined.number), num(next.number) + 1);
    assert.equal(num(mined.timestamp), num(next.timestamp) + 7);
  });
});
