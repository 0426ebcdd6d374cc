//! Differential test of the Solidity stand-ins for the precompiles (`contracts/test-utils/`,
//! what `forge test` installs with `vm.etch`) against the node's own precompiles.
//!
//! A scenario of calls (market: committee, registration, draw, commit–reveal, heartbeats,
//! prices, rentals, burns, rewards and claims; project mining; staking; and calls that must
//! revert) runs on a `--dev.instant` node, one transaction per block, with `anvil_mine` for
//! the waits. Every block's environment (number, timestamp, `prevrandao`, hash, base fee, fees
//! burned) and every transaction's success, return data (geth's `callTracer`) and logs are
//! recorded, and after each block with a transaction the balance change of every account
//! involved (gas excluded) and the result of every view of the three precompiles. The trace
//! is written as JSON and `forge test` replays it (`contracts/test/PrecompileDiff.t.sol`):
//! block by block, with the same environment, the same calls from the same senders and the
//! market's end-of-block hook from the system address, requiring identical success, return
//! data, logs, balance changes and views.
//!
//! `DBC_DIFF_RECORD=1` also writes the trace to `contracts/test/data/precompile-diff.json`,
//! the recording `forge test` replays offline when no `DBC_DIFF_TRACE` is set.
#![allow(clippy::unwrap_used)]

mod common;

use alloy_primitives::{Address, B256, Bytes, I256, U256, keccak256};
use alloy_sol_types::{SolCall, SolValue, sol};
use common::*;
use dbc_precompiles::{
    GOVERNANCE_ADDRESS as GOVERNANCE, MARKET_ADDRESS as MARKET, MINING_ADDRESS as MINING,
    STAKING_ADDRESS as STAKING,
    abi::{IGovernance, IGpuMarket, IProjectMining, IStaking},
};
use serde_json::{Value, json};
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

sol! {
    struct DiffLog { bytes32[] topics; bytes data; address emitter; }
    struct DiffBlock {
        uint64 number;
        uint64 timestamp;
        bytes32 prevrandao;
        bytes32 hash;
        address coinbase;
        uint256 baseFee;
        uint256 feesBurned;
        int256 supplyChange;
    }
    struct DiffStep {
        uint64 blockNumber;
        address from;
        address to;
        uint256 value;
        bytes data;
        bool success;
        bytes output;
        DiffLog[] logs;
    }
    struct DiffView { address to; bytes data; }
    struct DiffResult { uint32 index; bool success; bytes output; }
    struct DiffCheck { uint64 blockNumber; int256[] deltas; DiffResult[] changed; }
}

const DBC: u128 = 1_000_000_000_000_000_000;

/// Private key of dev account 9: the machine key of the scenario's machine.
const MACHINE_KEY: &str = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6";

struct Recorder {
    node: DevNode,
    dev: Vec<Address>,
    steps: Vec<DiffStep>,
    /// Blocks after which balances and views are compared.
    checked: BTreeSet<u64>,
    /// Views compared at every checked block.
    views: Vec<(Address, Vec<u8>)>,
}

impl Recorder {
    fn head(&self) -> u64 {
        self.node.block_number()
    }

    fn mine(&self, blocks: u64) {
        self.node.rpc("anvil_mine", json!([format!("{blocks:#x}")]));
    }

