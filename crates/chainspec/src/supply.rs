//! The genesis supply (`config.dbc.supply`): the total and the named buckets it is split into,
//! checked against the allocations.
//!
//! DBC's supply is fixed at 10,000,000,000 DBC. A genesis names where every wei of it starts:
//! `{ "total": "10000000000", "buckets": [{ "bucket": "gpuMining", "address": "0x…0D01",
//! "amount": "4000000000" }, …] }`, amounts in DBC (decimal, at most 18 fractional digits). The
//! buckets must add up to the total, and every address's buckets to exactly its genesis
//! balance, so no wei is allocated outside a bucket.

use std::collections::BTreeMap;

use alloy_primitives::{Address, U256, address};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DBC;

/// Where the circulating supply not given to anyone at genesis waits (the DBC 1.0 holders'
/// migration). Accounts a test or dev genesis funds are paid out of it.
pub const CIRCULATING_RESERVE: Address = address!("0x000000000000000000000000000000000DBC0C01");

/// DBC's total supply in whole DBC.
pub const TOTAL_SUPPLY_DBC: u64 = 10_000_000_000;

/// An amount of DBC written as a decimal number of DBC (`"2999900000"`, `"0.5"`), held in wei.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct DbcAmount(pub U256);

impl DbcAmount {
    /// Parses `"123"` or `"123.000000000000000001"`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || (s.contains('.') && (!digits(frac) || frac.len() > 18)) {
            return Err(format!("`{s}` is not an amount of DBC (digits, at most 18 decimals)"));
        }
        let whole = U256::from_str_radix(int, 10).map_err(|e| format!("`{s}`: {e}"))?;
        let mut f = frac.to_string();
        while f.len() < 18 {
            f.push('0');
        }
        let part = U256::from_str_radix(&f, 10).map_err(|e| format!("`{s}`: {e}"))?;
        whole
            .checked_mul(U256::from(DBC))
            .and_then(|w| w.checked_add(part))
            .map(Self)
            .ok_or_else(|| format!("`{s}` DBC overflows 256 bits of wei"))
    }
}

impl std::fmt::Display for DbcAmount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = U256::from(DBC);
        let (int, frac) = (self.0 / unit, self.0 % unit);
        if frac.is_zero() {
            write!(f, "{int}")
        } else {
            let s = format!("{:0>18}", frac.to_string());
            write!(f, "{int}.{}", s.trim_end_matches('0'))
        }
    }
}

impl Serialize for DbcAmount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for DbcAmount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The named buckets of the supply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Bucket {
    /// The GPU market's reward pool (the market account).
    GpuMining,
    /// The validators' block-reward pool (the staking account).
    ValidatorRewards,
    /// The treasury (the governance account `0x…0D04`).
    Treasury,
    /// The foundation.
    Foundation,
    /// Ecosystem grants.
    Ecosystem,
    /// Everything in circulation at genesis: holders, genesis validators' stakes, and the
    /// reserve not handed out yet.
    Circulating,
}

/// One allocation of a bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BucketAlloc {
    /// The bucket.
    pub bucket: Bucket,
    /// The account holding it at genesis.
    pub address: Address,
    /// The amount.
    pub amount: DbcAmount,
}

/// `config.dbc.supply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SupplyParams {
    /// The total supply.
    pub total: DbcAmount,
    /// Where it starts.
    pub buckets: Vec<BucketAlloc>,
}

impl SupplyParams {
    /// Checks the buckets against the total and the genesis balances (`balances`: every
    /// allocated account's balance).
    pub fn validate(&self, balances: &BTreeMap<Address, U256>) -> Result<(), String> {
        let mut by_address: BTreeMap<Address, U256> = BTreeMap::new();
        let mut sum = U256::ZERO;
        for b in &self.buckets {
            sum = sum.checked_add(b.amount.0).ok_or("config.dbc.supply: buckets overflow")?;
            let e = by_address.entry(b.address).or_default();
            *e = e.saturating_add(b.amount.0);
        }
        if sum != self.total.0 {
            return Err(format!(
                "config.dbc.supply: the buckets add up to {} DBC, not the total of {} DBC",
                DbcAmount(sum),
                self.total
            ));
        }
        let alloc = balances.values().fold(U256::ZERO, |a, b| a.saturating_add(*b));
        if alloc != self.total.0 {
            return Err(format!(
                "config.dbc.supply: the genesis balances add up to {} DBC, not the total of {} \
                 DBC",
                DbcAmount(alloc),
                self.total
            ));
        }
        for (a, amount) in &by_address {
            let held = balances.get(a).copied().unwrap_or_default();
            if held != *amount {
                return Err(format!(
                    "config.dbc.supply: {a} holds {} DBC in genesis but its buckets say {} DBC",
                    DbcAmount(held),
                    DbcAmount(*amount)
                ));
            }
        }
        // Equal sums and every bucket address exact: no other account holds anything.
        Ok(())
    }

