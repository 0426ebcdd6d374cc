// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../../src/interfaces/IGpuMarket.sol";
import {MarketRentals} from "./MarketRentals.sol";
import {Machine} from "./MarketRecords.sol";
import {cadd, cmul, tryMul, sat64, satSub, satAdd64, max64, mulDiv, bpsOf} from "../common/CheckedMath.sol";
import {slot, numKey, addrKey, get, set, g, setG, addG} from "../common/StoreLib.sol";
import {blockNow} from "../common/Host.sol";

// Machines (`market/machines.rs`): registration, stake, price, going offline, slashing and
// exit; the machine and network views.

abstract contract MarketMachines is MarketRentals {
    /// `register`.
    function _register(address who, uint256 value, bytes32 id, IGpuMarket.MachineSpec memory spec) internal {
        if (
            id == bytes32(0) || spec.gpuCount == 0 || spec.gpuCount > 1_024 || spec.gpuMemoryGb == 0
                || spec.gpuModel == bytes32(0) || spec.machineKey == address(0)
        ) revert IGpuMarket.InvalidSpec();
        (bool found,, uint32 memoryGb) = _gpuModel(spec.gpuModel);
        if (!found) revert IGpuMarket.UnknownGpuModel(spec.gpuModel);
        if (memoryGb != spec.gpuMemoryGb) revert IGpuMarket.InvalidSpec();
        Machine memory existing;
        if (_loadMachineInto(existing, id)) revert IGpuMarket.MachineExists(id);
        uint256 required = cmul(_p().stakePerGpu, spec.gpuCount);
        if (value != required) revert IGpuMarket.WrongStake(required, value);
        uint64 index = sat64(g(G_MACHINES));
        Machine memory m = _newMachine(id, who);
        m.status = S_VERIFYING;
        m.model = spec.gpuModel;
        m.region = spec.region;
        m.gpus = spec.gpuCount;
        m.mem = spec.gpuMemoryGb;
        m.cpu = spec.cpuCores;
        m.ram = spec.ramGb;
        m.disk = spec.diskGb;
        m.machineKey = spec.machineKey;
        m.index = index;
        m.registeredAt = blockNow();
        m.stake = value;
        _storeMachine(m);
        set(slot(T_MACHINE_AT, numKey(index), 0), uint256(id));
        bytes32 ownerKey = addrKey(who);
        uint64 owned = sat64(get(slot(T_OWNER_MACHINES, ownerKey, 0)));
        set(slot(T_OWNER_MACHINES, ownerKey, uint256(owned) + 1), uint256(id));
        set(slot(T_OWNER_MACHINES, ownerKey, 0), uint256(owned) + 1);
        setG(G_MACHINES, uint256(index) + 1);
        addG(G_TOTAL_GPUS, spec.gpuCount, false);
        _startRound(T_ROUND_MACHINE, id, 1, I_DRAW, index);
        if (_logs()) emit IGpuMarket.MachineRegistered(id, who, spec.gpuCount, value);
    }

    /// `add_stake`.
    function _addStake(address who, uint256 value, bytes32 id) internal {
        Machine memory m = _owned(who, id);
        if (m.status == S_REJECTED || m.status == S_EXITED) _badStatus(m);
        m.stake = cadd(m.stake, value);
        _storeMachine(m);
        if (_logs()) emit IGpuMarket.StakeAdded(id, value, m.stake);
    }

    /// `set_price`.
    function _setPrice(address who, bytes32 id, uint256 p) internal {
        Machine memory m = _owned(who, id);
        if (m.status == S_REJECTED || m.status == S_EXITED) _badStatus(m);
        // Any quote must fit: price × max GPUs × max blocks.
        (bool ok, uint256 v) = tryMul(p, m.gpus);
        if (ok) (ok, v) = tryMul(v, _p().maxRentBlocks);
        if (!ok || v > type(uint128).max) revert IGpuMarket.PriceTooHigh();
        uint256 floor = _priceFloor(m);
        if (p != 0 && p < floor) revert IGpuMarket.PriceTooLow(floor);
        m.customPrice = p;
        _storeMachine(m);
        uint256 effective = _price(m);
        if (_logs()) emit IGpuMarket.PriceSet(id, effective);
    }

    /// `MAX_ENDPOINT_BYTES`: the longest endpoint a machine may publish.
    uint256 internal constant MAX_ENDPOINT_BYTES = 128;

    /// `set_endpoint`: publishes (or with `""` clears) where machine `id`'s agent answers.
    /// The node decodes the string leniently (bytes that are not UTF-8 become U+FFFD), which
    /// only ever turns a non-ASCII byte into other non-ASCII bytes: `InvalidEndpoint` either way.
    function _setEndpoint(address who, bytes32 id, bytes calldata e) internal {
        Machine memory m = _owned(who, id);
        if (m.status == S_REJECTED || m.status == S_EXITED) _badStatus(m);
        uint256 len = e.length;
        if (len > MAX_ENDPOINT_BYTES) revert IGpuMarket.InvalidEndpoint();
        for (uint256 i; i < len; i++) {
            // `u8::is_ascii_graphic`: '!' ..= '~'
            uint8 b = uint8(e[i]);
            if (b < 0x21 || b > 0x7e) revert IGpuMarket.InvalidEndpoint();
        }
        uint256 oldLen = sat64(get(slot(T_ENDPOINT, id, 0)));
        uint256 chunks = (len + 31) / 32;
        for (uint256 i; i < chunks; i++) {
            uint256 end = i * 32 + 32 < len ? i * 32 + 32 : len;
            // a shorter last chunk is left-aligned, zero-padded
            set(slot(T_ENDPOINT, id, i + 1), uint256(bytes32(e[i * 32:end])));
        }
        // Clear the chunks of a longer endpoint before (none is left behind).
        for (uint256 i = chunks; i < (oldLen + 31) / 32; i++) {
            set(slot(T_ENDPOINT, id, i + 1), 0);
        }
        set(slot(T_ENDPOINT, id, 0), len);
        if (_logs()) emit IGpuMarket.EndpointSet(id, string(e));
    }

    /// `endpoint_of`: machine `id`'s published endpoint (`""` if none). Only printable ASCII is
    /// ever stored, so the node's UTF-8 check of what it read (`""` if it failed) always passes.
    function _endpointOf(bytes32 id) internal view returns (string memory) {
        uint256 len = sat64(get(slot(T_ENDPOINT, id, 0)));
        if (len > MAX_ENDPOINT_BYTES) len = MAX_ENDPOINT_BYTES;
        bytes memory out = new bytes(len);
        for (uint256 i; i * 32 < len; i++) {
            uint256 word = get(slot(T_ENDPOINT, id, i + 1));
            // Whole words: `out` is allocated in whole words, and what a last chunk holds past
            // `len` is not returned (the ABI encoder pads with zeros).
            assembly {
                mstore(add(add(out, 32), mul(i, 32)), word)
            }
        }
        return string(out);
    }

    /// `take_offline`: takes an online machine offline for `why` (settling its rewards).
    function _takeOffline(Machine memory m, uint8 why) internal {
        _settle(m);
        m.status = S_OFFLINE;
        m.reason = why;
        m.offlineSince = blockNow();
        addG(G_ONLINE_GPUS, m.gpus, true);
        _regrade(m);
        _storeMachine(m);
        if (_logs()) emit IGpuMarket.MachineOffline(m.id, IGpuMarket.OfflineReason(why));
    }

    /// `go_offline`.
    function _goOffline(address who, bytes32 id) internal {
        Machine memory m = _owned(who, id);
        if (m.status != S_ONLINE) _badStatus(m);
        _takeOffline(m, m.rented > 0 ? R_OWNER_OFFLINE : R_IDLE);
    }

    /// `apply_offline_slash`: the graduated slash of an offline period; returns it.
    function _applyOfflineSlash(Machine memory m) internal returns (uint256 amount) {
        uint64 blocks = uint64(satSub(blockNow(), m.offlineSince));
        uint16 bps;
        if (m.reason == R_OWNER_OFFLINE) {
            bps = _slashBps(_p().ownerOfflineSlash, blocks);
        } else if (m.reason == R_UNREACHABLE) {
            bps = uint16(satSub(_slashBps(_p().unreachableSlash, blocks), m.slashedBps));
        }
        m.slashedBps = 0;
        amount = bpsOf(m.stake, bps);
        address[] memory renters = new address[](1);
        uint32[] memory weights = new uint32[](1);
        renters[0] = m.lastRenter;
        weights[0] = 1;
        _slashFound(m, amount, renters, weights, new address[](0));
    }

    /// `slash_found` (and `slash` with no finders): `slashRenterBps` to the renters by weight,
    /// `slashAuditorsBps` to the finders (or the verifiers), the rest to the treasury.
    function _slashFound(
        Machine memory m,
        uint256 amount,
        address[] memory renters,
        uint32[] memory weights,
        address[] memory finders
    ) internal {
        if (amount > m.stake) amount = m.stake;
        if (amount == 0) return;
        m.stake -= amount;
        uint256 toRenter;
        uint256 weight;
        for (uint256 i; i < renters.length; i++) {
            if (renters[i] != address(0) && weights[i] > 0) weight += weights[i];
        }
        if (weight > 0) {
            uint256 share = bpsOf(amount, _p().slashRenterBps);
            for (uint256 i; i < renters.length; i++) {
                if (renters[i] == address(0) || weights[i] == 0) continue;
                uint256 part = mulDiv(share, weights[i], weight);
                _pay(renters[i], part);
                toRenter += part;
            }
        }
        uint256 toAuditors = finders.length == 0
            ? _creditAuditors(m.verifiers, amount, _p().slashAuditorsBps)
            : _creditFinders(finders, amount, _p().slashAuditorsBps);
        uint256 toTreasury = amount - toRenter - toAuditors;
        _payTreasury(SRC_MACHINE_SLASH, m.owner, toTreasury);
        if (_logs()) emit IGpuMarket.Slashed(m.id, amount, toRenter, toAuditors, toTreasury);
    }

    function _creditFinders(address[] memory finders, uint256 amount, uint16 bps) internal returns (uint256) {
        address[] memory list = new address[](finders.length);
        uint256 n;
        for (uint256 i; i < finders.length; i++) {
            if (finders[i] != address(0)) list[n++] = finders[i];
        }
        return _creditList(list, n, amount, bps);
    }

    /// `exit`.
    function _exit(address who, bytes32 id) internal {
        Machine memory m = _owned(who, id);
        if (m.status != S_ONLINE && m.status != S_OFFLINE) _badStatus(m);
        if (m.rented > 0) revert IGpuMarket.HasActiveRental(id);
        if (m.challenge != 0) revert IGpuMarket.ChallengePending(m.challenge);
        uint64 allowed = satAdd64(m.onlineSince, _p().minOnlineBlocks);
        if (m.lastRentalEnd > 0) allowed = max64(allowed, satAdd64(m.lastRentalEnd, _p().exitCooldownBlocks));
        if (blockNow() < allowed) revert IGpuMarket.ExitTooEarly(allowed);
        _settle(m);
        if (m.status == S_OFFLINE) {
            _applyOfflineSlash(m);
        } else {
            addG(G_ONLINE_GPUS, m.gpus, true);
        }
        m.status = S_EXITED;
        _regrade(m);
        addG(G_TOTAL_GPUS, m.gpus, true);
        uint256 back = m.stake;
        m.stake = 0;
        _storeMachine(m);
        _pay(who, back);
        if (_logs()) emit IGpuMarket.MachineExited(id, who, back);
    }

    /// `machine_abi`.
    function _machineAbi(Machine memory m) internal view returns (IGpuMarket.Machine memory out) {
        out.id = m.id;
        out.owner = m.owner;
        out.spec = _specOf(m);
        out.status = IGpuMarket.MachineStatus(m.status);
        out.offlineReason = IGpuMarket.OfflineReason(m.reason);
        out.calcPoint = m.calcPoint;
        out.rentedGpus = m.rented;
        out.registeredAt = m.registeredAt;
        out.onlineSince = m.onlineSince;
        out.offlineSince = m.offlineSince;
        out.lastHeartbeat = m.lastHeartbeat;
        out.rentEnd = m.rentEnd;
        out.stake = m.stake;
        out.pricePerGpuBlock = (m.calcPoint == 0 && m.customPrice == 0) ? 0 : _price(m);
        out.totalEarned = m.earned;
        out.openChallenge = m.challenge;
    }

    /// `network_stats`.
    function _networkStats() internal view returns (IGpuMarket.NetworkStats memory s) {
        uint64 online = sat64(g(G_ONLINE_GPUS));
        (, uint256 distributed,) = _poolUpdate();
        s.totalGpus = sat64(g(G_TOTAL_GPUS));
        s.onlineGpus = online;
        s.rentedGpus = sat64(g(G_RENTED_GPUS));
        s.machines = sat64(g(G_MACHINES));
        s.burnRateBps = _burnBps(_tierGpus()); // the rate a rental would get now, as `burnRateBps()`
        s.totalBurned = g(G_BURNED);
        s.rewardsDistributed = distributed;
        s.rewardPoolRemaining = satSub(_p().rewardPool, distributed);
        s.feesBurned = g(G_FEES_BURNED);
    }

    // implemented by the committee (a later base)
    function _startRound(uint256 tag, bytes32 key, uint32 attempt, uint8 drawKind, uint64 id) internal virtual;
}
