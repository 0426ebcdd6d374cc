// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "./interfaces/IGpuMarket.sol";

/// @title Rental escrow: how a dApp rents GPUs for its users through the market precompile
/// @notice A client pays the escrow; the escrow rents from the market with `rentFor`, naming the
/// client as the rental's beneficiary, and keeps who the client is. The market pays everything
/// that comes back from a rental straight to the client: the refund when the rental ends (early
/// through `end`, at a confirmed fault, or never for a rental that runs out) and the renter's
/// share of a slash. The client reports a fault to the market itself (`reportFault` with its own
/// deposit, which comes back to it). So the escrow never holds anybody's funds: after every call
/// its balance is what it was before.
contract RentalEscrow {
    IGpuMarket public constant MARKET = IGpuMarket(0x0000000000000000000000000000000000000d01);

    mapping(uint256 => address) public clientOf;
    uint256 public rentals;

    event EscrowRented(uint256 indexed rentalId, address indexed client, bytes32 indexed machineId, uint256 paid);
    event EscrowExtended(uint256 indexed rentalId, uint256 paid);
    event EscrowEnded(uint256 indexed rentalId, address indexed client, uint256 refund);

    error NotClient(uint256 rentalId);
    error Underpaid(uint256 required, uint256 sent);
    error PayoutFailed();

    /// Rents `gpus` GPUs of `machineId` for `blocks` blocks for the caller; excess is returned.
    function rent(bytes32 machineId, uint32 gpus, uint64 blocks) external payable returns (uint256 rentalId) {
        uint256 cost = MARKET.quote(machineId, gpus, blocks);
        if (msg.value < cost) revert Underpaid(cost, msg.value);
        rentalId = MARKET.rentFor{value: cost}(machineId, gpus, blocks, msg.sender);
        clientOf[rentalId] = msg.sender;
        rentals += 1;
        emit EscrowRented(rentalId, msg.sender, machineId, cost);
        _pay(msg.sender, msg.value - cost);
    }

    /// Extends the caller's rental by `blocks` blocks.
    function extend(uint256 rentalId, uint64 blocks) external payable {
        if (clientOf[rentalId] != msg.sender) revert NotClient(rentalId);
        IGpuMarket.Rental memory r = MARKET.getRental(rentalId);
        uint256 cost = MARKET.quote(r.machineId, r.gpus, blocks);
        if (msg.value < cost) revert Underpaid(cost, msg.value);
        MARKET.extendRental{value: cost}(rentalId, blocks);
        emit EscrowExtended(rentalId, cost);
        _pay(msg.sender, msg.value - cost);
    }

    /// Ends the caller's rental now; the market refunds the unused rent to the caller.
    function end(uint256 rentalId) external returns (uint256 refund) {
        if (clientOf[rentalId] != msg.sender) revert NotClient(rentalId);
        MARKET.endRental(rentalId);
        refund = MARKET.getRental(rentalId).refunded;
        emit EscrowEnded(rentalId, msg.sender, refund);
    }

    function _pay(address to, uint256 amount) private {
        if (amount == 0) return;
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert PayoutFailed();
    }
}
