// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../../src/interfaces/IGpuMarket.sol";
import {MarketRewards} from "./MarketRewards.sol";
import {Machine, Rental} from "./MarketRecords.sol";
import {
    overflow, cadd, cmul, tryMul, cadd64, sat64, satSub, min, max64, mulDiv, bpsOf
} from "../common/CheckedMath.sol";
import {slot, numKey, get, set, g, setG, addG} from "../common/StoreLib.sol";
import {blockNow} from "../common/Host.sol";

// Rentals (`market/rentals.rs`): prices and quotes, renting (for oneself or a beneficiary),
// extensions as priced segments, and ending with an exact refund.

abstract contract MarketRentals is MarketRewards {
    /// Arguments of `rent` (kept in memory: too many for the stack otherwise).
    struct RentArgs {
        address who;
        uint256 value;
        bytes32 id;
        uint32 gpus;
        uint64 blocks;
        address beneficiary;
    }

    /// `tier_gpus`: the GPU count that selects the burn tier.
    function _tierGpus() internal view returns (uint64) {
        return sat64(g(_p().burnTierBasisRegistered ? G_TOTAL_GPUS : G_ONLINE_GPUS));
    }

    function _standardPrice(Machine memory m) internal view returns (uint256) {
        return mulDiv(_p().standardPricePerGpuBlock, m.calcPoint, _p().standardCalcPoint);
    }

    function _priceFloor(Machine memory m) internal view returns (uint256) {
        return bpsOf(_standardPrice(m), _p().minPriceBps);
    }

    /// `price`: the owner's price (never below the floor) or the standard price.
    function _price(Machine memory m) internal view returns (uint256) {
        if (m.customPrice != 0) {
            uint256 floor = _priceFloor(m);
            return m.customPrice > floor ? m.customPrice : floor;
        }
        return _standardPrice(m);
    }

    function _quote(Machine memory m, uint32 gpus, uint64 blocks) internal view returns (uint256) {
        uint256 p = _price(m);
        (bool ok, uint256 v) = tryMul(p, gpus);
        if (ok) (ok, v) = tryMul(v, blocks);
        if (!ok) overflow();
        return v;
    }

    function _checkDuration(uint64 blocks, uint64 total) internal view {
        uint64 unit = _p().rentUnitBlocks;
        uint64 max = _p().maxRentBlocks;
        if (blocks == 0 || blocks % unit != 0 || total > max) revert IGpuMarket.InvalidDuration(blocks, unit, max);
    }

    /// `rent`: returns the rental id.
    function _rent(RentArgs memory a) internal returns (uint64 rid) {
        Machine memory m = _machine(a.id);
        if (m.status != S_ONLINE) _badStatus(m);
        if (a.who == m.owner || a.beneficiary == m.owner) revert IGpuMarket.OwnMachine(a.id);
        _checkDuration(a.blocks, a.blocks);
        uint32 available = m.gpus - (m.rented < m.gpus ? m.rented : m.gpus);
        if (a.gpus == 0 || a.gpus > available) revert IGpuMarket.NotEnoughGpus(a.gpus, available);
        uint256 cost = _quote(m, a.gpus, a.blocks);
        if (a.value < cost) revert IGpuMarket.InsufficientPayment(cost, a.value);
        _settle(m);
        uint16 burnBps = _burnBps(_tierGpus());
        rid = sat64(g(G_RENTALS)) + 1;
        setG(G_RENTALS, rid);
        Rental memory r = _newRental(rid, a.id, a.who);
        r.beneficiary = a.beneficiary;
        r.gpus = a.gpus;
        r.burnBps = burnBps;
        r.status = RS_ACTIVE;
        r.start = blockNow();
        r.end = cadd64(blockNow(), a.blocks);
        r.paid = cost;
        r.rewardSnapshot = m.rewardPerGpu;
        r.queueIndex = uint32(_scheduleAt(r.end, I_RENTAL_END, rid));
        _listRental(r);
        _storeRental(r);
        m.rented += a.gpus;
        m.rentEnd = max64(m.rentEnd, r.end);
        m.lastRenter = a.beneficiary;
        _storeMachine(m);
        addG(G_RENTED_GPUS, a.gpus, false);
        _pay(a.who, a.value - cost);
        if (_logs()) {
            emit IGpuMarket.Rented(rid, a.id, a.who, a.gpus, r.start, r.end, cost, burnBps);
        }
    }

    /// `active_rental_of`.
    function _activeRentalOf(address who, uint256 id) internal view returns (Rental memory r) {
        r = _rental(id);
        if (r.renter != who) revert IGpuMarket.NotRenter(id);
        if (r.status != RS_ACTIVE || blockNow() >= r.end) revert IGpuMarket.RentalNotActive(id);
    }

    /// `extend`.
    function _extend(address who, uint256 value, uint256 id, uint64 blocks) internal {
        Rental memory r = _activeRentalOf(who, id);
        Machine memory m = _machine(r.machine);
        if (m.status != S_ONLINE) _badStatus(m);
        uint64 total = uint64(satSub(cadd64(r.end, blocks), blockNow()));
        _checkDuration(blocks, total);
        if (r.extensions >= MAX_RENTAL_EXTENSIONS) {
            revert IGpuMarket.TooManyExtensions(id, MAX_RENTAL_EXTENSIONS);
        }
        uint256 rate = cmul(_price(m), r.gpus);
        uint256 cost = cmul(rate, blocks);
        if (value < cost) revert IGpuMarket.InsufficientPayment(cost, value);
        bytes32 key = numKey(r.id);
        if (r.extensions == 0) {
            uint256 firstRate = r.paid / (r.end - r.start);
            set(slot(T_RENTAL_SEGMENT, key, 0), r.end);
            set(slot(T_RENTAL_SEGMENT, key, 1), firstRate);
        }
        uint64 newEnd = cadd64(r.end, blocks);
        uint256 j = uint256(r.extensions) + 1;
        set(slot(T_RENTAL_SEGMENT, key, 2 * j), newEnd);
        set(slot(T_RENTAL_SEGMENT, key, 2 * j + 1), rate);
        r.extensions += 1;
        _unscheduleRental(r.end, r.queueIndex, r.id);
        r.end = newEnd;
        r.queueIndex = uint32(_scheduleAt(r.end, I_RENTAL_END, r.id));
        r.paid = cadd(r.paid, cost);
        _storeRental(r);
        m.rentEnd = max64(m.rentEnd, r.end);
        _storeMachine(m);
        _pay(who, value - cost);
        if (_logs()) emit IGpuMarket.RentalExtended(id, r.end, r.paid);
    }

    /// `close_rental`: ends a rental now (refund, burn, provider's share, bonus).
    function _closeRental(Rental memory r) internal {
        Machine memory m = _machine(r.machine);
        uint256 refund = _unusedRent(r);
        _unscheduleRental(r.end, r.queueIndex, r.id);
        r.queueIndex = 0;
        _unlistRental(r);
        uint256 used = r.paid - refund;
        uint256 target = bpsOf(used, r.burnBps);
        uint256 toProvider = used - target;
        // At the burn floor less (or nothing) is burned and the rest goes to the treasury
        // (source 8); the rental's bonus is capped by what was actually burned.
        uint256 burned = _burnCapped(target);
        _settle(m);
        r.status = RS_ENDED;
        if (blockNow() < r.end) r.end = blockNow();
        r.refunded = refund;
        r.burned = burned;
        _storeRental(r);
        m.rented = m.rented > r.gpus ? m.rented - r.gpus : 0;
        m.lastRentalEnd = blockNow();
        _payRentalBonus(m, r, burned);
        _storeMachine(m);
        addG(G_RENTED_GPUS, r.gpus, true);
        _pay(r.beneficiary, refund);
        _pay(m.owner, toProvider);
        if (_logs()) emit IGpuMarket.RentalEnded(r.id, refund, toProvider, burned);
        if (burned != 0) {
            uint256 total = addG(G_BURNED, burned, false);
            if (_logs()) emit IGpuMarket.RentBurned(r.id, burned, total);
        }
    }

    /// `list_rental`: adds `r` to its machine's list of active rentals.
    function _listRental(Rental memory r) internal {
        uint64 n = sat64(get(slot(T_MACHINE_RENTALS, r.machine, 0)));
        uint64 at = cadd64(n, 1);
        set(slot(T_MACHINE_RENTALS, r.machine, at), r.id);
        set(slot(T_MACHINE_RENTALS, r.machine, 0), at);
        if (at > type(uint32).max) overflow();
        r.machineSlot = uint32(at);
    }

    /// `unlist_rental`: removes `r` from its machine's list (the last entry takes its place).
    function _unlistRental(Rental memory r) internal {
        uint64 i = r.machineSlot;
        uint64 n = sat64(get(slot(T_MACHINE_RENTALS, r.machine, 0)));
        if (i == 0 || i > n || get(slot(T_MACHINE_RENTALS, r.machine, i)) != r.id) return;
        if (i != n) {
            uint256 last = get(slot(T_MACHINE_RENTALS, r.machine, n));
            set(slot(T_MACHINE_RENTALS, r.machine, i), last);
            (bool exists, Rental memory moved) = _loadRental(sat64(last));
            if (exists) {
                moved.machineSlot = r.machineSlot;
                _storeRental(moved);
            }
        }
        set(slot(T_MACHINE_RENTALS, r.machine, n), 0);
        set(slot(T_MACHINE_RENTALS, r.machine, 0), uint256(n) - 1);
        r.machineSlot = 0;
    }

    /// `active_rentals`: the machine's active rentals.
    function _activeRentals(bytes32 machine) internal view returns (uint64[] memory out) {
        uint64 n = sat64(get(slot(T_MACHINE_RENTALS, machine, 0)));
        out = new uint64[](n);
        for (uint256 i = 1; i <= n; i++) {
            out[i - 1] = sat64(get(slot(T_MACHINE_RENTALS, machine, i)));
        }
    }

    /// `unused_rent`: per segment, its unused blocks at its price.
    function _unusedRent(Rental memory r) internal view returns (uint256) {
        uint64 now_ = blockNow();
        if (r.extensions == 0) return _prorataRefund(r.paid, r.start, r.end, now_);
        bytes32 key = numKey(r.id);
        uint64 from = r.start;
        uint256 total;
        for (uint256 j; j <= r.extensions; j++) {
            uint64 end = sat64(get(slot(T_RENTAL_SEGMENT, key, 2 * j)));
            if (end > now_) {
                uint256 rate = get(slot(T_RENTAL_SEGMENT, key, 2 * j + 1));
                uint64 unused = end - max64(now_, from);
                (bool ok, uint256 v) = tryMul(rate, unused);
                if (!ok) overflow();
                total = cadd(total, v);
            }
            from = end;
        }
        return min(total, r.paid);
    }

    /// `end_rental_early`.
    function _endRentalEarly(address who, uint256 id) internal {
        Rental memory r = _activeRentalOf(who, id);
        _closeRental(r);
    }
}
