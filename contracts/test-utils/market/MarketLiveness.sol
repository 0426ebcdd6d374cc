// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../../src/interfaces/IGpuMarket.sol";
import {MarketCommittee} from "./MarketCommittee.sol";
import {Machine, Round, Rental, Report} from "./MarketRecords.sol";
import {cmul, cadd64, sat64, satSub, satAdd64, bpsOf} from "../common/CheckedMath.sol";
import {slot, numKey, get, g, setG, addG} from "../common/StoreLib.sol";
import {SECP256K1_HALF_N, blockNow} from "../common/Host.sol";

// Liveness (`market/liveness.rs`): heartbeats signed by the machine's key over a recent block,
// the heartbeat timeout, liveness challenges, and what happens when a failure is found.

abstract contract MarketLiveness is MarketCommittee {
    /// `heartbeat_digest`: keccak256("DBC machine heartbeat" ‖ market ‖ id ‖ number (8 bytes) ‖
    /// hash).
    function _heartbeatDigest(bytes32 id, uint64 number, bytes32 hash) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked("DBC machine heartbeat", _market(), id, number, hash));
    }

    /// `recover_signer`: the signer of `sig` over `digest` in the one canonical encoding of
    /// `dbc_primitives::pos::canonical_signature` (65 bytes r ‖ s ‖ v, v 27 or 28, 0 < r,
    /// 0 < s ≤ n/2); address(0) otherwise.
    function _recoverSigner(bytes32 digest, bytes memory sig) internal pure returns (address) {
        if (sig.length != 65) return address(0);
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
        if (v != 27 && v != 28) return address(0);
        if (uint256(s) > SECP256K1_HALF_N || r == bytes32(0) || s == bytes32(0)) return address(0);
        return ecrecover(digest, v, r, s);
    }

    /// `heartbeat`.
    function _heartbeat(bytes32 id, uint64 number, bytes memory sig) internal {
        Machine memory m = _machine(id);
        uint64 now_ = blockNow();
        if (number >= now_ || now_ - number > HEARTBEAT_MAX_AGE) {
            revert IGpuMarket.StaleHeartbeat(number, HEARTBEAT_MAX_AGE);
        }
        bytes32 hash = _blockHash(number);
        bytes32 digest = _heartbeatDigest(id, number, hash);
        if (hash == bytes32(0) || _recoverSigner(digest, sig) != m.machineKey) {
            revert IGpuMarket.BadHeartbeatSignature();
        }
        if (m.status == S_ONLINE) {
            m.lastHeartbeat = now_;
            if (m.checkAt <= now_) {
                m.checkAt = now_ + _p().heartbeatTimeoutBlocks;
                _schedule(m.checkAt, I_HEARTBEAT_CHECK, m.index);
            }
            _storeMachine(m);
            if (_logs()) emit IGpuMarket.Heartbeat(id);
        } else if (m.status == S_OFFLINE) {
            _comeBack(m);
        } else {
            _badStatus(m);
        }
    }

    /// The offline branch of `heartbeat`: slashed for the offline time, back online (or, found
    /// failing by auditors, to a new verification).
    function _comeBack(Machine memory m) internal {
        uint64 now_ = blockNow();
        _settle(m);
        uint64 offline = uint64(satSub(now_, m.offlineSince));
        uint256 slashed = _applyOfflineSlash(m);
        uint256 required = cmul(_p().stakePerGpu, m.gpus);
        if (m.stake < required) revert IGpuMarket.StakeTooLow(required, m.stake);
        if (m.reverify) {
            m.reverify = false;
            m.status = S_VERIFYING;
            m.reason = R_NONE;
            m.offlineSince = 0;
            _storeMachine(m);
            _startRound(T_ROUND_MACHINE, m.id, 1, I_DRAW, m.index);
            if (_logs()) emit IGpuMarket.MachineReverifying(m.id, slashed);
            return;
        }
        m.status = S_ONLINE;
        m.reason = R_NONE;
        m.offlineSince = 0;
        m.lastHeartbeat = now_;
        if (m.checkAt <= now_) {
            m.checkAt = now_ + _p().heartbeatTimeoutBlocks;
            _schedule(m.checkAt, I_HEARTBEAT_CHECK, m.index);
        }
        _scheduleChallengeCheck(m);
        addG(G_ONLINE_GPUS, m.gpus, false);
        _regrade(m);
        _storeMachine(m);
        if (_logs()) emit IGpuMarket.MachineOnline(m.id, offline, slashed);
    }

    /// `fail_machine`: every active rental ends with its refund, the machine is slashed the
    /// first unreachable tier at once and goes offline as unreachable. `m` is stored and
    /// reloaded.
    function _failMachine(Machine memory m, address[] memory finders) internal {
        bool reverify = finders.length != 0;
        if (
            (m.status != S_ONLINE && m.status != S_OFFLINE) || (m.status == S_OFFLINE && m.reason == R_UNREACHABLE)
        ) {
            m.reverify = m.reverify || (reverify && m.status == S_OFFLINE);
            _storeMachine(m);
            return;
        }
        _storeMachine(m);
        uint64[] memory ids = _activeRentals(m.id);
        address[] memory renters = new address[](ids.length);
        uint32[] memory weights = new uint32[](ids.length);
        uint256 n;
        for (uint256 k; k < ids.length; k++) {
            (bool exists, Rental memory r) = _loadRental(ids[k]);
            if (exists && r.status == RS_ACTIVE) {
                renters[n] = r.beneficiary;
                weights[n] = r.gpus;
                n++;
                _closeRental(r);
            }
        }
        assembly {
            mstore(renters, n)
            mstore(weights, n)
        }
        _reloadMachine(m);
        if (n > 0) m.lastRenter = renters[n - 1];
        if (m.status == S_ONLINE) {
            _takeOffline(m, R_UNREACHABLE);
        } else {
            m.reason = R_UNREACHABLE;
        }
        uint16 bps = _slashBps(_p().unreachableSlash, 0);
        uint256 amount = bpsOf(m.stake, bps);
        _slashFound(m, amount, renters, weights, finders);
        m.slashedBps = bps;
        m.reverify = m.reverify || reverify;
        _storeMachine(m);
    }

    /// `heartbeat_check`: the heartbeat timeout of a machine, due at `due`.
    function _heartbeatCheck(Machine memory m, uint64 due) internal {
        if (m.status != S_ONLINE || m.checkAt != due) return;
        uint64 deadline = satAdd64(m.lastHeartbeat, _p().heartbeatTimeoutBlocks);
        if (deadline > blockNow()) {
            m.checkAt = deadline;
            _storeMachine(m);
            _schedule(deadline, I_HEARTBEAT_CHECK, m.index);
            return;
        }
        m.checkAt = 0;
        if (m.rented > 0) {
            _failMachine(m, new address[](0));
        } else {
            _takeOffline(m, R_IDLE);
        }
    }

    /// `fail_machine_soon`: `fail_machine` now, or in the next block's hook when the machine
    /// has more than `INLINE_RENTAL_ENDS` active rentals.
    function _failMachineSoon(Machine memory m, uint64 report, address[] memory finders) internal {
        uint64 n = sat64(get(slot(T_MACHINE_RENTALS, m.id, 0)));
        if (n <= INLINE_RENTAL_ENDS) {
            _failMachine(m, finders);
            return;
        }
        _storeMachine(m);
        _schedule(blockNow() + 1, I_FAIL_MACHINE, report);
    }

    /// `report_finders`: the auditors of report `report`'s stored round who found a failure.
    function _reportFinders(uint64 report) internal view returns (address[] memory finders) {
        Round memory r = _loadRound(T_ROUND_REPORT, numKey(report));
        finders = new address[](3);
        uint256 n;
        for (uint256 i; i < 3; i++) {
            if (_revealed(r, i) && _verdict(r, i)) finders[n++] = r.auditors[i];
        }
        assembly {
            mstore(finders, n)
        }
    }

    /// `challenge_check`: with `challengeChanceBps` chance, opens a liveness challenge.
    function _challengeCheck(Machine memory m, uint64 due) internal {
        if (m.challengeAt != due) return;
        m.challengeAt = 0;
        if (m.status != S_ONLINE) {
            _storeMachine(m);
            return;
        }
        _scheduleChallengeCheck(m);
        if (m.challenge == 0) {
            bytes32 h = keccak256(abi.encodePacked(_randomness(), "liveness", m.id));
            if (uint256(h) % 10_000 < _p().challengeChanceBps) _openChallenge(m);
        }
        _storeMachine(m);
    }

    /// `open_challenge`: a report round with the market as reporter.
    function _openChallenge(Machine memory m) internal returns (uint64 id) {
        id = cadd64(sat64(g(G_REPORTS)), 1);
        setG(G_REPORTS, id);
        Report memory rep = _newReport(id, 0, _market(), m.id);
        _storeReport(rep);
        _startRound(T_ROUND_REPORT, numKey(id), 1, I_REPORT_DRAW, id);
        m.challenge = id;
        if (_logs()) emit IGpuMarket.LivenessChallenged(m.id, id);
    }
}
