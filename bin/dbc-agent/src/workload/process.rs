//! The process backend: a workload is the provider's command under `sh -c`, in its own process
//! group and working directory, with `CUDA_VISIBLE_DEVICES` and `NVIDIA_VISIBLE_DEVICES` set to
//! exactly its GPUs and its output in `workload.log`.

use super::Launch;
use std::{os::unix::process::CommandExt, path::Path, process::Stdio};

/// Starts `launch` in `dir`; returns the pid of its process group's leader.
pub(super) fn start(dir: &Path, launch: &Launch<'_>) -> Result<u32, String> {
    let visible: Vec<String> = launch.gpus.iter().map(u32::to_string).collect();
    let log = std::fs::File::create(dir.join("workload.log")).map_err(|e| e.to_string())?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(launch.program)
        .current_dir(dir)
        .env("CUDA_VISIBLE_DEVICES", visible.join(","))
        .env("NVIDIA_VISIBLE_DEVICES", visible.join(","))
        .env("PORT", launch.port.to_string())
        .envs(launch.env.iter().map(|(k, v)| (*k, v)))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting the workload: {e}"))?;
    // Reaped by `stop` (kill of the group, then wait by pid).
    Ok(child.id())
}

/// Kills the process group led by `pid` and reaps its leader.
pub(super) fn stop(pid: u32) {
    use nix::{sys::signal::Signal, unistd::Pid};
    let Ok(pid) = i32::try_from(pid) else { return };
    let _ = nix::sys::signal::killpg(Pid::from_raw(pid), Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
}
