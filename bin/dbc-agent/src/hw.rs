//! Hardware detection: the GPUs (from `nvidia-smi -q -x`), CPU cores, RAM and disk of this host,
//! or a spec file that declares them where no NVIDIA driver is present (tests, air-gapped hosts).
//!
//! What is detected here becomes the machine's `MachineSpec` on chain, and auditors check it on
//! the machine. Detection is therefore strict: a report missing a field, a card that is not
//! exactly a row of the chain's GPU-model table, or a host mixing GPU models is refused with an
//! error that says which, never guessed at.

use serde::{Deserialize, Serialize};
use std::{io, path::Path, process::Command};

/// The chain's genesis GPU-model table (`dbc_chainspec::market::default_gpu_models`): model name
/// and per-GPU memory in GB. [`model_of`] maps only to these rows.
const TABLE: [(&str, u32); 8] = [
    ("RTX 3080", 10),
    ("RTX 3090", 24),
    ("RTX 4080", 16),
    ("RTX 4090", 24),
    ("RTX 5090", 32),
    ("A100 40GB", 40),
    ("A100 80GB", 80),
    ("H100 80GB", 80),
];

/// Most GPUs a spec file may declare.
const MAX_GPUS: u32 = 1024;

/// Longest model or region name: the chain stores each in a `bytes32`.
const MAX_NAME_BYTES: usize = 32;

/// An error of hardware detection or of a spec file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HwError {
    /// No NVIDIA GPU or driver on this host: `nvidia-smi` is missing, failed or lists no GPU.
    #[error(
        "no NVIDIA GPU or driver found ({0}); on a host without one (tests, air-gapped \
         machines) declare the hardware with --spec-file instead"
    )]
    NoGpu(String),
    /// Malformed input: the output of `nvidia-smi -q -x`, or `/proc/meminfo`.
    #[error("{0}")]
    Parse(String),
    /// A file or OS call failed; the string says what was being done.
    #[error("{0}: {1}")]
    Io(String, io::Error),
    /// Real hardware that the chain cannot register as detected (not a table model, mixed
    /// models).
    #[error("{0}")]
    Unsupported(String),
    /// A spec file that is not valid TOML/JSON of the expected fields, or declares bad values.
    #[error("invalid spec file {0}")]
    SpecFile(String),
}

/// What `nvidia-smi -q -x` reports of the driver and of each GPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GpuReport {
    /// The driver version, e.g. `535.54.03`.
    pub(crate) driver_version: String,
    /// The newest CUDA version the driver supports, e.g. `12.2`.
    pub(crate) cuda_version: String,
    /// The GPUs, in the report's order.
    pub(crate) gpus: Vec<Gpu>,
}

/// One GPU of an `nvidia-smi -q -x` report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Gpu {
    /// The GPU's nvidia-smi index: its position in the report, which nvidia-smi lists in index
    /// (PCI bus) order; what `nvidia-smi -i`, `docker --gpus device=` and
    /// `CUDA_VISIBLE_DEVICES` (with `CUDA_DEVICE_ORDER=PCI_BUS_ID`) take. Not the
    /// `<minor_number>` (`/dev/nvidiaN`), which need not follow it and is `N/A` under the
    /// Windows (WDDM) driver model.
    pub(crate) index: u32,
    /// The product name as the driver gives it, e.g. `NVIDIA GeForce RTX 4090`.
    pub(crate) name: String,
    /// The GPU's UUID, `GPU-…`.
    pub(crate) uuid: String,
    /// The PCI bus id, e.g. `00000000:01:00.0`.
    pub(crate) bus_id: String,
    /// Total framebuffer memory in MiB.
    pub(crate) memory_mib: u64,
}

/// Parses the output of `nvidia-smi -q -x`.
///
/// Strict: the driver and CUDA versions, `<attached_gpus>`, and each GPU's product name, UUID,
/// bus id and framebuffer total are required, and `<attached_gpus>` must equal the number of
/// `<gpu>` elements (a report of some GPUs only, `nvidia-smi -q -x -i N`, or a truncated one is
/// refused). Errors name the field and the GPU.
pub(crate) fn parse_nvidia_smi(xml: &str) -> Result<GpuReport, HwError> {
    parse_report(xml).map_err(|e| HwError::Parse(format!("nvidia-smi -q -x output: {e}")))
}

