#!/usr/bin/env python3
"""Economics of the GPU market (precompile 0x…0D01): wash renting and a 365-day simulation.

    python3 scripts/economics.py [genesis.json] [options]      (default genesis/dev.json)

Prints Markdown: the parameters used, the wash-renting table (issue #16 item 4), a 365-day
simulation of honest and attacking providers and auditors (issue #16 item 7), a shill renting
next to real renters on one machine, a server registered whole or split into 1-GPU machines,
and the stake-weighted auditor draw.

The rules modelled ("now"): a machine's grade is calcPoint × gpus × 10,000 while online (calc
point per GPU, like the price and the stake), whatever is rented (math.rs `grade`, rewards.rs
`regrade`), and project mining weighs that grade. The rented
bonus is paid per rental when it ends: `rentedBonusBps` of what its GPUs earned while it ran
(the machine's `reward_per_gpu` against the rental's `reward_snapshot`), at most the rent that
rental burned and what is left of the reward pool (rewards.rs `settle`, `pay_rental_bonus`;
rentals.rs `rent`, `close_rental`). Auditors are drawn by weight min(stake, 4 × auditorStake)
(committee.rs `draw`). The original rule is kept alongside as "before": the grade was
calcPoint × (1 + rentedBonusBps × rented / gpus), whatever the GPU count, so the bonus was paid
in full through the grade, a 1-GPU machine weighed as much as an 8-GPU one, and draws were one
address, one chance.

Every formula mirrors the Rust code (file references in the comments); amounts are integer wei
and rounded down where the code rounds down. Parameters come from `config.dbc.market` in the
genesis file; those it omits take the defaults of `MarketParams::default()`
(crates/chainspec/src/market.rs), read from that file when it is present next to this script
and otherwise from the copy below. Standard library only.
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MARKET_RS = os.path.join(ROOT, "crates", "chainspec", "src", "market.rs")

# Copy of MarketParams::default() (crates/chainspec/src/market.rs), by genesis key. Tiers are
# lists of (fromGpus, bps) and (underBlocks or None, bps).
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
    "standardPricePerGpuBlock": DBC // 100,
    "minPriceBps": 5_000,
    "rentUnitBlocks": 300,
    "maxRentBlocks": 60 * DAY,
    "burnTiers": [(0, 3_000), (5_001, 7_000), (10_000, 10_000)],
    "burnTierBasis": "online",
    "rewardPerEpoch": 400_000_000 * DBC // 365,
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
    "treasury": "0x00000000000000000000000000000000000dB7e0",
    "maxProjectsPerMachine": 3,
}
AMOUNT_KEYS = {
    "stakePerGpu", "auditorStake", "standardPricePerGpuBlock", "rewardPerEpoch", "rewardPool",
    "reportDeposit",
}


# ------------------------------------------------------------------------------------------
# Defaults from the Rust source (best effort; the copy above is the fallback)

def _camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(w.capitalize() for w in rest)


def _eval_int(expr):
    """Evaluates a Rust constant expression of the defaults (`dbc(1_000)`, `150 * DAY`,
    `U256::from(DBC / 100)`, `dbc(400_000_000) / U256::from(365)`) to an int, or None."""
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
        if isinstance(n, ast.Name) and n.id in ("DAY", "DBC"):
            return DAY if n.id == "DAY" else DBC
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


def defaults_from_source(path):
    """Returns ({key: value} parsed from MarketParams::default(), error or None)."""
    try:
        with open(path, encoding="utf-8") as f:
            src = f.read()
    except OSError as e:
        return {}, str(e)
    m = re.search(r"impl Default for MarketParams \{(.*?)\n\}\n", src, re.S)
    if not m:
        return {}, "MarketParams::default() not found"
    body = m.group(1)
    out = {}
    for name, expr in re.findall(r"^\s{12}(\w+): (.+?),\s*$", body, re.M):
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


def load_params(genesis_path, shown):
    """Returns (params, source of each key, blockTimeSecs, notes)."""
    notes = []
    base = dict(DEFAULTS)
    parsed, err = defaults_from_source(MARKET_RS)
    if err:
        notes.append(f"Defaults: the copy in this script ({os.path.relpath(MARKET_RS, ROOT)}: {err}).")
        default_src = "default (script copy)"
    else:
        diff = [k for k, v in parsed.items() if k in base and base[k] != v]
        base.update({k: v for k, v in parsed.items() if k in base})
        default_src = "default"
        notes.append(
            "Defaults: read from `crates/chainspec/src/market.rs` (`MarketParams::default()`)"
            + (f"; they differ from the script's copy for {', '.join(diff)} (the file wins)."
               if diff else "; they match the script's copy.")
        )
    with open(genesis_path, encoding="utf-8") as f:
        g = json.load(f)
    dbc_cfg = g.get("config", {}).get("dbc", {}) or {}
    block_secs = int(dbc_cfg.get("blockTimeSecs", 6))
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
            elif k == "burnTiers":
                v = [(int(t["fromGpus"]), int(t["bps"])) for t in v]
            elif k in ("ownerOfflineSlash", "unreachableSlash"):
                v = [(None if t.get("underBlocks") is None else int(t["underBlocks"]), int(t["bps"]))
                     for t in v]
            elif k in ("burnTierBasis", "treasury"):
                v = str(v)
            else:
                v = int(v)
            p[k], src[k] = v, "genesis"
        else:
            p[k], src[k] = dv, default_src
    unknown = sorted(set(gm) - set(base))
    if unknown:
        notes.append(f"Ignored unknown genesis keys: {', '.join(unknown)}.")
    return p, src, block_secs, notes


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


def per_block(p):
    """rewards.rs pool_update: rewardPerEpoch / epochBlocks per block."""
    return p["rewardPerEpoch"] // p["epochBlocks"]


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
        elif k.endswith("Bps"):
            shown = f"{v:,} ({pct(v)})"
        elif isinstance(v, int):
            shown = f"{v:,}"
        else:
            shown = str(v)
        rows.append((f"`{k}`", shown, src[k]))
    out.append(table(["`config.dbc.market` key", "value", "source"], rows))
    pb = per_block(p)
    out += ["", f"Derived: reward per block = `rewardPerEpoch / epochBlocks` = {d(pb, 6)} DBC; "
            f"per day = {d(pb * day_blocks)} DBC; the pool lasts "
            f"{p['rewardPool'] // (pb * day_blocks):,} days at that rate. "
            f"Floor price of a machine of calc point {p['standardCalcPoint']:,} = "
            f"{d(price_floor(p, p['standardCalcPoint']), 6)} DBC per GPU-block "
            f"({d(price_floor(p, p['standardCalcPoint']) * day_blocks)} DBC per GPU-day; standard "
            f"{d(standard_price(p, p['standardCalcPoint']) * day_blocks)})."]
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
    released = per_block(p) * day_blocks
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
               "after it. The reward pool is far from empty.")
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
            "back online with a heartbeat. Now a lower burn is also a lower cap on that rental's "
            "bonus, so the locked tier does not make wash renting pay; it changes how much of a "
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
    `starts` lists the rentals that start at the start of the day as (key, gpus), `closes` those
    that end at the end of the day as (key, gpus, used rent, burn bps, own), `own` when the owner
    pays the rent itself (wash renting). `before`: the original rule (grade with the rented
    bonus, paid in full); else the rule now (grade = calc point × gpus; per-rental bonus, capped by the
    rental's burn and the pool, paid when it ends, rewards.rs pay_rental_bonus). Only this
    machine's bonuses are counted against the pool (it does not run dry within a year at the
    default rates either way)."""
    bonus_bps = p["rentedBonusBps"]
    released_day = per_block(p) * day_blocks
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
        released = min(released_day, max(p["rewardPool"] - distributed, 0))
        distributed += released
        if before:
            gm = grade_before(cp, g, rented, bonus_bps) if online else 0
        else:
            gm = grade(cp, g) if online else 0
        r = machine_reward(released, gm, og + gm)
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


