// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../src/interfaces/IGpuMarket.sol";
import {IProjectMining} from "../src/interfaces/IProjectMining.sol";
import {ProjectToken, ProjectTokenFactory} from "../src/ProjectToken.sol";

/// @title Example AI dApp: an inference marketplace that mines its own token on DBC GPUs
/// @notice The dApp issues its token through the factory (a mining program that rewards GPU
/// providers for serving it). Users submit inference jobs: they pay the GPU rent in DBC (the dApp
/// rents from the market in its own name) and the dApp's fee in its token; of that fee the share
/// given by the market's `burnRateBps()` (30% / 70% / 100% by online GPUs) is burned and the rest
/// paid to the machine's provider.
contract InferenceMarket {
    IGpuMarket public constant MARKET = IGpuMarket(0x0000000000000000000000000000000000000d01);

    address public immutable operator;
    /// Token fee per GPU-block of a job.
    uint256 public immutable feePerBlock;
    ProjectToken public token;
    uint256 public projectId;
    uint256 public jobs;

    event Initialized(address token, uint256 projectId);
    event JobSubmitted(
        uint256 indexed jobId,
        address indexed user,
        bytes32 indexed machineId,
        uint256 rentalId,
        uint256 fee,
        uint256 burned,
        uint256 toProvider
    );

    error NotOperator();
    error AlreadyInitialized();
    error RentTooLow(uint256 required, uint256 sent);
    error TransferFailed();

    constructor(uint256 feePerBlock_) {
        operator = msg.sender;
        feePerBlock = feePerBlock_;
    }

    /// Issues the dApp's token and starts its mining program (one call, through the factory).
    function init(
        ProjectTokenFactory factory,
        string calldata name,
        string calldata symbol,
        uint256 tokensPerBlock,
        uint256 budget,
        uint64 endBlock,
        IProjectMining.Requirements calldata requirements
    ) external {
        if (msg.sender != operator) revert NotOperator();
        if (address(token) != address(0)) revert AlreadyInitialized();
        (token, projectId) = factory.create(name, symbol, tokensPerBlock, budget, endBlock, requirements);
        emit Initialized(address(token), projectId);
    }

    /// Runs a job on one GPU of `machineId` for `blocks` blocks.
    function submitJob(bytes32 machineId, uint64 blocks) external payable returns (uint256 jobId) {
        uint256 rent = MARKET.quote(machineId, 1, blocks);
        if (msg.value < rent) revert RentTooLow(rent, msg.value);
        uint256 rentalId = MARKET.rent{value: rent}(machineId, 1, blocks);
        uint256 fee = feePerBlock * blocks;
        if (!token.transferFrom(msg.sender, address(this), fee)) revert TransferFailed();
        uint256 burned = fee * MARKET.burnRateBps() / 10_000;
        token.burn(burned);
        address provider = MARKET.getMachine(machineId).owner;
        if (!token.transfer(provider, fee - burned)) revert TransferFailed();
        jobId = ++jobs;
        emit JobSubmitted(jobId, msg.sender, machineId, rentalId, fee, burned, fee - burned);
        if (msg.value > rent) {
            (bool ok,) = msg.sender.call{value: msg.value - rent}("");
            if (!ok) revert TransferFailed();
        }
    }
}
