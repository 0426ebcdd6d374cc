// The DBC GPU market web app: reads the node's `dbc_` and `eth_` JSON-RPC (the RPC URL of the
// settings, `?rpc=` on the page's URL), sends transactions to the market precompile through the
// injected EIP-1193 wallet (`window.ethereum`). Plain ES modules, no build step.

import {
  MARKET, TOPIC_RENTED, MAX_U32, MAX_U64,
  encodeQuote, encodeRent, encodeExtendRental, encodeEndRental, encodeClaimRewards,
  decodeUint, decodeRevert, describeError, findRevertData, addressTopic, rentedIds,
  toBig, toQuantity, formatDbc, formatBps, parsePositive, shortHex,
} from './lib/abi.js';
import { Rpc, Wallet, waitForReceipt } from './lib/rpc.js';

const DEFAULT_RPC = 'http://127.0.0.1:8545';
/** Most blocks one `eth_getLogs` covers (dbc-node allows 100,000). */
const LOG_CHUNK = 50_000n;
const query = new URLSearchParams(location.search);
/** Seconds between automatic refreshes (`?refresh=0` turns them off). */
const REFRESH_SECS = Number(query.get('refresh') ?? 15);

const state = {
  rpc: new Rpc(query.get('rpc') || DEFAULT_RPC),
  wallet: Wallet.detect(),
  account: null,
  head: null, // block (BigInt) of the data shown
  stats: null,
  machines: [],
  rentUnit: null, // rentUnitBlocks and maxRentBlocks (from an InvalidDuration revert)
  rentMax: null,
  rentalScan: null, // { account, to, ids }: Rented logs already scanned
  dialog: null, // { machine, seq }
  queue: Promise.resolve(),
  queued: 0,
  rendered: {},
};

// ---- DOM helpers ----

const byId = (id) => document.getElementById(id);

/** `h('td', { dataset: { testid: 'x' } }, 'text', child)` */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'className') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Exact DBC: what is paid, quoted or refunded. */
const dbc = (wei) => `${formatDbc(wei)} DBC`;
/** Totals, to 4 decimals (cut); the exact amount is the element's title and data-value. */
const dbc4 = (wei) => `${formatDbc(wei, 4)} DBC`;
const eq = (a, b) => !!a && !!b && a.toLowerCase() === b.toLowerCase();

function setStatus(text, kind = 'info') {
  for (const el of [byId('status'), byId('dialog-status')]) {
    el.textContent = text;
    el.dataset.kind = kind;
  }
  const log = byId('log');
  log.prepend(h('li', { dataset: { kind } }, `${new Date().toLocaleTimeString()} ${text}`));
  while (log.children.length > 50) log.lastChild.remove();
}

/** Runs a user action: its button disabled meanwhile, any error shown in the status area. */
async function act(button, fn) {
  if (button) button.disabled = true;
  try {
    await fn();
  } catch (e) {
    console.error(e);
    setStatus(describeError(e), 'error');
  } finally {
    if (button) button.disabled = false;
  }
}

// ---- reading the node ----

/** Refreshes everything at the head block. Calls queue, so the data shown after awaiting one
 * is at least as new as the moment it was called. */
function refresh() {
  state.queued++;
  state.queue = state.queue
    .then(load)
    .catch((e) => {
      console.error(e);
      setStatus(describeError(e), 'error');
      if (state.head === null) {
        renderRows('machines', 'error', [], 'Could not read the node: see the status above.', 8);
      }
    })
    .finally(() => state.queued--);
  return state.queue;
}

async function load() {
  const rpc = state.rpc;
  const [headHex, chainId] = await Promise.all([
    rpc.call('eth_blockNumber'),
    rpc.call('eth_chainId'),
  ]);
  // One block for every read, so the numbers shown agree with each other.
  const [stats, machines] = await Promise.all([
    rpc.call('dbc_networkStats', [headHex]),
    listMachines(headHex),
  ]);
  if (rpc !== state.rpc) return; // the settings changed meanwhile
  state.head = BigInt(headHex);
  state.chainId = chainId;
  state.stats = stats;
  state.machines = machines;
  byId('head').textContent = `block ${state.head}`;
  byId('chain-id').textContent = `chain ${BigInt(chainId)}`;
  renderStats(stats, headHex);
  renderMachines();
  if (state.account) await loadAccount(headHex);
  if (byId('status').dataset.kind === 'info' && byId('status').textContent === 'Loading…') {
    setStatus(`Connected to ${rpc.url}`, 'info');
  }
}

