// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IStaking} from "../../src/interfaces/IStaking.sol";

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
    uint256 blockReward;
    uint256 rewardPool;
    uint16 maxCommissionBps;
    uint16 maxCommissionIncreaseBps;
    uint16 doubleSignSlashBps;
    uint16 evidenceRewardBps;
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
    p.blockReward = 19 ether;
    p.rewardPool = 1_000_000_000 ether;
    p.maxCommissionBps = 10_000;
    p.maxCommissionIncreaseBps = 500;
    p.doubleSignSlashBps = 500;
    p.evidenceRewardBps = 1_000;
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
/// the other way round; the Solidity-only configuration lives at `CONFIG_SLOT`.
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

    // ------------------------------------------------------------------ slots and words

    /// `keccak256(abi.encode(tag, key)) + field` (wrapping).
    function slot(uint256 tag, bytes32 key, uint256 field) internal pure returns (uint256 s) {
        assembly {
            mstore(0, tag)
            mstore(32, key)
            s := add(keccak256(0, 64), field)
        }
    }

    function numKey(uint256 n) internal pure returns (bytes32) {
        return bytes32(n);
    }

    function addrKey(address a) internal pure returns (bytes32) {
        return bytes32(uint256(uint160(a)));
    }

    function get(uint256 s) internal view returns (uint256 v) {
        assembly {
            v := sload(s)
        }
    }

    function set(uint256 s, uint256 v) internal {
        assembly {
            sstore(s, v)
        }
    }

    function g(uint256 n) internal view returns (uint256) {
        return get(n);
    }

    function setG(uint256 n, uint256 v) internal {
        set(n, v);
    }

    /// `ctx.add_g`: checked add/sub of a global counter.
    function addG(uint256 n, uint256 delta) internal {
        set(n, add(get(n), delta));
    }

    function subG(uint256 n, uint256 delta) internal {
        uint256 cur = get(n);
        if (delta > cur) revert IStaking.ArithmeticOverflow();
        set(n, cur - delta);
    }

    /// `saturating_to::<u64>()`.
    function sat64(uint256 v) internal pure returns (uint256) {
        return v > U64_MAX ? U64_MAX : v;
    }

    function bitsOf(uint256 w, uint256 off, uint256 n) internal pure returns (uint256) {
        return (w >> off) & ((1 << n) - 1);
    }

    function toAddr(uint256 w) internal pure returns (address) {
        return address(uint160(w));
    }

    // ------------------------------------------------------------------ checked arithmetic

    function add(uint256 a, uint256 b) internal pure returns (uint256 c) {
        unchecked {
            c = a + b;
        }
        if (c < a) revert IStaking.ArithmeticOverflow();
    }

    /// `a + b` as u64, reverting like `ck2(a.checked_add(b))`.
    function add64(uint256 a, uint256 b) internal pure returns (uint256 c) {
        c = a + b; // both below 2^64
        if (c > U64_MAX) revert IStaking.ArithmeticOverflow();
    }

    /// `a.saturating_add(b)` on u64.
    function satAdd64(uint256 a, uint256 b) internal pure returns (uint256 c) {
        c = a + b;
        if (c > U64_MAX) c = U64_MAX;
    }

    /// `a.checked_next_multiple_of(e)` (e > 0) on u64.
    function nextMultiple64(uint256 a, uint256 e) internal pure returns (uint256) {
        uint256 r = a % e;
        if (r == 0) return a;
        return add64(a, e - r);
    }

    /// The node's `staking::mul_div`: `a * b / d`, the product checked in 256 bits.
    function mulDiv(uint256 a, uint256 b, uint256 d) internal pure returns (uint256) {
        if (d == 0) revert IStaking.ArithmeticOverflow();
        if (a == 0) return 0;
        unchecked {
            uint256 p = a * b;
            if (p / a != b) revert IStaking.ArithmeticOverflow();
            return p / d;
        }
    }

    function bps(uint256 a, uint256 share) internal pure returns (uint256) {
        return mulDiv(a, share, 10_000);
    }

    function min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    function max(uint256 a, uint256 b) internal pure returns (uint256) {
        return a > b ? a : b;
    }

    // ------------------------------------------------------------------ validator records

    /// `Val::load`: a due pending commission is applied (in memory; stored with the record).
    function loadVal(address a) internal view returns (Val memory v) {
        uint256 base = slot(T_VAL, addrKey(a), 0);
        uint256 w0 = get(base);
        v.addr = a;
        v.commission = bitsOf(w0, 0, 16);
        v.jailedUntil = bitsOf(w0, 16, 64);
        v.missed = bitsOf(w0, 80, 32);
        v.missedEpoch = bitsOf(w0, 112, 64);
        v.registered = bitsOf(w0, 176, 1) == 1;
        v.active = bitsOf(w0, 177, 1) == 1;
        v.pendingCommission = bitsOf(w0, 178, 14);
        v.pendingAt = bitsOf(w0, 192, 64);
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
        d.pending = add(d.pending, earned > d.debt ? earned - d.debt : 0);
        d.debt = earned;
    }

    function resetDebt(Del memory d, uint256 acc) internal pure {
        d.debt = mulDiv(d.shares, acc, SCALE);
    }

    function pendingNow(Del memory d, uint256 acc) internal pure returns (uint256) {
        uint256 earned = mulDiv(d.shares, acc, SCALE);
        return add(d.pending, earned > d.debt ? earned - d.debt : 0);
    }

    // ------------------------------------------------------------------ lists

    function candidateCount() internal view returns (uint256) {
        return sat64(g(G_CANDIDATES));
    }

    function candidateAt(uint256 i) internal view returns (address) {
        return toAddr(get(slot(T_CAND, numKey(i), 0)));
    }

    function candidates() internal view returns (address[] memory out) {
        uint256 n = candidateCount();
        out = new address[](n);
        for (uint256 i = 0; i < n; i++) {
            out[i] = candidateAt(i);
        }
    }

    function activeLen() internal view returns (uint256) {
        return sat64(g(G_ACTIVE_LEN));
    }

    function activeAt(uint256 i) internal view returns (address) {
        return toAddr(get(slot(T_ACTIVE, numKey(i), 0)));
    }

    function activeSet() internal view returns (address[] memory out) {
        uint256 n = activeLen();
        out = new address[](n);
        for (uint256 i = 0; i < n; i++) {
            out[i] = activeAt(i);
        }
    }
}
