//! The provider role: reads the machine's hardware, registers it with its stake, publishes its
//! endpoint, answers auditors' attestation requests with the machine key, keeps the machine
//! online with signed heartbeats, starts renters' workloads on access and runs its one-click
//! mining workload while it is online and not rented.

use crate::{
    access::{AccessRequest, Sealed},
    attest, bench,
    chain::{self, MachineStatus, short_string, to_bytes32},
    hw,
    rpc::{Rpc, Wallet},
    workload::{self, Workloads},
};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use dbc_precompiles::{
    MARKET_ADDRESS,
    abi::IGpuMarket::{self, MachineSpec},
};
use eyre::{Context, bail};
use jsonrpsee::{
    RpcModule,
    server::{ServerConfig, ServerHandle},
    types::ErrorObjectOwned,
};
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

/// What the provider needs to run.
#[derive(Debug)]
pub(crate) struct Provider {
    /// The node.
    pub(crate) rpc: Arc<Rpc>,
    /// Chain id (renters sign access requests for it).
    pub(crate) chain_id: u64,
    /// The owner's wallet (stake, registration, gas for heartbeats).
    pub(crate) owner: Wallet,
    /// The machine key (never leaves the machine).
    pub(crate) machine_key: PrivateKeySigner,
    /// `--spec-file`, else the hardware is read.
    pub(crate) spec_file: Option<PathBuf>,
    /// Disk whose size is reported.
    pub(crate) disk_path: PathBuf,
    /// Region, e.g. "eu-west".
    pub(crate) region: String,
    /// The machine id; `None`: derived from the machine key.
    pub(crate) machine_id: Option<B256>,
    /// Where the attestation endpoint listens.
    pub(crate) listen: SocketAddr,
    /// The endpoint URL published on chain (default `http://<listen>`).
    pub(crate) endpoint: Option<String>,
    /// Blocks between heartbeats.
    pub(crate) heartbeat_every: u64,
    /// A command whose standard output's last line is the measured per-GPU calc point.
    pub(crate) benchmark_cmd: Option<String>,
    /// What one client may take of the endpoint.
    pub(crate) endpoint_limits: crate::endpoint::Limits,
    /// What renters' and mining workloads run, and how.
    pub(crate) workloads: workload::Settings,
    /// Where workloads live.
    pub(crate) data_dir: PathBuf,
    /// Project-mining programmes to enrol the machine in once it is online.
    pub(crate) projects: Vec<u64>,
}

/// The default machine id of a machine key: keccak256("DBC machine" ‖ key address).
pub(crate) fn default_machine_id(key: Address) -> B256 {
    keccak256([b"DBC machine".as_slice(), key.as_slice()].concat())
}

/// What the endpoint answers with.
#[derive(Debug)]
struct Answer {
    key: PrivateKeySigner,
    machine_id: B256,
    spec: MachineSpec,
    calc_point: u32,
    detected: hw::Detected,
    rpc: Arc<Rpc>,
    chain_id: u64,
    workloads: Arc<Workloads>,
    /// The GPU implementation of the compute challenge (`None`: the built-in CPU one).
    benchmark_cmd: Option<String>,
    /// One benchmark runs at a time.
    benchmarking: Arc<tokio::sync::Semaphore>,
    /// Seeds of benchmark requests answered, with their deadlines (a replay is refused).
    seeds: std::sync::Mutex<std::collections::HashMap<B256, u64>>,
}

/// How long a mining workload that failed to start waits before the next try.
const MINING_RETRY: Duration = Duration::from_secs(30);

/// Benchmark seeds remembered at most (each until its request's deadline).
const MAX_SEEDS: usize = 4_096;

/// Longest an access request may be valid for, in seconds.
const MAX_ACCESS_VALIDITY_SECS: u64 = 3_600;

