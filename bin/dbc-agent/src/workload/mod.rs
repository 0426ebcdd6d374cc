//! Workloads on a provider's machine: a renter's, started on its first access with exactly the
//! rented GPUs and stopped and wiped when the rental is no longer active, and the one-click
//! mining workload of a project, run on all GPUs while the machine is online and not rented.
//!
//! Two backends run them ([`Backend`]): processes of the provider's commands (`workload-cmd`,
//! `mine-cmd`; [`process`]) or containers of a docker-compatible runtime (`workload-image` or
//! the renter's choice among `allowed-images`, `mine`; [`container`]). This module keeps the
//! bookkeeping both share: GPU assignment, the records on disk (what a restarted agent stops),
//! pre-emption of mining by rentals.

pub(crate) mod container;
mod process;

use crate::{access::check_ssh_key, state::Persisted};
use alloy_primitives::{Address, B256};
use container::{Containers, Runtime, RuntimeChoice};
use eyre::bail;
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    fmt,
    net::{IpAddr, TcpListener},
    path::PathBuf,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};
use tokio::sync::Mutex;

/// What the renter receives (sealed to its key).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Details {
    /// The rental.
    pub(crate) rental_id: u64,
    /// Where the workload listens.
    pub(crate) url: String,
    /// The secret the workload expects (e.g. as a bearer token).
    pub(crate) token: String,
    /// GPU indices on the machine given to the workload.
    pub(crate) gpus: Vec<u32>,
    /// Last block of the rental.
    pub(crate) end_block: u64,
    /// How to reach the container over SSH, if the renter gave a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ssh: Option<Ssh>,
}

/// SSH access to a rental's container (as `root`, with the renter's key).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Ssh {
    /// Host.
    pub(crate) host: String,
    /// Port.
    pub(crate) port: u16,
    /// User.
    pub(crate) user: String,
    /// The command that connects.
    pub(crate) command: String,
}

/// A one-click mining setting, `PROJECT=IMAGE` (`mine`) or `PROJECT=CMD` (`mine-cmd`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct Mine {
    /// The project-mining programme.
    pub(crate) project: u64,
    /// Its workload: an image or a shell command.
    pub(crate) program: String,
}

impl FromStr for Mine {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not PROJECT=IMAGE (or PROJECT=CMD)");
        let (project, program) = s.split_once('=').ok_or_else(bad)?;
        let project = project.trim().parse().map_err(|_| bad())?;
        let program = program.trim();
        if program.is_empty() {
            return Err(bad());
        }
        Ok(Self { project, program: program.to_owned() })
    }
}

impl TryFrom<String> for Mine {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// The provider's workload settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settings {
    /// Which container runtime, if any.
    pub(crate) runtime: RuntimeChoice,
    /// What a renter's workload runs (process backend).
    pub(crate) workload_cmd: Option<String>,
    /// The image a renter's workload runs unless it names another (container backend).
    pub(crate) workload_image: Option<String>,
    /// Images a renter may name (default: only `workload_image`; a trailing `*`: a prefix).
    pub(crate) allowed_images: Vec<String>,
    /// One-click mining images, in order of preference.
    pub(crate) mine: Vec<Mine>,
    /// One-click mining commands (process backend), in order of preference.
    pub(crate) mine_cmd: Vec<Mine>,
}

/// Where workloads run.
#[derive(Debug)]
enum Backend {
    /// `sh -c CMD` in a process group.
    Process,
    /// Containers.
    Container(Containers),
}

/// A workload's place on the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    /// A rental's workload.
    Rental(u64),
    /// A project's mining workload.
    Mining(u64),
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rental(id) => write!(f, "rental-{id}"),
            Self::Mining(project) => write!(f, "mining-{project}"),
        }
    }
}

/// What runs a workload (what stopping it needs).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Handle {
    /// The leader of its process group.
    Process {
        /// Its pid.
        pid: u32,
    },
    /// A container.
    Container {
        /// The runtime that runs it.
        runtime: Runtime,
        /// Its name.
        name: String,
    },
}

/// A rental's workload as the renter asked for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rental {
    details: Details,
    renter: Address,
    /// The image (or command) it runs.
    program: String,
    /// The renter's SSH key ("" for none).
    ssh_key: String,
}

/// A running workload, as recorded on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    handle: Handle,
    dir: PathBuf,
    gpus: Vec<u32>,
    /// `None` for mining.
    rental: Option<Rental>,
}

