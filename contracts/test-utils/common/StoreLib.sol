// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {cadd, csub} from "./CheckedMath.sol";

// The node's storage layout primitives (`crates/precompiles/src/store.rs`), shared by the three
// stand-ins as the Rust market, mining and staking share them: records at
// `keccak256(abi.encode(tag, key)) + field`, globals at small slot numbers, small fields
// bit-packed into words, raw SLOAD/SSTORE on the stand-in's own account (which is the
// precompile's address, so `vm.load` reads what `eth_getStorageAt` reads on a node).

/// Slot of field `field` of the record `(tag, key)` (`store::slot`; wrapping add).
function slot(uint256 tag, bytes32 key, uint256 field) pure returns (uint256 s) {
    assembly {
        // keccak256(abi.encode(tag, key)), hashed in the scratch space
        mstore(0, tag)
        mstore(32, key)
        s := add(keccak256(0, 64), field)
    }
}

/// Record key of a number (`store::num_key`).
function numKey(uint256 n) pure returns (bytes32) {
    return bytes32(n);
}

/// Record key of an address (`store::addr_key`).
function addrKey(address a) pure returns (bytes32) {
    return bytes32(uint256(uint160(a)));
}

/// Address from a word (`store::to_addr`).
function toAddr(uint256 w) pure returns (address) {
    return address(uint160(w));
}

/// `store::bits`: `n` (≤ 64) bits at `off` of a packed word.
function bits(uint256 w, uint256 off, uint256 n) pure returns (uint64) {
    return uint64((w >> off) & ((uint256(1) << n) - 1));
}

/// `store::put`: `w` with `v` written into its `n` (≤ 64) bits at `off`.
function put(uint256 w, uint256 off, uint256 n, uint256 v) pure returns (uint256) {
    uint256 mask = (uint256(1) << n) - 1;
    return (w & ~(mask << off)) | ((v & mask) << off);
}

/// `Ctx::get`.
function get(uint256 s) view returns (uint256 v) {
    assembly {
        v := sload(s)
    }
}

/// `Ctx::set`.
function set(uint256 s, uint256 v) {
    assembly {
        sstore(s, v)
    }
}

/// `Ctx::g`: global counter `n` (slot `n`).
function g(uint256 n) view returns (uint256) {
    return get(n);
}

/// `Ctx::set_g`.
function setG(uint256 n, uint256 v) {
    set(n, v);
}

/// `Ctx::add_g`: adds (or, with `sub`, subtracts) `delta` to global counter `n`, checked;
/// returns the new value.
function addG(uint256 n, uint256 delta, bool sub) returns (uint256 next) {
    uint256 cur = g(n);
    next = sub ? csub(cur, delta) : cadd(cur, delta);
    setG(n, next);
}

/// `Slots::load`: the `count` words of record `(tag, key)`.
function loadWords(uint256 tag, bytes32 key, uint256 count) view returns (uint256[] memory w) {
    w = new uint256[](count);
    uint256 base = slot(tag, key, 0);
    unchecked {
        for (uint256 i; i < count; i++) {
            w[i] = get(base + i);
        }
    }
}

/// `Slots::store`: writes back the words of `w` that differ from `orig` (and updates `orig`),
/// so a record loaded earlier only overwrites the slots it changed.
function storeWords(uint256 tag, bytes32 key, uint256[] memory orig, uint256[] memory w) {
    uint256 base = slot(tag, key, 0);
    unchecked {
        for (uint256 i; i < w.length; i++) {
            if (w[i] != orig[i]) {
                set(base + i, w[i]);
                orig[i] = w[i];
            }
        }
    }
}