impl Answer {
    /// Runs an auditor's compute challenge and signs the row digests with the machine key.
    async fn benchmark(&self, req: bench::Request) -> Result<bench::Answer, (i64, String)> {
        let auditor = self.benchmark_auditor(&req).await.map_err(|e| (-32000, e))?;
        let Ok(one) = self.benchmarking.clone().try_acquire_owned() else {
            return Err((bench::BUSY, "a benchmark is running; ask again later".to_owned()));
        };
        self.fresh_seed(&req).map_err(|e| (-32000, e))?;
        // The run holds the permit to its end even if the client leaves: the work cannot be
        // cancelled, so a client that disconnects cannot start a second one meanwhile.
        let (cmd, seed, n) = (self.benchmark_cmd.clone(), req.seed, req.n);
        let rows = tokio::spawn(async move {
            let _one = one;
            bench::run(cmd.as_deref(), seed, n).await
        })
        .await
        .map_err(|e| (-32000, e.to_string()))?
        .map_err(|e| (-32000, e))?;
        tracing::info!(%auditor, n = req.n, "benchmark answered");
        bench::sign(&self.key, self.machine_id, req.seed, req.n, &rows)
            .map_err(|e| (-32000, e.to_string()))
    }

    /// Records the request's seed; refuses one seen before (a replayed request) and a
    /// deadline that is past or too far ahead.
    fn fresh_seed(&self, req: &bench::Request) -> Result<(), String> {
        // 30 s of slack for the auditor's clock.
        chain::check_deadline(req.deadline, bench::MAX_REQUEST_SECS + 30)?;
        let now = chain::unix_now();
        let mut seeds = self.seeds.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seeds.retain(|_, deadline| *deadline >= now);
        if seeds.len() >= MAX_SEEDS {
            return Err("too many benchmark requests; ask again later".into());
        }
        if seeds.insert(req.seed, req.deadline).is_some() {
            return Err("this request was answered already".into());
        }
        Ok(())
    }

    /// The committee member who asks for a benchmark, if the request is valid.
    async fn benchmark_auditor(&self, req: &bench::Request) -> Result<Address, String> {
        if req.machine_id != self.machine_id {
            return Err(format!("this agent serves machine {}", self.machine_id));
        }
        if !(bench::MIN_N..=bench::MAX_N).contains(&req.n) {
            return Err(format!("the size must be {}..={}", bench::MIN_N, bench::MAX_N));
        }
        let auditor = req.signer().map_err(|e| e.to_string())?;
        let member = self
            .rpc
            .view(MARKET_ADDRESS, &IGpuMarket::isAuditorCall { account: auditor })
            .await
            .map_err(|e| e.to_string())?;
        if !member {
            return Err(format!("{auditor} is not a committee member"));
        }
        Ok(auditor)
    }

    /// Checks a renter's request against the chain and returns its workload's details sealed
    /// to the renter's key.
    async fn access(&self, req: AccessRequest) -> Result<Sealed, String> {
        if req.machine_id != self.machine_id {
            return Err(format!("this agent serves machine {}", self.machine_id));
        }
        chain::check_deadline(req.deadline, MAX_ACCESS_VALIDITY_SECS)?;
        let (signer, public) = req.signer(self.chain_id)?;
        let r = self
            .rpc
            .view(MARKET_ADDRESS, &IGpuMarket::getRentalCall { rentalId: req.rental_id })
            .await
            .map_err(|e| e.to_string())?;
        let head = self.rpc.block_number().await.map_err(|e| e.to_string())?;
        if r.machineId != self.machine_id {
            return Err("the rental is of another machine".into());
        }
        if signer != r.renter && signer != r.beneficiary {
            return Err(format!("{signer} is not the rental's renter"));
        }
        if r.status != IGpuMarket::RentalStatus::Active || r.end <= head {
            return Err("the rental is not active".into());
        }
        let id: u64 = r.id.try_into().map_err(|_| "rental id out of range".to_owned())?;
        let details =
            self.workloads.access(id, r.gpus, r.end, signer, &req.image, &req.ssh_key).await?;
        let plain = serde_json::to_vec(&details).map_err(|e| e.to_string())?;
        crate::access::seal(&public, &plain).map_err(|e| e.to_string())
    }
}

