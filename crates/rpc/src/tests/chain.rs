//! Reorgs seen by subscribers and filters (L1), filters (L7), calls from the system address
//! (L10), tracer and call timeouts and the gas cap (M4).

use super::{TestChain, call};
use crate::{
    DebugApiServer, EthApiServer, RpcLimits, TraceApiServer,
    filters::{FilterKind, Filters, chain_event_values},
};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{Address, B256, Bytes, U256, map::HashSet};
use alloy_rpc_types_eth::{
    Filter, TransactionRequest,
    state::{AccountOverride, StateOverride},
};
use alloy_rpc_types_trace::{
    geth::{
        GethDebugBuiltInTracerType, GethDebugTracerType, GethDebugTracingCallOptions,
        GethDebugTracingOptions,
    },
    parity::TraceType,
};
use dbc_precompiles::{MARKET_ADDRESS, SYSTEM_ADDRESS};
use dbc_storage::chain::ChainEvent;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn changes(t: &TestChain, id: U256) -> Value {
    serde_json::to_value(EthApiServer::filter_changes(&t.ctx, id).unwrap()).unwrap()
}

fn topic(n: u8) -> String {
    format!("{}", B256::with_last_byte(n))
}

#[test]
fn l1_subscribers_see_unwound_logs_as_removed_and_the_new_head() {
    let mut t = TestChain::new();
    // Proof of stake: blocks after the finalized one can be unwound.
    t.chain.set_finalized(0);
    let mut rx = t.chain.subscribe();
    let tx = t.log_tx(1);
    t.commit(vec![tx]);
    let tx = t.log_tx(2);
    let unwound = t.commit(vec![tx]);
    for _ in 0..2 {
        assert!(matches!(rx.try_recv().unwrap(), ChainEvent::Committed(_)));
    }
    t.unwind();
    let event = rx.try_recv().unwrap();
    let logs = chain_event_values(&event, Some(&Filter::default()));
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0]["removed"], true);
    assert_eq!(logs[0]["topics"], json!([topic(2)]));
    assert_eq!(logs[0]["blockHash"], json!(unwound.hash()));
    // newHeads goes back to the block the chain was unwound to.
    let heads = chain_event_values(&event, None);
    assert_eq!(heads.len(), 1);
    assert_eq!(heads[0]["number"], "0x1");
    // And continues on the new branch.
    t.time_shift = 1;
    let tx = t.log_tx(3);
    let replacement = t.commit(vec![tx]);
    assert_ne!(replacement.hash(), unwound.hash());
    let event = rx.try_recv().unwrap();
    let logs = chain_event_values(&event, Some(&Filter::default()));
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["removed"], false);
    assert_eq!(logs[0]["topics"], json!([topic(3)]));
    assert_eq!(chain_event_values(&event, None)[0]["hash"], json!(replacement.hash()));
}

#[test]
fn l1_polled_filters_report_unwinds() {
    let mut t = TestChain::new();
    t.chain.set_finalized(0);
    let logs = EthApiServer::new_filter(&t.ctx, Filter::default()).unwrap();
    let blocks = EthApiServer::new_block_filter(&t.ctx).unwrap();
    let tx = t.log_tx(1);
    let first = t.commit(vec![tx]);
    let tx = t.log_tx(2);
    let unwound = t.commit(vec![tx]);
    let got = changes(&t, logs);
    assert_eq!(got.as_array().map(Vec::len), Some(2), "{got}");
    assert_eq!(changes(&t, blocks), json!([first.hash(), unwound.hash()]));

    t.unwind();
    t.time_shift = 1;
    let tx = t.log_tx(3);
    let replacement = t.commit(vec![tx]);

    let got = changes(&t, logs);
    let got = got.as_array().unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    // geth: the unwound block's logs again with `removed: true`, then the new branch's.
    assert_eq!(got[0]["removed"], true);
    assert_eq!(got[0]["topics"], json!([topic(2)]));
    assert_eq!(got[0]["blockHash"], json!(unwound.hash()));
    assert_eq!(got[1]["removed"], false);
    assert_eq!(got[1]["topics"], json!([topic(3)]));
    assert_eq!(got[1]["blockHash"], json!(replacement.hash()));
    // Block filters return the new canonical hashes.
    assert_eq!(changes(&t, blocks), json!([replacement.hash()]));
    // Nothing twice.
    assert_eq!(changes(&t, logs), json!([]));
    assert_eq!(changes(&t, blocks), json!([]));
}