    /// Sends `data` with `value` from dev account `k` in a block of its own, records it and
    /// returns its success and return data.
    fn send(&mut self, k: usize, to: Address, value: U256, data: Vec<u8>) -> (bool, Bytes) {
        let from = self.dev[k];
        let tx = json!({
            "from": from,
            "to": to,
            "data": Bytes::from(data.clone()),
            "value": format!("{value:#x}"),
            "gas": "0x7a1200",
        });
        let hash = self.node.rpc("eth_sendTransaction", json!([tx]));
        let receipt = self.node.wait_receipt(hash.as_str().unwrap());
        let trace =
            self.node.rpc("debug_traceTransaction", json!([hash, {"tracer": "callTracer"}]));
        let output: Bytes = trace
            .get("output")
            .filter(|o| !o.is_null())
            .map(|o| serde_json::from_value(o.clone()).unwrap())
            .unwrap_or_default();
        let success = receipt["status"] == json!("0x1");
        let logs = receipt["logs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| DiffLog {
                topics: serde_json::from_value(l["topics"].clone()).unwrap(),
                data: serde_json::from_value(l["data"].clone()).unwrap(),
                emitter: serde_json::from_value(l["address"].clone()).unwrap(),
            })
            .collect();
        let n = hex_u64(&receipt["blockNumber"]);
        self.steps.push(DiffStep {
            blockNumber: n,
            from,
            to,
            value,
            data: data.into(),
            success,
            output: output.clone(),
            logs,
        });
        self.checked.insert(n);
        (success, output)
    }

    fn ok<C: SolCall>(&mut self, k: usize, to: Address, value: U256, call: C) -> C::Return {
        let (success, out) = self.send(k, to, value, call.abi_encode());
        assert!(success, "{} from account {k} reverted: {out}\n{}", C::SIGNATURE, self.node.logs());
        C::abi_decode_returns(&out).unwrap()
    }

    /// Sends `call`, which must revert with exactly `error`.
    fn reverts<C: SolCall>(&mut self, k: usize, to: Address, value: U256, call: C, error: &[u8]) {
        let (success, out) = self.send(k, to, value, call.abi_encode());
        assert!(!success, "{} from account {k} succeeded", C::SIGNATURE);
        assert_eq!(out.as_ref(), error, "{} reverted with another error", C::SIGNATURE);
    }

    fn view<C: SolCall>(&self, to: Address, call: C) -> C::Return {
        let out = self
            .node
            .rpc("eth_call", json!([{"to": to, "data": Bytes::from(call.abi_encode())}, "latest"]));
        C::abi_decode_returns(&serde_json::from_value::<Bytes>(out).unwrap()).unwrap()
    }

    /// The trace as the JSON `PrecompileDiff.t.sol` reads.
    fn trace(&self, genesis: &str, accounts: &[Address]) -> Value {
        let head = self.head();
        let mut blocks = Vec::new();
        // The block's net balance change the node handed its governance hook: the change of
        // the ledger's total supply (exact while the burn floor is far away, as here).
        let supply = |n: u64| -> U256 {
            let data = Bytes::from(IGovernance::totalSupplyCall {}.abi_encode());
            let v = self
                .node
                .rpc("eth_call", json!([{"to": GOVERNANCE, "data": data}, format!("{n:#x}")]));
            let out: Bytes = serde_json::from_value(v).unwrap();
            U256::from_be_slice(&out)
        };
        let mut last_supply = supply(0);
        for n in 1..=head {
            let now_supply = supply(n);
            let supply_change = I256::from_raw(now_supply.wrapping_sub(last_supply));
            last_supply = now_supply;
            let b = self.node.rpc("eth_getBlockByNumber", json!([format!("{n:#x}"), false]));
            let base_fee = U256::from(hex_u64(&b["baseFeePerGas"]));
            blocks.push(DiffBlock {
                number: n,
                timestamp: hex_u64(&b["timestamp"]),
                prevrandao: serde_json::from_value(b["mixHash"].clone()).unwrap(),
                hash: serde_json::from_value(b["hash"].clone()).unwrap(),
                coinbase: serde_json::from_value(b["miner"].clone()).unwrap(),
                baseFee: base_fee,
                feesBurned: base_fee * U256::from(hex_u64(&b["gasUsed"])),
                supplyChange: supply_change,
            });
        }
        let mut checked = self.checked.clone();
        checked.insert(head);
        // Each check lists the views whose result changed since the previous one (the replay
        // compares every view every time, against the latest result listed).
        let mut last: Vec<Option<(bool, Bytes)>> = vec![None; self.views.len()];
        let mut checks = Vec::new();
        for n in checked {
            let mut changed = Vec::new();
            for (i, (to, data)) in self.views.iter().enumerate() {
                let req = json!([{"to": to, "data": Bytes::from(data.clone())}, format!("{n:#x}")]);
                let v = self.node.try_rpc("eth_call", req).unwrap();
                let result = match v.get("error") {
                    Some(e) => (
                        false,
                        e["data"].as_str().map(|d| d.parse::<Bytes>().unwrap()).unwrap_or_default(),
                    ),
                    None => (true, serde_json::from_value(v["result"].clone()).unwrap()),
                };
                if last[i].as_ref() != Some(&result) {
                    changed.push(DiffResult {
                        index: u32::try_from(i).unwrap(),
                        success: result.0,
                        output: result.1.clone(),
                    });
                    last[i] = Some(result);
                }
            }
            let deltas = accounts.iter().map(|a| self.delta(*a, n)).collect();
            checks.push(DiffCheck { blockNumber: n, deltas, changed });
        }
        let views: Vec<DiffView> = self
            .views
            .iter()
            .map(|(to, data)| DiffView { to: *to, data: data.clone().into() })
            .collect();
        let hex = |b: Vec<u8>| format!("0x{}", alloy_primitives::hex::encode(b));
        json!({
            "genesis": genesis,
            "accounts": hex(accounts.to_vec().abi_encode()),
            "blocks": hex(blocks.abi_encode()),
            "views": hex(views.abi_encode()),
            "steps": hex(self.steps.abi_encode()),
            "checks": hex(checks.abi_encode()),
        })
    }

    /// How `account`'s balance changed in block `n`, its transactions' fees taken out: what
    /// the calls of the block moved, which a `forge test` replay (that pays no gas) also moves.
    fn delta(&self, account: Address, n: u64) -> I256 {
        let balance = |n: u64| {
            let v = self.node.rpc("eth_getBalance", json!([account, format!("{n:#x}")]));
            serde_json::from_value::<U256>(v).unwrap()
        };
        let mut d = I256::from_raw(balance(n)) - I256::from_raw(balance(n - 1));
        let block = self.node.rpc("eth_getBlockByNumber", json!([format!("{n:#x}"), false]));
        let base_fee = U256::from(hex_u64(&block["baseFeePerGas"]));
        let miner: Address = serde_json::from_value(block["miner"].clone()).unwrap();
        for tx in block["transactions"].as_array().unwrap() {
            let r = self.node.rpc("eth_getTransactionReceipt", json!([tx]));
            let used = U256::from(hex_u64(&r["gasUsed"]));
            let price = U256::from(hex_u64(&r["effectiveGasPrice"]));
            let from: Address = serde_json::from_value(r["from"].clone()).unwrap();
            if from == account {
                d += I256::from_raw(used * price);
            }
            if miner == account {
                d -= I256::from_raw(used * (price - base_fee));
            }
        }
        d
    }
}

