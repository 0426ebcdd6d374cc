// The market web app (webapp/) in headless Chromium, driven as a user clicks, against a running
// dbc-node with an online machine:
//
//   node scripts/e2e/webapp.mjs <rpcUrl> <webappUrl> <screenshotDir> <machineIdHex>
//
// The node must allow the web app's origin (`--http.corsdomain`). Before any page script runs, a
// test wallet is injected as `window.ethereum` (EIP-1193): it answers `eth_requestAccounts` /
// `eth_accounts` with a dev account and forwards every other request to the node, whose dev mode
// has the dev accounts unlocked, so `eth_sendTransaction` is sent as is (if the node refuses it,
// the transaction is signed here with viem instead). Steps: connect; the network stats equal
// `dbc_networkStats` at the block the page read; the machine's row; the rent dialog's cost
// equals `quote` and its burn share is the burn rate's; a bad duration and a wallet rejection
// show in the status area; rent; "My rentals" shows the rental active; Extend; End; it shows
// ended and `dbc_getRental` agrees; the owner's "My machines" and its rewards, and Claim. A
// screenshot after each step goes to <screenshotDir> (paths printed). Exits non-zero on any
// mismatch, always closing the browser.
import puppeteer from 'puppeteer-core';
import {
  createWalletClient, defineChain, encodeFunctionData, formatEther, http, parseAbi,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import fs from 'node:fs';
import path from 'node:path';

const [rpcUrl, webappUrl, shotDir, machineArg] = process.argv.slice(2);
if (!machineArg || !/^0x[0-9a-fA-F]{64}$/.test(machineArg)) {
  console.error('usage: node scripts/e2e/webapp.mjs <rpcUrl> <webappUrl> <screenshotDir> <machineIdHex>');
  process.exit(2);
}
const machineId = machineArg.toLowerCase();
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const MARKET = '0x0000000000000000000000000000000000000D01';
// Dev accounts of the test mnemonic (public keys): 1 is the injected wallet's account unless it
// owns the machine (the market refuses OwnMachine), then 5, MarketE2E's renter.
const DEV = {
  '0x70997970c51812dc3a010c7d01b50e0d17dc79c8':
    '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d', // dev account 1
  '0x9965507d1a55bcc2695c58ba16fb37d819b0a4dc':
    '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba', // dev account 5
};
const ABI = parseAbi([
  'function quote(bytes32 machineId, uint32 gpus, uint64 blocks) view returns (uint256)',
  'function rent(bytes32 machineId, uint32 gpus, uint64 blocks) payable returns (uint256)',
]);

class Mismatch extends Error {}
const fail = (msg) => { throw new Mismatch(msg); };
const check = (cond, msg) => { if (!cond) fail(msg); };
const same = (a, b, what) => check(a === b, `${what}: page shows ${a}, node says ${b}`);
const tid = (id) => `[data-testid="${id}"]`;
const lower = (a) => (a ?? '').toLowerCase();

let rpcId = 1;
async function rpc(method, params = []) {
  const res = await fetch(rpcUrl, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: rpcId++, method, params }),
  });
  const body = await res.json();
  if (body.error) {
    throw Object.assign(new Error(`${method}: ${body.error.message}`), { rpc: body.error });
  }
  return body.result;
}
const quote = async (gpus, blocks) => BigInt(await rpc('eth_call', [{
  to: MARKET, data: encodeFunctionData({ abi: ABI, functionName: 'quote', args: [machineId, gpus, blocks] }),
}, 'latest']));
/** Displayed DBC ("1,234.5 DBC") as viem's formatEther writes it ("1234.5"). */
const plainDbc = (text) => text.replace(/ DBC$/, '').replaceAll(',', '');
/** A total is shown to 4 decimals, cut (the exact amount is in its title and data-value). */
function sameTruncated(text, wei, what) {
  const exact = formatEther(wei);
  const [int, frac = ''] = exact.split('.');
  const cut = frac.slice(0, 4).replace(/0+$/, '');
  same(plainDbc(text), cut ? `${int}.${cut}` : int, `${what} (exact ${exact})`);
}

