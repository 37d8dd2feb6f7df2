//! `penny serve`: wires configuration, database, limits and the HTTP app for the roles
//! this process runs, and shuts everything down in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use penny_api::{ApiSettings, AppState, ToolServices};
use penny_auth::TokenIssuer;
use penny_bus::{Bus, MemoryBus, RedisBus};
use penny_chat::{Engine, EngineSettings};
use penny_knowledge::IngestJobs;
use penny_limits::{Limiter, MemoryLimiter, RedisLimiter};
use penny_objects::Objects;
use penny_queue::{Waiter, Worker};
use penny_sandbox::Sandbox;
use penny_store::Store;
use penny_tools::jobs::Publish;
use penny_tools::{Registry, ToolJobs, Tools};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bootstrap::{self, FirstRun};
use crate::config::Config;
use crate::database::Database;
use crate::roles::{Role, Roles};
use crate::secrets;

/// Per-subscriber buffer of the event bus: a client this far behind resyncs from the log.
const BUS_CAPACITY: usize = 1024;

/// A started server; [`Running::stop`] shuts it down gracefully.
pub struct Running {
    pub addr: SocketAddr,
    pub first_run: Option<FirstRun>,
    pub store: Store,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    db: Database,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.store.close().await;
        self.db.close().await;
    }
}

