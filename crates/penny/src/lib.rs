//! The `penny` binary's library: CLI, typed configuration, the embedded PostgreSQL,
//! first-run bootstrap, `doctor`, and the wiring of every role. `main.rs` only calls
//! [`run`].

pub mod admin;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod database;
pub mod doctor;
pub mod embedded_pg;
pub mod object_sweep;
pub mod roles;
pub mod secrets;
pub mod serve;
pub mod telemetry;

use std::process::ExitCode;

use clap::Parser;

use crate::bootstrap::FirstRun;
use crate::cli::{Cli, Command};
use crate::config::{Config, Source};
use crate::database::Database;
use crate::roles::Roles;

/// Parses the command line and runs it; a configuration error is one line on stderr.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match Source::from_process().and_then(|s| Config::load(&s)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(cfg.log_format, &cfg.log_filter);
    match dispatch(cli.command, cfg).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command, cfg: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { role, port } => {
            // Handlers first: a SIGTERM that comes as soon as we announce (or while we
            // start) must stop us cleanly, not kill us and orphan the embedded cluster.
            let stop = shutdown_signal();
            let running = serve::start(&cfg, &Roles::new(role), port).await?;
            announce(&running, &cfg);
            stop.await;
            tracing::info!("shutting down");
            running.stop().await;
        }
        Command::Migrate => {
            let db = Database::open(&cfg).await?;
            let result = penny_store::migrate(&db.owner).await;
            db.close().await;
            result?;
            println!("migrations applied");
        }
        Command::Admin(cmd) => {
            let db = Database::open(&cfg).await?;
            let result = async {
                let store = db.migrate_and_connect(2).await?;
                admin::run(&store, &db.owner, cmd).await
            }
            .await;
            db.close().await;
            result?;
        }
        Command::Doctor => {
            if !doctor::run(&cfg).await {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn announce(running: &serve::Running, cfg: &Config) {
    let host = if cfg.host == "0.0.0.0" {
        "localhost".to_string()
    } else {
        cfg.host.clone()
    };
    println!(
        "PENNY {} is running at http://{host}:{}",
        env!("CARGO_PKG_VERSION"),
        running.addr.port()
    );
    match &running.first_run {
        Some(FirstRun::Admin { email }) => println!(
            "First run: created tenant `default` with admin {email} (password from PENNY_ADMIN_PASSWORD)"
        ),
        // A fragment: the token stays out of server logs and Referer headers.
        Some(FirstRun::Setup { token }) => println!(
            "Finish set-up in your browser: http://{host}:{}/setup#{token}",
            running.addr.port()
        ),
        None => {}
    }
}

/// Registers the SIGINT/SIGTERM handlers now and returns a future that resolves on the
/// first of them.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let handlers =
        signal(SignalKind::interrupt()).and_then(|int| Ok((int, signal(SignalKind::terminate())?)));
    async move {
        match handlers {
            Ok((mut int, mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}
