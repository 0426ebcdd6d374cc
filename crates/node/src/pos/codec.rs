//! Blocks on the wire: the standard Ethereum block RLP, decoded strictly and checked cheaply
//! before anything expensive happens.
//!
//! A block from a peer goes through three steps, cheapest first (security review H4):
//! [`decode_block`] (canonical RLP, no trailing bytes, no signature recovery), the header checks
//! of the caller (seal, slot, parent) and [`check_body`] (the body matches the header's
//! transaction, ommers and withdrawals roots), and only then [`recover_senders`] (one `ecrecover`
//! per transaction) and execution. A valid header with a swapped body is refused at
//! [`check_body`] without executing anything.

use alloy_consensus::{BlockBody, EMPTY_OMMER_ROOT_HASH};
use alloy_eips::eip4895::Withdrawals;
use alloy_primitives::Address;
use alloy_rlp::{Decodable, Encodable};
use dbc_primitives::{Block, BlockHeader, Sealable, TxEnvelope};

// The network carries exactly the blocks the consensus rule allows.
const _: () = assert!(dbc_network::MAX_BLOCK_SIZE == dbc_primitives::MAX_RLP_BLOCK_SIZE);

/// A block decoded from the wire whose senders are not recovered yet.
#[derive(Debug, Clone)]
pub struct RawBlock {
    /// The sealed header.
    pub header: dbc_primitives::SealedHeader,
    /// Transactions in block order.
    pub transactions: Vec<TxEnvelope>,
    /// What `verify_header_shape` found for this header on its parent, when headers-first
    /// sync checked it before the body was fetched; import then checks only the schedule.
    /// Set only by [`RawBlock::with_shape`] from the check itself.
    pub(crate) shaped: Option<dbc_consensus::pos::ShapedHeader>,
    /// [`check_body`] passed on exactly this header and these transactions: import does not
    /// hash them again, and the block's builder takes the header's transactions root. Set
    /// only where the check itself ran ([`RawBlock::ensure_body_checked`]). Nothing changes a
    /// block's header or transactions in place; a changed block is a new `RawBlock`.
    pub(crate) body_checked: bool,
}

impl RawBlock {
    /// A block decoded from the wire, its header not checked yet.
    pub fn new(header: dbc_primitives::SealedHeader, transactions: Vec<TxEnvelope>) -> Self {
        Self { header, transactions, shaped: None, body_checked: false }
    }

    /// Runs [`check_body`] unless it has passed on this block already, and records that it
    /// passed.
    pub(crate) fn ensure_body_checked(&mut self) -> Result<(), String> {
        if !self.body_checked {
            check_body(self.header.inner(), &self.transactions)?;
            self.body_checked = true;
        }
        Ok(())
    }

    /// The block with the result of `verify_header_shape` on exactly this header and its
    /// parent (the header's hash commits to both).
    pub(crate) fn with_shape(self, shaped: dbc_consensus::pos::ShapedHeader) -> Self {
        Self { shaped: Some(shaped), ..self }
    }
}

/// RLP of a block as gossiped and served: the standard Ethereum block encoding.
pub fn encode_block(block: &Block) -> Vec<u8> {
    encode_parts(block.header.inner(), &block.transactions)
}

/// The block encoding of a header and its transactions (no ommers, empty withdrawals).
fn encode_parts(header: &BlockHeader, transactions: &[TxEnvelope]) -> Vec<u8> {
    let b = alloy_consensus::Block {
        header: header.clone(),
        body: BlockBody {
            transactions: transactions.to_vec(),
            ommers: vec![],
            withdrawals: Some(Withdrawals::default()),
        },
    };
    let mut out = Vec::with_capacity(512);
    b.encode(&mut out);
    out
}

