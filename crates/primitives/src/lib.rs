//! Core types of dbc-node.
//!
//! The chain speaks Ethereum's formats, so the consensus types are `alloy-consensus`'s:
//! [`Header`], [`TxEnvelope`] (legacy, EIP-2930, EIP-1559, EIP-7702; blob transactions are not
//! accepted) and [`ReceiptEnvelope`]. This crate adds what the node stores and passes between
//! its parts: a block with its recovered senders, and the compact account record of the plain
//! state.

use alloy_consensus::Header;
use alloy_primitives::{Address, B256, U256};
use alloy_rlp::{RlpDecodable, RlpEncodable};

pub mod pos;

pub use alloy_consensus::{
    Header as BlockHeader, ReceiptEnvelope, Sealable, Sealed, TxEnvelope, transaction::Recovered,
};

/// A header together with its hash.
pub type SealedHeader = Sealed<Header>;

/// Keccak-256 of empty code.
pub const KECCAK_EMPTY: B256 = alloy_primitives::KECCAK256_EMPTY;

/// Largest block, in RLP bytes: EIP-7934's `MAX_RLP_BLOCK_SIZE` (10 MiB minus a 2 MiB margin),
/// a consensus rule from Osaka on, which this chain activates at genesis. It is also the
/// largest block the network gossips and serves.
pub const MAX_RLP_BLOCK_SIZE: usize = 8 << 20;

/// Room kept in a block for everything but its transactions: the header (its extra data carries
/// a finality proof: one signature per validator, at most 21) and the list headers. A builder
/// stops adding transactions once their encodings would pass
/// `MAX_RLP_BLOCK_SIZE - BLOCK_OVERHEAD_BYTES`, so a built block is always below the limit.
pub const BLOCK_OVERHEAD_BYTES: usize = 64 << 10;

/// A block as the node passes it around: sealed header, transactions and their senders.
#[derive(Debug, Clone)]
pub struct Block {
    /// The sealed header.
    pub header: SealedHeader,
    /// Transactions in block order.
    pub transactions: Vec<TxEnvelope>,
    /// The sender of each transaction, same order.
    pub senders: Vec<Address>,
}

impl Block {
    /// Block number.
    pub fn number(&self) -> u64 {
        self.header.number
    }

    /// Block hash.
    pub fn hash(&self) -> B256 {
        self.header.hash()
    }
}

/// An account in the plain state table: everything but its storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, RlpEncodable, RlpDecodable)]
pub struct StoredAccount {
    /// Nonce.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// Keccak of the code, [`KECCAK_EMPTY`] for none.
    pub code_hash: B256,
}

impl StoredAccount {
    /// Whether the account is empty in the EIP-161 sense.
    pub fn is_empty(&self) -> bool {
        self.nonce == 0 && self.balance.is_zero() && self.code_hash == KECCAK_EMPTY
    }

    /// Whether the account has code.
    pub fn has_code(&self) -> bool {
        self.code_hash != KECCAK_EMPTY && !self.code_hash.is_zero()
    }
}

/// Where a transaction sits in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct TxLocation {
    /// Block number.
    pub block_number: u64,
    /// Index within the block.
    pub index: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_account_roundtrips_through_rlp() {
        let account = StoredAccount {
            nonce: 7,
            balance: U256::from(10).pow(U256::from(20)),
            code_hash: KECCAK_EMPTY,
        };
        let encoded = alloy_rlp::encode(account);
        let decoded: StoredAccount =
            alloy_rlp::Decodable::decode(&mut encoded.as_slice()).expect("decodes");
        assert_eq!(decoded, account);
        assert!(!account.is_empty());
        assert!(StoredAccount { code_hash: KECCAK_EMPTY, ..Default::default() }.is_empty());
    }
}