fn err(sig: &str, args: &[u8]) -> Vec<u8> {
    let mut v = keccak256(sig)[..4].to_vec();
    v.extend_from_slice(args);
    v
}

fn word(x: U256) -> [u8; 32] {
    x.to_be_bytes()
}

/// A `--dev.instant` node on the market test genesis edited by `edit`, and its recorder.
fn start(dir: &Path, edit: impl FnOnce(&mut Value)) -> (PathBuf, Recorder) {
    let genesis = dir.join("genesis.json");
    write_market_test_genesis(&genesis);
    let mut g: Value = serde_json::from_str(&std::fs::read_to_string(&genesis).unwrap()).unwrap();
    edit(&mut g);
    std::fs::write(&genesis, serde_json::to_string_pretty(&g).unwrap()).unwrap();
    let node =
        DevNode::start(&dir.join("data"), &["--chain", genesis.to_str().unwrap(), "--dev.instant"]);
    let dev: Vec<Address> = serde_json::from_value(node.rpc("eth_accounts", json!([]))).unwrap();
    let r = Recorder { node, dev, steps: Vec::new(), checked: BTreeSet::new(), views: Vec::new() };
    (genesis, r)
}

/// The scenarios' 2-GPU RTX 4090 machine, keyed by dev account 9.
fn spec(r: &Recorder) -> IGpuMarket::MachineSpec {
    IGpuMarket::MachineSpec {
        gpuModel: B256::right_padding_from(b"RTX 4090"),
        gpuCount: 2,
        gpuMemoryGb: 24,
        cpuCores: 32,
        ramGb: 128,
        diskGb: 2_000,
        region: B256::right_padding_from(b"eu-west"),
        machineKey: r.dev[9],
    }
}

/// The drawn auditors of `machine`'s round commit and reveal `measured` calc points (the first
/// reveal is tried with a wrong salt first).
fn verify(r: &mut Recorder, machine: B256, measured: [u32; 3]) {
    let spec = spec(r);
    let round = r.view(MARKET, IGpuMarket::getRoundCall { machineId: machine });
    assert_eq!(round.phase as u8, 2, "the draw happened");
    let seat = |a: &Address| r.dev.iter().position(|x| x == a).unwrap();
    let seats: Vec<usize> = round.auditors.iter().map(seat).collect();
    for (i, a) in round.auditors.iter().enumerate() {
        let salt = B256::repeat_byte(i as u8 + 1);
        let commitment = keccak256((machine, *a, spec.clone(), measured[i], salt).abi_encode());
        let call = IGpuMarket::commitVerificationCall { machineId: machine, commitment };
        r.ok(seats[i], MARKET, U256::ZERO, call);
    }
    let wrong_reveal = IGpuMarket::revealVerificationCall {
        machineId: machine,
        spec: spec.clone(),
        calcPoint: 999,
        salt: B256::repeat_byte(1),
    };
    r.reverts(seats[0], MARKET, U256::ZERO, wrong_reveal, &err("CommitmentMismatch()", &[]));
    for (i, seat) in seats.iter().enumerate() {
        let salt = B256::repeat_byte(i as u8 + 1);
        let call = IGpuMarket::revealVerificationCall {
            machineId: machine,
            spec: spec.clone(),
            calcPoint: measured[i],
            salt,
        };
        r.ok(*seat, MARKET, U256::ZERO, call);
    }
}

