// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../../src/interfaces/IGpuMarket.sol";
import {MarketLiveness} from "./MarketLiveness.sol";
import {Machine, Round, Rental, Report} from "./MarketRecords.sol";
import {cadd, sat64, bpsOf} from "../common/CheckedMath.sol";
import {slot, numKey, get, set, g, setG} from "../common/StoreLib.sol";
import {blockNow} from "../common/Host.sol";
import {Account, storeAccount} from "../common/RewardAccount.sol";

// Fault reports and the decision of report rounds (`market/reports.rs`).

abstract contract MarketReports is MarketLiveness {
    /// `report_fault`: returns the report id.
    function _reportFault(address who, uint256 value, uint256 rentalId) internal returns (uint64 id) {
        Rental memory r = _rental(rentalId);
        if (r.renter != who && r.beneficiary != who) revert IGpuMarket.NotRenter(rentalId);
        if (r.status != RS_ACTIVE || blockNow() >= r.end) revert IGpuMarket.RentalNotActive(rentalId);
        uint256 open = get(slot(T_RENTAL_REPORT, numKey(r.id), 0));
        if (open != 0) revert IGpuMarket.ReportPending(open);
        uint256 deposit = _p().reportDeposit;
        if (value != deposit) revert IGpuMarket.WrongStake(deposit, value);
        id = sat64(g(G_REPORTS)) + 1;
        setG(G_REPORTS, id);
        Report memory rep = _newReport(id, r.id, who, r.machine);
        rep.deposit = value;
        _storeReport(rep);
        set(slot(T_RENTAL_REPORT, numKey(r.id), 0), id);
        _startRound(T_ROUND_REPORT, numKey(id), 1, I_REPORT_DRAW, id);
        if (_logs()) emit IGpuMarket.FaultReported(id, rentalId, who, value);
    }

    /// `reveal_report`.
    function _revealReport(address who, uint256 id, bool faulty, bytes32 salt) internal {
        if (id > type(uint64).max) revert IGpuMarket.UnknownReport(id);
        uint64 n = uint64(id);
        (bool exists, Report memory rep) = _loadReport(n);
        if (!exists) revert IGpuMarket.UnknownReport(id);
        Round memory r = _loadRound(T_ROUND_REPORT, numKey(n));
        if (r.phase != P_REVEAL || blockNow() > r.revealDeadline) {
            revert IGpuMarket.WrongPhase(IGpuMarket.RoundPhase(r.phase));
        }
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
        (bool confirmed, uint256[3] memory seats, uint256 nSeats) = _majority(r);
        r.phase = P_DONE;
        _assign(r.auditors, false);
        if (nSeats == 0) {
            _penalizeSilent(r);
            _storeRound(r);
            _startRound(T_ROUND_REPORT, numKey(rep.id), r.attempt + 1, I_REPORT_DRAW, rep.id);
            _loadRoundInto(r, T_ROUND_REPORT, numKey(rep.id));
            return;
        }
        _penalizeOutside(r, seats, nSeats);
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
        set(slot(T_RENTAL_REPORT, numKey(rep.rental), 0), 0);
        if (confirmed) {
            _pay(rep.reporter, rep.deposit);
            Machine memory m = _machine(rep.machine);
            _failMachineSoon(m, rep.id, finders);
        } else {
            // A false report loses its deposit: the auditors' share to the majority, the rest
            // to the treasury.
            uint256 share = bpsOf(rep.deposit, _p().slashAuditorsBps);
            uint256 each = share / nSeats;
            for (uint256 k; k < nSeats; k++) {
                Account memory acct = _loadAccount(r.auditors[seats[k]]);
                acct.claimable = cadd(acct.claimable, each);
                storeAccount(acct);
            }
            uint256 toTreasury = rep.deposit - each * nSeats;
            _payTreasury(SRC_LOST_REPORT_DEPOSIT, rep.reporter, toTreasury);
        }
        if (_logs()) emit IGpuMarket.ReportResolved(rep.id, confirmed);
    }
}
