// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {overflow, cadd, cmul, cadd64, sat64} from "../common/CheckedMath.sol";
import {slot, numKey, addrKey, toAddr, bits, get, set, g} from "../common/StoreLib.sol";
import {Emission, yearlyEmission} from "../common/Emission.sol";

/// Staking parameters: the node's `dbc_chainspec::StakingParams` (`config.dbc.staking` of the
/// genesis file) without its genesis validator list. Amounts in wei, durations in blocks,
/// shares in basis points.
struct StakingParams {
    uint64 epochBlocks;
    uint32 maxValidators;
    uint32 maxCandidates;
    uint256 minSelfStake;
    uint256 minDelegation;
    uint64 unbondingBlocks;
    Emission emission;
    uint256 rewardPool;
    uint16 maxCommissionBps;
    uint16 maxCommissionIncreaseBps;
    uint16 doubleSignSlashBps;
    uint16 evidenceRewardBps;
    uint16 slashTreasuryBps;
    uint32 downtimeJailMissed;
    uint16 downtimeSlashBps;
    uint64 jailBlocks;
}

/// The dev chain's staking parameters: `StakingParams::default()` (`genesis/dev.json` has no
/// `config.dbc.staking`).
function stakingDevParams() pure returns (StakingParams memory p) {
    p.epochBlocks = 14_400;
    p.maxValidators = 21;
    p.maxCandidates = 200;
    p.minSelfStake = 10_000 ether;
    p.minDelegation = 1 ether;
    p.unbondingBlocks = 14 * 14_400;
    // 19 DBC a block for 3 years, then 12.5% less each year; the 100th year releases the rest.
    p.emission = yearlyEmission(19 ether);
    p.rewardPool = 1_000_000_000 ether;
    p.maxCommissionBps = 10_000;
    p.maxCommissionIncreaseBps = 500;
    p.doubleSignSlashBps = 500;
    p.evidenceRewardBps = 1_000;
    p.slashTreasuryBps = 10_000;
    p.downtimeJailMissed = 50;
    p.downtimeSlashBps = 10;
    p.jailBlocks = 14_400;
}

/// A genesis validator (`dbc_chainspec::GenesisValidator`): bonded as its own delegation by the
/// first `onBlock`, out of the staking account's genesis balance.
struct GenesisValidator {
    address addr;
    uint256 stake;
    uint16 commissionBps;
}

/// A validator record (the node's `staking::Val`, 5 slots). Numbers are held in 256 bits here;
/// their widths are those of the node (commission u16, jailedUntil u64, missed u32, ...).
struct Val {
    address addr;
    uint256 commission;
    uint256 pendingCommission;
    uint256 pendingAt;
    uint256 jailedUntil;
    uint256 missed;
    uint256 missedEpoch;
    bool registered;
    bool active;
    uint256 totalStake;
    uint256 totalShares;
    uint256 acc;
    uint256 commissionOwed;
}

/// A delegation record (the node's `staking::Del`, 3 slots).
struct Del {
    address validator;
    address delegator;
    uint256 shares;
    uint256 debt;
    uint256 pending;
}

