// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../src/interfaces/IGpuMarket.sol";
import {IProjectMining} from "../src/interfaces/IProjectMining.sol";
import {ProjectToken, ProjectTokenFactory} from "../src/ProjectToken.sol";

/// @title Example AI dApp: an inference marketplace that mines its own token on DBC GPUs
/// @notice The dApp issues its token through the factory (a mining program that rewards GPU
/// providers for serving it) and is the program's attestor. Users submit inference jobs: they pay
/// the GPU rent in DBC (the dApp rents from the market on the user's behalf with `rentFor`, so the
/// market refunds the user if the machine fails and refuses a provider renting its own machine
/// through the dApp to buy mining work) and the dApp's fee in its
/// token; of that fee the share given by the market's `burnRateBps()` (30% / 70% / 100% by online
/// GPUs) is burned and the rest paid to the machine's provider. The dApp records the GPU-blocks
/// its jobs rent per epoch and machine; after the epoch anyone may `attest` them, so each
/// machine mines by the work it served (its grade × GPU-blocks). Nobody holds the token until
/// mining pays, so the operator starts with a fee of 0 and raises it later (`setFee`).
contract InferenceMarket {
    IGpuMarket public constant MARKET = IGpuMarket(0x0000000000000000000000000000000000000d01);
    IProjectMining public constant MINING = IProjectMining(0x0000000000000000000000000000000000000d02);

    address public immutable operator;
    /// Token fee per GPU-block of a job (0: no fee, only the rent).
    uint256 public feePerBlock;
    ProjectToken public token;
    uint256 public projectId;
    uint256 public jobs;
    /// GPU-blocks rented by the jobs submitted in an epoch, per machine.
    mapping(uint64 epoch => mapping(bytes32 machineId => uint64)) public work;

    event Initialized(address token, uint256 projectId);
    event FeeSet(uint256 feePerBlock);
    event JobSubmitted(
        uint256 indexed jobId,
        address indexed user,
        bytes32 indexed machineId,
        uint256 rentalId,
        uint256 fee,
        uint256 burned,
        uint256 toProvider
    );
    event Attested(uint64 indexed epoch, bytes32[] machineIds, uint64[] units);

    error NotOperator();
    error AlreadyInitialized();
    error RentTooLow(uint256 required, uint256 sent);
    error TransferFailed();

    constructor(uint256 feePerBlock_) {
        operator = msg.sender;
        feePerBlock = feePerBlock_;
    }

    /// Issues the dApp's token and starts its mining program, with this contract as its
    /// attestor (one call, through the factory).
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

    function setFee(uint256 feePerBlock_) external {
        if (msg.sender != operator) revert NotOperator();
        feePerBlock = feePerBlock_;
        emit FeeSet(feePerBlock_);
    }

    /// Runs a job on one GPU of `machineId` for `blocks` blocks.
    function submitJob(bytes32 machineId, uint64 blocks) external payable returns (uint256 jobId) {
        uint256 rent = MARKET.quote(machineId, 1, blocks);
        if (msg.value < rent) revert RentTooLow(rent, msg.value);
        uint256 rentalId = MARKET.rentFor{value: rent}(machineId, 1, blocks, msg.sender);
        work[uint64(block.number) / MINING.epochBlocks()][machineId] += blocks;
        uint256 fee = feePerBlock * blocks;
        uint256 burned;
        if (fee > 0) {
            if (!token.transferFrom(msg.sender, address(this), fee)) revert TransferFailed();
            burned = fee * MARKET.burnRateBps() / 10_000;
            token.burn(burned);
            address provider = MARKET.getMachine(machineId).owner;
            if (!token.transfer(provider, fee - burned)) revert TransferFailed();
        }
        jobId = ++jobs;
        emit JobSubmitted(jobId, msg.sender, machineId, rentalId, fee, burned, fee - burned);
        if (msg.value > rent) {
            (bool ok,) = msg.sender.call{value: msg.value - rent}("");
            if (!ok) revert TransferFailed();
        }
    }

    /// Attests the recorded work of `machineIds` in `epoch` (anyone may call it; the precompile
    /// accepts only the last completed epoch, each machine once). List idle machines too: they
    /// get 0 units, so they stop earning.
    function attest(uint64 epoch, bytes32[] calldata machineIds) external {
        uint64[] memory units = new uint64[](machineIds.length);
        for (uint256 i = 0; i < machineIds.length; i++) {
            units[i] = work[epoch][machineIds[i]];
        }
        MINING.attestWork(projectId, epoch, machineIds, units);
        emit Attested(epoch, machineIds, units);
    }
}
