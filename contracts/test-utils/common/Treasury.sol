// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {DBC_GOVERNANCE} from "../DbcAddresses.sol";
import {payByCarrier} from "./Host.sol";

// The treasury inflow shared by the market and staking stand-ins (the node's
// `treasury::receive(ctx, source, from, amount)`): the treasury is the balance of the
// governance precompile `0x…0D04` (`GovernanceSol`), and every inflow is counted there by
// source and logged from there (`IGovernance.TreasuryReceived`). Also the burn floor's
// reservation (`supply::burn_capped`): how much of a burn the supply ledger kept by
// `GovernanceSol` still allows in this block.

// Inflow source of a burn the burn floor stopped (`treasury::source::BURN_FLOOR`).
uint8 constant SOURCE_BURN_FLOOR = 8;

/// The entry of `GovernanceSol` through which the market and staking stand-ins (and nobody
/// else: any other caller gets `UnknownSelector`) have an inflow they paid counted: adds
/// `amount` to the total of `source` and to `G_RECEIVED`, and emits
/// `TreasuryReceived(source, from, amount)` if `log`. Not a selector of the node's precompile.
interface ITreasuryCredit {
    function governanceSolCredit(uint8 source, address from, uint256 amount, bool log) external;

    /// The first half of `supply::burn_capped`, for the same two callers: `burned` =
    /// min(`amount`, `burnHeadroom()`), added to the block's pending burns (`G_PENDING_BURN`).
    /// The caller then burns `burned` and pays the rest to the treasury (source 8). Not a
    /// selector of the node's precompile.
    function governanceSolReserveBurn(uint256 amount) external returns (uint256 burned);
}

/// `treasury::receive`: pays `amount` out of the calling stand-in's balance to `DBC_GOVERNANCE`
/// (a value carrier: no code runs, a revert undoes it) and has it counted there, with the log
/// unless `log` is false (the market's block hook, whose logs the stand-in drops). Nothing
/// happens for a zero amount. False (nothing moved) if the balance cannot cover `amount`. If no
/// code is installed at `DBC_GOVERNANCE` the value still moves, uncounted.
function treasuryReceive(uint8 source, address from, uint256 amount, bool log) returns (bool) {
    if (amount == 0) return true;
    if (!payByCarrier(DBC_GOVERNANCE, amount)) return false;
    if (DBC_GOVERNANCE.code.length == 0) return true;
    (bool ok, bytes memory ret) =
        DBC_GOVERNANCE.call(abi.encodeCall(ITreasuryCredit.governanceSolCredit, (source, from, amount, log)));
    if (!ok) {
        assembly {
            revert(add(ret, 32), mload(ret))
        }
    }
    return true;
}

/// `supply::burn_capped`, up to the burn: how much of `amount` the calling stand-in may burn
/// now without taking the supply below the burn floor, counted in the block's pending burns
/// at `DBC_GOVERNANCE`. The caller must then burn exactly `burned` and pay `amount − burned`
/// to the treasury with `treasuryReceive(SOURCE_BURN_FLOOR, itself, …)`, in that order. 0 for
/// a zero amount. Without code at `DBC_GOVERNANCE` all of it (as the node's unit tests, which
/// run a precompile without supply rules).
function reserveBurn(uint256 amount) returns (uint256 burned) {
    if (amount == 0) return 0;
    if (DBC_GOVERNANCE.code.length == 0) return amount;
    (bool ok, bytes memory ret) =
        DBC_GOVERNANCE.call(abi.encodeCall(ITreasuryCredit.governanceSolReserveBurn, (amount)));
    if (!ok) {
        assembly {
            revert(add(ret, 32), mload(ret))
        }
    }
    return abi.decode(ret, (uint256));
}
