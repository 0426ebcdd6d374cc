// The few ABI pieces the web app needs from IGpuMarket (contracts/src/interfaces/IGpuMarket.sol),
// encoded by hand: no DOM, no dependencies, so Node can import it too. Selectors and topics are
// keccak256 of the signature in the comment next to each (computed once with
// `cast sig` / `cast sig-event`, and viem's `keccak256(toBytes(sig))`).

/** The GPU market precompile. */
export const MARKET = '0x0000000000000000000000000000000000000D01';

export const SELECTORS = {
  quote: '0xefff5972', // quote(bytes32,uint32,uint64)
  rent: '0x265f4da3', // rent(bytes32,uint32,uint64)
  extendRental: '0x127fdb9b', // extendRental(uint256,uint64)
  endRental: '0x97491d6f', // endRental(uint256)
  claimRewards: '0x372500ab', // claimRewards()
};

/** topic0 of Rented(uint256,bytes32,address,uint32,uint64,uint64,uint256,uint16): topics are
 * [sig, rentalId, machineId, renter]. */
export const TOPIC_RENTED = '0x7dc2895cdeb314e30618c6f6cc284fc125d4c32486379b318f36ca706ce17afd';

const MAX_U256 = (1n << 256n) - 1n;

/** An unsigned integer of `bits` bits as a 32-byte word (64 hex digits, no 0x). */
export function uintWord(value, bits = 256) {
  const v = BigInt(value);
  if (v < 0n || v >= 1n << BigInt(bits)) throw new RangeError(`${value} does not fit in uint${bits}`);
  return v.toString(16).padStart(64, '0');
}

export function isBytes32(hex) {
  return typeof hex === 'string' && /^0x[0-9a-fA-F]{64}$/.test(hex);
}

export function isAddress(hex) {
  return typeof hex === 'string' && /^0x[0-9a-fA-F]{40}$/.test(hex);
}

function bytes32Word(hex) {
  if (!isBytes32(hex)) throw new TypeError(`not a bytes32: ${hex}`);
  return hex.slice(2).toLowerCase();
}

/** An address as a 32-byte topic (0x-prefixed, left-padded). */
export function addressTopic(address) {
  if (!isAddress(address)) throw new TypeError(`not an address: ${address}`);
  return '0x' + address.slice(2).toLowerCase().padStart(64, '0');
}

export const encodeQuote = (machineId, gpus, blocks) =>
  SELECTORS.quote + bytes32Word(machineId) + uintWord(gpus, 32) + uintWord(blocks, 64);

export const encodeRent = (machineId, gpus, blocks) =>
  SELECTORS.rent + bytes32Word(machineId) + uintWord(gpus, 32) + uintWord(blocks, 64);

export const encodeExtendRental = (rentalId, blocks) =>
  SELECTORS.extendRental + uintWord(rentalId) + uintWord(blocks, 64);

export const encodeEndRental = (rentalId) => SELECTORS.endRental + uintWord(rentalId);

export const encodeClaimRewards = () => SELECTORS.claimRewards;

/** A single uint256 return value (`quote`). */
export function decodeUint(hex) {
  if (typeof hex !== 'string' || !/^0x[0-9a-fA-F]{64}/.test(hex)) {
    throw new TypeError(`not an ABI uint256: ${hex}`);
  }
  return BigInt(hex.slice(0, 66));
}

/** A JSON-RPC quantity (or decimal number) as a BigInt; null/undefined as 0. */
export function toBig(q) {
  if (q === null || q === undefined) return 0n;
  return BigInt(q);
}

/** `0x…` hex of a non-negative BigInt, as JSON-RPC quantities are written. */
export const toQuantity = (v) => '0x' + BigInt(v).toString(16);

/** The rental ids of the `Rented` logs among `logs` emitted by the market. */
export function rentedIds(logs) {
  return (logs || [])
    .filter((l) => l.address && l.address.toLowerCase() === MARKET.toLowerCase()
      && l.topics && l.topics[0] && l.topics[0].toLowerCase() === TOPIC_RENTED)
    .map((l) => BigInt(l.topics[1]));
}

// ---- amounts ----

const WEI_PER_DBC = 10n ** 18n;

/**
 * Wei as DBC (18 decimals) with BigInt only: at most `maxDecimals` decimals (cut, not rounded;
 * all 18 by default), trailing zeros dropped, thousands grouped with commas.
 * `formatDbc(1234500000000000000000n)` is "1,234.5".
 */
export function formatDbc(wei, maxDecimals = 18) {
  let v = BigInt(wei);
  const neg = v < 0n;
  if (neg) v = -v;
  const int = (v / WEI_PER_DBC).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const frac = (v % WEI_PER_DBC).toString().padStart(18, '0').slice(0, maxDecimals)
    .replace(/0+$/, '');
  return (neg ? '-' : '') + int + (frac ? '.' + frac : '');
}

