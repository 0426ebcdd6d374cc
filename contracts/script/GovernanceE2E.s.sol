// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGovernance} from "../src/interfaces/IGovernance.sol";
import {E2EBase} from "./E2EBase.sol";

/// @notice Issue #17 item 6: governance end to end on a live chain (the 4-validator testnet in
/// `testnet_governance.rs`), in phases run with `forge script --sig "phaseN()" --broadcast
/// --skip-simulation --slow` (see `E2EBase`); the driving test waits between them.
/// - phase 1: four candidates stand, a holder locks 1,000 DBC and approves three of them, a
///   donor funds the treasury;
/// - (the council is elected in the hook of the term's last block)
/// - phase 2: checks the council of three, then three council motions: a change of the market's
///   `stakePerGpu` (2,000 DBC) and burn tiers (50% below 10 GPUs), a 100 DBC treasury spend to
///   `PAYEE`, and a text; two members pass the first two and reject the third;
/// - (the passed motions are enacted at the end of block E − 1)
/// - phase 3: checks the outcome: both enacted, the payee paid, the rejected motion's deposit and
///   the fourth candidate's bond in the treasury.
/// The chain must start with the governance periods `testnet_governance.rs` sets (a term of 30
/// blocks, motions of 5 blocks, bonds of 10 DBC, deposits of 100 DBC).
contract GovernanceE2E is E2EBase {
    IGovernance internal constant GOV = IGovernance(0x0000000000000000000000000000000000000D04);
    address internal constant PAYEE = 0x00000000000000000000000000000000000A11cE;
    uint256 internal constant DBC = 1 ether;

    function member(uint32 i) internal pure returns (uint256) {
        return key(i);
    }

    function voter() internal pure returns (uint256) {
        return key(3);
    }

    /// Stands and is not elected: nobody approves it.
    function loser() internal pure returns (uint256) {
        return key(4);
    }

    function gov(bytes memory data) internal returns (bytes memory) {
        return viewCall(address(GOV), data);
    }

    function proposal(uint256 id) internal returns (IGovernance.Proposal memory) {
        return abi.decode(gov(abi.encodeCall(IGovernance.getProposal, (id))), (IGovernance.Proposal));
    }

    function phase1() external {
        for (uint32 i = 0; i < 3; i++) {
            send(member(i), address(GOV), 10 * DBC, abi.encodeCall(IGovernance.submitCandidacy, ()));
        }
        send(loser(), address(GOV), 10 * DBC, abi.encodeCall(IGovernance.submitCandidacy, ()));
        send(voter(), address(GOV), 1_000 * DBC, abi.encodeCall(IGovernance.lock, ()));
        address[] memory approvals = new address[](3);
        for (uint32 i = 0; i < 3; i++) {
            approvals[i] = vm.addr(member(i));
        }
        send(voter(), address(GOV), 0, abi.encodeCall(IGovernance.voteCouncil, (approvals)));
        send(key(5), address(GOV), 1_000 * DBC, abi.encodeCall(IGovernance.fund, ()));
    }

    function phase2() external {
        (address[] memory members,, uint64 term,,) =
            abi.decode(gov(abi.encodeCall(IGovernance.council, ())), (address[], address[], uint64, uint64, uint64));
        require(term == 1 && members.length == 3, "a council of three for term 1");
        for (uint32 i = 0; i < 3; i++) {
            require(
                abi.decode(gov(abi.encodeCall(IGovernance.isCouncilMember, (vm.addr(member(i))))), (bool)),
                "the approved candidates are members"
            );
        }
        uint256 first = abi.decode(gov(abi.encodeCall(IGovernance.proposalCount, ())), (uint256)) + 1;

        // The market record in force, with the new stake and burn tiers.
        bytes memory current = abi.decode(gov(abi.encodeCall(IGovernance.currentParams, (IGovernance.Target.Market))), (bytes));
        IGovernance.MarketParamsV1 memory m = abi.decode(current, (IGovernance.MarketParamsV1));
        m.stake.stakePerGpu = 2_000 * DBC;
        m.rent.burnTiers = new IGovernance.BurnTierRow[](2);
        m.rent.burnTiers[0] = IGovernance.BurnTierRow({fromGpus: 0, bps: 5_000});
        m.rent.burnTiers[1] = IGovernance.BurnTierRow({fromGpus: 10, bps: 10_000});
        uint256 deposit = depositFor(IGovernance.Kind.ParamChange, 0);
        IGovernance.Route council = IGovernance.Route.Council;
        send(
            loser(),
            address(GOV),
            deposit,
            abi.encodeCall(
                IGovernance.proposeParams,
                (IGovernance.Target.Market, abi.encode(m), council, "2,000 DBC per GPU; burn 50%, 100% from 10 GPUs")
            )
        );
        deposit = depositFor(IGovernance.Kind.TreasurySpend, 100 * DBC);
        send(
            loser(),
            address(GOV),
            deposit,
            abi.encodeCall(IGovernance.proposeSpend, (PAYEE, 100 * DBC, 0, council, "a grant"))
        );
        deposit = depositFor(IGovernance.Kind.Text, 0);
        send(loser(), address(GOV), deposit, abi.encodeCall(IGovernance.proposeText, (council, "nobody wants this")));
        // Two of three pass (the second vote closes the motion in its own transaction) or reject.
        for (uint32 i = 0; i < 2; i++) {
            send(member(i), address(GOV), 0, abi.encodeCall(IGovernance.castVote, (first, 1)));
            send(member(i), address(GOV), 0, abi.encodeCall(IGovernance.castVote, (first + 1, 1)));
            send(member(i + 1), address(GOV), 0, abi.encodeCall(IGovernance.castVote, (first + 2, 0)));
        }
    }

    function depositFor(IGovernance.Kind kind, uint256 amount) internal returns (uint256) {
        return abi.decode(gov(abi.encodeCall(IGovernance.requiredDeposit, (kind, amount))), (uint256));
    }

    function phase3() external {
        uint256 last = abi.decode(gov(abi.encodeCall(IGovernance.proposalCount, ())), (uint256));
        IGovernance.Proposal memory change = proposal(last - 2);
        IGovernance.Proposal memory grant = proposal(last - 1);
        IGovernance.Proposal memory text = proposal(last);
        require(change.route == IGovernance.Route.Council && change.term == 1 && change.seated == 3, "a motion");
        require(change.status == IGovernance.Status.Enacted, "the market change is enacted");
        require(grant.status == IGovernance.Status.Enacted, "the grant is enacted");
        require(text.status == IGovernance.Status.Rejected, "the text is rejected");
        require(balanceAt(PAYEE, "latest") == 100 * DBC, "the payee got 100 DBC");
        uint256 lostDeposit = abi.decode(gov(abi.encodeCall(IGovernance.treasuryReceived, (6))), (uint256));
        require(lostDeposit == text.deposit, "the rejected motion's deposit went to the treasury");
        uint256 lostBond = abi.decode(gov(abi.encodeCall(IGovernance.treasuryReceived, (7))), (uint256));
        require(lostBond == 10 * DBC, "the unelected candidate's bond went to the treasury");
    }
}
