//! `dbc-bench market`: gas and time per GPU-market transaction (rent, heartbeat) through the
//! node's real pipeline (alloy-evm executor with the market precompile, state root, RocksDB
//! commit), next to plain transfers in the same setting.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolValue};
use dbc_chainspec::{ChainSpec, MARKET_ADDRESS, MarketParams};
use dbc_evm::{BlockAttributes, ExecutedBlock, TxList, build_block};
use dbc_node_lib::{init_genesis, rebuild_trie};
use dbc_precompiles::abi::IGpuMarket;
use dbc_primitives::{Recovered, SealedHeader};
use dbc_storage::Storage;
use dbc_trie::StateTrie;
use std::{collections::HashMap, sync::Arc, time::Duration};

/// Arguments of `dbc-bench market`.
#[derive(Debug, clap::Args)]
pub(crate) struct MarketArgs {
    /// Transactions per measured block.
    #[arg(long, default_value_t = 500)]
    txs: usize,
    /// Measured blocks of each kind.
    #[arg(long, default_value_t = 2)]
    blocks: usize,
}

struct Chain {
    spec: ChainSpec,
    storage: Storage,
    trie: StateTrie,
    parent: SealedHeader,
    nonces: HashMap<Address, u64>,
    _dir: tempfile::TempDir,
}

impl Chain {
    fn sign(
        &mut self,
        key: &PrivateKeySigner,
        to: Address,
        value: U256,
        data: Vec<u8>,
    ) -> Recovered<TxEnvelope> {
        let nonce = self.nonces.entry(key.address()).or_default();
        let tx = TxEip1559 {
            chain_id: self.spec.chain_id,
            nonce: *nonce,
            gas_limit: 1_000_000,
            max_fee_per_gas: 100_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(to),
            value,
            input: Bytes::from(data),
            ..Default::default()
        };
        *nonce += 1;
        let sig = key.sign_hash_sync(&tx.signature_hash()).expect("sign");
        Recovered::new_unchecked(TxEnvelope::Eip1559(tx.into_signed(sig)), key.address())
    }

    fn block(
        &mut self,
        txs: Vec<Recovered<TxEnvelope>>,
    ) -> eyre::Result<(ExecutedBlock, Duration)> {
        let n = txs.len();
        let attrs = BlockAttributes {
            timestamp: self.parent.timestamp + 6,
            beneficiary: Address::ZERO,
            extra_data: Default::default(),
            gas_limit: self.spec.genesis.gas_limit,
            staking_hook: None,
            prev_randao: None,
        };
        let started = std::time::Instant::now();
        let executed = build_block(
            &self.spec,
            &self.parent,
            self.storage.latest(),
            attrs,
            &mut TxList::new(txs),
            &mut self.trie,
        )?;
        self.storage.commit_block(&executed.block, &executed.receipts, &executed.changes)?;
        let total = started.elapsed();
        eyre::ensure!(
            executed.block.transactions.len() == n,
            "only {} of {n} included: {:?}",
            executed.block.transactions.len(),
            executed.rejected.first()
        );
        for (i, r) in executed.receipts.iter().enumerate() {
            eyre::ensure!(alloy_consensus::TxReceipt::status(r), "transaction {i} reverted");
        }
        self.parent = executed.block.header.clone();
        Ok((executed, total))
    }
}

fn key(i: u32) -> eyre::Result<PrivateKeySigner> {
    Ok(PrivateKeySigner::from_bytes(&keccak256(format!("dbc-bench-market-{i}")))?)
}

