//! The embedded default: with no `DATABASE_URL`, PENNY runs its own private PostgreSQL
//! cluster from the PostgreSQL binaries installed on the machine, under
//! `<data_dir>/pg`, listening only on a Unix socket in that folder.
//!
//! PostgreSQL refuses to run as root, so when PENNY runs as root the cluster runs as an
//! unprivileged system user (`postgres` if it exists, else `nobody`; `PENNY_PG_USER`
//! overrides) that owns the cluster folder.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context};
use nix::unistd::{Gid, Uid, User};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use tokio::process::Command;

/// Socket "port" (only names the socket file; nothing listens on TCP).
const PORT: u16 = 5432;
const SUPERUSER: &str = "penny";
const DATABASE: &str = "penny";

pub struct EmbeddedPg {
    bin: PathBuf,
    data: PathBuf,
    socket_dir: PathBuf,
    run_as: Option<(Uid, Gid)>,
    /// Every PENNY process using this cluster holds a shared lock on this file; the last
    /// one out (the one that can then take it exclusively) stops the cluster. A cluster
    /// left running by a crashed process is therefore adopted, not orphaned.
    lock: std::fs::File,
}

impl EmbeddedPg {
    /// Initialises the cluster on first use, starts it, and creates the `penny` database.
    pub async fn start(data_dir: &Path, bin_override: Option<&Path>) -> anyhow::Result<Self> {
        let bin = match bin_override {
            Some(b) => b.to_path_buf(),
            None => find_bin_dir()?,
        };
        let base = absolute(&data_dir.join("pg"))?;
        std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
        let run_as = unprivileged_user()?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(base.join("penny.lock"))
            .context("opening the embedded cluster's lock file")?;
        let pg = EmbeddedPg {
            bin,
            data: base.join("data"),
            socket_dir: base.clone(),
            run_as,
            lock,
        };
        // Exclusive while starting, so two processes never run initdb or start at once.
        // When others hold it shared, the cluster is up and in use: join them.
        loop {
            match pg.lock.try_lock() {
                Ok(()) => {
                    pg.start_alone(&base).await?;
                    pg.lock
                        .lock_shared()
                        .context("locking the embedded cluster")?;
                    break;
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    // Waits while another process holds it exclusively (starting or stopping).
                    pg.lock
                        .lock_shared()
                        .context("locking the embedded cluster")?;
                    if pg.running().await {
                        tracing::info!(data = %pg.data.display(), "embedded PostgreSQL already running; sharing it");
                        break;
                    }
                    // Its last user just stopped it: start it ourselves.
                    pg.lock.unlock()?;
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(e).context("locking the embedded cluster")
                }
            }
        }
        tracing::info!(
            socket = %pg.socket_dir.display(),
            "no DATABASE_URL: using the embedded PostgreSQL cluster in {}",
            base.display()
        );
        Ok(pg)
    }

    /// Initialises (first run) and starts the cluster while holding the lock exclusively.
    async fn start_alone(&self, base: &Path) -> anyhow::Result<()> {
        if let Some((uid, gid)) = self.run_as {
            chown_tree(base, uid, gid)?;
        }
        if !self.data.join("PG_VERSION").exists() {
            self.initdb().await?;
        }
        if self.running().await {
            tracing::info!(data = %self.data.display(), "adopting an embedded PostgreSQL left running");
        } else {
            self.pg_ctl_start().await?;
        }
        if let Err(e) = self.ensure_database().await {
            self.stop().await;
            return Err(e);
        }
        Ok(())
    }

