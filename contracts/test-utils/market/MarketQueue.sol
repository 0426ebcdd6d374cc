// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MarketRecords, Machine, Rental} from "./MarketRecords.sol";

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
        at = _max64(at, _satAdd64(_now(), 1));
        bytes32 key = _numKey(at);
        uint64 count = _sat64(_get(_slot(T_QUEUE, key, 0)));
        _set(_slot(T_QUEUE, key, uint256(count) + 1), _queueWord(kind, id));
        _set(_slot(T_QUEUE, key, 0), uint256(count) + 1);
        if (count == 0) _heapInsert(at);
        return count + 1;
    }

    /// `unschedule_rental`: removes rental `rental`'s `RENTAL_END` item at position `index` of
    /// block `at`'s list (the last item takes its place).
    function _unscheduleRental(uint64 at, uint32 index32, uint64 rental) internal {
        uint64 index = index32;
        if (index == 0 || at <= _now()) return;
        bytes32 key = _numKey(at);
        uint64 count = _sat64(_get(_slot(T_QUEUE, key, 0)));
        if (index > count || _get(_slot(T_QUEUE, key, index)) != _queueWord(I_RENTAL_END, rental)) return;
        if (index != count) {
            uint256 last = _get(_slot(T_QUEUE, key, count));
            _set(_slot(T_QUEUE, key, index), last);
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
        _set(_slot(T_QUEUE, key, count), 0);
        _set(_slot(T_QUEUE, key, 0), uint256(count) - 1);
        if (count == 1) _heapRemove(at);
    }

    function _machineIdAt(uint64 index) internal view returns (bytes32) {
        return bytes32(_get(_slot(T_MACHINE_AT, _numKey(index), 0)));
    }

    /// `schedule_challenge_check` (liveness.rs): the machine's next challenge check
    /// `challengeCheckBlocks` from now, unless one is pending.
    function _scheduleChallengeCheck(Machine memory m) internal {
        if (m.challengeAt > _now()) return;
        m.challengeAt = _cadd64(_now(), _p().challengeCheckBlocks);
        _schedule(m.challengeAt, I_CHALLENGE_CHECK, m.index);
    }

    // =========================================================================================
    // heap of pending blocks (this stand-in only)

    function _heapPosSlot(uint64 b) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(b, HEAP_BASE)));
    }

    function _heapAt(uint256 i) internal view returns (uint64) {
        return uint64(_get(HEAP_BASE + i));
    }

    function _heapPut(uint256 i, uint64 b) internal {
        _set(HEAP_BASE + i, b);
        _set(_heapPosSlot(b), i);
    }

    function _heapInsert(uint64 b) internal {
        if (_get(_heapPosSlot(b)) != 0) return;
        uint256 n = _get(HEAP_BASE) + 1;
        _set(HEAP_BASE, n);
        _heapPut(n, b);
        _heapUp(n);
    }

    function _heapRemove(uint64 b) internal {
        uint256 i = _get(_heapPosSlot(b));
        if (i == 0) return;
        uint256 n = _get(HEAP_BASE);
        _set(_heapPosSlot(b), 0);
        if (i != n) {
            uint64 last = _heapAt(n);
            _heapPut(i, last);
        }
        _set(HEAP_BASE + n, 0);
        _set(HEAP_BASE, n - 1);
        if (i < n) {
            _heapUp(i);
            _heapDown(_get(_heapPosSlot(_heapAt(i))));
        }
    }

    function _heapUp(uint256 i) internal {
        while (i > 1) {
            uint256 parent = i / 2;
            uint64 a = _heapAt(i);
            uint64 b = _heapAt(parent);
            if (b <= a) break;
            _heapPut(parent, a);
            _heapPut(i, b);
            i = parent;
        }
    }

    function _heapDown(uint256 i) internal {
        uint256 n = _get(HEAP_BASE);
        while (true) {
            uint256 l = 2 * i;
            if (l > n) break;
            uint256 c = l;
            if (l + 1 <= n && _heapAt(l + 1) < _heapAt(l)) c = l + 1;
            uint64 a = _heapAt(i);
            uint64 b = _heapAt(c);
            if (a <= b) break;
            _heapPut(i, b);
            _heapPut(c, a);
            i = c;
        }
    }

    /// Drops the pending blocks before `block_`: the hook has run them (or, had it been skipped
    /// at a block with work due, lost them as the node would).
    function _heapPopBefore(uint64 block_) internal {
        while (_get(HEAP_BASE) > 0) {
            uint64 top = _heapAt(1);
            if (top >= block_) break;
            _heapRemove(top);
        }
    }
}