impl Provider {
    /// Runs until the machine leaves the market or an unrecoverable error.
    pub(crate) async fn run(self) -> eyre::Result<()> {
        let (detected, declared_cp, declared_region) = match &self.spec_file {
            Some(path) => {
                let s = hw::load_spec_file(path)
                    .wrap_err_with(|| format!("reading the spec file {}", path.display()))?;
                (hw::from_spec_file(&s), s.calc_point, Some(s.region))
            }
            None => {
                let report = hw::detect_gpus()?;
                let host = hw::detect_host(&self.disk_path)?;
                (hw::from_report(&report, &host)?, None, None)
            }
        };
        let region = if self.region.is_empty() {
            declared_region.unwrap_or_default()
        } else {
            self.region.clone()
        };
        let machine_key = self.machine_key.address();
        let spec = MachineSpec {
            gpuModel: to_bytes32(&detected.gpu_model)?,
            gpuCount: detected.gpu_count,
            gpuMemoryGb: detected.gpu_memory_gb,
            cpuCores: detected.cpu_cores,
            ramGb: detected.ram_gb,
            diskGb: detected.disk_gb,
            region: to_bytes32(&region)?,
            machineKey: machine_key,
        };
        let calc_point = self.calc_point(declared_cp, &spec).await?;
        let id = self.machine_id.unwrap_or_else(|| default_machine_id(machine_key));
        tracing::info!(
            machine = %id,
            model = %detected.gpu_model,
            gpus = detected.gpu_count,
            memory_gb = detected.gpu_memory_gb,
            calc_point,
            %machine_key,
            owner = %self.owner.address(),
            "provider starting"
        );

        let public_host = match &self.endpoint {
            Some(e) => e
                .parse::<hyper::Uri>()
                .ok()
                .and_then(|u| u.host().map(str::to_owned))
                .unwrap_or_else(|| self.listen.ip().to_string()),
            None => self.listen.ip().to_string(),
        };
        let workloads = Arc::new(
            Workloads::new(
                self.data_dir.join("workloads"),
                &self.workloads,
                id,
                spec.gpuCount,
                public_host,
                self.listen.ip(),
            )
            .await?,
        );
        let answer = Arc::new(Answer {
            key: self.machine_key.clone(),
            machine_id: id,
            spec: spec.clone(),
            calc_point,
            detected,
            rpc: self.rpc.clone(),
            chain_id: self.chain_id,
            workloads: workloads.clone(),
            benchmark_cmd: self.benchmark_cmd.clone(),
            benchmarking: Arc::new(tokio::sync::Semaphore::new(1)),
            seeds: std::sync::Mutex::default(),
        });
        let (addr, _server) = serve(self.listen, answer, self.endpoint_limits.clone()).await?;
        let endpoint = self.endpoint.clone().unwrap_or_else(|| format!("http://{addr}"));
        tracing::info!(%addr, %endpoint, "attestation endpoint listening");

        self.ensure_registered(id, &spec).await?;
        let published =
            self.rpc.view(MARKET_ADDRESS, &IGpuMarket::endpointOfCall { machineId: id }).await?;
        if published != endpoint {
            self.owner
                .send(
                    &self.rpc,
                    MARKET_ADDRESS,
                    U256::ZERO,
                    &IGpuMarket::setEndpointCall { machineId: id, endpoint: endpoint.clone() },
                )
                .await
                .wrap_err("publishing the endpoint")?;
            tracing::info!(%endpoint, "endpoint published");
        }
        self.keep_online(id, &workloads).await
    }

    /// The per-GPU score the machine claims: the spec file's, or the table value of its model
    /// (auditors measure it with the compute challenge).
    async fn calc_point(&self, declared: Option<u32>, spec: &MachineSpec) -> eyre::Result<u32> {
        if let Some(cp) = declared {
            return Ok(cp);
        }
        let row = self
            .rpc
            .view(MARKET_ADDRESS, &IGpuMarket::gpuModelCall { model: spec.gpuModel })
            .await
            .map_err(|e| match e.market_error() {
                Some(_) => eyre::eyre!(
                    "the market's GPU-model table has no {:?}",
                    short_string(spec.gpuModel)
                ),
                None => e.into(),
            })?;
        Ok(row.calcPoint)
    }

    /// Registers the machine with its stake unless it is registered already.
    async fn ensure_registered(&self, id: B256, spec: &MachineSpec) -> eyre::Result<()> {
        match chain::machine(&self.rpc, id).await? {
            Some(m) => {
                if m.owner != self.owner.address() {
                    bail!("machine {id} belongs to {}, not to this owner key", m.owner);
                }
                if m.spec != *spec {
                    tracing::warn!(
                        "the registered spec differs from this machine's: auditors will reject \
                         it; exit and register again"
                    );
                }
                Ok(())
            }
            None => {
                let register = IGpuMarket::registerCall { machineId: id, spec: spec.clone() };
                let stake =
                    chain::required_stake(&self.rpc, self.owner.address(), &register).await?;
                let balance = self.rpc.balance(self.owner.address()).await?;
                if balance < stake {
                    bail!(
                        "registering needs a stake of {} DBC; the owner {} holds {}",
                        chain::dbc(stake),
                        self.owner.address(),
                        chain::dbc(balance)
                    );
                }
                self.owner
                    .send(&self.rpc, MARKET_ADDRESS, stake, &register)
                    .await
                    .wrap_err("registering the machine")?;
                tracing::info!(machine = %id, stake = %chain::dbc(stake), "registered; auditors are drawn next");
                Ok(())
            }
        }
    }

