//! Chain specification for dbc-node.
//!
//! A chain is described by a geth-format genesis file (`genesis/*.json`): chain id, hardfork
//! activations, gas limit, base fee and allocations. DBC-specific parameters live under
//! `config.dbc`. [`ChainSpec::dev`] is the embedded `--dev` chain (`genesis/dev.json`): the
//! ten accounts of the standard test mnemonic funded, the CREATE2 deployer and Ethereum's system
//! contracts predeployed, every fork up to Osaka active from genesis.

use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header, constants::EMPTY_WITHDRAWALS};
use alloy_eips::{eip7685::EMPTY_REQUESTS_HASH, eip7840::BlobParams};
use alloy_evm::eth::spec::EthExecutorSpec;
use alloy_genesis::Genesis;
use alloy_hardforks::{EthereumChainHardforks, EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_signer_local::{MnemonicBuilder, coins_bip39::English};
use dbc_primitives::{KECCAK_EMPTY, StoredAccount};
use dbc_trie::{AccountLeaf, full_state_root};
use serde::{Deserialize, Serialize};

mod market;
mod staking;
pub use market::{BurnTier, DBC, MARKET_ADDRESS, MINING_ADDRESS, MarketParams, SlashTier};
pub use staking::{GenesisValidator, STAKING_ADDRESS, StakingParams};

/// The embedded `--dev` genesis.
pub const DEV_GENESIS_JSON: &str = include_str!("../../../genesis/dev.json");

/// The mnemonic whose accounts the dev chain funds (Foundry's and Hardhat's default).
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// Balance of each extra dev account added with `--dev.accounts`.
pub const DEV_ACCOUNT_BALANCE: u128 = 10_000 * 1_000_000_000_000_000_000;

/// Chain-spec errors.
#[derive(Debug, thiserror::Error)]
pub enum ChainSpecError {
    /// The genesis file is not valid JSON of the expected shape.
    #[error("invalid genesis: {0}")]
    Json(#[from] serde_json::Error),
    /// A dev key could not be derived.
    #[error("dev key derivation failed: {0}")]
    Key(String),
    /// The genesis describes something this node does not support.
    #[error("unsupported genesis: {0}")]
    Unsupported(String),
}

/// DBC-specific chain parameters (`config.dbc` in the genesis file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DbcParams {
    /// Target seconds between blocks.
    pub block_time_secs: u64,
    /// GPU market parameters (`config.dbc.market`).
    pub market: MarketParams,
    /// Staking and proof-of-stake parameters (`config.dbc.staking`).
    pub staking: StakingParams,
}

impl Default for DbcParams {
    fn default() -> Self {
        Self {
            block_time_secs: 6,
            market: MarketParams::default(),
            staking: StakingParams::default(),
        }
    }
}

/// A genesis account as the node stores it.
#[derive(Debug, Clone)]
pub struct GenesisAccount {
    /// Address.
    pub address: Address,
    /// Account record.
    pub account: StoredAccount,
    /// Code, if any.
    pub code: Option<Bytes>,
    /// Non-zero storage.
    pub storage: Vec<(B256, U256)>,
}

/// Everything the node needs to know about the chain it runs.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    /// Chain id (EIP-155).
    pub chain_id: u64,
    /// The parsed genesis file.
    pub genesis: Genesis,
    /// Hardfork activations.
    pub hardforks: EthereumChainHardforks,
    /// DBC parameters.
    pub params: DbcParams,
    /// GPU market parameters.
    pub market: std::sync::Arc<MarketParams>,
    /// Everything the precompiles need (market and staking), shared with every EVM instance.
    pub dbc: std::sync::Arc<DbcParams>,
}

impl ChainSpec {
    /// Parses a geth-format genesis file.
    pub fn from_json(json: &str) -> Result<Self, ChainSpecError> {
        let genesis: Genesis = serde_json::from_str(json)?;
        Self::from_genesis(genesis)
    }