/// [`parse_nvidia_smi`], with errors as bare messages.
fn parse_report(xml: &str) -> Result<GpuReport, String> {
    // Real reports carry `<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_vXX.dtd">`; roxmltree
    // does not load external DTDs, and still guards against entity expansion.
    let options = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
    let doc = roxmltree::Document::parse_with_options(xml, options)
        .map_err(|e| format!("not well-formed XML: {e}"))?;
    let log = doc.root_element();
    if !log.has_tag_name("nvidia_smi_log") {
        return Err(format!(
            "the root element is <{}>, not <nvidia_smi_log>",
            log.tag_name().name()
        ));
    }
    // Some parsers accept a document cut short with elements left open; a report cut short
    // (nvidia-smi killed while printing) must not pass for a whole one.
    if !xml.trim_end().ends_with("</nvidia_smi_log>") {
        return Err("the report is truncated: it does not end with </nvidia_smi_log>".to_owned());
    }
    let whose = "the report";
    let driver_version = text_of(log, "driver_version", whose)?.to_owned();
    let cuda_version = text_of(log, "cuda_version", whose)?.to_owned();
    let attached_text = text_of(log, "attached_gpus", whose)?;
    let attached: usize = digits(attached_text)
        .ok_or_else(|| format!("<attached_gpus> is `{attached_text}`, not a number"))?;
    let nodes: Vec<roxmltree::Node<'_, '_>> =
        log.children().filter(|n| n.has_tag_name("gpu")).collect();
    if nodes.len() != attached {
        return Err(format!(
            "<attached_gpus> is {attached} but the report has {} <gpu> element(s): a report of \
             some GPUs only (`nvidia-smi -q -x -i N`) or a truncated one cannot describe the \
             machine",
            nodes.len()
        ));
    }
    let mut gpus: Vec<Gpu> = Vec::with_capacity(nodes.len());
    for (position, node) in nodes.iter().enumerate() {
        let gpu = parse_gpu(*node, position)?;
        if let Some(same) = gpus.iter().find(|g| g.uuid == gpu.uuid || g.bus_id == gpu.bus_id) {
            return Err(format!(
                "GPU {} ({}, {}) and GPU {} ({}, {}) share a UUID or bus id",
                same.index, same.bus_id, same.uuid, gpu.index, gpu.bus_id, gpu.uuid
            ));
        }
        gpus.push(gpu);
    }
    Ok(GpuReport { driver_version, cuda_version, gpus })
}

/// Reads one `<gpu>` element, the `position`-th of the report.
fn parse_gpu(node: roxmltree::Node<'_, '_>, position: usize) -> Result<Gpu, String> {
    let index = u32::try_from(position).unwrap_or(u32::MAX);
    let bus_id = match node.attribute("id").map(str::trim) {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => {
            let pci = child(node, "pci")
                .ok_or_else(|| format!("GPU {index} has no `id` attribute and no <pci>"))?;
            text_of(pci, "pci_bus_id", &format!("<pci> of GPU {index}"))?.to_owned()
        }
    };
    let whose = format!("GPU {index} ({bus_id})");
    let name = text_of(node, "product_name", &whose)?.to_owned();
    let uuid = text_of(node, "uuid", &whose)?;
    if !uuid.starts_with("GPU-") {
        return Err(format!("<uuid> of {whose} is `{uuid}`, not a GPU UUID (GPU-…)"));
    }
    // The GPU's own <fb_memory_usage>, not those of its MIG devices under <mig_devices>.
    let fb = child(node, "fb_memory_usage")
        .ok_or_else(|| format!("{whose} has no <fb_memory_usage>"))?;
    let total = text_of(fb, "total", &format!("<fb_memory_usage> of {whose}"))?;
    let memory_mib = parse_mib(total).filter(|&mib| mib > 0).ok_or_else(|| {
        format!("<fb_memory_usage>/<total> of {whose} is `{total}`, not a size in MiB")
    })?;
    Ok(Gpu { index, name, uuid: uuid.to_owned(), bus_id, memory_mib })
}

/// The first child element of `node` named `name`.
fn child<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'input>> {
    node.children().find(|n| n.has_tag_name(name))
}

/// The trimmed text of the required child `name` of `node`; `whose` names `node` in errors.
/// Missing, empty and `N/A` are errors.
fn text_of<'a>(node: roxmltree::Node<'a, '_>, name: &str, whose: &str) -> Result<&'a str, String> {
    let element = child(node, name).ok_or_else(|| format!("{whose} has no <{name}>"))?;
    match element.text().map(str::trim).unwrap_or_default() {
        "" => Err(format!("<{name}> of {whose} is empty")),
        "N/A" => Err(format!("<{name}> of {whose} is N/A")),
        text => Ok(text),
    }
}

/// A size as nvidia-smi prints it, `24564 MiB`, in MiB.
fn parse_mib(text: &str) -> Option<u64> {
    let mut words = text.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(number), Some("MiB"), None) => digits(number),
        _ => None,
    }
}

/// A decimal number of ASCII digits only (no sign, no spaces).
fn digits<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The model of the chain's GPU-model table that a GPU is, from its nvidia-smi product name and
/// memory; `None` for any other card.
///
/// Names map exactly, with the `NVIDIA ` and `GeForce ` prefixes optional: `NVIDIA GeForce RTX
/// 4090` and `GeForce RTX 3090` are table models, and so are the data-center names
/// (`NVIDIA A100-SXM4-80GB`, `NVIDIA A100-PCIE-40GB`, `NVIDIA A100 80GB PCIe`,
/// `NVIDIA H100 80GB HBM3`, `NVIDIA H100 PCIe`). An A100 whose name does not state its size
/// is told 40 GB from 80 GB by its memory.
///
/// Variants are deliberately refused, never mapped to the plain model: `RTX 4090 D`,
/// `RTX 4080 SUPER`, `… Ti`, `… Laptop GPU`, `H100 NVL`, and a card whose memory is not the
/// table row's (the 12 GB RTX 3080, an A100 whose name and memory disagree). These are
/// different cards, with different performance: an auditor checking the machine would find a
/// card other than the registered model.
pub(crate) fn model_of(product_name: &str, memory_mib: u64) -> Option<&'static str> {
    let words = product_name.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = words.strip_prefix("NVIDIA ").unwrap_or(words.as_str());
    let name = name.strip_prefix("GeForce ").unwrap_or(name);
    let gb = table_memory_gb(memory_mib);
    let model = if let Some(rest) = family(name, "A100") {
        if rest.contains("80GB") {
            "A100 80GB"
        } else if rest.contains("40GB") || gb != 80 {
            "A100 40GB"
        } else {
            "A100 80GB"
        }
    } else if let Some(rest) = family(name, "H100") {
        if rest.contains("NVL") {
            return None;
        }
        "H100 80GB"
    } else {
        TABLE
            .iter()
            .map(|&(model, _)| model)
            .find(|&model| model.starts_with("RTX ") && model == name)?
    };
    let &(_, table_gb) = TABLE.iter().find(|&&(m, _)| m == model)?;
    (gb == table_gb).then_some(model)
}

