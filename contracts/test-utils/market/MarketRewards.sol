// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../../src/interfaces/IGpuMarket.sol";
import {MarketQueue} from "./MarketQueue.sol";
import {Machine, Rental} from "./MarketRecords.sol";
import {
    ACC_SCALE, cadd, csub, cmul64, sat64, satSub, min, mulDiv, bpsOf, splitImmediate, accrued
} from "../common/CheckedMath.sol";
import {slot, addrKey, get, g, setG} from "../common/StoreLib.sol";
import {blockNow} from "../common/Host.sol";
import {EmissionLib} from "../common/Emission.sol";
import {Account, storeAccount, addVesting, refresh} from "../common/RewardAccount.sol";

// Rewards (`market/rewards.rs`): the pool's accumulator, settlement of a machine's reward
// (owner, auditors, vesting), grades, and claims.

abstract contract MarketRewards is MarketQueue {
    /// `pool_update`: (acc, distributed, newly released) as of now, without writing.
    function _poolUpdate() internal view returns (uint256 acc, uint256 distributed, uint256 released) {
        acc = g(G_ACC);
        uint64 last = sat64(g(G_LAST_REWARD));
        distributed = g(G_DISTRIBUTED);
        uint64 now_ = blockNow();
        if (now_ <= last) return (acc, distributed, 0);
        uint256 totalGrade = g(G_TOTAL_GRADE);
        if (totalGrade == 0) return (acc, distributed, 0);
        // What the emission schedule releases over blocks last + 1 ..= now.
        (uint256 due,) = EmissionLib.emitted(_p().emission, last, now_, _p().rewardPool);
        uint256 left = satSub(_p().rewardPool, distributed);
        released = min(due, left);
        uint256 inc = mulDiv(released, ACC_SCALE, totalGrade);
        acc = cadd(acc, inc);
        distributed = cadd(distributed, released);
    }

    /// `current_acc`.
    function _currentAcc() internal view returns (uint256 acc) {
        (acc,,) = _poolUpdate();
    }

    /// `update_pool`: brings the accumulator up to now.
    function _updatePool() internal returns (uint256) {
        (uint256 acc, uint256 distributed, uint256 released) = _poolUpdate();
        if (released != 0) {
            setG(G_ACC, acc);
            setG(G_DISTRIBUTED, distributed);
        }
        uint64 last = sat64(g(G_LAST_REWARD));
        if (blockNow() > last) setG(G_LAST_REWARD, blockNow());
        return acc;
    }

    function _pending(Machine memory m, uint256 acc) internal pure returns (uint256) {
        return satSub(accrued(m.grade, acc), m.debt);
    }

    /// `settle`: settles a machine's pending reward.
    function _settle(Machine memory m) internal {
        uint256 acc = _updatePool();
        uint256 amount = _pending(m, acc);
        m.debt = accrued(m.grade, acc);
        if (amount == 0) return;
        if (m.gpus > 0) {
            uint256 perGpu = mulDiv(amount, PER_GPU_SCALE, m.gpus);
            m.rewardPerGpu = cadd(m.rewardPerGpu, perGpu);
        }
        _payReward(m, amount);
    }

    /// `pay_rental_bonus`: the rented bonus of rental `r` as it ends, at most the rent it burned.
    function _payRentalBonus(Machine memory m, Rental memory r, uint256 burned) internal {
        uint256 perGpu = satSub(m.rewardPerGpu, r.rewardSnapshot);
        uint256 earned = mulDiv(perGpu, r.gpus, PER_GPU_SCALE);
        uint256 bonus = bpsOf(earned, _p().rentedBonusBps);
        uint256 distributed = g(G_DISTRIBUTED);
        uint256 left = satSub(_p().rewardPool, distributed);
        uint256 paid = min(min(bonus, burned), left);
        if (bonus == 0) return;
        setG(G_DISTRIBUTED, cadd(distributed, paid));
        if (_logs()) emit IGpuMarket.RentedBonusPaid(m.id, r.id, bonus, paid);
        _payReward(m, paid);
    }

    /// `pay_reward`: the verifiers' share at once, the owner's split into an immediate part and
    /// a vesting tranche.
    function _payReward(Machine memory m, uint256 amount) internal {
        if (amount == 0) return;
        m.earned = cadd(m.earned, amount);
        uint256 toAuditors = _creditAuditors(m.verifiers, amount, _p().auditorRewardBps);
        uint256 ownerAmount = amount - toAuditors;
        (uint256 immediate, uint256 vesting) = splitImmediate(ownerAmount, _p().immediateBps);
        Account memory acct = _loadAccount(m.owner);
        acct.claimable = cadd(acct.claimable, immediate);
        uint64 epochBlocks = _p().epochBlocks;
        uint64 epoch = blockNow() / epochBlocks;
        uint64 start = cmul64(uint256(epoch) + 1, epochBlocks);
        addVesting(acct, start, vesting);
        storeAccount(acct);
        if (_logs()) emit IGpuMarket.RewardSettled(m.id, m.owner, immediate, vesting, toAuditors);
    }

    /// `regrade`: recomputes a machine's grade after a change (call after `settle`).
    function _regrade(Machine memory m) internal {
        uint256 next = m.status == S_ONLINE ? _gradeOf(m.calcPoint, m.gpus) : 0;
        if (next == m.grade) return;
        _onGradeChange(m.id, next);
        uint256 total = g(G_TOTAL_GRADE);
        total = cadd(csub(total, m.grade), next);
        setG(G_TOTAL_GRADE, total);
        uint256 acc = g(G_ACC);
        m.grade = next;
        m.debt = accrued(next, acc);
    }

    /// `owner_machines`: machines registered by `owner`, in registration order.
    function _ownerMachines(address owner) internal view returns (bytes32[] memory ids) {
        bytes32 key = addrKey(owner);
        uint64 n = sat64(get(slot(T_OWNER_MACHINES, key, 0)));
        ids = new bytes32[](n);
        for (uint256 i; i < n; i++) {
            ids[i] = bytes32(get(slot(T_OWNER_MACHINES, key, i + 1)));
        }
    }

    /// `rewards_of`.
    function _rewardsOf(address who) internal view returns (IGpuMarket.Rewards memory out) {
        Account memory acct = _loadAccount(who);
        uint256 vested = refresh(acct, _p().vestingBlocks);
        uint256 vestedUnclaimed = satSub(vested, acct.withdrawnVested);
        uint256 claimable = cadd(acct.claimable, vestedUnclaimed);
        uint256 vesting = satSub(acct.totalVesting, vested);
        uint256 acc = _currentAcc();
        bytes32[] memory ids = _ownerMachines(who);
        for (uint256 k; k < ids.length; k++) {
            Machine memory m = _machine(ids[k]);
            uint256 amount = _pending(m, acc);
            if (amount == 0) continue;
            uint256 auditors;
            for (uint256 i; i < 3; i++) {
                if (m.verifiers[i] != address(0)) auditors++;
            }
            uint256 toAuditors = auditors == 0 ? 0 : bpsOf(amount, _p().auditorRewardBps) / auditors * auditors;
            (uint256 now_, uint256 later) = splitImmediate(amount - toAuditors, _p().immediateBps);
            claimable = cadd(claimable, now_);
            vesting = cadd(vesting, later);
        }
        out.claimable = claimable;
        out.vesting = vesting;
        out.claimed = acct.claimed;
    }

    /// `claim`.
    function _claim(address who) internal returns (uint256 amount) {
        bytes32[] memory ids = _ownerMachines(who);
        for (uint256 k; k < ids.length; k++) {
            Machine memory m = _machine(ids[k]);
            if (m.grade != 0) {
                _settle(m);
                _storeMachine(m);
            }
        }
        Account memory acct = _loadAccount(who);
        uint256 vested = refresh(acct, _p().vestingBlocks);
        amount = cadd(acct.claimable, satSub(vested, acct.withdrawnVested));
        if (amount == 0) revert IGpuMarket.NothingToClaim();
        acct.claimable = 0;
        acct.withdrawnVested = vested;
        acct.claimed = cadd(acct.claimed, amount);
        storeAccount(acct);
        _pay(who, amount);
        if (_logs()) emit IGpuMarket.RewardsClaimed(who, amount);
    }

    /// `credit_auditors` (and `credit_verifiers` with a machine's verifiers): `bps` of `amount`
    /// in equal whole-wei shares to the non-zero `auditors`; returns what was credited.
    function _creditAuditors(address[3] memory auditors, uint256 amount, uint16 bps) internal returns (uint256) {
        address[] memory list = new address[](3);
        uint256 n;
        for (uint256 i; i < 3; i++) {
            if (auditors[i] != address(0)) list[n++] = auditors[i];
        }
        return _creditList(list, n, amount, bps);
    }

    function _creditList(address[] memory list, uint256 n, uint256 amount, uint16 bps) internal returns (uint256) {
        if (n == 0) return 0;
        uint256 each = bpsOf(amount, bps) / n;
        for (uint256 i; i < n; i++) {
            Account memory acct = _loadAccount(list[i]);
            acct.claimable = cadd(acct.claimable, each);
            storeAccount(acct);
        }
        return each * n;
    }
}