/// Decodes an RLP block strictly: the whole input, no ommers, an empty withdrawals list, and
/// the canonical encoding only (re-encoding gives the same bytes). Senders are not recovered.
pub fn decode_raw_block(raw: &[u8]) -> Result<RawBlock, String> {
    if raw.len() > dbc_primitives::MAX_RLP_BLOCK_SIZE {
        return Err(format!("block of {} bytes is above the size limit (EIP-7934)", raw.len()));
    }
    let mut rest = raw;
    let b = alloy_consensus::Block::<TxEnvelope>::decode(&mut rest).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err("trailing bytes after the block".into());
    }
    if !b.body.ommers.is_empty() {
        return Err("a block has no ommers".into());
    }
    if b.body.withdrawals.as_ref().is_none_or(|w| !w.is_empty()) {
        return Err("a block has an empty withdrawals list".into());
    }
    if b.body.transactions.iter().any(|t| matches!(t, TxEnvelope::Eip4844(_))) {
        return Err("blob transactions are not accepted".into());
    }
    let block = RawBlock::new(b.header.seal_slow(), b.body.transactions);
    if encode_parts(block.header.inner(), &block.transactions) != raw {
        return Err("non-canonical block encoding".into());
    }
    Ok(block)
}

/// Largest header accepted from a peer: a finality proof carries one ~67-byte signature per
/// voter, and the set may hold up to `MAX_CANDIDATES` (1,000) validators, ~67 KiB; twice that.
pub const MAX_HEADER_SIZE: usize = 128 << 10;
const _: () = assert!(MAX_HEADER_SIZE >= 67 * dbc_chainspec::MAX_CANDIDATES as usize + (8 << 10));

/// RLP of a header, as served to headers-first sync.
pub fn encode_header(header: &BlockHeader) -> Vec<u8> {
    let mut out = Vec::with_capacity(768);
    header.encode(&mut out);
    out
}

/// Decodes a header strictly: at most [`MAX_HEADER_SIZE`] bytes, the whole input, the
/// canonical encoding only.
pub fn decode_header(raw: &[u8]) -> Result<dbc_primitives::SealedHeader, String> {
    if raw.len() > MAX_HEADER_SIZE {
        return Err(format!("header of {} bytes is above {MAX_HEADER_SIZE}", raw.len()));
    }
    let mut rest = raw;
    let header = BlockHeader::decode(&mut rest).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err("trailing bytes after the header".into());
    }
    if encode_header(&header) != raw {
        return Err("non-canonical header encoding".into());
    }
    Ok(header.seal_slow())
}

/// RLP of a block body as served to headers-first sync: the list of its transactions (a block
/// here has no ommers and an empty withdrawals list, which the header's roots fix).
pub fn encode_body(transactions: &[TxEnvelope]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    alloy_rlp::encode_list(transactions, &mut out);
    out
}

/// Joins a header from the pinned header chain with a body a peer served for it: the body is
/// decoded strictly (at most a block's size, the whole input, canonical, no blob transactions)
/// and must be the one the header commits to ([`check_body`]). Senders are not recovered.
pub fn join_body(header: dbc_primitives::SealedHeader, raw: &[u8]) -> Result<RawBlock, String> {
    if raw.len() > dbc_primitives::MAX_RLP_BLOCK_SIZE {
        return Err(format!("body of {} bytes is above the block size limit", raw.len()));
    }
    let mut rest = raw;
    let transactions = Vec::<TxEnvelope>::decode(&mut rest).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err("trailing bytes after the body".into());
    }
    if transactions.iter().any(|t| matches!(t, TxEnvelope::Eip4844(_))) {
        return Err("blob transactions are not accepted".into());
    }
    if encode_body(&transactions) != raw {
        return Err("non-canonical body encoding".into());
    }
    let mut block = RawBlock::new(header, transactions);
    block.ensure_body_checked()?;
    Ok(block)
}

/// The block RLP (as gossiped) of a served header and body, checked as sync checks them.
pub fn block_rlp(header: &[u8], body: &[u8]) -> Result<Vec<u8>, String> {
    let block = join_body(decode_header(header)?, body)?;
    Ok(encode_parts(block.header.inner(), &block.transactions))
}

