// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {slot, get, set, loadWords, storeWords} from "./StoreLib.sol";
import {cadd, csub, cmul, sat64, satAdd64} from "./CheckedMath.sol";
import {blockNow} from "./Host.sol";

// Rewards of an account, the node's `records::Account`, shared as in the node by the market
// (a provider's or auditor's rewards at `(T_ACCOUNT, address)`) and project mining (a provider's
// rewards in one project at `(T_PROVIDER, keccak256(project, provider))`, in mining's storage):
// the immediate share and the vesting tranches.
//
// Tranche `k` holds the vesting share of the rewards settled during one epoch; it releases
// linearly over `vestingBlocks` from its start. Tranches `head..started` are releasing and
// summarised by `activeAmount` (Σ amount) and `activeWeighted` (Σ amount × start), so the
// vested total is `matured + (activeAmount × now − activeWeighted) / vestingBlocks`.

// Tag of the vesting tranches (`store::T_TRANCHE`), in the storage of the account's owner.
uint256 constant T_TRANCHE = 10;

// Words of an account record.
uint256 constant ACCOUNT_SLOTS = 8;

/// `records::Account` (8 slots at `(tag, key)`; word 6 packs head, started and tail as u64s).
/// Loaded whole and written back slot by slot where it changed (`orig`), as the Rust `Slots`.
struct Account {
    uint256 tag;
    bytes32 key;
    uint256[] orig;
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

/// `Account::load_keyed`: the rewards record `(tag, key)` of the running stand-in.
function loadAccount(uint256 tag, bytes32 key) view returns (Account memory a) {
    uint256[] memory w = loadWords(tag, key, ACCOUNT_SLOTS);
    a.tag = tag;
    a.key = key;
    a.orig = w;
    a.claimable = w[0];
    a.claimed = w[1];
    a.matured = w[2];
    a.withdrawnVested = w[3];
    a.activeAmount = w[4];
    a.activeWeighted = w[5];
    a.head = uint64(w[6]);
    a.started = uint64(w[6] >> 64);
    a.tail = uint64(w[6] >> 128);
    a.totalVesting = w[7];
}

/// `Account::store`.
function storeAccount(Account memory a) {
    uint256[] memory w = new uint256[](ACCOUNT_SLOTS);
    w[0] = a.claimable;
    w[1] = a.claimed;
    w[2] = a.matured;
    w[3] = a.withdrawnVested;
    w[4] = a.activeAmount;
    w[5] = a.activeWeighted;
    w[6] = uint256(a.head) | (uint256(a.started) << 64) | (uint256(a.tail) << 128);
    w[7] = a.totalVesting;
    storeWords(a.tag, a.key, a.orig, w);
}

/// `Account::tranche_key`: keccak256(key ‖ seq as 8 big-endian bytes).
function trancheKey(Account memory a, uint64 seq) pure returns (bytes32) {
    return keccak256(abi.encodePacked(a.key, seq));
}

/// `Account::tranche`: tranche `seq` as (release start, amount).
function tranche(Account memory a, uint64 seq) view returns (uint64 start, uint256 amount) {
    bytes32 key = trancheKey(a, seq);
    start = sat64(get(slot(T_TRANCHE, key, 0)));
    amount = get(slot(T_TRANCHE, key, 1));
}

/// `Account::add_vesting`: adds `amount` to the tranche that starts releasing at `start`.
function addVesting(Account memory a, uint64 start, uint256 amount) {
    if (amount == 0) return;
    a.totalVesting = cadd(a.totalVesting, amount);
    if (a.tail > a.started) {
        (uint64 lastStart, uint256 lastAmount) = tranche(a, a.tail - 1);
        if (lastStart == start) {
            set(slot(T_TRANCHE, trancheKey(a, a.tail - 1), 1), cadd(lastAmount, amount));
            return;
        }
    }
    bytes32 key = trancheKey(a, a.tail);
    set(slot(T_TRANCHE, key, 0), uint256(start));
    set(slot(T_TRANCHE, key, 1), amount);
    unchecked {
        a.tail += 1; // wraps as the node's release build (2^64 tranches: unreachable)
    }
}

/// `Account::refresh`: moves started tranches into the active sums and released ones into
/// `matured` (in memory only; the caller stores `a`); returns the vested total now.
function refresh(Account memory a, uint64 vestingBlocks) view returns (uint256) {
    uint64 now_ = blockNow();
    while (a.started < a.tail) {
        (uint64 start, uint256 amount) = tranche(a, a.started);
        if (start > now_) break;
        a.activeAmount = cadd(a.activeAmount, amount);
        a.activeWeighted = cadd(a.activeWeighted, cmul(amount, start));
        a.started += 1;
    }
    while (a.head < a.started) {
        (uint64 start, uint256 amount) = tranche(a, a.head);
        if (satAdd64(start, vestingBlocks) > now_) break;
        a.activeAmount = csub(a.activeAmount, amount);
        a.activeWeighted = csub(a.activeWeighted, cmul(amount, start));
        a.matured = cadd(a.matured, amount);
        a.head += 1;
    }
    uint256 releasing = csub(cmul(a.activeAmount, now_), a.activeWeighted) / vestingBlocks;
    return cadd(a.matured, releasing);
}
