//! The fake model provider the chat benchmark streams from.
//!
//! By default it runs in a process of its own (this binary, `penny-bench upstream`), as a
//! real provider would: the baseline client then reaches it across processes exactly as
//! penny does, so "added by penny" is penny's work, not the difference between a socket
//! inside one process and one between two. With `--upstream in-process` it runs in the
//! bench's own runtime, next to the clients (how earlier figures were taken).

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use penny_fake_llm::{FakeOptions, FakeServer};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::chat::PROVIDER_KEY;

/// Where the fake provider runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Placement {
    /// A process of its own (the default).
    Process,
    /// The bench's own process, sharing its runtime with the clients.
    InProcess,
}

/// The running fake provider; stopped when dropped.
pub enum Upstream {
    Process { addr: SocketAddr, child: Child },
    InProcess(FakeServer),
}

/// The line `penny-bench upstream` prints once it listens, before the address.
const READY: &str = "penny-bench upstream listening on ";

impl Upstream {
    pub async fn start(placement: Placement) -> anyhow::Result<Upstream> {
        match placement {
            Placement::InProcess => Ok(Upstream::InProcess(
                penny_fake_llm::spawn(options())
                    .await
                    .context("starting the fake model provider")?,
            )),
            Placement::Process => spawn_process().await,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            Upstream::Process { addr, .. } => *addr,
            Upstream::InProcess(fake) => fake.addr,
        }
    }

    pub fn openai_base(&self) -> String {
        format!("http://{}/v1", self.addr())
    }

    /// The provider's own process, when it has one (its CPU is counted apart).
    pub fn pid(&self) -> Option<u32> {
        match self {
            Upstream::Process { child, .. } => child.id(),
            Upstream::InProcess(_) => None,
        }
    }
}

impl Placement {
    pub fn describe(self) -> &'static str {
        match self {
            Placement::Process => {
                "the fake provider in a process of its own, the clients in the bench process"
            }
            Placement::InProcess => "the fake provider and the clients in the bench process",
        }
    }
}

fn options() -> FakeOptions {
    FakeOptions {
        require_api_key: Some(PROVIDER_KEY.into()),
        ..FakeOptions::default()
    }
}

async fn spawn_process() -> anyhow::Result<Upstream> {
    let exe = std::env::current_exe().context("finding the penny-bench binary")?;
    let mut child = Command::new(exe)
        .arg("upstream")
        // Its end of this pipe closes when the bench ends, however it ends.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting the fake model provider's process")?;
    let stdout = child.stdout.take().context("the provider's stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .context("the fake model provider did not start within 10 s")??;
    let Some(addr) = line.as_deref().and_then(|l| l.strip_prefix(READY)) else {
        bail!("the fake model provider said {line:?} instead of its address");
    };
    let addr = addr.parse().context("the fake model provider's address")?;
    Ok(Upstream::Process { addr, child })
}

/// `penny-bench upstream`: serves the fake provider on a free port of 127.0.0.1, after
/// printing its address, until its standard input closes (the bench ended).
pub async fn serve() -> anyhow::Result<()> {
    let server = penny_fake_llm::spawn(options()).await?;
    println!("{READY}{}", server.addr);
    let mut stdin = tokio::io::stdin();
    tokio::io::copy(&mut stdin, &mut tokio::io::sink()).await?;
    server.shutdown().await?;
    Ok(())
}
