//! The auditor role: joins the committee, watches every block's draws, checks each machine it
//! is drawn for against the machine's endpoint (a fresh nonce, answered with the machine key),
//! and commits and reveals its finding within the windows. A vote and its salt are on disk
//! before the commitment is sent, so a restart can always reveal what it committed.

use crate::{
    attest::{self, Attestation},
    bench,
    chain::{self, dbc},
    rpc::{Rpc, RpcError, Wallet},
    state::Persisted,
};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::{SolEvent, SolValue};
use dbc_precompiles::{
    MARKET_ADDRESS,
    abi::IGpuMarket::{self, IGpuMarketErrors, MachineSpec},
};
use eyre::Context;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};
use tokio::task::JoinHandle;

/// What the auditor needs to run.
#[derive(Debug)]
pub(crate) struct Auditor {
    /// The node.
    pub(crate) rpc: Rpc,
    /// The auditor's wallet (committee stake and votes).
    pub(crate) wallet: Wallet,
    /// Its persisted state.
    pub(crate) state: Persisted,
    /// Stake to join with (`None`: the minimum).
    pub(crate) stake: Option<U256>,
    /// Blocks scanned back for draws on the first start.
    pub(crate) lookback: u64,
    /// The node's WebSocket URL: new heads wake the auditor (else it polls every 500 ms).
    pub(crate) ws: Option<String>,
    /// Machine checks in flight, by assignment: each runs in its own task, so an endpoint that
    /// answers slowly or never cannot hold up the other assignments' commitments and reveals.
    pub(crate) checks: Checks,
    /// The compute challenge.
    pub(crate) bench: BenchSettings,
}

/// How the auditor measures a machine.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BenchSettings {
    /// The challenge's size `n`.
    pub(crate) n: u32,
    /// Measured GOPS per calc point.
    pub(crate) gops_per_point: f64,
    /// How far below its table value (basis points) a challenged machine may measure.
    pub(crate) tolerance_bps: u32,
}

/// Rows of a benchmark answer the auditor recomputes.
const CHECKED_ROWS: u32 = 8;
/// Times an auditor asks again while the machine runs another auditor's benchmark.
const BUSY_TRIES: u32 = 30;
/// Longest a benchmark may take.
const BENCH_TIMEOUT: Duration = Duration::from_secs(60);

/// What a machine's endpoint proved: the spec it attested and the per-GPU calc point measured
/// by the compute challenge, or why not.
type CheckResult = Result<(MachineSpec, u32), CheckError>;

/// Why a check failed, and whether the machine itself proved it wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CheckError {
    why: String,
    /// The machine signed a wrong answer: final, not retried. Asking again would give a cheat
    /// that computes part of the benchmark another draw of the checked rows per try, until
    /// one falls entirely in the part it computed.
    proven: bool,
}

impl CheckError {
    /// A failure the machine signed (a wrong benchmark row).
    fn proven(why: impl std::fmt::Display) -> Self {
        Self { why: why.to_string(), proven: true }
    }
}

/// Any other failure (no answer, a transport error, busy): retried while time allows.
impl From<String> for CheckError {
    fn from(why: String) -> Self {
        Self { why, proven: false }
    }
}

impl From<&str> for CheckError {
    fn from(why: &str) -> Self {
        why.to_owned().into()
    }
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

/// Identifies an assignment: kind, machine, report, attempt.
type TaskKey = (Kind, B256, Option<U256>, u32);

/// Endpoint checks running in the background, at most [`CHECKS_AT_ONCE`].
#[derive(Debug, Default)]
pub(crate) struct Checks(Mutex<HashMap<TaskKey, (JoinHandle<CheckResult>, u64)>>);

impl Checks {
    /// The finished check of `key` and the head it started at, if one is; starts `check` at
    /// `head` if none runs and fewer than [`CHECKS_AT_ONCE`] do.
    async fn poll(
        &self,
        key: TaskKey,
        head: u64,
        check: impl FnOnce() -> JoinHandle<CheckResult>,
    ) -> Option<(CheckResult, u64)> {
        let finished = {
            let mut running = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match running.get(&key) {
                Some((h, _)) if h.is_finished() => running.remove(&key),
                Some(_) => None,
                None => {
                    if running.len() < CHECKS_AT_ONCE {
                        running.insert(key, (check(), head));
                    }
                    None
                }
            }
        };
        let (handle, started) = finished?;
        // A finished task's handle is ready at once.
        Some((
            handle.await.unwrap_or_else(|e| Err(format!("the check failed: {e}").into())),
            started,
        ))
    }