pub async fn start(cfg: &Config, roles: &Roles, port: Option<u16>) -> anyhow::Result<Running> {
    let db = Database::open(cfg).await?;
    let store = match db.migrate_and_connect(cfg.database_max_connections).await {
        Ok(s) => s,
        Err(e) => {
            db.close().await;
            return Err(e);
        }
    };
    // Every step that can fail runs before anything is spawned, so a failure (port in
    // use, Redis down, …) closes the database, and with it stops the embedded cluster,
    // instead of leaving that cluster running orphaned.
    let prepared = async {
        let limiter: Arc<dyn Limiter> = match &cfg.redis_url {
            Some(url) => Arc::new(
                RedisLimiter::connect(url, &cfg.redis_prefix)
                    .await
                    .context("connecting to REDIS_URL")?,
            ),
            None => Arc::new(MemoryLimiter::new()),
        };
        let bus: Arc<dyn Bus> = match &cfg.redis_url {
            Some(url) => Arc::new(
                RedisBus::connect(url, &cfg.redis_prefix, BUS_CAPACITY)
                    .await
                    .context("connecting the event bus to REDIS_URL")?,
            ),
            None => Arc::new(MemoryBus::new(BUS_CAPACITY)),
        };
        let objects = Objects::new(&cfg.objects).context("opening object storage")?;
        let waiter = Waiter::start(store.pool())
            .await
            .context("listening for job completions")?;
        let secret = secrets::jwt_secret(cfg)?;
        let sealing = secrets::sealing_key(cfg)?;
        let port = port.unwrap_or(if roles.only(Role::Ws) {
            cfg.ws_port
        } else {
            cfg.port
        });
        let listener = TcpListener::bind((cfg.host.as_str(), port))
            .await
            .with_context(|| format!("binding {}:{port} (set PORT or --port)", cfg.host))?;
        let addr = listener.local_addr()?;
        // Late: a start that fails before this issues no set-up token. Only a process
        // serving the web app offers the set-up link.
        let first_run = bootstrap::ensure_default_tenant(&store, cfg, roles.has(Role::Api)).await?;
        bootstrap::ensure_shortcut_models(&store, cfg, &sealing).await?;
        let sandbox = if roles.has(Role::Worker) {
            start_sandbox(cfg).await
        } else {
            Err("this process does not run the worker role".to_string())
        };
        anyhow::Ok((
            first_run, limiter, bus, secret, sealing, listener, addr, objects, waiter, sandbox,
        ))
    }
    .await;
    let (first_run, limiter, bus, secret, sealing, listener, addr, objects, waiter, sandbox) =
        match prepared {
            Ok(p) => p,
            Err(e) => {
                store.close().await;
                db.close().await;
                return Err(e);
            }
        };
    let engine_settings = EngineSettings {
        lease: cfg.run_lease,
        delta_frame: cfg.delta_frame,
        event_writers: cfg.event_writers,
        outbound: cfg.outbound.clone(),
        run_max: cfg.run_max,
        run_max_output_bytes: cfg.run_max_output_bytes,
        tenant_max_runs: cfg.tenant_max_runs,
        ..EngineSettings::default()
    };
    let (shutdown, signal) = watch::channel(false);
    // Knowledge needs the local embedding model; without it collections refuse clearly.
    let embedder =
        penny_knowledge::Embedder::local(&cfg.embedding_model_dir).map_err(|e| e.to_string());
    if let Err(reason) = &embedder {
        tracing::warn!(%reason, "knowledge with the local model is unavailable");
    }
    // Tenants' embedding models are called through the outbound policy, like chat models.
    let embedders =
        penny_knowledge::Embedders::new(embedder, cfg.outbound.clone(), sealing.clone());
    let registry = Arc::new(Registry::builtin());
    let runner = Arc::new(Tools::new(registry.clone(), store.clone(), waiter.clone()));
    let engine = Engine::new(
        store.clone(),
        bus,
        sealing,
        runner,
        engine_settings,
        signal.clone(),
    );
    let tool_services = ToolServices {
        registry: registry.clone(),
        objects: objects.clone(),
        waiter,
        upload_limit_bytes: cfg.upload_limit_bytes,
        link_key: Sha256::digest(
            [b"penny download links\0".as_slice(), secret.as_bytes()].concat(),
        )
        .to_vec(),
        link_ttl: Duration::from_secs(300),
        embedders: embedders.clone(),
        outbound: penny_outbound::Outbound::with_connect_timeout(
            cfg.outbound.clone(),
            Duration::from_secs(10),
            concat!("penny/", env!("CARGO_PKG_VERSION")),
        ),
    };
    let state = AppState::new(
        store.clone(),
        engine.clone(),
        TokenIssuer::new(secret.as_bytes(), cfg.access_ttl_secs),
        limiter,
        api_settings(cfg),
        tool_services,
    );
    let mut tasks = vec![heartbeat(store.clone(), roles, signal.clone()).await];
    let app = if roles.has(Role::Api) {
        penny_api::router(state)
    } else if roles.has(Role::Ws) {
        penny_api::ws_router(state)
    } else {
        penny_api::health_router(state)
    };
    let mut http_signal = signal.clone();
    tasks.push(tokio::spawn(async move {
        // Events are many small writes: without TCP_NODELAY each waits behind the ACK of
        // the one before (Nagle and delayed ACK hold it up to 40 ms).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
        });
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = http_signal.wait_for(|stop| *stop).await;
        })
        .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "HTTP server failed");
        }
    }));
    if roles.has(Role::Worker) {
        let publisher = engine.clone();
        let publish: Publish = Arc::new(move |conversation, events| {
            let engine = publisher.clone();
            tokio::spawn(async move { engine.publish_stored(conversation, &events).await });
        });
        let forwarder = engine.clone();
        let progress: penny_tools::jobs::Progress = Arc::new(move |run, event| {
            let engine = forwarder.clone();
            tokio::spawn(async move { engine.tool_progress(run, &event).await });
        });
        let handler = ToolJobs::new(
            registry,
            store.clone(),
            objects.clone(),
            sandbox,
            embedders.clone(),
            publish,
            progress,
        );
        tasks.push(Worker::spawn(
            store.pool().clone(),
            cfg.tools_queue.clone(),
            Arc::new(handler),
            signal.clone(),
        ));
        let ingest = IngestJobs::new(store.clone(), objects.clone(), embedders.clone());
        tasks.push(Worker::spawn(
            store.pool().clone(),
            cfg.ingest_queue.clone(),
            Arc::new(ingest),
            signal.clone(),
        ));
    }
    if roles.has(Role::Scheduler) {
        tasks.push(tokio::spawn(scheduler(store.clone(), signal.clone())));
        tasks.push(tokio::spawn(object_sweeper(
            store.clone(),
            objects.clone(),
            cfg.object_sweep_every,
            signal.clone(),
        )));
        tasks.push(tokio::spawn(rollup_folder(store.clone(), signal.clone())));
        tasks.push(tokio::spawn(reaper(
            engine,
            cfg.run_lease / 3,
            signal.clone(),
        )));
    }
    tracing::info!(%addr, roles = %roles, version = env!("CARGO_PKG_VERSION"), "PENNY is serving");
    Ok(Running {
        addr,
        first_run,
        store,
        shutdown,
        tasks,
        db,
    })
}

/// Starts the Python sandbox; when it cannot run here, says why (python_execute then
/// refuses with that reason; nothing ever runs unsandboxed).
async fn start_sandbox(cfg: &Config) -> Result<Arc<Sandbox>, String> {
    match Sandbox::start(cfg.sandbox.clone()).await {
        Ok(s) => Ok(Arc::new(s)),
        Err(e) => {
            tracing::warn!(error = %e, "the Python sandbox is unavailable; python_execute will refuse to run");
            Err(e.to_string())
        }
    }
}