    /// Builds the spec from a parsed genesis.
    pub fn from_genesis(mut genesis: Genesis) -> Result<Self, ChainSpecError> {
        // The precompiles' accounts hold balances and storage: give them nonce 1 and the
        // one-byte code `0xfe` (as for Ethereum's system contracts) so that no EVM rule for
        // code-less accounts (EIP-161 clearing, EOA handling) ever applies to them; a genesis
        // that leaves this out gets it here.
        for addr in [MARKET_ADDRESS, MINING_ADDRESS, STAKING_ADDRESS] {
            if let Some(acc) = genesis.alloc.get_mut(&addr) {
                acc.nonce = Some(acc.nonce.unwrap_or(0).max(1));
                if acc.code.as_ref().is_none_or(|c| c.is_empty()) {
                    acc.code = Some(Bytes::from_static(&[0xfe]));
                }
            }
        }
        let c = &genesis.config;
        let block = |b: Option<u64>| b.map_or(ForkCondition::Never, ForkCondition::Block);
        let time = |t: Option<u64>| t.map_or(ForkCondition::Never, ForkCondition::Timestamp);
        if c.terminal_total_difficulty != Some(U256::ZERO) {
            return Err(ChainSpecError::Unsupported(
                "proof-of-stake from genesis is required: set terminalTotalDifficulty to 0".into(),
            ));
        }
        if c.london_block != Some(0) {
            return Err(ChainSpecError::Unsupported("londonBlock must be 0 (EIP-1559)".into()));
        }
        let forks = vec![
            (EthereumHardfork::Frontier, ForkCondition::Block(0)),
            (EthereumHardfork::Homestead, block(c.homestead_block)),
            (EthereumHardfork::Tangerine, block(c.eip150_block)),
            (EthereumHardfork::SpuriousDragon, block(c.eip158_block)),
            (EthereumHardfork::Byzantium, block(c.byzantium_block)),
            (EthereumHardfork::Constantinople, block(c.constantinople_block)),
            (EthereumHardfork::Petersburg, block(c.petersburg_block)),
            (EthereumHardfork::Istanbul, block(c.istanbul_block)),
            (EthereumHardfork::Berlin, block(c.berlin_block)),
            (EthereumHardfork::London, block(c.london_block)),
            (
                EthereumHardfork::Paris,
                ForkCondition::TTD {
                    activation_block_number: 0,
                    fork_block: Some(0),
                    total_difficulty: U256::ZERO,
                },
            ),
            (EthereumHardfork::Shanghai, time(c.shanghai_time)),
            (EthereumHardfork::Cancun, time(c.cancun_time)),
            (EthereumHardfork::Prague, time(c.prague_time)),
            (EthereumHardfork::Osaka, time(c.osaka_time)),
        ];
        let params: DbcParams = match c.extra_fields.get("dbc") {
            Some(v) => serde_json::from_value(v.clone())?,
            None => DbcParams::default(),
        };
        params.market.validate().map_err(ChainSpecError::Unsupported)?;
        let pool = genesis.alloc.get(&MARKET_ADDRESS).map(|a| a.balance).unwrap_or_default();
        if pool < params.market.reward_pool {
            return Err(ChainSpecError::Unsupported(format!(
                "the market account {MARKET_ADDRESS} holds {pool} wei in genesis, less than \
                 config.dbc.market.rewardPool ({})",
                params.market.reward_pool
            )));
        }
        params.staking.validate().map_err(ChainSpecError::Unsupported)?;
        let staked = genesis.alloc.get(&STAKING_ADDRESS).map(|a| a.balance).unwrap_or_default();
        let needed = params.staking.genesis_stake().saturating_add(params.staking.reward_pool);
        if !params.staking.validators.is_empty() && staked < needed {
            return Err(ChainSpecError::Unsupported(format!(
                "the staking account {STAKING_ADDRESS} holds {staked} wei in genesis, less than \
                 the genesis validators' stakes plus config.dbc.staking.rewardPool ({needed})"
            )));
        }
        Ok(Self {
            chain_id: c.chain_id,
            hardforks: EthereumChainHardforks::new(forks),
            market: std::sync::Arc::new(params.market.clone()),
            dbc: std::sync::Arc::new(params.clone()),
            genesis,
            params,
        })
    }

    /// The embedded dev chain with the first `accounts` accounts of [`DEV_MNEMONIC`] funded
    /// (the ten of `genesis/dev.json` are always funded).
    pub fn dev(accounts: usize) -> Result<Self, ChainSpecError> {
        let mut spec = Self::from_json(DEV_GENESIS_JSON)?;
        if accounts > 10 {
            for (index, address) in dev_addresses(accounts)?.into_iter().enumerate().skip(10) {
                debug_assert!(index >= 10);
                spec.genesis.alloc.entry(address).or_insert_with(|| {
                    alloy_genesis::GenesisAccount {
                        balance: U256::from(DEV_ACCOUNT_BALANCE),
                        ..Default::default()
                    }
                });
            }
        }
        Ok(spec)
    }

    /// Sum of the genesis balances: the fixed total supply the chain starts with.
    pub fn genesis_supply(&self) -> U256 {
        self.genesis.alloc.values().fold(U256::ZERO, |acc, a| acc.saturating_add(a.balance))
    }

    /// Genesis allocations as stored accounts.
    pub fn genesis_accounts(&self) -> Vec<GenesisAccount> {
        self.genesis
            .alloc
            .iter()
            .map(|(address, acc)| {
                let code = acc.code.clone().filter(|c| !c.is_empty());
                let code_hash = code.as_ref().map_or(KECCAK_EMPTY, keccak256);
                let storage = acc
                    .storage
                    .iter()
                    .flatten()
                    .filter(|(_, v)| !v.is_zero())
                    .map(|(k, v)| (*k, U256::from_be_bytes(v.0)))
                    .collect();
                GenesisAccount {
                    address: *address,
                    account: StoredAccount {
                        nonce: acc.nonce.unwrap_or_default(),
                        balance: acc.balance,
                        code_hash,
                    },
                    code,
                    storage,
                }
            })
            .collect()
    }