    /// Stops the checks of assignments no longer pending.
    fn retain(&self, pending: &[TaskKey]) {
        let mut running = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        running.retain(|k, (h, _)| {
            let keep = pending.contains(k);
            if !keep {
                h.abort();
            }
            keep
        });
    }

    /// Stops the check of `key`, if one runs.
    fn abort(&self, key: &TaskKey) {
        let mut running = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((h, _)) = running.remove(key) {
            h.abort();
        }
    }
}

/// New-head notifications over WebSocket (`eth_subscribe("newHeads")`).
struct Heads {
    _client: jsonrpsee::ws_client::WsClient,
    sub: jsonrpsee::core::client::Subscription<Value>,
}

impl Heads {
    async fn connect(url: &str) -> eyre::Result<Self> {
        use jsonrpsee::core::client::SubscriptionClientT;
        let client = jsonrpsee::ws_client::WsClientBuilder::default()
            .build(url)
            .await
            .wrap_err_with(|| format!("connecting to {url}"))?;
        let sub = client
            .subscribe("eth_subscribe", jsonrpsee::rpc_params!["newHeads"], "eth_unsubscribe")
            .await
            .wrap_err("subscribing to new heads")?;
        Ok(Self { _client: client, sub })
    }

    /// Waits for the next head (at most 12 s: a tick happens anyway); `false` if the
    /// subscription ended.
    async fn next(&mut self) -> bool {
        match tokio::time::timeout(Duration::from_secs(12), self.sub.next()).await {
            Ok(Some(Ok(_))) | Err(_) => true,
            Ok(Some(Err(_)) | None) => false,
        }
    }
}

/// Persisted state.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct State {
    /// Next block whose draws are read.
    next_block: Option<u64>,
    /// Assignments not yet revealed.
    tasks: Vec<Task>,
}

/// What is being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Kind {
    /// A machine's verification.
    Verification,
    /// A fault report or liveness challenge.
    Report,
}

/// One assignment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Task {
    kind: Kind,
    machine: B256,
    /// Report id (reports only).
    report: Option<U256>,
    attempt: u32,
    commit_deadline: u64,
    /// Failed checks so far (retried until close to the deadline).
    tries: u32,
    vote: Option<Vote>,
    committed: bool,
}

/// A decided vote; written to disk before its commitment is sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Vote {
    /// `abi.encode` of the spec found (verifications).
    spec: Bytes,
    calc_point: u32,
    faulty: bool,
    salt: B256,
    /// What the auditor observed, for the operator.
    finding: String,
}

/// Checks are retried until this many blocks before the commit deadline.
const DECIDE_MARGIN: u64 = 10;
/// Draws read per tick at most (the rest next tick).
const SCAN_PER_TICK: u64 = 200;
/// Endpoint checks running at once at most (the rest start as these finish).
const CHECKS_AT_ONCE: usize = 32;

impl Task {
    fn key(&self) -> TaskKey {
        (self.kind, self.machine, self.report, self.attempt)
    }
}