/// A heartbeat of `machine` signed by the machine key over the block before the head.
fn heartbeat(r: &Recorder, machine: B256) -> IGpuMarket::heartbeatCall {
    let n = r.head() - 1;
    let digest =
        r.view(MARKET, IGpuMarket::heartbeatDigestCall { machineId: machine, blockNumber: n });
    let sig =
        cast(&["wallet", "sign", "--no-hash", "--private-key", MACHINE_KEY, &format!("{digest}")]);
    IGpuMarket::heartbeatCall {
        machineId: machine,
        blockNumber: n,
        signature: sig.trim().parse().unwrap(),
    }
}

/// Views of the market compared after every checked block.
fn market_views(r: &mut Recorder, machine: B256, accounts: &[usize]) {
    for call in [
        IGpuMarket::getMachineCall { machineId: machine }.abi_encode(),
        IGpuMarket::getRoundCall { machineId: machine }.abi_encode(),
        IGpuMarket::networkStatsCall {}.abi_encode(),
        IGpuMarket::machineCountCall {}.abi_encode(),
        IGpuMarket::rentalCountCall {}.abi_encode(),
        IGpuMarket::committeeSizeCall {}.abi_encode(),
        IGpuMarket::burnRateBpsCall {}.abi_encode(),
        IGpuMarket::pendingRewardCall { machineId: machine }.abi_encode(),
        IGpuMarket::getRentalCall { rentalId: U256::from(1) }.abi_encode(),
        IGpuMarket::getRentalCall { rentalId: U256::from(2) }.abi_encode(),
        IGpuMarket::getReportCall { reportId: U256::from(1) }.abi_encode(),
        IGpuMarket::getReportCall { reportId: U256::from(2) }.abi_encode(),
        IGpuMarket::getReportCall { reportId: U256::from(3) }.abi_encode(),
        IGpuMarket::quoteCall { machineId: machine, gpus: 1, blocks: 20 }.abi_encode(),
    ] {
        r.views.push((MARKET, call));
    }
    for k in accounts {
        let account = r.dev[*k];
        r.views.push((MARKET, IGpuMarket::rewardsOfCall { account }.abi_encode()));
        r.views.push((MARKET, IGpuMarket::auditorStakeCall { account }.abi_encode()));
        r.views.push((MARKET, IGpuMarket::isAuditorCall { account }.abi_encode()));
    }
}

