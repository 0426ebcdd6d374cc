// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGovernance} from "../src/interfaces/IGovernance.sol";
import {HEVM} from "./Vm.sol";
import {DBC_MARKET, DBC_STAKING, DBC_GOVERNANCE, DBC_SYSTEM} from "./DbcAddresses.sol";
import {cadd, csub, satSub, min, sat32, overflow} from "./common/CheckedMath.sol";
import {slot, get, set, g, setG} from "./common/StoreLib.sol";
import {blockNow, inStaticContext, answerStaticProbe} from "./common/Host.sol";
import {Emission, EmissionLib, IEmissionSource} from "./common/Emission.sol";
import {ITreasuryCredit, SOURCE_BURN_FLOOR} from "./common/Treasury.sol";

// The dev chain's genesis supply: the sum of `genesis/dev.json`'s `alloc` balances.
uint256 constant DEV_GENESIS_SUPPLY = 10_000_000_000 ether;
// `GovernanceParams::default().burn_floor`: 100,000,000 DBC.
uint256 constant DEFAULT_BURN_FLOOR = 100_000_000 ether;

/// @title GovernanceSol: a Solidity stand-in for dbc-node's governance precompile (`0x…0D04`)
/// @notice For `forge test` only. Implements `IGovernance` as the node does: the treasury is
/// this account's balance; `fund()` donates to it (source 9); the market and staking stand-ins
/// pay their treasury shares to it (sources 1–5, and 8 for burns the floor stops,
/// `common/Treasury.sol`), each counted by source
/// in the node's storage layout and logged (`TreasuryReceived`) from this address at the point
/// where the payer pays; `emissionRate` reports the market's and staking's decaying schedules
/// (`common/Emission.sol`). Install with `vm.etch` at `DBC_GOVERNANCE` (`DbcPrecompiles` does).
///
/// The supply ledger and the burn floor (`crates/precompiles/src/supply.rs`): `totalSupply()` =
/// genesis supply + `G_SUPPLY_DELTA`; the market and staking stand-ins burn through
/// `common/Treasury.sol`'s `reserveBurn`, which allows at most `burnHeadroom()` and counts it in
/// `G_PENDING_BURN` (the rest goes to the treasury, source 8); the block hook
/// `onBlock(int256 supplyChange)`, from `DBC_SYSTEM` last in every block, adds the block's net
/// balance change to the ledger, mints back to the treasury base fees burned below the floor
/// (`BurnFloorReached`) and resets the pending burns. The genesis supply and the floor are this
/// stand-in's parameters: `init(genesisSupply, burnFloor)` (once; `DbcPrecompiles
/// .installFromGenesis` calls it with the file's `alloc` sum and `config.dbc.governance`);
/// without it, the dev chain's (10,000,000,000 DBC and 100,000,000 DBC).
///
/// Storage (the node's): `G_SUPPLY_DELTA` = slot 4 (an int256), `G_PENDING_BURN` = slot 5,
/// `G_SPENT` = slot 15, `G_RECEIVED` = slot 16, the total of source `s` at
/// `slot(T_RECEIVED = 77, bytes32(s), 0)`. The parameters live in hashed slots the node does
/// not use.
///
/// Known divergences from the node:
/// - The extra selectors `governanceSolCredit(uint8,address,uint256,bool)` and
///   `governanceSolReserveBurn(uint256)`, answered only to `DBC_MARKET` and `DBC_STAKING`
///   (anyone else gets `UnknownSelector`, as on the node), `init(uint256,uint256)` (anyone,
///   once), and the static probe (a self-call, answered only to this contract).
/// - The hook's `change` is whatever the caller passes: the node measures it (base fees,
///   precompile and SELFDESTRUCT burns); `DbcPrecompiles.endBlock` passes −(fees burned) −
///   `G_PENDING_BURN` (Foundry shows it no SELFDESTRUCT burn), the diff replay the node's
///   recorded number. So `totalSupply()` is a ledger, not the sum of Foundry's balances (which
///   `vm.deal` changes freely). The hook's mint is a `vm.deal`, which a revert does not undo;
///   its logs are emitted (the node records them outside any receipt).
/// - `emissionRate` reads the schedules from the stand-ins at `DBC_MARKET` and `DBC_STAKING`
///   (their extra view `emissionSchedule()`): it reverts as they do if they are not installed
///   and initialised.
/// - A static context is detected by a self-call with 10,000 gas that TSTOREs (as in the
///   market stand-in): a caller leaving under ~10,200 gas gets `StaticCallWrite()` from `fund()`.
/// - In the market's block hook, the market stand-in drops its logs (the node keeps no receipt
///   for the hook) and the `TreasuryReceived` of that hook's inflows with them.
/// - Voting locks and referenda (`lock`, `unlock`, `lockOf`, `proposeText`, `proposeSpend`,
///   `requiredDeposit`, `castVote`, `castVoteWithReason`, `getProposal`, `proposalCount`) are
///   not mirrored yet: they revert `UnknownSelector` here. Test them on a `dbc-node --dev`.
/// - Gas is not mirrored.
contract GovernanceSol {
    // Globals (`governance` storage of the node).
    uint256 internal constant G_SPENT = 15;
    uint256 internal constant G_RECEIVED = 16;
    // What the account owes (`proposals.rs`): voting locks and open proposals' deposits.
    uint256 internal constant G_LOCKED = 11;
    uint256 internal constant G_DEPOSITS = 12;
    uint256 internal constant G_RESERVED = 14;
    // Per-source inflow totals: `slot(T_RECEIVED, source, 0)`.
    uint256 internal constant T_RECEIVED = 77;
    // The supply ledger (`supply.rs`).
    uint256 internal constant G_SUPPLY_DELTA = 4;
    uint256 internal constant G_PENDING_BURN = 5;

    // Parameters of this stand-in (not the node's storage: it has them from the genesis file).
    uint256 internal constant INIT_SLOT = uint256(keccak256("dbc.GovernanceSol.initialized"));
    uint256 internal constant GENESIS_SUPPLY_SLOT = uint256(keccak256("dbc.GovernanceSol.genesisSupply"));
    uint256 internal constant BURN_FLOOR_SLOT = uint256(keccak256("dbc.GovernanceSol.burnFloor"));

    /// Inflow source of `fund()`.
    uint8 internal constant SOURCE_DONATION = 9;

    /// Calldata of the static-context probe (a self-call).
    bytes4 internal constant PROBE = bytes4(keccak256("GovernanceSol.staticProbe()"));
    /// Transient slot the probe writes.
    uint256 internal constant PROBE_TSLOT = uint256(keccak256("dbc.GovernanceSol.probe"));

    uint256 internal constant F_FUND = 1;
    uint256 internal constant F_TREASURY = 2;
    uint256 internal constant F_RECEIVED = 3;
    uint256 internal constant F_EMISSION_RATE = 4;
    uint256 internal constant F_TOTAL_SUPPLY = 5;
    uint256 internal constant F_BURN_FLOOR = 6;
    uint256 internal constant F_BURN_HEADROOM = 7;

    /// Sets the genesis supply (the sum of the genesis file's `alloc` balances) and
    /// `config.dbc.governance.burnFloor`, checked as `GovernanceParams::validate` checks them.
    /// Once, and only at `DBC_GOVERNANCE`. Not a selector of the node's precompile.
    function init(uint256 genesisSupply, uint256 burnFloor_) external {
        require(address(this) == DBC_GOVERNANCE, "GovernanceSol: install at DBC_GOVERNANCE");
        require(get(INIT_SLOT) == 0, "GovernanceSol: already initialised");
        require(
            burnFloor_ <= genesisSupply,
            string.concat(
                "governance.burnFloor = ",
                HEVM.toString(burnFloor_),
                " wei exceeds the genesis supply of ",
                HEVM.toString(genesisSupply),
                " wei"
            )
        );
        set(INIT_SLOT, 1);
        set(GENESIS_SUPPLY_SLOT, genesisSupply);
        set(BURN_FLOOR_SLOT, burnFloor_);
    }

    /// The precompile's dispatch: DelegateCallNotAllowed, UnknownSelector (undecodable calldata
    /// included), StaticCallWrite, NotPayable, then the function. Arguments are decoded as
    /// alloy's non-validating decoder does: trailing bytes ignored, a `uint8` truncated to its
    /// low byte, the `Target` enum read from its low byte.
    fallback(bytes calldata input) external payable returns (bytes memory) {
        if (msg.sender == address(this) && input.length == 4 && bytes4(input) == PROBE) {
            answerStaticProbe(PROBE_TSLOT, 1);
            return "";
        }
        if (address(this) != DBC_GOVERNANCE) revert IGovernance.DelegateCallNotAllowed();
        bytes4 sel = _selectorOf(input);
        if (input.length >= 4 && sel == IGovernance.onBlock.selector) {
            // Undecodable, or not the system's plain call: unknown, as the market's hook.
            if (input.length < 36 || msg.sender != DBC_SYSTEM || msg.value != 0 || _isStatic()) {
                revert IGovernance.UnknownSelector(sel);
            }
            _onBlock(int256(uint256(bytes32(input[4:36]))));
            return "";
        }
        if (
            input.length >= 4 && sel == ITreasuryCredit.governanceSolReserveBurn.selector
                && (msg.sender == DBC_MARKET || msg.sender == DBC_STAKING)
        ) {
            if (msg.value != 0) revert IGovernance.NotPayable();
            if (input.length < 36) revert IGovernance.UnknownSelector(sel);
            return abi.encode(_reserveBurn(uint256(bytes32(input[4:36]))));
        }
        if (
            input.length >= 4 && sel == ITreasuryCredit.governanceSolCredit.selector
                && (msg.sender == DBC_MARKET || msg.sender == DBC_STAKING)
        ) {
            if (msg.value != 0) revert IGovernance.NotPayable();
            (uint8 source, address from, uint256 amount, bool log) =
                abi.decode(input[4:], (uint8, address, uint256, bool));
            _receive(source, from, amount, log);
            return "";
        }
        uint256 f = input.length < 4 ? 0 : _function(sel);
        if (f == 0) revert IGovernance.UnknownSelector(sel);
        uint256 arg;
        if (f == F_RECEIVED || f == F_EMISSION_RATE) {
            if (input.length < 36) revert IGovernance.UnknownSelector(sel);
            arg = uint8(uint256(bytes32(input[4:36])));
        }
        if (f == F_FUND && _isStatic()) revert IGovernance.StaticCallWrite();
        if (msg.value != 0 && f != F_FUND) revert IGovernance.NotPayable();
        // Only Market and Staking have a schedule: the node answers Governance, and any other
        // byte (which alloy decodes to its hidden `__Invalid`), after the checks above, with
        // `UnknownSelector`.
        if (f == F_EMISSION_RATE && arg > uint8(IGovernance.Target.Staking)) {
            revert IGovernance.UnknownSelector(sel);
        }
        if (f == F_FUND) {
            if (msg.value == 0) revert IGovernance.NothingToFund();
            _receive(SOURCE_DONATION, msg.sender, msg.value, true);
            return "";
        }
        if (f == F_TREASURY) {
            uint256 balance = address(this).balance;
            // What the account holds for voters, proposers and stream recipients is not the
            // treasury's (locks, proposals and streams are not mirrored here, so all are 0
            // unless a test writes them).
            uint256 reserved = g(G_RESERVED);
            uint256 available = satSub(balance, g(G_LOCKED) + g(G_DEPOSITS) + reserved);
            return abi.encode(
                IGovernance.TreasuryInfo({
                    balance: balance,
                    available: available,
                    received: g(G_RECEIVED),
                    spent: g(G_SPENT),
                    reserved: reserved
                })
            );
        }
        if (f == F_RECEIVED) return abi.encode(get(_receivedSlot(uint8(arg))));
        if (f == F_TOTAL_SUPPLY) return abi.encode(_totalSupply());
        if (f == F_BURN_FLOOR) return abi.encode(_burnFloor());
        if (f == F_BURN_HEADROOM) return abi.encode(_headroom());
        (uint256 perBlock, uint32 era) = _emissionRate(arg == 0 ? DBC_MARKET : DBC_STAKING);
        return abi.encode(perBlock, era);
    }

    function _function(bytes4 s) internal pure returns (uint256) {
        if (s == IGovernance.fund.selector) return F_FUND;
        if (s == IGovernance.treasury.selector) return F_TREASURY;
        if (s == IGovernance.treasuryReceived.selector) return F_RECEIVED;
        if (s == IGovernance.emissionRate.selector) return F_EMISSION_RATE;
        if (s == IGovernance.totalSupply.selector) return F_TOTAL_SUPPLY;
        if (s == IGovernance.burnFloor.selector) return F_BURN_FLOOR;
        if (s == IGovernance.burnHeadroom.selector) return F_BURN_HEADROOM;
        return 0;
    }

    /// `selector_of`: the first four bytes of the calldata, zero-padded.
    function _selectorOf(bytes calldata input) internal pure returns (bytes4 sel) {
        if (input.length >= 4) return bytes4(input[:4]);
        for (uint256 i; i < input.length; i++) {
            sel |= bytes4(input[i]) >> (8 * i);
        }
    }

    /// True inside a STATICCALL: a self-call that TSTOREs fails there.
    function _isStatic() internal returns (bool) {
        return inStaticContext(PROBE, 10_000);
    }

    /// `treasury::receive` once the DBC is in this account: counts `amount` for `source` and
    /// in `G_RECEIVED` and logs it. Nothing for a zero amount.
    function _receive(uint8 source, address from, uint256 amount, bool log) internal {
        if (amount == 0) return;
        uint256 s = _receivedSlot(source);
        set(s, cadd(get(s), amount));
        setG(G_RECEIVED, cadd(g(G_RECEIVED), amount));
        if (log) emit IGovernance.TreasuryReceived(source, from, amount);
    }

    // ---- the supply ledger (`supply.rs`, `governance::on_block`) ----

    function _genesisSupply() internal view returns (uint256) {
        return get(INIT_SLOT) == 0 ? DEV_GENESIS_SUPPLY : get(GENESIS_SUPPLY_SLOT);
    }

    function _burnFloor() internal view returns (uint256) {
        return get(INIT_SLOT) == 0 ? DEFAULT_BURN_FLOOR : get(BURN_FLOOR_SLOT);
    }

    /// `supply::total_supply`: the genesis supply plus `G_SUPPLY_DELTA`.
    function _totalSupply() internal view returns (uint256) {
        return _applyDelta(_genesisSupply(), int256(g(G_SUPPLY_DELTA)));
    }

    /// `supply::headroom`: max(0, total supply − pending burns − floor).
    function _headroom() internal view returns (uint256) {
        return satSub(satSub(_totalSupply(), g(G_PENDING_BURN)), _burnFloor());
    }

    /// `supply::burn_capped` up to the burn: min(`amount`, headroom), added to the pending burns.
    function _reserveBurn(uint256 amount) internal returns (uint256 burned) {
        if (amount == 0) return 0;
        burned = min(amount, _headroom());
        if (burned != 0) setG(G_PENDING_BURN, cadd(g(G_PENDING_BURN), burned));
    }

    /// `governance::on_block`: adds the block's net balance change to the ledger, mints back to
    /// the treasury what it burned below the floor, resets the pending burns. Writes nothing
    /// when nothing changed and nothing was burned.
    function _onBlock(int256 change) internal {
        uint256 pending = g(G_PENDING_BURN);
        if (change == 0 && pending == 0) return;
        int256 delta = int256(g(G_SUPPLY_DELTA));
        int256 after_ = _addSigned(delta, change);
        uint256 supply = _applyDelta(_genesisSupply(), after_);
        uint256 floor = _burnFloor();
        uint256 minted;
        if (change < 0 && supply < floor) {
            minted = min(floor - supply, _abs(change));
            HEVM.deal(address(this), address(this).balance + minted);
            _receive(SOURCE_BURN_FLOOR, address(0), minted, true);
            emit IGovernance.BurnFloorReached(supply + minted, floor);
        }
        if (minted > uint256(type(int256).max)) overflow();
        int256 next = _addSigned(after_, int256(minted));
        if (next != delta) setG(G_SUPPLY_DELTA, uint256(next));
        if (pending != 0) setG(G_PENDING_BURN, 0);
    }

    /// `supply::apply_delta`, checked (`ArithmeticOverflow` outside 0..2²⁵⁶).
    function _applyDelta(uint256 base, int256 delta) internal pure returns (uint256) {
        return delta < 0 ? csub(base, _abs(delta)) : cadd(base, uint256(delta));
    }

    /// `I256::unsigned_abs` (2²⁵⁵ for the minimum).
    function _abs(int256 x) internal pure returns (uint256) {
        unchecked {
            return x < 0 ? uint256(-x) : uint256(x);
        }
    }

    /// `I256::checked_add`, `ArithmeticOverflow` on overflow.
    function _addSigned(int256 a, int256 b) internal pure returns (int256 c) {
        unchecked {
            c = a + b;
        }
        if ((b >= 0 && c < a) || (b < 0 && c >= a)) overflow();
    }

    function _receivedSlot(uint8 source) internal pure returns (uint256) {
        return slot(T_RECEIVED, bytes32(uint256(source)), 0);
    }

    /// The per-block release of the pool at `pool` in the current era, and the era (saturated
    /// to u32).
    function _emissionRate(address pool) internal view returns (uint256 perBlock, uint32 era) {
        (Emission memory e, uint256 rewardPool) = IEmissionSource(pool).emissionSchedule();
        uint256 k = EmissionLib.eraOf(e, blockNow());
        perBlock = EmissionLib.rate(e, k, rewardPool);
        era = sat32(k);
    }
}
