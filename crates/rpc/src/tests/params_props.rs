//! Hostile JSON-RPC parameters through the real handlers (security review, issue #15 item 6):
//! every method the node serves, called with generated parameters of any shape, answers a
//! well-formed JSON-RPC response (a result or an error object) and never panics. The fuzz
//! target `rpc_params` covers alloy's parameter types; this covers dbc-rpc's own code.

use super::TestChain;
use proptest::prelude::*;
use serde_json::{Value, json};

fn hex_bytes(max: usize) -> impl Strategy<Value = Value> {
    proptest::collection::vec(any::<u8>(), 0..max)
        .prop_map(|b| Value::String(format!("0x{}", alloy_primitives::hex::encode(b))))
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(format!("{n:#x}"))),
        Just(json!("0x")),
        Just(json!("0x0")),
        Just(json!("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")),
        Just(json!("0x1ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")),
        prop_oneof![
            Just("latest"),
            Just("pending"),
            Just("earliest"),
            Just("safe"),
            Just("finalized"),
        ]
        .prop_map(|s| json!(s)),
        hex_bytes(40),
        hex_bytes(70),
        "[a-zA-Z0-9_ ]{0,12}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let keys = prop_oneof![
        Just("from"),
        Just("to"),
        Just("data"),
        Just("input"),
        Just("value"),
        Just("gas"),
        Just("gasPrice"),
        Just("nonce"),
        Just("blockHash"),
        Just("blockNumber"),
        Just("fromBlock"),
        Just("toBlock"),
        Just("address"),
        Just("topics"),
        Just("tracer"),
        Just("timeout"),
        Just("tracerConfig"),
        Just("stateOverrides"),
    ];
    leaf().prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(keys.clone(), inner, 0..4).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn hostile_params_through_every_handler_get_a_well_formed_answer(
        method_index in any::<prop::sample::Index>(),
        params in proptest::collection::vec(value(), 0..5),
    ) {
        thread_local! {
            static CHAIN: (TestChain, tokio::runtime::Runtime) = (
                TestChain::new(),
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("runtime"),
            );
        }
        CHAIN.with(|(chain, rt)| {
            let module = chain.ctx.clone().into_module();
            let methods: Vec<&str> = module.method_names().collect();
            let method = methods[method_index.index(methods.len())];
            let request = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params })
                .to_string();
            let (response, _rx) = rt
                .block_on(async {
                    tokio::time::timeout(
                        std::time::Duration::from_secs(30),
                        module.raw_json_request(&request, 1),
                    )
                    .await
                })
                .expect("answered within 30 s")
                .expect("a response");
            let v: Value = serde_json::from_str(response.get()).expect("response is JSON");
            prop_assert_eq!(&v["jsonrpc"], "2.0", "{} → {}", request, response.get());
            let has_result = v.get("result").is_some();
            let error = v.get("error");
            prop_assert!(has_result != error.is_some(), "{} → {}", request, response.get());
            if let Some(e) = error {
                prop_assert!(e["code"].is_i64() && e["message"].is_string(), "{}", response.get());
            }
            Ok(())
        })?;
    }
}
