// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IProjectMining} from "../src/interfaces/IProjectMining.sol";
import {DBC_MARKET, DBC_MINING} from "./DbcAddresses.sol";
import {MiningAccounting} from "./mining/MiningAccounting.sol";
import {MiningCalldata} from "./mining/MiningCalldata.sol";
import {cadd, sat64, satSub, splitImmediate, accrued} from "./common/CheckedMath.sol";
import {slot, numKey, get, set} from "./common/StoreLib.sol";
import {blockNow, inStaticContext, answerStaticProbe} from "./common/Host.sol";
import {Account, loadAccount, storeAccount, refresh} from "./common/RewardAccount.sol";

/// Calls the stand-in makes to itself (checkpoints and the static-context probe). Only the
/// contract itself can make them: to anyone else these selectors are unknown.
interface IProjectMiningSolSelf {
    /// Writes transient storage: fails only in a static context.
    function __pmsStaticProbe() external;
    /// `move_weight(pid, machine, grade, None)` in its own checkpoint (`on_grade_change`).
    function __pmsMoveWeight(uint64 projectId, bytes32 machineId, uint256 grade) external;
    /// `update_to` + `settle_position` of `leave`, in its own checkpoint.
    function __pmsLeaveSettle(uint64 projectId, bytes32 machineId) external;
}

