//! The preview signing key: an Ed25519 key pair that signs share links
//! (`switchyard_model::share`), kept in `<data>/keys/preview-signing.pk8`.
//!
//! Security invariants:
//! - The key is created on first start (PKCS#8 from `ring`, written to a temp file created
//!   0600 → fsync → rename → directory fsync) and loaded at every start; a file that does not
//!   parse is a start-up error naming the path, never silently replaced (links already handed
//!   out would stop working, and a replaced key hides tampering).
//! - The private half never leaves this module: [`SigningKey`] signs and hands out only the
//!   public half (for `Snapshot.previews`); its `Debug` is redacted, nothing here logs key
//!   bytes, and no API answer carries them.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ring::signature::{Ed25519KeyPair, KeyPair};
use switchyard_model::share::{self, ShareClaims};

/// File name of the signing key under `<data>/keys/`.
pub const KEY_FILE: &str = "preview-signing.pk8";

/// The control plane's share-link signing key.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    public: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// The path of the key file under the data directory `data`.
    pub fn path(data: &Path) -> PathBuf {
        data.join("keys").join(KEY_FILE)
    }

    /// Loads `<data>/keys/preview-signing.pk8`, creating it first if it does not exist.
    pub fn load_or_create(data: &Path) -> anyhow::Result<SigningKey> {
        let path = Self::path(data);
        let pkcs8 = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let doc = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                    .map_err(|_| anyhow::anyhow!("generating the preview signing key"))?;
                write_key(&path, doc.as_ref()).with_context(|| format!("writing {}", path.display()))?;
                tracing::info!(path = %path.display(), "generated the preview signing key");
                doc.as_ref().to_vec()
            }
            Err(e) => return Err(e).with_context(|| format!("reading the preview signing key {}", path.display())),
        };
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|e| {
            anyhow::anyhow!(
                "the preview signing key {} is not an Ed25519 PKCS#8 key ({e}); restore it from a backup, or \
                 remove it to make a new one (every share link handed out stops working)",
                path.display()
            )
        })?;
        let public = share::public_key_text(pair.public_key().as_ref());
        Ok(SigningKey { pair, public })
    }

    /// The verification key edges get: Ed25519 public key, base64url without padding.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// The share token for `claims`.
    pub fn sign(&self, claims: &ShareClaims) -> String {
        share::encode(claims, |payload| self.pair.sign(payload))
    }
}

/// temp file (created 0600) → fsync → rename → fsync the directory; the directory is 0700.
fn write_key(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let dir = path.parent().expect("a key path has a directory");
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o600))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests;