pub(crate) fn run(args: &MarketArgs) -> eyre::Result<()> {
    let gpus = 1_024u32;
    eyre::ensure!(args.txs * args.blocks <= gpus as usize, "at most {gpus} rentals in all");
    let mut spec = ChainSpec::dev(10)?;
    let params = MarketParams {
        stake_per_gpu: U256::from(10u128.pow(18)),
        auditor_stake: U256::from(10u128.pow(18)),
        draw_delay_blocks: 1,
        rent_unit_blocks: 10,
        heartbeat_timeout_blocks: 1_000_000,
        ..MarketParams::default()
    };
    let mut dbc = (*spec.dbc).clone();
    dbc.market = params.clone();
    spec.dbc = Arc::new(dbc);
    spec.market = Arc::new(params);
    let (owner, renter, auditors) = (key(0)?, key(1)?, [key(2)?, key(3)?, key(4)?]);
    let machine_key = key(5)?;
    for k in [&owner, &renter, &auditors[0], &auditors[1], &auditors[2]] {
        spec.genesis.alloc.insert(
            k.address(),
            alloy_genesis::GenesisAccount {
                balance: U256::from(10u128.pow(27)),
                ..Default::default()
            },
        );
    }
    spec.genesis.gas_limit = 1_000_000_000;
    let dir = tempfile::tempdir()?;
    let storage = Storage::open(dir.path())?;
    init_genesis(&storage, &spec)?;
    let trie = rebuild_trie(&storage)?;
    let parent = storage.header(0)?.ok_or_else(|| eyre::eyre!("no genesis"))?;
    let mut c = Chain { spec, storage, trie, parent, nonces: HashMap::new(), _dir: dir };

    // Setup: committee, a 1,024-GPU machine, its verification.
    let machine = keccak256("bench-machine");
    let spec_m = IGpuMarket::MachineSpec {
        gpuModel: B256::right_padding_from(b"H100 80GB"),
        gpuCount: gpus,
        gpuMemoryGb: 80,
        cpuCores: 256,
        ramGb: 2_048,
        diskGb: 30_000,
        region: B256::right_padding_from(b"bench"),
        machineKey: machine_key.address(),
    };
    let one = U256::from(10u128.pow(18));
    let mut txs = Vec::new();
    for a in &auditors {
        txs.push(c.sign(a, MARKET_ADDRESS, one, IGpuMarket::joinCommitteeCall {}.abi_encode()));
    }
    let register = IGpuMarket::registerCall { machineId: machine, spec: spec_m.clone() };
    txs.push(c.sign(&owner, MARKET_ADDRESS, one * U256::from(gpus), register.abi_encode()));
    c.block(txs)?;
    c.block(vec![])?; // the draw runs in this block's hook
    let calc_point = 6_000u32;
    let mut commits = Vec::new();
    let mut reveals = Vec::new();
    for (i, a) in auditors.iter().enumerate() {
        let salt = B256::repeat_byte(i as u8 + 1);
        let commitment =
            keccak256((machine, a.address(), spec_m.clone(), calc_point, salt).abi_encode());
        let call = IGpuMarket::commitVerificationCall { machineId: machine, commitment };
        commits.push(c.sign(a, MARKET_ADDRESS, U256::ZERO, call.abi_encode()));
        let call = IGpuMarket::revealVerificationCall {
            machineId: machine,
            spec: spec_m.clone(),
            calcPoint: calc_point,
            salt,
        };
        reveals.push(c.sign(a, MARKET_ADDRESS, U256::ZERO, call.abi_encode()));
    }
    c.block(commits)?;
    c.block(reveals)?;

    let price = c.spec.market.standard_price_per_gpu_block;
    let rent_value = price * U256::from(10);
    let mut report = Vec::new();
    for kind in ["transfer", "rent", "heartbeat"] {
        let (mut gas, mut exec, mut total, mut n) = (0u64, Duration::ZERO, Duration::ZERO, 0usize);
        for b in 0..args.blocks {
            // Heartbeats are signed by the machine key over the parent block.
            let (number, hash) = (c.parent.number, c.parent.hash());
            let digest = keccak256(
                [
                    b"DBC machine heartbeat".as_slice(),
                    MARKET_ADDRESS.as_slice(),
                    machine.as_slice(),
                    &number.to_be_bytes(),
                    hash.as_slice(),
                ]
                .concat(),
            );
            let signature: Bytes = machine_key.sign_hash_sync(&digest)?.as_bytes().to_vec().into();
            let txs: Vec<_> = (0..args.txs)
                .map(|i| match kind {
                    "transfer" => {
                        let to = Address::from_word(keccak256((b * args.txs + i).to_be_bytes()));
                        c.sign(&renter, to, U256::from(1), Vec::new())
                    }
                    "rent" => {
                        let call = IGpuMarket::rentCall { machineId: machine, gpus: 1, blocks: 10 };
                        c.sign(&renter, MARKET_ADDRESS, rent_value, call.abi_encode())
                    }
                    _ => {
                        let call = IGpuMarket::heartbeatCall {
                            machineId: machine,
                            blockNumber: number,
                            signature: signature.clone(),
                        };
                        c.sign(&owner, MARKET_ADDRESS, U256::ZERO, call.abi_encode())
                    }
                })
                .collect();
            let (executed, elapsed) = c.block(txs)?;
            gas += executed.block.header.gas_used;
            exec += executed.timings.execution;
            total += elapsed;
            n += args.txs;
        }
        report.push((kind, gas / n as u64, exec / n as u32, total / n as u32, n));
    }
    println!("market transactions through the node pipeline ({} per block):", args.txs);
    println!(
        "{:<10} {:>10} {:>14} {:>22}",
        "kind", "gas/tx", "execute/tx", "execute+root+commit/tx"
    );
    for (kind, gas, exec, total, _) in &report {
        println!(
            "{kind:<10} {gas:>10} {:>12.1}µs {:>20.1}µs",
            exec.as_secs_f64() * 1e6,
            total.as_secs_f64() * 1e6
        );
    }
    Ok(())
}
