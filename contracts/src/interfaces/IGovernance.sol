// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Treasury and issuance of dbc-node (stateful precompile at 0x…0D04)
/// @notice The treasury is the balance of this account. Nobody holds a key to it: it receives
/// the treasury's share of machine slashes, auditor penalties, the stake lost by machines that
/// verification rejects, the deposits of false fault reports, the treasury share of validator
/// slashes (`staking.slashTreasuryBps`), burns the burn floor stops and donations (`fund`). Each inflow emits
/// `TreasuryReceived` from this account, also when it happens in a block hook (then it is in
/// no receipt: read it with `dbc_getBlockHookLogs`), and is added to a per-source total.
/// Spending needs governance proposals, which are not implemented yet (issue #17): until then
/// nothing can leave the treasury, and `spent` is 0.
///
/// `emissionRate` reports the reward pools' decaying schedules (`config.dbc.market.emission`
/// and `config.dbc.staking.emission`): the per-block release of the current era.
/// @dev Amounts are wei of the native token. Static calls cannot write; DELEGATECALL/CALLCODE are
/// refused; value sent to a non-payable function reverts.
interface IGovernance {
    /// The reward pool whose schedule `emissionRate` reports.
    enum Target { Market, Staking }

    /// Treasury inflows by source (`TreasuryReceived.source`, `treasuryReceived(source)`).
    /// 1 machine slash, 2 auditor penalty, 3 rejected machine, 4 lost report deposit,
    /// 5 validator slash, 8 burn above the floor, 9 donation (`fund`).
    struct TreasuryInfo {
        /// Balance of this account.
        uint256 balance;
        /// What enacted proposals may spend (the balance: nothing is owed yet).
        uint256 available;
        /// Everything received, all sources.
        uint256 received;
        /// Everything spent.
        uint256 spent;
    }

    /// `amount` reached the treasury from `source`; `from` is who lost it (the machine's owner,
    /// the auditor, the reporter, the validator) or the donor.
    event TreasuryReceived(uint8 indexed source, address indexed from, uint256 amount);
    /// A block burned more than the floor allowed: the excess was minted back to the treasury.
    event BurnFloorReached(uint256 totalSupply, uint256 floor);

    error DelegateCallNotAllowed();
    error StaticCallWrite();
    error NotPayable();
    error UnknownSelector(bytes4 selector);
    error ArithmeticOverflow();
    /// `fund` without value.
    error NothingToFund();

    /// Donates `msg.value` to the treasury (source 9).
    function fund() external payable;
    /// The treasury's balance and totals.
    function treasury() external view returns (TreasuryInfo memory);
    /// Everything received from `source`.
    function treasuryReceived(uint8 source) external view returns (uint256);
    /// The per-block release of `target`'s reward pool in the current era, and the era.
    function emissionRate(Target target) external view returns (uint256 perBlock, uint32 era);
    /// The exact total supply at the end of the last block: the genesis supply plus the net
    /// balance change of every block since (base fees, precompile and SELFDESTRUCT burns).
    function totalSupply() external view returns (uint256);
    /// Burning stops at this supply (`config.dbc.governance.burnFloor`, default 100,000,000 DBC).
    function burnFloor() external view returns (uint256);
    /// What precompiles may still burn in this block: max(0, totalSupply − burns so far in this
    /// block − burnFloor).
    function burnHeadroom() external view returns (uint256);
    /// The block hook: the system address calls it last in every block with the block's net
    /// balance change. Anyone else gets `UnknownSelector`.
    function onBlock(int256 supplyChange) external;
}