#[test]
fn l1_an_unwind_without_new_blocks_still_rewinds_filters() {
    let mut t = TestChain::new();
    t.chain.set_finalized(0);
    let logs = EthApiServer::new_filter(&t.ctx, Filter::default()).unwrap();
    let tx = t.log_tx(1);
    t.commit(vec![tx]);
    assert_eq!(changes(&t, logs).as_array().map(Vec::len), Some(1));
    t.unwind();
    let got = changes(&t, logs);
    assert_eq!(got.as_array().map(Vec::len), Some(1), "{got}");
    assert_eq!(got[0]["removed"], true);
    // The same block number again, on the new branch.
    t.time_shift = 1;
    let tx = t.log_tx(4);
    t.commit(vec![tx]);
    let got = changes(&t, logs);
    assert_eq!(got.as_array().map(Vec::len), Some(1), "{got}");
    assert_eq!(got[0]["topics"], json!([topic(4)]));
    assert_eq!(got[0]["removed"], false);
}

#[test]
fn l7_filter_ids_are_random_and_installs_are_bounded() {
    let filters = Filters::new(3);
    let kind = || FilterKind::Blocks { last: 0, seq: 1 };
    let ids: Vec<U256> = (0..3).map(|_| filters.install(kind()).unwrap()).collect();
    assert_eq!(ids.iter().collect::<std::collections::HashSet<_>>().len(), 3);
    // 128 random bits: the old ids (a counter and 8 hashed bits) stayed below 2^72.
    assert!(ids.iter().any(|id| *id >= U256::from(1) << 72), "{ids:?}");
    assert!(ids.iter().all(|id| *id < U256::from(1) << 128));
    let err = filters.install(kind()).unwrap_err();
    assert_eq!(err.code(), -32000);
    assert!(err.message().starts_with("too many installed filters (limit 3)"), "{err}");
    assert!(filters.uninstall(ids[0]));
    filters.install(kind()).unwrap();
    assert_eq!(filters.len(), 3);
}

#[test]
fn l7_a_failed_poll_does_not_move_the_filter_cursor() {
    let mut t = TestChain::new();
    let id = EthApiServer::new_filter(&t.ctx, Filter::default()).unwrap();
    let tx = t.log_tx(5);
    t.commit(vec![tx]);
    // The same filter table, but every scan runs out of time at once.
    let impatient = t
        .ctx
        .clone()
        .with_limits(RpcLimits { request_timeout: Duration::ZERO, ..Default::default() });
    let err = EthApiServer::filter_changes(&impatient, id).unwrap_err();
    assert_eq!(err.code(), -32002, "{err}");
    assert_eq!(err.message(), "request timed out");
    // The logs the failed poll did not return come with the next one.
    let got = changes(&t, id);
    assert_eq!(got.as_array().map(Vec::len), Some(1), "{got}");
    assert_eq!(got[0]["topics"], json!([topic(5)]));
}

fn system_call() -> TransactionRequest {
    TransactionRequest::default()
        .from(SYSTEM_ADDRESS)
        .to(MARKET_ADDRESS)
        .input(dbc_precompiles::hook_calldata(U256::ZERO).into())
}

fn assert_system_refused(err: jsonrpsee::types::ErrorObjectOwned) {
    assert_eq!(err.code(), -32602, "{err}");
    assert_eq!(
        err.message(),
        format!("{SYSTEM_ADDRESS} is the system address: only the block hooks may call from it")
    );
}

#[test]
fn l10_calls_from_the_system_address_are_refused() {
    let t = TestChain::new();
    let ctx = &t.ctx;
    assert_system_refused(call(ctx, system_call(), None).unwrap_err());
    assert_system_refused(EthApiServer::estimate_gas(ctx, system_call(), None, None).unwrap_err());
    assert_system_refused(EthApiServer::create_access_list(ctx, system_call(), None).unwrap_err());
    assert_system_refused(DebugApiServer::trace_call(ctx, system_call(), None, None).unwrap_err());
    let types: HashSet<TraceType> = [TraceType::Trace].into_iter().collect();
    assert_system_refused(TraceApiServer::call(ctx, system_call(), types, None).unwrap_err());
    // Nor may a call put code at the system address (a contract there would call as it).
    let mut overrides = StateOverride::default();
    overrides
        .insert(SYSTEM_ADDRESS, AccountOverride::default().with_code(Bytes::from_static(&[0])));
    let plain = TransactionRequest::default().to(Address::repeat_byte(1));
    assert_system_refused(call(ctx, plain.clone(), Some(overrides)).unwrap_err());
    // Anyone else still calls.
    call(ctx, plain, None).unwrap();
}

/// 1,000 `JUMPDEST`s and a jump back to the start: burns any gas at one step per gas.
fn jumpdest_loop() -> Bytes {
    let mut code = vec![0x5b; 1000];
    code.extend_from_slice(&[0x60, 0x00, 0x56]);
    code.into()
}

const LOOP: Address = Address::repeat_byte(0x77);

fn loop_overrides() -> StateOverride {
    let mut overrides = StateOverride::default();
    overrides.insert(LOOP, AccountOverride::default().with_code(jumpdest_loop()));
    overrides
}