    /// Moves `amount` from the circulating reserve to a new circulating allocation of `to`
    /// (for accounts a test or dev genesis funds). Errors when the reserve is short.
    pub fn pay_from_reserve(&mut self, to: Address, amount: U256) -> Result<(), String> {
        if amount.is_zero() {
            return Ok(());
        }
        let reserve = self
            .buckets
            .iter_mut()
            .find(|b| b.bucket == Bucket::Circulating && b.address == CIRCULATING_RESERVE)
            .ok_or("config.dbc.supply has no circulating reserve to fund accounts from")?;
        reserve.amount.0 = reserve.amount.0.checked_sub(amount).ok_or_else(|| {
            format!(
                "the circulating reserve {CIRCULATING_RESERVE} holds {} DBC, less than the {} \
                 DBC to allocate",
                reserve.amount,
                DbcAmount(amount)
            )
        })?;
        match self.buckets.iter_mut().find(|b| b.bucket == Bucket::Circulating && b.address == to) {
            Some(b) => b.amount.0 = b.amount.0.saturating_add(amount),
            None => self.buckets.push(BucketAlloc {
                bucket: Bucket::Circulating,
                address: to,
                amount: DbcAmount(amount),
            }),
        }
        Ok(())
    }

    /// Removes `to`'s circulating allocation and returns it to the reserve; returns the amount.
    pub fn return_to_reserve(&mut self, from: Address) -> U256 {
        let mut back = U256::ZERO;
        self.buckets.retain(|b| {
            let drop = b.bucket == Bucket::Circulating && b.address == from;
            if drop {
                back = back.saturating_add(b.amount.0);
            }
            !drop
        });
        if let Some(r) = self
            .buckets
            .iter_mut()
            .find(|b| b.bucket == Bucket::Circulating && b.address == CIRCULATING_RESERVE)
        {
            r.amount.0 = r.amount.0.saturating_add(back);
        }
        back
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_exactly_and_print_back() {
        for (s, wei) in [
            ("0", U256::ZERO),
            ("1", U256::from(DBC)),
            ("0.000000000000000001", U256::from(1u64)),
            ("2.5", U256::from(DBC * 5 / 2)),
        ] {
            let a = DbcAmount::parse(s).unwrap();
            assert_eq!(a.0, wei);
            assert_eq!(a.to_string(), s);
        }
        for bad in ["", ".5", "1.", "1e9", "-1", "0x10", "1.0000000000000000001", " 1"] {
            assert!(DbcAmount::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn buckets_must_match_the_total_and_the_balances() {
        let a = address!("0x00000000000000000000000000000000000000a1");
        let dbc = |n: u64| U256::from(n) * U256::from(DBC);
        let mut s = SupplyParams {
            total: DbcAmount(dbc(100)),
            buckets: vec![
                BucketAlloc { bucket: Bucket::Treasury, address: a, amount: DbcAmount(dbc(40)) },
                BucketAlloc {
                    bucket: Bucket::Circulating,
                    address: CIRCULATING_RESERVE,
                    amount: DbcAmount(dbc(60)),
                },
            ],
        };
        let mut bal = BTreeMap::from([(a, dbc(40)), (CIRCULATING_RESERVE, dbc(60))]);
        s.validate(&bal).unwrap();
        bal.insert(a, dbc(41));
        let e = s.validate(&bal).unwrap_err();
        assert!(e.contains("genesis balances add up to 101 DBC"), "{e}");
        bal.insert(a, dbc(39));
        bal.insert(CIRCULATING_RESERVE, dbc(61));
        let e = s.validate(&bal).unwrap_err();
        assert!(e.contains("holds 39 DBC in genesis but its buckets say 40 DBC"), "{e}");
        s.total = DbcAmount(dbc(99));
        assert!(s.validate(&bal).unwrap_err().contains("buckets add up to 100 DBC"));
        s.total = DbcAmount(dbc(100));

        let b = address!("0x00000000000000000000000000000000000000b2");
        s.pay_from_reserve(b, dbc(10)).unwrap();
        let bal = BTreeMap::from([(a, dbc(40)), (CIRCULATING_RESERVE, dbc(50)), (b, dbc(10))]);
        s.validate(&bal).unwrap();
        assert!(s.pay_from_reserve(b, dbc(51)).unwrap_err().contains("less than"));
        assert_eq!(s.return_to_reserve(b), dbc(10));
        s.validate(&BTreeMap::from([(a, dbc(40)), (CIRCULATING_RESERVE, dbc(60))])).unwrap();
    }
}
