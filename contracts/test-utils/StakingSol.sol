// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IStaking} from "../src/interfaces/IStaking.sol";
import {DBC_STAKING, DBC_SYSTEM} from "./DbcAddresses.sol";
import {
    StakingParams,
    GenesisValidator,
    Val,
    Del,
    StakingStore as S,
    stakingDevParams
} from "./staking/StakingStore.sol";
import {StakingUnbonding as UB} from "./staking/StakingUnbonding.sol";
import {StakingEvidence as EV} from "./staking/StakingEvidence.sol";
import {cadd, cadd64, sat64, satAdd64, min, max, bpsOf} from "./common/CheckedMath.sol";
import {slot, numKey, addrKey, toAddr, get, set, g, setG, addG} from "./common/StoreLib.sol";
import {blockNow, payByCarrier, burnByCarrier, inStaticContext, answerStaticProbe} from "./common/Host.sol";
import {Emission, EmissionLib, IEmissionSource} from "./common/Emission.sol";
import {treasuryReceive, reserveBurn, SOURCE_BURN_FLOOR} from "./common/Treasury.sol";

/// @title StakingSol: a Solidity stand-in for dbc-node's staking precompile (`0x…0D03`)
/// @notice For `forge test` only (Foundry's EVM has no DBC precompiles). Mirrors
/// `crates/precompiles/src/staking.rs` and `staking/{candidates,slashing,unbonding}.rs` call
/// for call: same success or revert, same return data, same custom-error data (`IStaking`),
/// same events in the same order, same native-DBC movements, and the node's own storage layout
/// (slots read from a node with `eth_getStorageAt` can be copied in with `vm.store`, and back).
/// Gas is not mirrored.
///
/// Install (no constructor logic: `vm.etch` copies runtime code only):
///
///     HEVM.etch(DBC_STAKING, address(new StakingSol()).code);
///     StakingSol(payable(DBC_STAKING)).initDev();                 // the dev chain, or:
///     StakingSol(payable(DBC_STAKING)).init(params, genesisValidators);
///     HEVM.deal(DBC_STAKING, params.rewardPool + sum of genesis stakes);  // see "Balance"
///
/// then call it through `IStaking(DBC_STAKING)`. `stakingDevParams()` (in
/// `staking/StakingStore.sol`) returns the dev parameters, to start from in `init`.
///
/// How the node initialises and drives staking:
/// - Dev chain (`genesis/dev.json`): `config.dbc` has no `staking` section, so the parameters
///   are `StakingParams::default()` (epoch 14,400 blocks, 21 validators, 200 candidates, min
///   self-stake 10,000 DBC, min delegation 1 DBC, unbonding 201,600 blocks, block reward 19
///   DBC for 3 eras of 5,256,000 blocks then 12.5% less each era up to era 99, which releases
///   the rest of the pool (`emission`, `common/Emission.sol`), pool 1e9 DBC, max commission
///   10,000 bps, increase cap 500 bps, double-sign slash 500 bps, evidence reward 1,000 bps,
///   the rest of a slash all to the treasury (`slashTreasuryBps` 10,000), jail after 50 missed
///   slots, downtime slash 10 bps, jail 14,400 blocks) with no genesis validator, and dev.json
///   gives 0x…0D03 no balance (the node still creates the account, nonce 1, code 0xfe). The dev block producer
///   (`crates/node/src/dev.rs`) sets `staking_hook: None`, so `onBlock` never runs there:
///   `G_INIT` stays 0, the active set stays empty, no reward is credited, nobody is jailed for
///   downtime, no election happens. Registration, delegation, undelegation (unbonding starts at
///   once: nobody is active), withdrawal after `unbondingBlocks`, commission changes (a
///   scheduled increase applies lazily from its block), candidate removal, claims (of nothing)
///   and double-sign slashing all work. `initDev()` reproduces exactly that state: the
///   parameters, all of the node's slots zero, balance untouched (0 on a fresh fork).
/// - Proof-of-stake chains (`dbc-node genesis`, `crates/chainspec/src/pos_genesis.rs`): the
///   genesis validators are `config.dbc.staking.validators` and 0x…0D03 holds their stakes
///   plus `rewardPool` from genesis. Nothing is stored at genesis: the first `onBlock` (while
///   `G_INIT` = 0) sets `G_INIT`, registers and bonds every genesis validator (events
///   `ValidatorRegistered`, `Delegated`) and writes the genesis set as epoch 0's
///   (`ValidatorSetElected(0, …)`, emitted even for an empty set). The block builder
///   (`crates/evm/src/builder.rs`, `factory::apply_staking_hook`) calls
///   `onBlock(proposer, missed)` from the system address 0xff…fe at the end of every block N,
///   after the market hook: the proposer is credited the block reward out of the pool,
///   `missed` (the validators that missed their slot before it) are counted, slashed and
///   jailed past `downtimeJailMissed` in an epoch, and when N is a multiple of `epochBlocks`
///   the set used from block N + 1 is elected (`ValidatorSetElected(N / epochBlocks + 1, …)`).
///   The hook's logs get no receipt on the node (system call).
///
/// Driving epochs in a forge test: for each block N, after its transactions,
/// `HEVM.roll(N); HEVM.prank(DBC_SYSTEM, DBC_SYSTEM); IStaking(DBC_STAKING).onBlock(p, missed);`
/// then the governance hook (`IGovernance.onBlock`, last; `DbcPrecompiles.endBlock` runs the
/// market's and governance's). The first such call performs the lazy genesis initialisation above. Use
/// `HEVM.prank(who, who)` for users: the node reads `tx.origin` (an offender that is the
/// origin of a double-sign report is not paid the reporter's share).
///
/// Balance: rewards are paid out of the pool held in 0x…0D03's own balance, and the genesis
/// stakes are held there too: with `init`, deal `rewardPool + Σ genesis stakes` to DBC_STAKING
/// (what the PoS genesis allocates). On the dev chain the balance is 0. `msg.value` of
/// `registerValidator`/`delegate` stays in the balance, as on the node.
///
/// Payments and burns: the node credits the recipient without running its code and burns by
/// lowering the precompile's balance. Here a payment is a CREATE of a 22-byte contract
/// carrying the amount that SELFDESTRUCTs to the recipient (no recipient code runs), a burn
/// one that SELFDESTRUCTs to itself (EIP-6780: created and destroyed in the same transaction,
/// its ether is burned). Unlike `vm.deal`, which Foundry does not journal, both are undone with
/// an enclosing call that reverts, as on the node.
///
/// Known divergences from the precompile:
/// - Gas is not mirrored, and out-of-gas halts are not reproduced. Each payment or burn also
///   CREATEs a short-lived contract (visible in traces; bumps 0x…0D03's nonce).
/// - A payment or burn above 0x…0D03's balance is a fatal error on the node (the block or
///   transaction fails outright); here it reverts with "StakingSol: balance too low (fatal on
///   the node)".
/// - A static context is detected by a self-call (30,000 gas) that tries a TSTORE; the node
///   is told directly. It shows in traces, and a caller leaving under ~31,000 gas would be
///   mistaken for a static context. The probe's calldata sent by 0x…0D03 to itself is not
///   refused (the node never calls itself).
/// - `init`, `initDev` and `emissionSchedule` (read by `GovernanceSol.emissionRate`) exist only
///   here (the node answers their selectors with `UnknownSelector`). Before `init` or
///   `initDev`, every call reverts with "StakingSol: not initialised".
/// - Calldata is decoded by hand like alloy-sol-types' non-validating decoder, so those cases
///   match (trailing bytes accepted, dirty high bits of address/uint16 words ignored, 64-bit
///   offsets and lengths, bounds); its 1 GiB allocation cap is mirrored as arithmetic only.
/// - DELEGATECALL/CALLCODE are recognised by `address(this) != DBC_STAKING`: installed at
///   another address, the contract refuses every call with `DelegateCallNotAllowed`.
/// - Double-sign evidence is fully ported: canonical header RLP, the seal hash, `parse_extra`
///   with alloy-rlp 0.3.17's decoding order and error texts, the canonical-signature rules
///   and recovery through the `ecrecover` precompile (it fails exactly where libsecp256k1's
///   recovery fails; the text is secp256k1's "malformed signature", the backend
///   alloy-primitives uses in the node's build). Only a later change of those crates'
///   messages would make texts differ.
/// - The hook's logs are recorded by Foundry like any call's (the node keeps none in receipts).
/// - The treasury's share of a slash is paid by a carrier to `DBC_GOVERNANCE` and counted there
///   by `GovernanceSol` (`common/Treasury.sol`), which emits `TreasuryReceived`; without code at
///   `DBC_GOVERNANCE` the value moves uncounted. The burned part of a slash is capped by the
///   burn floor there (`reserveBurn`; the rest to the treasury, source 8); without code there
///   all of it is burned.
contract StakingSol is IEmissionSource {
    /// Calldata of the static-context probe (a self-call).
    bytes4 private constant PROBE = bytes4(keccak256("StakingSol.staticProbe()"));
    uint8 private constant REASON_DOUBLE_SIGN = 1;
    uint8 private constant REASON_DOWNTIME = 2;
    /// Treasury inflow source of a validator slash (`IGovernance.TreasuryReceived.source`).
    uint8 private constant SOURCE_VALIDATOR_SLASH = 5;

    // Function ids (dispatch).
    uint256 private constant F_REGISTER = 1;
    uint256 private constant F_SET_COMMISSION = 2;
    uint256 private constant F_REMOVE = 3;
    uint256 private constant F_DELEGATE = 4;
    uint256 private constant F_UNDELEGATE = 5;
    uint256 private constant F_WITHDRAW = 6;
    uint256 private constant F_CLAIM = 7;
    uint256 private constant F_UNJAIL = 8;
    uint256 private constant F_DOUBLE_SIGN = 9;
    uint256 private constant F_ON_BLOCK = 10;
    // Views from here on.
    uint256 private constant F_GET_VALIDATOR = 11;
    uint256 private constant F_GET_DELEGATION = 12;
    uint256 private constant F_GET_UNBONDING = 13;
    uint256 private constant F_GET_UNBONDINGS = 14;
    uint256 private constant F_PENDING_COMMISSION = 15;
    uint256 private constant F_CANDIDATES = 16;
    uint256 private constant F_ACTIVE = 17;
    uint256 private constant F_EPOCH_BLOCKS = 18;
    uint256 private constant F_POOL_REMAINING = 19;
    uint256 private constant F_TOTAL_BURNED = 20;

    /// Decoded arguments of a call.
    struct Args {
        address a0;
        address a1;
        uint256 u;
        bytes headerA;
        bytes headerB;
        address[] missed;
    }

    // =============================================================== configuration

    /// Sets the dev chain's parameters and state (no genesis validator, nothing stored). Once.
    function initDev() external {
        init(stakingDevParams(), new GenesisValidator[](0));
    }

    /// Sets other genesis parameters and validators (checked like
    /// `StakingParams::validate`). Once. The validators are bonded by the first `onBlock`, as
    /// on the node; deal their stakes plus `rewardPool` to DBC_STAKING.
    function init(StakingParams memory p, GenesisValidator[] memory validators) public {
        S.Config storage c = S.config();
        require(!c.configured, "StakingSol: already initialised");
        _validate(p, validators);
        c.configured = true;
        c.p = p;
        for (uint256 i = 0; i < validators.length; i++) {
            c.validators.push(validators[i]);
        }
    }

    /// `StakingParams::validate`: shares at most 10,000 bps, positive epoch and set size,
    /// durations at most 10^12 blocks, maxValidators ≤ maxCandidates ≤ 1,000, at most
    /// maxValidators genesis validators, each listed once, staking at least minSelfStake, with a
    /// commission at most maxCommissionBps.
    function _validate(StakingParams memory p, GenesisValidator[] memory vs) private pure {
        uint256 maxDuration = 1e12;
        bool ok = p.maxCommissionBps <= 10_000 && p.maxCommissionIncreaseBps <= 10_000 && p.doubleSignSlashBps <= 10_000
            && p.evidenceRewardBps <= 10_000 && p.slashTreasuryBps <= 10_000 && p.downtimeSlashBps <= 10_000
            && p.epochBlocks > 0 && p.maxValidators > 0 && p.epochBlocks <= maxDuration
            && p.unbondingBlocks <= maxDuration && p.jailBlocks <= maxDuration
            && p.maxCandidates <= 1_000 && p.maxCandidates >= p.maxValidators && vs.length <= p.maxValidators;
        for (uint256 i = 0; ok && i < vs.length; i++) {
            ok = vs[i].stake >= p.minSelfStake && vs[i].commissionBps <= p.maxCommissionBps;
            for (uint256 j = 0; j < i; j++) {
                ok = ok && vs[j].addr != vs[i].addr;
            }
        }
        require(ok, "StakingSol: invalid parameters");
        EmissionLib.validate(p.emission, "staking.emission", p.rewardPool);
    }

    /// The block-reward pool's emission schedule and size (`config.dbc.staking.emission`,
    /// `rewardPool`), read by `GovernanceSol.emissionRate` (`IEmissionSource`). Not a selector
    /// of the node's staking precompile.
    function emissionSchedule() external view override returns (Emission memory schedule, uint256 rewardPool) {
        if (address(this) != DBC_STAKING) revert IStaking.DelegateCallNotAllowed();
        S.Config storage c = S.config();
        require(c.configured, "StakingSol: not initialised");
        return (c.p.emission, c.p.rewardPool);
    }

    // =============================================================== entry point

    fallback(bytes calldata input) external payable returns (bytes memory) {
        if (msg.sender == address(this) && input.length == 4 && bytes4(input) == PROBE) {
            answerStaticProbe(0, 1);
            return "";
        }
        if (address(this) != DBC_STAKING) revert IStaking.DelegateCallNotAllowed();
        S.Config storage c = S.config();
        require(c.configured, "StakingSol: not initialised");
        bytes4 sel;
        if (input.length >= 4) sel = bytes4(input[:4]);
        else for (uint256 i = 0; i < input.length; i++) {
            sel |= bytes4(input[i]) >> (8 * i);
        }
        uint256 f = input.length < 4 ? 0 : _function(sel);
        if (f == 0) revert IStaking.UnknownSelector(sel);
        Args memory a = _decode(f, input, sel);
        if (f < F_GET_VALIDATOR && _isStatic()) revert IStaking.StaticCallWrite();
        if (msg.value != 0 && f != F_REGISTER && f != F_DELEGATE) revert IStaking.NotPayable();
        StakingParams memory sp = c.p;
        return f < F_GET_VALIDATOR ? _write(sp, f, a) : _view(sp, f, a);
    }

    function _function(bytes4 s) private pure returns (uint256) {
        if (s == IStaking.registerValidator.selector) return F_REGISTER;
        if (s == IStaking.setCommission.selector) return F_SET_COMMISSION;
        if (s == IStaking.removeCandidate.selector) return F_REMOVE;
        if (s == IStaking.delegate.selector) return F_DELEGATE;
        if (s == IStaking.undelegate.selector) return F_UNDELEGATE;
        if (s == IStaking.withdraw.selector) return F_WITHDRAW;
        if (s == IStaking.claimRewards.selector) return F_CLAIM;
        if (s == IStaking.unjail.selector) return F_UNJAIL;
        if (s == IStaking.submitDoubleSign.selector) return F_DOUBLE_SIGN;
        if (s == IStaking.onBlock.selector) return F_ON_BLOCK;
        if (s == IStaking.getValidator.selector) return F_GET_VALIDATOR;
        if (s == IStaking.getDelegation.selector) return F_GET_DELEGATION;
        if (s == IStaking.getUnbonding.selector) return F_GET_UNBONDING;
        if (s == IStaking.getUnbondings.selector) return F_GET_UNBONDINGS;
        if (s == IStaking.pendingCommission.selector) return F_PENDING_COMMISSION;
        if (s == IStaking.candidates.selector) return F_CANDIDATES;
        if (s == IStaking.activeValidators.selector) return F_ACTIVE;
        if (s == IStaking.epochBlocks.selector) return F_EPOCH_BLOCKS;
        if (s == IStaking.rewardPoolRemaining.selector) return F_POOL_REMAINING;
        if (s == IStaking.totalBurned.selector) return F_TOTAL_BURNED;
        return 0;
    }

    /// True inside a STATICCALL: a self-call that TSTOREs fails there.
    function _isStatic() private returns (bool) {
        return inStaticContext(PROBE, 30_000);
    }

    // =============================================================== calldata decoding
    // alloy-sol-types' non-validating decoder: words must be present, offsets and lengths are
    // 64-bit (upper 24 bytes zero) and in range; values are truncated to their type.

    function _word(bytes calldata input, uint256 off, bytes4 sel) private pure returns (uint256 w) {
        if (input.length < 4 || off > input.length - 4 || input.length - 4 - off < 32) {
            revert IStaking.UnknownSelector(sel);
        }
        assembly {
            w := calldataload(add(input.offset, add(4, off)))
        }
    }

    function _offset(bytes calldata input, uint256 off, bytes4 sel) private pure returns (uint256 o) {
        o = _word(input, off, sel);
        if (o >> 64 != 0) revert IStaking.UnknownSelector(sel);
    }

    /// A dynamic `bytes` argument whose head word is at `head`; `used` is the memory the
    /// decoder has reserved so far.
    function _bytesArg(bytes calldata input, uint256 head, bytes4 sel, uint256 used)
        private
        pure
        returns (bytes memory out, uint256)
    {
        uint256 args = input.length - 4;
        uint256 at = _offset(input, head, sel);
        if (at > args) revert IStaking.UnknownSelector(sel);
        uint256 len = _offset(input, at, sel);
        if (len > args - at - 32) revert IStaking.UnknownSelector(sel);
        used += len;
        if (used > 1 << 30) revert IStaking.UnknownSelector(sel);
        out = input[4 + at + 32:4 + at + 32 + len];
        return (out, used);
    }

    function _addressArray(bytes calldata input, uint256 head, bytes4 sel) private pure returns (address[] memory out) {
        uint256 args = input.length - 4;
        uint256 at = _offset(input, head, sel);
        if (at > args) revert IStaking.UnknownSelector(sel);
        uint256 len = _offset(input, at, sel);
        if (len > (args - at - 32) / 32 || len * 32 > 1 << 30) revert IStaking.UnknownSelector(sel);
        out = new address[](len);
        for (uint256 i = 0; i < len; i++) {
            out[i] = address(uint160(_word(input, at + 32 + 32 * i, sel)));
        }
    }

    function _decode(uint256 f, bytes calldata input, bytes4 sel) private pure returns (Args memory a) {
        if (f == F_REGISTER || f == F_SET_COMMISSION) {
            a.u = uint16(_word(input, 0, sel));
        } else if (
            f == F_REMOVE || f == F_DELEGATE || f == F_CLAIM || f == F_GET_VALIDATOR || f == F_GET_UNBONDING
                || f == F_GET_UNBONDINGS || f == F_PENDING_COMMISSION
        ) {
            a.a0 = address(uint160(_word(input, 0, sel)));
        } else if (f == F_UNDELEGATE) {
            a.a0 = address(uint160(_word(input, 0, sel)));
            a.u = _word(input, 32, sel);
        } else if (f == F_GET_DELEGATION) {
            a.a0 = address(uint160(_word(input, 0, sel)));
            a.a1 = address(uint160(_word(input, 32, sel)));
        } else if (f == F_DOUBLE_SIGN) {
            uint256 used;
            (a.headerA, used) = _bytesArg(input, 0, sel, 0);
            (a.headerB,) = _bytesArg(input, 32, sel, used);
        } else if (f == F_ON_BLOCK) {
            a.a0 = address(uint160(_word(input, 0, sel)));
            a.missed = _addressArray(input, 32, sel);
        }
    }

    // =============================================================== state-changing calls

    function _write(StakingParams memory sp, uint256 f, Args memory a) private returns (bytes memory) {
        address who = msg.sender;
        if (f == F_REGISTER) {
            _register(sp, who, msg.value, a.u);
        } else if (f == F_SET_COMMISSION) {
            Val memory v = _registered(who);
            _changeCommission(sp, v, a.u);
            S.storeVal(v);
        } else if (f == F_REMOVE) {
            _removeCandidate(sp, a.a0);
        } else if (f == F_DELEGATE) {
            if (msg.value < sp.minDelegation) revert IStaking.StakeTooLow(sp.minDelegation);
            Val memory v = _registered(a.a0);
            _bond(v, who, msg.value);
        } else if (f == F_UNDELEGATE) {
            _undelegate(sp, a.a0, who, a.u);
        } else if (f == F_WITHDRAW) {
            uint256 amount = UB.withdraw(who);
            _pay(who, amount);
            emit IStaking.Withdrawn(who, amount);
            return abi.encode(amount);
        } else if (f == F_CLAIM) {
            return abi.encode(_claim(a.a0, who));
        } else if (f == F_UNJAIL) {
            Val memory v = _registered(who);
            if (v.jailedUntil == 0) revert IStaking.NotJailed();
            if (block.number < v.jailedUntil) revert IStaking.StillJailed(uint64(v.jailedUntil));
            v.jailedUntil = 0;
            v.missed = 0;
            S.storeVal(v);
            emit IStaking.Unjailed(who);
        } else if (f == F_DOUBLE_SIGN) {
            _doubleSign(sp, who, a.headerA, a.headerB);
        } else {
            if (who != DBC_SYSTEM) revert IStaking.OnlySystem();
            _onBlock(sp, a.a0, a.missed);
        }
        return "";
    }

    function _registered(address a) private view returns (Val memory v) {
        v = S.loadVal(a);
        if (!v.registered) revert IStaking.NotRegistered(a);
    }

    /// `candidates::register`.
    function _register(StakingParams memory sp, address who, uint256 stake, uint256 commission) private {
        if (stake < sp.minSelfStake) revert IStaking.StakeTooLow(sp.minSelfStake);
        if (commission > sp.maxCommissionBps) revert IStaking.CommissionTooHigh(sp.maxCommissionBps);
        Val memory v = S.loadVal(who);
        if (v.registered) revert IStaking.AlreadyRegistered();
        uint256 n = S.candidateCount();
        if (n >= sp.maxCandidates) revert IStaking.TooManyCandidates();
        set(slot(S.T_CAND, numKey(n), 0), uint160(who));
        set(slot(S.T_CAND_IDX, addrKey(who), 0), n + 1);
        setG(S.G_CANDIDATES, n + 1);
        v.registered = true;
        emit IStaking.ValidatorRegistered(who, stake, uint16(commission));
        if (v.totalShares == 0) {
            v.commission = commission;
            v.pendingCommission = 0;
            v.pendingAt = 0;
        } else {
            // A removed candidate coming back with delegators: same rules as setCommission.
            _changeCommission(sp, v, commission);
        }
        _bond(v, who, stake);
    }

    /// `candidates::change_commission` (does not store `v`).
    function _changeCommission(StakingParams memory sp, Val memory v, uint256 commission) private {
        if (commission > sp.maxCommissionBps) revert IStaking.CommissionTooHigh(sp.maxCommissionBps);
        if (commission <= v.commission) {
            v.commission = commission;
            v.pendingCommission = 0;
            v.pendingAt = 0;
            emit IStaking.CommissionChanged(v.addr, uint16(commission));
            return;
        }
        uint256 maximum = min(min(v.commission + sp.maxCommissionIncreaseBps, 0xffff), sp.maxCommissionBps);
        if (commission > maximum) revert IStaking.CommissionIncreaseTooLarge(uint16(maximum));
        uint256 e = max(sp.epochBlocks, 1);
        uint256 at = S.nextMultiple64(cadd64(block.number, e), e);
        v.pendingCommission = commission;
        v.pendingAt = at;
        emit IStaking.CommissionChangeScheduled(v.addr, uint16(commission), uint64(at));
    }

    /// `candidates::remove_candidate`.
    function _removeCandidate(StakingParams memory sp, address a) private {
        Val memory v = _registered(a);
        Del memory own = S.loadDel(a, a);
        if (v.active || S.valueOf(v, own.shares) >= sp.minSelfStake) revert IStaking.CandidateNotRemovable();
        uint256 n = S.candidateCount();
        uint256 idxSlot = slot(S.T_CAND_IDX, addrKey(a), 0);
        uint256 idx = sat64(get(idxSlot));
        if (idx == 0 || idx > n || S.candidateAt(idx - 1) != a) {
            // Not indexed (state from before the index): find it.
            idx = 0;
            for (uint256 i = 0; i < n; i++) {
                if (S.candidateAt(i) == a) {
                    idx = i + 1;
                    break;
                }
            }
            if (idx == 0) revert IStaking.NotRegistered(a);
        }
        uint256 last = n - 1;
        if (idx - 1 != last) {
            uint256 moved = get(slot(S.T_CAND, numKey(last), 0));
            set(slot(S.T_CAND, numKey(idx - 1), 0), moved);
            set(slot(S.T_CAND_IDX, addrKey(toAddr(moved)), 0), idx);
        }
        set(slot(S.T_CAND, numKey(last), 0), 0);
        set(idxSlot, 0);
        setG(S.G_CANDIDATES, last);
        v.registered = false;
        S.storeVal(v);
        emit IStaking.CandidateRemoved(a);
    }

    /// `bond`: adds `amount` to `delegator`'s delegation to `v` (stores `v`).
    function _bond(Val memory v, address delegator, uint256 amount) private {
        uint256 shares = v.totalShares == 0 ? amount : S.mulDiv(amount, v.totalShares, v.totalStake);
        Del memory d = S.loadDel(v.addr, delegator);
        S.settle(d, v.acc);
        d.shares = cadd(d.shares, shares);
        S.resetDebt(d, v.acc);
        S.storeDel(d);
        v.totalStake = cadd(v.totalStake, amount);
        v.totalShares = cadd(v.totalShares, shares);
        S.storeVal(v);
        addG(S.G_TOTAL_BONDED, amount, false);
        emit IStaking.Delegated(v.addr, delegator, amount, shares);
    }

    /// `undelegate`.
    function _undelegate(StakingParams memory sp, address validator, address who, uint256 amount) private {
        // No `registered` check: a removed candidate's delegators must still be able to leave.
        Val memory v = S.loadVal(validator);
        Del memory d = S.loadDel(validator, who);
        uint256 available = S.valueOf(v, d.shares);
        if (amount == 0 || amount > available) revert IStaking.InsufficientDelegation(available);
        uint256 shares;
        if (amount == available) {
            shares = d.shares;
        } else {
            // Shares burned round up, so the rest never claims more than the stake left.
            uint256 num = S.mulDiv(amount, v.totalShares, 1);
            uint256 q = num / v.totalStake;
            shares = min(q * v.totalStake == num ? q : q + 1, d.shares);
        }
        S.settle(d, v.acc);
        d.shares -= shares;
        S.resetDebt(d, v.acc);
        S.storeDel(d);
        if (amount > v.totalStake || shares > v.totalShares) revert IStaking.ArithmeticOverflow();
        v.totalStake -= amount;
        v.totalShares -= shares;
        S.storeVal(v);
        addG(S.G_TOTAL_BONDED, amount, true);
        // An active validator's stake keeps counting until the next election and stays
        // slashable from there (H8).
        uint256 start = UB.effectiveStart(sp, v.active);
        uint256 release = UB.begin(sp, validator, who, amount, start);
        emit IStaking.Undelegated(validator, who, amount, uint64(release));
    }

    function _claim(address validator, address who) private returns (uint256 amount) {
        // A removed candidate's delegators keep their rewards.
        Val memory v = S.loadVal(validator);
        Del memory d = S.loadDel(validator, who);
        if (!v.registered && d.shares == 0 && d.pending == 0 && who != validator) {
            revert IStaking.NotRegistered(validator);
        }
        S.settle(d, v.acc);
        amount = d.pending;
        d.pending = 0;
        S.storeDel(d);
        if (who == validator) {
            amount = cadd(amount, v.commissionOwed);
            v.commissionOwed = 0;
            S.storeVal(v);
        }
        _pay(who, amount);
        emit IStaking.RewardsClaimed(validator, who, amount);
    }

    // =============================================================== slashing

    /// `slashing::slash`: cuts `shareBps` of `v`'s bonded stake and of its unbonding stake
    /// that started at `infraction` or later; the reporter (unless it or the transaction's
    /// origin is the offender) gets its share; of the rest, `slashTreasuryBps` goes to the
    /// treasury (`DBC_GOVERNANCE`, source 5) and the remainder is burned. Does not store `v`.
    function _slash(
        StakingParams memory sp,
        Val memory v,
        uint256 shareBps,
        uint256 infraction,
        address reporter,
        bool hasReporter,
        uint8 why
    ) private returns (uint256 amount) {
        uint256 bonded = bpsOf(v.totalStake, shareBps);
        v.totalStake -= bonded;
        addG(S.G_TOTAL_BONDED, bonded, true);
        uint256 unbonding = UB.slash(sp, v.addr, infraction, shareBps);
        amount = cadd(bonded, unbonding);
        bool pays = hasReporter && reporter != v.addr && tx.origin != v.addr;
        uint256 reward = pays ? bpsOf(amount, sp.evidenceRewardBps) : 0;
        if (pays) _pay(reporter, reward);
        _treasuryAndBurn(sp, v.addr, amount - reward);
        emit IStaking.Slashed(v.addr, amount, why);
    }

    /// The rest of a slash after the reporter's share: `slashTreasuryBps` of it to the treasury
    /// (source 5, from the validator), then the remainder burned as far as the burn floor allows
    /// (`supply::burn_capped`: the part it stops goes to the treasury, source 8, from staking)
    /// and what was burned counted in `G_BURNED`.
    function _treasuryAndBurn(StakingParams memory sp, address validator, uint256 rest) private {
        uint256 toTreasury = bpsOf(rest, sp.slashTreasuryBps);
        uint256 burnPart = rest - toTreasury;
        _fatalUnless(treasuryReceive(SOURCE_VALIDATOR_SLASH, validator, toTreasury, true));
        uint256 burned = reserveBurn(burnPart);
        _burn(burned);
        _fatalUnless(treasuryReceive(SOURCE_BURN_FLOOR, address(this), burnPart - burned, true));
        addG(S.G_BURNED, burned, false);
    }

    function _jail(StakingParams memory sp, Val memory v) private {
        uint256 until = max(cadd64(block.number, sp.jailBlocks), v.jailedUntil);
        v.jailedUntil = until;
        emit IStaking.Jailed(v.addr, uint64(until));
    }

    /// `slashing::double_sign`.
    function _doubleSign(StakingParams memory sp, address reporter, bytes memory a, bytes memory b) private {
        (address signer, uint256 number) = _evidence(a, b);
        if (satAdd64(number, sp.unbondingBlocks) < block.number) {
            EV.invalid("evidence older than the unbonding period");
        }
        Val memory v = S.loadVal(signer);
        uint256 used = slot(S.T_EVIDENCE, keccak256(abi.encodePacked(signer, uint64(number))), 0);
        if (get(used) != 0) revert IStaking.EvidenceAlreadyUsed();
        set(used, 1);
        uint256 amount = _slash(sp, v, sp.doubleSignSlashBps, number, reporter, true, REASON_DOUBLE_SIGN);
        // A removed candidate is still slashable for what it signed while it had stake; an
        // address that never had stake here is not a validator.
        if (!v.registered && amount == 0 && v.totalShares == 0) EV.invalid("the signer is not a validator");
        _jail(sp, v);
        S.storeVal(v);
    }

    /// The evidence checks up to the common sealer: (sealer, height).
    function _evidence(bytes memory a, bytes memory b) private pure returns (address, uint256) {
        (bool okA, EV.Header memory ha) = EV.decodeExact(a);
        (bool okB, EV.Header memory hb) = EV.decodeExact(b);
        if (!okA || !okB) EV.invalid("headers do not decode");
        if (ha.number != hb.number || ha.timestamp != hb.timestamp) EV.invalid("headers are for different slots");
        bytes32 sha = EV.sealHash(a, ha);
        bytes32 shb = EV.sealHash(b, hb);
        if (sha == shb) EV.invalid("the headers are the same");
        address sa = EV.recoverSealer(a, ha, sha);
        if (sa != EV.recoverSealer(b, hb, shb)) EV.invalid("sealed by different validators");
        return (sa, ha.number);
    }

    // =============================================================== block hook

    function _onBlock(StakingParams memory sp, address proposer, address[] memory missed) private {
        if (g(S.G_INIT) == 0) {
            setG(S.G_INIT, 1);
            GenesisValidator[] storage gvs = S.config().validators;
            for (uint256 i = 0; i < gvs.length; i++) {
                _register(sp, gvs[i].addr, gvs[i].stake, gvs[i].commissionBps);
            }
            (address[] memory elected, uint256[] memory stakes) = _genesisSet(sp);
            _writeActive(elected, stakes, 0);
        }
        // Block reward.
        Val memory v = S.loadVal(proposer);
        if (v.registered) {
            uint256 paid = g(S.G_POOL_PAID);
            uint256 now_ = blockNow();
            uint256 perBlock = EmissionLib.rate(sp.emission, EmissionLib.eraOf(sp.emission, now_), sp.rewardPool);
            uint256 reward = min(perBlock, sp.rewardPool > paid ? sp.rewardPool - paid : 0);
            if (reward != 0) {
                setG(S.G_POOL_PAID, cadd(paid, reward));
                uint256 commission = bpsOf(reward, v.commission);
                uint256 rest = reward - commission;
                if (v.totalShares == 0) {
                    commission = reward;
                } else {
                    v.acc = cadd(v.acc, S.mulDiv(rest, S.SCALE, v.totalShares));
                }
                v.commissionOwed = cadd(v.commissionOwed, commission);
                S.storeVal(v);
                emit IStaking.BlockRewarded(proposer, reward, commission);
            }
        }
        // Missed slots.
        uint256 epoch = block.number / sp.epochBlocks;
        for (uint256 i = 0; i < missed.length; i++) {
            Val memory m = S.loadVal(missed[i]);
            if (!m.registered) continue;
            if (m.missedEpoch != epoch) {
                m.missedEpoch = epoch;
                m.missed = 0;
            }
            if (m.missed < type(uint32).max) m.missed += 1;
            if (m.missed >= sp.downtimeJailMissed && m.jailedUntil == 0) {
                _slash(sp, m, sp.downtimeSlashBps, block.number, address(0), false, REASON_DOWNTIME);
                _jail(sp, m);
            }
            S.storeVal(m);
        }
        if (block.number % sp.epochBlocks == 0) _elect(sp, epoch);
    }

    /// True if (a, sa) comes before (b, sb) in election order: stake descending, then address.
    function _before(address a, uint256 sa, address b, uint256 sb) private pure returns (bool) {
        return sa > sb || (sa == sb && a < b);
    }

    /// Inserts (a, s) into the first `n` entries (sorted, at most `cap`); returns the new count.
    function _insert(address[] memory elected, uint256[] memory stakes, uint256 n, uint256 cap, address a, uint256 s)
        private
        pure
        returns (uint256)
    {
        uint256 j = 0;
        while (j < n && !_before(a, s, elected[j], stakes[j])) j++;
        if (j >= cap) return n;
        uint256 top = n < cap ? n : cap - 1;
        for (uint256 k = top; k > j; k--) {
            elected[k] = elected[k - 1];
            stakes[k] = stakes[k - 1];
        }
        elected[j] = a;
        stakes[j] = s;
        return n < cap ? n + 1 : n;
    }

    function _shrink(address[] memory elected, uint256[] memory stakes, uint256 n) private pure {
        assembly {
            mstore(elected, n)
            mstore(stakes, n)
        }
    }

    /// `genesis_set`: the genesis validators in election order, at most `maxValidators`.
    function _genesisSet(StakingParams memory sp)
        private
        view
        returns (address[] memory elected, uint256[] memory stakes)
    {
        GenesisValidator[] storage gvs = S.config().validators;
        uint256 cap = sp.maxValidators;
        elected = new address[](min(gvs.length, cap));
        stakes = new uint256[](elected.length);
        uint256 n = 0;
        for (uint256 i = 0; i < gvs.length && cap > 0; i++) {
            n = _insert(elected, stakes, n, cap, gvs[i].addr, gvs[i].stake);
        }
        _shrink(elected, stakes, n);
    }

    /// `write_active`: replaces the active set and emits `ValidatorSetElected(epoch, …)`.
    function _writeActive(address[] memory elected, uint256[] memory stakes, uint256 epoch) private {
        address[] memory old = S.activeSet();
        for (uint256 i = 0; i < old.length; i++) {
            Val memory v = S.loadVal(old[i]);
            v.active = false;
            S.storeVal(v);
        }
        for (uint256 i = 0; i < elected.length; i++) {
            set(slot(S.T_ACTIVE, numKey(i), 0), uint160(elected[i]));
            set(slot(S.T_ACTIVE, numKey(i), 1), stakes[i]);
            Val memory v = S.loadVal(elected[i]);
            v.active = true;
            S.storeVal(v);
        }
        for (uint256 i = elected.length; i < old.length; i++) {
            set(slot(S.T_ACTIVE, numKey(i), 0), 0);
            set(slot(S.T_ACTIVE, numKey(i), 1), 0);
        }
        setG(S.G_ACTIVE_LEN, elected.length);
        emit IStaking.ValidatorSetElected(uint64(epoch), elected);
    }

    /// `elect`: the top `maxValidators` eligible candidates by stake become the set of the next
    /// epoch; with none eligible the current set stays.
    function _elect(StakingParams memory sp, uint256 epoch) private {
        address[] memory cands = S.candidates();
        uint256 cap = sp.maxValidators;
        address[] memory elected = new address[](min(cands.length, cap));
        uint256[] memory stakes = new uint256[](elected.length);
        uint256 n = 0;
        for (uint256 i = 0; i < cands.length; i++) {
            Val memory v = S.loadVal(cands[i]);
            if (v.jailedUntil != 0 || v.totalStake == 0) continue;
            Del memory own = S.loadDel(cands[i], cands[i]);
            if (S.valueOf(v, own.shares) < sp.minSelfStake) continue;
            if (cap > 0) n = _insert(elected, stakes, n, cap, cands[i], v.totalStake);
        }
        if (n == 0) return;
        _shrink(elected, stakes, n);
        _writeActive(elected, stakes, epoch + 1);
    }

    // =============================================================== views

    function _view(StakingParams memory sp, uint256 f, Args memory a) private view returns (bytes memory) {
        if (f == F_GET_VALIDATOR) {
            Val memory v = S.loadVal(a.a0);
            Del memory own = S.loadDel(a.a0, a.a0);
            uint256 epoch = block.number / max(sp.epochBlocks, 1);
            IStaking.Validator memory info = IStaking.Validator({
                validator: a.a0,
                selfStake: S.valueOf(v, own.shares),
                totalStake: v.totalStake,
                totalShares: v.totalShares,
                commissionBps: uint16(v.commission),
                jailedUntil: uint64(v.jailedUntil),
                missedThisEpoch: v.missedEpoch == epoch ? uint32(v.missed) : 0,
                active: v.active,
                commissionOwed: v.commissionOwed
            });
            return abi.encode(info);
        }
        if (f == F_GET_DELEGATION) {
            Val memory v = S.loadVal(a.a0);
            Del memory d = S.loadDel(a.a0, a.a1);
            return abi.encode(IStaking.Delegation(S.valueOf(v, d.shares), d.shares, S.pendingNow(d, v.acc)));
        }
        if (f == F_GET_UNBONDING) {
            IStaking.Unbonding[] memory list = UB.list(a.a0);
            uint256 amount = 0;
            uint64 release = 0;
            for (uint256 i = 0; i < list.length; i++) {
                amount = cadd(amount, list[i].amount);
                if (list[i].releaseBlock > release) release = list[i].releaseBlock;
            }
            return abi.encode(amount, release);
        }
        if (f == F_GET_UNBONDINGS) return abi.encode(UB.list(a.a0));
        if (f == F_PENDING_COMMISSION) {
            Val memory v = S.loadVal(a.a0);
            return abi.encode(uint16(v.pendingCommission), uint64(v.pendingAt));
        }
        if (f == F_CANDIDATES) return abi.encode(S.candidates());
        if (f == F_ACTIVE) return abi.encode(S.activeSet());
        if (f == F_EPOCH_BLOCKS) return abi.encode(sp.epochBlocks);
        if (f == F_POOL_REMAINING) {
            uint256 paid = g(S.G_POOL_PAID);
            return abi.encode(sp.rewardPool > paid ? sp.rewardPool - paid : 0);
        }
        return abi.encode(g(S.G_BURNED));
    }

    // =============================================================== native DBC

    /// `pay_own`: credits `to` out of this account's balance without running `to`'s code.
    function _pay(address to, uint256 amount) private {
        _fatalUnless(payByCarrier(to, amount));
    }

    /// `burn_own`: removes `amount` from this account's balance (it leaves the supply).
    function _burn(uint256 amount) private {
        _fatalUnless(burnByCarrier(amount));
    }

    /// A payment or burn the balance cannot cover is fatal on the node.
    function _fatalUnless(bool moved) private pure {
        require(moved, "StakingSol: balance too low (fatal on the node)");
    }
}
