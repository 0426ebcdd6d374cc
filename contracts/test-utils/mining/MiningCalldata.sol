// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// Decoding of `IProjectMining` calldata by the rules of the node's decoder, alloy-sol-types'
/// non-validating `SolInterface::abi_decode` (`mining::dispatch`), so that every calldata the
/// node refuses with `UnknownSelector` is refused here too, and every calldata it accepts is
/// accepted with the same values:
/// - a static word must lie within the calldata; narrower integers and addresses keep their
///   low bits (dirty high bits are ignored, not refused as Solidity's decoder refuses them);
/// - an offset or an array length must fit 64 bits (its high 24 bytes zero); an offset points
///   into the enclosing tuple's data (at most its end); an array's `len` words must follow its
///   length word within the calldata;
/// - trailing bytes are ignored.
/// Positions below are byte offsets into the arguments (`msg.data[4:]`).
abstract contract MiningCalldata {
    struct RegisterArgs {
        uint256 tokensPerBlock;
        uint256 budget;
        uint64 endBlock;
        uint32 minGpuMemoryGb;
        uint32 minCalcPoint;
        bytes32[] gpuModels;
        uint16 immediateBps;
        uint64 vestingBlocks;
    }

    struct AttestArgs {
        uint256 projectId;
        uint64 epoch;
        bytes32[] machineIds;
        uint64[] units;
    }

    /// Bytes of arguments (callers have checked `msg.data.length >= 4`).
    function _argLen() internal pure returns (uint256) {
        return msg.data.length - 4;
    }

    /// The argument word at byte `pos` (callers check it lies within the calldata).
    function _word(uint256 pos) internal pure returns (uint256 v) {
        assembly {
            v := calldataload(add(4, pos))
        }
    }

    /// Whether the arguments hold `words` static head words.
    function _hasWords(uint256 words) internal pure returns (bool) {
        return _argLen() >= words * 32;
    }

    /// A dynamic array whose offset word is at `head`, relative to the enclosing tuple at
    /// `base`: (valid, position of element 0, length).
    function _dynArray(uint256 base, uint256 head) internal pure returns (bool ok, uint256 start, uint256 len) {
        uint256 total = _argLen();
        if (head + 32 > total) return (false, 0, 0);
        uint256 off = _word(head);
        if (off >> 64 != 0 || off > total - base) return (false, 0, 0);
        uint256 at = base + off;
        if (at + 32 > total) return (false, 0, 0);
        len = _word(at);
        if (len >> 64 != 0) return (false, 0, 0);
        start = at + 32;
        if (len > (total - start) / 32) return (false, 0, 0);
        ok = true;
    }

    /// `registerProject(uint256,uint256,uint64,(uint32,uint32,bytes32[]),(uint16,uint64))`.
    function _decodeRegister() internal pure returns (bool ok, RegisterArgs memory a) {
        if (!_hasWords(6)) return (false, a);
        uint256 total = _argLen();
        a.tokensPerBlock = _word(0);
        a.budget = _word(32);
        a.endBlock = uint64(_word(64));
        // `requirements`: a dynamic tuple behind an offset.
        uint256 req = _word(96);
        if (req >> 64 != 0 || req > total || req + 96 > total) return (false, a);
        a.minGpuMemoryGb = uint32(_word(req));
        a.minCalcPoint = uint32(_word(req + 32));
        (bool arrOk, uint256 start, uint256 len) = _dynArray(req, req + 64);
        if (!arrOk) return (false, a);
        a.gpuModels = new bytes32[](len);
        for (uint256 i; i < len; i++) {
            a.gpuModels[i] = bytes32(_word(start + 32 * i));
        }
        // `release`: a static tuple in place.
        a.immediateBps = uint16(_word(128));
        a.vestingBlocks = uint64(_word(160));
        ok = true;
    }

    /// `attestWork(uint256,uint64,bytes32[],uint64[])`.
    function _decodeAttest() internal pure returns (bool ok, AttestArgs memory a) {
        if (!_hasWords(4)) return (false, a);
        a.projectId = _word(0);
        a.epoch = uint64(_word(32));
        (bool okIds, uint256 idsAt, uint256 idsLen) = _dynArray(0, 64);
        if (!okIds) return (false, a);
        (bool okUnits, uint256 unitsAt, uint256 unitsLen) = _dynArray(0, 96);
        if (!okUnits) return (false, a);
        a.machineIds = new bytes32[](idsLen);
        for (uint256 i; i < idsLen; i++) {
            a.machineIds[i] = bytes32(_word(idsAt + 32 * i));
        }
        a.units = new uint64[](unitsLen);
        for (uint256 i; i < unitsLen; i++) {
            a.units[i] = uint64(_word(unitsAt + 32 * i));
        }
        ok = true;
    }

    /// Static argument `i` (0-based) as a `bytes32`, `uint256` or the low 160 bits (address).
    function _argU256(uint256 i) internal pure returns (uint256) {
        return _word(32 * i);
    }

    function _argAddr(uint256 i) internal pure returns (address) {
        return address(uint160(_word(32 * i)));
    }
}
