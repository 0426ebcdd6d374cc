//! Never sign twice: watermarks of what a validator signed, persisted before a signature exists.
//!
//! A validator that signs two different headers for one slot, or two votes at one height, is
//! slashed. Both can happen to an honest node that forgets what it signed: a restart, a power
//! loss, or an unwind of its own block within its slot. So the producer records the timestamp
//! of every header it seals, and the voter the height of every vote, in a file in the data
//! directory — written to a temporary file, fsynced, renamed over the old one and the directory
//! fsynced — *before* it signs, and refuses to sign at or below the recorded value. A crash at
//! any point leaves either the old or the new watermark, never an empty or torn file; a file
//! that does not parse stops the validator instead of being read as "nothing signed yet".

use crate::ConsensusError;
use parking_lot::Mutex;
use std::{
    io::Write,
    path::{Path, PathBuf},
};

/// Writes `bytes` to `path` atomically and durably: temporary file, fsync, rename, fsync of
/// the directory.
pub fn persist_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Reads a watermark file: `None` when it does not exist, an error when it exists but does not
/// hold `count` numbers.
fn read_numbers(path: &Path, count: usize) -> Result<Option<Vec<u64>>, ConsensusError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(watermark_error(path, e)),
    };
    let numbers: Result<Vec<u64>, _> = text.split_whitespace().map(str::parse).collect();
    match numbers {
        // Older files hold the first number only.
        Ok(mut n) if !n.is_empty() && n.len() <= count => {
            n.resize(count, 0);
            Ok(Some(n))
        }
        _ => Err(watermark_error(path, "unreadable contents; refusing to sign")),
    }
}

fn watermark_error(path: &Path, e: impl std::fmt::Display) -> ConsensusError {
    ConsensusError::Watermark(format!("{}: {e}", path.display()))
}

/// A monotonic watermark: [`Watermark::advance`] succeeds only for a value above the last one,
/// and persists it (when backed by a file) before returning.
#[derive(Debug)]
pub struct Watermark {
    file: Option<PathBuf>,
    /// (the value the watermark orders by, a companion value recorded with it).
    last: Mutex<(u64, u64)>,
}

impl Watermark {
    /// A watermark kept in `file` (created on the first advance), or in memory only.
    pub fn open(file: Option<PathBuf>) -> Result<Self, ConsensusError> {
        let last = match &file {
            Some(f) => match read_numbers(f, 2)? {
                Some(n) => (n[0], n[1]),
                None => (0, 0),
            },
            None => (0, 0),
        };
        Ok(Self { file, last: Mutex::new(last) })
    }

    /// A watermark kept in memory only (tests and dev).
    pub fn in_memory() -> Self {
        Self { file: None, last: Mutex::new((0, 0)) }
    }

    /// The last recorded (value, companion).
    pub fn last(&self) -> (u64, u64) {
        *self.last.lock()
    }

    /// Records `value` (with `companion`) if it is above the last value, durably, and runs
    /// `sign` while still holding the watermark, so two callers cannot both pass it. Refuses
    /// (without calling `sign`) at or below the last value, or if persisting fails.
    pub fn advance<T>(
        &self,
        value: u64,
        companion: u64,
        sign: impl FnOnce() -> Result<T, ConsensusError>,
    ) -> Result<T, ConsensusError> {
        let mut last = self.last.lock();
        if value <= last.0 {
            return Err(ConsensusError::AlreadySigned { value, last: last.0 });
        }
        if let Some(f) = &self.file {
            persist_atomic(f, format!("{value} {companion}\n").as_bytes())
                .map_err(|e| watermark_error(f, e))?;
        }
        *last = (value, companion);
        sign()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watermark_only_moves_up_and_survives_a_restart() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("seal");
        let w = Watermark::open(Some(file.clone())).expect("open");
        assert_eq!(w.advance(10, 3, || Ok(1)).expect("first"), 1);
        assert!(matches!(w.advance(10, 4, || Ok(2)), Err(ConsensusError::AlreadySigned { .. })));
        assert!(w.advance(9, 4, || Ok(2)).is_err());
        let w = Watermark::open(Some(file.clone())).expect("reopen");
        assert_eq!(w.last(), (10, 3));
        assert!(w.advance(10, 3, || Ok(())).is_err(), "refused after a restart");
        w.advance(11, 4, || Ok(())).expect("later slot");
        assert!(!dir.path().join(".seal.tmp").exists(), "the temporary file was renamed");
    }

    /// Security review L2: a torn or empty file must not read as "nothing signed".
    #[test]
    fn l2_an_unreadable_watermark_refuses_instead_of_restarting_from_zero() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("seal");
        std::fs::write(&file, "").expect("write");
        assert!(Watermark::open(Some(file.clone())).is_err());
        std::fs::write(&file, "12 x").expect("write");
        assert!(Watermark::open(Some(file.clone())).is_err());
        std::fs::write(&file, "12").expect("write");
        assert_eq!(Watermark::open(Some(file)).expect("older format").last(), (12, 0));
    }

    #[test]
    fn the_signature_is_not_made_when_persisting_fails() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("missing-dir").join("seal");
        let w = Watermark::open(Some(file)).expect("open");
        let mut signed = false;
        assert!(
            w.advance(5, 0, || {
                signed = true;
                Ok(())
            })
            .is_err()
        );
        assert!(!signed);
        assert_eq!(w.last(), (0, 0), "nothing recorded");
    }
}