/// `name` less the chip name `chip` when `name` is of that chip (`A100`, `A100-SXM4-80GB`,
/// `A100 80GB PCIe`, but not `A100X`).
fn family<'a>(name: &'a str, chip: &str) -> Option<&'a str> {
    let rest = name.strip_prefix(chip)?;
    (rest.is_empty() || rest.starts_with([' ', '-'])).then_some(rest)
}

/// A GPU's memory in GB as the chain's table states it: MiB / 1024 rounded to the nearest
/// integer (24564 MiB → 24, 81559 → 80, 16376 → 16, 32607 → 32).
pub(crate) fn table_memory_gb(memory_mib: u64) -> u32 {
    u32::try_from(memory_mib.saturating_add(512) / 1024).unwrap_or(u32::MAX)
}

/// The host's CPU, RAM and disk, as registered on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Host {
    /// CPUs this process may use ([`cpu_cores`]).
    pub(crate) cpu_cores: u32,
    /// `MemTotal` in GiB, rounded to the nearest integer.
    pub(crate) ram_gb: u32,
    /// Size of the filesystem given to [`detect_host`], in decimal GB ([`disk_gb`]).
    pub(crate) disk_gb: u32,
}

/// The `MemTotal` of a `/proc/meminfo` text (`MemTotal:  131899340 kB`), in bytes.
pub(crate) fn parse_meminfo(text: &str) -> Result<u64, HwError> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .ok_or_else(|| HwError::Parse("/proc/meminfo has no MemTotal line".to_owned()))?;
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(kib), Some("kB"), None) => digits::<u64>(kib).filter(|&kib| kib > 0),
        _ => None,
    }
    .and_then(|kib| kib.checked_mul(1024))
    .ok_or_else(|| HwError::Parse(format!("/proc/meminfo: malformed line `MemTotal:{line}`")))
}

/// The CPUs this process may use (its affinity mask and cgroup quota), at least 1.
pub(crate) fn cpu_cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
}

/// The total size of the filesystem holding `path`, in decimal GB (10^9 bytes, as disks are
/// sold), rounded down: `f_blocks × f_frsize` of `statvfs`, which is somewhat less than the raw
/// disk.
pub(crate) fn disk_gb(path: &Path) -> Result<u32, HwError> {
    let stat = nix::sys::statvfs::statvfs(path)
        .map_err(|e| HwError::Io(format!("statvfs {}", path.display()), e.into()))?;
    let bytes = u128::from(stat.blocks()) * u128::from(stat.fragment_size());
    Ok(u32::try_from(bytes / 1_000_000_000).unwrap_or(u32::MAX))
}

/// Detects the host's CPU cores, RAM (from `/proc/meminfo`) and the size of the filesystem
/// holding `disk_path`.
pub(crate) fn detect_host(disk_path: &Path) -> Result<Host, HwError> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .map_err(|e| HwError::Io("reading /proc/meminfo".to_owned(), e))?;
    let ram_bytes = parse_meminfo(&meminfo)?;
    Ok(Host {
        cpu_cores: cpu_cores(),
        ram_gb: gib_rounded(ram_bytes),
        disk_gb: disk_gb(disk_path)?,
    })
}

/// `bytes` in GiB, rounded to the nearest integer.
fn gib_rounded(bytes: u64) -> u32 {
    const GIB: u64 = 1 << 30;
    u32::try_from(bytes.saturating_add(GIB / 2) / GIB).unwrap_or(u32::MAX)
}

/// Runs `nvidia-smi -q -x` and parses its report.
///
/// A missing `nvidia-smi`, a failing one (no driver loaded, no device) or a report of no GPU is
/// [`HwError::NoGpu`], whose message points to `--spec-file`.
pub(crate) fn detect_gpus() -> Result<GpuReport, HwError> {
    let output = match Command::new("nvidia-smi").args(["-q", "-x"]).output() {
        Ok(output) => output,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(HwError::NoGpu("`nvidia-smi` is not installed or not on PATH".to_owned()));
        }
        Err(e) => return Err(HwError::NoGpu(format!("cannot run `nvidia-smi`: {e}"))),
    };
    if !output.status.success() {
        let said = first_line(&output.stdout)
            .or_else(|| first_line(&output.stderr))
            .map(|line| format!(": {line}"))
            .unwrap_or_default();
        return Err(HwError::NoGpu(format!("`nvidia-smi -q -x` failed ({}){said}", output.status)));
    }
    let xml = String::from_utf8(output.stdout)
        .map_err(|_| HwError::Parse("nvidia-smi -q -x output is not UTF-8".to_owned()))?;
    let report = parse_nvidia_smi(&xml)?;
    if report.gpus.is_empty() {
        return Err(HwError::NoGpu("`nvidia-smi -q -x` lists no GPU".to_owned()));
    }
    Ok(report)
}