/// Serializes the `forge` runs of the tests in this file (they share `contracts/cache`).
static FORGE: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn solidity_precompiles_match_the_node() {
    let _ = tool("forge");
    let dir = tempfile::tempdir().unwrap();
    let (genesis, mut r) = start(dir.path(), |_| {});
    let dbc = |n: u128| U256::from(n * DBC);
    let zero = U256::ZERO;
    let (owner, renter, auditors, machine_key) = (1usize, 3usize, [2usize, 4, 5], 9usize);
    let machine = keccak256("diff machine");
    let spec = spec(&r);
    market_views(&mut r, machine, &[owner, renter, auditors[0], auditors[1], auditors[2], 0]);
    let pid1 = U256::from(1);
    r.views.push((MINING, IProjectMining::projectCountCall {}.abi_encode()));
    r.views.push((MINING, IProjectMining::getProjectCall { projectId: pid1 }.abi_encode()));
    r.views.push((MINING, IProjectMining::projectsOfCall { machineId: machine }.abi_encode()));
    r.views.push((
        MINING,
        IProjectMining::enrolledMachineAtCall { projectId: pid1, index: U256::ZERO }.abi_encode(),
    ));
    r.views.push((
        MINING,
        IProjectMining::rewardsOfCall { projectId: pid1, provider: r.dev[owner] }.abi_encode(),
    ));
    r.views.push((
        MINING,
        IProjectMining::workOfCall { projectId: pid1, machineId: machine }.abi_encode(),
    ));
    r.views.push((MINING, IProjectMining::maxProjectsPerMachineCall {}.abi_encode()));
    let (candidate, delegator) = (r.dev[6], r.dev[0]);
    r.views.push((STAKING, IStaking::getValidatorCall { validator: candidate }.abi_encode()));
    r.views.push((
        STAKING,
        IStaking::getDelegationCall { validator: candidate, delegator }.abi_encode(),
    ));
    r.views.push((
        STAKING,
        IStaking::getDelegationCall { validator: candidate, delegator: candidate }.abi_encode(),
    ));
    r.views.push((STAKING, IStaking::getUnbondingsCall { delegator }.abi_encode()));
    r.views.push((STAKING, IStaking::getUnbondingCall { delegator }.abi_encode()));
    r.views.push((STAKING, IStaking::pendingCommissionCall { validator: candidate }.abi_encode()));
    r.views.push((STAKING, IStaking::candidatesCall {}.abi_encode()));
    r.views.push((STAKING, IStaking::activeValidatorsCall {}.abi_encode()));
    r.views.push((STAKING, IStaking::epochBlocksCall {}.abi_encode()));
    r.views.push((STAKING, IStaking::rewardPoolRemainingCall {}.abi_encode()));
    r.views.push((STAKING, IStaking::totalBurnedCall {}.abi_encode()));
    governance_views(&mut r);

    // 1. The committee: three auditors join; a short stake is refused.
    for a in [auditors[0], auditors[1], auditors[2], 0] {
        r.ok(a, MARKET, dbc(1_000), IGpuMarket::joinCommitteeCall {});
    }
    let wrong = err("WrongStake(uint256,uint256)", &[word(dbc(1_000)), word(dbc(1))].concat());
    r.reverts(6, MARKET, dbc(1), IGpuMarket::joinCommitteeCall {}, &wrong);
    let again = err("AlreadyAuditor()", &[]);
    r.reverts(auditors[0], MARKET, dbc(1_000), IGpuMarket::joinCommitteeCall {}, &again);

    // 2. A machine registers; a second registration of its id is refused.
    let register = IGpuMarket::registerCall { machineId: machine, spec: spec.clone() };
    r.ok(owner, MARKET, dbc(2_000), register.clone());
    let exists = err("MachineExists(bytes32)", machine.as_slice());
    r.reverts(owner, MARKET, dbc(2_000), register, &exists);

    // 3. The draw, then commit–reveal: two votes within tolerance, one outside.
    r.mine(3);
    verify(&mut r, machine, [1_000, 1_040, 1_300]);
    let m = r.view(MARKET, IGpuMarket::getMachineCall { machineId: machine });
    assert_eq!(m.status as u8, 2, "verified");

    // 4. Heartbeat (sent by the renter, signed by the machine key), prices.
    let hb = heartbeat(&r, machine);
    r.ok(renter, MARKET, zero, hb);
    let default_price =
        r.view(MARKET, IGpuMarket::getMachineCall { machineId: machine }).pricePerGpuBlock;
    let low = IGpuMarket::setPriceCall { machineId: machine, pricePerGpuBlock: U256::from(1) };
    let too_low = err("PriceTooLow(uint256)", &word(default_price / U256::from(2)));
    r.reverts(owner, MARKET, zero, low, &too_low);
    let price = default_price * U256::from(3) / U256::from(2);
    r.ok(
        owner,
        MARKET,
        zero,
        IGpuMarket::setPriceCall { machineId: machine, pricePerGpuBlock: price },
    );
    let paid = IGpuMarket::setPriceCall { machineId: machine, pricePerGpuBlock: price };
    r.reverts(owner, MARKET, U256::from(1), paid, &err("NotPayable()", &[]));
    let not_owner = IGpuMarket::setPriceCall { machineId: machine, pricePerGpuBlock: price };
    r.reverts(
        renter,
        MARKET,
        zero,
        not_owner,
        &err("NotMachineOwner(bytes32)", machine.as_slice()),
    );

    // 5. Rentals: the owner may not rent; the renter overpays (refunded), extends, ends early.
    let quote = r.view(MARKET, IGpuMarket::quoteCall { machineId: machine, gpus: 1, blocks: 20 });
    let own = IGpuMarket::rentCall { machineId: machine, gpus: 1, blocks: 20 };
    r.reverts(owner, MARKET, quote, own, &err("OwnMachine(bytes32)", machine.as_slice()));
    let rent = IGpuMarket::rentCall { machineId: machine, gpus: 1, blocks: 20 };
    let id = r.ok(renter, MARKET, quote + dbc(1), rent);
    let bad = IGpuMarket::rentCall { machineId: machine, gpus: 1, blocks: 15 };
    r.reverts(
        renter,
        MARKET,
        quote,
        bad,
        &err(
            "InvalidDuration(uint64,uint64,uint64)",
            &[word(U256::from(15)), word(U256::from(10)), word(U256::from(5_000))].concat(),
        ),
    );
    let more = r.view(MARKET, IGpuMarket::quoteCall { machineId: machine, gpus: 1, blocks: 10 });
    r.ok(renter, MARKET, more, IGpuMarket::extendRentalCall { rentalId: id, blocks: 10 });
    let second =
        IGpuMarket::rentForCall { machineId: machine, gpus: 1, blocks: 10, beneficiary: r.dev[7] };
    let quote10 = r.view(MARKET, IGpuMarket::quoteCall { machineId: machine, gpus: 1, blocks: 10 });
    let id2 = r.ok(renter, MARKET, quote10, second);
    r.ok(renter, MARKET, zero, IGpuMarket::endRentalCall { rentalId: id2 });
    r.reverts(
        renter,
        MARKET,
        zero,
        IGpuMarket::endRentalCall { rentalId: id2 },
        &err("RentalNotActive(uint256)", &word(id2)),
    );

    // 6. Unknown selectors and plain transfers are refused.
    r.send(renter, MARKET, zero, vec![0xde, 0xad, 0xbe, 0xef]);
    r.send(renter, MARKET, zero, vec![]);

    // 7. The rental runs out in the hook; an epoch settles rewards; the owner claims.
    r.mine(40);
    let hb = heartbeat(&r, machine);
    r.ok(machine_key, MARKET, zero, hb);
    r.mine(60);
    let hb = heartbeat(&r, machine);
    r.ok(owner, MARKET, zero, hb);
    r.ok(owner, MARKET, zero, IGpuMarket::claimRewardsCall {});
    r.reverts(renter, MARKET, zero, IGpuMarket::claimRewardsCall {}, &err("NothingToClaim()", &[]));
    r.send(auditors[1], MARKET, zero, IGpuMarket::claimRewardsCall {}.abi_encode());

    // 8. The owner takes the machine offline and brings it back; an auditor leaves.
    r.ok(owner, MARKET, zero, IGpuMarket::goOfflineCall { machineId: machine });
    r.mine(5);
    let hb = heartbeat(&r, machine);
    r.ok(owner, MARKET, zero, hb);
    r.ok(auditors[2], MARKET, zero, IGpuMarket::leaveCommitteeCall {});
    r.mine(2);

    // 9. Project mining: account 7 registers a project (it is the settler) and names account 8
    //    its attestor; the owner enrols the machine; work is attested for the last epoch; the
    //    settler settles the provider.
    let epoch = r.view(MINING, IProjectMining::epochBlocksCall {});
    let project = IProjectMining::registerProjectCall {
        tokensPerBlock: dbc(1),
        budget: dbc(1_000_000),
        endBlock: r.head() + 100_000,
        requirements: IProjectMining::Requirements {
            minGpuMemoryGb: 16,
            minCalcPoint: 0,
            gpuModels: vec![B256::right_padding_from(b"RTX 4090")],
        },
        release: IProjectMining::Release { immediateBps: 2_500, vestingBlocks: 1_000 },
    };
    let pid = r.ok(7, MINING, zero, project);
    let not_settler = err("NotSettler(uint256)", &word(pid));
    r.reverts(
        renter,
        MINING,
        zero,
        IProjectMining::setAttestorCall { projectId: pid, attestor: r.dev[8] },
        &not_settler,
    );
    r.ok(7, MINING, zero, IProjectMining::setAttestorCall { projectId: pid, attestor: r.dev[8] });
    r.ok(owner, MINING, zero, IProjectMining::enrollCall { projectId: pid, machineId: machine });
    let enrolled = err("AlreadyEnrolled(uint256,bytes32)", &[word(pid), machine.0].concat());
    r.reverts(
        owner,
        MINING,
        zero,
        IProjectMining::enrollCall { projectId: pid, machineId: machine },
        &enrolled,
    );
    r.mine(epoch - r.head() % epoch + 1);
    let last = r.head() / epoch - 1;
    let attest = IProjectMining::attestWorkCall {
        projectId: pid,
        epoch: last,
        machineIds: vec![machine],
        units: vec![100],
    };
    r.ok(8, MINING, zero, attest.clone());
    let twice = err(
        "AlreadyAttested(uint256,bytes32,uint64)",
        &[word(pid), machine.0, word(U256::from(last))].concat(),
    );
    r.reverts(8, MINING, zero, attest, &twice);
    r.mine(10);
    r.ok(7, MINING, zero, IProjectMining::settleCall { projectId: pid, provider: r.dev[owner] });
    r.mine(3);
    r.ok(owner, MINING, zero, IProjectMining::leaveCall { projectId: pid, machineId: machine });

    // 10. Staking: account 6 becomes a candidate, account 0 delegates to it and undelegates
    //     part; commissions change; evidence that does not decode is refused.
    let candidate = r.dev[6];
    // The minimum self-stake is the dev accounts' whole balance: top the candidate up (a state
    // edit in a block of its own, which the replay's starting balances cover).
    r.node.rpc("anvil_setBalance", json!([candidate, format!("{:#x}", dbc(1_000_000))]));
    let min_stake = err("StakeTooLow(uint256)", &[]);
    let (short, out) = r.send(
        6,
        STAKING,
        U256::from(1),
        IStaking::registerValidatorCall { commissionBps: 500 }.abi_encode(),
    );
    assert!(!short && out.starts_with(&min_stake), "a 1-wei self-stake is refused: {out}");
    r.ok(6, STAKING, dbc(100_000), IStaking::registerValidatorCall { commissionBps: 500 });
    r.ok(0, STAKING, dbc(5_000), IStaking::delegateCall { validator: candidate });
    r.ok(0, STAKING, zero, IStaking::undelegateCall { validator: candidate, amount: dbc(1_000) });
    r.ok(6, STAKING, zero, IStaking::setCommissionCall { commissionBps: 300 });
    r.ok(6, STAKING, zero, IStaking::setCommissionCall { commissionBps: 400 });
    r.reverts(6, STAKING, zero, IStaking::unjailCall {}, &err("NotJailed()", &[]));
    r.send(
        0,
        STAKING,
        zero,
        IStaking::submitDoubleSignCall { headerA: vec![0xc0].into(), headerB: vec![0xc1].into() }
            .abi_encode(),
    );
    r.send(0, STAKING, zero, IStaking::withdrawCall {}.abi_encode());
    r.send(0, STAKING, zero, IStaking::claimRewardsCall { validator: candidate }.abi_encode());
    r.send(
        0,
        STAKING,
        zero,
        IStaking::onBlockCall { proposer: candidate, missed: vec![] }.abi_encode(),
    );
    // The treasury: a donation, and one without value refused.
    r.ok(1, GOVERNANCE, dbc(5), IGovernance::fundCall {});
    r.reverts(1, GOVERNANCE, zero, IGovernance::fundCall {}, &err("NothingToFund()", &[]));
    r.mine(2);
    replay(&r, &genesis, "precompile-diff");
}