impl Auditor {
    /// Runs until stopped.
    pub(crate) async fn run(self) -> eyre::Result<()> {
        let me = self.wallet.address();
        if !(bench::MIN_N..=bench::MAX_N).contains(&self.bench.n) {
            eyre::bail!("--bench-size must be {}..={}", bench::MIN_N, bench::MAX_N);
        }
        if !(self.bench.gops_per_point.is_finite() && self.bench.gops_per_point > 0.0) {
            eyre::bail!("--bench-gops-per-point must be a positive number");
        }
        if self.bench.tolerance_bps > 10_000 {
            eyre::bail!("--bench-tolerance-bps must be at most 10000");
        }
        self.ensure_member().await?;
        let mut state: State = self.state.load()?;
        tracing::info!(auditor = %me, pending = state.tasks.len(), "auditor watching draws");
        let mut heads: Option<Heads> = None;
        loop {
            if let Err(e) = self.tick(&mut state).await {
                tracing::warn!("{e:#}; retrying");
            }
            if heads.is_none()
                && let Some(url) = &self.ws
            {
                match Heads::connect(url).await {
                    Ok(h) => {
                        tracing::info!(%url, "watching new heads over WebSocket");
                        heads = Some(h);
                    }
                    Err(e) => tracing::warn!("{e:#}; polling instead"),
                }
            }
            match &mut heads {
                Some(h) => {
                    if !h.next().await {
                        tracing::warn!("the WebSocket subscription ended; reconnecting");
                        heads = None;
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
                None => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }

    /// Joins the committee unless a member already.
    async fn ensure_member(&self) -> eyre::Result<()> {
        let me = self.wallet.address();
        if self.rpc.view(MARKET_ADDRESS, &IGpuMarket::isAuditorCall { account: me }).await? {
            return Ok(());
        }
        let stake = match self.stake {
            Some(s) => s,
            None => chain::required_stake(&self.rpc, me, &IGpuMarket::joinCommitteeCall {}).await?,
        };
        self.wallet
            .send(&self.rpc, MARKET_ADDRESS, stake, &IGpuMarket::joinCommitteeCall {})
            .await
            .wrap_err("joining the committee")?;
        tracing::info!(stake = %dbc(stake), "joined the committee");
        Ok(())
    }

    async fn tick(&self, state: &mut State) -> eyre::Result<()> {
        let head = self.rpc.block_number().await?;
        let from = state.next_block.unwrap_or_else(|| head.saturating_sub(self.lookback).max(1));
        let to = head.min(from.saturating_add(SCAN_PER_TICK - 1));
        let mut changed = false;
        for n in from..=to {
            for task in self.draws_in(n).await? {
                let dup = state.tasks.iter().any(|t| t.key() == task.key());
                if !dup {
                    tracing::info!(kind = ?task.kind, machine = %task.machine, report = ?task.report, attempt = task.attempt, deadline = task.commit_deadline, "drawn");
                    state.tasks.push(task);
                }
            }
            changed = true;
        }
        if from <= to {
            state.next_block = Some(to + 1);
        }
        if changed {
            self.state.store(state)?;
        }
        let pending: Vec<TaskKey> = state.tasks.iter().map(Task::key).collect();
        self.checks.retain(&pending);
        let mut i = 0;
        while i < state.tasks.len() {
            let mut task = state.tasks[i].clone();
            match self.advance(&mut task, head, state).await {
                Ok(true) => {
                    state.tasks.remove(i);
                    self.state.store(state)?;
                }
                Ok(false) => {
                    state.tasks[i] = task;
                    i += 1;
                }
                Err(e) => {
                    tracing::warn!(machine = %task.machine, "{e:#}");
                    i += 1;
                }
            }
        }
        Ok(())
    }

    /// This auditor's assignments drawn in block `n` (the draws run in the block hook).
    async fn draws_in(&self, n: u64) -> eyre::Result<Vec<Task>> {
        let me = self.wallet.address();
        let logs: Vec<Value> =
            self.rpc.call("dbc_getBlockHookLogs", json!([format!("{n:#x}")])).await?;
        let mut out = Vec::new();
        for l in logs {
            let Some(log) = chain::market_log(&l) else { continue };
            if let Ok(e) = IGpuMarket::AuditorsAssigned::decode_log_data(&log) {
                if e.auditors.contains(&me) {
                    out.push(Task {
                        kind: Kind::Verification,
                        machine: e.machineId,
                        report: None,
                        attempt: e.attempt,
                        commit_deadline: e.commitDeadline,
                        tries: 0,
                        vote: None,
                        committed: false,
                    });
                }
            } else if let Ok(e) = IGpuMarket::ReportAuditorsAssigned::decode_log_data(&log)
                && e.auditors.contains(&me)
            {
                let r = self
                    .rpc
                    .view(MARKET_ADDRESS, &IGpuMarket::getReportCall { reportId: e.reportId })
                    .await?;
                out.push(Task {
                    kind: Kind::Report,
                    machine: r.machineId,
                    report: Some(e.reportId),
                    attempt: e.attempt,
                    commit_deadline: e.commitDeadline,
                    tries: 0,
                    vote: None,
                    committed: false,
                });
            }
        }
        Ok(out)
    }

    /// Moves `task` on; `true` when it is finished (revealed, or no longer this auditor's).
    async fn advance(&self, task: &mut Task, head: u64, state: &mut State) -> eyre::Result<bool> {
        let round = match task.kind {
            Kind::Verification => {
                self.rpc
                    .view(MARKET_ADDRESS, &IGpuMarket::getRoundCall { machineId: task.machine })
                    .await?
            }
            Kind::Report => {
                let id = task.report.unwrap_or_default();
                self.rpc
                    .view(MARKET_ADDRESS, &IGpuMarket::getReportCall { reportId: id })
                    .await?
                    .round
            }
        };
        use IGpuMarket::RoundPhase as P;
        if round.attempt != task.attempt || !round.auditors.contains(&self.wallet.address()) {
            tracing::info!(machine = %task.machine, "round moved on without this auditor");
            return Ok(true);
        }
        match round.phase {
            P::Commit if !task.committed => {
                if task.vote.is_none() {
                    match self.decide(task, head).await? {
                        Some(v) => {
                            task.vote = Some(v);
                            // The salt is durable before anyone can see its commitment.
                            self.save_task(state, task)?;
                        }
                        None => return Ok(false),
                    }
                }
                let Some(vote) = &task.vote else { return Ok(false) };
                let sent = match task.kind {
                    Kind::Verification => {
                        let spec = MachineSpec::abi_decode(&vote.spec)?;
                        let commitment = keccak256(
                            (task.machine, self.wallet.address(), spec, vote.calc_point, vote.salt)
                                .abi_encode(),
                        );
                        let call = IGpuMarket::commitVerificationCall {
                            machineId: task.machine,
                            commitment,
                        };
                        self.wallet.send(&self.rpc, MARKET_ADDRESS, U256::ZERO, &call).await
                    }
                    Kind::Report => {
                        let id = task.report.unwrap_or_default();
                        let commitment = keccak256(
                            (id, self.wallet.address(), vote.faulty, vote.salt).abi_encode(),
                        );
                        let call = IGpuMarket::commitReportCall { reportId: id, commitment };
                        self.wallet.send(&self.rpc, MARKET_ADDRESS, U256::ZERO, &call).await
                    }
                };
                match sent {
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.market_error(),
                            Some(IGpuMarketErrors::AlreadyCommitted(_))
                        ) => {}
                    Err(e) => return Err(e.into()),
                }
                task.committed = true;
                self.save_task(state, task)?;
                tracing::info!(machine = %task.machine, report = ?task.report, finding = %vote.finding, "committed");
                Ok(false)
            }
            P::Reveal if task.committed => {
                let Some(vote) = &task.vote else { return Ok(true) };
                let sent = match task.kind {
                    Kind::Verification => {
                        let spec = MachineSpec::abi_decode(&vote.spec)?;
                        let call = IGpuMarket::revealVerificationCall {
                            machineId: task.machine,
                            spec,
                            calcPoint: vote.calc_point,
                            salt: vote.salt,
                        };
                        self.wallet.send(&self.rpc, MARKET_ADDRESS, U256::ZERO, &call).await
                    }
                    Kind::Report => {
                        let call = IGpuMarket::revealReportCall {
                            reportId: task.report.unwrap_or_default(),
                            faulty: vote.faulty,
                            salt: vote.salt,
                        };
                        self.wallet.send(&self.rpc, MARKET_ADDRESS, U256::ZERO, &call).await
                    }
                };
                match sent {
                    Ok(_) => {
                        tracing::info!(machine = %task.machine, report = ?task.report, finding = %vote.finding, "revealed");
                        Ok(true)
                    }
                    Err(e) if already_revealed(&e) => Ok(true),
                    Err(e) => Err(e.into()),
                }
            }
            P::Drawing => Ok(false),
            P::Commit | P::Reveal => Ok(false),
            _ => {
                tracing::info!(machine = %task.machine, phase = ?round.phase, "round over");
                Ok(true)
            }
        }
    }

    fn save_task(&self, state: &mut State, task: &Task) -> eyre::Result<()> {
        if let Some(t) = state.tasks.iter_mut().find(|t| t.key() == task.key()) {
            *t = task.clone();
        }
        self.state.store(state)
    }

    /// Decides the vote from the machine's check: `None` while the check runs (it runs in the
    /// background) or to retry a failed check later.
    async fn decide(&self, task: &mut Task, head: u64) -> eyre::Result<Option<Vote>> {
        let Some(m) = chain::machine(&self.rpc, task.machine).await? else {
            eyre::bail!("machine {} is not registered", task.machine);
        };
        let endpoint = self
            .rpc
            .view(MARKET_ADDRESS, &IGpuMarket::endpointOfCall { machineId: task.machine })
            .await?;
        let (machine, key, gpus) = (task.machine, m.spec.machineKey, m.spec.gpuCount);
        let (auditor, bench) = (self.wallet.key().clone(), self.bench);
        let Some((checked, started)) = self
            .checks
            .poll(task.key(), head, || {
                tokio::spawn(
                    async move { check(&endpoint, machine, key, gpus, &auditor, bench).await },
                )
            })
            .await
        else {
            // A check still running (or not started: 32 run) this close to the deadline is
            // a failure: the vote goes in on time.
            if head + DECIDE_MARGIN / 2 < task.commit_deadline {
                return Ok(None);
            }
            self.checks.abort(&task.key());
            return self
                .vote(task, &m, Err("no answer before the deadline".into()))
                .await
                .map(Some);
        };
        if let Err(why) = &checked
            && retry(why, head, started, task.commit_deadline)
        {
            task.tries += 1;
            if task.tries == 1 || task.tries.is_multiple_of(20) {
                tracing::warn!(machine = %task.machine, tries = task.tries, "check failed: {why}; retrying until the deadline nears");
            }
            return Ok(None);
        }
        self.vote(task, &m, checked).await.map(Some)
    }

    /// The vote on `task` (machine `m`) from what its check found.
    async fn vote(
        &self,
        task: &Task,
        m: &IGpuMarket::Machine,
        checked: CheckResult,
    ) -> eyre::Result<Vote> {
        // The table value of the registered model: a machine measured at least that fast is
        // voted at it; a slower one at what was measured (outside the market's tolerance, the
        // vote rejects it).
        let table = self
            .rpc
            .view(MARKET_ADDRESS, &IGpuMarket::gpuModelCall { model: m.spec.gpuModel })
            .await?
            .calcPoint;
        let salt = B256::from(rand08::random::<[u8; 32]>());
        Ok(match (task.kind, checked) {
            (Kind::Verification, Ok((spec, measured))) => {
                let matches = spec == m.spec;
                let cp = measured.min(table);
                Vote {
                    spec: Bytes::from(spec.abi_encode()),
                    calc_point: cp,
                    faulty: false,
                    salt,
                    finding: format!(
                        "attested {} × {}{}; measured {measured} points per GPU (table {table}), \
                         voted {cp}",
                        spec.gpuCount,
                        chain::short_string(spec.gpuModel),
                        if matches { ", as registered" } else { ", NOT as registered" }
                    ),
                }
            }
            (Kind::Verification, Err(why)) => Vote {
                spec: Bytes::from(MachineSpec::default().abi_encode()),
                calc_point: 0,
                faulty: true,
                salt,
                finding: format!("no valid attestation: {why}"),
            },
            (Kind::Report, Ok((spec, measured))) => {
                let slow = u64::from(measured) * 10_000
                    < u64::from(table)
                        * u64::from(10_000u32.saturating_sub(self.bench.tolerance_bps));
                Vote {
                    spec: Bytes::new(),
                    calc_point: 0,
                    faulty: spec != m.spec || slow,
                    salt,
                    finding: if spec != m.spec {
                        "answered with other hardware than registered".into()
                    } else if slow {
                        format!("measured {measured} points per GPU, below the table's {table}")
                    } else {
                        format!(
                            "answered with the machine key and the registered hardware; \
                             measured {measured} points per GPU"
                        )
                    },
                }
            }
            (Kind::Report, Err(why)) => Vote {
                spec: Bytes::new(),
                calc_point: 0,
                faulty: true,
                salt,
                finding: format!("no valid attestation: {why}"),
            },
        })
    }
}

/// Asks the machine's endpoint for an attestation over a fresh nonce and verifies it, then
/// runs the compute challenge: times it (less one round trip), recomputes rows it picks
/// afterwards, and converts the rate to calc points per GPU.
async fn check(
    endpoint: &str,
    machine: B256,
    key: Address,
    gpus: u32,
    auditor: &alloy_signer_local::PrivateKeySigner,
    bench: BenchSettings,
) -> CheckResult {
    if endpoint.is_empty() {
        return Err("the machine published no endpoint".into());
    }
    let client = Rpc::untrusted(endpoint).map_err(|e| e.to_string())?;
    let nonce = B256::from(rand08::random::<[u8; 32]>());
    let a: Attestation =
        client.call("agent_attest", json!([machine, nonce])).await.map_err(|e| e.to_string())?;
    let spec = attest::verify(&a, machine, nonce, key).map_err(|e| e.to_string())?;

    let round_trip = round_trip(endpoint).await?;
    let seed = B256::from(rand08::random::<[u8; 32]>());
    let n = bench.n;
    let deadline = chain::unix_now().saturating_add(bench::MAX_REQUEST_SECS);
    let request =
        bench::Request::sign(auditor, machine, seed, n, deadline).map_err(|e| e.to_string())?;
    let long = Rpc::untrusted(endpoint)
        .map_err(|e| e.to_string())?
        .with_limits(BENCH_TIMEOUT, 2 * 32 * n as usize + (64 << 10));
    // One benchmark runs at a time on a machine: while another auditor's runs, ask again
    // after a random pause (the wait must not count in the time measured).
    let mut busy = 0;
    let (answer, took) = loop {
        let started = Instant::now();
        match long.call::<bench::Answer>("agent_benchmark", json!([request.clone()])).await {
            Ok(a) => {
                // The network's share: one round trip, as the machine's kernel answers a TCP
                // handshake, but never more than half of the whole (a machine that could slow
                // its handshakes gains at most 2×).
                let total = started.elapsed();
                let took = total.saturating_sub(round_trip.min(total / 2));
                break (a, took.max(Duration::from_millis(1)));
            }
            Err(RpcError::Rpc { code, .. }) if code == bench::BUSY && busy < BUSY_TRIES => {
                busy += 1;
                let pause = 200 + rand08::random::<u64>() % 800;
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            Err(e) => return Err(format!("benchmark: {e}").into()),
        }
    };
    // Rows picked only now: the machine could not know which would be checked.
    let rows: Vec<u32> = (0..CHECKED_ROWS).map(|_| rand08::random::<u32>() % n).collect();
    tokio::task::spawn_blocking(move || bench::verify(&answer, machine, seed, n, key, &rows))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| match e {
            // Rows are checked only after the machine key's signature over all of them.
            bench::Invalid::WrongRow(_) => CheckError::proven(e),
            other => other.to_string().into(),
        })?;
    let per_gpu =
        bench::ops(n) / took.as_secs_f64() / 1e9 / bench.gops_per_point / f64::from(gpus.max(1));
    // Saturating: `as` maps out-of-range floats to the bounds (and NaN to 0).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let measured = per_gpu as u32;
    tracing::debug!(%machine, n, ms = took.as_millis(), measured, "benchmark checked");
    Ok((spec, measured))
}

/// The shortest of three TCP handshakes with the endpoint's host (answered by its kernel, not
/// by the agent, so the agent cannot lengthen it to shorten its measured compute time).
async fn round_trip(endpoint: &str) -> Result<Duration, String> {
    let uri: hyper::Uri = endpoint.parse().map_err(|e| format!("endpoint: {e}"))?;
    let host = uri.host().ok_or("the endpoint names no host")?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)),
        )
        .await
        .map_err(|_| "no TCP handshake within 5 s".to_owned())?
        .map_err(|e| format!("connecting: {e}"))?;
        best = best.min(started.elapsed());
    }
    Ok(best)
}

