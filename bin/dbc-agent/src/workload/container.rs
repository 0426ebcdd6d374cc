//! The container backend: a workload is a detached container of podman or docker (their CLIs
//! take the same flags here), named and labelled after the machine and its slot, its port (and
//! SSH's) published on the provider's address, its environment in a file (mode 600) rather than
//! on a command line, at most 4096 processes and the GPUs' share of the host's RAM; NVIDIA GPUs
//! are passed through only where the host has them. Images are pulled before, never by `run`.

use super::{Launch, Slot};
use alloy_primitives::B256;
use eyre::bail;
use serde::{Deserialize, Serialize};
use std::{
    io::Write,
    net::IpAddr,
    os::unix::fs::OpenOptionsExt,
    path::Path,
    process::{Output, Stdio},
    time::Duration,
};

/// The `container-runtime` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RuntimeChoice {
    /// Podman, else docker, whichever works, when an image is configured; else processes.
    #[default]
    Auto,
    /// Podman.
    Podman,
    /// Docker.
    Docker,
    /// No containers: the process backend.
    None,
}

/// A container runtime's CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Runtime {
    /// `podman`.
    Podman,
    /// `docker`.
    Docker,
}

/// What podman runs with in tests (`runc`, the ulimits a container may set here).
#[cfg(test)]
const TEST_CONTAINERS_CONF: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/containers.conf");

/// Processes a container may run.
const PIDS_LIMIT: &str = "4096";

/// Longest an image reference may be.
const MAX_IMAGE_LEN: usize = 255;

impl Runtime {
    /// The runtime `choice` names (`auto`: the first of podman, docker that works).
    pub(crate) async fn detect(choice: RuntimeChoice) -> eyre::Result<Self> {
        let candidates: &[Self] = match choice {
            RuntimeChoice::Auto => &[Self::Podman, Self::Docker],
            RuntimeChoice::Podman => &[Self::Podman],
            RuntimeChoice::Docker => &[Self::Docker],
            RuntimeChoice::None => bail!("container-runtime is none"),
        };
        for rt in candidates {
            let info = tokio::time::timeout(Duration::from_secs(30), rt.output(&["info"])).await;
            if matches!(info, Ok(Ok(_))) {
                return Ok(*rt);
            }
        }
        let tried: Vec<String> =
            candidates.iter().map(|rt| format!("`{} info`", rt.program())).collect();
        bail!("no container runtime works here ({} failed)", tried.join(", "))
    }

    fn program(self) -> &'static str {
        match self {
            Self::Podman => "podman",
            Self::Docker => "docker",
        }
    }

    /// Runs the CLI with `args`; its output if it succeeds, else what it said.
    async fn output<S: AsRef<std::ffi::OsStr>>(self, args: &[S]) -> Result<Output, String> {
        let mut c = tokio::process::Command::new(self.program());
        c.args(args).stdin(Stdio::null()).kill_on_drop(true);
        // Tests run podman with the repository's containers.conf unless told otherwise.
        #[cfg(test)]
        if std::env::var_os("CONTAINERS_CONF").is_none() {
            c.env("CONTAINERS_CONF", TEST_CONTAINERS_CONF);
        }
        let out = c.output().await.map_err(|e| format!("running {}: {e}", self.program()))?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr);
            return Err(format!("{} failed: {}", self.program(), said.trim()));
        }
        Ok(out)
    }

    /// Whether `image` is on the host.
    pub(super) async fn has_image(self, image: &str) -> bool {
        self.output(&["image", "inspect", image]).await.is_ok()
    }

    /// Pulls `image` unless it is on the host.
    pub(super) async fn ensure_image(self, image: &str) -> Result<(), String> {
        if self.has_image(image).await {
            return Ok(());
        }
        tracing::info!(image, "pulling");
        self.output(&["pull", image]).await.map(drop)
    }

    /// Removes container `name` (killed at once), if it exists.
    pub(super) async fn remove(self, name: &str) {
        let args: &[&str] = match self {
            Self::Podman => &["rm", "-f", "-t", "0", name],
            Self::Docker => &["rm", "-f", name],
        };
        if let Err(e) = self.output(args).await
            && !e.to_lowercase().contains("no such container")
        {
            tracing::warn!(container = name, "removing: {e}");
        }
    }
}