/// The first non-blank line of a command's output, at most 200 characters.
fn first_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(|line| line.chars().take(200).collect())
}

/// The hardware declared by `--spec-file`, in TOML or (`.json`) JSON, e.g.
///
/// ```toml
/// gpu-model = "RTX 4090"
/// gpu-count = 2
/// gpu-memory-gb = 24
/// cpu-cores = 32
/// ram-gb = 128
/// disk-gb = 2000
/// region = "eu-west"
/// # calc-point = 1000   (optional)
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct SpecFile {
    /// A model of the chain's GPU-model table, e.g. `RTX 4090`: at most 32 bytes.
    pub(crate) gpu_model: String,
    /// GPUs: 1 to 1024.
    pub(crate) gpu_count: u32,
    /// Memory per GPU in GB: positive.
    pub(crate) gpu_memory_gb: u32,
    /// CPU cores.
    pub(crate) cpu_cores: u32,
    /// RAM in GB.
    pub(crate) ram_gb: u32,
    /// Disk in GB.
    pub(crate) disk_gb: u32,
    /// Region, e.g. `eu-west`: 1 to 32 ASCII bytes.
    pub(crate) region: String,
    /// Calc point the provider expects (the table's value for the model); optional.
    #[serde(default)]
    pub(crate) calc_point: Option<u32>,
}

/// Reads and validates a spec file: JSON if its extension is `.json` (any case), TOML
/// otherwise. Unknown fields are refused.
pub(crate) fn load_spec_file(path: &Path) -> Result<SpecFile, HwError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| HwError::Io(format!("reading spec file {}", path.display()), e))?;
    let json = path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
    parse_spec(&text, json).map_err(|e| HwError::SpecFile(format!("{}: {e}", path.display())))
}

/// Parses and validates the text of a spec file.
fn parse_spec(text: &str, json: bool) -> Result<SpecFile, String> {
    let spec: SpecFile = if json {
        serde_json::from_str(text).map_err(|e| e.to_string())?
    } else {
        toml::from_str(text).map_err(|e| e.to_string())?
    };
    validate_spec(&spec)?;
    Ok(spec)
}

/// Checks the values of a spec file.
fn validate_spec(s: &SpecFile) -> Result<(), String> {
    if s.gpu_model.trim().is_empty() {
        return Err("gpu-model is empty".to_owned());
    }
    if s.gpu_model.trim() != s.gpu_model {
        return Err(format!("gpu-model `{}` has leading or trailing spaces", s.gpu_model));
    }
    if s.gpu_model.len() > MAX_NAME_BYTES {
        return Err(format!(
            "gpu-model `{}` is {} bytes; the chain stores at most {MAX_NAME_BYTES}",
            s.gpu_model,
            s.gpu_model.len()
        ));
    }
    if !(1..=MAX_GPUS).contains(&s.gpu_count) {
        return Err(format!("gpu-count is {}; it must be 1 to {MAX_GPUS}", s.gpu_count));
    }
    if s.gpu_memory_gb == 0 {
        return Err("gpu-memory-gb is 0".to_owned());
    }
    if s.region.is_empty() || s.region.len() > MAX_NAME_BYTES || !s.region.is_ascii() {
        return Err(format!("region `{}` must be 1 to {MAX_NAME_BYTES} ASCII bytes", s.region));
    }
    Ok(())
}

/// The hardware the agent registers: detected, or declared by a spec file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Detected {
    /// The GPU model, a row of the chain's GPU-model table.
    pub(crate) gpu_model: String,
    /// Number of GPUs.
    pub(crate) gpu_count: u32,
    /// Memory per GPU in GB, as the table states it ([`table_memory_gb`]).
    pub(crate) gpu_memory_gb: u32,
    /// CPU cores.
    pub(crate) cpu_cores: u32,
    /// RAM in GB.
    pub(crate) ram_gb: u32,
    /// Disk in GB.
    pub(crate) disk_gb: u32,
    /// Driver version; `None` when declared by a spec file.
    pub(crate) driver: Option<String>,
    /// CUDA version; `None` when declared by a spec file.
    pub(crate) cuda: Option<String>,
    /// The GPUs detected; empty when declared by a spec file.
    pub(crate) gpus: Vec<Gpu>,
}