fn loop_call(gas: u64) -> TransactionRequest {
    TransactionRequest::default().from(Address::repeat_byte(9)).to(LOOP).gas_limit(gas)
}

fn trace_opts(
    tracer: Option<GethDebugBuiltInTracerType>,
    timeout: Option<&str>,
) -> GethDebugTracingCallOptions {
    GethDebugTracingCallOptions {
        tracing_options: GethDebugTracingOptions {
            tracer: tracer.map(GethDebugTracerType::BuiltInTracer),
            timeout: timeout.map(str::to_string),
            ..Default::default()
        },
        state_overrides: Some(loop_overrides()),
        ..Default::default()
    }
}

#[test]
fn m4_trace_call_honours_geths_timeout_option() {
    let t = TestChain::new();
    let started = Instant::now();
    let opts = trace_opts(Some(GethDebugBuiltInTracerType::CallTracer), Some("10ms"));
    let err =
        DebugApiServer::trace_call(&t.ctx, loop_call(60_000_000), None, Some(opts)).unwrap_err();
    assert_eq!(err.code(), -32000, "{err}");
    assert_eq!(err.message(), "execution timeout");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    // A bad duration is refused with Go's message.
    let opts = trace_opts(None, Some("soon"));
    let err = DebugApiServer::trace_call(&t.ctx, loop_call(100_000), None, Some(opts)).unwrap_err();
    assert_eq!(err.message(), "time: invalid duration \"soon\"");
}

