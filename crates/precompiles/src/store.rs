//! Storage layout of the market account and the metered access to it.
//!
//! Records live at `keccak256(abi.encode(tag, key)) + field`; globals at small slot numbers.
//! Several small fields share a slot (bit-packed) to keep calls cheap. Every read and write is
//! charged like `SLOAD`/`SSTORE` (EIP-2929 cold/warm, EIP-2200 set/reset; no refunds).

use crate::host::{Host, HostError};
use alloy_primitives::{Address, B256, Bytes, LogData, U256, keccak256};
use alloy_sol_types::{SolError, SolValue};
use dbc_chainspec::MarketParams;

/// Gas schedule of the market precompile.
pub mod gas {
    /// Charged for every call (decoding, dispatch).
    pub const BASE: u64 = 2_000;
    /// First read of a slot in the transaction.
    pub const COLD_SLOAD: u64 = 2_100;
    /// Later reads.
    pub const WARM_SLOAD: u64 = 100;
    /// Zero to non-zero write.
    pub const SSTORE_SET: u64 = 20_000;
    /// Non-zero to other write.
    pub const SSTORE_RESET: u64 = 2_900;
    /// Per log.
    pub const LOG: u64 = 375;
    /// Per log topic.
    pub const LOG_TOPIC: u64 = 375;
    /// Per byte of log data.
    pub const LOG_BYTE: u64 = 8;
    /// Per payment out of the market (like a value-bearing CALL).
    pub const PAY: u64 = 9_000;
    /// Per hash computed (commitments, draws).
    pub const HASH: u64 = 60;
    /// Per loop step that reads no storage.
    pub const STEP: u64 = 10;
    /// Recovering a signer (as the `ecrecover` precompile).
    pub const ECRECOVER: u64 = 3_000;
    /// Reading a recent block's hash (as `BLOCKHASH`).
    pub const BLOCKHASH: u64 = 20;
    /// Loading the parameters in force (one flat read; see `params.rs`), every call.
    pub const PARAMS: u64 = 2_100;
}

/// Why a call did not succeed.
#[derive(Debug)]
pub(crate) enum Fail {
    /// Revert with this data (a custom error of the interface).
    Revert(Bytes),
    /// Gas ran out.
    OutOfGas,
    /// A broken invariant or a database failure: aborts the block.
    Fatal(String),
}

impl From<HostError> for Fail {
    fn from(e: HostError) -> Self {
        Fail::Fatal(e.to_string())
    }
}

/// Reverts with a custom error of the interface.
pub(crate) fn revert<E: SolError>(e: E) -> Fail {
    Fail::Revert(e.abi_encode().into())
}

pub(crate) type Res<T> = Result<T, Fail>;

/// Overflow guard: `None` becomes a revert with `ArithmeticOverflow()`.
pub(crate) fn ck<T>(v: Option<T>) -> Res<T> {
    v.ok_or_else(|| revert(crate::abi::IGpuMarket::ArithmeticOverflow {}))
}

// Record tags.
pub(crate) const T_MACHINE: u64 = 1;
pub(crate) const T_MACHINE_AT: u64 = 2;
pub(crate) const T_ROUND_MACHINE: u64 = 3;
pub(crate) const T_ROUND_REPORT: u64 = 4;
pub(crate) const T_RENTAL: u64 = 5;
pub(crate) const T_REPORT: u64 = 6;
pub(crate) const T_AUDITOR: u64 = 7;
pub(crate) const T_COMMITTEE: u64 = 8;
pub(crate) const T_ACCOUNT: u64 = 9;
pub(crate) const T_TRANCHE: u64 = 10;
pub(crate) const T_QUEUE: u64 = 11;
pub(crate) const T_RENTAL_REPORT: u64 = 12;
pub(crate) const T_OWNER_MACHINES: u64 = 13;
/// A rental's segments (once extended): `2j` → end block of segment `j`, `2j + 1` → its price
/// per block (all its GPUs).
pub(crate) const T_RENTAL_SEGMENT: u64 = 14;
/// A machine's active rentals: `0` → count, `1..=count` → rental ids (swap-removed when one
/// ends; at most one per GPU).
pub(crate) const T_MACHINE_RENTALS: u64 = 15;
/// A machine's published endpoint: `0` → length in bytes, `1..=4` → 32-byte chunks.
pub(crate) const T_ENDPOINT: u64 = 16;

