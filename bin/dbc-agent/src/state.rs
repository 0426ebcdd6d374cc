//! State that must survive a restart (an auditor's salts and votes above all), written
//! atomically: a temporary file, fsync, rename over the old one, fsync of the directory. A crash
//! leaves either the old file or the new one, never a torn one.

use eyre::Context;
use serde::{Serialize, de::DeserializeOwned};
use std::{
    fs::File,
    io::Write,
    path::{Path, PathBuf},
};

/// A JSON document on disk.
#[derive(Debug, Clone)]
pub(crate) struct Persisted {
    path: PathBuf,
}

impl Persisted {
    /// The document at `path`.
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Reads it, or the default value if it does not exist yet.
    pub(crate) fn load<T: DeserializeOwned + Default>(&self) -> eyre::Result<T> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .wrap_err_with(|| format!("{} is not valid state", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(e) => Err(e).wrap_err_with(|| format!("reading {}", self.path.display())),
        }
    }

    /// Replaces it with `value`, durably, before returning.
    pub(crate) fn store<T: Serialize>(&self, value: &T) -> eyre::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = self.path.with_extension("tmp");
        {
            let mut f =
                File::create(&tmp).wrap_err_with(|| format!("creating {}", tmp.display()))?;
            f.write_all(&serde_json::to_vec_pretty(value)?)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)
            .wrap_err_with(|| format!("replacing {}", self.path.display()))?;
        File::open(dir)?.sync_all()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn stores_and_loads_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = Persisted::new(dir.path().join("sub/state.json"));
        let empty: BTreeMap<String, u64> = p.load().unwrap();
        assert!(empty.is_empty());
        let mut m = BTreeMap::new();
        m.insert("a".to_owned(), 7u64);
        p.store(&m).unwrap();
        assert_eq!(p.load::<BTreeMap<String, u64>>().unwrap(), m);
        assert!(!dir.path().join("sub/state.tmp").exists());
        std::fs::write(dir.path().join("sub/state.json"), b"{torn").unwrap();
        assert!(p.load::<BTreeMap<String, u64>>().is_err(), "garbage is an error, not empty");
    }
}