/// Checks that `image` looks like an image reference (it becomes an argument of `run`).
pub(super) fn check_image(image: &str) -> Result<(), String> {
    let ok = image.len() <= MAX_IMAGE_LEN
        && image.starts_with(|c: char| c.is_ascii_alphanumeric())
        && image.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/:@".contains(&b));
    if ok { Ok(()) } else { Err(format!("{image:?} is not an image reference")) }
}

/// Whether `image` is one of `allowed` (an entry ending in `*` allows a prefix).
pub(super) fn allowed(image: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|a| match a.strip_suffix('*') {
        Some(prefix) => image.starts_with(prefix),
        None => a == image,
    })
}

/// The containers of one machine.
#[derive(Debug)]
pub(super) struct Containers {
    /// The runtime.
    pub(super) runtime: Runtime,
    machine: B256,
    /// Where ports are published.
    bind: IpAddr,
    gpu_count: u32,
    /// The host's RAM in bytes (shared by GPUs); `None`: unknown, no memory limit.
    ram: Option<u64>,
    /// Whether the host has NVIDIA devices to pass through.
    nvidia: bool,
}

impl Containers {
    /// Containers of `machine` (of `gpu_count` GPUs) run by `runtime`, publishing on `bind`.
    pub(super) fn new(runtime: Runtime, machine: B256, bind: IpAddr, gpu_count: u32) -> Self {
        let ram = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| crate::hw::parse_meminfo(&m).ok());
        let nvidia = Path::new("/dev/nvidia0").exists();
        Self { runtime, machine, bind, gpu_count, ram, nvidia }
    }

    /// The container of `slot`: `dbc-<first 4 bytes of the machine id>-<slot>` (providers of
    /// several machines may share a host; rental ids recur across chains).
    fn name(&self, slot: Slot) -> String {
        format!("dbc-{}-{slot}", alloy_primitives::hex::encode(&self.machine[..4]))
    }

    /// `run`'s arguments for `launch`, its environment in `env_file`.
    fn run_args(&self, launch: &Launch<'_>, env_file: &Path) -> Vec<String> {
        let bind = match self.bind {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let port = launch.port;
        let mut args: Vec<String> = vec![
            "run".into(),
            "-d".into(),
            "--pull=never".into(),
            "--name".into(),
            self.name(launch.slot),
            "--label".into(),
            format!("dbc.agent.machine={}", self.machine),
            "--label".into(),
            format!("dbc.agent.slot={}", launch.slot),
            "-p".into(),
            format!("{bind}:{port}:{port}"),
            "--env-file".into(),
            env_file.to_string_lossy().into_owned(),
            "--pids-limit".into(),
            PIDS_LIMIT.into(),
        ];
        if let Some((_, ssh_port)) = launch.ssh {
            args.extend(["-p".into(), format!("{bind}:{ssh_port}:22")]);
        }
        if let Some(ram) = self.ram {
            let gpus = launch.gpus.len().max(1) as u64;
            let share = ram / u64::from(self.gpu_count.max(1)) * gpus;
            args.extend(["--memory".into(), format!("{}m", (share >> 20).max(64))]);
        }
        if self.nvidia && !launch.gpus.is_empty() {
            let ids: Vec<String> = launch.gpus.iter().map(u32::to_string).collect();
            match self.runtime {
                // The quotes keep the comma from splitting the option.
                Runtime::Docker => {
                    args.extend(["--gpus".into(), format!("\"device={}\"", ids.join(","))])
                }
                Runtime::Podman => {
                    for id in ids {
                        args.extend(["--device".into(), format!("nvidia.com/gpu={id}")]);
                    }
                }
            }
        }
        args.push(launch.program.to_owned());
        args
    }

    /// The environment of `launch`: its own, the GPUs' (`NVIDIA_VISIBLE_DEVICES`: the host's
    /// indices, overriding any the image sets; `CUDA_VISIBLE_DEVICES`: the container's, which
    /// sees its GPUs only) and the renter's SSH key.
    fn env(launch: &Launch<'_>) -> Vec<(&'static str, String)> {
        let host: Vec<String> = launch.gpus.iter().map(u32::to_string).collect();
        let inside: Vec<String> = (0..launch.gpus.len()).map(|i| i.to_string()).collect();
        let mut env = vec![
            ("PORT", launch.port.to_string()),
            ("NVIDIA_VISIBLE_DEVICES", host.join(",")),
            ("CUDA_VISIBLE_DEVICES", inside.join(",")),
        ];
        env.extend(launch.env.iter().cloned());
        if let Some((key, _)) = launch.ssh {
            env.extend([("PUBLIC_KEY", key.to_owned()), ("DBC_SSH_PUBLIC_KEY", key.to_owned())]);
        }
        env
    }

    /// Starts `launch` (its environment file in `dir`); returns the container's name.
    pub(super) async fn run(&self, dir: &Path, launch: &Launch<'_>) -> Result<String, String> {
        let env_file = dir.join("env");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&env_file)
            .map_err(|e| format!("writing {}: {e}", env_file.display()))?;
        for (k, v) in Self::env(launch) {
            // Values are single lines: ids, hex, an address, a checked SSH key.
            writeln!(f, "{k}={v}").map_err(|e| e.to_string())?;
        }
        drop(f);
        let name = self.name(launch.slot);
        // A container of that name left by an interrupted start would block the name.
        self.runtime.remove(&name).await;
        if let Err(e) = self.runtime.output(&self.run_args(launch, &env_file)).await {
            self.runtime.remove(&name).await;
            return Err(format!("starting the container: {e}"));
        }
        Ok(name)
    }

    /// Removes the containers of this machine whatever started them (a previous run).
    pub(super) async fn remove_stale(&self) {
        let label = format!("label=dbc.agent.machine={}", self.machine);
        match self.runtime.output(&["ps", "-aq", "--filter", &label]).await {
            Ok(out) => {
                for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    tracing::info!(container = id, "removing a container left by a previous run");
                    self.runtime.remove(id).await;
                }
            }
            Err(e) => tracing::warn!("listing containers left by a previous run: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{super::*, *};
    use std::{
        io::Read,
        path::PathBuf,
        process::Command,
        sync::OnceLock,
        time::{Duration, Instant},
    };

    /// The runtime and the test image (`tests/data/build-test-image.sh`), or `None` after a
    /// "skipped" line where no container runtime works; with `DBC_REQUIRE_CONTAINERS=1` that
    /// fails the test instead.
    async fn setup(also: &[&str]) -> Option<(Runtime, String)> {
        static IMAGE: OnceLock<Result<String, String>> = OnceLock::new();
        let found = match Runtime::detect(RuntimeChoice::Auto).await {
            Ok(rt) => IMAGE.get_or_init(|| build_image(rt)).clone().map(|image| (rt, image)),
            Err(e) => Err(e.to_string()),
        };
        let missing = also.iter().find(|tool| which(tool).is_none());
        let found = match missing {
            Some(tool) => Err(format!("no {tool}")),
            None => found,
        };
        match found {
            Ok(found) => Some(found),
            Err(e) if std::env::var("DBC_REQUIRE_CONTAINERS").is_ok_and(|v| v == "1") => {
                panic!("DBC_REQUIRE_CONTAINERS=1 but: {e}")
            }
            Err(e) => {
                eprintln!("skipped: no container runtime — {e}");
                None
            }
        }
    }

    fn which(tool: &str) -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).map(|d| d.join(tool)).find(|p| p.exists())
    }

    /// `program` with the tests' containers.conf unless one is given.
    fn command(program: &str) -> Command {
        let mut c = Command::new(program);
        if std::env::var_os("CONTAINERS_CONF").is_none() {
            c.env("CONTAINERS_CONF", TEST_CONTAINERS_CONF);
        }
        c
    }

    fn build_image(rt: Runtime) -> Result<String, String> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/build-test-image.sh");
        let out =
            command("sh").arg(script).arg(rt.program()).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "building the test image: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout.lines().last().map(str::to_owned).ok_or_else(|| "no image built".into())
    }

    /// Container workloads of a new machine (4 GPUs) with `image` as the default and mining
    /// image of project 7, under `dir`.
    async fn containers(dir: &Path, machine: B256, image: &str) -> Workloads {
        let settings = Settings {
            workload_image: Some(image.into()),
            mine: vec![format!("7={image}").parse().unwrap()],
            ..Settings::default()
        };
        let localhost = IpAddr::from([127, 0, 0, 1]);
        Workloads::new(dir.into(), &settings, machine, 4, "127.0.0.1".into(), localhost)
            .await
            .unwrap()
    }

    /// `GET path` on 127.0.0.1:`port`, retried for 20 s: the body.
    fn http_get(port: u16, path: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
                let mut r = String::new();
                s.read_to_string(&mut r)?;
                Ok(r)
            });
            match got
                .ok()
                .and_then(|r| r.split_once("\r\n\r\n").map(|(h, b)| (h.to_owned(), b.to_owned())))
            {
                Some((head, body)) if head.contains(" 200 ") => return body,
                _ => assert!(Instant::now() < deadline, "nothing on port {port}{path}"),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `VAR=value` of `env`'s output.
    fn var<'a>(env: &'a str, name: &str) -> Option<&'a str> {
        env.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
    }

    fn port_of(url: &str) -> u16 {
        url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Names of this machine's containers (of `slot` if given).
    fn listed(rt: Runtime, machine: B256, slot: Option<&str>) -> Vec<String> {
        let mut c = command(rt.program());
        c.args(["ps", "-a", "--format", "{{.Names}}", "--filter"])
            .arg(format!("label=dbc.agent.machine={machine}"));
        if let Some(slot) = slot {
            c.arg("--filter").arg(format!("label=dbc.agent.slot={slot}"));
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn run_arguments() {
        let machine = B256::repeat_byte(0xab);
        let mut c = Containers::new(Runtime::Podman, machine, IpAddr::from([10, 0, 0, 1]), 4);
        (c.ram, c.nvidia) = (Some(64 << 30), false);
        let launch = Launch {
            slot: Slot::Rental(5),
            program: "localhost/llm:1",
            gpus: &[2, 3],
            port: 4000,
            ssh: Some(("ssh-ed25519 AAAA", 4001)),
            env: vec![("DBC_RENTAL_ID", "5".into())],
        };
        let args = c.run_args(&launch, Path::new("/w/env")).join(" ");
        assert!(args.starts_with("run -d --pull=never --name dbc-abababab-rental-5 "), "{args}");
        for part in [
            format!("--label dbc.agent.machine={machine} --label dbc.agent.slot=rental-5"),
            "-p 10.0.0.1:4000:4000".into(),
            "-p 10.0.0.1:4001:22".into(),
            "--env-file /w/env --pids-limit 4096".into(),
            "--memory 32768m".into(),
        ] {
            assert!(args.contains(&part), "{part} in {args}");
        }
        assert!(args.ends_with(" localhost/llm:1"));
        assert!(!args.contains("gpu"), "no GPUs passed on a host without NVIDIA devices");
        c.nvidia = true;
        let args = c.run_args(&launch, Path::new("/w/env")).join(" ");
        assert!(args.contains("--device nvidia.com/gpu=2 --device nvidia.com/gpu=3"), "{args}");
        c.runtime = Runtime::Docker;
        c.bind = IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]);
        let args = c.run_args(&launch, Path::new("/w/env")).join(" ");
        assert!(args.contains("--gpus \"device=2,3\""), "{args}");
        assert!(args.contains("-p [::1]:4000:4000"), "{args}");
        let env = Containers::env(&launch);
        let get = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("NVIDIA_VISIBLE_DEVICES"), Some("2,3"));
        assert_eq!(get("CUDA_VISIBLE_DEVICES"), Some("0,1"));
        assert_eq!(get("PUBLIC_KEY"), Some("ssh-ed25519 AAAA"));
        assert_eq!(get("DBC_SSH_PUBLIC_KEY"), Some("ssh-ed25519 AAAA"));
        assert_eq!(get("PORT"), Some("4000"));
    }

    #[test]
    fn images_are_checked_and_allowed_by_name_or_prefix() {
        let list = ["localhost/llm:1".to_owned(), "ghcr.io/acme/*".to_owned()];
        assert!(allowed("localhost/llm:1", &list));
        assert!(!allowed("localhost/llm:2", &list));
        assert!(allowed("ghcr.io/acme/miner@sha256:ab", &list));
        assert!(!allowed("ghcr.io/acmeco/x", &list));
        assert!(check_image("ghcr.io/acme/miner:v1.2_3@sha256:ab").is_ok());
        for bad in ["", "-v/:/host", "a b", "a\nb", "img;rm", &"a".repeat(256)] {
            assert!(check_image(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_container_gets_its_env_and_port_and_is_removed_and_wiped() {
        let Some((rt, image)) = setup(&[]).await else { return };
        let dir = tempfile::tempdir().unwrap();
        let machine = B256::from(rand08::random::<[u8; 32]>());
        let w = containers(dir.path(), machine, &image).await;
        let renter = Address::repeat_byte(3);
        let a = w.access(1, 3, 100, renter, "", "").await.unwrap();
        assert_eq!((a.gpus.clone(), a.ssh.clone()), (vec![0, 1, 2], None));
        let env = http_get(port_of(&a.url), "/env.txt");
        assert_eq!(var(&env, "PORT"), Some(port_of(&a.url).to_string().as_str()));
        assert_eq!(var(&env, "DBC_ACCESS_TOKEN"), Some(a.token.as_str()));
        assert_eq!(var(&env, "DBC_RENTAL_ID"), Some("1"));
        assert_eq!(var(&env, "DBC_RENTER"), Some(renter.to_string().as_str()));
        assert_eq!(var(&env, "CUDA_VISIBLE_DEVICES"), Some("0,1,2"));
        assert_eq!(var(&env, "PUBLIC_KEY"), None);
        // The same rental (naming the default image or none) gets the same workload.
        assert_eq!(w.access(1, 3, 100, renter, &image, "").await.unwrap(), a);
        // Images not allowed are refused; another rental gets the GPU left.
        assert!(w.access(2, 1, 100, renter, "localhost/other:1", "").await.is_err());
        assert!(w.access(2, 1, 100, renter, "--privileged", "").await.is_err());
        let b = w.access(2, 1, 100, renter, &image, "").await.unwrap();
        let env = http_get(port_of(&b.url), "/env.txt");
        assert_eq!(var(&env, "NVIDIA_VISIBLE_DEVICES"), Some("3"));
        assert_eq!(var(&env, "CUDA_VISIBLE_DEVICES"), Some("0"));
        assert_eq!(listed(rt, machine, Some("rental-1")).len(), 1);
        assert!(dir.path().join("rental-1/env").exists());

        w.stop(1).await.unwrap();
        assert!(listed(rt, machine, Some("rental-1")).is_empty());
        assert!(!dir.path().join("rental-1").exists());
        assert!(std::net::TcpStream::connect(("127.0.0.1", port_of(&a.url))).is_err());
        // A new run removes what the old one left: its recorded rental 2, and a container of
        // this machine it never recorded (an agent killed mid-start).
        let left = command(rt.program())
            .args(["run", "-d", "--label"])
            .arg(format!("dbc.agent.machine={machine}"))
            .arg(&image)
            .output()
            .unwrap();
        assert!(left.status.success(), "{}", String::from_utf8_lossy(&left.stderr));
        assert_eq!(listed(rt, machine, None).len(), 2);
        drop(w);
        let _again = containers(dir.path(), machine, &image).await;
        assert_eq!(listed(rt, machine, None), Vec::<String>::new());
        assert!(!dir.path().join("rental-2").exists());
    }

    /// Runs `ssh` with `key` to `port` as root: its exit status and output.
    fn ssh(key: &Path, port: u16, cmd: &str) -> (bool, String) {
        let out = Command::new("ssh")
            .args(["-F", "/dev/null", "-i"])
            .arg(key)
            .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"])
            .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"])
            .args(["-p", &port.to_string(), "root@127.0.0.1", cmd])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    #[tokio::test]
    async fn ssh_reaches_the_container_with_the_renters_key_only() {
        let Some((_rt, image)) = setup(&["ssh", "ssh-keygen"]).await else { return };
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<PathBuf> = ["renter", "other"].map(|n| dir.path().join(n)).to_vec();
        for k in &keys {
            let made = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(k)
                .status()
                .unwrap();
            assert!(made.success());
        }
        let public =
            |k: &Path| std::fs::read_to_string(k.with_extension("pub")).unwrap().trim().to_owned();
        let machine = B256::from(rand08::random::<[u8; 32]>());
        let w = containers(&dir.path().join("w"), machine, &image).await;
        let a = w.access(1, 1, 100, Address::ZERO, "", &public(&keys[0])).await.unwrap();
        let ssh_at = a.ssh.clone().unwrap();
        assert_eq!((ssh_at.host.as_str(), ssh_at.user.as_str()), ("127.0.0.1", "root"));
        assert_eq!(ssh_at.command, format!("ssh -p {} root@127.0.0.1", ssh_at.port));
        // Another key for a running rental is refused (no relay can add its own either: the
        // key is signed), as is the same key on the process backend (tested there).
        assert!(w.access(1, 1, 100, Address::ZERO, "", &public(&keys[1])).await.is_err());
        assert_eq!(w.access(1, 1, 100, Address::ZERO, "", "").await.unwrap(), a);
        let deadline = Instant::now() + Duration::from_secs(30);
        let cmd = "tr '\\0' '\\n' < /proc/1/environ | grep DBC_RENTAL_ID; echo ok";
        loop {
            let (ok, out) = ssh(&keys[0], ssh_at.port, cmd);
            if ok {
                assert!(out.contains("DBC_RENTAL_ID=1\nok"), "{out}");
                break;
            }
            assert!(Instant::now() < deadline, "ssh never got in: {out}");
            std::thread::sleep(Duration::from_millis(200));
        }
        let (ok, out) = ssh(&keys[1], ssh_at.port, "echo ok");
        assert!(!ok && !out.lines().any(|l| l == "ok"), "another key got in: {out}");
        w.stop(1).await.unwrap();
        assert!(!ssh(&keys[0], ssh_at.port, "echo ok").0);
    }

    #[tokio::test]
    async fn container_mining_makes_way_for_a_rental_and_resumes() {
        let Some((rt, image)) = setup(&[]).await else { return };
        let dir = tempfile::tempdir().unwrap();
        let machine = B256::from(rand08::random::<[u8; 32]>());
        let w = containers(dir.path(), machine, &image).await;
        w.mine(Some(7)).await.unwrap();
        let mining = listed(rt, machine, Some("mining-7"));
        assert_eq!(mining.len(), 1);
        let deadline = Instant::now() + Duration::from_secs(20);
        let env = loop {
            let out = command(rt.program())
                .args(["exec", &mining[0], "cat", "/www/env.txt"])
                .output()
                .unwrap();
            if out.status.success() {
                break String::from_utf8(out.stdout).unwrap();
            }
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(var(&env, "DBC_PROJECT_ID"), Some("7"));
        assert_eq!(var(&env, "DBC_MACHINE_ID"), Some(machine.to_string().as_str()));
        assert_eq!(var(&env, "CUDA_VISIBLE_DEVICES"), Some("0,1,2,3"));
        assert!(var(&env, "PORT").is_some());
        // A renter's access pre-empts it; it stays off while the rental's workload runs.
        let a = w.access(1, 2, 100, Address::ZERO, "", "").await.unwrap();
        assert_eq!(a.gpus, [0, 1]);
        assert!(listed(rt, machine, Some("mining-7")).is_empty());
        w.mine(Some(7)).await.unwrap();
        assert!(listed(rt, machine, Some("mining-7")).is_empty());
        http_get(port_of(&a.url), "/");
        // It resumes when the rental ends, and stops when the machine goes offline.
        w.stop(1).await.unwrap();
        w.mine(Some(7)).await.unwrap();
        assert_eq!(listed(rt, machine, Some("mining-7")).len(), 1);
        w.mine(None).await.unwrap();
        assert_eq!(listed(rt, machine, None), Vec::<String>::new());
        assert!(!dir.path().join("mining-7").exists());
    }
}