#[test]
fn m4_struct_logger_of_a_jumpdest_loop_is_bounded() {
    // The review's case: the default struct logger on a 60M-gas JUMPDEST loop held a core for
    // 30.7 s and recorded every step. Now the gas is capped, the recorded steps are capped by
    // memory and the trace stops after geth's 5 s at most.
    let t = TestChain::new();
    let started = Instant::now();
    let err = DebugApiServer::trace_call(
        &t.ctx,
        loop_call(60_000_000),
        None,
        Some(trace_opts(None, None)),
    )
    .unwrap_err();
    assert_eq!(err.code(), -32000, "{err}");
    assert!(
        err.message() == "execution timeout" || err.message().starts_with("trace too large"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
}

#[test]
fn m4_eth_call_stops_at_the_evm_timeout() {
    let t = TestChain::new();
    let ctx = t
        .ctx
        .clone()
        .with_limits(RpcLimits { evm_timeout: Duration::from_millis(10), ..Default::default() });
    let started = Instant::now();
    let err = call(&ctx, loop_call(60_000_000), Some(loop_overrides())).unwrap_err();
    assert_eq!(err.code(), -32000, "{err}");
    assert_eq!(err.message(), "execution aborted (timeout = 10ms)");
    let err = EthApiServer::estimate_gas(&ctx, loop_call(60_000_000), None, Some(loop_overrides()))
        .unwrap_err();
    assert_eq!(err.message(), "execution aborted (timeout = 10ms)");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

#[test]
fn m4_call_gas_is_capped_at_the_rpc_gas_cap() {
    let t = TestChain::new();
    // GAS PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN: returns the gas left.
    let code = Bytes::from_static(&[0x5a, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3]);
    let target = Address::repeat_byte(0x42);
    let mut overrides = StateOverride::default();
    overrides.insert(target, AccountOverride::default().with_code(code));
    let gas_left = |ctx: &crate::RpcContext| {
        let request = TransactionRequest::default().to(target).gas_limit(60_000_000);
        let out = call(ctx, request, Some(overrides.clone())).unwrap();
        U256::from_be_slice(&out).to::<u64>()
    };
    // geth's default --rpc.gascap is 50M: asking for 60M gets 50M.
    let left = gas_left(&t.ctx);
    assert!(left < 50_000_000 && left > 49_900_000, "{left}");
    let ctx = t.ctx.clone().with_limits(RpcLimits { gas_cap: 1_000_000, ..Default::default() });
    assert!(gas_left(&ctx) < 1_000_000);
}

#[test]
fn m4_fee_history_caps_reward_percentiles() {
    let t = TestChain::new();
    let percentiles: Vec<f64> = (0..=100).map(f64::from).collect();
    let err = EthApiServer::fee_history(
        &t.ctx,
        alloy_primitives::U64::from(1),
        BlockNumberOrTag::Latest,
        Some(percentiles),
    )
    .unwrap_err();
    assert_eq!(err.code(), -32602);
    assert_eq!(err.message(), "invalid reward percentile: over the query limit 100");
    let ok: Vec<f64> = (0..100).map(f64::from).collect();
    EthApiServer::fee_history(
        &t.ctx,
        alloy_primitives::U64::from(1),
        BlockNumberOrTag::Latest,
        Some(ok),
    )
    .unwrap();
}

/// `eth_getProof` proves at most `MAX_PROOF_KEYS` storage keys: a request within the size
/// limit could otherwise carry ~70,000.
#[test]
fn m4_proofs_cap_their_storage_keys() {
    let t = TestChain::new();
    let key = |i: u64| alloy_serde::JsonStorageKey::from(B256::from(U256::from(i)));
    let max = crate::proofs::MAX_PROOF_KEYS as u64;
    let too_many: Vec<_> = (0..=max).map(key).collect();
    let err = EthApiServer::proof(&t.ctx, Address::ZERO, too_many, None).unwrap_err();
    assert_eq!(err.code(), -32602);
    assert_eq!(err.message(), "too many storage keys: 1025 (at most 1024)");
    let proof =
        EthApiServer::proof(&t.ctx, Address::ZERO, (0..max).map(key).collect(), None).unwrap();
    assert_eq!(proof.storage_proof.len(), 1024);
}

/// Issue #16 item 8: estimates (at `latest`, the default, and `pending`) and `pending` calls run
/// in the next block's context, where a transaction sent now executes; an explicit block number
/// keeps that block's context. The init code below succeeds only when `block.number` is the
/// head's number + 1.
#[test]
fn estimates_and_pending_calls_run_in_the_next_blocks_context() {
    use alloy_eips::BlockId;
    let mut t = TestChain::new();
    let tx = t.tx(alloy_primitives::TxKind::Create, Bytes::new());
    t.commit(vec![tx]);
    let head = t.head().number;
    assert_eq!(head, 1);
    // NUMBER PUSH1 2 EQ PUSH1 8 JUMPI INVALID JUMPDEST STOP
    let code = Bytes::from(vec![0x43, 0x60, 0x02, 0x14, 0x60, 0x08, 0x57, 0xfe, 0x5b, 0x00]);
    let req = || TransactionRequest::default().input(code.clone().into());
    let at = |tag: BlockNumberOrTag| Some(BlockId::Number(tag));
    for block in [None, at(BlockNumberOrTag::Latest), at(BlockNumberOrTag::Pending)] {
        EthApiServer::estimate_gas(&t.ctx, req(), block, None)
            .unwrap_or_else(|e| panic!("estimate at {block:?}: {e:?}"));
    }
    assert!(
        EthApiServer::estimate_gas(&t.ctx, req(), at(BlockNumberOrTag::Number(1)), None).is_err()
    );
    assert!(EthApiServer::call(&t.ctx, req(), at(BlockNumberOrTag::Pending), None, None).is_ok());
    assert!(EthApiServer::call(&t.ctx, req(), None, None, None).is_err(), "eth_call: latest");
}

/// `eth_getHeaderByNumber`/`ByHash` (geth, reth): the block's header without its transactions,
/// for tags too; nothing past the head.
#[test]
fn headers_by_number_and_hash_match_the_blocks() {
    let mut t = TestChain::new();
    let tx = t.log_tx(1);
    t.commit(vec![tx]);
    t.chain.set_finalized(0);
    let tx = t.log_tx(2);
    let head = t.commit(vec![tx]);
    let block = |tag| {
        serde_json::to_value(EthApiServer::block_by_number(&t.ctx, tag, Some(false)).unwrap())
            .unwrap()
    };
    let header =
        |tag| serde_json::to_value(EthApiServer::header_by_number(&t.ctx, tag).unwrap()).unwrap();
    for tag in [BlockNumberOrTag::Latest, BlockNumberOrTag::Finalized, BlockNumberOrTag::Number(1)]
    {
        let (mut b, mut h) = (block(tag), header(tag));
        let b = b.as_object_mut().unwrap();
        for body in ["transactions", "uncles", "withdrawals"] {
            b.remove(body);
        }
        // A header's size is its own RLP length (geth's `Header.Size`), below the block's.
        let size = |v: Value| u64::from_str_radix(&v.as_str().unwrap()[2..], 16).unwrap();
        let block_size = size(b.remove("size").unwrap());
        let header_size = size(h.as_object_mut().unwrap().remove("size").unwrap());
        assert!(header_size < block_size, "{header_size} vs {block_size}");
        assert_eq!(Value::Object(b.clone()), h, "{tag:?}");
    }
    assert_eq!(header(BlockNumberOrTag::Finalized)["number"], "0x0");
    assert_eq!(header(BlockNumberOrTag::Latest)["hash"], json!(head.hash()));
    let by_hash = EthApiServer::header_by_hash(&t.ctx, head.hash()).unwrap();
    assert_eq!(serde_json::to_value(by_hash).unwrap(), header(BlockNumberOrTag::Latest));
    assert!(
        EthApiServer::header_by_number(&t.ctx, BlockNumberOrTag::Number(99)).unwrap().is_none()
    );
    assert!(EthApiServer::header_by_hash(&t.ctx, B256::repeat_byte(9)).unwrap().is_none());
}