async function listMachines(headHex) {
  const out = [];
  let offset = '0x0';
  for (let page = 0; page < 100 && offset !== null; page++) {
    const p = await state.rpc.call('dbc_listMachines', [offset, '0x64', headHex]);
    out.push(...p.machines);
    offset = p.nextOffset ?? null;
  }
  return out;
}

async function loadAccount(headHex) {
  const account = state.account;
  const head = BigInt(headHex);
  // Rented logs with renter (topic3) = the account, scanned once per block range.
  let scan = state.rentalScan;
  if (!scan || !eq(scan.account, account) || scan.to > head) {
    scan = { account, to: -1n, ids: new Set() };
  }
  for (let from = scan.to + 1n; from <= head; from += LOG_CHUNK) {
    const to = from + LOG_CHUNK - 1n < head ? from + LOG_CHUNK - 1n : head;
    const logs = await state.rpc.call('eth_getLogs', [{
      fromBlock: toQuantity(from), toBlock: toQuantity(to), address: MARKET,
      topics: [TOPIC_RENTED, null, null, addressTopic(account)],
    }]);
    for (const id of rentedIds(logs)) scan.ids.add(id);
    scan.to = to;
  }
  state.rentalScan = scan;
  const ids = [...scan.ids].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  const [rentals, rewards] = await Promise.all([
    Promise.all(ids.map((id) => state.rpc.call('dbc_getRental', [toQuantity(id), headHex]))),
    state.rpc.call('dbc_getRewards', [account, headHex]),
  ]);
  if (!eq(account, state.account)) return;
  renderRentals(rentals.filter(Boolean));
  renderMine(rewards, headHex);
}

// ---- rendering ----

function renderStats(s, headHex) {
  const set = (key, value, text) => {
    const el = document.querySelector(`[data-testid="stat-${key}"]`);
    el.dataset.value = value;
    el.textContent = text;
  };
  for (const k of ['totalGpus', 'onlineGpus', 'rentedGpus', 'machines']) {
    const v = toBig(s[k]).toString();
    set(k, v, v);
  }
  set('burnRate', String(s.burnRateBps), `${formatBps(s.burnRateBps)} %`);
  for (const k of ['totalBurned', 'rewardsDistributed', 'rewardPoolRemaining']) {
    const v = toBig(s[k]);
    set(k, v.toString(), dbc4(v));
    document.querySelector(`[data-testid="stat-${k}"]`).title = dbc(v);
  }
  const dl = byId('stats');
  dl.dataset.block = headHex;
  dl.dataset.loaded = 'true';
}

/** Replaces a tbody's rows unless what it shows did not change (keeps the DOM stable). */
function renderRows(tbodyId, key, rows, empty, colspan) {
  if (state.rendered[tbodyId] === key) return;
  state.rendered[tbodyId] = key;
  const tbody = byId(tbodyId);
  tbody.replaceChildren(
    ...(rows.length ? rows : [h('tr', { className: 'empty' }, h('td', { colspan }, empty))]),
  );
}

function badge(text) {
  return h('span', { className: `badge ${text}` }, text);
}

function renderMachines() {
  const key = JSON.stringify([state.machines, state.account]);
  const rows = state.machines.map((m) => {
    const id = m.id.toLowerCase();
    const mine = eq(m.owner, state.account);
    const full = m.rentedGpus >= m.spec.gpuCount;
    return h('tr', {
      dataset: { testid: 'machine-row', machineId: id, status: m.status, mine: String(mine) },
      className: mine ? 'mine' : '',
    },
    h('td', { dataset: { testid: 'machine-id' }, title: id }, h('code', {}, shortHex(id))),
    h('td', { dataset: { testid: 'machine-model' } }, m.spec.gpuModel,
      h('span', { className: 'hint' }, ` ${m.spec.gpuMemoryGb} GB`)),
    h('td', { dataset: { testid: 'machine-gpus' } }, `${m.rentedGpus}/${m.spec.gpuCount}`),
    h('td', { dataset: { testid: 'machine-calc' } }, m.calcPoint),
    h('td', { dataset: { testid: 'machine-price', wei: toBig(m.pricePerGpuBlock).toString() } },
      dbc(m.pricePerGpuBlock)),
    h('td', { dataset: { testid: 'machine-region' } }, m.spec.region),
    h('td', { dataset: { testid: 'machine-status' } }, badge(m.status),
      m.offlineReason ? h('span', { className: 'hint' }, ` ${m.offlineReason}`) : null),
    // A provider cannot rent its own machine (OwnMachine).
    h('td', {}, m.status === 'online' && !mine
      ? h('button', {
        type: 'button', className: 'primary', dataset: { testid: 'rent-button' },
        disabled: full, title: full ? 'every GPU is rented' : null,
        onclick: () => act(null, () => openRent(m.id)),
      }, 'Rent')
      : null));
  });
  renderRows('machines', key, rows, 'No machines registered.', 8);
}

