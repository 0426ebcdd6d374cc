// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../../src/interfaces/IGpuMarket.sol";
import {MarketBase} from "./MarketBase.sol";
import {sat64} from "../common/CheckedMath.sol";
import {numKey, addrKey, toAddr, loadWords, storeWords} from "../common/StoreLib.sol";
import {Account, loadAccount} from "../common/RewardAccount.sol";

// Typed records over the node's storage layout (`crates/precompiles/src/records.rs`), bit for
// bit. A record is loaded whole into memory and written back slot by slot where it changed
// since it was loaded, exactly as the Rust `Slots`: a stale copy only overwrites what it
// changed itself, which the market's logic relies on in places.

/// A machine (`records::Machine`, 17 slots).
struct Machine {
    uint256[] orig;
    bytes32 id;
    address owner;
    uint8 status;
    uint8 reason;
    uint32 calcPoint;
    uint32 rented;
    bytes32 model;
    bytes32 region;
    uint32 gpus;
    uint32 mem;
    uint32 cpu;
    uint32 ram;
    uint32 disk;
    uint64 index;
    uint64 registeredAt;
    uint64 onlineSince;
    uint64 offlineSince;
    uint64 lastHeartbeat;
    uint64 rentEnd;
    uint64 checkAt;
    uint64 lastRentalEnd;
    uint256 stake;
    uint256 customPrice;
    uint256 earned;
    uint256 grade;
    uint256 debt;
    address lastRenter;
    address[3] verifiers;
    uint256 rewardPerGpu;
    address machineKey;
    uint64 challenge;
    uint64 challengeAt;
    uint16 slashedBps;
    bool reverify;
}

/// A commit–reveal round (`records::Round`, 11 slots).
struct Round {
    uint256 tag;
    bytes32 key;
    uint256[] orig;
    uint8 phase;
    uint32 attempt;
    uint64 drawAt;
    uint64 commitDeadline;
    uint64 revealDeadline;
    address[3] auditors;
    bytes32[3] commitments;
    /// Per auditor: bit 0 revealed, bit 1 verdict, bits 8.. calc point.
    uint256[3] reveals;
    uint64 snapshot;
}

/// A rental (`records::Rental`, 8 slots).
struct Rental {
    uint256[] orig;
    uint64 id;
    bytes32 machine;
    address renter;
    uint32 gpus;
    uint16 burnBps;
    uint8 status;
    uint64 start;
    uint64 end;
    uint256 paid;
    uint256 refunded;
    uint256 burned;
    address beneficiary;
    uint32 queueIndex;
    uint8 extensions;
    uint256 rewardSnapshot;
    uint32 machineSlot;
}

/// A fault report or liveness challenge (`records::Report`, 5 slots).
struct Report {
    uint256[] orig;
    uint64 id;
    uint64 rental;
    address reporter;
    uint256 deposit;
    uint8 outcome;
    bytes32 machine;
}

