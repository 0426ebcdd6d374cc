// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IProjectMining} from "../../src/interfaces/IProjectMining.sol";

/// Storage of `ProjectMiningSol`, laid out exactly as the node's project-mining precompile lays
/// out its account's storage (`crates/precompiles/src/mining/mod.rs`, `store.rs`, `records.rs`):
/// records at `keccak256(abi.encode(tag, key)) + field`, small fields bit-packed the same way, the
/// project counter in slot 0. So `vm.load(DBC_MINING, slot)` reads what `eth_getStorageAt` reads
/// on a node. The stand-in's own parameters live at a hashed slot the precompile never uses.
///
/// Every arithmetic step the Rust code checks (`ck`/`ck2`) reverts here with
/// `ArithmeticOverflow()`, never with a Solidity panic.
abstract contract MiningStorage {
    // ---- constants of the precompile ----
    uint256 internal constant ACC_SCALE = 1e18;
    uint256 internal constant MAX_MODELS = 8;
    uint256 internal constant MAX_TOKEN_AMOUNT = type(uint128).max;
    uint64 internal constant MAX_PROJECT_BLOCKS = 1_000_000_000_000;
    uint256 internal constant MAX_ATTESTATIONS = 256;
    uint256 internal constant BPS = 10_000;
    uint8 internal constant STATUS_ONLINE = 2;

    // Record tags (`store.rs` / `mining/mod.rs`).
    uint256 internal constant T_TRANCHE = 10;
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

    /// `records::Account` (8 slots at `(T_PROVIDER, keccak256(abi.encode(project, provider)))`).
    struct Acct {
        bytes32 key;
        uint256 claimable;
        uint256 claimed;
        uint256 matured;
        uint256 withdrawnVested;
        uint256 activeAmount;
        uint256 activeWeighted;
        uint64 head;
        uint64 started;
        uint64 tail;
        uint256 totalVesting;
    }

    // ---------------------------------------------------------------------------------------
    // raw storage

    function _slot(uint256 tag, bytes32 key, uint256 field) internal pure returns (uint256 s) {
        bytes32 base = keccak256(abi.encode(tag, key));
        unchecked {
            s = uint256(base) + field; // wrapping, as `U256::wrapping_add`
        }
    }

    function _get(uint256 s) internal view returns (uint256 v) {
        assembly {
            v := sload(s)
        }
    }

    function _set(uint256 s, uint256 v) internal {
        assembly {
            sstore(s, v)
        }
    }

    /// `store::bits` (n ≤ 64).
    function _bits(uint256 w, uint256 off, uint256 n) internal pure returns (uint64) {
        return uint64((w >> off) & ((uint256(1) << n) - 1));
    }

    /// `store::put` (n ≤ 64).
    function _put(uint256 w, uint256 off, uint256 n, uint256 v) internal pure returns (uint256) {
        uint256 mask = (uint256(1) << n) - 1;
        return (w & ~(mask << off)) | ((v & mask) << off);
    }

    function _numKey(uint256 n) internal pure returns (bytes32) {
        return bytes32(n);
    }

    /// `U256::saturating_to::<u64>()`.
    function _sat64(uint256 v) internal pure returns (uint64) {
        return v > type(uint64).max ? type(uint64).max : uint64(v);
    }

    /// The block number as the precompile sees it (`ctx.now`).
    function _now() internal view returns (uint64) {
        return _sat64(block.number);
    }

    // ---------------------------------------------------------------------------------------
    // parameters

    function _params() internal view returns (uint256 w) {
        w = _get(uint256(PARAMS_SLOT));
    }

    function _initialized() internal view returns (bool) {
        return _params() >> 255 == 1;
    }

    function _setParams(uint64 epochBlocks_, uint32 maxProjects_) internal {
        _set(uint256(PARAMS_SLOT), (uint256(1) << 255) | (uint256(maxProjects_) << 64) | uint256(epochBlocks_));
    }

    function _epochBlocks() internal view returns (uint64) {
        return uint64(_params());
    }

    function _maxProjects() internal view returns (uint32) {
        return uint32(_params() >> 64);
    }

    // ---------------------------------------------------------------------------------------
    // checked arithmetic (reverting `ArithmeticOverflow()` like `ck`/`ck2`)

    function _overflow() internal pure {
        revert IProjectMining.ArithmeticOverflow();
    }

    function _add(uint256 a, uint256 b) internal pure returns (uint256 r) {
        unchecked {
            r = a + b;
        }
        if (r < a) _overflow();
    }

    function _sub(uint256 a, uint256 b) internal pure returns (uint256) {
        if (b > a) _overflow();
        unchecked {
            return a - b;
        }
    }

    function _mul(uint256 a, uint256 b) internal pure returns (uint256 r) {
        if (a == 0) return 0;
        unchecked {
            r = a * b;
        }
        if (r / a != b) _overflow();
    }

    function _satSub(uint256 a, uint256 b) internal pure returns (uint256) {
        unchecked {
            return a > b ? a - b : 0;
        }
    }

    /// `math::mul_div`: `a × b / d` rounded down with a 512-bit product; `ok = false` when the
    /// quotient does not fit 256 bits or `d` is zero.
    function _tryMulDiv(uint256 a, uint256 b, uint256 d) internal pure returns (bool ok, uint256 result) {
        if (d == 0) return (false, 0);
        uint256 prod0;
        uint256 prod1;
        assembly {
            let mm := mulmod(a, b, not(0))
            prod0 := mul(a, b)
            prod1 := sub(sub(mm, prod0), lt(mm, prod0))
        }
        if (prod1 == 0) return (true, prod0 / d);
        if (prod1 >= d) return (false, 0);
        unchecked {
            uint256 remainder;
            assembly {
                remainder := mulmod(a, b, d)
                prod1 := sub(prod1, gt(remainder, prod0))
                prod0 := sub(prod0, remainder)
            }
            uint256 twos = d & (~d + 1);
            assembly {
                d := div(d, twos)
                prod0 := div(prod0, twos)
                twos := add(div(sub(0, twos), twos), 1)
            }
            prod0 |= prod1 * twos;
            uint256 inverse = (3 * d) ^ 2;
            inverse *= 2 - d * inverse;
            inverse *= 2 - d * inverse;
            inverse *= 2 - d * inverse;
            inverse *= 2 - d * inverse;
            inverse *= 2 - d * inverse;
            inverse *= 2 - d * inverse;
            result = prod0 * inverse;
        }
        ok = true;
    }

    function _mulDiv(uint256 a, uint256 b, uint256 d) internal pure returns (uint256 r) {
        bool ok;
        (ok, r) = _tryMulDiv(a, b, d);
        if (!ok) _overflow();
    }

    /// `accrued`: weight × acc / ACC_SCALE (checked).
    function _accrued(uint256 weight, uint256 acc) internal pure returns (uint256) {
        return _mulDiv(weight, acc, ACC_SCALE);
    }

    /// `math::split_immediate`: (amount × bps / 10,000, the rest); checked product.
    function _splitImmediate(uint256 amount, uint16 bps) internal pure returns (uint256 now_, uint256 later) {
        now_ = _mul(amount, bps) / BPS;
        later = amount - now_;
    }

    // ---------------------------------------------------------------------------------------
    // projects

    function _projectExists(uint64 id) internal view returns (bool) {
        return _get(_slot(T_PROJECT, _numKey(id), 0)) != 0;
    }

    /// `Project::load`: `ok = false` when slot 0 (the settler word) is zero.
    function _loadProject(uint64 id) internal view returns (bool ok, Proj memory p) {
        bytes32 key = _numKey(id);
        uint256 w0 = _get(_slot(T_PROJECT, key, 0));
        if (w0 == 0) return (false, p);
        ok = true;
        p.id = id;
        p.settler = address(uint160(w0));
        p.creator = address(uint160(_get(_slot(T_PROJECT, key, 1))));
        p.tokensPerBlock = _get(_slot(T_PROJECT, key, 2));
        p.budget = _get(_slot(T_PROJECT, key, 3));
        uint256 w4 = _get(_slot(T_PROJECT, key, 4));
        p.start = _bits(w4, 0, 64);
        p.end = _bits(w4, 64, 64);
        p.last = _bits(w4, 128, 64);
        p.machines = uint32(_bits(w4, 192, 32));
        p.acc = _get(_slot(T_PROJECT, key, 5));
        p.totalWeight = _get(_slot(T_PROJECT, key, 6));
        p.distributed = _get(_slot(T_PROJECT, key, 7));
        p.settled = _get(_slot(T_PROJECT, key, 8));
        uint256 w9 = _get(_slot(T_PROJECT, key, 9));
        p.minMem = uint32(_bits(w9, 0, 32));
        p.minCp = uint32(_bits(w9, 32, 32));
        p.immediateBps = uint16(_bits(w9, 64, 16));
        p.vestingBlocks = _bits(w9, 80, 64);
        p.models = uint8(_bits(w9, 144, 8));
        p.attestor = address(uint160(_get(_slot(T_PROJECT, key, 10))));
    }

    /// `Project::store` (writes all 11 words; the node writes only the changed ones, to the
    /// same resulting state).
    function _storeProject(Proj memory p) internal {
        bytes32 key = _numKey(p.id);
        _set(_slot(T_PROJECT, key, 0), uint256(uint160(p.settler)));
        _set(_slot(T_PROJECT, key, 1), uint256(uint160(p.creator)));
        _set(_slot(T_PROJECT, key, 2), p.tokensPerBlock);
        _set(_slot(T_PROJECT, key, 3), p.budget);
        uint256 w4 = _put(0, 0, 64, p.start);
        w4 = _put(w4, 64, 64, p.end);
        w4 = _put(w4, 128, 64, p.last);
        w4 = _put(w4, 192, 32, p.machines);
        _set(_slot(T_PROJECT, key, 4), w4);
        _set(_slot(T_PROJECT, key, 5), p.acc);
        _set(_slot(T_PROJECT, key, 6), p.totalWeight);
        _set(_slot(T_PROJECT, key, 7), p.distributed);
        _set(_slot(T_PROJECT, key, 8), p.settled);
        uint256 w9 = _put(0, 0, 32, p.minMem);
        w9 = _put(w9, 32, 32, p.minCp);
        w9 = _put(w9, 64, 16, p.immediateBps);
        w9 = _put(w9, 80, 64, p.vestingBlocks);
        w9 = _put(w9, 144, 8, p.models);
        _set(_slot(T_PROJECT, key, 9), w9);
        _set(_slot(T_PROJECT, key, 10), uint256(uint160(p.attestor)));
    }

    /// `Project::models`.
    function _models(Proj memory p) internal view returns (bytes32[] memory models) {
        models = new bytes32[](p.models);
        for (uint256 i; i < models.length; i++) {
            models[i] = bytes32(_get(_slot(T_MODELS, _numKey(p.id), i)));
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
        pos.weight = _get(_slot(T_POSITION, key, 0));
        pos.debt = _get(_slot(T_POSITION, key, 1));
        uint256 w2 = _get(_slot(T_POSITION, key, 2));
        uint256 w3 = _get(_slot(T_POSITION, key, 3));
        pos.provider = address(uint160(w2));
        pos.index = _bits(w2, 160, 64);
        pos.units = _bits(w3, 0, 64);
        pos.attested = _bits(w3, 64, 64);
    }

    function _storePos(Pos memory pos) internal {
        uint256 w2 = _put(uint256(uint160(pos.provider)), 160, 64, pos.index);
        uint256 w3 = _put(_put(0, 0, 64, pos.units), 64, 64, pos.attested);
        _set(_slot(T_POSITION, pos.key, 0), pos.weight);
        _set(_slot(T_POSITION, pos.key, 1), pos.debt);
        _set(_slot(T_POSITION, pos.key, 2), w2);
        _set(_slot(T_POSITION, pos.key, 3), w3);
    }

    // ---------------------------------------------------------------------------------------
    // lists

    /// `list_len`: word 0 of a list record, saturated to u64.
    function _listLen(uint256 tag, bytes32 key) internal view returns (uint64) {
        return _sat64(_get(_slot(tag, key, 0)));
    }

    /// `machine_projects`: the projects a machine is enrolled in.
    function _machineProjects(bytes32 machine) internal view returns (uint64[] memory ids) {
        uint64 n = _listLen(T_MACHINE_PROJECTS, machine);
        ids = new uint64[](n);
        for (uint256 i; i < n; i++) {
            ids[i] = _sat64(_get(_slot(T_MACHINE_PROJECTS, machine, i + 1)));
        }
    }

    // ---------------------------------------------------------------------------------------
    // provider accounts (`records::Account` in the mining account's storage)

    function _providerKey(uint64 project, address provider) internal pure returns (bytes32) {
        return keccak256(abi.encode(uint256(project), provider));
    }

    function _loadAcct(bytes32 key) internal view returns (Acct memory a) {
        a.key = key;
        a.claimable = _get(_slot(T_PROVIDER, key, 0));
        a.claimed = _get(_slot(T_PROVIDER, key, 1));
        a.matured = _get(_slot(T_PROVIDER, key, 2));
        a.withdrawnVested = _get(_slot(T_PROVIDER, key, 3));
        a.activeAmount = _get(_slot(T_PROVIDER, key, 4));
        a.activeWeighted = _get(_slot(T_PROVIDER, key, 5));
        uint256 w6 = _get(_slot(T_PROVIDER, key, 6));
        a.head = _bits(w6, 0, 64);
        a.started = _bits(w6, 64, 64);
        a.tail = _bits(w6, 128, 64);
        a.totalVesting = _get(_slot(T_PROVIDER, key, 7));
    }

    function _storeAcct(Acct memory a) internal {
        _set(_slot(T_PROVIDER, a.key, 0), a.claimable);
        _set(_slot(T_PROVIDER, a.key, 1), a.claimed);
        _set(_slot(T_PROVIDER, a.key, 2), a.matured);
        _set(_slot(T_PROVIDER, a.key, 3), a.withdrawnVested);
        _set(_slot(T_PROVIDER, a.key, 4), a.activeAmount);
        _set(_slot(T_PROVIDER, a.key, 5), a.activeWeighted);
        _set(_slot(T_PROVIDER, a.key, 6), _put(_put(_put(0, 0, 64, a.head), 64, 64, a.started), 128, 64, a.tail));
        _set(_slot(T_PROVIDER, a.key, 7), a.totalVesting);
    }

    /// `Account::tranche_key`: keccak256(key ‖ seq as 8 big-endian bytes).
    function _trancheKey(bytes32 key, uint64 seq) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(key, seq));
    }

    /// `Account::tranche`: (release start, amount).
    function _tranche(bytes32 key, uint64 seq) internal view returns (uint64 start, uint256 amount) {
        bytes32 k = _trancheKey(key, seq);
        start = _sat64(_get(_slot(T_TRANCHE, k, 0)));
        amount = _get(_slot(T_TRANCHE, k, 1));
    }

    /// `Account::add_vesting`: adds `amount` to the tranche that starts releasing at `start`.
    function _addVesting(Acct memory a, uint64 start, uint256 amount) internal {
        if (amount == 0) return;
        a.totalVesting = _add(a.totalVesting, amount);
        if (a.tail > a.started) {
            (uint64 lastStart, uint256 lastAmount) = _tranche(a.key, a.tail - 1);
            if (lastStart == start) {
                _set(_slot(T_TRANCHE, _trancheKey(a.key, a.tail - 1), 1), _add(lastAmount, amount));
                return;
            }
        }
        bytes32 k = _trancheKey(a.key, a.tail);
        _set(_slot(T_TRANCHE, k, 0), start);
        _set(_slot(T_TRANCHE, k, 1), amount);
        unchecked {
            a.tail += 1;
        }
    }

    /// `Account::refresh`: moves started tranches into the active sums and released ones into
    /// `matured` (in memory); returns the vested total now.
    function _refresh(Acct memory a, uint64 vestingBlocks) internal view returns (uint256) {
        uint64 now_ = _now();
        while (a.started < a.tail) {
            (uint64 start, uint256 amount) = _tranche(a.key, a.started);
            if (start > now_) break;
            a.activeAmount = _add(a.activeAmount, amount);
            a.activeWeighted = _add(a.activeWeighted, _mul(amount, start));
            unchecked {
                a.started += 1;
            }
        }
        while (a.head < a.started) {
            (uint64 start, uint256 amount) = _tranche(a.key, a.head);
            uint256 until = uint256(start) + vestingBlocks;
            if (until > type(uint64).max) until = type(uint64).max; // u64::saturating_add
            if (until > now_) break;
            a.activeAmount = _sub(a.activeAmount, amount);
            a.activeWeighted = _sub(a.activeWeighted, _mul(amount, start));
            a.matured = _add(a.matured, amount);
            unchecked {
                a.head += 1;
            }
        }
        uint256 releasing = _sub(_mul(a.activeAmount, now_), a.activeWeighted) / vestingBlocks;
        return _add(a.matured, releasing);
    }
}
