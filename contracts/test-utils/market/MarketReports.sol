// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../../src/interfaces/IGpuMarket.sol";
import {MarketLiveness} from "./MarketLiveness.sol";
import {Machine, Round, Rental, Report, Account} from "./MarketRecords.sol";

// Fault reports and the decision of report rounds (`market/reports.rs`).

abstract contract MarketReports is MarketLiveness {
    /// `report_fault`: returns the report id.
    function _reportFault(address who, uint256 value, uint256 rentalId) internal returns (uint64 id) {
        Rental memory r = _rental(rentalId);
        if (r.renter != who && r.beneficiary != who) revert IGpuMarket.NotRenter(rentalId);
        if (r.status != RS_ACTIVE || _now() >= r.end) revert IGpuMarket.RentalNotActive(rentalId);
        uint256 open = _get(_slot(T_RENTAL_REPORT, _numKey(r.id), 0));
        if (open != 0) revert IGpuMarket.ReportPending(open);
        uint256 deposit = _p().reportDeposit;
        if (value != deposit) revert IGpuMarket.WrongStake(deposit, value);
        id = _sat64(_g(G_REPORTS)) + 1;
        _setG(G_REPORTS, id);
        Report memory rep = _newReport(id, r.id, who, r.machine);
        rep.deposit = value;
        _storeReport(rep);
        _set(_slot(T_RENTAL_REPORT, _numKey(r.id), 0), id);
        _startRound(T_ROUND_REPORT, _numKey(id), 1, I_REPORT_DRAW, id);
        if (_logs()) emit IGpuMarket.FaultReported(id, rentalId, who, value);
    }

    /// `reveal_report`.
    function _revealReport(address who, uint256 id, bool faulty, bytes32 salt) internal {
        if (id > type(uint64).max) revert IGpuMarket.UnknownReport(id);
        uint64 n = uint64(id);
        (bool exists, Report memory rep) = _loadReport(n);
        if (!exists) revert IGpuMarket.UnknownReport(id);
        Round memory r = _loadRound(T_ROUND_REPORT, _numKey(n));
        if (r.phase != P_REVEAL || _now() > r.revealDeadline) revert IGpuMarket.WrongPhase(IGpuMarket.RoundPhase(r.phase));
        (bool seated, uint256 i) = _seat(r, who);
        if (!seated) revert IGpuMarket.NotAssigned();
        if (r.commitments[i] == bytes32(0) || _revealed(r, i)) revert IGpuMarket.CommitmentMismatch();
        if (keccak256(abi.encode(id, who, faulty, salt)) != r.commitments[i]) revert IGpuMarket.CommitmentMismatch();
        r.reveals[i] = faulty ? 3 : 1;
        if (_logs()) emit IGpuMarket.ReportRevealed(id, who, faulty);
        if (_allRevealed(r)) _finishReport(rep, r);
        _storeRound(r);
        _storeReport(rep);
    }

    /// `finish_report`: 2 agreeing reveals decide; otherwise new auditors are drawn.
    function _finishReport(Report memory rep, Round memory r) internal {
        uint256[3] memory seats;
        uint256 nSeats;
        bool confirmed;
        for (uint256 i; i < 3; i++) {
            if (_revealed(r, i) && _verdict(r, i)) seats[nSeats++] = i;
        }
        if (nSeats >= 2) {
            confirmed = true;
        } else {
            nSeats = 0;
            for (uint256 i; i < 3; i++) {
                if (_revealed(r, i) && !_verdict(r, i)) seats[nSeats++] = i;
            }
        }
        r.phase = P_DONE;
        _assign(r.auditors, false);
        if (nSeats < 2) {
            for (uint256 i; i < 3; i++) {
                if (r.auditors[i] != address(0) && !_revealed(r, i)) _penalize(r.auditors[i]);
            }
            _storeRound(r);
            _startRound(T_ROUND_REPORT, _numKey(rep.id), r.attempt + 1, I_REPORT_DRAW, rep.id);
            _loadRoundInto(r, T_ROUND_REPORT, _numKey(rep.id));
            return;
        }
        for (uint256 i; i < 3; i++) {
            if (!_inSeats(seats, nSeats, i) && r.auditors[i] != address(0)) _penalize(r.auditors[i]);
        }
        rep.outcome = confirmed ? 1 : 2;
        address[] memory finders = new address[](nSeats);
        for (uint256 k; k < nSeats; k++) {
            finders[k] = r.auditors[seats[k]];
        }
        if (rep.reporter == _market()) {
            // A liveness challenge: a failure found is slashed at once and ends every rental.
            Machine memory m = _machine(rep.machine);
            if (m.challenge == rep.id) m.challenge = 0;
            if (confirmed) {
                _failMachineSoon(m, rep.id, finders);
            } else {
                _storeMachine(m);
            }
            if (_logs()) emit IGpuMarket.ReportResolved(rep.id, confirmed);
            return;
        }
        _set(_slot(T_RENTAL_REPORT, _numKey(rep.rental), 0), 0);
        if (confirmed) {
            _pay(rep.reporter, rep.deposit);
            Machine memory m = _machine(rep.machine);
            _failMachineSoon(m, rep.id, finders);
        } else {
            // A false report loses its deposit: the auditors' share to the majority, the rest
            // to the treasury.
            uint256 share = _bpsOf(rep.deposit, _p().slashAuditorsBps);
            uint256 each = share / nSeats;
            for (uint256 k; k < nSeats; k++) {
                Account memory acct = _loadAccount(r.auditors[seats[k]]);
                acct.claimable = _cadd(acct.claimable, each);
                _storeAccount(acct);
            }
            uint256 toTreasury = rep.deposit - each * nSeats;
            _pay(_p().treasury, toTreasury);
        }
        if (_logs()) emit IGpuMarket.ReportResolved(rep.id, confirmed);
    }
}