/// Periodic maintenance (the seed's daily cleanup). Idempotent, so several scheduler
/// instances running it is harmless.
async fn scheduler(store: Store, mut stop: watch::Receiver<bool>) {
    const EVERY: Duration = Duration::from_secs(6 * 3600);
    loop {
        match penny_store::sessions::purge_ended(store.pool(), 7).await {
            Ok(n) => tracing::info!(purged_sessions = n, "maintenance done"),
            Err(e) => tracing::warn!(error = %e, "maintenance failed; will retry"),
        }
        match penny_store::policies::sweep_retention(&store).await {
            Ok(n) => tracing::info!(deleted_conversations = n, "retention sweep done"),
            Err(e) => tracing::warn!(error = %e, "retention sweep failed; will retry"),
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Deletes orphaned objects every `every` (see [`crate::object_sweep`]).
async fn object_sweeper(
    store: Store,
    objects: Objects,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        match crate::object_sweep::sweep(&store, &objects).await {
            Ok(s) if s.deleted + s.failed > 0 => {
                tracing::info!(
                    deleted = s.deleted,
                    failed = s.failed,
                    "orphaned objects swept"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweeping orphaned objects failed; will retry"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// How often a process writes its row in `instances` (the health page's "alive").
const HEARTBEAT: Duration = Duration::from_secs(10);

/// Writes this process's row in `instances` now (so it is listed once serving) and every
/// [`HEARTBEAT`]; removes it on a clean shutdown. A failed beat is only logged: the health
/// page then shows the instance as not alive, which is what it is to the others.
async fn heartbeat(store: Store, roles: &Roles, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    let id = uuid::Uuid::new_v4();
    let roles: Vec<String> = roles.to_string().split(',').map(str::to_string).collect();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let beat = move |store: Store| {
        let (host, roles) = (host.clone(), roles.clone());
        async move {
            let me = penny_store::instances::Announce {
                id,
                host: &host,
                roles: &roles,
                version: env!("CARGO_PKG_VERSION"),
            };
            if let Err(e) = penny_store::instances::beat(store.pool(), &me).await {
                tracing::warn!(error = %e, "instance heartbeat failed; will retry");
            }
        }
    };
    beat(store.clone()).await;
    tokio::spawn(async move {
        loop {
            let stopping = tokio::select! {
                _ = tokio::time::sleep(HEARTBEAT) => false,
                _ = stop.wait_for(|s| *s) => true,
            };
            if stopping {
                break;
            }
            beat(store.clone()).await;
        }
        if let Err(e) = penny_store::instances::leave(store.pool(), id).await {
            tracing::warn!(error = %e, "removing this instance from the list failed");
        }
    })
}

/// Finishes runs whose instance died (lease expired), so no run stays "streaming".
/// Adds finished runs to the analytics rollups every [`FOLD_EVERY`] (reports fold what is
/// left before they read, so they never miss a run; see migration 0012).
async fn rollup_folder(store: Store, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(FOLD_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if let Err(e) = penny_store::analytics::fold_runs_now(&store).await {
            tracing::warn!(error = %e, "adding finished runs to the rollups failed; will retry");
        }
    }
}

/// How often the scheduler folds finished runs into the analytics rollups.
const FOLD_EVERY: Duration = Duration::from_secs(2);

async fn reaper(engine: Engine, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if let Err(e) = engine.reap_expired_runs().await {
            tracing::warn!(error = %e, "reaping expired runs failed; will retry");
        }
    }
}

fn api_settings(cfg: &Config) -> ApiSettings {
    ApiSettings {
        version: env!("CARGO_PKG_VERSION"),
        access_ttl_secs: cfg.access_ttl_secs,
        refresh_ttl_days: cfg.refresh_ttl_days,
        login_max_age_days: cfg.login_max_age_days,
        cors_origins: cfg.frontend_urls.clone(),
        request_timeout: cfg.request_timeout,
        body_limit_bytes: cfg.body_limit_bytes,
        rate_limit_per_minute: cfg.rate_limit_per_minute,
        rate_limit_ip_per_minute: cfg.rate_limit_ip_per_minute,
        login_max_failures: cfg.login_max_failures,
        login_max_failures_per_ip: cfg.login_max_failures_per_ip,
        login_max_failures_per_account: cfg.login_max_failures_per_account,
        auth_max_failures_per_ip: cfg.auth_max_failures_per_ip,
        login_window: cfg.login_window,
        trust_proxy: cfg.trust_proxy.clone(),
        cookie_secure: cfg.cookie_secure,
        max_streams_per_user: cfg.max_streams_per_user,
        redis_configured: cfg.redis_url.is_some(),
    }
}