// Global slots.
pub(crate) const G_MACHINES: u64 = 0;
pub(crate) const G_RENTALS: u64 = 1;
pub(crate) const G_REPORTS: u64 = 2;
pub(crate) const G_TOTAL_GPUS: u64 = 3;
pub(crate) const G_ONLINE_GPUS: u64 = 4;
pub(crate) const G_RENTED_GPUS: u64 = 5;
pub(crate) const G_BURNED: u64 = 6;
pub(crate) const G_DISTRIBUTED: u64 = 7;
pub(crate) const G_ACC: u64 = 8;
pub(crate) const G_LAST_REWARD: u64 = 9;
pub(crate) const G_TOTAL_GRADE: u64 = 10;
pub(crate) const G_FEES_BURNED: u64 = 11;
pub(crate) const G_COMMITTEE: u64 = 12;
pub(crate) const G_CURSOR: u64 = 13;
/// Seats ever handed out in the committee list (`T_COMMITTEE` keys are `0..G_COMMITTEE_SEQ`;
/// a member who left leaves a hole, nobody moves).
pub(crate) const G_COMMITTEE_SEQ: u64 = 14;

/// The first 4 bytes of calldata, zero-padded (for `UnknownSelector`).
pub(crate) fn selector_of(data: &[u8]) -> alloy_primitives::FixedBytes<4> {
    let mut sel = [0u8; 4];
    let n = data.len().min(4);
    sel[..n].copy_from_slice(&data[..n]);
    sel.into()
}

/// ABI-encoded return data of call `C`.
pub(crate) fn ret<C: alloy_sol_types::SolCall>(r: &C::Return) -> Res<alloy_primitives::Bytes> {
    Ok(C::abi_encode_returns(r).into())
}

/// Slot of field `field` of the record `(tag, key)`.
pub(crate) fn slot(tag: u64, key: B256, field: u64) -> U256 {
    let base = keccak256((U256::from(tag), key).abi_encode());
    U256::from_be_bytes(base.0).wrapping_add(U256::from(field))
}

/// Record key of a number (rental, report, index, block).
pub(crate) fn num_key(n: u64) -> B256 {
    B256::from(U256::from(n))
}

/// Record key of an address.
pub(crate) fn addr_key(a: Address) -> B256 {
    a.into_word()
}

/// Reads `bits` (≤ 64) bits at `off` of a packed word.
pub(crate) fn bits(w: U256, off: usize, bits: usize) -> u64 {
    let mask = if bits == 64 { U256::from(u64::MAX) } else { U256::from((1u64 << bits) - 1) };
    ((w >> off) & mask).to::<u64>()
}

/// Writes `v` into `bits` (≤ 64) bits at `off` of a packed word.
pub(crate) fn put(w: &mut U256, off: usize, bits: usize, v: u64) {
    let mask = if bits == 64 { U256::from(u64::MAX) } else { U256::from((1u64 << bits) - 1) };
    *w = (*w & !(mask << off)) | ((U256::from(v) & mask) << off);
}

/// Address from a word.
pub(crate) fn to_addr(w: U256) -> Address {
    Address::from_word(B256::from(w))
}

/// Word from an address.
pub(crate) fn from_addr(a: Address) -> U256 {
    U256::from_be_bytes(a.into_word().0)
}

