#!/usr/bin/env python3
"""Economics of the GPU market (precompile 0x…0D01): emission, wash renting and a 365-day
simulation.

    python3 scripts/economics.py [genesis.json] [options]      (default genesis/dev.json)

Prints Markdown: the parameters used, the reward pools' decaying emission (the GPU pool's
`config.dbc.market.emission` and the validators' `config.dbc.staking.emission`, year by year),
the wash-renting table (issue #16 item 4), a 365-day simulation of honest and attacking
providers and auditors (issue #16 item 7), a shill renting next to real renters on one machine,
a server registered whole or split into 1-GPU machines, and the stake-weighted auditor draw.

The emission (crates/chainspec/src/emission.rs `EmissionSchedule`): block n ≥ 1 is in era
(n − 1) / eraBlocks; the first `flatEras` eras release `initialPerBlock` a block, each later era
⌊previous × (10⁴ − decayBps) / 10⁴⌋, the last era (`endEra` − 1) the pool's remainder, later eras
nothing. The market releases it block by block while machines are online (rewards.rs
`pool_update`: `emitted(last, now)`), staking pays the rate of the block's era to its sealer
(staking.rs `on_block`). The simulation starts at genesis and follows the schedule day by day;
a steady day of the wash table (and the break-even price derived from it) uses era 0's rate,
the first year's.

The rules modelled ("now"): a machine's grade is calcPoint × gpus × 10,000 while online (calc
point per GPU, like the price and the stake), whatever is rented (math.rs `grade`, rewards.rs
`regrade`), and project mining weighs that grade. The rented
bonus is paid per rental when it ends: `rentedBonusBps` of what its GPUs earned while it ran
(the machine's `reward_per_gpu` against the rental's `reward_snapshot`), at most the rent that
rental burned and what is left of the reward pool (rewards.rs `settle`, `pay_rental_bonus`;
rentals.rs `rent`, `close_rental`). Auditors are drawn by weight min(stake, 4 × auditorStake)
(committee.rs `draw`). A verified machine's calc point is its model's `gpuModels` value
(committee.rs `finish_verification`). Liveness (liveness.rs): heartbeats are signed by the
machine's key; each online machine is challenged about once a day (`challengeCheckBlocks`,
`challengeChanceBps`) by 3 drawn auditors; a failure found (a failed challenge, a confirmed
fault, a rented machine's missed heartbeats) ends every active rental with its unused rent
refunded and slashes the first `unreachableSlash` tier at once, the rest of the tier its
offline time reached on its return (`fail_machine`, machines.rs `apply_offline_slash`); a
machine found failing by auditors returns only through a new verification (`heartbeat`,
committee.rs `finish_verification`: rejected, it loses `rejectSlashBps` and is out). The
original rule is kept alongside as "before": the grade was
calcPoint × (1 + rentedBonusBps × rented / gpus), whatever the GPU count, so the bonus was paid
in full through the grade, a 1-GPU machine weighed as much as an 8-GPU one, and draws were one
address, one chance; liveness is modelled by the rules now in both.

Every formula mirrors the Rust code (file references in the comments); amounts are integer wei
and rounded down where the code rounds down. Parameters come from `config.dbc.market` (and the
staking pool's `emission` and `rewardPool` from `config.dbc.staking`) in the genesis file, which
must be genesis format 3 (`config.dbc.version`, as the node requires); those it omits take the
defaults of `MarketParams::default()` (crates/chainspec/src/market.rs) and
`StakingParams::default()` (staking.rs), read from those files when they are present next to
this script and otherwise from the copies below. Standard library only.
"""

import argparse
import ast
import json
import os
import re
import sys
from fractions import Fraction

DBC = 10**18
BPS = 10_000  # math.rs: BPS
ACC_SCALE = 10**18  # market/mod.rs: ACC_SCALE
DAY = 14_400  # market.rs: blocks a day at 6 s, used by the defaults
MAX_RENTAL_EXTENSIONS = 16  # market/mod.rs
PER_GPU_SCALE = 10**12  # records.rs: PER_GPU_SCALE
YEAR_BLOCKS = 5_256_000  # emission.rs: YEAR_BLOCKS, a year of 6 s blocks (the default era)
MAX_END_ERA = 1_000  # emission.rs: MAX_END_ERA
MAX_DURATION_BLOCKS = 10**12  # lib.rs: MAX_DURATION_BLOCKS
U256_MAX = 2**256 - 1
GOVERNANCE = "0x…0D04"  # lib.rs: GOVERNANCE_ADDRESS, whose balance is the treasury

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MARKET_RS = os.path.join(ROOT, "crates", "chainspec", "src", "market.rs")
STAKING_RS = os.path.join(ROOT, "crates", "chainspec", "src", "staking.rs")
EMISSION_RS = os.path.join(ROOT, "crates", "chainspec", "src", "emission.rs")

EMISSION_KEYS = ("eraBlocks", "initialPerBlock", "flatEras", "decayBps", "endEra")


def yearly(initial_per_block, era_blocks=YEAR_BLOCKS, flat_eras=3, decay_bps=1_250, end_era=100):
    """emission.rs `EmissionSchedule::yearly`: yearly eras, 3 flat, −12.5% an era, 100 eras."""
    return {"eraBlocks": era_blocks, "initialPerBlock": initial_per_block,
            "flatEras": flat_eras, "decayBps": decay_bps, "endEra": end_era}


# Copy of MarketParams::default() (crates/chainspec/src/market.rs), by genesis key. Tiers are
# lists of (fromGpus, bps) and (underBlocks or None, bps); GPU models (model, calcPoint,
# memoryGb), as `default_gpu_models()`.
DEFAULTS = {
    "stakePerGpu": 1_000 * DBC,
    "auditorStake": 10_000 * DBC,
    "auditorPenaltyBps": 1_000,
    "auditorRewardBps": 100,
    "drawDelayBlocks": 2,
    "commitWindowBlocks": 600,
    "revealWindowBlocks": 600,
    "rejectSlashBps": 500,
    "standardCalcPoint": 1_000,
    "gpuModels": [("RTX 3080", 420, 10), ("RTX 3090", 500, 24), ("RTX 4080", 600, 16),
                  ("RTX 4090", 1_000, 24), ("RTX 5090", 1_270, 32), ("A100 40GB", 1_890, 40),
                  ("A100 80GB", 1_890, 80), ("H100 80GB", 6_000, 80)],
    "calcPointToleranceBps": 1_000,
    "challengeCheckBlocks": 600,
    "challengeChanceBps": 417,
    "standardPricePerGpuBlock": DBC // 100,
    "minPriceBps": 5_000,
    "rentUnitBlocks": 300,
    "maxRentBlocks": 60 * DAY,
    "burnTiers": [(0, 3_000), (5_001, 7_000), (10_000, 10_000)],
    "burnTierBasis": "online",
    "emission": yearly(400_000_000 * DBC // YEAR_BLOCKS),
    "epochBlocks": DAY,
    "rewardPool": 4_000_000_000 * DBC,
    "immediateBps": 2_500,
    "vestingBlocks": 150 * DAY,
    "rentedBonusBps": 3_000,
    "heartbeatTimeoutBlocks": 100,
    "minOnlineBlocks": 365 * DAY,
    "exitCooldownBlocks": 10 * DAY,
    "ownerOfflineSlash": [(70, 200), (2 * DAY, 400), (5 * DAY, 3_000), (None, 5_000)],
    "unreachableSlash": [(70, 400), (2 * DAY, 800), (5 * DAY, 6_000), (None, 10_000)],
    "slashRenterBps": 1_000,
    "slashAuditorsBps": 2_000,
    "reportDeposit": 100 * DBC,
    "maxProjectsPerMachine": 3,
}
AMOUNT_KEYS = {
    "stakePerGpu", "auditorStake", "standardPricePerGpuBlock", "rewardPool", "reportDeposit",
}
# Copy of the two fields of StakingParams::default() (crates/chainspec/src/staking.rs) the
# emission section reads.
STAKING_DEFAULTS = {
    "emission": yearly(19 * DBC),
    "rewardPool": 1_000_000_000 * DBC,
}
# Keys of genesis format 2 that format 3 replaced (lib.rs FORMAT_3_CHANGES).
FORMAT_2_KEYS = {
    ("market", "rewardPerEpoch"): "became market.emission",
    ("market", "treasury"): f"was removed (the treasury is the governance precompile {GOVERNANCE})",
    ("staking", "blockReward"): "became staking.emission",
}
GENESIS_FORMAT = 3  # lib.rs: GENESIS_FORMAT


# ------------------------------------------------------------------------------------------
# Defaults from the Rust source (best effort; the copy above is the fallback)

def _camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(w.capitalize() for w in rest)


def _eval_int(expr, names=None):
    """Evaluates a Rust constant expression of the defaults (`dbc(1_000)`, `150 * DAY`,
    `U256::from(DBC / 100)`, `dbc(400_000_000) / U256::from(YEAR_BLOCKS)`) to an int, or None.
    `names`: more constants by name (underscores removed: `YEARBLOCKS`)."""
    consts = {"DAY": DAY, "DBC": DBC, **(names or {})}
    e = expr.replace("U256::from", "").replace("_", "")
    e = re.sub(r"\bdbc\(", "DBCF(", e)
    e = e.replace("/", "//")
    try:
        tree = ast.parse(e, mode="eval")
    except SyntaxError:
        return None

    def ev(n):
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant) and isinstance(n.value, int):
            return n.value
        if isinstance(n, ast.Name) and n.id in consts:
            return consts[n.id]
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "DBCF":
            return ev(n.args[0]) * DBC
        if isinstance(n, ast.BinOp):
            a, b = ev(n.left), ev(n.right)
            if isinstance(n.op, ast.Mult):
                return a * b
            if isinstance(n.op, ast.FloorDiv):
                return a // b
            if isinstance(n.op, ast.Add):
                return a + b
            if isinstance(n.op, ast.Sub):
                return a - b
        raise ValueError(ast.dump(n))

    try:
        return ev(tree)
    except (ValueError, IndexError, ZeroDivisionError):
        return None


def yearly_from_source(path):
    """Returns (a function initial → the `EmissionSchedule::yearly` shape parsed from
    emission.rs, the YEAR_BLOCKS parsed), or (None, error)."""
    try:
        with open(path, encoding="utf-8") as f:
            src = f.read()
    except OSError as e:
        return None, str(e)
    y = re.search(r"pub const YEAR_BLOCKS: u64 = ([\d_]+);", src)
    m = re.search(r"pub fn yearly\(initial_per_block: U256\) -> Self \{\s*Self \{(.*?)\}", src,
                  re.S)
    if not y or not m:
        return None, "EmissionSchedule::yearly not found"
    year = int(y.group(1).replace("_", ""))
    fields = dict(re.findall(r"(\w+): ([\w_]+)", m.group(1)))
    try:
        shape = dict(
            era_blocks=year if fields.get("era_blocks") == "YEAR_BLOCKS"
            else int(fields["era_blocks"].replace("_", "")),
            flat_eras=int(fields["flat_eras"].replace("_", "")),
            decay_bps=int(fields["decay_bps"].replace("_", "")),
            end_era=int(fields["end_era"].replace("_", "")))
    except (KeyError, ValueError):
        return None, "EmissionSchedule::yearly not understood"
    return (lambda init: yearly(init, **shape)), year


def defaults_from_source(path, struct="MarketParams"):
    """Returns ({key: value} parsed from `struct`::default() in `path`, error or None)."""
    try:
        with open(path, encoding="utf-8") as f:
            src = f.read()
    except OSError as e:
        return {}, str(e)
    m = re.search(r"impl Default for " + struct + r" \{(.*?)\n\}\n", src, re.S)
    if not m:
        return {}, f"{struct}::default() not found"
    body = m.group(1)
    mk_yearly, year = yearly_from_source(EMISSION_RS)
    out = {}
    for name, expr in re.findall(r"^\s{12}(\w+): (.+?),\s*$", body, re.M):
        y = re.fullmatch(r"EmissionSchedule::yearly\((.*)\)", expr)
        if y:
            init = _eval_int(y.group(1), {"YEARBLOCKS": year}) if mk_yearly else None
            if init is not None:
                out[_camel(name)] = mk_yearly(init)
            continue
        v = _eval_int(expr)
        if v is not None:
            out[_camel(name)] = v
    tiers = re.findall(r"BurnTier \{ from_gpus: ([\d_]+), bps: ([\d_]+) \}", body)
    if tiers:
        out["burnTiers"] = [(int(a.replace("_", "")), int(b.replace("_", ""))) for a, b in tiers]
    for name in ("owner_offline_slash", "unreachable_slash"):
        t = re.search(name + r": tiers\(\[(.*?)\]\)", body, re.S)
        if not t:
            continue
        rows = []
        for under, bps in re.findall(r"\((None|Some\([^)]*\)), ([\d_]+)\)", t.group(1)):
            u = None if under == "None" else _eval_int(under[5:-1])
            rows.append((u, int(bps.replace("_", ""))))
        out[_camel(name)] = rows
    b = re.search(r"burn_tier_basis: BurnBasis::(\w+)", body)
    if b:
        out["burnTierBasis"] = b.group(1).lower()
    t = re.search(r"fn default_gpu_models\(\).*?\[(.*?)\]", src, re.S)
    if t and "gpu_models: default_gpu_models()" in body:
        rows = re.findall(r'\("([^"]+)", ([\d_]+), ([\d_]+)\)', t.group(1))
        if rows:
            out["gpuModels"] = [(m, int(cp.replace("_", "")), int(mem.replace("_", "")))
                                for m, cp, mem in rows]
    return out, None


# ------------------------------------------------------------------------------------------
# Parameters

def parse_amount(v):
    if isinstance(v, bool):
        raise ValueError(v)
    if isinstance(v, int):
        return v
    s = str(v).strip()
    return int(s, 16) if s.lower().startswith("0x") else int(s)