/// The hardware to register from an nvidia-smi report and the host's CPU, RAM and disk.
///
/// All GPUs must be of one model (a machine registers one), that model must be a row of the
/// chain's table ([`model_of`]), and the memory is the first GPU's as the table states it.
pub(crate) fn from_report(report: &GpuReport, host: &Host) -> Result<Detected, HwError> {
    let Some(first) = report.gpus.first() else {
        return Err(HwError::NoGpu("the nvidia-smi report lists no GPU".to_owned()));
    };
    if let Some(other) = report.gpus.iter().find(|g| g.name != first.name) {
        return Err(mixed(first, other));
    }
    let mut model = None;
    for gpu in &report.gpus {
        let Some(this) = model_of(&gpu.name, gpu.memory_mib) else {
            let table = TABLE.iter().map(|&(m, _)| m).collect::<Vec<_>>().join(", ");
            return Err(HwError::Unsupported(format!(
                "GPU {} ({}) is a `{}` with {} MiB, which is not a model of the chain's \
                 GPU-model table ({table}); variants such as D, SUPER, Ti and laptop parts are \
                 other cards",
                gpu.index, gpu.bus_id, gpu.name, gpu.memory_mib
            )));
        };
        match model {
            Some(seen) if seen != this => return Err(mixed(first, gpu)),
            _ => model = Some(this),
        }
    }
    let gpu_model = model.unwrap_or_default().to_owned();
    Ok(Detected {
        gpu_model,
        gpu_count: u32::try_from(report.gpus.len()).unwrap_or(u32::MAX),
        gpu_memory_gb: table_memory_gb(first.memory_mib),
        cpu_cores: host.cpu_cores,
        ram_gb: host.ram_gb,
        disk_gb: host.disk_gb,
        driver: Some(report.driver_version.clone()),
        cuda: Some(report.cuda_version.clone()),
        gpus: report.gpus.clone(),
    })
}

/// The error for a host whose GPUs `a` and `b` are of different models.
fn mixed(a: &Gpu, b: &Gpu) -> HwError {
    HwError::Unsupported(format!(
        "mixed GPU models: GPU {} is a `{}` ({} MiB) but GPU {} a `{}` ({} MiB); a machine is \
         registered with a single GPU model",
        a.index, a.name, a.memory_mib, b.index, b.name, b.memory_mib
    ))
}