/// Checks that the body is the one the header commits to: transaction root, no ommers, empty
/// withdrawals.
pub fn check_body(header: &BlockHeader, transactions: &[TxEnvelope]) -> Result<(), String> {
    if header.ommers_hash != EMPTY_OMMER_ROOT_HASH {
        return Err("ommers hash is not the empty list's".into());
    }
    if header.withdrawals_root != Some(alloy_consensus::constants::EMPTY_WITHDRAWALS) {
        return Err("withdrawals root is not the empty list's".into());
    }
    if dbc_evm::transactions_root(transactions) != header.transactions_root {
        return Err("transactions do not match the header's transactions root".into());
    }
    Ok(())
}

/// Recovers every sender (one `ecrecover` each): call after the header and body checks.
pub fn recover_senders(block: RawBlock) -> Result<Block, String> {
    recover_senders_with(block, |_| None)
}

/// [`recover_senders`], taking a sender from `known` where it has one for a transaction's hash
/// (the pool recovered it when the transaction arrived: the hash covers the signature, so it
/// is the same signed transaction), and recovering the rest in parallel.
pub fn recover_senders_with(
    block: RawBlock,
    known: impl Fn(&alloy_primitives::B256) -> Option<Address> + Sync,
) -> Result<Block, String> {
    use rayon::prelude::*;
    let senders = block
        .transactions
        .par_iter()
        .with_min_len(64)
        .map(|tx| match known(tx.tx_hash()) {
            Some(sender) => Ok(sender),
            None => alloy_consensus::transaction::SignerRecoverable::recover_signer(tx)
                .map_err(|e| format!("transaction {}: {e}", tx.tx_hash())),
        })
        .collect::<Result<Vec<Address>, String>>()?;
    Ok(Block { header: block.header, transactions: block.transactions, senders })
}