def parse_emission(v, where):
    """`EmissionSchedule` from its genesis object: all five fields, nothing else (the node's
    serde: no defaults inside the object, unknown fields refused)."""
    if not isinstance(v, dict):
        raise SystemExit(f"{where}: expected an object {{{', '.join(EMISSION_KEYS)}}}")
    missing = [k for k in EMISSION_KEYS if k not in v]
    extra = sorted(set(v) - set(EMISSION_KEYS))
    if missing or extra:
        raise SystemExit(f"{where}: " + "; ".join(
            ([f"missing {', '.join(missing)}"] if missing else [])
            + ([f"unknown {', '.join(extra)}"] if extra else [])))
    return {k: parse_amount(v[k]) if k == "initialPerBlock" else int(v[k]) for k in EMISSION_KEYS}


def _defaults(base, path, struct, notes):
    """`base` updated from `struct`::default() in `path` when it parses; returns the source
    label and adds a note (a sentence fragment)."""
    parsed, err = defaults_from_source(path, struct)
    rel = os.path.relpath(path, ROOT)
    if err:
        notes.append(f"this script's copy of `{struct}::default()` ({rel}: {err})")
        return "default (script copy)"
    diff = [k for k, v in parsed.items() if k in base and base[k] != v]
    base.update({k: v for k, v in parsed.items() if k in base})
    notes.append(
        f"`{rel}` (`{struct}::default()`"
        + (f"; they differ from the script's copy for {', '.join(diff)}, the file wins)"
           if diff else "; they match the script's copy)")
    )
    return "default"


def load_params(genesis_path, shown):
    """Returns (market params, source of each key, staking pool params {emission, rewardPool},
    their sources, blockTimeSecs, notes). Refuses, as the node does, a `config.dbc` of another
    genesis format, the keys format 3 replaced, and emission schedules `validate` refuses."""
    found = []
    base = dict(DEFAULTS)
    default_src = _defaults(base, MARKET_RS, "MarketParams", found)
    sbase = dict(STAKING_DEFAULTS)
    sdefault_src = _defaults(sbase, STAKING_RS, "StakingParams", found)
    notes = ["Defaults: from " + " and ".join(found) + "."]
    with open(genesis_path, encoding="utf-8") as f:
        g = json.load(f)
    cfg = g.get("config", {})
    if "dbc" in cfg:
        version = (cfg["dbc"] or {}).get("version", 0)
        if version != GENESIS_FORMAT:
            raise SystemExit(
                f"{shown}: config.dbc.version = {version}: the node reads genesis format "
                f"{GENESIS_FORMAT} only (see genesis/README.md for the migration)")
    dbc_cfg = cfg.get("dbc", {}) or {}
    block_secs = int(dbc_cfg.get("blockTimeSecs", 6))
    for (obj, k), what in FORMAT_2_KEYS.items():
        if k in (dbc_cfg.get(obj) or {}):
            raise SystemExit(f"{shown}: config.dbc.{obj}.{k} is a genesis format 2 key: it {what} "
                             "in format 3, and the node refuses it (see genesis/README.md)")
    gm = dbc_cfg.get("market")
    if gm is None:
        notes.append(f"`{shown}` has no `config.dbc.market`: every market parameter is the default.")
        gm = {}
    p, src = {}, {}
    for k, dv in base.items():
        if k in gm:
            v = gm[k]
            if k in AMOUNT_KEYS:
                v = parse_amount(v)
            elif k == "emission":
                v = parse_emission(v, "config.dbc.market.emission")
            elif k == "burnTiers":
                v = [(int(t["fromGpus"]), int(t["bps"])) for t in v]
            elif k in ("ownerOfflineSlash", "unreachableSlash"):
                v = [(None if t.get("underBlocks") is None else int(t["underBlocks"]), int(t["bps"]))
                     for t in v]
            elif k == "gpuModels":
                v = [(str(t["model"]), int(t["calcPoint"]), int(t["memoryGb"])) for t in v]
            elif k == "burnTierBasis":
                v = str(v)
            else:
                v = int(v)
            p[k], src[k] = v, "genesis"
        else:
            p[k], src[k] = dv, default_src
    unknown = sorted(set(gm) - set(base))
    if unknown:
        notes.append(f"Ignored unknown genesis keys: {', '.join(unknown)}.")
    gs = dbc_cfg.get("staking") or {}
    sp, ssrc = {}, {}
    for k, dv in sbase.items():
        if k in gs:
            v = gs[k]
            sp[k] = (parse_emission(v, "config.dbc.staking.emission") if k == "emission"
                     else parse_amount(v))
            ssrc[k] = "genesis"
        else:
            sp[k], ssrc[k] = dv, sdefault_src
    for name, e, pool in (("market.emission", p["emission"], p["rewardPool"]),
                          ("staking.emission", sp["emission"], sp["rewardPool"])):
        err = em_validate(name, e, pool)
        if err:
            raise SystemExit(f"{shown}: {err}")
    return p, src, sp, ssrc, block_secs, notes


# ------------------------------------------------------------------------------------------
# The emission, mirrored (crates/chainspec/src/emission.rs)

def _keep(e):
    return BPS - min(e["decayBps"], BPS)


def em_era_of(e, n):
    """`era_of`: the era of block n (blocks 0 and 1 are in era 0)."""
    return max(n - 1, 0) // max(e["eraBlocks"], 1)


def em_decayed(e, k):
    """`decayed`: era k's per-block release ignoring the remainder rule."""
    r = e["initialPerBlock"]
    steps = max(k + 1 - e["flatEras"], 0)
    for _ in range(min(steps, MAX_END_ERA)):
        if r == 0:
            break
        r = min(r * _keep(e), U256_MAX) // BPS
    return r


def em_before_last(e):
    """`before_last`: what eras 0 .. endEra − 2 release in all (None on a 256-bit overflow)."""
    r, total = e["initialPerBlock"], 0
    for k in range(max(e["endEra"] - 1, 0)):
        if k >= e["flatEras"]:
            if r * _keep(e) > U256_MAX:
                return None
            r = r * _keep(e) // BPS
        if r * e["eraBlocks"] > U256_MAX:
            return None
        total += r * e["eraBlocks"]
        if total > U256_MAX:
            return None
    return total


def em_rate(e, k, pool):
    """`rate`: era k's per-block release for a pool of `pool` wei; the last era spreads the
    pool's remainder over its blocks (rounded down), later eras release nothing."""
    end = e["endEra"]
    if k >= end:
        return 0
    if k + 1 == end:
        spent = em_before_last(e)
        spent = U256_MAX if spent is None else spent
        return max(pool - spent, 0) // max(e["eraBlocks"], 1)
    return em_decayed(e, k)


def em_emitted(e, a, b, pool):
    """`emitted`: what blocks a + 1 ..= b release in all, capped by the pool (the number of
    eras walked, which the callers charge gas for, is left out)."""
    if b <= a:
        return 0
    eb = max(e["eraBlocks"], 1)
    total, n = 0, a + 1
    k = em_era_of(e, n)
    while n <= b and k < e["endEra"]:
        seg_end = min(b, (k + 1) * eb)
        total += em_rate(e, k, pool) * (seg_end - n + 1)
        n, k = seg_end + 1, k + 1
    return min(total, pool)


def em_validate(name, e, pool):
    """`validate`: the node's refusal message, or None."""
    if e["eraBlocks"] == 0 or e["eraBlocks"] > MAX_DURATION_BLOCKS:
        return f"{name}.eraBlocks = {e['eraBlocks']} must be 1 to {MAX_DURATION_BLOCKS}"
    if e["decayBps"] > BPS:
        return f"{name}.decayBps = {e['decayBps']} exceeds 10000 bps"
    if e["endEra"] == 0 or e["endEra"] > MAX_END_ERA:
        return f"{name}.endEra = {e['endEra']} must be 1 to {MAX_END_ERA}"
    if e["flatEras"] > e["endEra"]:
        return f"{name}.flatEras = {e['flatEras']} exceeds endEra = {e['endEra']}"
    if e["initialPerBlock"] * e["eraBlocks"] > U256_MAX:
        return f"{name}: initialPerBlock × eraBlocks overflows"
    s = em_before_last(e)
    if s is None:
        return f"{name}: the emission overflows"
    if s > pool:
        return f"{name} releases {s} wei before its last era, more than the pool of {pool} wei"
    return None


_DAILY = {}


def daily_emission(p, day_blocks, days):
    """What the market's schedule releases on each simulated day t (blocks t·D + 1 ..= (t + 1)·D
    from genesis), before the cap of what is left of the pool."""
    e = p["emission"]
    key = (tuple(e[k] for k in EMISSION_KEYS), p["rewardPool"], day_blocks, days)
    if key not in _DAILY:
        _DAILY[key] = [em_emitted(e, t * day_blocks, (t + 1) * day_blocks, p["rewardPool"])
                       for t in range(days)]
    return _DAILY[key]


def era0_per_block(p):
    """Era 0's per-block release of the GPU pool (the first year's rate)."""
    return em_rate(p["emission"], 0, p["rewardPool"])


# ------------------------------------------------------------------------------------------
# The market's arithmetic, mirrored

def burn_bps(tiers, gpus):
    """math.rs burn_bps: the last tier whose fromGpus is at most `gpus`."""
    bps = 0
    for frm, b in tiers:
        if frm > gpus:
            break
        bps = b
    return bps


def bps_of(amount, bps):
    """math.rs bps_of: amount × bps / 10,000, rounded down."""
    return amount * bps // BPS


def mul_div(a, num, den):
    return a * num // den


def grade(calc_point, gpus):
    """math.rs grade: calc_point × gpus × 10,000 (calc point per GPU, like the price and the
    stake); renting does not change it. rewards.rs regrade gives it to online machines only
    (0 otherwise)."""
    return calc_point * gpus * BPS


def grade_before(calc_point, gpus, rented, bonus_bps):
    """The original rule (before the fix): calc_point × (10,000 × gpus + bonus × rented) / gpus,
    i.e. calc_point × (10,000 + bonus × rented / gpus): it did not grow with the GPU count."""
    if gpus == 0:
        return 0
    rented = min(rented, gpus)
    return calc_point * (BPS * gpus + bonus_bps * rented) // gpus


def slash_bps(tiers, blocks):
    """math.rs slash_bps: the first tier with blocks < underBlocks (or the open-ended one)."""
    for under, b in tiers:
        if under is None or blocks < under:
            return b
    return 0


def vested(amount, start, duration, now):
    """math.rs vested: linear release over `duration` blocks from `start`."""
    if now <= start:
        return 0
    if now - start >= duration:
        return amount
    return mul_div(amount, now - start, duration)


def split_immediate(amount, immediate_bps):
    """math.rs split_immediate."""
    now = bps_of(amount, immediate_bps)
    return now, amount - now


def standard_price(p, calc_point):
    """rentals.rs standard_price: standardPricePerGpuBlock × calcPoint / standardCalcPoint."""
    return mul_div(p["standardPricePerGpuBlock"], calc_point, p["standardCalcPoint"])


def price_floor(p, calc_point):
    """rentals.rs price_floor: minPriceBps of the standard price."""
    return bps_of(standard_price(p, calc_point), p["minPriceBps"])