    /// The genesis state root (full computation).
    pub fn genesis_state_root(&self) -> B256 {
        full_state_root(self.genesis_accounts().into_iter().map(|a| {
            let leaf = AccountLeaf {
                nonce: a.account.nonce,
                balance: a.account.balance,
                code_hash: a.account.code_hash,
            };
            let storage = a.storage.iter().map(|(k, v)| (U256::from_be_bytes(k.0), *v)).collect();
            (a.address, leaf, storage)
        }))
    }

    /// The genesis header.
    pub fn genesis_header(&self) -> Header {
        let g = &self.genesis;
        let ts = g.timestamp;
        Header {
            parent_hash: B256::ZERO,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: g.coinbase,
            state_root: self.genesis_state_root(),
            transactions_root: alloy_trie::EMPTY_ROOT_HASH,
            receipts_root: alloy_trie::EMPTY_ROOT_HASH,
            logs_bloom: Default::default(),
            difficulty: g.difficulty,
            number: 0,
            gas_limit: g.gas_limit,
            gas_used: 0,
            timestamp: ts,
            extra_data: g.extra_data.clone(),
            mix_hash: g.mix_hash,
            nonce: g.nonce.into(),
            base_fee_per_gas: Some(
                g.base_fee_per_gas
                    .map(|b| b as u64)
                    .unwrap_or(alloy_eips::eip1559::INITIAL_BASE_FEE),
            ),
            withdrawals_root: self.is_shanghai_active_at_timestamp(ts).then_some(EMPTY_WITHDRAWALS),
            blob_gas_used: self.is_cancun_active_at_timestamp(ts).then_some(0),
            excess_blob_gas: self.is_cancun_active_at_timestamp(ts).then_some(0),
            parent_beacon_block_root: self.is_cancun_active_at_timestamp(ts).then_some(B256::ZERO),
            requests_hash: self.is_prague_active_at_timestamp(ts).then_some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        }
    }

    /// Blob parameters in force at `timestamp` (blob transactions are not accepted, but the
    /// header fields and the EVM's blob base fee follow Ethereum).
    pub fn blob_params_at(&self, timestamp: u64) -> Option<BlobParams> {
        if self.is_osaka_active_at_timestamp(timestamp) {
            Some(BlobParams::osaka())
        } else if self.is_prague_active_at_timestamp(timestamp) {
            Some(BlobParams::prague())
        } else if self.is_cancun_active_at_timestamp(timestamp) {
            Some(BlobParams::cancun())
        } else {
            None
        }
    }
}

impl EthereumHardforks for ChainSpec {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        self.hardforks.ethereum_fork_activation(fork)
    }
}

impl EthExecutorSpec for ChainSpec {
    fn deposit_contract_address(&self) -> Option<Address> {
        self.genesis.config.deposit_contract_address
    }
}

/// Addresses of the first `count` accounts of [`DEV_MNEMONIC`] (`m/44'/60'/0'/0/i`).
pub fn dev_addresses(count: usize) -> Result<Vec<Address>, ChainSpecError> {
    Ok(dev_signers(count)?.into_iter().map(|s| s.address()).collect())
}

/// Signers for the first `count` accounts of [`DEV_MNEMONIC`].
pub fn dev_signers(
    count: usize,
) -> Result<Vec<alloy_signer_local::PrivateKeySigner>, ChainSpecError> {
    (0..count)
        .map(|i| {
            MnemonicBuilder::<English>::default()
                .phrase(DEV_MNEMONIC)
                .index(i as u32)
                .map_err(|e| ChainSpecError::Key(e.to_string()))?
                .build()
                .map_err(|e| ChainSpecError::Key(e.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    #[test]
    fn dev_genesis_funds_the_standard_test_accounts() {
        let spec = ChainSpec::dev(10).expect("dev spec");
        assert_ne!(spec.chain_id, 19_880_818);
        assert_ne!(spec.chain_id, 19_850_818);
        let addresses = dev_addresses(10).expect("derive");
        assert_eq!(addresses[0], address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"));
        for a in &addresses {
            let acc = spec.genesis.alloc.get(a).expect("funded");
            assert_eq!(acc.balance, U256::from(DEV_ACCOUNT_BALANCE));
        }
        let create2 = address!("0x4e59b44847b379578588920ca78fbf26c0b4956c");
        assert!(spec.genesis.alloc[&create2].code.as_ref().is_some_and(|c| !c.is_empty()));
        assert!(spec.is_prague_active_at_timestamp(0));
        assert!(spec.is_osaka_active_at_timestamp(0));
    }

    #[test]
    fn extra_dev_accounts_are_funded() {
        let spec = ChainSpec::dev(12).expect("dev spec");
        let extra = dev_addresses(12).expect("derive")[11];
        assert_eq!(spec.genesis.alloc[&extra].balance, U256::from(DEV_ACCOUNT_BALANCE));
    }

    #[test]
    fn genesis_header_is_deterministic() {
        let a = ChainSpec::dev(10).expect("dev").genesis_header();
        let b = ChainSpec::dev(10).expect("dev").genesis_header();
        assert_eq!(a, b);
        assert_ne!(a.state_root, alloy_trie::EMPTY_ROOT_HASH);
        assert_eq!(a.requests_hash, Some(EMPTY_REQUESTS_HASH));
    }
}