/// @title Solidity stand-in of dbc-node's project-mining precompile (`0x…0D02`) for `forge test`
/// @notice Install it with `HEVM.etch(DBC_MINING, type(ProjectMiningSol).runtimeCode)`, then
/// call `initDev()` (the dev genesis's parameters) or `init(params)` once. The GPU market at
/// `DBC_MARKET` must be a stand-in too (`GpuMarketSol`): mining reads machines through its
/// `getMachine` and the `IMarketMockReads` functions, and the market reports grade changes
/// through `onGradeChange`.
/// @dev A line-by-line translation of `crates/precompiles/src/mining/{mod,work}.rs`: the same
/// checks in the same order, the same custom errors, return data and events, and the same
/// storage layout (see `mining/MiningStorage.sol`). The precompile holds and moves no DBC: none
/// of its functions accepts value (`NotPayable()`; they are declared `payable` only so that the
/// checks run in the node's order), so no balance ever changes.
///
/// Dispatch follows `mining::dispatch`: a delegatecall/callcode is refused first
/// (`DelegateCallNotAllowed`, detected as `address(this) != DBC_MINING`), then the calldata is
/// decoded by alloy's rules (`mining/MiningCalldata.sol`; anything it cannot decode, an unknown
/// selector or fewer than 4 bytes is `UnknownSelector(first 4 bytes, zero-padded)`), then a
/// state-changing function in a static context is refused (`StaticCallWrite`, detected by a
/// self-call that writes transient storage), then any value (`NotPayable`).
///
/// Known divergences from the precompile (impractical or pointless to replicate):
/// - Gas: not metered like the precompile (no `gas::*` schedule); where the node runs out of
///   gas this contract may succeed, and vice versa. Where the node propagates running out of
///   gas from a checkpoint (`on_grade_change`, `leave`), a self-call that failed without revert
///   data (out of gas) makes the whole call revert with empty data.
/// - With almost no gas left (under ~10k), the static-context probe can fail for want of gas
///   and a state-changing call reverts `StaticCallWrite()` instead of running out of gas.
/// - Extra selectors: `initDev()`, `init((uint64,uint32))`, `onGradeChange(bytes32,uint256)`
///   and the self-call selectors of `IProjectMiningSolSelf`. After initialisation, and for
///   any caller but the market (`onGradeChange`) or the contract itself (self-calls), they
///   revert `UnknownSelector(selector)` like the node, except that calldata Solidity cannot
///   decode for the three public ones (too short; dirty bits for `init`) reverts with empty data.
/// - Before `initDev()`/`init()` every `IProjectMining` call reverts
///   `ProjectMiningSolNotInitialized()` (the node always has its genesis parameters);
///   `onGradeChange` works (there is nothing enrolled yet).
/// - forge's `recordLogs` also records logs emitted inside calls that then revert. A call that
///   reverts after emitting (e.g. `attestWork` refusing a later entry after earlier entries
///   were settled and attested, as on the node) leaves those events in the recording, while the
///   node's failed transaction has no logs. Within successful calls nothing of the kind
///   happens: a checkpoint that fails (`ProjectUpdateSkipped`, `leave`'s forfeited settlement)
///   fails before it emits (`_moveWeight` computes the new debt before settling; same outcome).
/// - Events of `onGradeChange` calls made by the market's end-of-block hook show up in forge's
///   recorded logs; on the node the hook is a system call without a receipt, so its logs are
///   not in any receipt (its state effects are the same).
/// - The market's records are read through its stand-in (`getMachine`, `machineGrade`,
///   `ownerMachines`); any revert of those other than `UnknownMachine(id)` is passed on as is.
/// - Arithmetic the node does unchecked in u64/u32 (the project counter + 1, a project's machine
///   count + 1, `epoch + 1` of a vesting start) cannot overflow in practice; here the counters
///   wrap like the node's release build, and the vesting start's overflow reverts
///   `ArithmeticOverflow()`.
contract ProjectMiningSol is MiningAccounting, MiningCalldata {
    /// The parameters mining reads (`config.dbc.market` in the genesis file).
    struct Params {
        uint64 epochBlocks; // `epochBlocks` (dev default 14,400)
        uint32 maxProjectsPerMachine; // `maxProjectsPerMachine` (dev default 3)
    }

    /// `initDev()`/`init()` has not been called.
    error ProjectMiningSolNotInitialized();
    /// `init()` with parameters the node's chain spec refuses.
    error ProjectMiningSolBadParams(string reason);

    // ---------------------------------------------------------------------------------------
    // set-up (not part of the precompile's ABI)

    /// Sets the dev genesis's parameters (`MarketParams::default()`): epochs of 14,400 blocks,
    /// at most 3 projects per machine. Once.
    function initDev() external payable {
        _initOnce();
        _setParams(14_400, 3);
    }

    /// Sets other parameters. Once.
    function init(Params calldata p) external payable {
        _initOnce();
        if (p.epochBlocks == 0) revert ProjectMiningSolBadParams("epochBlocks must be positive");
        _setParams(p.epochBlocks, p.maxProjectsPerMachine);
    }

    function _initOnce() internal view {
        _noDelegate();
        if (_initialized()) revert IProjectMining.UnknownSelector(msg.sig);
        if (msg.value != 0) revert IProjectMining.NotPayable();
    }

    // ---------------------------------------------------------------------------------------
    // the market's hook (`IMiningGradeHook`)

    /// `mining::on_grade_change`: the market changed `machineId`'s grade to `grade`; settles
    /// the machine's positions and moves its weight in every project it serves, each project
    /// in its own checkpoint: a project whose update reverts is undone and skipped with
    /// `ProjectUpdateSkipped`. Only the market (`DBC_MARKET`) can call it.
    function onGradeChange(bytes32 machineId, uint256 grade) external payable {
        _noDelegate();
        if (msg.sender != DBC_MARKET) revert IProjectMining.UnknownSelector(msg.sig);
        uint64[] memory pids = _machineProjects(machineId);
        for (uint256 i; i < pids.length; i++) {
            (bool ok, bytes memory reason) = address(this).call(
                abi.encodeCall(IProjectMiningSolSelf.__pmsMoveWeight, (pids[i], machineId, grade))
            );
            if (!ok) {
                _propagateOutOfGas(reason);
                emit IProjectMining.ProjectUpdateSkipped(pids[i], machineId);
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // dispatch

    /// Every `IProjectMining` call lands here (there is deliberately no `receive`: empty calldata
    /// is `UnknownSelector(0x00000000)` as on the node). Returns the raw ABI-encoded result.
    fallback(bytes calldata data) external payable returns (bytes memory) {
        _noDelegate();
        bytes4 sel = bytes4(data);
        if (msg.sender == address(this) && data.length >= 4) {
            if (sel == IProjectMiningSolSelf.__pmsStaticProbe.selector) {
                answerStaticProbe(0, 0);
                return "";
            }
            if (sel == IProjectMiningSolSelf.__pmsMoveWeight.selector) {
                (uint64 pid, bytes32 mid, uint256 grade) = abi.decode(data[4:], (uint64, bytes32, uint256));
                _moveWeight(pid, mid, grade, false, 0, 0);
                return "";
            }
            if (sel == IProjectMiningSolSelf.__pmsLeaveSettle.selector) {
                (uint64 pid, bytes32 mid) = abi.decode(data[4:], (uint64, bytes32));
                (, Proj memory p) = _loadProject(pid);
                _updateTo(p);
                Pos memory pos = _loadPos(pid, mid);
                _settlePosition(p, pos, mid);
                return "";
            }
        }
        if (!_initialized()) revert ProjectMiningSolNotInitialized();
        if (data.length < 4) revert IProjectMining.UnknownSelector(sel);
        if (
            sel == IProjectMining.registerProject.selector || sel == IProjectMining.attestWork.selector
                || sel == IProjectMining.enroll.selector || sel == IProjectMining.leave.selector
                || sel == IProjectMining.settle.selector || sel == IProjectMining.setAttestor.selector
        ) {
            return _dispatchWrite(sel);
        }
        return _dispatchView(sel);
    }

    function _dispatchWrite(bytes4 sel) internal returns (bytes memory) {
        if (sel == IProjectMining.registerProject.selector) {
            (bool ok, RegisterArgs memory a) = _decodeRegister();
            _decoded(ok, sel);
            _writeCall();
            return abi.encode(uint256(_register(msg.sender, a)));
        }
        if (sel == IProjectMining.attestWork.selector) {
            (bool ok, AttestArgs memory a) = _decodeAttest();
            _decoded(ok, sel);
            _writeCall();
            _attest(msg.sender, a);
            return "";
        }
        _decoded(_hasWords(2), sel);
        _writeCall();
        uint256 pid = _argU256(0);
        if (sel == IProjectMining.enroll.selector) {
            _enroll(msg.sender, pid, bytes32(_argU256(1)));
            return "";
        }
        if (sel == IProjectMining.leave.selector) {
            _leave(msg.sender, pid, bytes32(_argU256(1)));
            return "";
        }
        if (sel == IProjectMining.settle.selector) {
            return abi.encode(_settle(msg.sender, pid, _argAddr(1)));
        }
        // setAttestor
        _setAttestor(msg.sender, pid, _argAddr(1));
        return "";
    }

    function _dispatchView(bytes4 sel) internal view returns (bytes memory) {
        if (sel == IProjectMining.projectCount.selector) {
            _viewCall();
            return abi.encode(get(G_PROJECTS));
        }
        if (sel == IProjectMining.maxProjectsPerMachine.selector) {
            _viewCall();
            return abi.encode(_maxProjects());
        }
        if (sel == IProjectMining.epochBlocks.selector) {
            _viewCall();
            return abi.encode(_epochBlocks());
        }
        if (sel == IProjectMining.getProject.selector) {
            _decoded(_hasWords(1), sel);
            _viewCall();
            return abi.encode(_getProject(_argU256(0)));
        }
        if (sel == IProjectMining.projectsOf.selector) {
            _decoded(_hasWords(1), sel);
            _viewCall();
            uint64[] memory ids = _machineProjects(bytes32(_argU256(0)));
            uint256[] memory out = new uint256[](ids.length);
            for (uint256 i; i < ids.length; i++) {
                out[i] = ids[i];
            }
            return abi.encode(out);
        }
        if (sel == IProjectMining.enrolledMachineAt.selector) {
            _decoded(_hasWords(2), sel);
            _viewCall();
            return abi.encode(_enrolledMachineAt(_argU256(0), _argU256(1)));
        }
        if (sel == IProjectMining.rewardsOf.selector) {
            _decoded(_hasWords(2), sel);
            _viewCall();
            return abi.encode(_rewardsOf(_argU256(0), _argAddr(1)));
        }
        if (sel == IProjectMining.workOf.selector) {
            _decoded(_hasWords(2), sel);
            _viewCall();
            Proj memory p = _project(_argU256(0));
            Pos memory pos = _loadPos(p.id, bytes32(_argU256(1)));
            return abi.encode(pos.units, pos.attested == 0 ? 0 : pos.attested - 1, pos.attested != 0, pos.weight);
        }
        revert IProjectMining.UnknownSelector(sel);
    }

    function _noDelegate() internal view {
        if (address(this) != DBC_MINING) revert IProjectMining.DelegateCallNotAllowed();
    }

    function _decoded(bool ok, bytes4 sel) internal pure {
        if (!ok) revert IProjectMining.UnknownSelector(sel);
    }

    /// Checks of a state-changing call after decoding: static context, then value.
    function _writeCall() internal {
        if (inStaticContext(IProjectMiningSolSelf.__pmsStaticProbe.selector, 10_000)) {
            revert IProjectMining.StaticCallWrite();
        }
        if (msg.value != 0) revert IProjectMining.NotPayable();
    }

    function _viewCall() internal view {
        if (msg.value != 0) revert IProjectMining.NotPayable();
    }

    /// A checkpoint's self-call that failed without revert data ran out of gas: the node
    /// propagates that (only reverts are undone and skipped).
    function _propagateOutOfGas(bytes memory reason) internal pure {
        if (reason.length == 0) {
            assembly {
                revert(0, 0)
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // functions

    /// `project`: the project `id`, or `UnknownProject(id)`.
    function _project(uint256 id) internal view returns (Proj memory p) {
        if (id > type(uint64).max) revert IProjectMining.UnknownProject(id);
        bool ok;
        (ok, p) = _loadProject(uint64(id));
        if (!ok) revert IProjectMining.UnknownProject(id);
    }

    function _invalid(string memory reason) internal pure {
        revert IProjectMining.InvalidProject(reason);
    }

    function _notEligible(bytes32 machineId, string memory reason) internal pure {
        revert IProjectMining.MachineNotEligible(machineId, reason);
    }

    /// `register`.
    function _register(address who, RegisterArgs memory c) internal returns (uint64 id) {
        uint64 now_ = blockNow();
        if (c.tokensPerBlock == 0) _invalid("tokensPerBlock is zero");
        if (c.budget == 0) _invalid("budget is zero");
        if (c.endBlock <= now_) _invalid("endBlock is not in the future");
        if (c.budget > MAX_TOKEN_AMOUNT) _invalid("budget exceeds 2^128 - 1");
        if (c.tokensPerBlock > c.budget) _invalid("tokensPerBlock exceeds the budget");
        if (c.endBlock - now_ > MAX_PROJECT_BLOCKS) _invalid("emission period exceeds 10^12 blocks");
        if (c.vestingBlocks > MAX_PROJECT_BLOCKS) _invalid("vestingBlocks exceeds 10^12");
        if (c.immediateBps > 10_000) _invalid("immediateBps exceeds 10000");
        if (c.vestingBlocks == 0 && c.immediateBps != 10_000) {
            _invalid("vestingBlocks is zero but not everything is immediate");
        }
        bool badModels = c.gpuModels.length > MAX_MODELS;
        for (uint256 i; i < c.gpuModels.length && !badModels; i++) {
            if (c.gpuModels[i] == bytes32(0)) badModels = true;
        }
        if (badModels) _invalid("at most 8 non-empty gpuModels");
        unchecked {
            id = sat64(get(G_PROJECTS)) + 1;
        }
        set(G_PROJECTS, id);
        Proj memory p;
        p.id = id;
        p.settler = who;
        p.creator = tx.origin;
        p.tokensPerBlock = c.tokensPerBlock;
        p.budget = c.budget;
        p.start = now_;
        p.end = c.endBlock;
        p.last = now_;
        p.minMem = c.minGpuMemoryGb;
        p.minCp = c.minCalcPoint;
        p.immediateBps = c.immediateBps;
        p.vestingBlocks = c.vestingBlocks;
        p.models = uint8(c.gpuModels.length);
        p.attestor = who; // the settler attests until it names another attestor
        _storeProject(p);
        for (uint256 i; i < c.gpuModels.length; i++) {
            set(slot(T_MODELS, numKey(id), i), uint256(c.gpuModels[i]));
        }
        emit IProjectMining.ProjectRegistered(id, who, p.creator, c.tokensPerBlock, c.budget, c.endBlock);
    }

    /// `enroll`.
    function _enroll(address who, uint256 pid, bytes32 mid) internal {
        Proj memory p = _project(pid);
        MarketMachine memory m = _marketMachine(mid);
        if (m.owner != who) revert IProjectMining.NotMachineOwner(mid);
        if (m.status != STATUS_ONLINE) _notEligible(mid, "not verified and online");
        if (blockNow() >= p.end || p.distributed >= p.budget) _invalid("emission has ended");
        if (m.calcPoint < p.minCp) _notEligible(mid, "calc point below the minimum");
        if (m.gpuMemoryGb < p.minMem) _notEligible(mid, "GPU memory below the minimum");
        bytes32[] memory models = _models(p);
        if (models.length != 0) {
            bool accepted;
            for (uint256 i; i < models.length; i++) {
                if (models[i] == m.gpuModel) accepted = true;
            }
            if (!accepted) _notEligible(mid, "GPU model not accepted");
        }
        Pos memory pos = _loadPos(p.id, mid);
        if (pos.index != 0) revert IProjectMining.AlreadyEnrolled(pid, mid);
        uint64[] memory projects = _machineProjects(mid);
        uint32 max = _maxProjects();
        if (projects.length >= max) revert IProjectMining.TooManyProjects(mid, max);
        _updateTo(p);
        // Machine → projects and project → machines lists.
        set(slot(T_MACHINE_PROJECTS, mid, projects.length + 1), p.id);
        set(slot(T_MACHINE_PROJECTS, mid, 0), projects.length + 1);
        bytes32 key = numKey(p.id);
        uint64 n = _listLen(T_PROJECT_MACHINES, key);
        set(slot(T_PROJECT_MACHINES, key, uint256(n) + 1), uint256(mid));
        set(slot(T_PROJECT_MACHINES, key, 0), uint256(n) + 1);
        // No weight until the project's attestor reports work served.
        pos.weight = 0;
        pos.debt = 0;
        pos.provider = who;
        unchecked {
            pos.index = n + 1;
            p.machines += 1;
        }
        pos.units = 0;
        pos.attested = 0;
        _storePos(pos);
        _storeProject(p);
        emit IProjectMining.MachineEnrolled(pid, mid, who, 0);
    }

    /// `leave`: a provider can always leave; if the project's accounting cannot be brought up to
    /// date, the position's unsettled tokens are forfeited.
    function _leave(address who, uint256 pid, bytes32 mid) internal {
        Proj memory p = _project(pid);
        Pos memory pos = _loadPos(p.id, mid);
        if (pos.index == 0) revert IProjectMining.NotEnrolled(pid, mid);
        if (pos.provider != who) revert IProjectMining.NotMachineOwner(mid);
        // Checkpoint: `p.update_to(now).and_then(settle_position)`, undone if it reverts. The
        // node keeps the in-memory update of `p` when only the settlement fails.
        (bool ok, bytes memory reason) =
            address(this).call(abi.encodeCall(IProjectMiningSolSelf.__pmsLeaveSettle, (p.id, mid)));
        if (!ok) _propagateOutOfGas(reason);
        _tryUpdateTo(p);
        p.totalWeight = satSub(p.totalWeight, pos.weight);
        if (p.machines > 0) p.machines -= 1;
        // Swap-remove from the project's machine list.
        bytes32 key = numKey(p.id);
        uint64 n = _listLen(T_PROJECT_MACHINES, key);
        uint256 last = get(slot(T_PROJECT_MACHINES, key, n));
        set(slot(T_PROJECT_MACHINES, key, pos.index), last);
        if (pos.index != n) {
            Pos memory moved = _loadPos(p.id, bytes32(last));
            moved.index = pos.index;
            _storePos(moved);
        }
        set(slot(T_PROJECT_MACHINES, key, n), 0);
        unchecked {
            set(slot(T_PROJECT_MACHINES, key, 0), uint64(n - 1));
        }
        // Remove from the machine's project list.
        uint64[] memory projects = _machineProjects(mid);
        uint256 kept;
        for (uint256 i; i < projects.length; i++) {
            if (projects[i] != p.id) {
                kept += 1;
                set(slot(T_MACHINE_PROJECTS, mid, kept), projects[i]);
            }
        }
        set(slot(T_MACHINE_PROJECTS, mid, projects.length), 0);
        set(slot(T_MACHINE_PROJECTS, mid, 0), kept);
        pos.weight = 0;
        pos.debt = 0;
        pos.index = 0;
        pos.units = 0;
        pos.attested = 0;
        _storePos(pos);
        _storeProject(p);
        emit IProjectMining.MachineLeft(pid, mid, who);
    }

    /// `settle`: settler only; marks what `provider` may receive now as paid and returns it.
    function _settle(address who, uint256 pid, address provider) internal returns (uint256 amount) {
        Proj memory p = _project(pid);
        if (p.settler != who) revert IProjectMining.NotSettler(pid);
        _updateTo(p);
        bytes32[] memory mids = _providerMachines(provider);
        for (uint256 i; i < mids.length; i++) {
            Pos memory pos = _loadPos(p.id, mids[i]);
            if (pos.index != 0 && pos.provider == provider) {
                _settlePosition(p, pos, mids[i]);
                _storePos(pos);
            }
        }
        Account memory a = loadAccount(T_PROVIDER, _providerKey(p.id, provider));
        uint256 vested = refresh(a, p.vestingBlocks == 0 ? 1 : p.vestingBlocks);
        amount = cadd(a.claimable, satSub(vested, a.withdrawnVested));
        a.claimable = 0;
        a.withdrawnVested = vested;
        a.claimed = cadd(a.claimed, amount);
        storeAccount(a);
        p.settled = cadd(p.settled, amount);
        _storeProject(p);
        emit IProjectMining.MiningRewardSettled(pid, provider, amount);
    }

    /// `work::set_attestor`.
    function _setAttestor(address who, uint256 pid, address attestor) internal {
        Proj memory p = _project(pid);
        if (p.settler != who) revert IProjectMining.NotSettler(pid);
        p.attestor = attestor;
        _storeProject(p);
        emit IProjectMining.AttestorSet(pid, attestor);
    }

    /// `work::attest`: checks every entry before changing anything, then moves each machine's
    /// weight to its grade × units, settling its pending tokens at the old weight first.
    function _attest(address who, AttestArgs memory c) internal {
        Proj memory p = _project(c.projectId);
        if (p.attestor != who || who == address(0)) revert IProjectMining.NotAttestor(c.projectId);
        uint64 current = blockNow() / _epochBlocks();
        if (current == 0) revert IProjectMining.WrongEpoch(c.epoch, 0);
        if (c.epoch != current - 1) revert IProjectMining.WrongEpoch(c.epoch, current - 1);
        if (c.machineIds.length != c.units.length) {
            revert IProjectMining.BadAttestation("machineIds and units differ in length");
        }
        if (c.machineIds.length > MAX_ATTESTATIONS) revert IProjectMining.BadAttestation("more than 256 entries");
        for (uint256 i; i < c.machineIds.length; i++) {
            for (uint256 j; j < i; j++) {
                if (c.machineIds[j] == c.machineIds[i]) {
                    revert IProjectMining.AlreadyAttested(c.projectId, c.machineIds[i], c.epoch);
                }
            }
        }
        for (uint256 i; i < c.machineIds.length; i++) {
            bytes32 mid = c.machineIds[i];
            Pos memory pos = _loadPos(p.id, mid);
            if (pos.index == 0) revert IProjectMining.NotEnrolled(c.projectId, mid);
            if (pos.attested > c.epoch) revert IProjectMining.AlreadyAttested(c.projectId, mid, c.epoch);
            // The weight follows the market's grade (0 while the machine is offline).
            uint256 grade = _marketGrade(mid);
            uint256 weight = _moveWeight(p.id, mid, grade, true, c.units[i], c.epoch);
            emit IProjectMining.WorkAttested(c.projectId, mid, c.epoch, c.units[i], weight);
        }
    }

    /// `getProject`: the project brought up to date (in memory).
    function _getProject(uint256 pid) internal view returns (IProjectMining.Project memory out) {
        Proj memory p = _project(pid);
        _updateTo(p);
        out.id = pid;
        out.settler = p.settler;
        out.creator = p.creator;
        out.tokensPerBlock = p.tokensPerBlock;
        out.budget = p.budget;
        out.startBlock = p.start;
        out.endBlock = p.end;
        out.distributed = p.distributed;
        out.settled = p.settled;
        out.totalWeight = p.totalWeight;
        out.machines = p.machines;
        out.requirements = IProjectMining.Requirements(p.minMem, p.minCp, _models(p));
        out.release = IProjectMining.Release(p.immediateBps, p.vestingBlocks);
        out.attestor = p.attestor;
    }

    /// `enrolledMachineAt`.
    function _enrolledMachineAt(uint256 pid, uint256 index) internal view returns (bytes32) {
        Proj memory p = _project(pid);
        bytes32 key = numKey(p.id);
        uint64 n = _listLen(T_PROJECT_MACHINES, key);
        if (index >= n) revert IProjectMining.NotEnrolled(pid, bytes32(0));
        return bytes32(get(slot(T_PROJECT_MACHINES, key, index + 1)));
    }

    /// `rewards_of`.
    function _rewardsOf(uint256 pid, address provider) internal view returns (IProjectMining.ProviderRewards memory r) {
        Proj memory p = _project(pid);
        _updateTo(p);
        bytes32[] memory mids = _providerMachines(provider);
        for (uint256 i; i < mids.length; i++) {
            Pos memory pos = _loadPos(p.id, mids[i]);
            if (pos.index != 0 && pos.provider == provider) {
                r.pending = cadd(r.pending, satSub(accrued(pos.weight, p.acc), pos.debt));
            }
        }
        Account memory a = loadAccount(T_PROVIDER, _providerKey(p.id, provider));
        uint256 vested = refresh(a, p.vestingBlocks == 0 ? 1 : p.vestingBlocks);
        uint256 now_;
        uint256 later;
        if (p.vestingBlocks == 0) {
            now_ = r.pending;
        } else {
            (now_, later) = splitImmediate(r.pending, p.immediateBps);
        }
        r.claimable = cadd(cadd(a.claimable, satSub(vested, a.withdrawnVested)), now_);
        r.vesting = cadd(satSub(a.totalVesting, vested), later);
        r.claimed = a.claimed;
    }
}