def machine_reward(released, g_machine, g_total):
    """rewards.rs pool_update + accrued: released × ACC_SCALE / totalGrade, × grade / ACC_SCALE."""
    if g_total == 0:
        return 0
    return g_machine * (released * ACC_SCALE // g_total) // ACC_SCALE


def to_auditors(p, amount, verifiers=3):
    """rewards.rs credit_verifiers: auditorRewardBps of the reward, equal whole-wei shares."""
    if verifiers == 0:
        return 0
    return bps_of(amount, p["auditorRewardBps"]) // verifiers * verifiers


def others_grade(p, network_gpus, own_gpus, other_gpus, calc_point, rented_frac, before):
    """Total grade of the rest of the network: (N − own GPUs) / other_gpus machines of
    `calc_point`. Now each weighs calc_point × other_gpus × 10,000 whatever is rented, so the
    total is (N − own GPUs) × calc_point × 10,000 whatever the machine size; before, each weighed
    calc_point × (10,000 + bonus × `rented_frac`) whatever its GPU count (grade_before, linear in
    rented)."""
    machines = Fraction(max(network_gpus - own_gpus, 0), other_gpus)
    if before:
        g = Fraction(calc_point) * (BPS + Fraction(p["rentedBonusBps"]) * Fraction(rented_frac))
    else:
        g = Fraction(grade(calc_point, other_gpus))
    return int(machines * g)


def owner_share(p, amount):
    """What the owner gets of a payout: all but the verifiers' `auditorRewardBps`
    (rewards.rs pay_reward)."""
    return amount - to_auditors(p, amount)


def split_bonus(amount, g_now, g_base):
    """Before: the bonus part of a reward paid through the grade, amount × (grade − baseGrade) /
    grade (for display only; the whole amount was paid)."""
    if g_now == 0 or g_now <= g_base:
        return 0
    return amount * (g_now - g_base) // g_now


def rental_bonus(p, per_gpu_delta, gpus, burned, left):
    """rewards.rs pay_rental_bonus: earned = gpus × (reward_per_gpu − snapshot) / PER_GPU_SCALE,
    accrued = rentedBonusBps of it, paid = min(accrued, this rental's burn, pool left)."""
    earned = per_gpu_delta * gpus // PER_GPU_SCALE
    accrued = bps_of(earned, p["rentedBonusBps"])
    return accrued, min(accrued, burned, max(left, 0))


def per_gpu_of(amount, gpus):
    """rewards.rs settle: the increment of `reward_per_gpu` for a settled `amount`."""
    return amount * PER_GPU_SCALE // gpus if gpus else 0


# ------------------------------------------------------------------------------------------
# Formatting

def d(wei, places=2):
    """wei → DBC string."""
    v = Fraction(wei, DBC)
    s = f"{float(v):,.{places}f}"
    return "0.00" if s in ("-0.00", "-0") else s


def dbc_exact(wei):
    """wei → the exact DBC amount (supply.rs `DbcAmount`'s display: no trailing zeros)."""
    whole, frac = divmod(wei, DBC)
    if frac == 0:
        return f"{whole:,}"
    return f"{whole:,}." + f"{frac:018d}".rstrip("0")


def big(wei):
    """wei → DBC with a unit: 1.20 B, 306.25 M, 7,584.57."""
    v = Fraction(wei, DBC)
    for unit, size in (("B", 10**9), ("M", 10**6)):
        # The larger unit once the smaller one would show 1,000.00.
        if v >= size or round(float(v * 1000 / size), 2) >= 1000:
            return f"{float(v / size):,.2f} {unit}"
    return f"{float(v):,.2f}"


def pct(bps):
    return f"{bps / 100:g}%"


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------
# Sections

def param_section(p, src, block_secs, day_blocks, notes, genesis_path):
    out = ["### Parameters", ""]
    out += [f"Genesis: `{genesis_path}`. " + " ".join(notes), ""]
    out.append(f"`config.dbc.blockTimeSecs` = {block_secs} s, so a day is {day_blocks:,} blocks "
               "(the tables count days of that many blocks).")
    out.append("")
    rows = []
    for k, v in p.items():
        if k in AMOUNT_KEYS:
            shown = f"{d(v, 4)} DBC"
        elif k == "burnTiers":
            shown = ", ".join(f"from {a:,} GPUs: {pct(b)}" for a, b in v)
        elif k in ("ownerOfflineSlash", "unreachableSlash"):
            shown = ", ".join((f"<{u:,} blocks: " if u is not None else "beyond: ") + pct(b)
                              for u, b in v)
        elif k == "gpuModels":
            shown = ("; ".join(f"{m}: {c:,}, {mem} GB" for m, c, mem in v)
                     + " (model: calc point per GPU, memory)")
        elif k == "emission":
            shown = emission_text(v)
        elif k.endswith("Bps"):
            shown = f"{v:,} ({pct(v)})"
        elif isinstance(v, int):
            shown = f"{v:,}"
        else:
            shown = str(v)
        rows.append((f"`{k}`", shown, src[k]))
    out.append(table(["`config.dbc.market` key", "value", "source"], rows))
    pb = era0_per_block(p)
    out += ["", f"Derived: reward per block in era 0 (the first "
            f"{era_days(p['emission'], block_secs)}) = {d(pb, 6)} DBC, per day "
            f"{d(pb * day_blocks)} DBC; the schedule and how long the pool lasts are in "
            "*Emission* below. "
            f"Floor price of a machine of calc point {p['standardCalcPoint']:,} = "
            f"{d(price_floor(p, p['standardCalcPoint']), 6)} DBC per GPU-block "
            f"({d(price_floor(p, p['standardCalcPoint']) * day_blocks)} DBC per GPU-day; standard "
            f"{d(standard_price(p, p['standardCalcPoint']) * day_blocks)}).",
            "",
            "Treasury: the market's treasury shares (of machine slashes, the rest of a renter's "
            "share when there is no renter, auditor penalties, the stake a rejected machine "
            f"loses, a false report's deposit) go to the treasury, the balance of the governance "
            f"precompile `{GOVERNANCE}`, tagged by source (`TreasuryReceived`, `dbc_treasury`). "
            "Only a treasury spend enacted by a referendum of locked DBC spends it. The tables "
            "count what an attacker loses to it as lost."]
    return "\n".join(out)


def emission_text(e):
    return (f"eraBlocks {e['eraBlocks']:,}; initialPerBlock {dbc_exact(e['initialPerBlock'])} DBC; "
            f"flatEras {e['flatEras']:,}; decayBps {e['decayBps']:,} ({pct(e['decayBps'])}); "
            f"endEra {e['endEra']:,}")


def first_year(p, day_blocks):
    """", the first year's" when era 0 of the GPU pool is a year, else ""."""
    return ", the first year's" if p["emission"]["eraBlocks"] == 365 * day_blocks else ""


def era_days(e, block_secs):
    """An era's length in words: "365 days" (a year at 6 s blocks)."""
    days = Fraction(e["eraBlocks"] * block_secs, 86_400)
    text = f"{float(days):,.4g} days"
    return text + (", a year" if days == 365 else "")


def year_rows(e, pool, years):
    """(era, per-block rate, released in the era, cumulative, cumulative share of the pool) for
    the 1-based eras `years`."""
    rows, total, k = [], 0, 0
    for y in sorted(years):
        while k < y:
            total += em_rate(e, k, pool) * e["eraBlocks"]
            k += 1
        r = em_rate(e, y - 1, pool)
        rows.append((y, r, r * e["eraBlocks"], total, Fraction(total, pool) if pool else 0))
    return rows


def pool_end_with_bonus(p, day_blocks, bonus_bps):
    """The first day on which the GPU pool is empty if rented bonuses add `bonus_bps` of the
    emission on top of it (every GPU rented all the time, each bonus paid in full; they count
    as distributed, rewards.rs `pay_rental_bonus`), or None within the schedule."""
    e, pool = p["emission"], p["rewardPool"]
    need = Fraction(pool * BPS, BPS + bonus_bps)
    total, k = 0, 0
    while k < e["endEra"]:
        era = em_rate(e, k, pool) * e["eraBlocks"]
        if total + era >= need:
            r = em_rate(e, k, pool)
            blocks = -(-(need - total) // r) if r else 0
            return (k * e["eraBlocks"] + int(blocks)) // day_blocks
        total += era
        k += 1
    return None


def emission_section(p, src, sp, ssrc, block_secs, day_blocks):
    """The two reward pools' schedules, year by year."""
    e, pool = p["emission"], p["rewardPool"]
    ve, vpool = sp["emission"], sp["rewardPool"]
    out = ["### Emission", ""]
    out.append(
        "Both reward pools are pre-funded at genesis and released by a decaying schedule "
        "(crates/chainspec/src/emission.rs `EmissionSchedule`): block n ≥ 1 is in era "
        "(n − 1) / `eraBlocks`; the first `flatEras` eras release `initialPerBlock` a block, "
        "each later era ⌊previous × (10,000 − `decayBps`) / 10,000⌋, and the last era "
        "(`endEra` − 1) releases what the earlier eras left of the pool, spread over its blocks "
        "(rounded down); after it nothing is released. The node refuses a schedule that would "
        "release more than the pool before its last era. The GPU pool "
        "(`config.dbc.market.emission`, source: " + src["emission"] + "; `rewardPool` "
        f"{big(pool)} DBC) is shared by grade among the online machines block by block "
        "(rewards.rs `pool_update` releases `emitted(last, now)`, capped by what is left); the "
        "validators' pool (`config.dbc.staking.emission`, source: " + ssrc["emission"]
        + f"; `rewardPool` {big(vpool)} DBC) pays each block's sealer the rate of the block's "
        "era (staking.rs `on_block`), split with its delegators after commission.")
    out.append("")
    out.append(f"- GPU pool: {emission_text(e)}; an era is {era_days(e, block_secs)}.")
    out.append(f"- Validators' pool: {emission_text(ve)}; an era is {era_days(ve, block_secs)}.")
    out.append("")
    years = [y for y in (1, 2, 3, 4, 5, 10, 20, 30, 50, 100) if y <= max(e["endEra"], ve["endEra"])]
    years = sorted(set(years) | {e["endEra"], ve["endEra"]})
    gr = {r[0]: r for r in year_rows(e, pool, years)}
    vr = {r[0]: r for r in year_rows(ve, vpool, years)}
    rows = []
    for y in years:
        g_, v_ = gr[y], vr[y]
        rows.append((f"{y:,}" + (" (last)" if y in (e["endEra"], ve["endEra"]) else ""),
                     d(g_[1], 6), big(g_[2]), big(g_[3]), f"{float(g_[4]) * 100:.2f}%",
                     d(v_[1], 6), big(v_[2]), big(v_[3]), f"{float(v_[4]) * 100:.2f}%"))
    out.append(table(["era (a year each by default)", "GPU: DBC per block", "GPU: released in the era",
                      "GPU: cumulative", "GPU: share of the pool", "validators: DBC per block",
                      "validators: released in the era", "validators: cumulative",
                      "validators: share of the pool"], rows))
    notes = []
    for name, sched, pl in (("GPU", e, pool), ("validators'", ve, vpool)):
        last = sched["endEra"]
        all_ = year_rows(sched, pl, [last])[0][3]
        prev = em_rate(sched, last - 2, pl) if last >= 2 else None
        text = (f"The {name} pool's last era ({last:,}) releases "
                f"{d(em_rate(sched, last - 1, pl) * sched['eraBlocks'])} DBC "
                f"({d(em_rate(sched, last - 1, pl), 6)} a block")
        if prev is not None:
            text += f"; era {last - 1:,}: {d(prev * sched['eraBlocks'])} DBC"
        text += (f"); {pl - all_:,} wei of the pool are never released (the last rate is "
                 "rounded down).")
        notes.append(text)
    out += ["", " ".join(notes)]
    days = pool_end_with_bonus(p, day_blocks, p["rentedBonusBps"])
    bonus = ("" if days is None else
             f" Rented bonuses come out of the same pool and count as distributed: were every "
             f"GPU rented all the time with its bonus ({pct(p['rentedBonusBps'])} of what its "
             f"GPUs earn) paid in full, the GPU pool would be empty after {days:,} days"
             + (f" ({days / 365:.1f} years)" if days >= 365 else "")
             + f" instead of {e['endEra'] * e['eraBlocks'] // day_blocks:,} days without them.")
    out += ["", "Not everything is released: blocks in which no machine is online release "
            "nothing (the market's accumulator skips them), and since the last era's remainder is "
            "computed from the schedule, not from what is left, their share stays in the market "
            "account for good; likewise a block whose sealer is not a registered validator pays "
            "no block reward (nor does any block of the dev chain, which runs no staking hook), "
            "and its share stays in the staking account. "
            "Eras count blocks, not time: missed slots stretch them." + bonus,
            "", "Every figure below that depends on the emission follows it: the simulation "
            "starts at genesis and releases the schedule day by day; a steady day of the wash "
            "table, and the break-even price derived from it (*floor needed*), use era 0's "
            f"rate ({d(era0_per_block(p), 6)} DBC a block{first_year(p, day_blocks)})."]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------
# Wash renting

def wash_day(p, day_blocks, n, g, cp, other_gpus, other_rented, tier=None):
    """One day of wash renting all `g` GPUs of one machine at the floor price, as a one-day
    rental. `net_before`: the original rule (the rented grade's whole reward paid);
    `net_now`: the per-rental bonus, capped by this rental's burn."""
    if tier is None:
        tier = burn_bps(p["burnTiers"], n)
    bonus_bps = p["rentedBonusBps"]
    rent = price_floor(p, cp) * g * day_blocks
    burned = bps_of(rent, tier)
    # A steady day of era 0 (the first year; emission.rs `rate(0)`).
    released = era0_per_block(p) * day_blocks
    # Before: renting raised the machine's grade, and the whole reward was paid.
    og_b = others_grade(p, n, g, other_gpus or g, cp, other_rented, True)
    g0b, g1b = grade_before(cp, g, 0, bonus_bps), grade_before(cp, g, g, bonus_bps)
    r0b = machine_reward(released, g0b, og_b + g0b)
    r1b = machine_reward(released, g1b, og_b + g1b)
    extra_b = owner_share(p, r1b) - owner_share(p, r0b)
    # Now: the grade is the same rented or not; the rental's bonus is paid when it ends.
    og = others_grade(p, n, g, other_gpus or g, cp, other_rented, False)
    gn = grade(cp, g)
    r = machine_reward(released, gn, og + gn)
    accrued, paid = rental_bonus(p, per_gpu_of(r, g), g, burned, p["rewardPool"])
    need = None if tier == 0 else Fraction(extra_b, g * day_blocks) / Fraction(tier, BPS)
    return dict(tier=tier, rent=rent, burned=burned, back=rent - burned,
                reward_before=owner_share(p, r0b), extra_before=extra_b,
                net_before=extra_b - burned, reward_now=owner_share(p, r), accrued=accrued,
                paid=paid, net_now=owner_share(p, paid) - burned, need=need)


def break_even_ranges(p, day_blocks, g, cp, other_gpus, other_rented, key="net_before",
                      top=10**7):
    """Per burn tier, the GPU counts (within the tier) at which wash renting pays under the rule
    `key`: (tier from, bps, lo, hi, first paying N or None, last paying N or None). The old net
    rises from 0 (the attacker alone is the whole network) and then falls as the network grows,
    so the paying sizes form one interval; a geometric grid finds a paying size and bisection
    its ends. Now the net is negative at every size (bonus paid ≤ burn), and the grid finds no
    paying size."""
    tiers = p["burnTiers"]

    def pays(n):
        return wash_day(p, day_blocks, n, g, cp, other_gpus, other_rented)[key] > 0

    res = []
    for i, (frm, bps) in enumerate(tiers):
        lo = max(frm, g)
        hi = tiers[i + 1][0] - 1 if i + 1 < len(tiers) else top
        if lo > hi:
            continue
        grid, n = [lo], lo
        while n < hi:
            n = min(hi, max(n + 1, int(n * 1.05)))
            grid.append(n)
        hits = [j for j, n in enumerate(grid) if pays(n)]
        if not hits:
            res.append((frm, bps, lo, hi, None, None))
            continue
        j0, j1 = hits[0], hits[-1]
        first = grid[j0]
        if j0 > 0:
            a, b = grid[j0 - 1], grid[j0]  # not pays(a), pays(b)
            while b - a > 1:
                m = (a + b) // 2
                a, b = (a, m) if pays(m) else (m, b)
            first = b
        last = grid[j1]
        if j1 + 1 < len(grid):
            a, b = grid[j1], grid[j1 + 1]  # pays(a), not pays(b)
            while b - a > 1:
                m = (a + b) // 2
                a, b = (m, b) if pays(m) else (a, m)
            last = a
        res.append((frm, bps, lo, hi, first, last))
    return res


def _range_text(first, last, lo, hi):
    if last is None:
        return "never"
    upto = f"{last:,}" if last < 10**7 else "any size"
    res = f"**{first:,} to {upto} GPUs**"
    if (first, last) == (lo, hi):
        res += " (the whole tier)"
    return res


def wash_section(p, day_blocks, sizes, gpu_list, cp, other_gpus, other_rented_list):
    out = ["### Wash renting", ""]
    out.append(
        "The owner rents every GPU of its own machine from a second address (`rent` refuses only "
        "`who == owner` and `beneficiary == owner`, rentals.rs `rent`) at the floor price "
        "(`minPriceBps` of the standard price, the cheapest price `setPrice` accepts), as "
        "back-to-back one-day rentals. At the end of each rental `close_rental` burns the tier's "
        "share of the used rent and pays the rest to the machine's owner: that part comes back "
        "to the attacker, so its cost is the burned rent (and gas, ignored here).")
    out.append("")
    out.append(
        "*Before* (the original rule) renting raised the machine's grade from calc point × 1 to "
        "calc point × (1 + `rentedBonusBps` × rented/gpus), and the whole reward of that grade "
        "was paid: the gain was the extra reward. *Now* the grade is calc point × GPUs × 10,000 "
        "whether or not anything is rented, so the machine's reward is the same as unrented; when the "
        "rental ends it is paid a bonus of `rentedBonusBps` of what its GPUs earned while it ran, "
        "at most the rent that rental burned (rewards.rs `pay_rental_bonus`). So net = bonus "
        "paid − auditors' share of it − burned ≤ −(auditors' share) < 0 whenever anything is "
        "burned; with the auditors colluding (their share comes back), net ≤ 0, i.e. at best "
        "break-even before gas.")
    out.append("")
    out.append("Assumptions:")
    out.append(f"- The attacker's machine and every other machine have calc point {cp:,}; the other "
               "machines have " + (f"{other_gpus} GPUs" if other_gpus else "as many GPUs as the attacker's")
               + ". Now the grade is calc point × GPUs (math.rs `grade`), so the rest of the "
               "network weighs its GPU count × calc point however it is split into machines; "
               "before, each machine weighed its calc point whatever its GPU count. Before, a "
               "given share of their GPUs was rented (column *others rented*; 0% is the worst "
               "case, the smallest total grade). Now that share changes nothing (the grade "
               "ignores rentals), so the *now* columns are the same for both shares.")
    out.append("- The network's online GPU count (which selects the burn tier with "
               "`burnTierBasis = online`) includes the attacker's machine and is constant.")
    out.append("- Rewards are counted when earned: the owner's share after the auditors' "
               f"`auditorRewardBps` (3 honest verifiers); {pct(p['immediateBps'])} is claimable at once, the rest "
               f"vests over {p['vestingBlocks'] // day_blocks} days but is paid in full in the end. "
               "*Bonus accrued* and *bonus paid* are before the auditors' share; rewards and nets "
               "after it. The day is a day of era 0"
               + (", the first year" if first_year(p, day_blocks) else "")
               + f" ({d(era0_per_block(p) * day_blocks)} DBC released); in later eras the reward and "
               "the bonus shrink with the emission while the burn does not. The reward pool is "
               "far from empty.")
    out.append("- *Floor needed* is the price per GPU-block at which the burned rent would have "
               "equalled the extra reward before (break even); *standard* is "
               f"{d(standard_price(p, cp), 4)} DBC.")
    out.append("")
    head = ["network GPUs", "burned", "machine GPUs", "others rented", "rent paid/day",
            "burned/day", "extra reward/day before", "net/day before",
            "reward/day now (rented or not)", "bonus accrued/day now", "bonus paid/day now",
            "net/day now", "floor needed before"]
    rows = []
    worst = None
    for other_rented in other_rented_list:
        for n in sizes:
            for g in gpu_list:
                w = wash_day(p, day_blocks, n, g, cp, other_gpus, other_rented)
                need = "∞ (no burn)" if w["need"] is None else f"{float(w['need']) / DBC:,.4f}"
                nb = d(w["net_before"]) + (" **pays**" if w["net_before"] > 0 else "")
                nn = d(w["net_now"]) + (" **pays**" if w["net_now"] > 0 else "")
                worst = w["net_now"] if worst is None else max(worst, w["net_now"])
                rows.append((f"{n:,}", pct(w["tier"]), g, f"{float(other_rented) * 100:g}%",
                             d(w["rent"]), d(w["burned"]), d(w["extra_before"]), nb,
                             d(w["reward_now"]), d(w["accrued"]), d(w["paid"]), nn, need))
    out.append(table(head, rows))
    out += ["", f"Highest net/day now in this table: {d(worst)} DBC (in the 30% and 70% tiers the "
            "bonus accrued exceeds the burn, so the bonus paid equals the burn and the loss is "
            "the auditors' 1% of it; in the 100% tier the bonus is below the burn)."]
    out.append("")
    out.append("Network sizes at which wash renting pays, by burn tier (same assumptions):")
    out.append("")
    rows = []
    for other_rented in other_rented_list:
        for g in gpu_list:
            before = break_even_ranges(p, day_blocks, g, cp, other_gpus, other_rented)
            now = break_even_ranges(p, day_blocks, g, cp, other_gpus, other_rented, "net_now")
            for (frm, bps, lo, hi, first, last), (_, _, _, _, f2, l2) in zip(before, now):
                span = f"{lo:,}–{hi:,}" if hi < 10**7 else f"{lo:,}+"
                rows.append((g, f"{float(other_rented) * 100:g}%", f"{pct(bps)} ({span})",
                             _range_text(first, last, lo, hi), _range_text(f2, l2, lo, hi)))
    out.append(table(["machine GPUs", "others rented", "burn tier (GPUs)",
                      "pays at, before", "pays at, now"], rows))
    # Tier locking: the tier is read once at `rent` and kept through every extension.
    low = p["burnTiers"][0][1]
    locked = dict(p, burnTiers=[(0, low)])
    days = (MAX_RENTAL_EXTENSIONS + 1) * p["maxRentBlocks"] // day_blocks
    out += ["", f"Tier locking (unchanged): `rent` reads the burn tier once and stores it in the "
            f"rental; `extendRental` keeps it (up to {MAX_RENTAL_EXTENSIONS} extensions, each "
            f"keeping at most `maxRentBlocks` ahead), so a rental started while the network is in "
            f"the lowest tier (every network starts there) burns {pct(low)} for up to {days:,} "
            "days. With `burnTierBasis = online` an owner can also lower the count for the block "
            "of its `rent` by taking its other, idle machines offline (reason idle: no slash) and "
            "back online with a heartbeat (signed by each machine's key, which it runs). Now a "
            "lower burn is also a lower cap on that rental's bonus, so the locked tier does not make wash renting pay; it changes how much of a "
            "real renter's rent the owner keeps. With the lowest tier locked, wash renting pays "
            "at:", ""]
    rows = []
    for other_rented in other_rented_list:
        for g in gpu_list:
            before = break_even_ranges(locked, day_blocks, g, cp, other_gpus, other_rented)
            now = break_even_ranges(locked, day_blocks, g, cp, other_gpus, other_rented, "net_now")
            for (_, bps, lo, hi, first, last), (_, _, _, _, f2, l2) in zip(before, now):
                b = "never" if last is None else f"**{first:,} to {last:,} GPUs**"
                n_ = "never" if l2 is None else f"**{f2:,} to {l2:,} GPUs**"
                rows.append((g, f"{float(other_rented) * 100:g}%", pct(bps), b, n_))
    out.append(table(["machine GPUs", "others rented", "burn locked", "pays at, before",
                      "pays at, now"], rows))
    return "\n".join(out)


# ------------------------------------------------------------------------------------------
# One machine over a year

class Ledger:
    """What one owner's account receives from the market over the simulated year."""

    def __init__(self, p, day_blocks):
        self.p, self.day = p, day_blocks
        self.earned = 0          # owner's reward incl. bonus (after auditors)
        self.immediate = 0
        self.tranches = []       # (start, amount)  records.rs Account::add_vesting
        self.rent_in = 0         # rent paid to the owner by real renters (after burn)
        self.burned = 0          # own rent burned (wash renting)
        self.stake_lost = 0
        self.other = 0           # other gains (+) or costs (−)
        self.aud = 0             # the verifiers' share of the machine's reward and bonus
        self.accrued = 0         # rented bonus accrued (before the auditors' share)
        self.paid = 0            # rented bonus paid (before the auditors' share)
        self.shill_accrued = 0   # of which the owner's own (wash) rentals
        self.shill_paid = 0

    def settle(self, day, amount):
        """rewards.rs pay_reward at the end of `day`: split, tranche from the next epoch."""
        if amount == 0:
            return
        self.earned += amount
        now, later = split_immediate(amount, self.p["immediateBps"])
        self.immediate += now
        block = (day + 1) * self.day - 1
        start = (block // self.p["epochBlocks"] + 1) * self.p["epochBlocks"]
        if self.tranches and self.tranches[-1][0] == start:
            s, a = self.tranches[-1]
            self.tranches[-1] = (s, a + later)
        else:
            self.tranches.append((start, later))

    def pay(self, day, payout):
        """A payout: the verifiers' share, then the owner's split."""
        aud = to_auditors(self.p, payout)
        self.aud += aud
        self.settle(day, payout - aud)

    def received(self, at):
        """Immediate share + vested part of every tranche at block `at` (records.rs refresh)."""
        return self.immediate + sum(vested(a, s, self.p["vestingBlocks"], at)
                                    for s, a in self.tranches)

    def totals(self, days):
        at = days * self.day
        got = self.received(at)
        still = self.earned - got
        cash = got + self.rent_in - self.burned - self.stake_lost + self.other
        return got, still, cash, cash + still

    def row(self, name, stake, days):
        got, still, cash, total = self.totals(days)
        return (name, d(stake, 0), d(self.stake_lost), d(self.earned), d(self.accrued),
                d(self.paid), d(got), d(still), d(self.rent_in), d(self.burned),
                d(self.other), d(cash), d(total))


def run_year(p, day_blocks, days, og, cp, g, plan, before=False):
    """Daily settlement of one machine of `g` GPUs and calc point `cp` while the rest of the
    network has total grade `og`. plan(t) → (online, rented GPUs, starts, closes) for day t:
    `online` is True (all day), False (offline all day) or the number of blocks it is online
    from the start of the day before it goes offline; `starts` lists the rentals that start at
    the start of the day as (key, gpus), `closes` those that end at the end of the day (or when
    it goes offline) as (key, gpus, used rent, burn bps, own), `own` when the owner pays the
    rent itself (wash renting). `before`: the original rule (grade with the rented bonus, paid
    in full); else the rule now (grade = calc point × gpus; per-rental bonus, capped by the
    rental's burn and the pool, paid when it ends, rewards.rs pay_rental_bonus). Only this
    machine's bonuses are counted against the pool (it does not run dry within a year at the
    default rates either way)."""
    bonus_bps = p["rentedBonusBps"]
    daily = daily_emission(p, day_blocks, days)
    led = Ledger(p, day_blocks)
    g0b = grade_before(cp, g, 0, bonus_bps)
    reward_per_gpu, snapshot = 0, {}
    distributed = 0
    for t in range(days):
        online, rented, starts, closes = plan(t)
        for key, _ in starts:
            # rentals.rs rent: settle (nothing pending: settled at the end of the last day),
            # then the snapshot.
            snapshot[key] = reward_per_gpu
        # rewards.rs pool_update: the schedule's release of the day, capped by what is left.
        released = min(daily[t], max(p["rewardPool"] - distributed, 0))
        distributed += released
        blocks = day_blocks if online is True else min(int(online), day_blocks)
        if before:
            gm = grade_before(cp, g, rented, bonus_bps) if blocks else 0
        else:
            gm = grade(cp, g) if blocks else 0
        # Online for `blocks` blocks: its share of what they release (rewards.rs pool_update).
        part = released if blocks == day_blocks else min(
            released, em_emitted(p["emission"], t * day_blocks, t * day_blocks + blocks,
                                 p["rewardPool"]))
        r = machine_reward(part, gm, og + gm)
        if before:
            b = split_bonus(r, gm, g0b)
            led.accrued += b
            led.paid += b
        reward_per_gpu += per_gpu_of(r, g)             # rewards.rs settle
        led.pay(t, r)                                  # the daily claim or close_rental's settle
        for key, gpus, used, tier, own in closes:
            burned = bps_of(used, tier)
            if own:
                led.burned += burned                   # the rest of its own rent comes back
            else:
                led.rent_in += used - burned
            if before:
                continue
            accrued, paid = rental_bonus(p, reward_per_gpu - snapshot.pop(key), gpus, burned,
                                         p["rewardPool"] - distributed)
            distributed += paid                        # counts as distributed
            led.accrued += accrued
            led.paid += paid
            if own:
                led.shill_accrued += accrued
                led.shill_paid += paid
            led.pay(t, paid)
    return led


def rented_day(t, h):
    """Bresenham: a share h of the days are rented (all GPUs, one-day rentals)."""
    return int((t + 1) * h) > int(t * h)


def outage_start(a):
    """The first day from day 100 on that real renters rent (`rented_day`), and True; or day
    100 and False when there is none (the machine is idle when it goes silent)."""
    t = next((t for t in range(100, a.days) if rented_day(t, a.sim_honest_rented)), None)
    return (100, False) if t is None else (t, True)


def plans(p, day_blocks, n, a, cp, g):
    """The providers' day plans, by name."""
    tier = burn_bps(p["burnTiers"], n)
    low = p["burnTiers"][0][1]
    std, floor = standard_price(p, cp), price_floor(p, cp)
    h = a.sim_honest_rented
    days = a.days
    out_from, rented_then = outage_start(a)
    out_to = out_from + a.outage_days
    timeout = min(p["heartbeatTimeoutBlocks"], day_blocks)
    half = g // 2

    def one_day(t, tag, gpus, price, bps, own):
        key = (tag, t)
        return [(key, gpus)], [(key, gpus, price * gpus * day_blocks, bps, own)]

    def idle(t):
        return True, 0, [], []

    def honest(t):
        if rented_day(t, h):
            return (True, g) + one_day(t, "real", g, std, tier, False)
        return idle(t)

    def wash(t):
        return (True, g) + one_day(t, "shill", g, floor, tier, True)

    def unreachable(t):
        """Silent from the start of day `out_from`, when that day's real rental starts, to
        the start of day `out_to`. The heartbeat timeout finds it `heartbeatTimeoutBlocks`
        later (liveness.rs `heartbeat_check`): rented, so `fail_machine` ends the rental (the
        renter gets the unused rent back, the owner the used rent less the burn and the
        rental's bonus) and takes it offline; idle, it just goes offline."""
        if t == out_from and rented_then:
            key = ("real", t)
            return timeout, g, [(key, g)], [(key, g, std * g * timeout, tier, False)]
        if out_from <= t < out_to:
            return (timeout if t == out_from else False), 0, [], []
        return honest(t)

    def shill_on_idle_days(t):
        """A: real renters take all GPUs on their days; the shill takes them on the others."""
        if rented_day(t, h):
            return honest(t)
        return wash(t)

    def honest_half(t):
        if rented_day(t, h):
            return (True, g - half) + one_day(t, "real", g - half, std, tier, False)
        return idle(t)

    def shill_half_locked(t):
        """B: a long shill rental of `half` GPUs started on day 0 in the lowest tier (kept by
        extensions) runs all year and ends on the last day; real renters take the other GPUs."""
        real = rented_day(t, h)
        rented = half + (g - half if real else 0)
        starts, closes = one_day(t, "real", g - half, std, tier, False) if real else ([], [])
        if t == 0:
            starts = starts + [(("shill", 0), half)]
        if t == days - 1:
            closes = closes + [(("shill", 0), half, floor * half * day_blocks * days, low, True)]
        return True, rented, starts, closes

    def shill_half_daily(t):
        """C: on real renters' days, a one-day shill rental of the other half at the floor
        price, at the same time as the real rental and in the same tier."""
        if not rented_day(t, h):
            return idle(t)
        s1, c1 = one_day(t, "real", g - half, std, tier, False)
        s2, c2 = one_day(t, "shill", half, floor, tier, True)
        return True, g, s1 + s2, c1 + c2

    return dict(idle=idle, honest=honest, wash=wash, unreachable=unreachable,
                shill_on_idle_days=shill_on_idle_days, honest_half=honest_half,
                shill_half_locked=shill_half_locked, shill_half_daily=shill_half_daily)


# ------------------------------------------------------------------------------------------
# Auditor draws (committee.rs `draw`: weight min(stake, 4 × auditorStake), 3 distinct
# addresses, VRF beacon)

def seats_distribution(groups, seats=3):
    """Exact distribution of the colluders' seats when `seats` distinct addresses are drawn one
    after another, each with probability proportional to its weight among those not yet drawn.
    groups: [(addresses, weight each, colluding)]. Returns [P(0), …, P(seats)]."""
    from functools import lru_cache
    groups = tuple(groups)

    @lru_cache(maxsize=None)
    def go(counts, left):
        dist = [Fraction(0)] * (left + 1)
        if left == 0:
            dist[0] = Fraction(1)
            return tuple(dist)
        total = sum(c * w for c, (_, w, _) in zip(counts, groups))
        for i, (c, (_, w, coll)) in enumerate(zip(counts, groups)):
            if c == 0:
                continue
            pr = Fraction(c * w, total)
            nxt = list(counts)
            nxt[i] -= 1
            sub = go(tuple(nxt), left - 1)
            for j, q in enumerate(sub):
                dist[j + (1 if coll else 0)] += pr * q
        return tuple(dist)

    return list(go(tuple(c for c, _, _ in groups), seats))


def p_two_of_three(groups):
    dist = seats_distribution(groups)
    return dist[2] + dist[3]


def binomial_two_of_three(f):
    """Draws with replacement, each seat a colluder with probability f."""
    return 3 * f * f * (1 - f) + f ** 3


def auditor_section(p, day_blocks, a):
    units = a.committee_units
    ch = challenges_per_year(p, day_blocks, a.days)
    out = ["### Auditor draws", ""]
    out.append(
        "A round draws 3 distinct committee addresses; each try picks a seat uniformly among "
        "the seats handed out before the request (holes left by members who left are skipped, "
        "nobody moves into them) and accepts its member with probability `min(stake, 4 × "
        "auditorStake) / (4 × auditorStake)`, skipping members already drawn (committee.rs "
        "`draw`). That is a draw without replacement proportional to `min(stake, 4 × "
        "auditorStake)`. The randomness is the block's VRF beacon (`mixHash = keccak(parent mix "
        "‖ proposer's VRF output)`, crates/consensus/src/vrf.rs): nobody knows it when the round "
        "is opened and the proposer can only withhold its block (one bit of influence). A fake "
        "machine is approved when at least 2 of the 3 are colluders, at its model's table "
        "value, and passes a liveness challenge or a re-verification (3 drawn afresh, never its "
        "owner) on the same condition. Below, colluders hold a fraction f of the committee's "
        f"capped weight, which totals {units} × `auditorStake`. "
        "*≈ by weight* treats each seat as a colluder with probability f (3f²(1 − f) + f³); the "
        "other rows are exact for how the stake is spread over addresses (every address holds "
        "at least `auditorStake`, the joining minimum). *Before* is the original draw: one "
        "address, one chance, whatever its stake. *Tries* is the expected number of "
        "registrations until a fake is approved now (each rejection slashes "
        f"{pct(p['rejectSlashBps'])} of the machine's stake). A fake that fails a challenge "
        f"(one per {float(challenge_gap(p)):,.0f} online blocks on average, {float(ch):,.1f} in "
        f"{a.days} days online) loses {pct(slash_bps(p['unreachableSlash'], 0))} of its stake "
        "and must pass a re-verification (same condition) before it is online again; failing "
        "that, it is rejected and out for good, and the attacker registers a new one (as in "
        "the simulation, each round counted at "
        f"{a.round_blocks:,} blocks, offline). *Challenges* and *days* are per fake, from its "
        "registration to its rejection; the last columns are the expected year of an attacker "
        "who keeps one fake going all year (*stake lost* in stakes of one machine, topped up "
        "after each failure and renewed after each rejection).")
    out.append("")
    rows = []
    sybil_case = None
    for f in (Fraction(1, 10), Fraction(1, 5), Fraction(1, 3)):
        c = int(f * units)
        h = units - c
        cases = [("≈ by weight", binomial_two_of_three(f), None)]
        cases.append(("all addresses 1×", p_two_of_three([(c, 1, True), (h, 1, False)]),
                      p_two_of_three([(c, 1, True), (h, 1, False)])))
        if c % 4 == 0 and c >= 8:
            cases.append(("colluders 4× each, honest 1×",
                          p_two_of_three([(c // 4, 4, True), (h, 1, False)]),
                          p_two_of_three([(c // 4, 1, True), (h, 1, False)])))
        if h % 4 == 0:
            cases.append(("colluders 1× each (Sybils), honest 4× each",
                          p_two_of_three([(c, 1, True), (h // 4, 4, False)]),
                          p_two_of_three([(c, 1, True), (h // 4, 1, False)])))
        if h % 4 == 0 and f == Fraction(1, 3):
            sybil_case = (c, h, cases[-1][1], cases[-1][2])
        for name, pr, old in cases:
            cyc = fake_cycle(p, day_blocks, a.days, pr, a.round_blocks)
            if cyc is None or cyc["per_life"] is None:
                life = ("never approved",) * 3 if cyc is None else ("∞", "∞", "100.0%")
            else:
                life = (f"{float(cyc['per_life']['challenges']):,.2f}",
                        f"{float(cyc['life_blocks'] / day_blocks):,.2f}",
                        f"{float(cyc['share']) * 100:.1f}%")
            if cyc is None:
                year = ("0", "0", "0")
            else:
                lost = (cyc["rejections"] * Fraction(p["rejectSlashBps"], BPS)
                        + cyc["failed"] * Fraction(slash_bps(p["unreachableSlash"], 0), BPS))
                year = (f"{float(cyc['failed']):,.1f}", f"{float(cyc['rejections']):,.1f}",
                        f"{float(lost):,.1f}×")
            rows.append((f"{f.numerator}/{f.denominator}", name, f"{float(pr):.4f}",
                         f"{float(1 / pr):,.1f}" if pr else "∞") + life + year
                        + ("" if old is None else f"{float(old):.4f}",))
    out.append(table(["colluders' share f", "how the stake is spread", "P(≥ 2 of 3 colluders)",
                      "tries", "challenges per fake", "days per fake", "online share",
                      "failed challenges a year", "rejections a year", "stake lost a year",
                      "P before (per address)"], rows))
    sybil_note = ""
    if sybil_case:
        c, h, pn, pb = sybil_case
        sybil_note = (f" Before, stake did not count and addresses did: the same {c} "
                      f"colluding units as {c} addresses against {h // 4} honest addresses "
                      f"of 4× each won {float(pb):.3f} of the draws (now {float(pn):.3f}).")
    out += ["", "Splitting a given stake over more addresses (Sybils) raises the chance a little "
            "(a drawn address takes its whole weight out of the later draws, and colluders need "
            "two distinct addresses); concentrating the honest stake in capped 4× addresses "
            "raises it too. Extra stake on one address beyond 4 × `auditorStake` adds nothing."
            + sybil_note,
            "",
            "A member whose stake falls below `auditorStake` is skipped by `draw`. An honest "
            f"member that joined with exactly `auditorStake` and is outvoted once loses "
            f"{pct(p['auditorPenaltyBps'])} (`penalize`) and is never drawn again until it leaves "
            "and joins again with a full stake; colluders who vote with the majority are never "
            "penalised. So every fake approved or re-verified, and every challenge of it "
            "passed, with an honest third seat takes one honest member out of the draw and "
            "raises the colluders' share f."]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------
# 365-day simulation

def return_slash(stake, bps):
    """What the return of an unreachable machine takes when its owner first tops the stake up
    (`addStake`) just enough to hold `stake` after the slash (liveness.rs `heartbeat` refuses a
    return below it: `StakeTooLow`)."""
    if bps <= 0:
        return 0
    if bps >= BPS:
        return stake  # nothing can hold the stake: count the whole stake lost
    at = -(-stake * BPS // (BPS - bps))
    while at - 1 - bps_of(at - 1, bps) >= stake:
        at -= 1
    while at - bps_of(at, bps) < stake:
        at += 1
    return bps_of(at, bps)


def challenges_per_year(p, day_blocks, days):
    """Expected liveness challenges of a machine online `days` days: a check every
    `challengeCheckBlocks`, each opening one with `challengeChanceBps` chance (liveness.rs
    `challenge_check`). An upper bound: a check while a challenge is pending opens none."""
    checks = days * day_blocks // p["challengeCheckBlocks"]
    return Fraction(checks * p["challengeChanceBps"], BPS)


def fake_models(p, cp, top_name):
    """The models a fake claims in the simulation: (label, calc point per GPU), one with calc
    point `cp` like the rest of the network and `top_name` (default: the table's highest)."""
    models = p["gpuModels"]
    same = [m for m, c, _ in models if c == cp]
    out = [((f"{same[0]} " if same else "") + f"(calc point {cp:,})", cp)]
    if top_name:
        top = [(m, c) for m, c, _ in models if m == top_name]
        if not top:
            raise SystemExit(f"--fake-model {top_name!r} is not in gpuModels")
        m, c = top[0]
    else:
        m, c, _ = max(models, key=lambda r: r[1])
    if c != cp:
        out.append((f"{m} (calc point {c:,})", c))
    return out


def round_blocks(p):
    """The most blocks a commit–reveal round takes when every drawn auditor reveals: the draw
    `drawDelayBlocks` after the request, then the commit and reveal windows (committee.rs
    `start_round`, `commit`; hook.rs). It ends as soon as all three have revealed."""
    return p["drawDelayBlocks"] + p["commitWindowBlocks"] + p["revealWindowBlocks"]


def challenge_gap(p):
    """Expected online blocks from one challenge of a machine to the next: a check every
    `challengeCheckBlocks`, each opening one with `challengeChanceBps` chance (liveness.rs
    `challenge_check`; the time a challenge is pending is not added, as in
    `challenges_per_year`)."""
    return Fraction(p["challengeCheckBlocks"] * BPS, p["challengeChanceBps"])


def fake_cycle(p, day_blocks, days, p_ok, rnd, reverify=True):
    """Expected year of one attacker's fake machines when each verification round approves,
    and each challenge passes, with probability `p_ok` (at least 2 of the 3 drawn collude), a
    round lasting `rnd` blocks (offline, no reward). None if a fake is never approved.

    `reverify` (the code now): a fake found failing by a challenge (`fail_machine` with
    `reverify`) pays the first `unreachableSlash` tier, is topped up and sends a heartbeat in
    the next block, which opens a new verification (liveness.rs `heartbeat`); passed, it is
    online again; rejected, it loses `rejectSlashBps` and is out for good (committee.rs
    `finish_verification`), and the attacker registers a new fake (1/p_ok registrations until
    one is approved). A fake's life thus ends at a challenge with probability q² (q = 1 − p_ok):
    1/q² challenges, 1/q failures (each a re-verification) and 1/p_ok rejections per life. The
    year is the long-run average of lives (renewal reward): online share = online blocks per
    life / blocks per life; counts per year = counts per life × year / blocks per life.

    Not `reverify` (the rule before re-verification): a failed fake returns online in the next
    block, so it is online all year after 1/p_ok registrations ((1 − p_ok)/p_ok rejections);
    the registration's time is left out, as it was."""
    if p_ok == 0:
        return None
    q = 1 - p_ok
    gap = challenge_gap(p)
    year = days * day_blocks
    if not reverify or q == 0:
        ch = Fraction(year) / gap
        return dict(share=Fraction(1), lives=Fraction(0), per_life=None, challenges=ch,
                    failed=ch * q, rejections=(1 - p_ok) / p_ok, approvals=Fraction(1),
                    life_blocks=None, online_blocks=None)
    per_life = dict(challenges=1 / q**2, failed=1 / q, rejections=1 / p_ok,
                    registrations=1 / p_ok, rounds=1 / p_ok + 1 / q)
    online = per_life["challenges"] * gap
    life = online + per_life["rounds"] * rnd
    lives = Fraction(year) / life
    return dict(share=online / life, lives=lives, per_life=per_life,
                challenges=lives * per_life["challenges"], failed=lives * per_life["failed"],
                rejections=lives * per_life["rejections"],
                # rounds that approve a fake: its first verification and each re-verification
                # it passes (1 + p_ok/q = 1/q per life)
                approvals=lives / q, life_blocks=life, online_blocks=online)


def lone_colluders(dist):
    """Expected colluders among the auditors who find a fake failing a challenge: it fails when
    fewer than 2 of the 3 drawn collude, and all 3 vote "faulty" (a lone colluder votes with
    the honest majority, as in a verification), so the finders are 3 honest auditors or 2 and
    one colluder. `dist` is seats_distribution's [P(0), …, P(3)]."""
    fail = dist[0] + dist[1]
    return dist[1] / fail if fail else Fraction(0)


def found_slash_shares(p, stake, lone):
    """The auditors' share of the first-tier slash of a failure found by a challenge, per
    failure: (to colluders, to honest auditors). It goes to the deciding round's "faulty"
    voters (liveness.rs `fail_machine`, machines.rs `slash_found`, rewards.rs
    `credit_auditors`: equal whole-wei shares), no longer to the machine's verifiers; `lone`
    colluders among the 3 finders on average (`lone_colluders`)."""
    fail_cost = bps_of(stake, slash_bps(p["unreachableSlash"], 0))
    each = bps_of(fail_cost, p["slashAuditorsBps"]) // 3
    return each * lone, each * (3 - lone)


def fake_year(p, day_blocks, days, og, calc, g, cyc, lone):
    """The owner's ledger of a year of fakes of `g` GPUs and calc point `calc` (fake_cycle
    `cyc`) in a network whose other machines weigh `og`: online `share` of every day's blocks
    (rounded to a block), like an idle honest machine; the verifiers (colluders) get back their
    share of its rewards, and a lone colluder among the auditors who find a failure its part of
    that slash's auditors' share (*other*; `found_slash_shares`: the rest goes to the honest
    finders); *stake lost* counts the expected rejections (`rejectSlashBps`) and failures
    (first `unreachableSlash` tier), each of the full stake (topped up after each failure, a
    fresh stake after each rejection)."""
    stake = p["stakePerGpu"] * g
    blocks = int(cyc["share"] * day_blocks + Fraction(1, 2))
    online = True if blocks >= day_blocks else blocks
    led = run_year(p, day_blocks, days, og, calc, g, lambda t: (online, 0, [], []))
    fail_cost = bps_of(stake, slash_bps(p["unreachableSlash"], 0))
    fail_back, _ = found_slash_shares(p, stake, lone)
    led.other = led.aud + int(cyc["failed"] * fail_back)
    led.stake_lost = int(cyc["rejections"] * bps_of(stake, p["rejectSlashBps"])
                         + cyc["failed"] * fail_cost)
    return led


def fake_break_even(p, day_blocks, days, cp, calc, g, cyc, lone, top=10**9):
    """The largest network (GPUs, other machines of `g` GPUs and calc point `cp`) at which a
    year of fakes (`cyc`) still nets more than 0, incl. vesting; None if not even at `g`,
    `top` if still at `top`. The reward falls as the network grows, the slashes do not."""
    def pays(n):
        og = others_grade(p, n, g, g, cp, 0, False)
        return fake_year(p, day_blocks, days, og, calc, g, cyc, lone).totals(days)[3] > 0

    lo, hi = g, top
    if not pays(lo):
        return None
    if pays(hi):
        return top
    while hi - lo > 1:
        m = (lo + hi) // 2
        lo, hi = (m, hi) if pays(m) else (lo, m)
    return lo


def simulate(p, day_blocks, n, a):
    """a.days days at network size n; returns (provider rows, comparison rows, auditor rows,
    facts)."""
    g, cp, days = a.sim_gpus, a.calc_point or p["standardCalcPoint"], a.days
    tier = burn_bps(p["burnTiers"], n)
    og = others_grade(p, n, g, g, cp, a.sim_other_rented, False)
    og_b = others_grade(p, n, g, g, cp, a.sim_other_rented, True)
    daily = daily_emission(p, day_blocks, days)
    stake = p["stakePerGpu"] * g
    pl = plans(p, day_blocks, n, a, cp, g)
    h = a.sim_honest_rented

    def year(plan, before=False, calc=cp):
        return run_year(p, day_blocks, days, og_b if before else og, calc, g,
                        pl[plan] if isinstance(plan, str) else plan, before)

    rows, cmp_rows = [], []
    idle, idle_old = year("idle"), year("idle", True)
    rows.append(idle.row("honest, never rented", stake, days))
    cmp_rows.append(("honest, never rented", idle_old, idle))

    honest, honest_old = year("honest"), year("honest", True)
    name = f"honest, rented {float(h) * 100:g}% of days at the standard price"
    rows.append(honest.row(name, stake, days))
    cmp_rows.append((name, honest_old, honest))

    wash, wash_old = year("wash"), year("wash", True)
    name = "wash renting all GPUs every day at the floor price"
    rows.append(wash.row(name, stake, days))
    cmp_rows.append((name, wash_old, wash))

    # Found unreachable while rented: the first tier at once (liveness.rs `fail_machine`), on
    # its return the tier its offline time reached less that (machines.rs
    # `apply_offline_slash`); offline from the detection, `heartbeatTimeoutBlocks` after it
    # went silent. An idle machine is not slashed.
    _, rented_then = outage_start(a)
    offline = max(a.outage_days * day_blocks - p["heartbeatTimeoutBlocks"], 0)
    first = slash_bps(p["unreachableSlash"], 0) if rented_then else 0
    rest = max(slash_bps(p["unreachableSlash"], offline) - first, 0) if rented_then else 0
    unrel, unrel_old = year("unreachable"), year("unreachable", True)
    for led in (unrel, unrel_old):
        led.stake_lost = bps_of(stake, first) + return_slash(stake, rest)
    if rented_then:
        name = (f"honest-rented, unreachable {a.outage_days} day(s) during a rental (slash "
                f"{pct(first)} when found, {pct(rest)} on return)")
    else:
        name = f"honest, silent {a.outage_days} day(s) while idle (no slash)"
    rows.append(unrel.row(name, stake, days))
    cmp_rows.append((name, unrel_old, unrel))

    fake_honest = Ledger(p, day_blocks)
    fake_honest.stake_lost = bps_of(stake, p["rejectSlashBps"])
    rows.append(fake_honest.row("fake machine, honest auditors (rejected)", stake, days))

    # Fake machines approved by colluding auditors: `a.colluders` of `a.committee` members of
    # equal stake (so a fraction colluders/committee of the weight). Verified at its model's
    # table value (committee.rs `finish_verification`); challenged every
    # `challengeCheckBlocks` with `challengeChanceBps` chance (liveness.rs `challenge_check`),
    # it fails unless 2 of the 3 drawn are colluders: `fail_machine` slashes the first
    # unreachable tier, `slashAuditorsBps` of it to the round's "faulty" voters (the finders:
    # honest, but for a lone colluder voting with them; `found_slash_shares`), and flags it
    # `reverify`; the owner tops the stake up and sends a heartbeat in the next block, within
    # the first tier (the return takes nothing more), which opens a new verification
    # (liveness.rs `heartbeat`): see `fake_cycle`. `cyc_old`: the rule before re-verification
    # (the heartbeat brought it back online).
    nc, k = a.committee, a.colluders
    dist = seats_distribution([(k, 1, True), (nc - k, 1, False)])
    p2, p3 = dist[2], dist[3]
    p_ok = p2 + p3
    lone = lone_colluders(dist)
    rnd = a.round_blocks
    cyc = fake_cycle(p, day_blocks, days, p_ok, rnd)
    cyc_old = fake_cycle(p, day_blocks, days, p_ok, rnd, reverify=False)
    cyc_fast = fake_cycle(p, day_blocks, days, p_ok, 0)
    fakes, fake_cmp = [], []
    for model, calc in fake_models(p, cp, a.fake_model):
        if cyc is None:
            break  # fewer than 2 colluders: a fake is never approved
        fake = fake_year(p, day_blocks, days, og, calc, g, cyc, lone)
        rows.append(fake.row(
            f"fake machines approved by colluding auditors as {model}: online "
            f"{float(cyc['share']) * 100:.1f}% of the year; expected {float(cyc['failed']):,.1f} "
            f"failed challenges, each followed by a re-verification, and "
            f"{float(cyc['rejections']):,.1f} rejections, each followed by a new registration",
            stake, days))
        fakes.append(fake)
        old = fake_year(p, day_blocks, days, og, calc, g, cyc_old, lone)
        fast = fake_year(p, day_blocks, days, og, calc, g, cyc_fast, lone)
        fake_cmp.append((model, calc, old, fake, fast))

    # Auditors: every machine has 3 agreeing verifiers; with equal stakes each member is drawn
    # equally often and earns `auditorRewardBps` of the emission / members.
    aud_year, left = 0, p["rewardPool"]
    for t in range(days):
        released = min(daily[t], left)
        left -= released
        aud_year += bps_of(released, p["auditorRewardBps"])
    per_seat = aud_year // nc
    penalty = bps_of(p["auditorStake"], p["auditorPenaltyBps"])
    # An honest member drawn with 2 colluders is outvoted: in each round that approves a fake
    # (a first verification or a re-verification; given the approval, 2 colluders with
    # probability p2/p_ok) and in each challenge it passes.
    outvoted = (cyc["approvals"] * p2 / p_ok + cyc["challenges"] * p2) if p_ok else 0
    honest_pen = int(outvoted * penalty / max(nc - k, 1))
    group_gain = honest_found = 0
    if fakes:
        fake = fakes[0]
        group_gain = fake.earned + fake.other - fake.stake_lost  # entitlement, incl. vesting
        # The honest finders' share of the slashes of the failures they find (the fakes'
        # first model; every model has the same stake), spread over the honest members.
        honest_found = int(cyc["failed"] * found_slash_shares(p, stake, lone)[1]
                           / max(nc - k, 1))
    arows = [
        ("honest auditor", d(p["auditorStake"], 0), d(per_seat + honest_found), d(honest_pen),
         d(per_seat + honest_found - honest_pen)),
        (f"colluding auditor ({k} of {nc} members of equal stake share the take of one "
         "attacker's fake machines)",
         d(p["auditorStake"], 0), d(per_seat + group_gain // max(k, 1)), "0.00",
         d(per_seat + group_gain // max(k, 1))),
    ]
    facts = dict(tier=tier, machines=Fraction(n, g), p_ok=p_ok, idle=idle, idle_old=idle_old,
                 honest=honest, honest_old=honest_old, wash=wash, wash_old=wash_old,
                 stake=stake, fakes=fakes, fake_cmp=fake_cmp)
    return rows, cmp_rows, arows, facts


def sim_eras(p, day_blocks, days):
    """The eras the simulated days cover, in words."""
    e = p["emission"]
    first, last = 0, em_era_of(e, days * day_blocks)
    if first == last:
        return (f"its {days:,} days of {day_blocks:,} blocks are all in era 0: "
                f"{d(era0_per_block(p), 6)} DBC a block")
    rates = ", ".join(f"era {k}: {d(em_rate(e, k, p['rewardPool']), 6)}"
                      for k in range(first, min(last, 9) + 1))
    return (f"its {days:,} days of {day_blocks:,} blocks cover eras 0 to {last:,}, DBC a block "
            f"by era: {rates}" + (", …" if last > 9 else ""))


def signed(v):
    return ("+" if v > 0 else "") + d(v)


def sim_section(p, day_blocks, a):
    g, cp = a.sim_gpus, a.calc_point or p["standardCalcPoint"]
    ch = challenges_per_year(p, day_blocks, a.days)
    under = p["unreachableSlash"][0][0]
    quick = f", under {under:,} blocks offline (the first tier)" if under else ""
    out_day, out_rented = outage_start(a)
    nc, k = a.committee, a.colluders
    dist = seats_distribution([(k, 1, True), (nc - k, 1, False)])
    p_ok = dist[2] + dist[3]
    gap = challenge_gap(p)
    fail_bps = slash_bps(p["unreachableSlash"], 0)
    cyc = fake_cycle(p, day_blocks, a.days, p_ok, a.round_blocks)
    life_text = ("With these colluders a fake is never approved. " if cyc is None else
                 "It is never found failing, so it stays online. " if cyc["per_life"] is None else
                 "A fake thus lives until a challenge and the re-verification after it both go "
                 "against it (probability (1 − P)² at each challenge): on average "
                 f"1/(1 − P)² = {float(cyc['per_life']['challenges']):.2f} challenges, "
                 f"1/(1 − P) = {float(cyc['per_life']['failed']):.2f} failed challenges and "
                 f"re-verifications, 1/P = {float(cyc['per_life']['rejections']):.2f} rejections "
                 "(the last in a re-verification) and "
                 f"{float(cyc['life_blocks'] / day_blocks):.2f} days from its registration to "
                 f"its rejection, {float(cyc['online_blocks'] / day_blocks):.2f} of them online. "
                 "Every verification round is counted at "
                 + (f"its full length, `drawDelayBlocks` + `commitWindowBlocks` + "
                    f"`revealWindowBlocks` = {a.round_blocks:,} blocks"
                    if a.round_blocks == round_blocks(p) else f"{a.round_blocks:,} blocks")
                 + ", offline and earning nothing; a round ends as soon as all three have "
                 "revealed, and shorter rounds raise the online share but scale the year's "
                 "reward and slashes alike: they change how much the fakes net or lose, not "
                 "whether they pay. ")
    year_text = "" if cyc is None else (
        "The year is the long-run average over such lives: the fakes are online "
        f"{float(cyc['share']) * 100:.1f}% of it (counted as that share of every day's blocks), "
        "earn like an idle honest machine while online (their price is set high so that no "
        "real renter takes them), and have the expected failures and rejections of that time. ")
    out = [f"### {a.days}-day simulation", ""]
    out.append("Assumptions (deterministic; every machine and auditor behaves the same all year):")
    out += [
        f"- Each network has N online GPUs in machines of {g} GPUs and calc point {cp:,} "
        f"(N/{g} machines, fractional when N is not a multiple); the subject machine is one of "
        f"them. {float(a.sim_other_rented) * 100:g}% of the other machines' GPUs are rented all "
        "year: that mattered only before, when renting raised their grade; now every online "
        "machine's grade is calc point × GPUs, rented or not. With machines of equal size, "
        "weighing GPUs (now) or machines (before) gives each the same share; *Splitting a "
        "server* shows where it differs.",
        "- The owner settles (claims) once a day, at the end of the day: `settle` pays the "
        f"auditors' {pct(p['auditorRewardBps'])}, {pct(p['immediateBps'])} of the rest is claimable "
        f"at once and the rest is a tranche released linearly over `vestingBlocks` "
        f"({p['vestingBlocks']:,} blocks) from the start of the next epoch (rewards.rs `settle`, "
        "`pay_reward`, records.rs `Account::refresh`). *Received* counts what is claimable by "
        "the end of the year, *still vesting* what is not.",
        f"- The emission is `market.emission`'s from genesis on ({sim_eras(p, day_blocks, a.days)}), "
        "capped by what is left of `rewardPool`, shared by grade. Now: grade = calc point × GPUs "
        "× 10,000; each rental's bonus "
        "(`rentedBonusBps` of what its GPUs earned while it ran, at most its own burn and the "
        "pool left) is paid when it ends, through the same split. Before: grade = calc point × "
        "(1 + `rentedBonusBps` × rented/gpus) and the whole reward was paid; liveness follows the "
        "rules now in both. *Rewards earned* is "
        "the owner's share (after the auditors) including the bonus; *bonus accrued* and *bonus "
        "paid* are before the auditors' share.",
        "- The stake (`stakePerGpu` × GPUs) is locked all year and returned at `exit` "
        f"(`minOnlineBlocks` = {p['minOnlineBlocks'] // day_blocks} days), less slashes; "
        "*net* does not count the stake itself, only what is lost of it.",
        f"- *Honest, rented*: real renters rent all GPUs at the standard price on "
        f"{float(Fraction(a.sim_honest_rented)) * 100:g}% of the days (evenly spread), one-day "
        "rentals; the provider receives the rent less the burned share, and each rental's bonus "
        "is capped by that rental's burn.",
        "- *Wash renting*: as in the wash table; the non-burned rent comes back to the owner, "
        "the burned rent is its cost (*own rent burned*).",
        f"- *Unreachable*: the honest-rented machine goes silent for {a.outage_days} day(s) "
        + (f"from the start of day {out_day} (the first day from day 100 that real renters rent "
           "it), just after that day's rental starts. " if out_rented else
           f"from the start of day {out_day}, while idle (no day is rented): it goes offline "
           "(reason idle), unslashed. A rented one: ") +
        f"`heartbeatTimeoutBlocks` ({p['heartbeatTimeoutBlocks']:,} blocks) later the timeout "
        "finds it rented (liveness.rs `heartbeat_check`, `fail_machine` without `reverify`: "
        "auditors did not find it failing): every active rental "
        "ends at once with its unused rent refunded (the owner keeps the used rent less the "
        "burn, and that rental's bonus), the first `unreachableSlash` tier is taken at once and "
        "it goes offline, earning nothing. It returns online with a heartbeat signed by its "
        "machine key (no re-verification); the return takes the tier its offline time (from "
        "the detection) reached less "
        "what was taken (machines.rs `apply_offline_slash`), and refuses to leave the stake "
        "below `stakePerGpu` × GPUs (`StakeTooLow`), so the owner first tops it up with "
        "`addStake` just enough; *stake lost* counts both slashes. An idle machine that misses "
        "heartbeats just goes offline (reason idle), unslashed.",
        "- *Fake machine*: a machine that does not exist or does not match its spec. Honest "
        "auditors reject it: `rejectSlashBps` of its stake goes to the treasury (the governance "
        f"account `{GOVERNANCE}`) and the rest is returned. Colluding auditors are {k} of {nc} committee members of equal stake "
        f"({k}/{nc} of the weight; see *Auditor draws* for other shares), so a verification "
        f"approves it when at least 2 colluders are drawn (P = {float(p_ok):.3f}); otherwise the "
        "colluder votes with the honest majority (it sees who was drawn) and it is rejected. "
        "Every drawn auditor reveals, so every round has a 2-of-3 majority (no new draw). It is "
        "verified at its model's `gpuModels` value (the auditors only vote that the hardware "
        "measures within `calcPointToleranceBps` of it), so the colluders choose the model it "
        "claims, not its calc point. Its heartbeats are signed by the machine key it "
        "registered, which its owner holds. Online, it is challenged every "
        "`challengeCheckBlocks` with `challengeChanceBps` chance: one challenge per "
        f"{float(gap):,.0f} online blocks on average ({float(gap / day_blocks):.2f} days; "
        f"{float(ch):,.1f} in {a.days} days online, an upper bound: a check while a challenge "
        "is pending opens none), each drawing 3 auditors afresh; with fewer than 2 colluders "
        "it fails, and `fail_machine` takes the first `unreachableSlash` tier of its stake "
        f"({pct(fail_bps)}), `slashAuditorsBps` of it to the auditors of that round who voted "
        "\"faulty\" (machines.rs `slash_found`; no longer to its verifiers, the colluders: all 3 "
        "vote faulty, honest but for a lone colluder voting with the majority, who takes a "
        f"third; {float(lone_colluders(dist)):.2f} colluders among the 3 on average), and "
        "flags it `reverify`. The owner tops the stake up (`addStake`) and sends a heartbeat in "
        f"the next block{quick}, so the return takes nothing more (the offline block is left "
        "out), but the heartbeat opens a new verification instead of bringing it online "
        "(liveness.rs `heartbeat`; status Verifying: no reward, no rentals). Passed (P), it is "
        "online again and the colluders who approved it are its verifiers; rejected (1 − P), it "
        f"loses `rejectSlashBps` ({pct(p['rejectSlashBps'])}) of its stake, the rest is "
        "returned and it is out of the market for good, so the attacker registers a new fake "
        "with a fresh stake and a fresh verification (1/P registrations until one is approved, "
        f"each rejected one losing {pct(p['rejectSlashBps'])}). "
        + life_text + year_text +
        f"They claim {g} GPUs like the others: their reward, their stake and every slash grow "
        "with the GPU count claimed (which the auditors verify), so claiming more or fewer GPUs "
        "does not change the reward per staked DBC; claiming the model of the highest calc "
        "point does, since the stake per GPU is the same for every model. *Stake lost* counts "
        "every slash, each of the full stake (topped up after each failure, a fresh one after "
        "each rejection); the verifiers' share of the fakes' rewards, and a lone colluder's "
        "third of a found failure's auditors' share, go to the colluders (*other*).",
        f"- Auditors: every machine has 3 agreeing verifiers; with equal stakes every member is "
        f"drawn equally often and earns `auditorRewardBps` of the emission / {a.committee}, paid "
        "at once (their share of rented bonuses is left out; challenge auditors are paid "
        "nothing but the auditors' share of the slash of a failure they find: the honest "
        "auditor's row adds the honest finders' part of the fakes' failures, spread over the "
        f"{nc - k} honest members). An honest auditor drawn with 2 colluders is outvoted and loses "
        "`auditorPenaltyBps` of its stake; *penalties* is that expected loss per honest member "
        "over the year of the attacker's fakes: every round that approves one (a first "
        "verification or a re-verification) and every challenge one passes with an honest "
        "third seat, as if every outvoted member joined again with a full stake (one that does "
        "not is skipped by every later draw, and the colluders' share grows). The colluders' "
        "row shares the fakes' whole take (reward incl. vesting, auditor share of rewards, a lone "
        "colluder's part of the found slashes, less expected rejections and failures) among "
        "them.",
        "- Gas and the price of DBC are left out. Project mining (mining.rs `on_grade_change`) "
        "follows the same grade, so renting, real or wash, no longer changes it; it is left "
        "out.",
    ]
    facts_all = []
    for n in a.sim_sizes:
        rows, cmp_rows, arows, facts = simulate(p, day_blocks, n, a)
        facts_all.append((n, facts))
        out += ["", f"#### N = {n:,} GPUs (burn {pct(facts['tier'])}, "
                f"{float(facts['machines']):,.1f} machines)", ""]
        out.append(table(["provider strategy (one machine)", "stake", "stake lost",
                          "rewards earned", "bonus accrued", "bonus paid",
                          f"received by day {a.days}", "still vesting", "rent received",
                          "own rent burned", "other", f"net by day {a.days}",
                          "net incl. vesting"], rows))
        out.append("")
        out.append("Before (the original rule) and now, net incl. vesting:")
        out.append("")
        crow = []
        for name, old, new in cmp_rows:
            o, nw = old.totals(a.days)[3], new.totals(a.days)[3]
            crow.append((name, d(old.paid), d(new.paid), d(o), d(nw), signed(nw - o)))
        out.append(table(["provider strategy", "bonus paid before", "bonus paid now",
                          "net before", "net now", "change"], crow))
        out.append("")
        out.append(table(["auditor", "stake", "reward share (paid at once)",
                          "expected penalties", "net"], arows))
        out.append("")
        t = a.days
        gi, gi_old = facts["idle"].totals(t)[3], facts["idle_old"].totals(t)[3]
        wg_old = facts["wash_old"].totals(t)[3] - gi_old
        wg = facts["wash"].totals(t)[3] - gi
        hg_old = facts["honest_old"].totals(t)[3] - gi_old
        hg = facts["honest"].totals(t)[3] - gi
        out.append(f"Against never renting, incl. vesting: wash renting before {signed(wg_old)} DBC "
                   f"({'**paid**' if wg_old > 0 else 'lost'}), now {signed(wg)} DBC "
                   f"({'**pays**' if wg > 0 else 'loses'}); being rented by real renters before "
                   f"{signed(hg_old)}, now {signed(hg)} (bonus and rent, never below idle). "
                   f"Probability that a fake machine's draw has at least 2 colluders: "
                   f"{float(facts['p_ok']):.3f}.")
    if cyc is not None and facts_all:
        out += ["", fake_compare_text(p, day_blocks, a, facts_all, p_ok, dist)]
    return "\n".join(out), facts_all


def fake_compare_text(p, day_blocks, a, facts_all, p_ok, dist):
    """The fakes' year now (re-verification after each failed challenge) against the rule
    before it (a top-up and a heartbeat brought a failed fake back online at once)."""
    g, cp, days = a.sim_gpus, a.calc_point or p["standardCalcPoint"], a.days
    nc, k = a.committee, a.colluders
    stake = p["stakePerGpu"] * g
    cycs = [fake_cycle(p, day_blocks, days, p_ok, a.round_blocks, reverify=False),
            fake_cycle(p, day_blocks, days, p_ok, a.round_blocks),
            fake_cycle(p, day_blocks, days, p_ok, 0)]
    penalty = bps_of(p["auditorStake"], p["auditorPenaltyBps"])
    p2 = dist[2]
    lone = lone_colluders(dist)
    fail_cost = bps_of(stake, slash_bps(p["unreachableSlash"], 0))
    fail_back, fail_honest = found_slash_shares(p, stake, lone)
    reject_cost = bps_of(stake, p["rejectSlashBps"])

    def count(c, key):
        return f"{float(c[key]):,.1f}"

    def outvoted(c):
        return c["approvals"] * p2 / p_ok + c["challenges"] * p2

    out = ["#### Fake machines: re-verification (now) and a heartbeat return (before)", ""]
    out.append(
        "Before the re-verification rule, a fake found failing came back online with a top-up "
        "and a heartbeat in the next block, so after its registrations it was online all year "
        "(the same challenges, failures and slashes otherwise). Now each failed challenge is "
        "followed by a re-verification, and each rejection by a new registration. Expected "
        f"year of one attacker's fakes of {g} GPUs with {k} of {nc} colluding members "
        f"(P = {float(p_ok):.3f}); *rounds at once*: every verification round ending when "
        "opened (the online share's upper bound):")
    out.append("")
    rows = [
        ("online share of the year",)
        + tuple(f"{float(c['share']) * 100:.1f}%" for c in cycs),
        ("challenges",) + tuple(count(c, "challenges") for c in cycs),
        (f"failed challenges ({pct(slash_bps(p['unreachableSlash'], 0))} of the stake each; "
         "now each followed by a re-verification)",) + tuple(count(c, "failed") for c in cycs),
        (f"rejections ({pct(p['rejectSlashBps'])} of the stake each; now each followed by a "
         "new registration)",) + tuple(f"{float(c['rejections']):,.2f}" for c in cycs),
        ("stake lost (DBC)",) + tuple(
            d(int(c["rejections"] * reject_cost + c["failed"] * fail_cost)) for c in cycs),
        ("of which to the colluders (a lone colluder among the 3 who find a failure; DBC)",)
        + tuple(d(int(c["failed"] * fail_back)) for c in cycs),
        ("of which to the honest auditors who find the failures (DBC)",)
        + tuple(d(int(c["failed"] * fail_honest)) for c in cycs),
        ("honest members outvoted (approvals and challenges passed with 2 colluders)",)
        + tuple(f"{float(outvoted(c)):,.1f}" for c in cycs),
        ("expected penalties per honest member (DBC)",)
        + tuple(d(int(outvoted(c) * penalty / max(nc - k, 1))) for c in cycs),
    ]
    out.append(table(["", "before (heartbeat return)", "now (re-verification)",
                      "now, rounds at once"], rows))
    out += ["", "Net incl. vesting of the fakes (their reward, incl. what still vests, plus the "
            "colluders' share of rewards and their part of the found slashes, less the slashes; the colluders' row of "
            "the auditor tables shares it):", ""]
    rows = []
    for n, facts in facts_all:
        for model, calc, old, new, fast in facts["fake_cmp"]:
            o, nw, f_ = (x.totals(days)[3] for x in (old, new, fast))
            rows.append((f"{n:,}", model, d(o), d(nw), signed(nw - o), d(f_)))
    out.append(table(["network GPUs", "fake claims", "before (heartbeat return)",
                      "now (re-verification)", "change", "now, rounds at once"], rows))
    ends = []
    for model, calc in fake_models(p, cp, a.fake_model):
        be = [fake_break_even(p, day_blocks, days, cp, calc, g, c, lone) for c in cycs[:2]]
        txt = ["never" if x is None else f"{x:,} GPUs" if x < 10**9 else "any size"
               for x in be]
        ends.append(f"claiming {model}, up to {txt[1]} now (before {txt[0]})")
    out += ["", f"Networks (other machines of calc point {cp:,}) in which the fakes still net "
            "more than 0 in the year: " + "; ".join(ends) + ". The reward falls as the network "
            "grows and the slashes do not; the length of the rounds scales reward and slashes "
            "alike, so it does not move these sizes (up to rounding)."]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------
# A shill next to real renters on one machine

def shill_section(p, day_blocks, a):
    g, cp, days = a.sim_gpus, a.calc_point or p["standardCalcPoint"], a.days
    h = a.sim_honest_rented
    half = g // 2
    low = p["burnTiers"][0][1]
    out = ["### A shill next to real renters", ""]
    out.append(
        "Can the owner's own rentals (a shill: a second address renting at the floor price) "
        "profit from real renters on the same machine? Before, any rented GPU raised the grade, "
        "so they could. Now each rental's bonus is measured on its own GPUs (`reward_per_gpu` "
        "since its `reward_snapshot`) and capped by the rent *it* burned, and nothing is carried "
        "to other rentals; the real renters' rentals do not change the machine's grade either. "
        "Same network as the simulation "
        f"({g}-GPU machines, real renters pay the standard price on {float(h) * 100:g}% of the "
        "days). *Gain* is the owner's net incl. vesting over the year minus its net with the "
        "same real rentals and no shill:")
    out += [
        "",
        f"- *A*: real renters take all {g} GPUs on their days; the shill rents all GPUs on the "
        "other days, one-day rentals at the current tier.",
        f"- *B*: real renters take {g - half} GPUs on their days; the shill holds one rental of "
        f"the other {half} GPUs all year, started on day 0 while the network was in the lowest "
        f"tier ({pct(low)}, kept by extensions) and ending on the last day.",
        f"- *C*: on real renters' days, real renters take {g - half} GPUs and the shill the "
        f"other {half} at the same time, one-day rentals at the current tier (the shill's burn "
        "is below the real rental's).",
        "",
    ]
    rows, rows_now = [], []
    facts = []
    for n in a.shill_sizes:
        tier = burn_bps(p["burnTiers"], n)
        og = others_grade(p, n, g, g, cp, a.sim_other_rented, False)
        og_b = others_grade(p, n, g, g, cp, a.sim_other_rented, True)
        pl = plans(p, day_blocks, n, a, cp, g)

        def led(plan, before):
            return run_year(p, day_blocks, days, og_b if before else og, cp, g, pl[plan], before)

        def net(x):
            return x.totals(days)[3]

        row = [f"{n:,}", pct(tier)]
        rn = [f"{n:,}", pct(tier)]
        gains = {}
        for label, plan, base in (("A", "shill_on_idle_days", "honest"),
                                  ("B", "shill_half_locked", "honest_half"),
                                  ("C", "shill_half_daily", "honest_half")):
            if half == 0 and label != "A":
                row += ["n/a", "n/a"]
                rn.append("n/a (1-GPU machine)")
                continue
            gb = net(led(plan, True)) - net(led(base, True))
            now = led(plan, False)
            gn = net(now) - net(led(base, False))
            gains[label] = gn
            row += [signed(gb) + (" **pays**" if gb > 0 else ""),
                    signed(gn) + (" **pays**" if gn > 0 else "")]
            rn += [f"{d(now.shill_accrued)} / {d(now.shill_paid)} / {d(now.burned)}"]
        rows.append(row)
        rows_now.append(rn)
        facts.append((n, tier, gains))
    out.append(table(["network GPUs", "burn", "A before", "A now", "B before", "B now",
                      "C before", "C now"], rows))
    out += ["", "Now, the shill's own rentals over the year: bonus accrued / bonus paid / rent "
            "burned (DBC). Paid never exceeds burned, so the gain is paid − auditors' share − "
            "burned ≤ 0 in every case:", ""]
    out.append(table(["network GPUs", "burn", "A", "B", "C"], rows_now))
    return "\n".join(out), facts


# ------------------------------------------------------------------------------------------
# One server, registered whole or as 1-GPU machines

def split_section(p, day_blocks, a):
    """The same g-GPU server registered as one machine or as g machines of 1 GPU (same calc point
    per GPU, same stake), nothing rented anywhere, a year's reward. Returns (text, facts)."""
    g, cp, days = a.sim_gpus, a.calc_point or p["standardCalcPoint"], a.days
    bonus_bps = p["rentedBonusBps"]
    stake = p["stakePerGpu"] * g
    out = ["### Splitting a server", ""]
    out.append(
        f"A server of {g} GPUs and calc point {cp:,} (per GPU) registered as one machine or as "
        f"{g} machines of 1 GPU: the same stake ({d(stake, 0)} DBC, `stakePerGpu` × GPUs), the "
        "same price per GPU-block and the same burn tier (it counts GPUs), in a network of N "
        f"online GPUs whose other machines have {g} GPUs; nothing is rented anywhere, so the "
        "original rule and the rule now differ only in the grade: *before* each machine weighed "
        "calc point × 10,000 whatever its GPU count, *now* calc point × GPUs × 10,000 (math.rs "
        "`grade`; tested by `splitting_a_server_into_one_gpu_machines_earns_nothing_extra` in "
        "crates/precompiles/src/tests/attacks.rs). *Reward* is the owner's share (after the "
        f"auditors) over {days} days, incl. what still vests. A fake machine earns what an honest "
        "idle one with the GPU count it claims (which the auditors verify) earns: now a fake "
        f"claiming 1 GPU earns 1/{g} of one claiming {g} for 1/{g} of the stake and of each "
        f"rejection's and failed challenge's slash; before, a lone 1-GPU machine weighed as "
        f"much as a {g}-GPU one, so a fake claiming 1 GPU earned about as much as one claiming "
        f"{g}.")
    out.append("")
    rows, facts = [], []
    idle = lambda t: (True, 0, [], [])  # noqa: E731
    for n in a.sim_sizes:
        if n < g:
            continue
        tier = burn_bps(p["burnTiers"], n)
        res = {}
        for before in (True, False):
            og = others_grade(p, n, g, g, cp, 0, before)
            one = grade_before(cp, 1, 0, bonus_bps) if before else grade(cp, 1)
            whole = run_year(p, day_blocks, days, og, cp, g, idle, before).earned
            part = run_year(p, day_blocks, days, og + (g - 1) * one, cp, 1, idle, before).earned
            res[before] = (whole, part, g * part)
        wb, pb, sb = res[True]
        wn, pn, sn = res[False]
        rows.append((f"{n:,}", pct(tier), d(wb), d(sb), f"{float(Fraction(sb, wb)):.2f}×",
                     d(pb), d(wn), d(sn), f"{float(Fraction(sn, wn)):.4f}×", d(pn)))
        facts.append((n, res))
    out.append(table(["network GPUs", "burn", f"before: one {g}-GPU machine",
                      f"before: {g} × 1-GPU", "split / whole before", "before: each 1-GPU",
                      f"now: one {g}-GPU machine", f"now: {g} × 1-GPU", "split / whole now",
                      "now: each 1-GPU"], rows))
    out += ["", f"Before, splitting multiplied the reward by up to {g} (less while the server is "
            "a large part of the network, since its own extra machines enlarge the total grade) "
            "and took it from every other machine; now the split earns what the whole earns, up "
            "to rounding (a wei per machine and block)."]
    return "\n".join(out), facts


# ------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("genesis", nargs="?", default=os.path.join(ROOT, "genesis", "dev.json"))
    ap.add_argument("--sizes", default="100,5000,5001,10000,20000",
                    help="network GPU counts of the wash table")
    ap.add_argument("--gpus", default="1,8", help="machine sizes of the wash table")
    ap.add_argument("--calc-point", type=int, default=0,
                    help="calc point of every machine (default standardCalcPoint)")
    ap.add_argument("--other-gpus", type=int, default=0,
                    help="GPUs per machine of the rest of the network (default: as the attacker's)")
    ap.add_argument("--other-rented", default="0,1",
                    help="share(s) of the other machines' GPUs rented, e.g. 0,0.5,1 (before only; 0 = worst case)")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--sim-sizes", default="100,5000,20000")
    ap.add_argument("--shill-sizes", default="100,5000,5001,7500,10000,20000",
                    help="network GPU counts of the shill table")
    ap.add_argument("--sim-gpus", type=int, default=8, help="GPUs of a simulated machine")
    ap.add_argument("--sim-other-rented", default="1/2",
                    help="share of the other machines' GPUs rented in the simulation (before only)")
    ap.add_argument("--sim-honest-rented", default="1/2",
                    help="share of days an honest machine is rented by real renters")
    ap.add_argument("--outage-days", type=int, default=1)
    ap.add_argument("--committee", type=int, default=21,
                    help="auditors (equal stakes) in the simulation")
    ap.add_argument("--colluders", type=int, default=7, help="of them held by the attacker")
    ap.add_argument("--committee-units", type=int, default=120,
                    help="committee weight in units of auditorStake for the draw table")
    ap.add_argument("--round-blocks", type=int, default=None,
                    help="blocks a fake's verification round takes (default drawDelayBlocks + "
                    "commitWindowBlocks + revealWindowBlocks, the most when every auditor "
                    "reveals)")
    ap.add_argument("--fake-model", default="",
                    help="also show a fake machine claiming this gpuModels model (default: the "
                    "one of the highest calc point)")
    a = ap.parse_args()
    a.sim_sizes = [int(x) for x in a.sim_sizes.split(",")]
    a.shill_sizes = [int(x) for x in a.shill_sizes.split(",")]
    sizes = [int(x) for x in a.sizes.split(",")]
    gpu_list = [int(x) for x in a.gpus.split(",")]
    other_rented = [Fraction(x) for x in a.other_rented.split(",")]
    a.sim_other_rented = Fraction(a.sim_other_rented)
    a.sim_honest_rented = Fraction(a.sim_honest_rented)
    if not 3 <= a.committee or not 0 <= a.colluders <= a.committee:
        ap.error("need committee >= 3 and 0 <= colluders <= committee")
    if a.committee_units < 10:
        ap.error("need committee-units >= 10")

    gen_shown = a.genesis
    if os.path.abspath(a.genesis).startswith(ROOT + os.sep):
        gen_shown = os.path.relpath(os.path.abspath(a.genesis), ROOT)
    p, src, sp, ssrc, block_secs, notes = load_params(a.genesis, gen_shown)
    day_blocks = 86_400 // block_secs
    cp = a.calc_point or p["standardCalcPoint"]
    if a.round_blocks is None:
        a.round_blocks = round_blocks(p)
    if a.round_blocks < 0:
        ap.error("need round-blocks >= 0")

    print("<!-- generated by scripts/economics.py; do not edit by hand -->")
    print()
    print(param_section(p, src, block_secs, day_blocks, notes, gen_shown))
    print()
    print(emission_section(p, src, sp, ssrc, block_secs, day_blocks))
    print()
    print(wash_section(p, day_blocks, sizes, gpu_list, cp, a.other_gpus, other_rented))
    print()
    text, _ = sim_section(p, day_blocks, a)
    print(text)
    print()
    text, _ = shill_section(p, day_blocks, a)
    print(text)
    print()
    text, _ = split_section(p, day_blocks, a)
    print(text)
    print()
    print(auditor_section(p, day_blocks, a))


if __name__ == "__main__":
    sys.exit(main())
