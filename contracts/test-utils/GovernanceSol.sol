// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGovernance} from "../src/interfaces/IGovernance.sol";
import {DBC_MARKET, DBC_STAKING, DBC_GOVERNANCE} from "./DbcAddresses.sol";
import {cadd, sat32} from "./common/CheckedMath.sol";
import {slot, get, set, g, setG} from "./common/StoreLib.sol";
import {blockNow, inStaticContext, answerStaticProbe} from "./common/Host.sol";
import {Emission, EmissionLib, IEmissionSource} from "./common/Emission.sol";
import {ITreasuryCredit} from "./common/Treasury.sol";

/// @title GovernanceSol: a Solidity stand-in for dbc-node's governance precompile (`0x…0D04`)
/// @notice For `forge test` only. Implements `IGovernance` as the node does: the treasury is
/// this account's balance; `fund()` donates to it (source 9); the market and staking stand-ins
/// pay their treasury shares to it (sources 1–5, `common/Treasury.sol`), each counted by source
/// in the node's storage layout and logged (`TreasuryReceived`) from this address at the point
/// where the payer pays; `emissionRate` reports the market's and staking's decaying schedules
/// (`common/Emission.sol`). Install with `vm.etch` at `DBC_GOVERNANCE` (`DbcPrecompiles` does);
/// no initialisation is needed.
///
/// Storage (the node's): `G_SPENT` = slot 15, `G_RECEIVED` = slot 16, the total of source `s`
/// at `slot(T_RECEIVED = 77, bytes32(s), 0)`.
///
/// Known divergences from the node:
/// - The extra selector `governanceSolCredit(uint8,address,uint256,bool)`, answered only to
///   `DBC_MARKET` and `DBC_STAKING` (anyone else gets `UnknownSelector`, as on the node), and the
///   static probe (a self-call, answered only to this contract).
/// - `emissionRate` reads the schedules from the stand-ins at `DBC_MARKET` and `DBC_STAKING`
///   (their extra view `emissionSchedule()`): it reverts as they do if they are not installed
///   and initialised.
/// - A static context is detected by a self-call with 10,000 gas that TSTOREs (as in the
///   market stand-in): a caller leaving under ~10,200 gas gets `StaticCallWrite()` from `fund()`.
/// - In the market's block hook, the market stand-in drops its logs (the node keeps no receipt
///   for the hook) and the `TreasuryReceived` of that hook's inflows with them.
/// - Gas is not mirrored.
contract GovernanceSol {
    // Globals (`governance` storage of the node).
    uint256 internal constant G_SPENT = 15;
    uint256 internal constant G_RECEIVED = 16;
    // Per-source inflow totals: `slot(T_RECEIVED, source, 0)`.
    uint256 internal constant T_RECEIVED = 77;

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
        // `Target` has two values; alloy decodes any other byte to its hidden `__Invalid`, which
        // the node answers, after the checks above, with `UnknownSelector`.
        if (f == F_EMISSION_RATE && arg > uint8(type(IGovernance.Target).max)) {
            revert IGovernance.UnknownSelector(sel);
        }
        if (f == F_FUND) {
            if (msg.value == 0) revert IGovernance.NothingToFund();
            _receive(SOURCE_DONATION, msg.sender, msg.value, true);
            return "";
        }
        if (f == F_TREASURY) {
            uint256 balance = address(this).balance;
            return abi.encode(
                IGovernance.TreasuryInfo({balance: balance, available: balance, received: g(G_RECEIVED), spent: g(G_SPENT)})
            );
        }
        if (f == F_RECEIVED) return abi.encode(get(_receivedSlot(uint8(arg))));
        (uint256 perBlock, uint32 era) = _emissionRate(arg == 0 ? DBC_MARKET : DBC_STAKING);
        return abi.encode(perBlock, era);
    }

    function _function(bytes4 s) internal pure returns (uint256) {
        if (s == IGovernance.fund.selector) return F_FUND;
        if (s == IGovernance.treasury.selector) return F_TREASURY;
        if (s == IGovernance.treasuryReceived.selector) return F_RECEIVED;
        if (s == IGovernance.emissionRate.selector) return F_EMISSION_RATE;
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