/// Whether a check that started at `started` and failed with `why` at `head` is tried again:
/// never when the machine signed a wrong answer, else only if another try can finish,
/// taking as many blocks as this one did, before the margin (a machine that never answers is
/// voted on in time).
fn retry(why: &CheckError, head: u64, started: u64, commit_deadline: u64) -> bool {
    let took = head.saturating_sub(started);
    !why.proven && head.saturating_add(took).saturating_add(DECIDE_MARGIN) < commit_deadline
}

/// A reveal that failed because this auditor's vote is already in.
fn already_revealed(e: &RpcError) -> bool {
    matches!(e.market_error(), Some(IGpuMarketErrors::CommitmentMismatch(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_wrong_row_is_final_and_other_failures_are_retried_while_time_allows() {
        let wrong = CheckError::proven(bench::Invalid::WrongRow(7));
        let silent = CheckError::from("agent_attest: no answer within 10s");
        // Plenty of time: only the failure the machine did not sign is retried.
        assert!(!retry(&wrong, 10, 9, 100));
        assert!(retry(&silent, 10, 9, 100));
        // Another try that would end inside the margin is not started.
        assert!(!retry(&silent, 80, 70, 100));
        assert!(retry(&silent, 80, 79, 100));
        // Malformed or foreign signatures prove nothing about the machine.
        for e in [bench::Invalid::Signature, bench::Invalid::Length(3)] {
            assert!(!CheckError::from(e.to_string()).proven);
        }
    }
}
