// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../../src/interfaces/IGpuMarket.sol";
import {MarketReports} from "./MarketReports.sol";
import {Machine, Round, Rental, Report} from "./MarketRecords.sol";
import {sat64, satAdd64} from "../common/CheckedMath.sol";
import {slot, numKey, get, set, g, setG, addG} from "../common/StoreLib.sol";
import {blockNow} from "../common/Host.sol";

// The end-of-block hook (`market/hook.rs`: `on_block`, `run_item`, the rounds' due items).

/// The self-call through which the hook runs each item in its own call frame, so that an item
/// that reverts is undone and skipped alone (the node's per-item journal checkpoint).
interface IGpuMarketSolItems {
    function gpuMarketSolRunItem(uint64 due, uint8 kind, uint64 id) external;
}

abstract contract MarketHook is MarketReports {
    /// `on_block`: fee accounting and the due queue, at most `HOOK_MAX_ITEMS` items a block.
    function _onBlock(uint256 fees) internal {
        _setHookRunning(true);
        uint64 now_ = blockNow();
        set(LAST_HOOK_SLOT, uint256(now_) + 1);
        if (fees != 0) addG(G_FEES_BURNED, fees, false);
        uint256 cursor = g(G_CURSOR);
        uint64 block_ = uint64(cursor);
        uint64 index = uint64(cursor >> 64);
        if (block_ == 0) block_ = now_;
        uint64 done;
        while (block_ <= now_ && done < HOOK_MAX_ITEMS) {
            bytes32 key = numKey(block_);
            uint64 count = sat64(get(slot(T_QUEUE, key, 0)));
            while (index < count && done < HOOK_MAX_ITEMS) {
                uint256 word = get(slot(T_QUEUE, key, uint256(index) + 1));
                index += 1;
                done += 1;
                _runItemIsolated(block_, uint8(word >> 248), uint64(word));
            }
            if (index >= count) {
                block_ += 1;
                index = 0;
            }
        }
        uint256 next;
        if (block_ != satAdd64(now_, 1) || index != 0) {
            next = uint256(block_) | (uint256(index) << 64);
        }
        setG(G_CURSOR, next);
        _heapPopBefore(block_);
        _setHookRunning(false);
    }

    /// Runs one item in its own frame: a revert (a bug, on the node) undoes and skips only that
    /// item; a fatal error (`GpuMarketSolFatal`) aborts the hook as it aborts the node's block.
    function _runItemIsolated(uint64 due, uint8 kind, uint64 id) internal {
        try IGpuMarketSolItems(address(this)).gpuMarketSolRunItem(due, kind, id) {}
        catch (bytes memory err) {
            if (err.length >= 4 && bytes4(err) == GpuMarketSolFatal.selector) {
                assembly {
                    revert(add(err, 32), mload(err))
                }
            }
        }
    }

    /// `run_item`.
    function _runItem(uint64 due, uint8 kind, uint64 id) internal {
        if (kind == I_DRAW || kind == I_COMMIT_END || kind == I_REVEAL_END || kind == I_HEARTBEAT_CHECK) {
            Machine memory m = _machine(_machineIdAt(id));
            if (kind == I_HEARTBEAT_CHECK) _heartbeatCheck(m, due);
            else _machineRoundItem(m, due, kind);
        } else if (kind == I_CHALLENGE_CHECK) {
            Machine memory m = _machine(_machineIdAt(id));
            _challengeCheck(m, due);
        } else if (kind == I_FAIL_MACHINE) {
            (bool exists, Report memory rep) = _loadReport(id);
            if (!exists) return;
            Machine memory m = _machine(rep.machine);
            address[] memory finders = _reportFinders(id);
            _failMachine(m, finders);
        } else if (kind == I_RENTAL_END) {
            (bool exists, Rental memory r) = _loadRental(id);
            if (!exists) return;
            if (r.status == RS_ACTIVE && r.end == due) _closeRental(r);
        } else if (kind == I_REPORT_DRAW || kind == I_REPORT_COMMIT_END || kind == I_REPORT_REVEAL_END) {
            (bool exists, Report memory rep) = _loadReport(id);
            if (!exists) return;
            _reportRoundItem(rep, due, kind);
        }
    }

    /// `seat_round`: seats the drawn auditors and opens the commit phase (its end item
    /// `commitEnd`), or retries `drawDelayBlocks` later (item `redraw`).
    function _seatRound(Round memory r, bytes32 key, address[] memory exclude, uint8 commitEnd, uint8 redraw, uint64 id)
        internal
        returns (bool drawn)
    {
        address[3] memory auditors;
        (drawn, auditors) = _draw(key, exclude, r.snapshot);
        if (drawn) {
            r.auditors = auditors;
            r.phase = P_COMMIT;
            r.commitDeadline = blockNow() + _p().commitWindowBlocks;
            _assign(auditors, true);
            _schedule(r.commitDeadline, commitEnd, id);
        } else {
            r.drawAt = blockNow() + _p().drawDelayBlocks;
            r.snapshot = _committeeSnapshot();
            _schedule(r.drawAt, redraw, id);
        }
    }

    /// `machine_round_item`.
    function _machineRoundItem(Machine memory m, uint64 due, uint8 kind) internal {
        Round memory r = _loadRound(T_ROUND_MACHINE, m.id);
        if (kind == I_DRAW && r.phase == P_DRAWING && r.drawAt == due) {
            address[] memory exclude = new address[](1);
            exclude[0] = m.owner;
            if (_seatRound(r, m.id, exclude, I_COMMIT_END, I_DRAW, m.index) && _logs()) {
                emit IGpuMarket.AuditorsAssigned(m.id, r.attempt, r.auditors, r.commitDeadline);
            }
            _storeRound(r);
        } else if (kind == I_COMMIT_END && r.phase == P_COMMIT && r.commitDeadline == due) {
            if (_committed(r) >= 2) {
                r.phase = P_REVEAL;
                r.revealDeadline = blockNow() + _p().revealWindowBlocks;
                _schedule(r.revealDeadline, I_REVEAL_END, m.index);
                _storeRound(r);
            } else {
                _finishVerification(m, r);
                _storeRound(r);
                _storeMachine(m);
            }
        } else if (kind == I_REVEAL_END && r.phase == P_REVEAL && r.revealDeadline == due) {
            _finishVerification(m, r);
            _storeRound(r);
            _storeMachine(m);
        }
    }

    /// `report_round_item`.
    function _reportRoundItem(Report memory rep, uint64 due, uint8 kind) internal {
        bytes32 key = numKey(rep.id);
        Round memory r = _loadRound(T_ROUND_REPORT, key);
        if (kind == I_REPORT_DRAW && r.phase == P_DRAWING && r.drawAt == due) {
            address[] memory exclude = new address[](2);
            exclude[0] = _machine(rep.machine).owner;
            exclude[1] = rep.reporter;
            if (_seatRound(r, key, exclude, I_REPORT_COMMIT_END, I_REPORT_DRAW, rep.id) && _logs()) {
                emit IGpuMarket.ReportAuditorsAssigned(rep.id, r.attempt, r.auditors, r.commitDeadline);
            }
            _storeRound(r);
        } else if (kind == I_REPORT_COMMIT_END && r.phase == P_COMMIT && r.commitDeadline == due) {
            if (_committed(r) >= 2) {
                r.phase = P_REVEAL;
                r.revealDeadline = blockNow() + _p().revealWindowBlocks;
                _schedule(r.revealDeadline, I_REPORT_REVEAL_END, rep.id);
                _storeRound(r);
            } else {
                _finishReport(rep, r);
                _storeRound(r);
                _storeReport(rep);
            }
        } else if (kind == I_REPORT_REVEAL_END && r.phase == P_REVEAL && r.revealDeadline == due) {
            _finishReport(rep, r);
            _storeRound(r);
            _storeReport(rep);
        }
    }
}