    /// Sends heartbeats every `heartbeat_every` blocks while the machine is online (and one to
    /// bring it back when it went offline), logging every status change; stops the workloads of
    /// rentals that ended; runs the mining workload while the machine is online.
    async fn keep_online(&self, id: B256, workloads: &Workloads) -> eyre::Result<()> {
        let mut last_status = None;
        let mut last_beat = 0u64;
        let mut to_enrol: Vec<u64> = self.projects.clone();
        let mut mining_retry = tokio::time::Instant::now();
        loop {
            let tick = tokio::time::sleep(Duration::from_millis(500));
            let step = async {
                let head = self.rpc.block_number().await?;
                let Some(m) = chain::machine(&self.rpc, id).await? else {
                    return Ok(Some(format!("machine {id} is not registered")));
                };
                let status = MachineStatus::of(&m);
                if last_status != Some(status) {
                    tracing::info!(machine = %id, ?status, head, "machine status");
                    last_status = Some(status);
                }
                match status {
                    MachineStatus::Rejected | MachineStatus::Exited => {
                        workloads.mine(None).await?;
                        return Ok(Some(format!("machine {id} is {status:?}: nothing left to do")));
                    }
                    MachineStatus::Online | MachineStatus::Offline
                        if head >= last_beat + self.heartbeat_every
                            || (status == MachineStatus::Offline && head > last_beat) =>
                    {
                        self.heartbeat(id, head).await?;
                        last_beat = head;
                    }
                    _ => {}
                }
                if status == MachineStatus::Online && !to_enrol.is_empty() {
                    let project = to_enrol[0];
                    self.enrol(id, project).await?;
                    to_enrol.remove(0);
                }
                // Workloads of rentals that ended (or were ended by a slash) stop now.
                for rental in workloads.rentals().await {
                    let r = self
                        .rpc
                        .view(
                            MARKET_ADDRESS,
                            &IGpuMarket::getRentalCall { rentalId: U256::from(rental) },
                        )
                        .await?;
                    if r.status != IGpuMarket::RentalStatus::Active || r.end <= head {
                        workloads.stop(rental).await?;
                    }
                }
                // One-click mining while online (a renter's workload pre-empts it), retried
                // every 30 s while it fails to start (e.g. its image is being pulled).
                let project = match status {
                    MachineStatus::Online => self.mining_project(id, workloads).await?,
                    _ => None,
                };
                if (project.is_none() || tokio::time::Instant::now() >= mining_retry)
                    && let Err(e) = workloads.mine(project).await
                {
                    tracing::warn!(machine = %id, ?project, "mining: {e:#}; retrying in 30 s");
                    mining_retry = tokio::time::Instant::now() + MINING_RETRY;
                }
                Ok::<_, eyre::Report>(None)
            };
            match step.await {
                Ok(None) => {}
                Ok(Some(stop)) => bail!(stop),
                Err(e) => tracing::warn!("{e:#}; retrying"),
            }
            tick.await;
        }
    }

    /// The project whose mining workload runs: the first configured one the machine is
    /// enrolled in (`projectsOf`), if any.
    async fn mining_project(&self, id: B256, workloads: &Workloads) -> eyre::Result<Option<u64>> {
        use dbc_precompiles::abi::IProjectMining;
        let configured = workloads.mining_projects();
        if configured.is_empty() {
            return Ok(None);
        }
        let enrolled = self
            .rpc
            .view(
                dbc_precompiles::MINING_ADDRESS,
                &IProjectMining::projectsOfCall { machineId: id },
            )
            .await?;
        Ok(configured.into_iter().find(|p| enrolled.contains(&U256::from(*p))))
    }