const shots = [];
let step = 0;
async function shot(page, name) {
  step += 1;
  const file = path.join(shotDir, `${String(step).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  shots.push(file);
  console.log(`screenshot: ${file}`);
}

/** Waits until `fn(arg)` is truthy in the page; a timeout names what and the status area. */
async function waitFor(page, what, fn, arg, timeout = 60_000) {
  try {
    return await page.waitForFunction(fn, { timeout, polling: 100 }, arg);
  } catch (e) {
    const status = await statusOf(page).catch(() => '?');
    fail(`timed out waiting for ${what} (status area: ${status}; ${e.message})`);
  }
}
const statusOf = (page) => page.$eval(tid('status'), (el) => `[${el.dataset.kind}] ${el.textContent}`);

/** The test wallet, injected before any page script (runs in the page). */
function injectWallet(rpcUrl, account) {
  let authorised = false;
  let id = 0;
  const listeners = {};
  const err = (code, message, data) => Object.assign(new Error(message), { code, data });
  window.__wallet = { rejectNext: false, requests: [] };
  window.ethereum = {
    isDbcTestWallet: true,
    async request({ method, params = [] }) {
      window.__wallet.requests.push(method);
      if (method === 'eth_requestAccounts') {
        authorised = true;
        return [account];
      }
      if (method === 'eth_accounts') return authorised ? [account] : [];
      if (method === 'eth_sendTransaction') {
        if (!authorised) throw err(4100, 'Unauthorized: call eth_requestAccounts first');
        if (window.__wallet.rejectNext) {
          window.__wallet.rejectNext = false;
          throw err(4001, 'User rejected the request.');
        }
        if ((params[0]?.from ?? '').toLowerCase() !== account.toLowerCase()) {
          throw err(4100, `from is not the connected account ${account}`);
        }
      }
      const res = await fetch(rpcUrl, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
      });
      const body = await res.json();
      if (body.error) {
        if (method === 'eth_sendTransaction' && typeof window.__signAndSend === 'function'
          && /unknown account|not unlocked|no signer|unlocked/i.test(body.error.message)) {
          window.__wallet.requests.push('signed-in-node');
          return window.__signAndSend(params[0]);
        }
        throw err(body.error.code, body.error.message, body.error.data);
      }
      return body.result;
    },
    on(event, fn) { (listeners[event] ||= []).push(fn); },
    removeListener(event, fn) { listeners[event] = (listeners[event] || []).filter((f) => f !== fn); },
  };
}

async function openApp(browser, account, pageErrors) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1360, height: 900 });
  page.on('pageerror', (e) => pageErrors.push(`${account}: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') console.log(`  [page console] ${m.text()}`); });
  await page.evaluateOnNewDocument(injectWallet, rpcUrl, account);
  const key = DEV[lower(account)];
  if (key) {
    // Fallback if the node does not sign for the account: viem signs here.
    const chain = defineChain({
      id: Number(await rpc('eth_chainId')), name: 'dbc', nativeCurrency: { name: 'DBC', symbol: 'DBC', decimals: 18 },
      rpcUrls: { default: { http: [rpcUrl] } },
    });
    const wallet = createWalletClient({ account: privateKeyToAccount(key), chain, transport: http(rpcUrl) });
    await page.exposeFunction('__signAndSend', (tx) => wallet.sendTransaction({
      to: tx.to, data: tx.data, value: tx.value ? BigInt(tx.value) : 0n,
    }));
  }
  const url = new URL(webappUrl);
  url.searchParams.set('rpc', rpcUrl);
  url.searchParams.set('refresh', '0');
  await page.goto(url.href, { waitUntil: 'load' });
  await waitFor(page, 'the network stats', () =>
    document.querySelector('[data-testid="stats"]')?.dataset.loaded === 'true');
  return page;
}

async function connect(page, account) {
  await page.click(tid('connect'));
  await waitFor(page, `the account ${account}`, (a) =>
    document.querySelector('[data-testid="account"]').dataset.address.toLowerCase() === a,
  lower(account));
  await waitFor(page, 'the account\'s rewards', () =>
    document.querySelector('[data-testid="rewards"]').dataset.loaded === 'true');
}

/** The stats shown equal `dbc_networkStats` at the block the page read them at. */
async function checkStats(page) {
  const shown = await page.$$eval('[data-testid^="stat-"]', (els) => Object.fromEntries(
    els.map((el) => [el.dataset.testid.slice(5), { value: el.dataset.value, text: el.textContent }])));
  const block = await page.$eval(tid('stats'), (el) => el.dataset.block);
  const s = await rpc('dbc_networkStats', [block]);
  for (const k of ['totalGpus', 'onlineGpus', 'rentedGpus', 'machines']) {
    same(shown[k].value, BigInt(s[k]).toString(), `${k} at ${block}`);
    same(shown[k].text, BigInt(s[k]).toString(), `${k} text`);
  }
  same(shown.burnRate.value, String(s.burnRateBps), 'burn rate (bps)');
  same(shown.burnRate.text, `${s.burnRateBps / 100} %`, 'burn rate text');
  for (const k of ['totalBurned', 'rewardsDistributed', 'rewardPoolRemaining']) {
    same(shown[k].value, BigInt(s[k]).toString(), `${k} (wei) at ${block}`);
    sameTruncated(shown[k].text, BigInt(s[k]), `${k} text`);
  }
  return { block, stats: s };
}

async function setInput(page, selector, value) {
  await page.focus(selector);
  await page.keyboard.down('Control');
  await page.keyboard.press('KeyA');
  await page.keyboard.up('Control');
  await page.keyboard.press('Backspace');
  await page.type(selector, String(value));
}

/** Clicks `selector` and waits until the status area leaves `pending` for ok or error. */
async function clickAndSettle(page, selector, what, timeout = 180_000) {
  await page.$eval(tid('status'), (el) => { el.dataset.kind = 'test-idle'; });
  await page.click(selector);
  await waitFor(page, what, () => ['ok', 'error', 'warn'].includes(
    document.querySelector('[data-testid="status"]').dataset.kind), undefined, timeout);
  return page.$eval(tid('status'), (el) => ({ kind: el.dataset.kind, text: el.textContent }));
}

async function main() {
  fs.mkdirSync(shotDir, { recursive: true });
  const machine = await rpc('dbc_getMachine', [machineId]);
  check(machine, `machine ${machineId} is not registered`);
  check(machine.status === 'online', `machine ${machineId} is ${machine.status}, not online`);
  const owner = lower(machine.owner);
  const renter = owner === '0x70997970c51812dc3a010c7d01b50e0d17dc79c8'
    ? '0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc' // dev account 5
    : '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'; // dev account 1
  console.log(`machine ${machineId} (owner ${machine.owner}); renting as ${renter}`);

  // A duration the market takes: a multiple of its rentUnitBlocks within maxRentBlocks.
  let blocks = null;
  for (const b of [600n, 100n, 10n]) {
    const q = await quote(1, b);
    const data = encodeFunctionData({ abi: ABI, functionName: 'rent', args: [machineId, 1, b] });
    try {
      await rpc('eth_call', [{ from: renter, to: MARKET, data, value: `0x${q.toString(16)}` }, 'latest']);
      blocks = b;
      break;
    } catch (e) {
      console.log(`  ${b} blocks: ${e.message}`);
    }
  }
  check(blocks !== null, 'no duration of 600, 100 or 10 blocks can be rented');
  console.log(`renting 1 GPU for ${blocks} blocks`);

  const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  const pageErrors = [];
  let page = null;
  try {
    // 1. Open the app.
    page = await openApp(browser, renter, pageErrors);
    await shot(page, 'loaded');

    // 2. Connect the wallet.
    await connect(page, renter);
    await shot(page, 'connected');

    // 3. The stats equal the node's.
    const { block } = await checkStats(page);
    console.log(`stats match dbc_networkStats at block ${BigInt(block)}`);

    // 4. The machine's row; only online machines have a Rent button.
    const row = `tr[data-testid="machine-row"][data-machine-id="${machineId}"]`;
    await waitFor(page, `the row of ${machineId}`, (s) => document.querySelector(s), row);
    const cells = await page.$eval(row, (tr) => ({
      status: tr.dataset.status,
      gpus: tr.querySelector('[data-testid="machine-gpus"]').textContent,
      price: tr.querySelector('[data-testid="machine-price"]').dataset.wei,
      model: tr.querySelector('[data-testid="machine-model"]').textContent,
      rent: !!tr.querySelector('[data-testid="rent-button"]'),
    }));
    const atBlock = await rpc('dbc_getMachine', [machineId, block]);
    same(cells.status, atBlock.status, 'machine status');
    same(cells.gpus, `${atBlock.rentedGpus}/${atBlock.spec.gpuCount}`, 'machine GPUs');
    same(cells.price, BigInt(atBlock.pricePerGpuBlock).toString(), 'price per GPU per block');
    check(cells.model.startsWith(atBlock.spec.gpuModel), `model ${cells.model}`);
    check(cells.rent, 'the online machine has no Rent button');
    // Rent buttons on exactly the online machines the account does not own.
    const rentable = (p) => p.$$eval('tr[data-testid="machine-row"]', (rows) => rows
      .filter((r) => (r.dataset.status === 'online' && r.dataset.mine !== 'true')
        !== !!r.querySelector('[data-testid="rent-button"]'))
      .map((r) => r.dataset.machineId));
    const wrong = await rentable(page);
    check(wrong.length === 0, `Rent button missing or on a machine not rentable: ${wrong}`);
    await shot(page, 'machines');

    // 5. The rent dialog quotes 1 GPU for `blocks`: cost = quote, burn = burn rate × cost.
    await page.click(`${row} ${tid('rent-button')}`);
    await waitFor(page, 'the rent dialog', () => document.querySelector('[data-testid="rent-dialog"]').open);
    await setInput(page, tid('rent-gpus'), 1);
    await setInput(page, tid('rent-blocks'), blocks);
    await page.click(tid('rent-quote'));
    await waitFor(page, 'the quote', (f) =>
      document.querySelector('[data-testid="rent-cost"]').dataset.for === f, `1:${blocks}`);
    const q = await quote(1, blocks);
    const bps = BigInt((await rpc('dbc_networkStats')).burnRateBps);
    const shown = await page.evaluate(() => {
      const el = (id) => document.querySelector(`[data-testid="${id}"]`);
      return {
        cost: el('rent-cost').dataset.wei, costText: el('rent-cost').textContent,
        burn: el('rent-burn').dataset.wei, burnText: el('rent-burn').textContent,
        unit: el('rent-unit').dataset.unit,
      };
    });
    same(shown.cost, q.toString(), 'cost (wei)');
    same(plainDbc(shown.costText), formatEther(q), 'cost text');
    same(shown.burn, (q * bps / 10000n).toString(), 'burn share (wei)');
    same(plainDbc(shown.burnText), formatEther(q * bps / 10000n), 'burn share text');
    if (shown.unit) check(blocks % BigInt(shown.unit) === 0n, `${blocks} blocks vs unit ${shown.unit}`);
    console.log(`cost shown ${shown.costText} = quote ${q} wei; burn ${shown.burnText} at ${bps} bps`);
    await shot(page, 'quote');

    // 6. A duration off the unit: the revert is shown, nothing is sent, the app goes on.
    const unit = shown.unit ? BigInt(shown.unit) : 0n;
    if (unit > 1n) {
      const before = await rpc('eth_getTransactionCount', [renter, 'latest']);
      await setInput(page, tid('rent-blocks'), unit + 1n);
      const st = await clickAndSettle(page, tid('rent-submit'), 'the bad duration\'s error');
      check(st.kind === 'error' && st.text.includes('InvalidDuration'), `bad duration: ${st.text}`);
      same(await rpc('eth_getTransactionCount', [renter, 'latest']), before, 'nonce after a refused rent');
      await shot(page, 'invalid-duration');
      await setInput(page, tid('rent-blocks'), blocks);
    }

    // 7. The user rejects the transaction in the wallet.
    await page.evaluate(() => { window.__wallet.rejectNext = true; });
    let st = await clickAndSettle(page, tid('rent-submit'), 'the rejection');
    check(st.kind === 'error' && /rejected/i.test(st.text), `rejection: ${st.text}`);
    check(await page.evaluate(() => !window.__wallet.rejectNext), 'the wallet was not asked');
    await shot(page, 'rejected');

    // 8. Rent: the rental id from the receipt's Rented event.
    st = await clickAndSettle(page, tid('rent-submit'), 'the rental');
    check(st.kind === 'ok', `rent: ${st.text}`);
    const rentalId = await page.$eval(tid('rent-rental-id'), (el) => el.dataset.value);
    check(rentalId, `no rental id shown (status: ${st.text})`);
    const r = await rpc('dbc_getRental', [`0x${BigInt(rentalId).toString(16)}`]);
    check(r, `dbc_getRental(${rentalId}) is null`);
    same(lower(r.renter), lower(renter), 'renter');
    same(lower(r.machineId), machineId, 'rented machine');
    same(r.gpus, 1, 'rented GPUs');
    same(r.status, 'active', 'rental status');
    same(BigInt(r.end) - BigInt(r.start), blocks, 'rental length');
    same(BigInt(r.paid), q, 'paid');
    console.log(`rented: rental #${rentalId} (${st.text})`);
    const signed = await page.evaluate(() => window.__wallet.requests.includes('signed-in-node'));
    console.log(`transactions ${signed ? 'signed in node with viem' : 'signed by the node (unlocked dev account)'}`);
    await shot(page, 'rented');
    await page.click(tid('rent-close'));

    // 9. My rentals shows it active.
    const rrow = `tr[data-testid="rental-row"][data-rental-id="${rentalId}"]`;
    await waitFor(page, `rental #${rentalId} active in My rentals`, (s) =>
      document.querySelector(s)?.dataset.status === 'active', rrow);
    const access = await page.$eval(`${rrow} ${tid('rental-access')}`, (el) => el.textContent);
    same(access, `dbc-agent renter access --rental ${rentalId}`, 'connection-details note');
    await checkStats(page);
    await shot(page, 'my-rentals');

    // 10. Extend it by one rent unit (value = quote for its GPUs and those blocks).
    const by = unit > 0n ? unit : blocks;
    await setInput(page, `${rrow} ${tid('rental-extend-blocks')}`, by);
    const qExtend = await quote(1, by);
    st = await clickAndSettle(page, `${rrow} ${tid('rental-extend')}`, 'the extension');
    check(st.kind === 'ok', `extend: ${st.text}`);
    const extended = await rpc('dbc_getRental', [`0x${BigInt(rentalId).toString(16)}`]);
    same(BigInt(extended.end), BigInt(r.end) + by, 'end block after Extend');
    same(BigInt(extended.paid), q + qExtend, 'paid after Extend');
    await waitFor(page, 'the new end block in My rentals', ([s, end]) =>
      document.querySelector(`${s} [data-testid="rental-end-block"]`)?.textContent === end,
    [rrow, BigInt(extended.end).toString()]);
    console.log(`extended: ${st.text}`);
    await shot(page, 'extended');

    // 11. End it.
    st = await clickAndSettle(page, `${rrow} ${tid('rental-end')}`, 'the end of the rental');
    check(st.kind === 'ok', `end: ${st.text}`);
    await waitFor(page, `rental #${rentalId} ended in My rentals`, (s) =>
      document.querySelector(s)?.dataset.status === 'ended', rrow);
    const ended = await rpc('dbc_getRental', [`0x${BigInt(rentalId).toString(16)}`]);
    same(ended.status, 'ended', 'dbc_getRental status after End');
    check(BigInt(ended.refunded) > 0n, `no refund for an early end: ${JSON.stringify(ended)}`);
    same(await page.$eval(`${rrow} ${tid('rental-refunded')}`, (el) => el.dataset.wei),
      BigInt(ended.refunded).toString(), 'refund shown');
    check(!(await page.$(`${rrow} ${tid('rental-end')}`)), 'an ended rental still has an End button');
    await checkStats(page);
    console.log(`ended: ${st.text}`);
    await shot(page, 'ended');
    const renterMachines = await page.$$(tid('my-machine-row'));
    check(renterMachines.length === 0, 'the renter is shown machines it does not own');

    // 12. The owner's view: My machines and its rewards, then Claim.
    if (DEV[owner]) {
      const op = await openApp(browser, machine.owner, pageErrors);
      page = op;
      await connect(op, machine.owner);
      const mrow = `tr[data-testid="my-machine-row"][data-machine-id="${machineId}"]`;
      await waitFor(op, 'the owner\'s machine in My machines', (s) => document.querySelector(s), mrow);
      check(!(await op.$(`${row} ${tid('rent-button')}`)), 'the owner is offered to rent its own machine');
      const notRentable = await rentable(op);
      check(notRentable.length === 0, `owner's view: Rent buttons wrong on ${notRentable}`);
      const rb = await op.$eval(tid('rewards'), (el) => el.dataset.block);
      const rw = await rpc('dbc_getRewards', [machine.owner, rb]);
      for (const k of ['claimable', 'vesting', 'claimed']) {
        const el = await op.$eval(tid(`reward-${k}`), (e) => ({ v: e.dataset.value, t: e.textContent }));
        same(el.v, BigInt(rw[k]).toString(), `rewards ${k} at ${rb}`);
        sameTruncated(el.t, BigInt(rw[k]), `rewards ${k} text`);
      }
      console.log(`owner's rewards match dbc_getRewards at block ${BigInt(rb)}: ${JSON.stringify(rw)}`);
      await shot(op, 'my-machines');
      const before = BigInt((await rpc('dbc_getRewards', [machine.owner])).claimed);
      st = await clickAndSettle(op, tid('claim'), 'the claim');
      if (st.kind === 'ok') {
        const after = BigInt((await rpc('dbc_getRewards', [machine.owner])).claimed);
        check(after > before, `claimed ${before} → ${after} after "${st.text}"`);
      } else {
        check(st.text.includes('NothingToClaim'), `claim: ${st.text}`);
      }
      console.log(`claim: [${st.kind}] ${st.text}`);
      await shot(op, 'claim');
    } else {
      console.log(`owner ${machine.owner} is not a known dev account: My machines not checked`);
    }
    check(pageErrors.length === 0, `uncaught errors in the page: ${pageErrors.join('; ')}`);
    console.log(JSON.stringify({ ok: true, rentalId, blocks: Number(blocks), screenshots: shots }));
  } catch (e) {
    if (page) await shot(page, 'failure').catch(() => {});
    throw e;
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  if (e instanceof Mismatch) console.error(`FAIL: ${e.message}`);
  else console.error('FAIL:', e);
  process.exitCode = 1;
});
