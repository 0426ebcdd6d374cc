// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "./interfaces/IGpuMarket.sol";

/// @title Rental escrow: how a dApp rents GPUs for its users through the market precompile
/// @notice A client pays the escrow; the escrow rents from the market in its own name and keeps
/// who the client is. Ending early returns the market's pro-rata refund to the client. The
/// market pays refunds as plain balance credits (no code runs), so the escrow measures them as a
/// balance difference and needs no `receive` function.
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
        rentalId = MARKET.rent{value: cost}(machineId, gpus, blocks);
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

    /// Ends the caller's rental now and forwards the refund.
    function end(uint256 rentalId) external returns (uint256 refund) {
        if (clientOf[rentalId] != msg.sender) revert NotClient(rentalId);
        uint256 before = address(this).balance;
        MARKET.endRental(rentalId);
        refund = address(this).balance - before;
        emit EscrowEnded(rentalId, msg.sender, refund);
        _pay(msg.sender, refund);
    }

    function _pay(address to, uint256 amount) private {
        if (amount == 0) return;
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert PayoutFailed();
    }
}