/// A workload record of an agent before containers (`{"<rental>": {"pid", "dir", …}}`).
#[derive(Debug, Deserialize)]
struct LegacyRecord {
    pid: u32,
    dir: PathBuf,
}

/// Stops the process-group workloads a `workloads.json` of an older agent lists (the file
/// did not load as this version's: `why`).
fn stop_legacy(state: &Persisted, why: &eyre::Report) {
    match state.load::<BTreeMap<String, LegacyRecord>>() {
        Ok(old) => {
            for (rental, r) in old {
                tracing::info!(%rental, "stopping a workload an older agent left");
                process::stop(r.pid);
                let _ = std::fs::remove_dir_all(&r.dir);
            }
        }
        Err(_) => tracing::warn!("ignoring an unreadable workloads file: {why:#}"),
    }
}

/// What to start in a slot.
#[derive(Debug)]
struct Launch<'a> {
    slot: Slot,
    /// A shell command (process backend) or an image (container backend).
    program: &'a str,
    /// GPU indices on the machine.
    gpus: &'a [u32],
    /// The port the workload listens on (published as itself by a container).
    port: u16,
    /// The renter's SSH key and the host port of the container's port 22.
    ssh: Option<(&'a str, u16)>,
    /// Its environment, besides the GPUs'.
    env: Vec<(&'static str, String)>,
}

/// The workloads of one machine.
#[derive(Debug)]
pub(crate) struct Workloads {
    root: PathBuf,
    backend: Backend,
    machine: B256,
    gpu_count: u32,
    public_host: String,
    bind: IpAddr,
    /// A rental's program when the renter names none: `workload-cmd` or `workload-image`.
    default_program: Option<String>,
    allowed_images: Vec<String>,
    /// Mining programmes in order of preference.
    mining: Vec<Mine>,
    state: Persisted,
    running: Mutex<BTreeMap<Slot, Record>>,
    /// Whether a mining image is being pulled.
    pulling: Arc<AtomicBool>,
}

impl Workloads {
    /// The workloads of machine `machine` (of `gpu_count` GPUs, reachable at `public_host`,
    /// publishing containers' ports on `bind`) under `root`, as `settings` say. Workloads a
    /// previous run left behind are stopped and wiped.
    pub(crate) async fn new(
        root: PathBuf,
        settings: &Settings,
        machine: B256,
        gpu_count: u32,
        public_host: String,
        bind: IpAddr,
    ) -> eyre::Result<Self> {
        let s = settings;
        let wants_containers =
            s.workload_image.is_some() || !s.allowed_images.is_empty() || !s.mine.is_empty();
        let runtime = match (s.runtime, wants_containers) {
            (RuntimeChoice::None, true) => {
                bail!("workload-image, allowed-images and mine need a container runtime")
            }
            (RuntimeChoice::None | RuntimeChoice::Auto, false) => None,
            (choice, _) => Some(Runtime::detect(choice).await?),
        };
        let (backend, default_program, mining) = match runtime {
            None => (Backend::Process, s.workload_cmd.clone(), s.mine_cmd.clone()),
            Some(runtime) => {
                if s.workload_cmd.is_some() || !s.mine_cmd.is_empty() {
                    bail!(
                        "workload-cmd and mine-cmd run processes; with a container runtime \
                         ({runtime:?}) use workload-image and mine"
                    );
                }
                let containers = Containers::new(runtime, machine, bind, gpu_count);
                (Backend::Container(containers), s.workload_image.clone(), s.mine.clone())
            }
        };
        let allowed_images = if s.allowed_images.is_empty() {
            s.workload_image.iter().cloned().collect()
        } else {
            s.allowed_images.clone()
        };
        let state = Persisted::new(root.join("workloads.json"));
        let stale: BTreeMap<String, Record> = match state.load() {
            Ok(stale) => stale,
            Err(e) => {
                stop_legacy(&state, &e);
                BTreeMap::new()
            }
        };
        for (slot, r) in &stale {
            tracing::info!(%slot, "stopping a workload left by a previous run");
            stop(r).await;
        }
        if let Backend::Container(c) = &backend {
            c.remove_stale().await;
        }
        state.store(&BTreeMap::<String, Record>::new())?;
        tracing::info!(?backend, ?default_program, ?allowed_images, ?mining, "workloads");
        let workloads = Self {
            root,
            backend,
            machine,
            gpu_count,
            public_host,
            bind,
            default_program,
            allowed_images,
            mining,
            state,
            running: Mutex::new(BTreeMap::new()),
            pulling: Arc::default(),
        };
        // The default image is pulled ahead of the first renter.
        if let (Backend::Container(c), Some(image)) =
            (&workloads.backend, &workloads.default_program)
        {
            workloads.pull_in_background(c.runtime, image);
        }
        Ok(workloads)
    }

    /// Pulls `image` in a task of its own unless a pull is running already (one at a time).
    fn pull_in_background(&self, runtime: Runtime, image: &str) {
        if self.pulling.swap(true, Ordering::SeqCst) {
            return;
        }
        let (image, pulling) = (image.to_owned(), self.pulling.clone());
        tokio::spawn(async move {
            if let Err(e) = runtime.ensure_image(&image).await {
                tracing::warn!(image, "pulling: {e}");
            }
            pulling.store(false, Ordering::SeqCst);
        });
    }

    /// The workload of rental `rental_id` (of `gpus` GPUs, ending at `end_block`) for `renter`,
    /// running `image` (empty: the default) reachable over SSH with `ssh_key` (empty: none),
    /// started if it is not running; a mining workload makes way for it. A running workload is
    /// returned as it is; naming another image or key for it is refused.
    pub(crate) async fn access(
        &self,
        rental_id: u64,
        gpus: u32,
        end_block: u64,
        renter: Address,
        image: &str,
        ssh_key: &str,
    ) -> Result<Details, String> {
        let slot = Slot::Rental(rental_id);
        if !ssh_key.is_empty() {
            check_ssh_key(ssh_key)?;
        }
        let program = self.program(image, ssh_key)?;
        let existing = |running: &BTreeMap<Slot, Record>| -> Option<Result<Details, String>> {
            let r = running.get(&slot)?.rental.as_ref()?;
            let same_image = image.is_empty() || r.program == program;
            Some(if !same_image || !(ssh_key.is_empty() || r.ssh_key == ssh_key) {
                Err(format!(
                    "rental {rental_id}'s workload runs already, with another image or SSH key"
                ))
            } else {
                Ok(r.details.clone())
            })
        };
        // A running workload is answered before any pull: a rental cannot make the provider
        // pull image after image.
        if let Some(answer) = existing(&*self.running.lock().await) {
            return answer;
        }
        // Never pull in a request (the renter's client gives up long before a large image
        // arrives, and a pull must not hold the lock): in the background, one at a time.
        if let Backend::Container(c) = &self.backend
            && !c.runtime.has_image(&program).await
        {
            self.pull_in_background(c.runtime, &program);
            return Err(format!(
                "{program} is being pulled for this rental; ask again in a minute"
            ));
        }
        let mut running = self.running.lock().await;
        if let Some(answer) = existing(&running) {
            return answer;
        }
        let used: Vec<u32> = running
            .iter()
            .filter(|(s, _)| matches!(s, Slot::Rental(_)))
            .flat_map(|(_, r)| r.gpus.clone())
            .collect();
        let free: Vec<u32> = (0..self.gpu_count).filter(|g| !used.contains(g)).collect();
        if free.len() < gpus as usize {
            return Err(format!("only {} GPUs free for {gpus} rented", free.len()));
        }
        let mining: Vec<Slot> =
            running.keys().copied().filter(|s| matches!(s, Slot::Mining(_))).collect();
        for m in mining {
            tracing::info!(rental = rental_id, %m, "mining makes way for a rental");
            self.stop_slot(&mut running, m).await.map_err(|e| e.to_string())?;
        }
        let assigned = &free[..gpus as usize];
        let token = alloy_primitives::hex::encode(rand08::random::<[u8; 24]>());
        let ssh = match (&self.backend, ssh_key) {
            (Backend::Container(_), key) if !key.is_empty() => {
                Some((key, free_port(self.bind).map_err(|e| format!("no free port: {e}"))?))
            }
            _ => None,
        };
        let launch = Launch {
            slot,
            program: &program,
            gpus: assigned,
            port: free_port(self.bind).map_err(|e| format!("no free port: {e}"))?,
            ssh,
            env: vec![
                ("DBC_ACCESS_TOKEN", token.clone()),
                ("DBC_RENTAL_ID", rental_id.to_string()),
                ("DBC_RENTER", renter.to_string()),
            ],
        };
        let host = &self.public_host;
        let details = Details {
            rental_id,
            url: format!("http://{host}:{}", launch.port),
            token,
            gpus: assigned.to_vec(),
            end_block,
            ssh: ssh.map(|(_, port)| Ssh {
                host: host.clone(),
                port,
                user: "root".into(),
                command: format!("ssh -p {port} root@{host}"),
            }),
        };
        let ssh_key = ssh_key.to_owned();
        let rental = Rental { details: details.clone(), renter, program: program.clone(), ssh_key };
        self.start(&mut running, &launch, Some(rental)).await?;
        Ok(details)
    }

    /// A rental's program: `image` if the renter named one (and may), else the default.
    fn program(&self, image: &str, ssh_key: &str) -> Result<String, String> {
        if let Backend::Process = self.backend {
            if !image.is_empty() || !ssh_key.is_empty() {
                return Err("this provider runs processes: no image choice, no SSH".into());
            }
        } else if !image.is_empty() {
            container::check_image(image)?;
            if !container::allowed(image, &self.allowed_images) {
                return Err(format!(
                    "image {image:?} is not allowed here (allowed: {})",
                    self.allowed_images.join(", ")
                ));
            }
            return Ok(image.to_owned());
        }
        self.default_program.clone().ok_or_else(|| match self.backend {
            Backend::Process => "this provider runs no workloads (no workload-cmd)".to_owned(),
            Backend::Container(_) if self.allowed_images.is_empty() => {
                "this provider runs no workloads (no workload-image)".to_owned()
            }
            Backend::Container(_) => {
                format!("name an image (allowed: {})", self.allowed_images.join(", "))
            }
        })
    }

    /// The mining projects configured, in order of preference.
    pub(crate) fn mining_projects(&self) -> Vec<u64> {
        self.mining.iter().map(|m| m.project).collect()
    }

    /// Runs project `project`'s mining workload on all GPUs (replacing another project's) if
    /// no rental's workload runs; `None`: stops mining.
    pub(crate) async fn mine(&self, project: Option<u64>) -> eyre::Result<()> {
        let mut running = self.running.lock().await;
        let rented = running.keys().any(|s| matches!(s, Slot::Rental(_)));
        let want = project.filter(|_| !rented).map(Slot::Mining);
        let current = running.keys().copied().find(|s| matches!(s, Slot::Mining(_)));
        if current == want {
            return Ok(());
        }
        if let Some(slot) = current {
            self.stop_slot(&mut running, slot).await?;
        }
        let Some(slot) = want else { return Ok(()) };
        let Some(mine) = self.mining.iter().find(|m| Slot::Mining(m.project) == slot) else {
            bail!("{slot} is not configured");
        };
        // Never pull under the lock (renters wait on it): in the background, and a later try
        // finds the image.
        if let Backend::Container(c) = &self.backend
            && !c.runtime.has_image(&mine.program).await
        {
            self.pull_in_background(c.runtime, &mine.program);
            bail!("{} is being pulled for {slot}", mine.program);
        }
        let gpus: Vec<u32> = (0..self.gpu_count).collect();
        let launch = Launch {
            slot,
            program: &mine.program,
            gpus: &gpus,
            port: free_port(self.bind)?,
            ssh: None,
            env: vec![
                ("DBC_PROJECT_ID", mine.project.to_string()),
                ("DBC_MACHINE_ID", self.machine.to_string()),
            ],
        };
        self.start(&mut running, &launch, None).await.map_err(|e| eyre::eyre!(e))
    }

    /// Starts `launch` in its own directory and records it.
    async fn start(
        &self,
        running: &mut BTreeMap<Slot, Record>,
        launch: &Launch<'_>,
        rental: Option<Rental>,
    ) -> Result<(), String> {
        let dir = self.root.join(launch.slot.to_string());
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let started = match &self.backend {
            Backend::Process => process::start(&dir, launch).map(|pid| Handle::Process { pid }),
            Backend::Container(c) => {
                c.run(&dir, launch).await.map(|name| Handle::Container { runtime: c.runtime, name })
            }
        };
        let handle = match started {
            Ok(h) => h,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let record = Record { handle, dir, gpus: launch.gpus.to_vec(), rental };
        running.insert(launch.slot, record);
        self.store(running).map_err(|e| e.to_string())?;
        let (slot, port) = (launch.slot, launch.port);
        tracing::info!(%slot, port, gpus = ?launch.gpus, "workload started");
        Ok(())
    }

    /// Rentals with a running workload.
    pub(crate) async fn rentals(&self) -> Vec<u64> {
        let running = self.running.lock().await;
        running
            .keys()
            .filter_map(|s| match s {
                Slot::Rental(id) => Some(*id),
                Slot::Mining(_) => None,
            })
            .collect()
    }

    /// Stops and wipes rental `rental_id`'s workload.
    pub(crate) async fn stop(&self, rental_id: u64) -> eyre::Result<()> {
        let mut running = self.running.lock().await;
        self.stop_slot(&mut running, Slot::Rental(rental_id)).await
    }

    /// Stops and wipes the workload in `slot`, if any.
    async fn stop_slot(
        &self,
        running: &mut BTreeMap<Slot, Record>,
        slot: Slot,
    ) -> eyre::Result<()> {
        if let Some(r) = running.remove(&slot) {
            stop(&r).await;
            tracing::info!(%slot, "workload stopped and wiped");
            self.store(running)?;
        }
        Ok(())
    }

    fn store(&self, running: &BTreeMap<Slot, Record>) -> eyre::Result<()> {
        let by_name: BTreeMap<String, &Record> =
            running.iter().map(|(s, r)| (s.to_string(), r)).collect();
        self.state.store(&by_name)
    }
}

/// Stops a workload and removes its directory.
async fn stop(r: &Record) {
    match &r.handle {
        Handle::Process { pid } => process::stop(*pid),
        Handle::Container { runtime, name } => runtime.remove(name).await,
    }
    let _ = std::fs::remove_dir_all(&r.dir);
}

/// A port free on `bind` now.
fn free_port(bind: IpAddr) -> std::io::Result<u16> {
    Ok(TcpListener::bind((bind, 0))?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::{
        os::unix::process::CommandExt,
        path::Path,
        time::{Duration, Instant},
    };

    /// Process-backend workloads under `dir` on a machine of 4 GPUs.
    async fn processes(dir: &Path, cmd: &str, mine: &str) -> Workloads {
        let settings = Settings {
            workload_cmd: Some(cmd.into()),
            mine_cmd: vec![format!("7={mine}").parse().unwrap()],
            ..Settings::default()
        };
        let localhost = IpAddr::from([127, 0, 0, 1]);
        Workloads::new(
            dir.into(),
            &settings,
            B256::repeat_byte(9),
            4,
            "127.0.0.1".into(),
            localhost,
        )
        .await
        .unwrap()
    }

    /// Waits for `path` to exist and returns its contents.
    fn read_when_written(path: &Path) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(s) = std::fs::read_to_string(path)
                && s.ends_with('\n')
            {
                return s;
            }
            assert!(Instant::now() < deadline, "{} not written", path.display());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    async fn pid_of(w: &Workloads, slot: Slot) -> nix::unistd::Pid {
        match w.running.lock().await.get(&slot).unwrap().handle {
            Handle::Process { pid } => nix::unistd::Pid::from_raw(pid.try_into().unwrap()),
            Handle::Container { .. } => unreachable!(),
        }
    }

    #[tokio::test]
    async fn workloads_an_older_agent_left_are_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let old_dir = dir.path().join("rental-7");
        std::fs::create_dir_all(&old_dir).unwrap();
        // Reaped by the agent under test (`process::stop` waits for it), as an old run's would.
        #[allow(clippy::zombie_processes)]
        let child =
            std::process::Command::new("sleep").arg("600").process_group(0).spawn().unwrap();
        let pid = nix::unistd::Pid::from_raw(child.id().try_into().unwrap());
        let old = serde_json::json!({"7": {"pid": child.id(), "dir": old_dir,
            "details": {"rentalId": 7}, "renter": Address::ZERO}});
        std::fs::write(dir.path().join("workloads.json"), old.to_string()).unwrap();
        let _w = processes(dir.path(), "exec sleep 600", "exec sleep 600").await;
        assert!(nix::sys::signal::kill(pid, None).is_err(), "the old workload is gone");
        assert!(!old_dir.exists());
    }

    #[tokio::test]
    async fn a_workload_gets_its_gpus_and_is_stopped_and_wiped() {
        let dir = tempfile::tempdir().unwrap();
        let cmd = "echo \"$CUDA_VISIBLE_DEVICES $PORT $DBC_RENTAL_ID\" > env.txt; exec sleep 600";
        let w = processes(dir.path(), cmd, "exec sleep 600").await;
        let renter = Address::ZERO;
        let a = w.access(1, 3, 100, renter, "", "").await.unwrap();
        assert_eq!(a.gpus, vec![0, 1, 2]);
        assert_eq!(a.ssh, None);
        // The same rental gets the same workload; another gets the GPU left, a third none.
        assert_eq!(w.access(1, 3, 100, renter, "", "").await.unwrap(), a);
        assert_eq!(w.access(2, 1, 100, renter, "", "").await.unwrap().gpus, vec![3]);
        assert!(w.access(3, 1, 100, renter, "", "").await.is_err());
        // Processes run the provider's command: no image, no SSH.
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIMx/w6OxJLp02i6Eko5R2OMejYiS6032kkvC95mL/99";
        assert!(w.access(4, 0, 100, renter, "localhost/x:1", "").await.is_err());
        assert!(w.access(4, 0, 100, renter, "", key).await.is_err());
        let port = a.url.rsplit(':').next().unwrap().to_owned();
        let env = read_when_written(&dir.path().join("rental-1/env.txt"));
        assert_eq!(env.trim(), format!("0,1,2 {port} 1"));
        let pid = pid_of(&w, Slot::Rental(1)).await;
        w.stop(1).await.unwrap();
        assert!(!dir.path().join("rental-1").exists());
        assert!(nix::sys::signal::kill(pid, None).is_err(), "the process is gone");
        // A new run stops what the old one left.
        let left = pid_of(&w, Slot::Rental(2)).await;
        drop(w);
        let _again = processes(dir.path(), cmd, "exec sleep 600").await;
        assert!(nix::sys::signal::kill(left, None).is_err());
        assert!(!dir.path().join("rental-2").exists());
    }

    #[tokio::test]
    async fn mining_runs_while_idle_and_makes_way_for_rentals() {
        let dir = tempfile::tempdir().unwrap();
        let mine = "echo \"$DBC_PROJECT_ID $DBC_MACHINE_ID $CUDA_VISIBLE_DEVICES $PORT\" > env.txt; \
                    exec sleep 600";
        let w = processes(dir.path(), "exec sleep 600", mine).await;
        assert_eq!(w.mining_projects(), vec![7]);
        assert!(w.mine(Some(8)).await.is_err(), "not a configured project");
        w.mine(Some(7)).await.unwrap();
        let env = read_when_written(&dir.path().join("mining-7/env.txt"));
        let fields: Vec<&str> = env.split_whitespace().collect();
        let machine = B256::repeat_byte(9).to_string();
        assert_eq!(fields[..3], ["7", machine.as_str(), "0,1,2,3"]);
        let miner = pid_of(&w, Slot::Mining(7)).await;
        w.mine(Some(7)).await.unwrap();
        assert_eq!(pid_of(&w, Slot::Mining(7)).await, miner, "still the same workload");
        // A rental pre-empts it (all GPUs free for the renter) and it stays off meanwhile.
        assert_eq!(w.access(1, 4, 100, Address::ZERO, "", "").await.unwrap().gpus, [0, 1, 2, 3]);
        assert!(nix::sys::signal::kill(miner, None).is_err(), "mining stopped");
        assert!(!dir.path().join("mining-7").exists());
        w.mine(Some(7)).await.unwrap();
        assert_eq!(w.running.lock().await.len(), 1);
        // Once the rental ends it resumes; offline it stops.
        w.stop(1).await.unwrap();
        w.mine(Some(7)).await.unwrap();
        let again = pid_of(&w, Slot::Mining(7)).await;
        assert_ne!(again, miner);
        assert!(w.rentals().await.is_empty());
        w.mine(None).await.unwrap();
        assert!(nix::sys::signal::kill(again, None).is_err());
        assert!(w.running.lock().await.is_empty());
    }

    #[test]
    fn mining_settings_parse() {
        let m: Mine = "3=localhost/miner:1".parse().unwrap();
        assert_eq!(m, Mine { project: 3, program: "localhost/miner:1".into() });
        let m: Mine = "4=exec a=b".parse().unwrap();
        assert_eq!(m.program, "exec a=b");
        for bad in ["", "3", "3=", "x=img", "-1=img"] {
            assert!(bad.parse::<Mine>().is_err(), "{bad}");
        }
    }
}