    /// Connection options for the `penny` database, as the cluster's superuser (the owner).
    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(PORT)
            .username(SUPERUSER)
            .database(DATABASE)
    }

    /// Stops the cluster unless another PENNY process still uses it (fast shutdown:
    /// clients disconnected, data flushed).
    pub async fn stop(&self) {
        let _ = self.lock.unlock();
        if !matches!(self.lock.try_lock(), Ok(())) {
            tracing::info!(
                "embedded PostgreSQL still used by another PENNY process; leaving it running"
            );
            return;
        }
        let result = self
            .cmd("pg_ctl")
            .args(["-D"])
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"])
            .output()
            .await;
        match result {
            Ok(o) if o.status.success() => tracing::info!("embedded PostgreSQL stopped"),
            Ok(o) => {
                tracing::warn!(stderr = %String::from_utf8_lossy(&o.stderr), "embedded PostgreSQL did not stop cleanly")
            }
            Err(e) => tracing::warn!(error = %e, "could not run pg_ctl stop"),
        }
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(self.bin.join(program));
        c.stdin(Stdio::null())
            .env("LC_ALL", "C.UTF-8")
            .env_remove("PGDATA");
        if let Some((uid, gid)) = self.run_as {
            c.uid(uid.as_raw()).gid(gid.as_raw());
            // The child must not inherit root's supplementary groups either.
            c.env("HOME", &self.socket_dir);
        }
        c
    }

    async fn initdb(&self) -> anyhow::Result<()> {
        tracing::info!(data = %self.data.display(), "initialising the embedded PostgreSQL cluster (first run)");
        let out = self
            .cmd("initdb")
            .arg("-D")
            .arg(&self.data)
            .args([
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ])
            .output()
            .await
            .with_context(|| format!("running {}", self.bin.join("initdb").display()))?;
        if !out.status.success() {
            bail!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&out.stderr).trim(),
                self.permission_hint()
            );
        }
        Ok(())
    }

    fn permission_hint(&self) -> String {
        match self.run_as {
            Some(_) => format!(
                " (the cluster runs as an unprivileged user, which must be able to reach {}: \
                 keep PENNY_DATA_DIR outside a private home such as /root)",
                self.socket_dir.display()
            ),
            None => String::new(),
        }
    }

    async fn running(&self) -> bool {
        self.cmd("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .is_ok_and(|s| s.success())
    }

    async fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let opts = format!(
            "-c listen_addresses='' -k {} -p {PORT} -c unix_socket_permissions=0700",
            self.socket_dir.display()
        );
        let out = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.socket_dir.join("postgresql.log"))
            .args(["-w", "-t", "60", "-o", &opts, "start"])
            .output()
            .await
            .context("running pg_ctl start")?;
        if !out.status.success() {
            let log =
                std::fs::read_to_string(self.socket_dir.join("postgresql.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            bail!(
                "embedded PostgreSQL did not start: {} {}{}",
                String::from_utf8_lossy(&out.stderr).trim(),
                tail.into_iter().rev().collect::<Vec<_>>().join(" | "),
                self.permission_hint()
            );
        }
        Ok(())
    }

    async fn ensure_database(&self) -> anyhow::Result<()> {
        let mut conn = self
            .connect_options()
            .database("postgres")
            .connect()
            .await
            .context("connecting to the embedded PostgreSQL")?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(DATABASE)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            sqlx::query(&format!("CREATE DATABASE {DATABASE}"))
                .execute(&mut conn)
                .await?;
        }
        conn.close().await?;
        Ok(())
    }
}

/// The newest PostgreSQL installed under Debian's layout, else whatever `initdb` is on PATH.
pub fn find_bin_dir() -> anyhow::Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
        .context(
            "no PostgreSQL server binaries found (initdb, pg_ctl): install PostgreSQL 15+ \
             (apt install postgresql), set PENNY_PG_BIN, or set DATABASE_URL",
        )
}

fn unprivileged_user() -> anyhow::Result<Option<(Uid, Gid)>> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    let wanted = std::env::var("PENNY_PG_USER").ok();
    let names: Vec<&str> = match wanted.as_deref() {
        Some(n) => vec![n],
        None => vec!["postgres", "nobody"],
    };
    for name in names {
        if let Some(u) = User::from_name(name)? {
            if !u.uid.is_root() {
                return Ok(Some((u.uid, u.gid)));
            }
        }
    }
    bail!("running as root, but no unprivileged user (postgres or nobody) exists to run PostgreSQL; set PENNY_PG_USER")
}

fn chown_tree(path: &Path, uid: Uid, gid: Gid) -> anyhow::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    use std::os::unix::fs::MetadataExt;
    if meta.uid() != uid.as_raw() || meta.gid() != gid.as_raw() {
        nix::unistd::chown(path, Some(uid), Some(gid))
            .with_context(|| format!("chown {}", path.display()))?;
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}
