//! The `dbc-agent` command line as a user meets it (the market roles run end to end in
//! `bin/dbc-node/tests/agents.rs`, against a real node).
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn agent() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dbc-agent"));
    c.env_remove("DBC_AGENT_PASSWORD").env_remove("DBC_AGENT_CONFIG");
    c
}

#[test]
fn keys_are_created_encrypted_and_read_back_with_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let ks = dir.path().join("keys/owner.json");
    let out = agent()
        .args(["key", "new", "--out"])
        .arg(&ks)
        .env("DBC_AGENT_PASSWORD", "pw")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let address = String::from_utf8(out.stdout).unwrap();
    let read =
        agent().args(["key", "address"]).arg(&ks).env("DBC_AGENT_PASSWORD", "pw").output().unwrap();
    assert_eq!(String::from_utf8(read.stdout).unwrap(), address);
    let wrong = agent()
        .args(["key", "address"])
        .arg(&ks)
        .env("DBC_AGENT_PASSWORD", "nope")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let none = agent().args(["key", "address"]).arg(&ks).output().unwrap();
    assert!(String::from_utf8_lossy(&none.stderr).contains("DBC_AGENT_PASSWORD"));
    // Never overwrites a key.
    let again = agent()
        .args(["key", "new", "--out"])
        .arg(&ks)
        .env("DBC_AGENT_PASSWORD", "pw")
        .output()
        .unwrap();
    assert!(!again.status.success());
}

#[test]
fn detect_reads_a_spec_file_and_refuses_without_a_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(
        &spec,
        "gpu-model = \"RTX 4090\"\ngpu-count = 2\ngpu-memory-gb = 24\ncpu-cores = 16\n\
         ram-gb = 64\ndisk-gb = 1000\nregion = \"eu-west\"\n",
    )
    .unwrap();
    let out = agent().args(["detect", "--spec-file"]).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["gpu_count"], 2);
    assert_eq!(v["gpu_model"], "RTX 4090");
    // This machine has no NVIDIA driver: reading the hardware refuses and names --spec-file
    // (where a GPU exists, it reads it for real).
    let has_gpu = Command::new("nvidia-smi").arg("-L").output().is_ok_and(|o| o.status.success());
    if !has_gpu {
        let out = agent().args(["detect"]).output().unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("--spec-file"));
    }
}