/// The execution context of one call: host, parameters, block and gas meter.
pub(crate) struct Ctx<'a, H: Host> {
    pub(crate) host: &'a mut H,
    /// The precompile account whose storage `get`/`set`/`emit` address.
    pub(crate) me: Address,
    pub(crate) p: &'a MarketParams,
    pub(crate) now: u64,
    gas_limit: u64,
    pub(crate) gas_used: u64,
    metered: bool,
    /// The burn floor's numbers, when the caller has the chain's parameters (every precompile
    /// the EVM runs); `None` in single-precompile unit tests, where burns are not capped.
    pub(crate) supply: Option<crate::supply::SupplyRules>,
}

impl<'a, H: Host> Ctx<'a, H> {
    /// A metered context with `gas_limit`.
    pub(crate) fn new(
        host: &'a mut H,
        me: Address,
        p: &'a MarketParams,
        gas_limit: u64,
        metered: bool,
    ) -> Self {
        let now = host.block_number();
        Self { host, me, p, now, gas_limit, gas_used: 0, metered, supply: None }
    }

    /// Runs `f` against the storage of `account` (another precompile), then switches back.
    pub(crate) fn within<T>(
        &mut self,
        account: Address,
        f: impl FnOnce(&mut Self) -> Res<T>,
    ) -> Res<T> {
        let prev = std::mem::replace(&mut self.me, account);
        let r = f(self);
        self.me = prev;
        r
    }

    /// Charges `g` gas.
    pub(crate) fn charge(&mut self, g: u64) -> Res<()> {
        self.gas_used = self.gas_used.saturating_add(g);
        if self.metered && self.gas_used > self.gas_limit {
            return Err(Fail::OutOfGas);
        }
        Ok(())
    }

    /// Reads a slot.
    pub(crate) fn get(&mut self, key: U256) -> Res<U256> {
        let (v, cold) = self.host.sload(self.me, key)?;
        self.charge(if cold { gas::COLD_SLOAD } else { gas::WARM_SLOAD })?;
        Ok(v)
    }

    /// Writes a slot.
    pub(crate) fn set(&mut self, key: U256, v: U256) -> Res<()> {
        let info = self.host.sstore(self.me, key, v)?;
        let mut cost = if info.cold { gas::COLD_SLOAD } else { 0 };
        cost += if v == info.present {
            gas::WARM_SLOAD
        } else if info.original == info.present {
            if info.original.is_zero() { gas::SSTORE_SET } else { gas::SSTORE_RESET }
        } else {
            gas::WARM_SLOAD
        };
        self.charge(cost)
    }

    /// Reads a slot at a flat price, as a cold read whatever was touched before.
    pub(crate) fn get_flat(&mut self, key: U256) -> Res<U256> {
        self.charge(gas::COLD_SLOAD)?;
        let (v, _) = self.host.sload(self.me, key)?;
        Ok(v)
    }

    /// Writes a slot at a flat price, as a cold zero-to-non-zero write whatever the slot held.
    /// For slots shared with other objects, whose state a sender cannot know when it estimates
    /// gas (the hook queue's per-block lists): a call's gas then does not depend on what else
    /// happens to be scheduled at the same block.
    pub(crate) fn set_flat(&mut self, key: U256, v: U256) -> Res<()> {
        self.charge(gas::COLD_SLOAD + gas::SSTORE_SET)?;
        self.host.sstore(self.me, key, v)?;
        Ok(())
    }

    /// Reads a global.
    pub(crate) fn g(&mut self, n: u64) -> Res<U256> {
        self.get(U256::from(n))
    }

    /// Writes a global.
    pub(crate) fn set_g(&mut self, n: u64, v: U256) -> Res<()> {
        self.set(U256::from(n), v)
    }

    /// Adds a signed delta to a global counter (checked).
    pub(crate) fn add_g(&mut self, n: u64, delta: U256, sub: bool) -> Res<U256> {
        let cur = self.g(n)?;
        let next = if sub { ck(cur.checked_sub(delta))? } else { ck(cur.checked_add(delta))? };
        self.set_g(n, next)?;
        Ok(next)
    }