/** Basis points as a percentage: 3000 → "30", 1250 → "12.5". */
export function formatBps(bps) {
  const v = BigInt(bps);
  const int = (v / 100n).toString();
  const frac = (v % 100n).toString().padStart(2, '0').replace(/0+$/, '');
  return int + (frac ? '.' + frac : '');
}

/** A positive integer typed by a user, at most `max`, or an Error explaining why not. */
export function parsePositive(text, what, max) {
  const s = String(text ?? '').trim();
  if (!/^\d+$/.test(s)) return new Error(`${what}: enter a whole number`);
  const v = BigInt(s);
  if (v === 0n) return new Error(`${what}: must be at least 1`);
  if (v > max) return new Error(`${what}: at most ${max}`);
  return v;
}

export const MAX_U32 = (1n << 32n) - 1n;
export const MAX_U64 = (1n << 64n) - 1n;

/** "0xe8a0…3f54". */
export const shortHex = (hex) => (hex && hex.length > 14 ? `${hex.slice(0, 6)}…${hex.slice(-4)}` : hex);

// ---- reverts ----

const MACHINE_STATUS = ['None', 'Verifying', 'Online', 'Offline', 'Rejected', 'Exited'];
const ROUND_PHASE = ['None', 'Drawing', 'Commit', 'Reveal', 'Done'];

/** The market's custom errors: selector → [name, [[arg, type]…]]. */
export const ERRORS = {
  '0x0b08819f': ['StaticCallWrite', []], // StaticCallWrite()
  '0x0d89438e': ['DelegateCallNotAllowed', []], // DelegateCallNotAllowed()
  '0x1574f9f3': ['NotPayable', []], // NotPayable()
  '0xc2a825f5': ['UnknownSelector', [['selector', 'bytes4']]], // UnknownSelector(bytes4)
  '0x931844d5': ['MachineExists', [['machineId', 'bytes32']]], // MachineExists(bytes32)
  '0x1ae529b7': ['UnknownMachine', [['machineId', 'bytes32']]], // UnknownMachine(bytes32)
  '0x9f85411f': ['InvalidSpec', []], // InvalidSpec()
  '0x8e7704c0': ['WrongStake', [['required', 'wei'], ['sent', 'wei']]], // WrongStake(uint256,uint256)
  '0x5e9f9769': ['NotMachineOwner', [['machineId', 'bytes32']]], // NotMachineOwner(bytes32)
  '0x353e13f7': ['BadMachineStatus', [['machineId', 'bytes32'], ['status', 'MachineStatus']]], // BadMachineStatus(bytes32,uint8)
  '0x84f84a2b': ['ExitTooEarly', [['allowedAt', 'uint']]], // ExitTooEarly(uint64)
  '0xcbb9969c': ['HasActiveRental', [['machineId', 'bytes32']]], // HasActiveRental(bytes32)
  '0xd8b7846a': ['AlreadyAuditor', []], // AlreadyAuditor()
  '0x5d5a323c': ['NotAuditor', []], // NotAuditor()
  '0xd2d129e4': ['AuditorBusy', [['activeAssignments', 'uint']]], // AuditorBusy(uint32)
  '0x689f0d83': ['NotAssigned', []], // NotAssigned()
  '0x96fe8cdd': ['WrongPhase', [['phase', 'RoundPhase']]], // WrongPhase(uint8)
  '0xbfec5558': ['AlreadyCommitted', []], // AlreadyCommitted()
  '0x5054097b': ['CommitmentMismatch', []], // CommitmentMismatch()
  '0x06a3bf24': ['InvalidDuration', [['blocks', 'uint'], ['unit', 'uint'], ['max', 'uint']]], // InvalidDuration(uint64,uint64,uint64)
  '0x09ac6399': ['NotEnoughGpus', [['requested', 'uint'], ['available', 'uint']]], // NotEnoughGpus(uint32,uint32)
  '0xb99e2ab7': ['InsufficientPayment', [['required', 'wei'], ['sent', 'wei']]], // InsufficientPayment(uint256,uint256)
  '0xe732c1a1': ['UnknownRental', [['rentalId', 'uint']]], // UnknownRental(uint256)
  '0xf2182749': ['NotRenter', [['rentalId', 'uint']]], // NotRenter(uint256)
  '0xb226e384': ['RentalNotActive', [['rentalId', 'uint']]], // RentalNotActive(uint256)
  '0x9329d54e': ['UnknownReport', [['reportId', 'uint']]], // UnknownReport(uint256)
  '0x74e400c7': ['ReportPending', [['reportId', 'uint']]], // ReportPending(uint256)
  '0x829f1163': ['StakeTooLow', [['required', 'wei'], ['stake', 'wei']]], // StakeTooLow(uint256,uint256)
  '0x969bf728': ['NothingToClaim', []], // NothingToClaim()
  '0xe47ec074': ['ArithmeticOverflow', []], // ArithmeticOverflow()
  '0x24fe1192': ['PriceTooHigh', []], // PriceTooHigh()
  '0xfb258e46': ['PriceTooLow', [['minimum', 'wei']]], // PriceTooLow(uint256)
  '0x93b24732': ['OwnMachine', [['machineId', 'bytes32']]], // OwnMachine(bytes32)
  '0x06636b16': ['TooManyExtensions', [['rentalId', 'uint'], ['max', 'uint']]], // TooManyExtensions(uint256,uint8)
  '0x78cd7232': ['UnknownGpuModel', [['model', 'bytes32']]], // UnknownGpuModel(bytes32)
  '0xc41a1761': ['StaleHeartbeat', [['blockNumber', 'uint'], ['maxAge', 'uint']]], // StaleHeartbeat(uint64,uint64)
  '0xae46d904': ['BadHeartbeatSignature', []], // BadHeartbeatSignature()
  '0xb3773ed4': ['ChallengePending', [['reportId', 'uint']]], // ChallengePending(uint256)
  '0xf1cbb567': ['InvalidEndpoint', []], // InvalidEndpoint()
};