    /// Enrols the machine in project `project`; done (with a log line) if it is enrolled already
    /// or not eligible, an error (retried) otherwise.
    async fn enrol(&self, id: B256, project: u64) -> eyre::Result<()> {
        use dbc_precompiles::abi::IProjectMining::{self, IProjectMiningErrors as E};
        let call = IProjectMining::enrollCall { projectId: U256::from(project), machineId: id };
        match self.owner.send(&self.rpc, dbc_precompiles::MINING_ADDRESS, U256::ZERO, &call).await {
            Ok(_) => tracing::info!(machine = %id, project, "enrolled in the project"),
            Err(e) => match e.mining_error() {
                Some(E::AlreadyEnrolled(_)) => {
                    tracing::info!(machine = %id, project, "already enrolled in the project")
                }
                Some(E::MachineNotEligible(n)) => {
                    tracing::warn!(machine = %id, project, reason = %n.reason, "not eligible for the project")
                }
                Some(E::UnknownProject(_) | E::TooManyProjects(_)) => {
                    tracing::warn!(machine = %id, project, "cannot enrol: {e}")
                }
                _ => return Err(e.into()),
            },
        }
        Ok(())
    }

    /// Signs and sends a heartbeat over the block before `head` (whose hash a call at `head`
    /// can read: a block's own hash is not available inside it).
    async fn heartbeat(&self, id: B256, head: u64) -> eyre::Result<()> {
        let head = head.saturating_sub(1);
        let digest = self
            .rpc
            .view(
                MARKET_ADDRESS,
                &IGpuMarket::heartbeatDigestCall { machineId: id, blockNumber: head },
            )
            .await?;
        let sig = self.machine_key.sign_hash_sync(&digest)?;
        let call = IGpuMarket::heartbeatCall {
            machineId: id,
            blockNumber: head,
            signature: Bytes::from(sig.as_bytes().to_vec()),
        };
        self.owner.send(&self.rpc, MARKET_ADDRESS, U256::ZERO, &call).await?;
        tracing::debug!(machine = %id, block = head, "heartbeat");
        Ok(())
    }
}

/// Serves `agent_attest` (and `agent_machine`) on `listen`.
async fn serve(
    listen: SocketAddr,
    answer: Arc<Answer>,
    limits: crate::endpoint::Limits,
) -> eyre::Result<(SocketAddr, ServerHandle)> {
    let config = ServerConfig::builder()
        .max_connections(64)
        .max_request_body_size(16 * 1024)
        // A benchmark answer holds 32 bytes (64 hex digits) per row.
        .max_response_body_size(2 * 32 * bench::MAX_N + 64 * 1024)
        // One request per call: a batch would buy many calls with one rate-limit token.
        .set_batch_request_config(jsonrpsee::server::BatchRequestConfig::Disabled)
        .build();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .wrap_err_with(|| format!("binding the endpoint to {listen}"))?;
    let addr = listener.local_addr()?;
    let mut module = RpcModule::from_arc(answer);
    module.register_method("agent_attest", |params, a, _| {
        let (machine_id, nonce): (B256, B256) = params.parse()?;
        if machine_id != a.machine_id {
            return Err(ErrorObjectOwned::owned(
                -32602,
                format!("this agent serves machine {}, not {machine_id}", a.machine_id),
                None::<()>,
            ));
        }
        let mut out = attest::sign(&a.key, a.machine_id, nonce, &a.spec, a.calc_point)
            .map_err(|e| ErrorObjectOwned::owned(-32603, e.to_string(), None::<()>))?;
        out.driver = a.detected.driver.clone();
        out.cuda = a.detected.cuda.clone();
        out.gpu_uuids = a.detected.gpus.iter().map(|g| g.uuid.clone()).collect();
        Ok::<_, ErrorObjectOwned>(out)
    })?;
    module.register_async_method("agent_access", |params, a, _| async move {
        let req: AccessRequest = params.one()?;
        a.access(req).await.map_err(|e| ErrorObjectOwned::owned(-32000, e, None::<()>))
    })?;
    module.register_async_method("agent_benchmark", |params, a, _| async move {
        let req: bench::Request = params.one()?;
        a.benchmark(req).await.map_err(|(code, e)| {
            ErrorObjectOwned::owned(i32::try_from(code).unwrap_or(-32000), e, None::<()>)
        })
    })?;
    module.register_method(
        "agent_machine",
        |_, a, _| serde_json::json!({"machineId": a.machine_id, "machineKey": a.key.address()}),
    )?;
    let (stop, handle) = jsonrpsee::server::stop_channel();
    tokio::spawn(crate::endpoint::serve(listener, config, module.into(), stop, limits));
    Ok((addr, handle))
}