function renderRentals(rentals) {
  const key = JSON.stringify([rentals, state.account, String(state.rentUnit)]);
  const rows = rentals.map((r) => {
    const id = toBig(r.id);
    const active = r.status === 'active';
    const start = toBig(r.start);
    const end = toBig(r.end);
    const extendBlocks = h('input', {
      type: 'number', min: '1', step: '1', value: String(state.rentUnit ?? end - start),
      dataset: { testid: 'rental-extend-blocks' }, 'aria-label': `extend rental ${id} by blocks`,
    });
    return h('tr', { dataset: { testid: 'rental-row', rentalId: id.toString(), status: r.status } },
      h('td', { dataset: { testid: 'rental-id' } }, `#${id}`),
      h('td', { title: r.machineId }, h('code', {}, shortHex(r.machineId))),
      h('td', { dataset: { testid: 'rental-gpus' } }, r.gpus),
      h('td', { dataset: { testid: 'rental-status' } }, badge(r.status)),
      h('td', { dataset: { testid: 'rental-start-block' } }, start.toString()),
      h('td', { dataset: { testid: 'rental-end-block' } }, end.toString()),
      h('td', { dataset: { testid: 'rental-paid', wei: toBig(r.paid).toString() } }, dbc(r.paid)),
      h('td', { dataset: { testid: 'rental-refunded', wei: toBig(r.refunded).toString() } },
        dbc(r.refunded)),
      h('td', {}, active ? extendBlocks : null),
      h('td', {}, active ? [
        h('button', {
          type: 'button', dataset: { testid: 'rental-extend' },
          onclick: (e) => act(e.currentTarget, () => extendRental(r, extendBlocks.value)),
        }, 'Extend'), ' ',
        h('button', {
          type: 'button', className: 'danger', dataset: { testid: 'rental-end' },
          onclick: (e) => act(e.currentTarget, () => endRental(r)),
        }, 'End'), ' ',
      ] : null, h('code', { className: 'hint', dataset: { testid: 'rental-access' } },
        `dbc-agent renter access --rental ${id}`)));
  });
  renderRows('rentals', key, rows, 'No rentals by this account.', 10);
}

function renderMine(rewards, headHex) {
  const mine = state.machines.filter((m) => eq(m.owner, state.account));
  const key = JSON.stringify([mine, state.account]);
  const rows = mine.map((m) => h('tr', {
    dataset: { testid: 'my-machine-row', machineId: m.id.toLowerCase(), status: m.status },
  },
  h('td', { title: m.id }, h('code', {}, shortHex(m.id))),
  h('td', {}, m.spec.gpuModel),
  h('td', {}, `${m.rentedGpus}/${m.spec.gpuCount}`),
  h('td', { dataset: { testid: 'my-machine-status' } }, badge(m.status)),
  h('td', { dataset: { wei: toBig(m.stake).toString() }, title: dbc(m.stake) }, dbc4(m.stake)),
  h('td', {
    dataset: { testid: 'my-machine-earned', wei: toBig(m.totalEarned).toString() },
    title: dbc(m.totalEarned),
  }, dbc4(m.totalEarned)),
  h('td', {}, m.endpoint ? h('code', {}, m.endpoint) : h('span', { className: 'hint' }, 'none'))));
  renderRows('my-machines', key, rows, 'No machines owned by this account.', 7);
  for (const k of ['claimable', 'vesting', 'claimed']) {
    const el = document.querySelector(`[data-testid="reward-${k}"]`);
    const v = toBig(rewards[k]);
    el.dataset.value = v.toString();
    el.textContent = dbc4(v);
    el.title = dbc(v);
  }
  const box = byId('rewards');
  box.dataset.block = headHex;
  box.dataset.loaded = 'true';
  byId('claim').disabled = false;
}