def plans(p, day_blocks, n, a, cp, g):
    """The providers' day plans, by name."""
    tier = burn_bps(p["burnTiers"], n)
    low = p["burnTiers"][0][1]
    std, floor = standard_price(p, cp), price_floor(p, cp)
    h = a.sim_honest_rented
    days = a.days
    out_from, out_to = 100, 100 + a.outage_days
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
        if out_from <= t < out_to:
            return False, 0, [], []   # the renter ended the rental; no reward, no rent
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


def auditor_section(p, a):
    units = a.committee_units
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
        "machine is approved when at least 2 of the 3 are colluders. Below, colluders hold a "
        f"fraction f of the committee's capped weight, which totals {units} × `auditorStake`. "
        "*≈ by weight* treats each seat as a colluder with probability f (3f²(1 − f) + f³); the "
        "other rows are exact for how the stake is spread over addresses (every address holds "
        "at least `auditorStake`, the joining minimum). *Before* is the original draw: one "
        "address, one chance, whatever its stake. *Tries* is the expected number of "
        "registrations until a fake is approved now (each rejection slashes "
        f"{pct(p['rejectSlashBps'])} of the machine's stake).")
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
            rows.append((f"{f.numerator}/{f.denominator}", name, f"{float(pr):.4f}",
                         f"{float(1 / pr):,.1f}" if pr else "∞",
                         "" if old is None else f"{float(old):.4f}"))
    out.append(table(["colluders' share f", "how the stake is spread", "P(≥ 2 of 3 colluders)",
                      "tries", "P before (per address)"], rows))
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
            "penalised. So every fake approved with an honest third seat takes one honest "
            "member out of the draw and raises the colluders' share f."]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------
