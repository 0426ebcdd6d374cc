// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IProjectMining} from "../../src/interfaces/IProjectMining.sol";
import {IGpuMarket} from "../../src/interfaces/IGpuMarket.sol";
import {IMarketMockReads} from "../MockHooks.sol";
import {DBC_MARKET} from "../DbcAddresses.sol";
import {MiningStorage} from "./MiningStorage.sol";
import {
    ACC_SCALE, overflow, cadd, csub, cmul, tryMul, satSub, min, tryMulDiv, splitImmediate, accrued
} from "../common/CheckedMath.sol";
import {blockNow} from "../common/Host.sol";
import {Account, loadAccount, storeAccount, addVesting} from "../common/RewardAccount.sol";

/// The accounting of project mining, translated from `crates/precompiles/src/mining/mod.rs`:
/// the per-project accumulator (`Project::update_to`), settlement of a position into its
/// provider's rewards (`settle_position`), moving a machine's weight (`move_weight`), and the
/// reads of the market's records (`Machine::load`, `market::owner_machines`).
abstract contract MiningAccounting is MiningStorage {
    /// What mining reads of a market machine when enrolling it (`records::Machine`).
    struct MarketMachine {
        address owner;
        uint8 status;
        uint32 calcPoint;
        uint32 gpuMemoryGb;
        bytes32 gpuModel;
    }

    /// `Project::update_to`: releases the emission up to now (or the end) to the enrolled
    /// weight. Returns false, changing nothing, when the arithmetic overflows.
    function _tryUpdateTo(Proj memory p) internal view returns (bool) {
        uint64 to = blockNow();
        if (p.end < to) to = p.end;
        if (to <= p.last) return true;
        if (p.totalWeight != 0) {
            (bool fits, uint256 due) = tryMul(p.tokensPerBlock, to - p.last);
            if (!fits) return false;
            uint256 left = satSub(p.budget, p.distributed);
            uint256 released = min(due, left);
            (bool ok, uint256 inc) = tryMulDiv(released, ACC_SCALE, p.totalWeight);
            if (!ok) return false;
            uint256 acc;
            uint256 distributed;
            unchecked {
                acc = p.acc + inc;
                distributed = p.distributed + released;
            }
            if (acc < inc || distributed < released) return false;
            p.acc = acc;
            p.distributed = distributed;
        }
        p.last = to;
        return true;
    }

    function _updateTo(Proj memory p) internal view {
        if (!_tryUpdateTo(p)) overflow();
    }

    /// `settle_position`: settles a position's pending tokens into its provider's rewards,
    /// split by the project's release rule. Call after `_updateTo`.
    function _settlePosition(Proj memory p, Pos memory pos, bytes32 machine) internal {
        uint256 total = accrued(pos.weight, p.acc);
        uint256 amount = satSub(total, pos.debt);
        pos.debt = total;
        if (amount == 0) return;
        uint256 immediate;
        uint256 vesting;
        if (p.vestingBlocks == 0) {
            immediate = amount;
        } else {
            (immediate, vesting) = splitImmediate(amount, p.immediateBps);
        }
        Account memory a = loadAccount(T_PROVIDER, _providerKey(p.id, pos.provider));
        a.claimable = cadd(a.claimable, immediate);
        uint64 epochBlocks = _epochBlocks();
        uint256 start = (uint256(blockNow() / epochBlocks) + 1) * epochBlocks;
        if (start > type(uint64).max) overflow();
        addVesting(a, uint64(start), vesting);
        storeAccount(a);
        emit IProjectMining.MiningRewardAccrued(p.id, machine, pos.provider, immediate, vesting);
    }

    /// `move_weight`: settles `machine`'s position in project `pid` and gives it the weight
    /// `grade` × its units (with `attest`, the newly attested `units` for `epoch`). Returns the
    /// new weight (0, doing nothing, for an unknown project).
    function _moveWeight(uint64 pid, bytes32 machine, uint256 grade, bool attest, uint64 units, uint64 epoch)
        internal
        returns (uint256 weight)
    {
        (bool exists, Proj memory p) = _loadProject(pid);
        if (!exists) return 0;
        _updateTo(p);
        Pos memory pos = _loadPos(pid, machine);
        if (attest) {
            pos.units = units;
            if (epoch == type(uint64).max) overflow();
            pos.attested = epoch + 1;
        }
        weight = cmul(grade, pos.units);
        uint256 total = cadd(csub(p.totalWeight, pos.weight), weight);
        // The node computes the new debt after settling; every failure of this function is the
        // same `ArithmeticOverflow()` and `p.acc` does not change in between, so computing it
        // first changes no outcome, and a failing update emits nothing before it reverts (forge's
        // `recordLogs` keeps logs of reverted sub-calls, which the node's receipts do not).
        uint256 debt = accrued(weight, p.acc);
        _settlePosition(p, pos, machine);
        p.totalWeight = total;
        pos.weight = weight;
        pos.debt = debt;
        _storePos(pos);
        _storeProject(p);
    }

    // ---------------------------------------------------------------------------------------
    // the market's records

    /// Reverts with the market's revert data unless it is `UnknownMachine(id)`; then with
    /// `MachineNotEligible(id, "unknown machine")` as the node's `market_machine`.
    function _marketFailed(bytes32 id, bytes memory reason) internal pure {
        if (keccak256(reason) == keccak256(abi.encodeWithSelector(IGpuMarket.UnknownMachine.selector, id))) {
            revert IProjectMining.MachineNotEligible(id, "unknown machine");
        }
        assembly {
            revert(add(reason, 32), mload(reason))
        }
    }

    /// `market_machine` for enrolment: the machine's owner, status, calc point, GPU memory and
    /// model, through the market's `getMachine`.
    function _marketMachine(bytes32 id) internal view returns (MarketMachine memory m) {
        try IGpuMarket(DBC_MARKET).getMachine(id) returns (IGpuMarket.Machine memory info) {
            m.owner = info.owner;
            m.status = uint8(info.status);
            m.calcPoint = info.calcPoint;
            m.gpuMemoryGb = info.spec.gpuMemoryGb;
            m.gpuModel = info.spec.gpuModel;
        } catch (bytes memory reason) {
            _marketFailed(id, reason);
        }
    }

    /// `market_machine(..).grade`: the machine's stored grade.
    function _marketGrade(bytes32 id) internal view returns (uint256 grade) {
        try IMarketMockReads(DBC_MARKET).machineGrade(id) returns (uint256 g) {
            grade = g;
        } catch (bytes memory reason) {
            _marketFailed(id, reason);
        }
    }

    /// `provider_machines`: the market's owner index (`market::owner_machines`).
    function _providerMachines(address provider) internal view returns (bytes32[] memory) {
        return IMarketMockReads(DBC_MARKET).ownerMachines(provider);
    }
}
