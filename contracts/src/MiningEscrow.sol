// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IProjectMining} from "./interfaces/IProjectMining.sol";

interface IERC20Minimal {
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
    function balanceOf(address who) external view returns (uint256);
}

/// @title Mining with an existing ERC-20: rewards paid from a funded escrow
/// @notice The escrow is its program's settler: `claim` asks the project-mining precompile what
/// a provider is owed (marking it settled) and transfers it from the escrow's balance. Fund at
/// least the program's budget; a claim beyond the funds reverts and settles nothing.
contract MiningEscrow {
    IProjectMining public constant MINING = IProjectMining(0x0000000000000000000000000000000000000d02);

    IERC20Minimal public immutable token;
    address public immutable deployer;
    uint256 public projectId;

    event Funded(address indexed from, uint256 amount);
    event Paid(address indexed provider, uint256 amount);

    error NotDeployer();
    error AlreadyRegistered();
    error NoAttestor();
    error TransferFailed();

    constructor(IERC20Minimal token_) {
        token = token_;
        deployer = msg.sender;
    }

    /// Deployer only, once: registers the program with this escrow as its settler and `attestor`
    /// (e.g. the service that runs the project's jobs) as the account that reports the work its
    /// machines serve (the escrow itself cannot attest).
    function registerMining(
        uint256 tokensPerBlock,
        uint256 budget,
        uint64 endBlock,
        IProjectMining.Requirements calldata requirements,
        IProjectMining.Release calldata release,
        address attestor
    ) external returns (uint256) {
        if (msg.sender != deployer) revert NotDeployer();
        if (projectId != 0) revert AlreadyRegistered();
        if (attestor == address(0)) revert NoAttestor();
        projectId = MINING.registerProject(tokensPerBlock, budget, endBlock, requirements, release);
        MINING.setAttestor(projectId, attestor);
        return projectId;
    }

    function fund(uint256 amount) external {
        if (!token.transferFrom(msg.sender, address(this), amount)) revert TransferFailed();
        emit Funded(msg.sender, amount);
    }

    function claim(address provider) public returns (uint256 amount) {
        amount = MINING.settle(projectId, provider);
        if (amount > 0) {
            if (!token.transfer(provider, amount)) revert TransferFailed();
            emit Paid(provider, amount);
        }
    }
}
