//! The JWT signing secret: `JWT_SECRET`, or in development a random one generated on first
//! run and kept in the data folder (mode 0600) so tokens survive restarts.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use anyhow::Context;
use rand::distributions::Alphanumeric;
use rand::Rng;

use crate::config::Config;

pub fn jwt_secret(cfg: &Config) -> anyhow::Result<String> {
    if let Some(s) = &cfg.jwt_secret {
        return Ok(s.clone());
    }
    let path = cfg.data_dir.join("jwt_secret");
    if let Ok(s) = std::fs::read_to_string(&path) {
        if s.trim().len() >= 32 {
            return Ok(s.trim().to_string());
        }
    }
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("creating {}", cfg.data_dir.display()))?;
    let secret: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(64)
        .map(char::from)
        .collect();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(secret.as_bytes())?;
    tracing::info!(path = %path.display(), "no JWT_SECRET: generated one for development");
    Ok(secret)
}
