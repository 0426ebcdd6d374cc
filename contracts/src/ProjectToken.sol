// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IProjectMining} from "./interfaces/IProjectMining.sol";

/// @title An AI project's token, minted only by GPU mining settlement
/// @notice ERC-20 whose only mint path is `claim`: the token asks the project-mining precompile
/// (0x…0D02) what a provider is owed (for the work its program's attestor reported) and the
/// precompile marks it settled; the token is its program's settler, so nobody else can mint.
/// Holders can burn.
contract ProjectToken {
    IProjectMining public constant MINING = IProjectMining(0x0000000000000000000000000000000000000d02);

    string public name;
    string public symbol;
    uint8 public constant decimals = 18;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    /// Mining program of this token (0 until registered).
    uint256 public projectId;
    /// May register the mining program, once (the factory, in the deploying transaction).
    address public immutable deployer;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    error NotDeployer();
    error AlreadyRegistered();
    error NoAttestor();
    error InsufficientBalance(uint256 balance, uint256 needed);
    error InsufficientAllowance(uint256 allowance, uint256 needed);

    constructor(string memory name_, string memory symbol_) {
        name = name_;
        symbol = symbol_;
        deployer = msg.sender;
    }

    /// Registers the token's mining program with this token as its settler and `attestor` as
    /// the account that reports the work its machines serve (the token itself cannot attest).
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

    /// Mints to `provider` what its machines' mining releases now (anyone may trigger it).
    function claim(address provider) public returns (uint256 amount) {
        amount = MINING.settle(projectId, provider);
        if (amount > 0) {
            totalSupply += amount;
            balanceOf[provider] += amount;
            emit Transfer(address(0), provider, amount);
        }
    }

    /// Mints the caller's released mining rewards.
    function claim() external returns (uint256) {
        return claim(msg.sender);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < value) revert InsufficientAllowance(allowed, value);
            allowance[from][msg.sender] = allowed - value;
        }
        _move(from, to, value);
        return true;
    }

    /// Burns `value` of the caller's tokens.
    function burn(uint256 value) external {
        uint256 balance = balanceOf[msg.sender];
        if (balance < value) revert InsufficientBalance(balance, value);
        balanceOf[msg.sender] = balance - value;
        totalSupply -= value;
        emit Transfer(msg.sender, address(0), value);
    }

    function _move(address from, address to, uint256 value) private {
        uint256 balance = balanceOf[from];
        if (balance < value) revert InsufficientBalance(balance, value);
        balanceOf[from] = balance - value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}

/// @title Deploys a ProjectToken and registers its mining program in one transaction
/// @notice The caller becomes the program's attestor: typically the dApp that creates its token
/// and sends the jobs, so it knows what work each machine served.
contract ProjectTokenFactory {
    /// DBC's release rule: 25% at once, 75% linearly over 150 days of 6 s blocks.
    uint16 public constant DEFAULT_IMMEDIATE_BPS = 2_500;
    uint64 public constant DEFAULT_VESTING_BLOCKS = 2_160_000;

    event ProjectTokenCreated(uint256 indexed projectId, address indexed token, address indexed creator);

    function create(
        string calldata name,
        string calldata symbol,
        uint256 tokensPerBlock,
        uint256 budget,
        uint64 endBlock,
        IProjectMining.Requirements calldata requirements
    ) external returns (ProjectToken token, uint256 projectId) {
        return createWithRelease(
            name,
            symbol,
            tokensPerBlock,
            budget,
            endBlock,
            requirements,
            IProjectMining.Release({immediateBps: DEFAULT_IMMEDIATE_BPS, vestingBlocks: DEFAULT_VESTING_BLOCKS})
        );
    }

    function createWithRelease(
        string calldata name,
        string calldata symbol,
        uint256 tokensPerBlock,
        uint256 budget,
        uint64 endBlock,
        IProjectMining.Requirements calldata requirements,
        IProjectMining.Release memory release
    ) public returns (ProjectToken token, uint256 projectId) {
        token = new ProjectToken(name, symbol);
        projectId = token.registerMining(tokensPerBlock, budget, endBlock, requirements, release, msg.sender);
        emit ProjectTokenCreated(projectId, address(token), msg.sender);
    }
}
