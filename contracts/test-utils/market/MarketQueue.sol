// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MarketRecords, Machine, Rental} from "./MarketRecords.sol";
import {cadd64, sat64, satAdd64, max64} from "../common/CheckedMath.sol";
import {slot, numKey, get, set} from "../common/StoreLib.sol";
import {blockNow} from "../common/Host.sol";

// The block hook's queue (`market/hook.rs`: `schedule`, `schedule_at`, `unschedule_rental`) and
// an index of the blocks with work due that the node does not keep: a min-heap of the block
// numbers whose queue is not empty and not yet run, so that `nextHookBlock()` can tell, without
// a scan, which blocks a test may skip.

abstract contract MarketQueue is MarketRecords {
    /// Heap of pending block numbers: size at `HEAP_BASE`, element `i` (from 1) at
    /// `HEAP_BASE + i`; a block's position (from 1, 0: absent) at keccak256(block, HEAP_BASE).
    uint256 internal constant HEAP_BASE = uint256(keccak256("dbc.GpuMarketSol.hookHeap"));
    /// Block number + 1 of the last run of the block hook (0: never).
    uint256 internal constant LAST_HOOK_SLOT = uint256(keccak256("dbc.GpuMarketSol.lastHook"));

    // =========================================================================================
    // queue (hook.rs)

    function _queueWord(uint8 kind, uint64 id) internal pure returns (uint256) {
        return (uint256(kind) << 248) | uint256(id);
    }

    /// Appends a work item for the block hook at block `at` (at least the next block).
    function _schedule(uint64 at, uint8 kind, uint64 id) internal {
        _scheduleAt(at, kind, id);
    }

    /// `schedule_at`: returns the item's position in block `at`'s list (from 1).
    function _scheduleAt(uint64 at, uint8 kind, uint64 id) internal returns (uint64) {
        at = max64(at, satAdd64(blockNow(), 1));
        bytes32 key = numKey(at);
        uint64 count = sat64(get(slot(T_QUEUE, key, 0)));
        set(slot(T_QUEUE, key, uint256(count) + 1), _queueWord(kind, id));
        set(slot(T_QUEUE, key, 0), uint256(count) + 1);
        if (count == 0) _heapInsert(at);
        return count + 1;
    }

    /// `unschedule_rental`: removes rental `rental`'s `RENTAL_END` item at position `index` of
    /// block `at`'s list (the last item takes its place).
    function _unscheduleRental(uint64 at, uint32 index32, uint64 rental) internal {
        uint64 index = index32;
        if (index == 0 || at <= blockNow()) return;
        bytes32 key = numKey(at);
        uint64 count = sat64(get(slot(T_QUEUE, key, 0)));
        if (index > count || get(slot(T_QUEUE, key, index)) != _queueWord(I_RENTAL_END, rental)) return;
        if (index != count) {
            uint256 last = get(slot(T_QUEUE, key, count));
            set(slot(T_QUEUE, key, index), last);
            uint8 kind = uint8(last >> 248);
            if (kind == I_RENTAL_END) {
                uint64 id = uint64(last);
                (bool exists, Rental memory moved) = _loadRental(id);
                if (exists && moved.status == RS_ACTIVE && moved.end == at && uint64(moved.queueIndex) == count) {
                    moved.queueIndex = uint32(index);
                    _storeRental(moved);
                }
            }
        }
        set(slot(T_QUEUE, key, count), 0);
        set(slot(T_QUEUE, key, 0), uint256(count) - 1);
        if (count == 1) _heapRemove(at);
    }

    function _machineIdAt(uint64 index) internal view returns (bytes32) {
        return bytes32(get(slot(T_MACHINE_AT, numKey(index), 0)));
    }

    /// `schedule_challenge_check` (liveness.rs): the machine's next challenge check
    /// `challengeCheckBlocks` from now, unless one is pending.
    function _scheduleChallengeCheck(Machine memory m) internal {
        if (m.challengeAt > blockNow()) return;
        m.challengeAt = cadd64(blockNow(), _p().challengeCheckBlocks);
        _schedule(m.challengeAt, I_CHALLENGE_CHECK, m.index);
    }

    // =========================================================================================
    // heap of pending blocks (this stand-in only)

    function _heapPosSlot(uint64 b) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(b, HEAP_BASE)));
    }

    function _heapAt(uint256 i) internal view returns (uint64) {
        return uint64(get(HEAP_BASE + i));
    }

    function _heapPut(uint256 i, uint64 b) internal {
        set(HEAP_BASE + i, b);
        set(_heapPosSlot(b), i);
    }

    function _heapInsert(uint64 b) internal {
        if (get(_heapPosSlot(b)) != 0) return;
        uint256 n = get(HEAP_BASE) + 1;
        set(HEAP_BASE, n);
        _heapPut(n, b);
        _heapUp(n);
    }

    function _heapRemove(uint64 b) internal {
        uint256 i = get(_heapPosSlot(b));
        if (i == 0) return;
        uint256 n = get(HEAP_BASE);
        set(_heapPosSlot(b), 0);
        if (i != n) {
            uint64 last = _heapAt(n);
            _heapPut(i, last);
        }
        set(HEAP_BASE + n, 0);
        set(HEAP_BASE, n - 1);
        if (i < n) {
            _heapUp(i);
            _heapDown(get(_heapPosSlot(_heapAt(i))));
        }
    }

    /// Swaps the heap's elements `i` and `j`.
    function _heapSwap(uint256 i, uint256 j) internal {
        uint64 a = _heapAt(i);
        uint64 b = _heapAt(j);
        _heapPut(i, b);
        _heapPut(j, a);
    }

    function _heapUp(uint256 i) internal {
        for (; i > 1 && _heapAt(i / 2) > _heapAt(i); i /= 2) {
            _heapSwap(i, i / 2);
        }
    }

    function _heapDown(uint256 i) internal {
        uint256 n = get(HEAP_BASE);
        for (uint256 c = 2 * i; c <= n; c = 2 * i) {
            if (c + 1 <= n && _heapAt(c + 1) < _heapAt(c)) c += 1;
            if (_heapAt(i) <= _heapAt(c)) break;
            _heapSwap(i, c);
            i = c;
        }
    }

    /// Drops the pending blocks before `block_`: the hook has run them (or, had it been skipped
    /// at a block with work due, lost them as the node would).
    function _heapPopBefore(uint64 block_) internal {
        while (get(HEAP_BASE) > 0) {
            uint64 top = _heapAt(1);
            if (top >= block_) break;
            _heapRemove(top);
        }
    }
}