function clearAccountViews() {
  state.rendered = {};
  state.rentalScan = null;
  renderRows('rentals', 'none', [], 'Connect a wallet to see your rentals.', 10);
  renderRows('my-machines', 'none', [], 'Connect a wallet to see your machines.', 7);
  for (const k of ['claimable', 'vesting', 'claimed']) {
    const el = document.querySelector(`[data-testid="reward-${k}"]`);
    el.textContent = '–';
    delete el.dataset.value;
  }
  byId('rewards').dataset.loaded = 'false';
  byId('claim').disabled = true;
}

// ---- the wallet ----

function setAccount(account) {
  const changed = !eq(account, state.account);
  state.account = account || null;
  const el = byId('account');
  el.textContent = state.account ?? 'not connected';
  el.title = state.account ?? '';
  el.dataset.address = state.account ?? '';
  byId('connect').textContent = state.account ? 'Connected' : 'Connect wallet';
  if (changed) {
    clearAccountViews();
    renderMachines();
    if (state.account) refresh();
  }
}

async function connect() {
  if (!state.wallet) {
    throw new Error('No wallet found: install an EIP-1193 wallet (e.g. MetaMask) to rent or claim');
  }
  setStatus('Waiting for the wallet…', 'pending');
  const account = await state.wallet.connect();
  setAccount(account);
  await checkChain();
  if (byId('status').dataset.kind !== 'warn') setStatus(`Connected ${account}`, 'ok');
  return account;
}

async function ensureAccount() {
  return state.account ?? connect();
}

/** Warns when the wallet signs for another chain than the node the page reads. */
async function checkChain() {
  try {
    const [w, n] = await Promise.all([state.wallet.chainId(), state.rpc.call('eth_chainId')]);
    if (BigInt(w) !== BigInt(n)) {
      setStatus(`The wallet is on chain ${BigInt(w)}, the node on chain ${BigInt(n)}: ` +
        'switch the wallet to the node\'s network before sending', 'warn');
    }
  } catch (e) {
    console.warn('chain check', e);
  }
}

/** Simulates `tx` on the node (a revert shows its decoded error without asking the wallet),
 * sends it through the wallet and waits for its receipt on the node. */
async function transact(what, tx) {
  await state.rpc.call('eth_call', [tx, 'latest']);
  // The gas limit with headroom, as MetaMask gives (×1.5 within the block's gas limit): the
  // market's gas depends on the block the transaction lands in (a claim or rent that settles
  // an epoch costs more), so an exact estimate may run out of gas.
  const [estimate, latest] = await Promise.all([
    state.rpc.call('eth_estimateGas', [tx]),
    state.rpc.call('eth_getBlockByNumber', ['latest', false]),
  ]);
  let gas = (BigInt(estimate) * 3n) / 2n;
  if (latest?.gasLimit && gas > BigInt(latest.gasLimit)) gas = BigInt(latest.gasLimit);
  setStatus(`${what}: confirm in your wallet…`, 'pending');
  const hash = await state.wallet.send({ ...tx, gas: toQuantity(gas) });
  setStatus(`${what}: waiting for ${shortHex(hash)} to be mined…`, 'pending');
  const receipt = await waitForReceipt(state.rpc, hash);
  if (receipt.status !== '0x1') {
    let why = '';
    try {
      await state.rpc.call('eth_call', [tx, toQuantity(BigInt(receipt.blockNumber) - 1n)]);
    } catch (e) {
      const r = decodeRevert(findRevertData(e));
      if (r) why = `: ${r.text}`;
    }
    throw new Error(`${what} reverted in block ${BigInt(receipt.blockNumber)} (${hash})${why}`);
  }
  return receipt;
}

async function quote(machineId, gpus, blocks) {
  const out = await state.rpc.call('eth_call', [
    { to: MARKET, data: encodeQuote(machineId, gpus, blocks) }, 'latest',
  ]);
  return decodeUint(out);
}

// ---- renting ----

/** Learns rentUnitBlocks and maxRentBlocks from the InvalidDuration a 0-block rent reverts with. */
async function probeRentUnit(machineId) {
  if (state.rentUnit !== null) return;
  try {
    await state.rpc.call('eth_call', [{ to: MARKET, data: encodeRent(machineId, 1, 0) }, 'latest']);
  } catch (e) {
    const r = decodeRevert(findRevertData(e));
    if (r?.name === 'InvalidDuration') {
      state.rentUnit = BigInt(r.args.unit);
      state.rentMax = BigInt(r.args.max);
    }
  }
}

