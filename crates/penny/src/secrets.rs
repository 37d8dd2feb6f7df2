//! Start-up secrets: the JWT signing secret and the sealing key, from configuration or, in
//! development, generated on first run and kept in the data folder (mode 0600) so tokens
//! and sealed keys survive restarts.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use anyhow::Context;
use penny_auth::SealingKey;
use rand::distributions::Alphanumeric;
use rand::Rng;

use crate::config::Config;

pub fn jwt_secret(cfg: &Config) -> anyhow::Result<String> {
    if let Some(s) = &cfg.jwt_secret {
        return Ok(s.clone());
    }
    kept(
        cfg,
        "jwt_secret",
        |s| s.len() >= 32,
        || {
            rand::thread_rng()
                .sample_iter(&Alphanumeric)
                .take(64)
                .map(char::from)
                .collect()
        },
    )
}

/// The key that seals upstream API keys: `PENNY_ENCRYPTION_KEY`, or in development one
/// generated and kept in the data folder.
pub fn sealing_key(cfg: &Config) -> anyhow::Result<SealingKey> {
    let text = match &cfg.encryption_key {
        Some(k) => k.clone(),
        None => kept(
            cfg,
            "encryption_key",
            |s| SealingKey::from_base64(s).is_ok(),
            SealingKey::generate_base64,
        )?,
    };
    SealingKey::from_base64(&text)
        .map_err(|e| anyhow::anyhow!("config error: PENNY_ENCRYPTION_KEY {e}"))
}

/// Reads `name` from the data folder if valid, else generates, stores (0600) and returns it.
fn kept(
    cfg: &Config,
    name: &str,
    valid: impl Fn(&str) -> bool,
    generate: impl Fn() -> String,
) -> anyhow::Result<String> {
    let path = cfg.data_dir.join(name);
    if let Ok(s) = std::fs::read_to_string(&path) {
        if valid(s.trim()) {
            return Ok(s.trim().to_string());
        }
    }
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("creating {}", cfg.data_dir.display()))?;
    let secret = generate();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(secret.as_bytes())?;
    tracing::info!(path = %path.display(), "generated a {name} for development");
    Ok(secret)
}
