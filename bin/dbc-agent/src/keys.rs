//! Keys in encrypted keystores (Web3 Secret Storage v3: scrypt + AES-128-CTR, as geth and
//! Foundry's `cast wallet` write them), unlocked with a password from a file or the
//! `DBC_AGENT_PASSWORD` environment variable.

use alloy_signer_local::PrivateKeySigner;
use eyre::{Context, bail};
use std::path::{Path, PathBuf};

/// Where the password comes from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Password {
    /// A file whose first line is the password.
    pub(crate) file: Option<PathBuf>,
}

impl Password {
    /// The password: from the file if one was given, else from `DBC_AGENT_PASSWORD`.
    pub(crate) fn read(&self) -> eyre::Result<String> {
        if let Some(f) = &self.file {
            let text = std::fs::read_to_string(f)
                .wrap_err_with(|| format!("reading the password file {}", f.display()))?;
            return Ok(text.lines().next().unwrap_or("").to_owned());
        }
        match std::env::var("DBC_AGENT_PASSWORD") {
            Ok(p) => Ok(p),
            Err(_) => bail!("no keystore password: pass --password-file or set DBC_AGENT_PASSWORD"),
        }
    }
}

/// Unlocks the keystore at `path`.
pub(crate) fn load(path: &Path, password: &Password) -> eyre::Result<PrivateKeySigner> {
    let pw = password.read()?;
    PrivateKeySigner::decrypt_keystore(path, pw)
        .map_err(|e| eyre::eyre!("unlocking the keystore {}: {e}", path.display()))
}

/// Writes `key` into a new keystore file `path` (refusing to overwrite one).
pub(crate) fn save(path: &Path, key: &PrivateKeySigner, password: &Password) -> eyre::Result<()> {
    if path.exists() {
        bail!("{} exists; refusing to overwrite a key", path.display());
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        bail!("{} is not a file name", path.display());
    };
    let pw = password.read()?;
    let mut rng = rand08::thread_rng();
    PrivateKeySigner::encrypt_keystore(dir, &mut rng, key.to_bytes(), pw, Some(name))
        .map_err(|e| eyre::eyre!("writing the keystore {}: {e}", path.display()))?;
    restrict(path)?;
    Ok(())
}

/// Unlocks the keystore at `path`, creating it with a new random key first if it does not exist
/// (the machine key: created on the machine, never leaves it).
pub(crate) fn load_or_create(path: &Path, password: &Password) -> eyre::Result<PrivateKeySigner> {
    if path.exists() {
        return load(path, password);
    }
    let key = PrivateKeySigner::random();
    save(path, &key, password)?;
    tracing::info!(path = %path.display(), address = %key.address(), "created a new key");
    Ok(key)
}

/// Makes `path` readable by its owner only.
fn restrict(path: &Path) -> eyre::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .wrap_err_with(|| format!("restricting {}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_saved_key_unlocks_only_with_its_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "correct horse\n").unwrap();
        let password = Password { file: Some(pw.clone()) };
        let key = load_or_create(&path, &password).unwrap();
        assert_eq!(load(&path, &password).unwrap().address(), key.address());
        // Not stored in the clear.
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&alloy_primitives::hex::encode(key.to_bytes())));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::write(&pw, "wrong\n").unwrap();
        assert!(load(&path, &password).is_err());
        assert!(save(&path, &key, &password).is_err(), "never overwrites a key");
    }
}