/// The hardware a spec file declares.
pub(crate) fn from_spec_file(s: &SpecFile) -> Detected {
    Detected {
        gpu_model: s.gpu_model.clone(),
        gpu_count: s.gpu_count,
        gpu_memory_gb: s.gpu_memory_gb,
        cpu_cores: s.cpu_cores,
        ram_gb: s.ram_gb,
        disk_gb: s.disk_gb,
        driver: None,
        cuda: None,
        gpus: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    // Recorded `nvidia-smi -q -x` outputs; see tests/data/nvidia-smi/README.md.
    const RTX_3090: &str = include_str!("../tests/data/nvidia-smi/3090-v13.xml");
    const RTX_3080: &str = include_str!("../tests/data/nvidia-smi/rtx-3080-v12.xml");
    const A100: &str = include_str!("../tests/data/nvidia-smi/a100-sxm4-v12.xml");
    const A5000_X2: &str = include_str!("../tests/data/nvidia-smi/dual_a5000-v13.xml");

    fn host() -> Host {
        Host { cpu_cores: 32, ram_gb: 126, disk_gb: 1_900 }
    }

    fn gpu(index: u32, name: &str, uuid: &str, bus_id: &str, memory_mib: u64) -> Gpu {
        Gpu { index, name: name.into(), uuid: uuid.into(), bus_id: bus_id.into(), memory_mib }
    }

    /// The error message of a failing parse.
    fn parse_error(xml: &str) -> String {
        let err = parse_nvidia_smi(xml).unwrap_err();
        assert!(matches!(err, HwError::Parse(_)), "{err:?}");
        err.to_string()
    }

    #[test]
    fn parses_a_single_rtx_3090() {
        let report = parse_nvidia_smi(RTX_3090).unwrap();
        assert_eq!(report.driver_version, "590.44.01");
        assert_eq!(report.cuda_version, "13.1");
        let want = gpu(
            0,
            "NVIDIA GeForce RTX 3090",
            "GPU-12345678-aaaa-bbbb-cccc-0123456789ab",
            "00000000:09:00.0",
            24_576,
        );
        assert_eq!(report.gpus, vec![want]);

        let d = from_report(&report, &host()).unwrap();
        assert_eq!((d.gpu_model.as_str(), d.gpu_count, d.gpu_memory_gb), ("RTX 3090", 1, 24));
        assert_eq!((d.cpu_cores, d.ram_gb, d.disk_gb), (32, 126, 1_900));
        assert_eq!((d.driver.as_deref(), d.cuda.as_deref()), (Some("590.44.01"), Some("13.1")));
        assert_eq!(d.gpus, report.gpus);
    }

    #[test]
    fn parses_an_rtx_3080_whose_minor_number_is_na() {
        // Recorded under the WDDM driver model: <minor_number>N/A</minor_number>.
        let report = parse_nvidia_smi(RTX_3080).unwrap();
        assert_eq!(
            (report.driver_version.as_str(), report.cuda_version.as_str()),
            ("536.40", "12.2")
        );
        let want = gpu(
            0,
            "NVIDIA GeForce RTX 3080",
            "GPU-19d6d965-2acc-f646-00f8-4c76979aabb4",
            "00000000:04:00.0",
            10_240,
        );
        assert_eq!(report.gpus, vec![want]);
        let d = from_report(&report, &host()).unwrap();
        assert_eq!((d.gpu_model.as_str(), d.gpu_count, d.gpu_memory_gb), ("RTX 3080", 1, 10));
    }

    #[test]
    fn parses_two_rtx_a5000_and_refuses_the_model() {
        let report = parse_nvidia_smi(A5000_X2).unwrap();
        assert_eq!(
            (report.driver_version.as_str(), report.cuda_version.as_str()),
            ("590.44.01", "13.1")
        );
        // Indexes follow the report (PCI bus order), not the minor numbers (1, then 0).
        let want = vec![
            gpu(
                0,
                "NVIDIA RTX A5000",
                "GPU-12345678-aaaa-bbbb-cccc-0123456789ab",
                "00000000:81:00.0",
                24_564,
            ),
            gpu(
                1,
                "NVIDIA RTX A5000",
                "GPU-12345678-aaaa-bbbb-cccc-0123456789cd",
                "00000000:C1:00.0",
                24_564,
            ),
        ];
        assert_eq!(report.gpus, want);
        assert_eq!(model_of("NVIDIA RTX A5000", 24_564), None);
        let err = from_report(&report, &host()).unwrap_err();
        assert!(matches!(err, HwError::Unsupported(_)), "{err:?}");
        assert!(err.to_string().contains("`NVIDIA RTX A5000` with 24564 MiB"), "{err}");
    }

    #[test]
    fn refuses_a_report_of_one_gpu_out_of_four() {
        // Recorded with one <gpu> element while <attached_gpus> says 4 (as `-i N` prints).
        let msg = parse_error(A100);
        assert!(msg.contains("<attached_gpus> is 4 but the report has 1 <gpu>"), "{msg}");

        let msg = parse_error(&RTX_3090.replace("<attached_gpus>1<", "<attached_gpus>2<"));
        assert!(msg.contains("<attached_gpus> is 2 but the report has 1 <gpu>"), "{msg}");
    }

    #[test]
    fn reads_the_whole_gpu_of_a_mig_enabled_a100() {
        // The A100 recording made a one-GPU report: its memory is the GPU's own 81920 MiB, not
        // the 19968 MiB of each of its MIG devices.
        let xml =
            A100.replace("<attached_gpus>4</attached_gpus>", "<attached_gpus>1</attached_gpus>");
        let report = parse_nvidia_smi(&xml).unwrap();
        assert_eq!(
            (report.driver_version.as_str(), report.cuda_version.as_str()),
            ("535.54.03", "12.2")
        );
        let want = gpu(
            0,
            "NVIDIA A100-SXM4-80GB",
            "GPU-513536b6-7d19-9063-b049-1e69664bb298",
            "00000000:01:00.0",
            81_920,
        );
        assert_eq!(report.gpus, vec![want]);
        let d = from_report(&report, &host()).unwrap();
        assert_eq!((d.gpu_model.as_str(), d.gpu_count, d.gpu_memory_gb), ("A100 80GB", 1, 80));
    }

    #[test]
    fn refuses_malformed_reports() {
        for xml in ["", "not xml"] {
            assert!(parse_error(xml).contains("not well-formed XML"), "{xml}");
        }
        // Cut short: an open root, and a report cut inside <supported_clocks>, after every
        // field that is read. Either the XML parser or the check of the end refuses them.
        let half = &RTX_3090[..RTX_3090.len() / 2];
        for xml in ["<nvidia_smi_log>", half] {
            let msg = parse_error(xml);
            assert!(msg.contains("not well-formed XML") || msg.contains("truncated"), "{msg}");
        }
        assert!(parse_error("<log/>").contains("not <nvidia_smi_log>"));

        let gpu0 = "GPU 0 (00000000:09:00.0)";
        let cases = [
            ("<uuid>GPU-12345678-aaaa-bbbb-cccc-0123456789ab</uuid>", "", "has no <uuid>"),
            ("GPU-12345678-aaaa-bbbb-cccc-0123456789ab", "N/A", "<uuid> of GPU 0"),
            ("GPU-12345678-aaaa-bbbb-cccc-0123456789ab", "1234", "not a GPU UUID"),
            ("NVIDIA GeForce RTX 3090", "", "<product_name> of GPU 0"),
            ("<total>24576 MiB</total>", "<total>24576 GiB</total>", "not a size in MiB"),
            ("<total>24576 MiB</total>", "<total>N/A</total>", "<total> of <fb_memory_usage>"),
            ("<driver_version>590.44.01</driver_version>", "", "has no <driver_version>"),
            ("<cuda_version>13.1</cuda_version>", "", "has no <cuda_version>"),
            ("<attached_gpus>1</attached_gpus>", "<attached_gpus>one</attached_gpus>", "`one`"),
        ];
        for (from, to, want) in cases {
            let xml = RTX_3090.replacen(from, to, 1);
            assert_ne!(xml, RTX_3090, "{from} is in the fixture");
            let msg = parse_error(&xml);
            let names_gpu = !want.contains("GPU 0") || msg.contains(gpu0);
            assert!(msg.contains(want) && names_gpu, "{from} -> {to}: {msg}");
        }
        // Without the `id` attribute the bus id comes from <pci>/<pci_bus_id>, and parsing
        // still succeeds.
        let xml = RTX_3090.replacen("<gpu id=\"00000000:09:00.0\">", "<gpu>", 1);
        let report = parse_nvidia_smi(&xml).unwrap();
        assert_eq!(report.gpus[0].bus_id, "00000000:09:00.0");
    }

    #[test]
    fn refuses_two_gpus_with_one_uuid() {
        let xml = A5000_X2.replace("0123456789cd", "0123456789ab");
        assert!(parse_error(&xml).contains("share a UUID or bus id"));
    }

    #[test]
    fn refuses_mixed_models() {
        let mut report = parse_nvidia_smi(RTX_3090).unwrap();
        let mut other = parse_nvidia_smi(RTX_3080).unwrap().gpus.remove(0);
        other.index = 1;
        report.gpus.push(other);
        let err = from_report(&report, &host()).unwrap_err();
        assert!(matches!(err, HwError::Unsupported(_)), "{err:?}");
        let msg = err.to_string();
        assert!(msg.starts_with("mixed GPU models"), "{msg}");
        assert!(msg.contains("NVIDIA GeForce RTX 3090") && msg.contains("NVIDIA GeForce RTX 3080"));

        // One product name, two table models: an A100 of each size.
        let a = gpu(0, "NVIDIA A100", "GPU-a", "00000000:01:00.0", 40_960);
        let b = gpu(1, "NVIDIA A100", "GPU-b", "00000000:02:00.0", 81_920);
        let report =
            GpuReport { driver_version: "1".into(), cuda_version: "1".into(), gpus: vec![a, b] };
        let err = from_report(&report, &host()).unwrap_err();
        assert!(err.to_string().starts_with("mixed GPU models"), "{err}");

        let empty = GpuReport { gpus: Vec::new(), ..report };
        assert!(matches!(from_report(&empty, &host()), Err(HwError::NoGpu(_))));
    }

    #[test]
    fn maps_product_names_to_table_models() {
        let cases = [
            ("NVIDIA GeForce RTX 4090", 24_564, Some("RTX 4090")),
            ("GeForce RTX 3090", 24_576, Some("RTX 3090")),
            ("NVIDIA GeForce RTX 3080", 10_240, Some("RTX 3080")),
            ("NVIDIA GeForce RTX 4080", 16_376, Some("RTX 4080")),
            ("NVIDIA GeForce RTX 5090", 32_607, Some("RTX 5090")),
            ("NVIDIA A100-SXM4-80GB", 81_920, Some("A100 80GB")),
            ("NVIDIA A100-SXM4-40GB", 40_960, Some("A100 40GB")),
            ("NVIDIA A100-PCIE-40GB", 40_960, Some("A100 40GB")),
            ("NVIDIA A100 80GB PCIe", 81_920, Some("A100 80GB")),
            ("NVIDIA A100", 40_960, Some("A100 40GB")),
            ("NVIDIA A100", 81_920, Some("A100 80GB")),
            ("NVIDIA H100 80GB HBM3", 81_559, Some("H100 80GB")),
            ("NVIDIA H100 PCIe", 81_559, Some("H100 80GB")),
            // Other cards, which an auditor would not take for the table's.
            ("NVIDIA GeForce RTX 4090 D", 24_564, None),
            ("NVIDIA GeForce RTX 4080 SUPER", 16_376, None),
            ("NVIDIA GeForce RTX 4090 Laptop GPU", 16_376, None),
            ("NVIDIA GeForce RTX 3080 Laptop GPU", 16_384, None),
            ("NVIDIA GeForce RTX 3090 Ti", 24_564, None),
            ("NVIDIA GeForce RTX 3080 Ti", 12_288, None),
            ("NVIDIA GeForce RTX 3080", 12_288, None),
            ("NVIDIA H100 NVL", 95_830, None),
            ("NVIDIA A100-SXM4-40GB", 81_920, None),
            ("NVIDIA A100", 49_152, None),
            ("NVIDIA A100X", 81_920, None),
            ("NVIDIA RTX A5000", 24_564, None),
            ("Tesla V100-SXM2-32GB", 32_768, None),
            ("RTX", 24_564, None),
            ("", 0, None),
        ];
        for (name, mib, want) in cases {
            assert_eq!(model_of(name, mib), want, "{name}, {mib} MiB");
        }
    }

    #[test]
    fn rounds_memory_to_the_table_gb() {
        let cases = [
            (24_564, 24),
            (24_576, 24),
            (81_920, 80),
            (81_559, 80),
            (40_960, 40),
            (10_240, 10),
            (16_376, 16),
            (32_607, 32),
            (511, 0),
            (512, 1),
            (u64::MAX, u32::MAX),
        ];
        for (mib, gb) in cases {
            assert_eq!(table_memory_gb(mib), gb, "{mib} MiB");
        }
    }

    #[test]
    fn parses_meminfo() {
        let text = "MemTotal:       131899340 kB\nMemFree:         1234567 kB\n";
        assert_eq!(parse_meminfo(text).unwrap(), 131_899_340 * 1024);
        assert_eq!(gib_rounded(131_899_340 * 1024), 126);
        for bad in [
            "",
            "MemFree: 1 kB",
            "MemTotal: 12 MB",
            "MemTotal: x kB",
            "MemTotal: +5 kB",
            "MemTotal: 0 kB",
            "MemTotal: 1 kB 2",
        ] {
            assert!(matches!(parse_meminfo(bad), Err(HwError::Parse(_))), "{bad}");
        }
    }

    #[test]
    fn detects_this_host() {
        assert!(cpu_cores() >= 1);
        let host = detect_host(Path::new("/")).unwrap();
        assert!(host.cpu_cores >= 1 && host.ram_gb >= 1 && host.disk_gb >= 1, "{host:?}");
        let missing = Path::new("/nonexistent/dbc-agent");
        assert!(matches!(disk_gb(missing), Err(HwError::Io(..))));
    }

    #[test]
    fn detects_gpus_or_says_there_are_none() {
        // CI has no GPU; a machine with one must give a usable report.
        match detect_gpus() {
            Ok(report) => assert!(!report.gpus.is_empty()),
            Err(HwError::NoGpu(msg)) => assert!(!msg.is_empty()),
            Err(e) => panic!("{e}"),
        }
        let msg = HwError::NoGpu("`nvidia-smi` is not installed or not on PATH".into()).to_string();
        assert!(msg.starts_with("no NVIDIA GPU or driver found") && msg.contains("--spec-file"));
    }

    const SPEC_TOML: &str = r#"
gpu-model = "RTX 4090"
gpu-count = 2
gpu-memory-gb = 24
cpu-cores = 32
ram-gb = 128
disk-gb = 2000
region = "eu-west"
"#;

    const SPEC_JSON: &str = r#"{
        "gpu-model": "A100 80GB", "gpu-count": 8, "gpu-memory-gb": 80, "cpu-cores": 128,
        "ram-gb": 1024, "disk-gb": 15000, "region": "us-east", "calc-point": 1890
    }"#;

    #[test]
    fn parses_spec_files() {
        let spec = parse_spec(SPEC_TOML, false).unwrap();
        let want = SpecFile {
            gpu_model: "RTX 4090".into(),
            gpu_count: 2,
            gpu_memory_gb: 24,
            cpu_cores: 32,
            ram_gb: 128,
            disk_gb: 2_000,
            region: "eu-west".into(),
            calc_point: None,
        };
        assert_eq!(spec, want);

        let spec = parse_spec(SPEC_JSON, true).unwrap();
        assert_eq!(
            (spec.gpu_model.as_str(), spec.gpu_count, spec.calc_point),
            ("A100 80GB", 8, Some(1_890))
        );

        let d = from_spec_file(&want);
        assert_eq!((d.gpu_model.as_str(), d.gpu_count, d.gpu_memory_gb), ("RTX 4090", 2, 24));
        assert_eq!((d.cpu_cores, d.ram_gb, d.disk_gb), (32, 128, 2_000));
        assert_eq!((d.driver, d.cuda, d.gpus), (None, None, Vec::new()));
    }

    #[test]
    fn refuses_bad_spec_files() {
        let unknown = format!("{SPEC_TOML}gpus = 3\n");
        assert!(parse_spec(&unknown, false).unwrap_err().contains("unknown field"));
        let unknown = SPEC_JSON.replace("\"region\"", "\"extra\": 1, \"region\"");
        assert!(parse_spec(&unknown, true).unwrap_err().contains("unknown field"));
        let missing = SPEC_TOML.replace("region = \"eu-west\"\n", "");
        assert!(parse_spec(&missing, false).unwrap_err().contains("missing field"));
        // TOML is not JSON and JSON not TOML.
        assert!(parse_spec(SPEC_TOML, true).is_err());
        assert!(parse_spec(SPEC_JSON, false).is_err());

        let long = "x".repeat(33);
        let cases = [
            ("gpu-model = \"RTX 4090\"", "gpu-model = \"\"", "gpu-model is empty"),
            ("gpu-model = \"RTX 4090\"", "gpu-model = \" RTX 4090\"", "spaces"),
            ("gpu-model = \"RTX 4090\"", &format!("gpu-model = \"{long}\""), "33 bytes"),
            ("gpu-count = 2", "gpu-count = 0", "gpu-count is 0"),
            ("gpu-count = 2", "gpu-count = 1025", "gpu-count is 1025"),
            ("gpu-memory-gb = 24", "gpu-memory-gb = 0", "gpu-memory-gb is 0"),
            ("region = \"eu-west\"", "region = \"\"", "region ``"),
            ("region = \"eu-west\"", "region = \"eu-wést\"", "ASCII"),
            ("region = \"eu-west\"", &format!("region = \"{long}\""), "ASCII bytes"),
        ];
        for (from, to, want) in cases {
            let text = SPEC_TOML.replace(from, to);
            assert_ne!(text, SPEC_TOML);
            let err = parse_spec(&text, false).unwrap_err();
            assert!(err.contains(want), "{to}: {err}");
        }
    }

    #[test]
    fn loads_spec_files_by_extension() {
        let dir = std::env::temp_dir();
        let id = std::process::id();
        let toml_path = dir.join(format!("dbc-agent-hw-{id}-spec.toml"));
        let json_path = dir.join(format!("dbc-agent-hw-{id}-spec.JSON"));
        std::fs::write(&toml_path, SPEC_TOML).unwrap();
        std::fs::write(&json_path, SPEC_JSON).unwrap();
        let from_toml = load_spec_file(&toml_path);
        let from_json = load_spec_file(&json_path);
        std::fs::write(&toml_path, "gpu-model = 1\n").unwrap();
        let bad = load_spec_file(&toml_path);
        std::fs::remove_file(&toml_path).unwrap();
        std::fs::remove_file(&json_path).unwrap();

        assert_eq!(from_toml.unwrap().region, "eu-west");
        assert_eq!(from_json.unwrap().region, "us-east");
        let err = bad.unwrap_err();
        assert!(matches!(err, HwError::SpecFile(_)), "{err:?}");
        assert!(err.to_string().contains(&toml_path.display().to_string()), "{err}");
        assert!(matches!(load_spec_file(&toml_path), Err(HwError::Io(..))));
    }
}
