//! Renters' workloads on a provider's machine (the process backend): one process group per
//! rental, started on the renter's first access with exactly the rented GPUs
//! (`CUDA_VISIBLE_DEVICES`), in its own working directory; stopped and wiped when the rental is
//! no longer active. What runs is the provider's `workload-cmd`; it receives `PORT` to listen
//! on and `DBC_ACCESS_TOKEN`, the secret the renter gets sealed to its key.

use crate::state::Persisted;
use alloy_primitives::Address;
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, os::unix::process::CommandExt, path::PathBuf, process::Stdio};
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
}

/// A running workload, as recorded on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    pid: u32,
    dir: PathBuf,
    details: Details,
    renter: Address,
}

/// The workloads of one machine.
#[derive(Debug)]
pub(crate) struct Workloads {
    root: PathBuf,
    cmd: Option<String>,
    gpu_count: u32,
    public_host: String,
    state: Persisted,
    running: Mutex<BTreeMap<u64, Record>>,
}

impl Workloads {
    /// Workloads under `root` running `cmd` on a machine of `gpu_count` GPUs reachable at
    /// `public_host`. Workloads a previous run left behind are stopped and wiped.
    pub(crate) fn new(
        root: PathBuf,
        cmd: Option<String>,
        gpu_count: u32,
        public_host: String,
    ) -> eyre::Result<Self> {
        let state = Persisted::new(root.join("workloads.json"));
        let stale: BTreeMap<u64, Record> = state.load()?;
        for (id, r) in &stale {
            tracing::info!(rental = id, "stopping a workload left by a previous run");
            stop(r);
        }
        state.store(&BTreeMap::<u64, Record>::new())?;
        Ok(Self { root, cmd, gpu_count, public_host, state, running: Mutex::new(BTreeMap::new()) })
    }

    /// The workload of rental `rental_id` (of `gpus` GPUs, ending at `end_block`) for `renter`,
    /// started if it is not running.
    pub(crate) async fn access(
        &self,
        rental_id: u64,
        gpus: u32,
        end_block: u64,
        renter: Address,
    ) -> Result<Details, String> {
        let mut running = self.running.lock().await;
        if let Some(r) = running.get(&rental_id) {
            return Ok(r.details.clone());
        }
        let Some(cmd) = &self.cmd else {
            return Err("this provider runs no workloads (no workload-cmd)".into());
        };
        let used: Vec<u32> = running.values().flat_map(|r| r.details.gpus.clone()).collect();
        let free: Vec<u32> = (0..self.gpu_count).filter(|g| !used.contains(g)).collect();
        if free.len() < gpus as usize {
            return Err(format!("only {} GPUs free for {gpus} rented", free.len()));
        }
        let assigned: Vec<u32> = free[..gpus as usize].to_vec();
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let token = alloy_primitives::hex::encode(rand08::random::<[u8; 24]>());
        let dir = self.root.join(format!("rental-{rental_id}"));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let visible: Vec<String> = assigned.iter().map(u32::to_string).collect();
        let log = std::fs::File::create(dir.join("workload.log")).map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(&dir)
            .env("CUDA_VISIBLE_DEVICES", visible.join(","))
            .env("NVIDIA_VISIBLE_DEVICES", visible.join(","))
            .env("PORT", port.to_string())
            .env("DBC_ACCESS_TOKEN", &token)
            .env("DBC_RENTAL_ID", rental_id.to_string())
            .env("DBC_RENTER", renter.to_string())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("starting the workload: {e}"))?;
        let details = Details {
            rental_id,
            url: format!("http://{}:{port}", self.public_host),
            token,
            gpus: assigned,
            end_block,
        };
        let record = Record { pid: child.id(), dir, details: details.clone(), renter };
        // Reaped by `stop` (kill of the group, then wait by pid).
        drop(child);
        running.insert(rental_id, record);
        self.state.store(&*running).map_err(|e| e.to_string())?;
        tracing::info!(rental = rental_id, port, gpus = ?details.gpus, "workload started");
        Ok(details)
    }

    /// Rentals with a running workload.
    pub(crate) async fn rentals(&self) -> Vec<u64> {
        self.running.lock().await.keys().copied().collect()
    }

    /// Stops and wipes rental `rental_id`'s workload.
    pub(crate) async fn stop(&self, rental_id: u64) -> eyre::Result<()> {
        let mut running = self.running.lock().await;
        if let Some(r) = running.remove(&rental_id) {
            stop(&r);
            tracing::info!(rental = rental_id, "workload stopped and wiped");
            self.state.store(&*running)?;
        }
        Ok(())
    }
}

/// Kills the workload's process group, reaps it and removes its directory.
fn stop(r: &Record) {
    use nix::{sys::signal::Signal, unistd::Pid};
    let Ok(pid) = i32::try_from(r.pid) else { return };
    let _ = nix::sys::signal::killpg(Pid::from_raw(pid), Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
    let _ = std::fs::remove_dir_all(&r.dir);
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_workload_gets_its_gpus_and_is_stopped_and_wiped() {
        let dir = tempfile::tempdir().unwrap();
        let cmd = "echo \"$CUDA_VISIBLE_DEVICES $PORT $DBC_RENTAL_ID\" > env.txt; exec sleep 600";
        let w = Workloads::new(dir.path().to_path_buf(), Some(cmd.into()), 4, "127.0.0.1".into())
            .unwrap();
        let a = w.access(1, 3, 100, Address::ZERO).await.unwrap();
        assert_eq!(a.gpus, vec![0, 1, 2]);
        // The same rental gets the same workload; another gets the GPU left, a third none.
        assert_eq!(w.access(1, 3, 100, Address::ZERO).await.unwrap(), a);
        assert_eq!(w.access(2, 1, 100, Address::ZERO).await.unwrap().gpus, vec![3]);
        assert!(w.access(3, 1, 100, Address::ZERO).await.is_err());
        let env = dir.path().join("rental-1/env.txt");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !env.exists() {
            assert!(std::time::Instant::now() < deadline);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let port = a.url.rsplit(':').next().unwrap().to_owned();
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(std::fs::read_to_string(&env).unwrap().trim(), format!("0,1,2 {port} 1"));
        let pid = nix::unistd::Pid::from_raw(
            w.running.lock().await.get(&1).unwrap().pid.try_into().unwrap(),
        );
        w.stop(1).await.unwrap();
        assert!(!dir.path().join("rental-1").exists());
        assert!(nix::sys::signal::kill(pid, None).is_err(), "the process is gone");
        // A new run stops what the old one left.
        let left = w.running.lock().await.get(&2).unwrap().pid;
        drop(w);
        let _again =
            Workloads::new(dir.path().to_path_buf(), Some(cmd.into()), 4, "127.0.0.1".into())
                .unwrap();
        let pid = nix::unistd::Pid::from_raw(left.try_into().unwrap());
        assert!(nix::sys::signal::kill(pid, None).is_err());
        assert!(!dir.path().join("rental-2").exists());
    }
}