/// Storage of `StakingSol`: the node's exact layout (`dbc_precompiles::store` and `staking`),
/// so a state read from a node with `eth_getStorageAt` can be copied in with `vm.store` and
/// the other way round; the Solidity-only configuration lives at `CONFIG_SLOT`. The storage
/// primitives (`slot`, `get`, `set`, `g`, ...) and checked arithmetic are shared with the market
/// and mining (`../common/`).
library StakingStore {
    uint256 internal constant SCALE = 1e18;
    uint64 internal constant U64_MAX = type(uint64).max;

    // Globals.
    uint256 internal constant G_INIT = 0;
    uint256 internal constant G_CANDIDATES = 1;
    uint256 internal constant G_ACTIVE_LEN = 2;
    uint256 internal constant G_POOL_PAID = 3;
    uint256 internal constant G_TOTAL_BONDED = 4;
    uint256 internal constant G_BURNED = 5;

    // Record tags.
    uint256 internal constant T_VAL = 40;
    uint256 internal constant T_DEL = 41;
    uint256 internal constant T_CAND = 43;
    uint256 internal constant T_ACTIVE = 44;
    uint256 internal constant T_EVIDENCE = 45;
    uint256 internal constant T_CAND_IDX = 49;

    /// Where the Solidity stand-in keeps its parameters (no slot of the node's layout).
    bytes32 internal constant CONFIG_SLOT = keccak256("dbc-node.StakingSol.config");

    struct Config {
        bool configured;
        StakingParams p;
        GenesisValidator[] validators;
    }

    function config() internal pure returns (Config storage c) {
        bytes32 s = CONFIG_SLOT;
        assembly {
            c.slot := s
        }
    }

    // ------------------------------------------------------------------ arithmetic
    // (the generic helpers, shared with the market and mining, are in `../common/`)

    /// `a.checked_next_multiple_of(e)` (e > 0) on u64.
    function nextMultiple64(uint256 a, uint256 e) internal pure returns (uint256) {
        uint256 r = a % e;
        if (r == 0) return a;
        return cadd64(a, e - r);
    }

    /// The node's `staking::mul_div`: `a * b / d`, the product checked in 256 bits (unlike
    /// `math::mul_div`, `mulDiv` of `../common/CheckedMath.sol`, which divides a 512-bit one).
    function mulDiv(uint256 a, uint256 b, uint256 d) internal pure returns (uint256) {
        if (d == 0) overflow();
        return cmul(a, b) / d;
    }

    // ------------------------------------------------------------------ validator records

    /// `Val::load`: a due pending commission is applied (in memory; stored with the record).
    function loadVal(address a) internal view returns (Val memory v) {
        uint256 base = slot(T_VAL, addrKey(a), 0);
        uint256 w0 = get(base);
        v.addr = a;
        v.commission = bits(w0, 0, 16);
        v.jailedUntil = bits(w0, 16, 64);
        v.missed = bits(w0, 80, 32);
        v.missedEpoch = bits(w0, 112, 64);
        v.registered = bits(w0, 176, 1) == 1;
        v.active = bits(w0, 177, 1) == 1;
        v.pendingCommission = bits(w0, 178, 14);
        v.pendingAt = bits(w0, 192, 64);
        v.totalStake = get(base + 1);
        v.totalShares = get(base + 2);
        v.acc = get(base + 3);
        v.commissionOwed = get(base + 4);
        if (v.pendingAt != 0 && block.number >= v.pendingAt) {
            v.commission = v.pendingCommission;
            v.pendingCommission = 0;
            v.pendingAt = 0;
        }
    }

    function storeVal(Val memory v) internal {
        uint256 base = slot(T_VAL, addrKey(v.addr), 0);
        uint256 w0 = (v.commission & 0xffff) | ((v.jailedUntil & U64_MAX) << 16) | ((v.missed & 0xffffffff) << 80)
            | ((v.missedEpoch & U64_MAX) << 112) | ((v.registered ? uint256(1) : 0) << 176)
            | ((v.active ? uint256(1) : 0) << 177) | ((v.pendingCommission & 0x3fff) << 178)
            | ((v.pendingAt & U64_MAX) << 192);
        set(base, w0);
        set(base + 1, v.totalStake);
        set(base + 2, v.totalShares);
        set(base + 3, v.acc);
        set(base + 4, v.commissionOwed);
    }

    /// `Val::value_of`: the current value of `shares` of the validator's bonded stake.
    function valueOf(Val memory v, uint256 shares) internal pure returns (uint256) {
        if (v.totalShares == 0) return 0;
        return mulDiv(shares, v.totalStake, v.totalShares);
    }

    // ------------------------------------------------------------------ delegation records

    function delKey(address validator, address delegator) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(validator, delegator));
    }

    function loadDel(address validator, address delegator) internal view returns (Del memory d) {
        uint256 base = slot(T_DEL, delKey(validator, delegator), 0);
        d.validator = validator;
        d.delegator = delegator;
        d.shares = get(base);
        d.debt = get(base + 1);
        d.pending = get(base + 2);
    }

    function storeDel(Del memory d) internal {
        uint256 base = slot(T_DEL, delKey(d.validator, d.delegator), 0);
        set(base, d.shares);
        set(base + 1, d.debt);
        set(base + 2, d.pending);
    }

    /// `Del::settle`: moves the rewards accrued since the last change into `pending`.
    function settle(Del memory d, uint256 acc) internal pure {
        uint256 earned = mulDiv(d.shares, acc, SCALE);
        d.pending = cadd(d.pending, earned > d.debt ? earned - d.debt : 0);
        d.debt = earned;
    }

    function resetDebt(Del memory d, uint256 acc) internal pure {
        d.debt = mulDiv(d.shares, acc, SCALE);
    }

    function pendingNow(Del memory d, uint256 acc) internal pure returns (uint256) {
        uint256 earned = mulDiv(d.shares, acc, SCALE);
        return cadd(d.pending, earned > d.debt ? earned - d.debt : 0);
    }

    // ------------------------------------------------------------------ lists

    function candidateCount() internal view returns (uint256) {
        return sat64(g(G_CANDIDATES));
    }

    function candidateAt(uint256 i) internal view returns (address) {
        return toAddr(get(slot(T_CAND, numKey(i), 0)));
    }

    function candidates() internal view returns (address[] memory) {
        return _addresses(T_CAND, G_CANDIDATES);
    }

    function activeSet() internal view returns (address[] memory) {
        return _addresses(T_ACTIVE, G_ACTIVE_LEN);
    }

    /// The list of addresses at `(tag, i)` word 0, `i` below the global `len` (saturated to u64).
    function _addresses(uint256 tag, uint256 len) private view returns (address[] memory out) {
        uint256 n = sat64(g(len));
        out = new address[](n);
        for (uint256 i = 0; i < n; i++) {
            out[i] = toAddr(get(slot(tag, numKey(i), 0)));
        }
    }
}
