// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../../src/interfaces/IGpuMarket.sol";
import {MarketMachines} from "./MarketMachines.sol";
import {Machine, Round, Report} from "./MarketRecords.sol";
import {cadd, cmul, cadd64, sat64, sat32, satSub, min, bpsOf} from "../common/CheckedMath.sol";
import {slot, numKey, addrKey, toAddr, get, set, g, setG, addG} from "../common/StoreLib.sol";
import {blockNow} from "../common/Host.sol";

// The auditor committee and its commit–reveal rounds (`market/committee.rs`): joining and
// leaving, the draw, commits, and the verification of a machine.

abstract contract MarketCommittee is MarketMachines {
    /// `join_committee`.
    function _joinCommittee(address who, uint256 value) internal {
        bytes32 key = addrKey(who);
        if (get(slot(T_AUDITOR, key, 1)) != 0) revert IGpuMarket.AlreadyAuditor();
        uint256 required = _p().auditorStake;
        if (value < required) revert IGpuMarket.WrongStake(required, value);
        uint64 seat = sat64(g(G_COMMITTEE_SEQ));
        uint64 n = sat64(g(G_COMMITTEE));
        set(slot(T_COMMITTEE, numKey(seat), 0), uint256(uint160(who)));
        setG(G_COMMITTEE_SEQ, cadd64(seat, 1));
        setG(G_COMMITTEE, uint256(n) + 1);
        set(slot(T_AUDITOR, key, 0), value);
        set(slot(T_AUDITOR, key, 1), cadd64(seat, 1));
        if (_logs()) emit IGpuMarket.AuditorJoined(who, value);
    }

    /// `add_auditor_stake`.
    function _addAuditorStake(address who, uint256 value) internal {
        bytes32 key = addrKey(who);
        if (get(slot(T_AUDITOR, key, 1)) == 0) revert IGpuMarket.NotAuditor();
        if (value == 0) revert IGpuMarket.WrongStake(1, value);
        uint256 stake = cadd(get(slot(T_AUDITOR, key, 0)), value);
        set(slot(T_AUDITOR, key, 0), stake);
        if (_logs()) emit IGpuMarket.AuditorStakeAdded(who, value, stake);
    }

    /// `leave_committee`.
    function _leaveCommittee(address who) internal {
        bytes32 key = addrKey(who);
        uint64 seat = sat64(get(slot(T_AUDITOR, key, 1)));
        if (seat == 0) revert IGpuMarket.NotAuditor();
        uint32 busy = sat32(get(slot(T_AUDITOR, key, 2)));
        if (busy > 0) revert IGpuMarket.AuditorBusy(busy);
        set(slot(T_COMMITTEE, numKey(seat - 1), 0), 0);
        uint64 n = sat64(g(G_COMMITTEE));
        setG(G_COMMITTEE, n > 0 ? n - 1 : 0);
        uint256 stake = get(slot(T_AUDITOR, key, 0));
        set(slot(T_AUDITOR, key, 0), 0);
        set(slot(T_AUDITOR, key, 1), 0);
        _pay(who, stake);
        if (_logs()) emit IGpuMarket.AuditorLeft(who, stake);
    }

    /// `committee_snapshot`: seats handed out so far.
    function _committeeSnapshot() internal view returns (uint64) {
        return sat64(g(G_COMMITTEE_SEQ));
    }

    /// `start_round`: auditors are drawn `drawDelayBlocks` later among the members seated now.
    function _startRound(uint256 tag, bytes32 key, uint32 attempt, uint8 drawKind, uint64 id) internal override {
        Round memory r = _loadRound(tag, key);
        r.phase = P_DRAWING;
        r.attempt = attempt;
        r.drawAt = blockNow() + _p().drawDelayBlocks;
        r.commitDeadline = 0;
        r.revealDeadline = 0;
        r.auditors = [address(0), address(0), address(0)];
        r.commitments = [bytes32(0), bytes32(0), bytes32(0)];
        r.reveals = [uint256(0), uint256(0), uint256(0)];
        r.snapshot = _committeeSnapshot();
        _storeRound(r);
        _schedule(r.drawAt, drawKind, id);
    }

    /// `draw`: 3 distinct auditors for round `key` from the block's randomness, among the
    /// first `snapshot` seats, weighted by stake, none in `exclude`; `found` false if no 3
    /// were found in `DRAW_TRIES` tries.
    function _draw(bytes32 key, address[] memory exclude, uint64 snapshot)
        internal
        view
        returns (bool found, address[3] memory picked)
    {
        uint64 n = sat64(g(G_COMMITTEE));
        if (n < 3 || snapshot < 3) return (false, picked);
        uint256 minStake = _p().auditorStake;
        uint256 cap = cmul(minStake, AUDITOR_WEIGHT_CAP);
        if (cap == 0) cap = 1;
        bytes32 seed = _randomness();
        uint256 count;
        for (uint64 i; i < DRAW_TRIES; i++) {
            bytes32 h = keccak256(abi.encodePacked(seed, key, i));
            uint256 seat = uint256(h) % snapshot;
            address a = toAddr(get(slot(T_COMMITTEE, bytes32(seat), 0)));
            if (a == address(0) || _contains(exclude, a) || _containsN(picked, count, a)) continue;
            uint256 stake = get(slot(T_AUDITOR, addrKey(a), 0));
            if (stake < minStake) continue;
            bytes32 w = keccak256(abi.encodePacked(h, "weight"));
            if (uint256(w) % cap >= min(stake, cap)) continue;
            picked[count++] = a;
            if (count == 3) return (true, picked);
        }
        return (false, [address(0), address(0), address(0)]);
    }

    function _contains(address[] memory list, address a) internal pure returns (bool) {
        for (uint256 i; i < list.length; i++) {
            if (list[i] == a) return true;
        }
        return false;
    }

    function _containsN(address[3] memory list, uint256 n, address a) internal pure returns (bool) {
        for (uint256 i; i < n; i++) {
            if (list[i] == a) return true;
        }
        return false;
    }

    /// `assign`: counts (or uncounts) an active assignment of each non-zero auditor.
    function _assign(address[3] memory auditors, bool add) internal {
        for (uint256 i; i < 3; i++) {
            if (auditors[i] == address(0)) continue;
            uint256 s = slot(T_AUDITOR, addrKey(auditors[i]), 2);
            uint256 v = get(s);
            v = add ? cadd(v, 1) : satSub(v, 1);
            set(s, v);
        }
    }

    /// `penalize`: `auditorPenaltyBps` of an auditor's stake to the treasury.
    function _penalize(address auditor) internal {
        uint256 s = slot(T_AUDITOR, addrKey(auditor), 0);
        uint256 stake = get(s);
        uint256 amount = bpsOf(stake, _p().auditorPenaltyBps);
        if (amount == 0) return;
        set(s, stake - amount);
        _payTreasury(SRC_AUDITOR_PENALTY, auditor, amount);
        if (_logs()) emit IGpuMarket.AuditorPenalized(auditor, amount);
    }

    /// Penalises the seated auditors of an undecided round who did not reveal.
    function _penalizeSilent(Round memory r) internal {
        for (uint256 i; i < 3; i++) {
            if (r.auditors[i] != address(0) && !_revealed(r, i)) _penalize(r.auditors[i]);
        }
    }

    /// Penalises the seated auditors of a decided round outside its majority `seats[..n]`.
    function _penalizeOutside(Round memory r, uint256[3] memory seats, uint256 n) internal {
        for (uint256 i; i < 3; i++) {
            if (!_inSeats(seats, n, i) && r.auditors[i] != address(0)) _penalize(r.auditors[i]);
        }
    }

    /// `commit` (machine verification or report round).
    function _commit(address who, uint256 tag, bytes32 key, bytes32 c) internal {
        if (tag == T_ROUND_MACHINE) {
            _machine(key);
        } else {
            uint64 id = sat64(uint256(key));
            (bool exists,) = _loadReport(id);
            if (!exists) revert IGpuMarket.UnknownReport(id);
        }
        Round memory r = _loadRound(tag, key);
        if (r.phase != P_COMMIT || blockNow() > r.commitDeadline) {
            revert IGpuMarket.WrongPhase(IGpuMarket.RoundPhase(r.phase));
        }
        (bool seated, uint256 i) = _seat(r, who);
        if (!seated) revert IGpuMarket.NotAssigned();
        if (r.commitments[i] != bytes32(0)) revert IGpuMarket.AlreadyCommitted();
        if (c == bytes32(0)) revert IGpuMarket.CommitmentMismatch();
        r.commitments[i] = c;
        if (_committed(r) == 3) {
            r.phase = P_REVEAL;
            r.revealDeadline = blockNow() + _p().revealWindowBlocks;
            if (tag == T_ROUND_MACHINE) {
                Machine memory m = _machine(key);
                _schedule(r.revealDeadline, I_REVEAL_END, m.index);
            } else {
                _schedule(r.revealDeadline, I_REPORT_REVEAL_END, sat64(uint256(key)));
            }
        }
        _storeRound(r);
        if (_logs()) {
            if (tag == T_ROUND_MACHINE) emit IGpuMarket.VerificationCommitted(key, who);
            else emit IGpuMarket.ReportCommitted(uint256(key), who);
        }
    }

    /// `reveal_verification`.
    function _revealVerification(
        address who,
        bytes32 id,
        IGpuMarket.MachineSpec memory spec,
        uint32 calcPoint,
        bytes32 salt
    ) internal {
        Machine memory m = _machine(id);
        Round memory r = _loadRound(T_ROUND_MACHINE, id);
        if (r.phase != P_REVEAL || blockNow() > r.revealDeadline) {
            revert IGpuMarket.WrongPhase(IGpuMarket.RoundPhase(r.phase));
        }
        (bool seated, uint256 i) = _seat(r, who);
        if (!seated) revert IGpuMarket.NotAssigned();
        if (r.commitments[i] == bytes32(0) || _revealed(r, i)) revert IGpuMarket.CommitmentMismatch();
        if (keccak256(abi.encode(id, who, spec, calcPoint, salt)) != r.commitments[i]) {
            revert IGpuMarket.CommitmentMismatch();
        }
        bool matches = _specEquals(m, spec) && _withinTolerance(m, calcPoint);
        uint256 w = 1;
        if (matches) w |= 2;
        w |= uint256(calcPoint) << 8;
        r.reveals[i] = w;
        bool all = _allRevealed(r);
        if (_logs()) emit IGpuMarket.VerificationRevealed(id, who, matches, calcPoint);
        if (all) _finishVerification(m, r);
        _storeRound(r);
        _storeMachine(m);
    }

    /// `reference_calc_point`: the table's calc point per GPU for the machine's model.
    function _referenceCalcPoint(Machine memory m) internal view returns (uint32) {
        (bool found, uint32 calcPoint,) = _gpuModel(m.model);
        if (!found) revert IGpuMarket.UnknownGpuModel(m.model);
        return calcPoint;
    }

    /// `within_tolerance`.
    function _withinTolerance(Machine memory m, uint32 measured) internal view returns (bool) {
        uint256 ref = _referenceCalcPoint(m);
        uint256 gap = ref > measured ? ref - measured : measured - ref;
        return measured > 0 && gap * 10_000 <= ref * _p().calcPointToleranceBps;
    }

    /// `finish_verification`: decides a verification round from its reveals.
    function _finishVerification(Machine memory m, Round memory r) internal {
        // seats[k] for k < nSeats: the majority's positions among the auditors.
        (bool approve, uint256[3] memory seats, uint256 nSeats) = _majority(r);
        // Approved: the calc point is the table's, whatever each auditor measured.
        uint32 calcPoint = approve ? _referenceCalcPoint(m) : 0;
        r.phase = P_DONE;
        _assign(r.auditors, false);
        if (nSeats == 0) {
            // No agreement: those who did not reveal are penalised; new auditors are drawn.
            _penalizeSilent(r);
            uint32 attempt = r.attempt + 1;
            if (_logs()) emit IGpuMarket.VerificationReassigned(m.id, attempt);
            _storeRound(r);
            _startRound(T_ROUND_MACHINE, m.id, attempt, I_DRAW, m.index);
            _loadRoundInto(r, T_ROUND_MACHINE, m.id);
            return;
        }
        _penalizeOutside(r, seats, nSeats);
        if (approve) {
            _approveMachine(m, r, seats, nSeats, calcPoint);
        } else {
            uint256 slashed = bpsOf(m.stake, _p().rejectSlashBps);
            uint256 back = m.stake - slashed;
            m.stake = 0;
            m.status = S_REJECTED;
            addG(G_TOTAL_GPUS, m.gpus, true);
            _payTreasury(SRC_REJECTED_MACHINE, m.owner, slashed);
            _pay(m.owner, back);
            if (_logs()) emit IGpuMarket.MachineRejected(m.id, slashed);
        }
    }

    function _approveMachine(Machine memory m, Round memory r, uint256[3] memory seats, uint256 nSeats, uint32 calcPoint)
        internal
    {
        uint64 now_ = blockNow();
        m.status = S_ONLINE;
        m.calcPoint = calcPoint;
        m.onlineSince = now_;
        m.lastHeartbeat = now_;
        m.checkAt = now_ + _p().heartbeatTimeoutBlocks;
        address[3] memory verifiers;
        for (uint256 k; k < nSeats; k++) {
            verifiers[k] = r.auditors[seats[k]];
        }
        m.verifiers = verifiers;
        _schedule(m.checkAt, I_HEARTBEAT_CHECK, m.index);
        _scheduleChallengeCheck(m);
        addG(G_ONLINE_GPUS, m.gpus, false);
        _updatePool();
        _regrade(m);
        uint256 p = _price(m);
        if (_logs()) emit IGpuMarket.MachineVerified(m.id, calcPoint, p);
    }

    function _inSeats(uint256[3] memory seats, uint256 n, uint256 i) internal pure returns (bool) {
        for (uint256 k; k < n; k++) {
            if (seats[k] == i) return true;
        }
        return false;
    }
}