    /// Adds to (or subtracts from) a global counter every user shares, at a flat price
    /// ([`Self::get_flat`], [`Self::set_flat`]): a call's gas must not depend on whether others
    /// left it at zero (`eth_estimateGas`). Checked.
    pub(crate) fn add_g_flat(&mut self, n: u64, delta: U256, sub: bool) -> Res<U256> {
        let k = U256::from(n);
        let cur = self.get_flat(k)?;
        let next = if sub { ck(cur.checked_sub(delta))? } else { ck(cur.checked_add(delta))? };
        self.set_flat(k, next)?;
        Ok(next)
    }

    /// Runs `f` and charges it at least `total` gas: for work whose cost depends on what other
    /// users did, which a sender cannot know when it estimates gas (charged its worst case).
    pub(crate) fn at_flat_cost<T>(
        &mut self,
        total: u64,
        f: impl FnOnce(&mut Self) -> Res<T>,
    ) -> Res<T> {
        let start = self.gas_used;
        let out = f(self)?;
        self.charge(total.saturating_sub(self.gas_used.saturating_sub(start)))?;
        Ok(out)
    }

    /// Emits an event.
    pub(crate) fn emit(&mut self, data: LogData) -> Res<()> {
        let cost = gas::LOG
            + gas::LOG_TOPIC * data.topics().len() as u64
            + gas::LOG_BYTE * data.data.len() as u64;
        self.charge(cost)?;
        self.host.log(self.me, data);
        Ok(())
    }

    /// Pays `amount` out of the market.
    pub(crate) fn pay(&mut self, to: Address, amount: U256) -> Res<()> {
        if amount.is_zero() {
            return Ok(());
        }
        self.charge(gas::PAY)?;
        self.host.pay(to, amount)?;
        Ok(())
    }

    /// Pays `amount` out of the current precompile account (`me`).
    pub(crate) fn pay_own(&mut self, to: Address, amount: U256) -> Res<()> {
        if amount.is_zero() {
            return Ok(());
        }
        self.charge(gas::PAY)?;
        self.host.pay_from(self.me, to, amount)?;
        Ok(())
    }

    /// Burns `amount` held by the current precompile account (`me`).
    pub(crate) fn burn_own(&mut self, amount: U256) -> Res<()> {
        self.charge(gas::WARM_SLOAD)?;
        self.host.burn_from(self.me, amount)?;
        Ok(())
    }

    /// Hash of recent block `number` (charged; zero outside the last 256).
    pub(crate) fn block_hash(&mut self, number: u64) -> Res<B256> {
        self.charge(gas::BLOCKHASH)?;
        Ok(self.host.block_hash(number)?)
    }

    /// Hashes (charged).
    pub(crate) fn hash(&mut self, data: &[u8]) -> Res<B256> {
        self.charge(gas::HASH + 6 * data.len().div_ceil(32) as u64)?;
        Ok(keccak256(data))
    }
}

/// A record of `N` consecutive slots, loaded whole and written back slot by slot where changed.
pub(crate) struct Slots<const N: usize> {
    pub(crate) tag: u64,
    pub(crate) key: B256,
    pub(crate) orig: [U256; N],
}

impl<const N: usize> Slots<N> {
    pub(crate) fn load<H: Host>(
        ctx: &mut Ctx<'_, H>,
        tag: u64,
        key: B256,
    ) -> Res<(Self, [U256; N])> {
        let mut w = [U256::ZERO; N];
        for (i, v) in w.iter_mut().enumerate() {
            *v = ctx.get(slot(tag, key, i as u64))?;
        }
        Ok((Self { tag, key, orig: w }, w))
    }

    pub(crate) fn store<H: Host>(&mut self, ctx: &mut Ctx<'_, H>, w: [U256; N]) -> Res<()> {
        for (i, (new, old)) in w.iter().zip(self.orig.iter_mut()).enumerate() {
            if new != old {
                ctx.set(slot(self.tag, self.key, i as u64), *new)?;
                *old = *new;
            }
        }
        Ok(())
    }
}