/// The treasury's and emission's views, compared at every block.
fn governance_views(r: &mut Recorder) {
    r.views.push((GOVERNANCE, IGovernance::treasuryCall {}.abi_encode()));
    for source in [1, 2, 3, 4, 5, 9] {
        r.views.push((GOVERNANCE, IGovernance::treasuryReceivedCall { source }.abi_encode()));
    }
    for target in [IGovernance::Target::Market, IGovernance::Target::Staking] {
        r.views.push((GOVERNANCE, IGovernance::emissionRateCall { target }.abi_encode()));
    }
}

/// Writes `r`'s trace (`name` when `DBC_DIFF_RECORD` is set: `contracts/test/data/NAME.json`)
/// and replays it with `forge test` against the Solidity stand-ins, requiring it to pass.
fn replay(r: &Recorder, genesis: &Path, name: &str) {
    // Accounts whose balances are compared: the dev accounts and the precompiles.
    let mut accounts = r.dev.clone();
    accounts.extend([MARKET, MINING, STAKING, GOVERNANCE]);
    let contracts = repo_root().join("contracts");
    let out_dir = contracts.join("cache");
    std::fs::create_dir_all(&out_dir).unwrap();
    let id = format!("{name}-{}", std::process::id());
    let trace_path = out_dir.join(format!("{id}.json"));
    let genesis_copy = out_dir.join(format!("{id}-genesis.json"));
    std::fs::copy(genesis, &genesis_copy).unwrap();
    let rel = |p: &Path| p.strip_prefix(&contracts).unwrap().to_str().unwrap().to_owned();
    let mut trace = r.trace(&rel(&genesis_copy), &accounts);
    std::fs::write(&trace_path, serde_json::to_string_pretty(&trace).unwrap()).unwrap();
    if std::env::var_os("DBC_DIFF_RECORD").is_some() {
        let data = contracts.join("test/data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::copy(genesis, data.join(format!("{name}-genesis.json"))).unwrap();
        trace["genesis"] = json!(format!("test/data/{name}-genesis.json"));
        let text = serde_json::to_string_pretty(&trace).unwrap() + "\n";
        std::fs::write(data.join(format!("{name}.json")), text).unwrap();
    }
    let out = {
        let _one = FORGE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        std::process::Command::new(tool("forge"))
            .args(["test", "--match-test", "test_replay_node_trace", "-vvv"])
            .env("DBC_DIFF_TRACE", rel(&trace_path))
            .current_dir(&contracts)
            .output()
            .unwrap()
    };
    let _ = std::fs::remove_file(&trace_path);
    let _ = std::fs::remove_file(&genesis_copy);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("[PASS]"),
        "forge replay of the node's trace failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{name}: {} steps in {} blocks replayed identically", r.steps.len(), r.head());
}

