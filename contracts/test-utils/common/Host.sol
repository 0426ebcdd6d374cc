// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {sat64} from "./CheckedMath.sol";

// What the node's host gives a precompile and the EVM does not give a contract, rebuilt the
// same way by the three stand-ins: the block number as a u64, value moves that run no code of
// the recipient (and are undone with the calling frame), and knowing whether the call is static;
// and the canonical-signature bound of the signatures the market and staking check.

// secp256k1n / 2: the largest `s` of a canonical (low-s) signature
// (`dbc_primitives::pos::canonical_signature`).
uint256 constant SECP256K1_HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

/// The block number as a precompile sees it (`ctx.now`: saturated to u64).
function blockNow() view returns (uint64) {
    return sat64(block.number);
}

// ---- value carriers ----
// The node credits a payee without running its code and burns by lowering the precompile's
// balance. Here a payment is a contract CREATEd with the amount whose init code SELFDESTRUCTs to
// the payee (EIP-6780: created in this transaction, so it is deleted and its balance credited
// without running the payee's code), and a burn is one that SELFDESTRUCTs to itself (the value
// leaves the supply). Unlike `vm.deal`, which Foundry does not journal, both are undone when an
// enclosing frame reverts, as revm undoes the node's transfers. Each CREATE bumps the stand-in's
// nonce and shows in traces.

/// Pays `amount` out of this account's balance to `to`; false (nothing moved) if the balance
/// is too low or the carrier could not be created. A zero amount moves nothing and succeeds.
function payByCarrier(address to, uint256 amount) returns (bool) {
    if (amount == 0) return true;
    return launchCarrier(abi.encodePacked(hex"73", to, hex"ff"), amount); // PUSH20 to; SELFDESTRUCT
}

/// Burns `amount` of this account's balance; false as `payByCarrier`.
function burnByCarrier(uint256 amount) returns (bool) {
    if (amount == 0) return true;
    return launchCarrier(hex"30ff", amount); // ADDRESS; SELFDESTRUCT (to itself, in its creation tx)
}

/// CREATEs a carrier running `initCode` with `amount`, if the balance covers it.
function launchCarrier(bytes memory initCode, uint256 amount) returns (bool) {
    address created;
    assembly {
        if iszero(lt(selfbalance(), amount)) {
            created := create(amount, add(initCode, 0x20), mload(initCode))
        }
    }
    return created != address(0);
}

// ---- static-context probe ----
// The node is told whether a call is static; a contract is not. A stand-in finds out by calling
// itself with `probe` and `gasLimit` gas; its fallback answers that self-call (and only that
// one) with `answerStaticProbe`, a TSTORE, which fails inside a STATICCALL. So the probe fails
// in a static context, and also when the caller leaves too little gas for it.

/// Whether the running call is in a static context (see above).
function inStaticContext(bytes4 probe, uint256 gasLimit) returns (bool) {
    bool ok;
    assembly {
        mstore(0, probe) // the 4-byte calldata, in the scratch space
        ok := call(gasLimit, address(), 0, 0, 4, 0, 0)
    }
    return !ok;
}

/// The probe's answer: a transient write (of `value` to transient slot `tslot`).
function answerStaticProbe(uint256 tslot, uint256 value) {
    assembly {
        tstore(tslot, value)
    }
}
