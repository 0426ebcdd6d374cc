// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../src/interfaces/IGpuMarket.sol";
import {IProjectMining} from "../src/interfaces/IProjectMining.sol";

// Attacker contracts of the GPU market's economic attack suite (issue #16 item 7), deployed
// and driven on a live dev node by `bin/dbc-node/tests/attacks_evm.rs`. Each tries an attack of
// the security review through the EVM; the test shows it is refused or earns nothing.

/// A provider's second identity: it rents the provider's own machine to farm the rented bonus
/// (H7), names the provider as beneficiary, floods the hook queue with rent-and-end cycles (M5),
/// and counts any code the market runs on it (refunds are plain balance credits: none).
contract WashRenter {
    IGpuMarket internal constant MARKET = IGpuMarket(0x0000000000000000000000000000000000000d01);

    address public immutable provider;
    /// Times the market ran this contract's code (a refund that called back would count).
    uint256 public callbacks;
    uint256[] public rentals;

    error Forbidden();

    constructor() payable {
        provider = msg.sender;
    }

    receive() external payable {
        callbacks += 1;
    }

    modifier onlyProvider() {
        if (msg.sender != provider) revert Forbidden();
        _;
    }

    /// `rentFor` with the provider (the machine's owner) as beneficiary.
    function rentForProvider(bytes32 machineId, uint32 gpus, uint64 blocks)
        external
        onlyProvider
        returns (uint256)
    {
        uint256 price = MARKET.quote(machineId, gpus, blocks);
        return MARKET.rentFor{value: price}(machineId, gpus, blocks, provider);
    }

    /// Rents at the quoted price.
    function rent(bytes32 machineId, uint32 gpus, uint64 blocks) external onlyProvider returns (uint256 id) {
        uint256 price = MARKET.quote(machineId, gpus, blocks);
        id = MARKET.rent{value: price}(machineId, gpus, blocks);
        rentals.push(id);
    }

    function end(uint256 rentalId) external onlyProvider {
        MARKET.endRental(rentalId);
    }

    /// Extends a rental at the machine's current price (M1: once refunds were blended over all
    /// segments, extending after a price rise and ending at once refunded consumed rent).
    function extend(uint256 rentalId, uint64 blocks) external onlyProvider {
        IGpuMarket.Rental memory r = MARKET.getRental(rentalId);
        uint256 price = MARKET.quote(r.machineId, r.gpus, blocks);
        MARKET.extendRental{value: price}(rentalId, blocks);
    }

    /// `n` rentals of `blocks` started and ended in this one transaction, all due at the same
    /// block: each would leave an item in the hook queue if ending did not remove it.
    function flood(bytes32 machineId, uint64 blocks, uint256 n) external onlyProvider {
        uint256 price = MARKET.quote(machineId, 1, blocks);
        for (uint256 i = 0; i < n; i++) {
            uint256 id = MARKET.rent{value: price}(machineId, 1, blocks);
            MARKET.endRental(id);
        }
    }

    function rentalCount() external view returns (uint256) {
        return rentals.length;
    }

    /// Everything back to the provider.
    function withdraw() external onlyProvider {
        (bool ok,) = provider.call{value: address(this).balance}("");
        if (!ok) revert Forbidden();
    }
}

/// A "poison" mining project at the largest allowed parameters (H5), whose attestor gives the
/// provider's machine the largest weight it can: the market must still let the machine go
/// offline, come back, be rented, and leave the project.
contract PoisonProject {
    IProjectMining internal constant MINING = IProjectMining(0x0000000000000000000000000000000000000d02);

    uint256 public projectId;

    function register() external {
        IProjectMining.Requirements memory any;
        projectId = MINING.registerProject(
            type(uint128).max,
            type(uint128).max,
            uint64(block.number + 1_000_000_000),
            any,
            IProjectMining.Release({immediateBps: 10_000, vestingBlocks: 0})
        );
    }

    /// Attests the most work a machine can have for the last completed epoch.
    function attestMax(bytes32 machineId) external {
        bytes32[] memory ids = new bytes32[](1);
        ids[0] = machineId;
        uint64[] memory units = new uint64[](1);
        units[0] = type(uint64).max;
        uint64 epoch = uint64(block.number / MINING.epochBlocks() - 1);
        MINING.attestWork(projectId, epoch, ids, units);
    }
}

/// Relays heartbeats (anyone may): what makes one valid is the machine key's signature over a
/// recent block, never who sends it. A cron job with the owner's key, or an old signature, fails.
contract HeartbeatRelay {
    IGpuMarket internal constant MARKET = IGpuMarket(0x0000000000000000000000000000000000000d01);

    function relay(bytes32 machineId, uint64 blockNumber, bytes calldata signature) external {
        MARKET.heartbeat(machineId, blockNumber, signature);
    }
}

/// Calls the market the ways a contract may not: DELEGATECALL (which would run the market on
/// this contract's storage) and a state change inside STATICCALL.
contract ContextAbuser {
    address internal constant MARKET = 0x0000000000000000000000000000000000000d01;

    /// Returns whether each attempt succeeded and its revert data.
    function abuse(bytes32 machineId)
        external
        returns (bool delegated, bytes memory delegateErr, bool staticWrite, bytes memory staticErr)
    {
        bytes memory data = abi.encodeCall(IGpuMarket.goOffline, (machineId));
        (delegated, delegateErr) = MARKET.delegatecall(data);
        (staticWrite, staticErr) = MARKET.staticcall(data);
    }
}