function dialogEls() {
  return {
    dialog: byId('rent-dialog'), gpus: byId('rent-gpus'), blocks: byId('rent-blocks'),
    cost: byId('rent-cost'), burn: byId('rent-burn'), rate: byId('rent-burn-rate'),
    unit: byId('rent-unit'), result: byId('rent-result'), rentalId: byId('rent-rental-id'),
  };
}

async function openRent(machineId) {
  const m = state.machines.find((x) => eq(x.id, machineId));
  if (!m) throw new Error(`machine ${machineId} is no longer listed`);
  const el = dialogEls();
  state.dialog = { machine: m, seq: 0 };
  el.dialog.dataset.machineId = m.id.toLowerCase();
  byId('rent-machine-id').textContent = m.id;
  byId('rent-machine-info').textContent = `${m.spec.gpuCount}× ${m.spec.gpuModel}, ` +
    `${m.spec.gpuCount - m.rentedGpus} free, ${dbc(m.pricePerGpuBlock)} per GPU per block, ` +
    `${m.spec.region || 'no region'}`;
  el.gpus.value = '1';
  el.gpus.max = String(m.spec.gpuCount - m.rentedGpus);
  el.result.hidden = true;
  el.rentalId.textContent = '';
  delete el.rentalId.dataset.value;
  showQuote(null);
  byId('dialog-status').textContent = '';
  byId('dialog-status').dataset.kind = 'info';
  if (!el.dialog.open) el.dialog.showModal();
  await probeRentUnit(m.id);
  if (state.rentUnit !== null) {
    el.unit.textContent = `Blocks: a multiple of ${state.rentUnit}, at most ${state.rentMax}.`;
    el.unit.dataset.unit = state.rentUnit.toString();
    el.unit.dataset.max = state.rentMax.toString();
    el.blocks.step = state.rentUnit.toString();
    el.blocks.max = state.rentMax.toString();
    if (!el.blocks.value) el.blocks.value = state.rentUnit.toString();
  }
  if (el.blocks.value) await updateQuote();
}

function showQuote(q) {
  const el = dialogEls();
  if (!q) {
    el.cost.textContent = '–';
    el.cost.dataset.wei = '';
    el.cost.dataset.for = '';
    el.burn.textContent = '–';
    el.burn.dataset.wei = '';
    el.rate.textContent = '–';
    return;
  }
  el.cost.textContent = dbc(q.cost);
  el.cost.dataset.wei = q.cost.toString();
  el.cost.dataset.for = `${q.gpus}:${q.blocks}`;
  el.burn.textContent = dbc(q.burn);
  el.burn.dataset.wei = q.burn.toString();
  el.rate.textContent = `${formatBps(q.burnBps)} % burn rate now`;
  el.rate.dataset.bps = q.burnBps.toString();
}

function readRentInputs() {
  const el = dialogEls();
  const gpus = parsePositive(el.gpus.value, 'GPUs', MAX_U32);
  if (gpus instanceof Error) throw gpus;
  const blocks = parsePositive(el.blocks.value, 'Blocks', MAX_U64);
  if (blocks instanceof Error) throw blocks;
  return { gpus, blocks };
}

/** Quotes the dialog's inputs: cost (`quote`) and its burned share at today's burn rate. */
async function updateQuote() {
  if (!state.dialog) return null;
  const seq = ++state.dialog.seq;
  const { gpus, blocks } = readRentInputs();
  const machineId = state.dialog.machine.id;
  const [cost, stats] = await Promise.all([
    quote(machineId, gpus, blocks),
    state.rpc.call('dbc_networkStats'),
  ]);
  const burnBps = BigInt(stats.burnRateBps);
  const q = { gpus, blocks, cost, burnBps, burn: (cost * burnBps) / 10_000n };
  if (state.dialog && seq === state.dialog.seq) showQuote(q);
  return q;
}

async function submitRent() {
  const account = await ensureAccount();
  if (!state.dialog) return;
  const machine = state.dialog.machine;
  // A fresh quote: the value sent is what the cost shown says.
  const q = await updateQuote();
  const tx = {
    from: account, to: MARKET, data: encodeRent(machine.id, q.gpus, q.blocks),
    value: toQuantity(q.cost),
  };
  const receipt = await transact(`Renting ${q.gpus} GPU(s) for ${q.blocks} blocks`, tx);
  const [id] = rentedIds(receipt.logs);
  if (id === undefined) throw new Error(`no Rented event in ${receipt.transactionHash}`);
  const el = dialogEls();
  el.rentalId.textContent = `#${id}`;
  el.rentalId.dataset.value = id.toString();
  byId('rent-access').textContent = `dbc-agent renter access --rental ${id}`;
  el.result.hidden = false;
  setStatus(`Rented: rental #${id} (${dbc(q.cost)} paid)`, 'ok');
  await refresh();
}