# 365-day simulation

def simulate(p, day_blocks, n, a):
    """a.days days at network size n; returns (provider rows, comparison rows, auditor rows,
    facts)."""
    g, cp, days = a.sim_gpus, a.calc_point or p["standardCalcPoint"], a.days
    tier = burn_bps(p["burnTiers"], n)
    og = others_grade(p, n, g, g, cp, a.sim_other_rented, False)
    og_b = others_grade(p, n, g, g, cp, a.sim_other_rented, True)
    released_day = per_block(p) * day_blocks
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

    sb = slash_bps(p["unreachableSlash"], a.outage_days * day_blocks)
    unrel, unrel_old = year("unreachable"), year("unreachable", True)
    for led in (unrel, unrel_old):
        led.stake_lost = bps_of(stake, sb)
    name = f"honest-rented, unreachable {a.outage_days} day(s) during a rental (slash {pct(sb)})"
    rows.append(unrel.row(name, stake, days))
    cmp_rows.append((name, unrel_old, unrel))

    fake_honest = Ledger(p, day_blocks)
    fake_honest.stake_lost = bps_of(stake, p["rejectSlashBps"])
    rows.append(fake_honest.row("fake machine, honest auditors (rejected)", stake, days))

    # Fake machine approved by colluding auditors: `a.colluders` of `a.committee` members of
    # equal stake (so a fraction colluders/committee of the weight).
    nc, k = a.committee, a.colluders
    dist = seats_distribution([(k, 1, True), (nc - k, 1, False)])
    p2, p3 = dist[2], dist[3]
    p_ok = p2 + p3
    fails = (1 - p_ok) / p_ok if p_ok else None
    reject_cost = bps_of(stake, p["rejectSlashBps"])
    fakes = []
    for mult in (1, a.fake_calc_multiplier):
        if fails is None:
            break  # fewer than 2 colluders: a fake is never approved
        fake = year("idle", calc=cp * mult)
        fake.other = fake.aud  # the verifiers are colluders: their share comes back
        fake.stake_lost = int(fails * reject_cost)
        rows.append(fake.row(f"fake machine approved by colluding auditors (calc point ×{mult}), "
                             f"expected {float(fails):.2f} rejections first", stake, days))
        fakes.append(fake)
        if a.fake_calc_multiplier == 1:
            break

    # Auditors: every machine has 3 agreeing verifiers; with equal stakes each member is drawn
    # equally often and earns `auditorRewardBps` of the emission / members.
    aud_year = sum(bps_of(min(released_day, max(p["rewardPool"] - t * released_day, 0)),
                          p["auditorRewardBps"]) for t in range(days))
    per_seat = aud_year // nc
    penalty = bps_of(p["auditorStake"], p["auditorPenaltyBps"])
    honest_pen = int((p2 / p_ok if p_ok else 0) * penalty / max(nc - k, 1))
    group_gain = 0
    if fakes:
        fake = fakes[0]
        group_gain = fake.earned + fake.other - fake.stake_lost  # entitlement, incl. vesting
    arows = [
        ("honest auditor", d(p["auditorStake"], 0), d(per_seat), d(honest_pen),
         d(per_seat - honest_pen)),
        (f"colluding auditor ({k} of {nc} members of equal stake share one approved fake machine)",
         d(p["auditorStake"], 0), d(per_seat + group_gain // max(k, 1)), "0.00",
         d(per_seat + group_gain // max(k, 1))),
    ]
    facts = dict(tier=tier, machines=Fraction(n, g), p_ok=p_ok, idle=idle, idle_old=idle_old,
                 honest=honest, honest_old=honest_old, wash=wash, wash_old=wash_old,
                 stake=stake, fakes=fakes)
    return rows, cmp_rows, arows, facts


def signed(v):
    return ("+" if v > 0 else "") + d(v)


def sim_section(p, day_blocks, a):
    g, cp = a.sim_gpus, a.calc_point or p["standardCalcPoint"]
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
        "- The emission is `rewardPerEpoch / epochBlocks` per block, capped by what is left of "
        "`rewardPool`, shared by grade. Now: grade = calc point × GPUs × 10,000; each rental's "
        "bonus "
        "(`rentedBonusBps` of what its GPUs earned while it ran, at most its own burn and the "
        "pool left) is paid when it ends, through the same split. Before: grade = calc point × "
        "(1 + `rentedBonusBps` × rented/gpus) and the whole reward was paid. *Rewards earned* is "
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
        f"- *Unreachable*: the honest-rented machine misses heartbeats for {a.outage_days} day(s) "
        "from day 100 while rented, earns no reward and no rent meanwhile (the renter ends the "
        "rental), and is slashed by `unreachableSlash` when it comes back (machines.rs "
        "`apply_offline_slash`; an idle machine that goes offline is never slashed).",
        "- *Fake machine*: a machine that does not exist or does not match its spec. Honest "
        f"auditors reject it: `rejectSlashBps` of its stake goes to the treasury. Colluding "
        f"auditors are {a.colluders} of {a.committee} committee members of equal stake "
        f"({a.colluders}/{a.committee} of the weight; see *Auditor draws* for other shares), so "
        "the fake is approved when at least 2 colluders are drawn; otherwise the colluder votes "
        "with the honest majority (it sees who was drawn) and the owner registers again. Once "
        "online, heartbeats are plain owner transactions and no one re-checks an unrented "
        "machine (only a renter can `reportFault`), so the fake earns like an idle honest "
        "machine for the whole year; its price is set high so that no real renter takes it. "
        f"It claims {g} GPUs like the others: its reward, its stake and each rejection's "
        "slash grow with the GPU count it claims (which the auditors verify), so claiming more "
        "or fewer GPUs does not change its reward per staked DBC. "
        "The verifiers' reward share goes to the colluders (*other*).",
        f"- Auditors: every machine has 3 agreeing verifiers; with equal stakes every member is "
        f"drawn equally often and earns `auditorRewardBps` of the emission / {a.committee}, paid "
        "at once (their share of rented bonuses is left out). An honest auditor drawn with 2 "
        "colluders is outvoted and loses `auditorPenaltyBps` of its stake; *penalties* is that "
        "expected loss per honest member for the one approved fake machine. The colluders' row "
        "shares the fake machine's whole take (reward incl. vesting, auditor share, less "
        "expected rejections) among them.",
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
    return "\n".join(out), facts_all


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
        f"rejection's slash; before, a lone 1-GPU machine weighed as much as a {g}-GPU one, so "
        f"a fake claiming 1 GPU earned about as much as one claiming {g}.")
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
    ap.add_argument("--fake-calc-multiplier", type=int, default=10,
                    help="also show a fake machine whose colluding auditors report this × the calc point")
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
    p, src, block_secs, notes = load_params(a.genesis, gen_shown)
    day_blocks = 86_400 // block_secs
    cp = a.calc_point or p["standardCalcPoint"]

    print("<!-- generated by scripts/economics.py; do not edit by hand -->")
    print()
    print(param_section(p, src, block_secs, day_blocks, notes, gen_shown))
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
    print(auditor_section(p, a))


if __name__ == "__main__":
    sys.exit(main())