/// Decodes a block strictly, checks its body against its header and recovers its senders.
pub fn decode_block(raw: &[u8]) -> Result<Block, String> {
    let block = decode_raw_block(raw)?;
    check_body(block.header.inner(), &block.transactions)?;
    recover_senders(block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::Header;

    fn empty_block(number: u64) -> Block {
        let header = Header {
            number,
            gas_limit: 30_000_000,
            transactions_root: alloy_consensus::constants::EMPTY_ROOT_HASH,
            // Optional fields up to the withdrawals root, as in every block of the chain.
            base_fee_per_gas: Some(7),
            withdrawals_root: Some(alloy_consensus::constants::EMPTY_WITHDRAWALS),
            ..Default::default()
        };
        Block { header: header.seal_slow(), transactions: vec![], senders: vec![] }
    }

    #[test]
    fn block_rlp_round_trips_and_is_strict() {
        let block = empty_block(3);
        let raw = encode_block(&block);
        let back = decode_block(&raw).expect("decodes");
        assert_eq!(back.header.hash(), block.header.hash());
        assert!(decode_block(&raw[..raw.len() - 1]).is_err(), "truncated");
        let mut trailing = raw.clone();
        trailing.push(0x80);
        assert!(decode_block(&trailing).is_err(), "trailing bytes");
    }

    /// EIP-7934: a block past `MAX_RLP_BLOCK_SIZE` is refused before it is decoded.
    #[test]
    fn a_block_above_the_size_limit_is_refused() {
        let mut block = empty_block(3);
        let mut header = block.header.inner().clone();
        let room = dbc_primitives::MAX_RLP_BLOCK_SIZE - encode_block(&block).len();
        header.extra_data = vec![7u8; room - 8].into();
        block.header = header.clone().seal_slow();
        let fits = encode_block(&block);
        assert!(fits.len() <= dbc_primitives::MAX_RLP_BLOCK_SIZE);
        assert!(decode_raw_block(&fits).is_ok(), "at the limit");
        header.extra_data = vec![7u8; room + 1].into();
        block.header = header.seal_slow();
        let err = decode_raw_block(&encode_block(&block)).expect_err("above the limit");
        assert!(err.contains("size limit"), "{err}");
    }

    fn transfer_tx(nonce: u64) -> TxEnvelope {
        let tx = alloy_consensus::TxLegacy { nonce, gas_limit: 21_000, ..Default::default() };
        TxEnvelope::Legacy(alloy_consensus::Signed::new_unchecked(
            tx,
            alloy_primitives::Signature::test_signature(),
            Default::default(),
        ))
    }

    /// Headers-first sync: headers and bodies round-trip, and each is decoded strictly; a body
    /// joins only the header whose transactions root it has.
    #[test]
    fn headers_and_bodies_are_strict_and_a_body_joins_only_its_header() {
        let txs = vec![transfer_tx(0), transfer_tx(1)];
        let mut header = empty_block(5).header.inner().clone();
        header.transactions_root = alloy_consensus::proofs::calculate_transaction_root(&txs);
        let raw_header = encode_header(&header);
        let sealed = decode_header(&raw_header).expect("decodes");
        assert_eq!(sealed.hash(), header.hash_slow());
        let mut trailing = raw_header.clone();
        trailing.push(0x80);
        assert!(decode_header(&trailing).is_err(), "trailing bytes");
        assert!(decode_header(&raw_header[..raw_header.len() - 1]).is_err(), "truncated");
        assert!(decode_header(&vec![0u8; MAX_HEADER_SIZE + 1]).is_err(), "oversized");

        let body = encode_body(&txs);
        let joined = join_body(sealed.clone(), &body).expect("its own body");
        assert_eq!(encode_body(&joined.transactions), body);
        // The joined block is the block that would have been served whole.
        let whole = Block { header: sealed.clone(), transactions: txs.clone(), senders: vec![] };
        assert_eq!(encode_parts(joined.header.inner(), &joined.transactions), encode_block(&whole));
        // Another body (one transaction left out) does not join.
        let err = join_body(sealed.clone(), &encode_body(&txs[..1])).expect_err("not its body");
        assert!(err.contains("transactions root"), "{err}");
        let mut trailing = body.clone();
        trailing.push(0x80);
        assert!(join_body(sealed.clone(), &trailing).is_err(), "trailing bytes");
        // A non-canonical list header (its length with a leading zero byte) is refused.
        let start = if body[0] <= 0xf7 { 1 } else { 1 + usize::from(body[0] - 0xf7) };
        let payload = &body[start..];
        let mut long = vec![0xfa, 0, (payload.len() >> 8) as u8, payload.len() as u8];
        long.extend_from_slice(payload);
        assert!(join_body(sealed.clone(), &long).is_err(), "non-canonical");
        // An empty block's body is the empty list.
        let empty = empty_block(6);
        assert!(join_body(empty.header.clone(), &encode_body(&[])).is_ok());
    }

    /// Security review H4: a body that is not the header's is refused before execution.
    #[test]
    fn h4_a_swapped_body_is_refused_before_execution() {
        let block = empty_block(3);
        let tx = alloy_consensus::TxLegacy { gas_limit: 21_000, ..Default::default() };
        let signed = alloy_consensus::Signed::new_unchecked(
            tx,
            alloy_primitives::Signature::test_signature(),
            Default::default(),
        );
        let swapped = Block {
            transactions: vec![TxEnvelope::Legacy(signed)],
            senders: vec![Address::ZERO],
            ..block
        };
        let err = decode_block(&encode_block(&swapped)).expect_err("swapped body");
        assert!(err.contains("transactions root"), "{err}");
        // The mark that spares import a second check is set only by a check that passed.
        let mut raw = RawBlock::new(swapped.header.clone(), swapped.transactions.clone());
        assert!(raw.ensure_body_checked().is_err());
        assert!(!raw.body_checked);
        assert!(raw.ensure_body_checked().is_err(), "checked again, refused again");
        let mut own = RawBlock::new(swapped.header, Vec::new());
        assert!(!own.body_checked, "decoded blocks start unchecked");
        own.ensure_body_checked().expect("its own body");
        assert!(own.body_checked);
    }
}