async function extendRental(r, blocksText) {
  const account = await ensureAccount();
  const blocks = parsePositive(blocksText, 'Extend by', MAX_U64);
  if (blocks instanceof Error) throw blocks;
  const id = toBig(r.id);
  const cost = await quote(r.machineId, BigInt(r.gpus), blocks);
  const tx = {
    from: account, to: MARKET, data: encodeExtendRental(id, blocks), value: toQuantity(cost),
  };
  await transact(`Extending rental #${id} by ${blocks} blocks`, tx);
  const after = await state.rpc.call('dbc_getRental', [toQuantity(id)]);
  setStatus(`Rental #${id} extended to block ${toBig(after?.end)} (${dbc(cost)} paid)`, 'ok');
  await refresh();
}

async function endRental(r) {
  const account = await ensureAccount();
  const id = toBig(r.id);
  await transact(`Ending rental #${id}`, { from: account, to: MARKET, data: encodeEndRental(id) });
  const after = await state.rpc.call('dbc_getRental', [toQuantity(id)]);
  setStatus(`Rental #${id} ended: ${dbc(toBig(after?.refunded))} refunded`, 'ok');
  await refresh();
}

async function claim() {
  const account = await ensureAccount();
  const before = await state.rpc.call('dbc_getRewards', [account]);
  await transact('Claiming rewards', { from: account, to: MARKET, data: encodeClaimRewards() });
  const after = await state.rpc.call('dbc_getRewards', [account]);
  setStatus(`Claimed ${dbc(toBig(after.claimed) - toBig(before.claimed))}`, 'ok');
  await refresh();
}

// ---- wiring ----

function applyRpc(url) {
  state.rpc = new Rpc(url);
  state.rentUnit = null;
  state.rentMax = null;
  state.rendered = {};
  state.rentalScan = null;
  const u = new URL(location.href);
  if (url === DEFAULT_RPC) u.searchParams.delete('rpc');
  else u.searchParams.set('rpc', url);
  history.replaceState(null, '', u);
  setStatus(`Reading ${url}`, 'info');
  return refresh();
}

function init() {
  byId('rpc-url').value = state.rpc.url;
  byId('settings').addEventListener('submit', (e) => {
    e.preventDefault();
    act(null, () => applyRpc(byId('rpc-url').value.trim()));
  });
  byId('refresh').addEventListener('click', (e) => act(e.currentTarget, refresh));
  byId('connect').addEventListener('click', (e) => act(e.currentTarget, connect));
  byId('claim').addEventListener('click', (e) => act(e.currentTarget, claim));
  byId('rent-quote').addEventListener('click', (e) => act(e.currentTarget, updateQuote));
  byId('rent-submit').addEventListener('click', (e) => act(e.currentTarget, submitRent));
  byId('rent-close').addEventListener('click', () => byId('rent-dialog').close());
  byId('rent-dialog').addEventListener('close', () => { state.dialog = null; });
  let timer = null;
  for (const id of ['rent-gpus', 'rent-blocks']) {
    byId(id).addEventListener('input', () => {
      showQuote(null);
      clearTimeout(timer);
      timer = setTimeout(() => act(null, updateQuote), 300);
    });
  }
  if (state.wallet) {
    state.wallet.on('accountsChanged', (a) => setAccount(Array.isArray(a) ? a[0] : null));
    state.wallet.on('chainChanged', () => act(null, async () => {
      await checkChain();
      await refresh();
    }));
    // A site the wallet already authorised gets its account without a prompt.
    state.wallet.accounts().then((a) => { if (a[0] && !state.account) setAccount(a[0]); });
  } else {
    byId('connect').title = 'no injected wallet (window.ethereum) found';
  }
  window.addEventListener('unhandledrejection', (e) => setStatus(describeError(e.reason), 'error'));
  window.addEventListener('error', (e) => setStatus(describeError(e.error ?? e.message), 'error'));
  refresh();
  if (REFRESH_SECS > 0) {
    setInterval(() => {
      if (!document.hidden && state.queued === 0) refresh();
    }, REFRESH_SECS * 1000);
  }
}

init();