/// The market's adversarial paths: a renter's fault report decided by drawn auditors (one of
/// them voting against the majority), liveness challenges drawn from block randomness that
/// nobody answers (reassignments, auditor penalties, the challenged machine's slash), missed
/// heartbeats of a rented machine, and its return with the graduated slash.
#[test]
fn solidity_market_matches_the_node_on_faults_and_challenges() {
    let _ = tool("forge");
    let dir = tempfile::tempdir().unwrap();
    let (genesis, mut r) = start(dir.path(), |g| {
        let m = &mut g["config"]["dbc"]["market"];
        m["challengeCheckBlocks"] = json!(25);
        m["challengeChanceBps"] = json!(5_000);
        m["heartbeatTimeoutBlocks"] = json!(40);
        m["commitWindowBlocks"] = json!(15);
        m["revealWindowBlocks"] = json!(15);
    });
    let dbc = |n: u128| U256::from(n * DBC);
    let zero = U256::ZERO;
    let (owner, renter) = (1usize, 3usize);
    let committee = [2usize, 4, 5, 0, 6];
    let machine = keccak256("challenged machine");
    market_views(&mut r, machine, &[owner, renter, 2, 4, 5, 0, 6]);
    governance_views(&mut r);
    for a in committee {
        r.ok(a, MARKET, dbc(1_000), IGpuMarket::joinCommitteeCall {});
    }
    let register = IGpuMarket::registerCall { machineId: machine, spec: spec(&r) };
    r.ok(owner, MARKET, dbc(2_000), register);
    r.mine(3);
    verify(&mut r, machine, [1_000, 1_040, 970]);
    let hb = heartbeat(&r, machine);
    r.send(owner, MARKET, zero, hb.abi_encode());

    // Online with heartbeats: liveness challenges are drawn and go unanswered.
    for _ in 0..8 {
        r.mine(18);
        let hb = heartbeat(&r, machine);
        r.send(owner, MARKET, zero, hb.abi_encode());
    }

    // A rental, and the renter's fault report: two auditors confirm, one denies.
    let quote = r.view(MARKET, IGpuMarket::quoteCall { machineId: machine, gpus: 2, blocks: 200 });
    let rental = r.ok(
        renter,
        MARKET,
        quote,
        IGpuMarket::rentCall { machineId: machine, gpus: 2, blocks: 200 },
    );
    let deposit = dbc(100);
    let (ok, out) = r.send(
        renter,
        MARKET,
        deposit,
        IGpuMarket::reportFaultCall { rentalId: rental }.abi_encode(),
    );
    if ok {
        let report = U256::from_be_slice(&out);
        r.mine(3);
        let got = r.view(MARKET, IGpuMarket::getReportCall { reportId: report });
        let dev = r.dev.clone();
        let seat = |a: &Address| dev.iter().position(|x| x == a);
        let votes = [true, true, false];
        for (i, a) in got.round.auditors.iter().enumerate() {
            let Some(k) = seat(a) else { continue };
            let salt = B256::repeat_byte(0x40 + i as u8);
            let commitment = keccak256((report, *a, votes[i], salt).abi_encode());
            r.send(
                k,
                MARKET,
                zero,
                IGpuMarket::commitReportCall { reportId: report, commitment }.abi_encode(),
            );
        }
        for (i, a) in got.round.auditors.iter().enumerate() {
            let Some(k) = seat(a) else { continue };
            let salt = B256::repeat_byte(0x40 + i as u8);
            let call = IGpuMarket::revealReportCall { reportId: report, faulty: votes[i], salt };
            r.send(k, MARKET, zero, call.abi_encode());
        }
    }

    // Time passes without heartbeats: challenges are drawn and go unanswered, the machine is
    // found unreachable; then it comes back.
    for _ in 0..6 {
        r.mine(20);
        r.send(2, MARKET, zero, IGpuMarket::addAuditorStakeCall {}.abi_encode());
    }
    let hb = heartbeat(&r, machine);
    r.send(owner, MARKET, zero, hb.abi_encode());
    r.mine(30);
    let hb = heartbeat(&r, machine);
    r.send(owner, MARKET, zero, hb.abi_encode());
    r.send(owner, MARKET, zero, IGpuMarket::claimRewardsCall {}.abi_encode());
    for a in committee {
        r.send(a, MARKET, zero, IGpuMarket::claimRewardsCall {}.abi_encode());
        r.send(a, MARKET, zero, IGpuMarket::leaveCommitteeCall {}.abi_encode());
    }
    r.mine(2);
    let stats = r.view(MARKET, IGpuMarket::networkStatsCall {});
    let m = r.view(MARKET, IGpuMarket::getMachineCall { machineId: machine });
    println!("machine status {} stake {} burned {}", m.status as u8, m.stake, stats.totalBurned);
    replay(&r, &genesis, "precompile-diff-faults");
}