/** What a renter or provider should read for the common errors. */
const HINTS = {
  InvalidDuration: (a) => `blocks must be a multiple of ${a.unit} and at most ${a.max} in all`,
  NotEnoughGpus: (a) => `only ${a.available} GPU(s) free`,
  OwnMachine: () => 'a provider cannot rent its own machine',
  InsufficientPayment: () => 'the price changed: quote again',
  NothingToClaim: () => 'no rewards are claimable yet',
  NotRenter: () => 'only the renter can do that',
  RentalNotActive: () => 'the rental has already ended',
  BadMachineStatus: (a) => `the machine is ${a.status.toLowerCase()}`,
  TooManyExtensions: (a) => `a rental can be extended at most ${a.max} times`,
};

function decodeArg(type, word) {
  const v = BigInt('0x' + word);
  switch (type) {
    case 'bytes32': return '0x' + word;
    case 'bytes4': return '0x' + word.slice(0, 8);
    case 'wei': return `${formatDbc(v)} DBC`;
    case 'MachineStatus': return MACHINE_STATUS[Number(v)] ?? v.toString();
    case 'RoundPhase': return ROUND_PHASE[Number(v)] ?? v.toString();
    default: return v.toString();
  }
}

/**
 * Decodes revert data (`0x` + selector + words): a market error, `Error(string)` or
 * `Panic(uint256)`. Returns { name, args, text } or null if it is none of those.
 */
export function decodeRevert(data) {
  if (typeof data !== 'string' || !/^0x[0-9a-fA-F]{8}/.test(data)) return null;
  const sel = data.slice(0, 10).toLowerCase();
  const body = data.slice(10);
  const word = (i) => body.slice(64 * i, 64 * (i + 1));
  if (sel === '0x08c379a0') { // Error(string)
    try {
      const off = Number(BigInt('0x' + word(0))) * 2;
      const len = Number(BigInt('0x' + body.slice(off, off + 64))) * 2;
      const hex = body.slice(off + 64, off + 64 + len);
      const bytes = new Uint8Array(hex.match(/../g)?.map((b) => parseInt(b, 16)) ?? []);
      const reason = new TextDecoder().decode(bytes);
      return { name: 'Error', args: { reason }, text: reason };
    } catch {
      return { name: 'Error', args: {}, text: 'Error(string)' };
    }
  }
  if (sel === '0x4e487b71') { // Panic(uint256)
    const code = BigInt('0x' + (word(0) || '0'));
    return { name: 'Panic', args: { code }, text: `Panic(0x${code.toString(16)})` };
  }
  const known = ERRORS[sel];
  if (!known) return null;
  const [name, params] = known;
  const args = {};
  params.forEach(([arg, type], i) => {
    const w = word(i);
    args[arg] = w.length === 64 ? decodeArg(type, w) : '?';
  });
  const list = params.map(([arg]) => `${arg}=${args[arg]}`).join(', ');
  const hint = HINTS[name] ? `: ${HINTS[name](args)}` : '';
  return { name, args, text: `${name}(${list})${hint}` };
}

/** The first revert data (`0x` + at least a selector) inside an error a node or wallet threw. */
export function findRevertData(err, depth = 0) {
  if (err === null || err === undefined || depth > 5) return null;
  if (typeof err === 'string') return /^0x[0-9a-fA-F]{8}/.test(err) ? err : null;
  if (typeof err !== 'object') return null;
  for (const k of ['data', 'error', 'cause', 'originalError']) {
    const found = findRevertData(err[k], depth + 1);
    if (found) return found;
  }
  return null;
}

/** A one-line explanation of anything an RPC call or the wallet threw. */
export function describeError(err) {
  const code = err?.code ?? err?.error?.code;
  if (code === 4001) return 'Rejected in the wallet';
  if (code === 4100) return 'The wallet has not authorised this site: connect first';
  const revert = decodeRevert(findRevertData(err));
  if (revert) return `Reverted: ${revert.text}`;
  const msg = err?.message ?? err?.error?.message ?? String(err);
  return msg.replace(/^Error: /, '');
}

export { MAX_U256 };
