// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IStaking} from "../../src/interfaces/IStaking.sol";
import {StakingParams, StakingStore as S} from "./StakingStore.sol";
import {cadd, cadd64, sat64, satAdd64, min, max, bpsOf} from "../common/CheckedMath.sol";
import {slot, addrKey, toAddr, bits, get, set} from "../common/StoreLib.sol";

/// Unbonding that stays slashable: the node's `dbc_precompiles::staking::unbonding` (security
/// review H8), same storage layout. Undelegated stake joins a per-(validator, start bucket)
/// pool held as stake and shares; a slash cuts the pools whose bucket may hold stake that
/// started unbonding at the infraction or later; a delegator holds at most `MAX_ENTRIES`
/// entries (one per validator and bucket).
library StakingUnbonding {
    uint256 internal constant T_UNB_POOL = 46;
    uint256 internal constant T_UNB_COUNT = 47;
    uint256 internal constant T_UNB_ENTRY = 48;
    uint256 internal constant MAX_ENTRIES = 16;
    uint256 internal constant BUCKETS = 32;

    struct Entry {
        address validator;
        uint256 release;
        uint256 bucket;
        uint256 shares;
    }

    /// Blocks of start per bucket: `ceil((unbondingBlocks + epochBlocks) / 32)`, at least 1.
    function bucketLen(StakingParams memory sp) internal pure returns (uint256) {
        uint256 total = satAdd64(sp.unbondingBlocks, sp.epochBlocks);
        uint256 len = (total + BUCKETS - 1) / BUCKETS;
        return len == 0 ? 1 : len;
    }

    /// Where stake undelegated now starts unbonding: the next epoch boundary for a validator
    /// of the active set, else now.
    function effectiveStart(StakingParams memory sp, bool active) internal view returns (uint256) {
        if (!active) return block.number;
        return S.nextMultiple64(block.number, max(sp.epochBlocks, 1));
    }

    function poolSlot(address validator, uint256 bucket) internal pure returns (uint256) {
        return slot(T_UNB_POOL, keccak256(abi.encodePacked(validator, uint64(bucket))), 0);
    }

    function entrySlot(address delegator, uint256 i) internal pure returns (uint256) {
        return slot(T_UNB_ENTRY, keccak256(abi.encodePacked(delegator, uint64(i))), 0);
    }

    function countSlot(address delegator) internal pure returns (uint256) {
        return slot(T_UNB_COUNT, addrKey(delegator), 0);
    }

    function count(address delegator) internal view returns (uint256) {
        return min(get(countSlot(delegator)), MAX_ENTRIES);
    }

    function loadEntry(address delegator, uint256 i) internal view returns (Entry memory e) {
        uint256 base = entrySlot(delegator, i);
        uint256 w0 = get(base);
        e.validator = toAddr(w0);
        e.release = bits(w0, 160, 64);
        e.bucket = sat64(get(base + 1));
        e.shares = get(base + 2);
    }

    function storeEntry(address delegator, uint256 i, Entry memory e) internal {
        uint256 base = entrySlot(delegator, i);
        set(base, uint256(uint160(e.validator)) | ((e.release & S.U64_MAX) << 160));
        set(base + 1, e.bucket);
        set(base + 2, e.shares);
    }

    function clearEntry(address delegator, uint256 i) internal {
        uint256 base = entrySlot(delegator, i);
        set(base, 0);
        set(base + 1, 0);
        set(base + 2, 0);
    }

    /// Current value of an entry's shares of its pool.
    function value(Entry memory e) internal view returns (uint256) {
        uint256 p = poolSlot(e.validator, e.bucket);
        uint256 stake = get(p);
        uint256 shares = get(p + 1);
        if (shares == 0) return 0;
        return S.mulDiv(e.shares, stake, shares);
    }

    /// Moves `amount` (already out of the validator's bonded stake) into unbonding for
    /// `delegator` from `start`. Returns the entry's release block.
    function begin(StakingParams memory sp, address validator, address delegator, uint256 amount, uint256 start)
        internal
        returns (uint256)
    {
        uint256 release = cadd64(start, sp.unbondingBlocks);
        uint256 bucket = start / bucketLen(sp);
        uint256 minted = _join(poolSlot(validator, bucket), amount);
        return _addEntry(delegator, Entry(validator, release, bucket, minted));
    }

    /// Adds `amount` to a pool; returns the pool shares minted for it.
    function _join(uint256 p, uint256 amount) private returns (uint256 minted) {
        uint256 stake = get(p);
        uint256 shares = get(p + 1);
        if (shares == 0) {
            minted = amount;
        } else if (stake == 0) {
            // Wiped by a 100% slash: no share price lets new stake join this bucket.
            revert IStaking.ArithmeticOverflow();
        } else {
            minted = S.mulDiv(amount, shares, stake);
        }
        if (minted == 0) revert IStaking.AmountTooSmall();
        set(p, cadd(stake, amount));
        set(p + 1, cadd(shares, minted));
    }

    /// Merges `x` into the delegator's entry of the same validator and bucket, or appends it.
    function _addEntry(address delegator, Entry memory x) private returns (uint256) {
        uint256 n = count(delegator);
        for (uint256 i = 0; i < n; i++) {
            Entry memory e = loadEntry(delegator, i);
            if (e.validator == x.validator && e.bucket == x.bucket) {
                e.shares = cadd(e.shares, x.shares);
                e.release = max(e.release, x.release);
                storeEntry(delegator, i, e);
                return e.release;
            }
        }
        if (n >= MAX_ENTRIES) revert IStaking.TooManyUnbondings(MAX_ENTRIES);
        storeEntry(delegator, n, x);
        set(countSlot(delegator), n + 1);
        return x.release;
    }

    /// Removes `delegator`'s matured entries and returns their value (taken out of the pools).
    function withdraw(address delegator) internal returns (uint256 total) {
        uint256 n = count(delegator);
        if (n == 0) revert IStaking.NothingToWithdraw();
        Entry[] memory kept = new Entry[](n);
        uint256 k = 0;
        uint256 earliest = S.U64_MAX;
        for (uint256 i = 0; i < n; i++) {
            Entry memory x = loadEntry(delegator, i);
            if (x.release > block.number) {
                earliest = min(earliest, x.release);
                kept[k++] = x;
                continue;
            }
            uint256 p = poolSlot(x.validator, x.bucket);
            uint256 stake = get(p);
            uint256 shares = get(p + 1);
            // The last entry out takes the rounding dust.
            uint256 paid = x.shares >= shares ? stake : min(S.mulDiv(x.shares, stake, shares), stake);
            set(p, stake - paid);
            set(p + 1, shares > x.shares ? shares - x.shares : 0);
            total = cadd(total, paid);
        }
        if (k == n) revert IStaking.StillUnbonding(uint64(earliest));
        for (uint256 i = 0; i < n; i++) {
            if (i < k) storeEntry(delegator, i, kept[i]);
            else clearEntry(delegator, i);
        }
        set(countSlot(delegator), k);
    }

    /// Cuts `shareBps` of every unbonding pool of `validator` that may hold stake which started
    /// unbonding at `infraction` or later. Returns the amount cut.
    function slash(StakingParams memory sp, address validator, uint256 infraction, uint256 shareBps)
        internal
        returns (uint256 total)
    {
        uint256 len = bucketLen(sp);
        uint256 last = effectiveStart(sp, true) / len;
        uint256 floor = last > BUCKETS + 1 ? last - (BUCKETS + 1) : 0;
        uint256 first = max(infraction / len, floor);
        for (uint256 bucket = first; bucket <= last; bucket++) {
            uint256 p = poolSlot(validator, bucket);
            uint256 stake = get(p);
            uint256 cut = bpsOf(stake, shareBps);
            if (cut == 0) continue;
            set(p, stake - cut);
            total = cadd(total, cut);
        }
    }

    /// `delegator`'s entries: (validator, current value, release block).
    function list(address delegator) internal view returns (IStaking.Unbonding[] memory out) {
        uint256 n = count(delegator);
        out = new IStaking.Unbonding[](n);
        for (uint256 i = 0; i < n; i++) {
            Entry memory e = loadEntry(delegator, i);
            out[i] = IStaking.Unbonding(e.validator, value(e), uint64(e.release));
        }
    }
}