abstract contract MarketRecords is MarketBase {
    uint256 internal constant MACHINE_SLOTS = 17;
    uint256 internal constant MASK160 = (uint256(1) << 160) - 1;

    // =========================================================================================
    // Machine

    /// Loads machine `id` into `m` (overwriting it); false if it was never registered.
    function _loadMachineInto(Machine memory m, bytes32 id) internal view returns (bool) {
        uint256[] memory w = loadWords(T_MACHINE, id, MACHINE_SLOTS);
        m.orig = w;
        m.id = id;
        if (w[0] == 0) return false;
        m.owner = toAddr(w[0] & MASK160);
        m.status = uint8(w[0] >> 160);
        m.reason = uint8(w[0] >> 168);
        m.calcPoint = uint32(w[0] >> 176);
        m.rented = uint32(w[0] >> 208);
        m.model = bytes32(w[1]);
        m.region = bytes32(w[2]);
        m.gpus = uint32(w[3]);
        m.mem = uint32(w[3] >> 32);
        m.cpu = uint32(w[3] >> 64);
        m.ram = uint32(w[3] >> 96);
        m.disk = uint32(w[3] >> 128);
        m.index = uint64(w[3] >> 160);
        m.registeredAt = uint64(w[4]);
        m.onlineSince = uint64(w[4] >> 64);
        m.offlineSince = uint64(w[4] >> 128);
        m.lastHeartbeat = uint64(w[4] >> 192);
        m.rentEnd = uint64(w[5]);
        m.checkAt = uint64(w[5] >> 64);
        m.lastRentalEnd = uint64(w[5] >> 128);
        m.challengeAt = uint64(w[5] >> 192);
        m.stake = w[6];
        m.customPrice = w[7];
        m.earned = w[8];
        m.grade = w[9];
        m.debt = w[10];
        m.lastRenter = toAddr(w[11]);
        m.verifiers = [toAddr(w[12]), toAddr(w[13]), toAddr(w[14])];
        m.rewardPerGpu = w[15];
        m.machineKey = toAddr(w[16] & MASK160);
        m.challenge = uint64(w[16] >> 160);
        m.slashedBps = uint16(w[16] >> 224);
        m.reverify = (w[16] >> 240) & 1 == 1;
        return true;
    }

    /// `Machine::new`: a record not yet stored.
    function _newMachine(bytes32 id, address owner) internal pure returns (Machine memory m) {
        m.orig = new uint256[](MACHINE_SLOTS);
        m.id = id;
        m.owner = owner;
    }

    /// `Machine::store`.
    function _storeMachine(Machine memory m) internal {
        uint256[] memory w = new uint256[](MACHINE_SLOTS);
        w[0] = uint256(uint160(m.owner)) | (uint256(m.status) << 160) | (uint256(m.reason) << 168)
            | (uint256(m.calcPoint) << 176) | (uint256(m.rented) << 208);
        w[1] = uint256(m.model);
        w[2] = uint256(m.region);
        w[3] = uint256(m.gpus) | (uint256(m.mem) << 32) | (uint256(m.cpu) << 64) | (uint256(m.ram) << 96)
            | (uint256(m.disk) << 128) | (uint256(m.index) << 160);
        w[4] = uint256(m.registeredAt) | (uint256(m.onlineSince) << 64) | (uint256(m.offlineSince) << 128)
            | (uint256(m.lastHeartbeat) << 192);
        w[5] = uint256(m.rentEnd) | (uint256(m.checkAt) << 64) | (uint256(m.lastRentalEnd) << 128)
            | (uint256(m.challengeAt) << 192);
        w[6] = m.stake;
        w[7] = m.customPrice;
        w[8] = m.earned;
        w[9] = m.grade;
        w[10] = m.debt;
        w[11] = uint256(uint160(m.lastRenter));
        w[12] = uint256(uint160(m.verifiers[0]));
        w[13] = uint256(uint160(m.verifiers[1]));
        w[14] = uint256(uint160(m.verifiers[2]));
        w[15] = m.rewardPerGpu;
        w[16] = uint256(uint160(m.machineKey)) | (uint256(m.challenge) << 160) | (uint256(m.slashedBps) << 224)
            | ((m.reverify ? uint256(1) : 0) << 240);
        storeWords(T_MACHINE, m.id, m.orig, w);
    }

    /// `machine()`: the machine or `UnknownMachine`.
    function _machine(bytes32 id) internal view returns (Machine memory m) {
        if (!_loadMachineInto(m, id)) revert IGpuMarket.UnknownMachine(id);
    }

    /// `*m = machine(ctx, m.id)?`: reloads `m` in place.
    function _reloadMachine(Machine memory m) internal view {
        bytes32 id = m.id;
        if (!_loadMachineInto(m, id)) revert IGpuMarket.UnknownMachine(id);
    }

    /// `owned()`: the machine if `who` owns it.
    function _owned(address who, bytes32 id) internal view returns (Machine memory m) {
        m = _machine(id);
        if (m.owner != who) revert IGpuMarket.NotMachineOwner(id);
    }

    function _badStatus(Machine memory m) internal pure {
        revert IGpuMarket.BadMachineStatus(m.id, IGpuMarket.MachineStatus(m.status));
    }

    /// `Machine::spec` equals `spec` (field by field).
    function _specEquals(Machine memory m, IGpuMarket.MachineSpec memory s) internal pure returns (bool) {
        return s.gpuModel == m.model && s.gpuCount == m.gpus && s.gpuMemoryGb == m.mem && s.cpuCores == m.cpu
            && s.ramGb == m.ram && s.diskGb == m.disk && s.region == m.region && s.machineKey == m.machineKey;
    }

    function _specOf(Machine memory m) internal pure returns (IGpuMarket.MachineSpec memory s) {
        s.gpuModel = m.model;
        s.gpuCount = m.gpus;
        s.gpuMemoryGb = m.mem;
        s.cpuCores = m.cpu;
        s.ramGb = m.ram;
        s.diskGb = m.disk;
        s.region = m.region;
        s.machineKey = m.machineKey;
    }

    // =========================================================================================
    // Round

    function _loadRoundInto(Round memory r, uint256 tag, bytes32 key) internal view {
        uint256[] memory w = loadWords(tag, key, 11);
        r.tag = tag;
        r.key = key;
        r.orig = w;
        r.phase = uint8(w[0]);
        r.attempt = uint32(w[0] >> 8);
        r.drawAt = uint64(w[0] >> 40);
        r.commitDeadline = uint64(w[0] >> 104);
        r.revealDeadline = uint64(w[0] >> 168);
        r.auditors = [toAddr(w[1]), toAddr(w[2]), toAddr(w[3])];
        r.commitments = [bytes32(w[4]), bytes32(w[5]), bytes32(w[6])];
        r.reveals = [w[7], w[8], w[9]];
        r.snapshot = uint64(w[10]);
    }

    function _loadRound(uint256 tag, bytes32 key) internal view returns (Round memory r) {
        _loadRoundInto(r, tag, key);
    }

    function _storeRound(Round memory r) internal {
        uint256[] memory w = new uint256[](11);
        w[0] = uint256(r.phase) | (uint256(r.attempt) << 8) | (uint256(r.drawAt) << 40)
            | (uint256(r.commitDeadline) << 104) | (uint256(r.revealDeadline) << 168);
        for (uint256 i; i < 3; i++) {
            w[1 + i] = uint256(uint160(r.auditors[i]));
            w[4 + i] = uint256(r.commitments[i]);
            w[7 + i] = r.reveals[i];
        }
        w[10] = uint256(r.snapshot);
        storeWords(r.tag, r.key, r.orig, w);
    }

    /// `Round::seat`: position of `who` among the auditors (`found` false if none or zero).
    function _seat(Round memory r, address who) internal pure returns (bool found, uint256 i) {
        if (who == address(0)) return (false, 0);
        for (i = 0; i < 3; i++) {
            if (r.auditors[i] == who) return (true, i);
        }
        return (false, 0);
    }

    function _committed(Round memory r) internal pure returns (uint256 n) {
        for (uint256 i; i < 3; i++) {
            if (r.commitments[i] != bytes32(0)) n++;
        }
    }

    function _revealed(Round memory r, uint256 i) internal pure returns (bool) {
        return r.reveals[i] & 1 == 1;
    }

    function _verdict(Round memory r, uint256 i) internal pure returns (bool) {
        return (r.reveals[i] >> 1) & 1 == 1;
    }

    /// Whether every committed auditor revealed.
    function _allRevealed(Round memory r) internal pure returns (bool) {
        for (uint256 j; j < 3; j++) {
            if (r.commitments[j] != bytes32(0) && !_revealed(r, j)) return false;
        }
        return true;
    }

    /// The majority of a round's reveals (`finish_verification`, `finish_report`): the seats
    /// `seats[..n]` of at least 2 auditors who revealed the same `verdict`, a positive one
    /// first; `n` is 0 if there is none.
    function _majority(Round memory r) internal pure returns (bool verdict, uint256[3] memory seats, uint256 n) {
        for (uint256 i; i < 3; i++) {
            if (_revealed(r, i) && _verdict(r, i)) seats[n++] = i;
        }
        if (n >= 2) return (true, seats, n);
        n = 0;
        for (uint256 i; i < 3; i++) {
            if (_revealed(r, i) && !_verdict(r, i)) seats[n++] = i;
        }
        if (n < 2) n = 0;
    }

    function _roundAbi(Round memory r) internal pure returns (IGpuMarket.Round memory out) {
        out.phase = IGpuMarket.RoundPhase(r.phase);
        out.attempt = r.attempt;
        out.drawAt = r.drawAt;
        out.commitDeadline = r.commitDeadline;
        out.revealDeadline = r.revealDeadline;
        out.auditors = r.auditors;
    }

    // =========================================================================================
    // Rental

    /// Loads rental `id`; `exists` false if there is none.
    function _loadRental(uint64 id) internal view returns (bool exists, Rental memory r) {
        uint256[] memory w = loadWords(T_RENTAL, numKey(id), 8);
        r.orig = w;
        r.id = id;
        if (w[1] == 0) return (false, r);
        r.machine = bytes32(w[0]);
        r.renter = toAddr(w[1]);
        r.gpus = uint32(w[2]);
        r.burnBps = uint16(w[2] >> 32);
        r.status = uint8(w[2] >> 48);
        r.start = uint64(w[2] >> 56);
        r.end = uint64(w[2] >> 120);
        r.paid = w[3];
        r.refunded = w[4];
        r.burned = w[5];
        r.beneficiary = w[6] == 0 ? toAddr(w[1]) : toAddr(w[6]);
        r.queueIndex = uint32(w[2] >> 184);
        r.extensions = uint8(w[2] >> 216);
        r.rewardSnapshot = w[7];
        r.machineSlot = uint32(w[2] >> 224);
        return (true, r);
    }

    /// `Rental::new`.
    function _newRental(uint64 id, bytes32 machine, address renter) internal pure returns (Rental memory r) {
        r.orig = new uint256[](8);
        r.id = id;
        r.machine = machine;
        r.renter = renter;
        r.beneficiary = renter;
    }

    function _storeRental(Rental memory r) internal {
        uint256[] memory w = new uint256[](8);
        w[0] = uint256(r.machine);
        w[1] = uint256(uint160(r.renter));
        w[6] = uint256(uint160(r.beneficiary));
        w[2] = uint256(r.gpus) | (uint256(r.burnBps) << 32) | (uint256(r.status) << 48) | (uint256(r.start) << 56)
            | (uint256(r.end) << 120) | (uint256(r.queueIndex) << 184) | (uint256(r.extensions) << 216)
            | (uint256(r.machineSlot) << 224);
        w[3] = r.paid;
        w[4] = r.refunded;
        w[5] = r.burned;
        w[7] = r.rewardSnapshot;
        storeWords(T_RENTAL, numKey(r.id), r.orig, w);
    }

    /// `rental()`: the rental or `UnknownRental`.
    function _rental(uint256 id) internal view returns (Rental memory r) {
        if (id > type(uint64).max) revert IGpuMarket.UnknownRental(id);
        bool exists;
        (exists, r) = _loadRental(uint64(id));
        if (!exists) revert IGpuMarket.UnknownRental(id);
    }

    function _rentalAbi(Rental memory r) internal pure returns (IGpuMarket.Rental memory out) {
        out.id = r.id;
        out.machineId = r.machine;
        out.renter = r.renter;
        out.gpus = r.gpus;
        out.burnBps = r.burnBps;
        out.status = IGpuMarket.RentalStatus(r.status);
        out.start = r.start;
        out.end = r.end;
        out.paid = r.paid;
        out.refunded = r.refunded;
        out.burned = r.burned;
        out.beneficiary = r.beneficiary;
    }

    // =========================================================================================
    // Report

    function _loadReport(uint64 id) internal view returns (bool exists, Report memory rep) {
        uint256[] memory w = loadWords(T_REPORT, numKey(id), 5);
        rep.orig = w;
        rep.id = id;
        if (w[1] == 0) return (false, rep);
        rep.rental = sat64(w[0]);
        rep.reporter = toAddr(w[1]);
        rep.deposit = w[2];
        rep.outcome = w[3] > type(uint8).max ? type(uint8).max : uint8(w[3]);
        rep.machine = bytes32(w[4]);
        return (true, rep);
    }

    function _newReport(uint64 id, uint64 rental, address reporter, bytes32 machine)
        internal
        pure
        returns (Report memory rep)
    {
        rep.orig = new uint256[](5);
        rep.id = id;
        rep.rental = rental;
        rep.reporter = reporter;
        rep.machine = machine;
    }

    function _storeReport(Report memory rep) internal {
        uint256[] memory w = new uint256[](5);
        w[0] = uint256(rep.rental);
        w[1] = uint256(uint160(rep.reporter));
        w[2] = rep.deposit;
        w[3] = uint256(rep.outcome);
        w[4] = uint256(rep.machine);
        storeWords(T_REPORT, numKey(rep.id), rep.orig, w);
    }

    // =========================================================================================
    // Account (`records::Account`, shared with mining: `../common/RewardAccount.sol`)

    /// `Account::load`: the rewards of `who`.
    function _loadAccount(address who) internal view returns (Account memory) {
        return loadAccount(T_ACCOUNT, addrKey(who));
    }
}
