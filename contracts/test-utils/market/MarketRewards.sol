// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../../src/interfaces/IGpuMarket.sol";
import {MarketQueue} from "./MarketQueue.sol";
import {Machine, Rental, Account} from "./MarketRecords.sol";

// Rewards (`market/rewards.rs`): the pool's accumulator, settlement of a machine's reward
// (owner, auditors, vesting), grades, and claims.

abstract contract MarketRewards is MarketQueue {
    /// `pool_update`: (acc, distributed, newly released) as of now, without writing.
    function _poolUpdate() internal view returns (uint256 acc, uint256 distributed, uint256 released) {
        acc = _g(G_ACC);
        uint64 last = _sat64(_g(G_LAST_REWARD));
        distributed = _g(G_DISTRIBUTED);
        uint64 now_ = _now();
        if (now_ <= last) return (acc, distributed, 0);
        uint256 totalGrade = _g(G_TOTAL_GRADE);
        if (totalGrade == 0) return (acc, distributed, 0);
        uint256 perBlock = _p().rewardPerEpoch / _p().epochBlocks;
        uint256 due = _cmul(perBlock, now_ - last);
        uint256 left = _satSub(_p().rewardPool, distributed);
        released = _min(due, left);
        uint256 inc = _ckMulDiv(released, ACC_SCALE, totalGrade);
        acc = _cadd(acc, inc);
        distributed = _cadd(distributed, released);
    }

    /// `current_acc`.
    function _currentAcc() internal view returns (uint256 acc) {
        (acc,,) = _poolUpdate();
    }

    /// `update_pool`: brings the accumulator up to now.
    function _updatePool() internal returns (uint256) {
        (uint256 acc, uint256 distributed, uint256 released) = _poolUpdate();
        if (released != 0) {
            _setG(G_ACC, acc);
            _setG(G_DISTRIBUTED, distributed);
        }
        uint64 last = _sat64(_g(G_LAST_REWARD));
        if (_now() > last) _setG(G_LAST_REWARD, _now());
        return acc;
    }

    function _accrued(uint256 grade, uint256 acc) internal pure returns (uint256) {
        return _ckMulDiv(grade, acc, ACC_SCALE);
    }

    function _pending(Machine memory m, uint256 acc) internal pure returns (uint256) {
        return _satSub(_accrued(m.grade, acc), m.debt);
    }

    /// `settle`: settles a machine's pending reward.
    function _settle(Machine memory m) internal {
        uint256 acc = _updatePool();
        uint256 amount = _pending(m, acc);
        m.debt = _accrued(m.grade, acc);
        if (amount == 0) return;
        if (m.gpus > 0) {
            uint256 perGpu = _ckMulDiv(amount, PER_GPU_SCALE, m.gpus);
            m.rewardPerGpu = _cadd(m.rewardPerGpu, perGpu);
        }
        _payReward(m, amount);
    }

    /// `pay_rental_bonus`: the rented bonus of rental `r` as it ends, at most the rent it burned.
    function _payRentalBonus(Machine memory m, Rental memory r, uint256 burned) internal {
        uint256 perGpu = _satSub(m.rewardPerGpu, r.rewardSnapshot);
        uint256 earned = _ckMulDiv(perGpu, r.gpus, PER_GPU_SCALE);
        uint256 accrued = _bpsOf(earned, _p().rentedBonusBps);
        uint256 distributed = _g(G_DISTRIBUTED);
        uint256 left = _satSub(_p().rewardPool, distributed);
        uint256 paid = _min(_min(accrued, burned), left);
        if (accrued == 0) return;
        _setG(G_DISTRIBUTED, _cadd(distributed, paid));
        if (_logs()) emit IGpuMarket.RentedBonusPaid(m.id, r.id, accrued, paid);
        _payReward(m, paid);
    }

    /// `pay_reward`: the verifiers' share at once, the owner's split into an immediate part and
    /// a vesting tranche.
    function _payReward(Machine memory m, uint256 amount) internal {
        if (amount == 0) return;
        m.earned = _cadd(m.earned, amount);
        uint256 toAuditors = _creditAuditors(m.verifiers, amount, _p().auditorRewardBps);
        uint256 ownerAmount = amount - toAuditors;
        (uint256 immediate, uint256 vesting) = _splitImmediate(ownerAmount, _p().immediateBps);
        Account memory acct = _loadAccount(m.owner);
        acct.claimable = _cadd(acct.claimable, immediate);
        uint64 epochBlocks = _p().epochBlocks;
        uint64 epoch = _now() / epochBlocks;
        uint64 start = _cmul64(uint256(epoch) + 1, epochBlocks);
        _addVesting(acct, start, vesting);
        _storeAccount(acct);
        if (_logs()) emit IGpuMarket.RewardSettled(m.id, m.owner, immediate, vesting, toAuditors);
    }

    /// `regrade`: recomputes a machine's grade after a change (call after `settle`).
    function _regrade(Machine memory m) internal {
        uint256 next = m.status == S_ONLINE ? _gradeOf(m.calcPoint, m.gpus) : 0;
        if (next == m.grade) return;
        _onGradeChange(m.id, next);
        uint256 total = _g(G_TOTAL_GRADE);
        total = _cadd(_csub(total, m.grade), next);
        _setG(G_TOTAL_GRADE, total);
        uint256 acc = _g(G_ACC);
        m.grade = next;
        m.debt = _accrued(next, acc);
    }

    /// `owner_machines`: machines registered by `owner`, in registration order.
    function _ownerMachines(address owner) internal view returns (bytes32[] memory ids) {
        bytes32 key = _addrKey(owner);
        uint64 n = _sat64(_get(_slot(T_OWNER_MACHINES, key, 0)));
        ids = new bytes32[](n);
        for (uint256 i; i < n; i++) {
            ids[i] = bytes32(_get(_slot(T_OWNER_MACHINES, key, i + 1)));
        }
    }

    /// `rewards_of`.
    function _rewardsOf(address who) internal view returns (IGpuMarket.Rewards memory out) {
        Account memory acct = _loadAccount(who);
        uint256 vested = _refresh(acct, _p().vestingBlocks);
        uint256 vestedUnclaimed = _satSub(vested, acct.withdrawnVested);
        uint256 claimable = _cadd(acct.claimable, vestedUnclaimed);
        uint256 vesting = _satSub(acct.totalVesting, vested);
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
            uint256 toAuditors = auditors == 0 ? 0 : _bpsOf(amount, _p().auditorRewardBps) / auditors * auditors;
            (uint256 now_, uint256 later) = _splitImmediate(amount - toAuditors, _p().immediateBps);
            claimable = _cadd(claimable, now_);
            vesting = _cadd(vesting, later);
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
        uint256 vested = _refresh(acct, _p().vestingBlocks);
        amount = _cadd(acct.claimable, _satSub(vested, acct.withdrawnVested));
        if (amount == 0) revert IGpuMarket.NothingToClaim();
        acct.claimable = 0;
        acct.withdrawnVested = vested;
        acct.claimed = _cadd(acct.claimed, amount);
        _storeAccount(acct);
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
        uint256 each = _bpsOf(amount, bps) / n;
        for (uint256 i; i < n; i++) {
            Account memory acct = _loadAccount(list[i]);
            acct.claimable = _cadd(acct.claimable, each);
            _storeAccount(acct);
        }
        return each * n;
    }
}
