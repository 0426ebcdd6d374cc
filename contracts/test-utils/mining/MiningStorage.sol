// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {sat64} from "../common/CheckedMath.sol";
import {slot, numKey, bits, put, get, set} from "../common/StoreLib.sol";

/// Storage of `ProjectMiningSol`, laid out exactly as the node's project-mining precompile lays
/// out its account's storage (`crates/precompiles/src/mining/mod.rs`, `store.rs`, `records.rs`):
/// records at `keccak256(abi.encode(tag, key)) + field`, small fields bit-packed the same way, the
/// project counter in slot 0. So `vm.load(DBC_MINING, slot)` reads what `eth_getStorageAt` reads
/// on a node. The stand-in's own parameters live at a hashed slot the precompile never uses.
///
/// The storage primitives (`slot`, `get`, `set`, `bits`, `put`), the checked arithmetic (every
/// step the Rust code checks with `ck`/`ck2` reverts `ArithmeticOverflow()`, never a Solidity
/// panic) and the providers' reward accounts are shared with the market (`../common/`).
abstract contract MiningStorage {
    // ---- constants of the precompile ----
    uint256 internal constant MAX_MODELS = 8;
    uint256 internal constant MAX_TOKEN_AMOUNT = type(uint128).max;
    uint64 internal constant MAX_PROJECT_BLOCKS = 1_000_000_000_000;
    uint256 internal constant MAX_ATTESTATIONS = 256;
    uint8 internal constant STATUS_ONLINE = 2;

    // Record tags (`mining/mod.rs`; the tranches of provider accounts are `T_TRANCHE`, shared
    // with the market: `../common/RewardAccount.sol`).
    uint256 internal constant T_PROJECT = 20;
    uint256 internal constant T_MODELS = 21;
    uint256 internal constant T_POSITION = 22;
    uint256 internal constant T_MACHINE_PROJECTS = 23;
    uint256 internal constant T_PROJECT_MACHINES = 24;
    uint256 internal constant T_PROVIDER = 25;
    // Global slot of the project counter.
    uint256 internal constant G_PROJECTS = 0;

    /// The stand-in's parameters (not part of the precompile's layout): bits 0..64
    /// `epochBlocks`, 64..96 `maxProjectsPerMachine`, bit 255 set once initialised.
    bytes32 internal constant PARAMS_SLOT = keccak256("dbc-node.ProjectMiningSol.params");

    /// `Project` (11 slots at `(T_PROJECT, id)`).
    struct Proj {
        uint64 id;
        address settler;
        address creator;
        uint256 tokensPerBlock;
        uint256 budget;
        uint64 start;
        uint64 end;
        uint64 last;
        uint32 machines;
        uint256 acc;
        uint256 totalWeight;
        uint256 distributed;
        uint256 settled;
        uint32 minMem;
        uint32 minCp;
        uint16 immediateBps;
        uint64 vestingBlocks;
        uint8 models;
        address attestor;
    }

    /// `Position` (4 slots at `(T_POSITION, keccak256(abi.encode(project, machine)))`).
    struct Pos {
        bytes32 key;
        uint256 weight;
        uint256 debt;
        address provider;
        uint64 index; // 1 + index in the project's machine list; 0 when not enrolled
        uint64 units;
        uint64 attested; // 1 + epoch of the last attestation; 0 if never
    }

    // ---------------------------------------------------------------------------------------
    // parameters

    function _params() internal view returns (uint256 w) {
        w = get(uint256(PARAMS_SLOT));
    }

    function _initialized() internal view returns (bool) {
        return _params() >> 255 == 1;
    }

    function _setParams(uint64 epochBlocks_, uint32 maxProjects_) internal {
        set(uint256(PARAMS_SLOT), (uint256(1) << 255) | (uint256(maxProjects_) << 64) | uint256(epochBlocks_));
    }

    function _epochBlocks() internal view returns (uint64) {
        return uint64(_params());
    }

    function _maxProjects() internal view returns (uint32) {
        return uint32(_params() >> 64);
    }

    // ---------------------------------------------------------------------------------------
    // projects

    function _projectExists(uint64 id) internal view returns (bool) {
        return get(slot(T_PROJECT, numKey(id), 0)) != 0;
    }

    /// `Project::load`: `ok = false` when slot 0 (the settler word) is zero.
    function _loadProject(uint64 id) internal view returns (bool ok, Proj memory p) {
        bytes32 key = numKey(id);
        uint256 w0 = get(slot(T_PROJECT, key, 0));
        if (w0 == 0) return (false, p);
        ok = true;
        p.id = id;
        p.settler = address(uint160(w0));
        p.creator = address(uint160(get(slot(T_PROJECT, key, 1))));
        p.tokensPerBlock = get(slot(T_PROJECT, key, 2));
        p.budget = get(slot(T_PROJECT, key, 3));
        uint256 w4 = get(slot(T_PROJECT, key, 4));
        p.start = bits(w4, 0, 64);
        p.end = bits(w4, 64, 64);
        p.last = bits(w4, 128, 64);
        p.machines = uint32(bits(w4, 192, 32));
        p.acc = get(slot(T_PROJECT, key, 5));
        p.totalWeight = get(slot(T_PROJECT, key, 6));
        p.distributed = get(slot(T_PROJECT, key, 7));
        p.settled = get(slot(T_PROJECT, key, 8));
        uint256 w9 = get(slot(T_PROJECT, key, 9));
        p.minMem = uint32(bits(w9, 0, 32));
        p.minCp = uint32(bits(w9, 32, 32));
        p.immediateBps = uint16(bits(w9, 64, 16));
        p.vestingBlocks = bits(w9, 80, 64);
        p.models = uint8(bits(w9, 144, 8));
        p.attestor = address(uint160(get(slot(T_PROJECT, key, 10))));
    }

    /// `Project::store` (writes all 11 words; the node writes only the changed ones, to the
    /// same resulting state).
    function _storeProject(Proj memory p) internal {
        bytes32 key = numKey(p.id);
        set(slot(T_PROJECT, key, 0), uint256(uint160(p.settler)));
        set(slot(T_PROJECT, key, 1), uint256(uint160(p.creator)));
        set(slot(T_PROJECT, key, 2), p.tokensPerBlock);
        set(slot(T_PROJECT, key, 3), p.budget);
        uint256 w4 = put(0, 0, 64, p.start);
        w4 = put(w4, 64, 64, p.end);
        w4 = put(w4, 128, 64, p.last);
        w4 = put(w4, 192, 32, p.machines);
        set(slot(T_PROJECT, key, 4), w4);
        set(slot(T_PROJECT, key, 5), p.acc);
        set(slot(T_PROJECT, key, 6), p.totalWeight);
        set(slot(T_PROJECT, key, 7), p.distributed);
        set(slot(T_PROJECT, key, 8), p.settled);
        uint256 w9 = put(0, 0, 32, p.minMem);
        w9 = put(w9, 32, 32, p.minCp);
        w9 = put(w9, 64, 16, p.immediateBps);
        w9 = put(w9, 80, 64, p.vestingBlocks);
        w9 = put(w9, 144, 8, p.models);
        set(slot(T_PROJECT, key, 9), w9);
        set(slot(T_PROJECT, key, 10), uint256(uint160(p.attestor)));
    }

    /// `Project::models`.
    function _models(Proj memory p) internal view returns (bytes32[] memory models) {
        models = new bytes32[](p.models);
        for (uint256 i; i < models.length; i++) {
            models[i] = bytes32(get(slot(T_MODELS, numKey(p.id), i)));
        }
    }

    // ---------------------------------------------------------------------------------------
    // positions

    function _positionKey(uint64 project, bytes32 machine) internal pure returns (bytes32) {
        return keccak256(abi.encode(uint256(project), machine));
    }

    function _loadPos(uint64 project, bytes32 machine) internal view returns (Pos memory pos) {
        bytes32 key = _positionKey(project, machine);
        pos.key = key;
        pos.weight = get(slot(T_POSITION, key, 0));
        pos.debt = get(slot(T_POSITION, key, 1));
        uint256 w2 = get(slot(T_POSITION, key, 2));
        uint256 w3 = get(slot(T_POSITION, key, 3));
        pos.provider = address(uint160(w2));
        pos.index = bits(w2, 160, 64);
        pos.units = bits(w3, 0, 64);
        pos.attested = bits(w3, 64, 64);
    }

    function _storePos(Pos memory pos) internal {
        uint256 w2 = put(uint256(uint160(pos.provider)), 160, 64, pos.index);
        uint256 w3 = put(put(0, 0, 64, pos.units), 64, 64, pos.attested);
        set(slot(T_POSITION, pos.key, 0), pos.weight);
        set(slot(T_POSITION, pos.key, 1), pos.debt);
        set(slot(T_POSITION, pos.key, 2), w2);
        set(slot(T_POSITION, pos.key, 3), w3);
    }

    // ---------------------------------------------------------------------------------------
    // lists

    /// `list_len`: word 0 of a list record, saturated to u64.
    function _listLen(uint256 tag, bytes32 key) internal view returns (uint64) {
        return sat64(get(slot(tag, key, 0)));
    }

    /// `machine_projects`: the projects a machine is enrolled in.
    function _machineProjects(bytes32 machine) internal view returns (uint64[] memory ids) {
        uint64 n = _listLen(T_MACHINE_PROJECTS, machine);
        ids = new uint64[](n);
        for (uint256 i; i < n; i++) {
            ids[i] = sat64(get(slot(T_MACHINE_PROJECTS, machine, i + 1)));
        }
    }

    // ---------------------------------------------------------------------------------------
    // provider accounts (`records::Account` at `(T_PROVIDER, key)` in the mining account's
    // storage: `../common/RewardAccount.sol`)

    function _providerKey(uint64 project, address provider) internal pure returns (bytes32) {
        return keccak256(abi.encode(uint256(project), provider));
    }
}
