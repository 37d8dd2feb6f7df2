//! Test harness: a fresh database per test (dropped afterwards), migrated by the real
//! migrations, with one tenant and the application pool (`penny_app`, under RLS).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use penny_queue::{Job, JobCounts, JobHandler, JobId, NewJob, QueueConfig, Worker};
use penny_store::{Store, TenantId};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

pub fn server_url() -> String {
    std::env::var("PENNY_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database that exists for one test.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let name = format!("penny_test_{}", Uuid::new_v4().simple());
        let mut conn = PgConnectOptions::from_str(&server_url())
            .unwrap()
            .connect()
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let opts = PgConnectOptions::from_str(&server_url()).unwrap();
        let url = format!(
            "postgres://{}@{}:{}/{name}",
            opts.get_username(),
            opts.get_host(),
            opts.get_port()
        );
        TestDb { name, url }
    }

    pub fn options(&self) -> PgConnectOptions {
        PgConnectOptions::from_str(&self.url).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async; use a short-lived runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(mut c) = PgConnectOptions::from_str(&server_url())
                    .unwrap()
                    .connect()
                    .await
                {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut c)
                        .await;
                    let _ = c.close().await;
                }
            });
        })
        .join();
    }
}

pub struct Harness {
    pub store: Store,
    pub tenant: TenantId,
    /// Workers stop when this is set (or dropped with the harness).
    pub stop: watch::Sender<bool>,
    pub db: TestDb,
}

impl Harness {
    pub async fn new() -> Harness {
        let db = TestDb::create().await;
        penny_store::migrate(&db.options()).await.unwrap();
        let store = Store::connect(db.options(), 8).await.unwrap();
        let (stop, _) = watch::channel(false);
        let mut h = Harness {
            store,
            tenant: TenantId(Uuid::nil()),
            stop,
            db,
        };
        h.tenant = h.add_tenant("acme").await;
        h
    }

    /// A connection as the database owner (superuser in tests), bypassing RLS.
    pub async fn owner(&self) -> PgConnection {
        self.db.options().connect().await.unwrap()
    }

    pub async fn add_tenant(&self, slug: &str) -> TenantId {
        let mut owner = self.owner().await;
        let id: Uuid =
            sqlx::query_scalar("INSERT INTO tenants (slug, name) VALUES ($1, $1) RETURNING id")
                .bind(slug)
                .fetch_one(&mut owner)
                .await
                .unwrap();
        TenantId(id)
    }

    /// A table for handlers' commit hooks to write their effects to.
    pub async fn effects_table(&self) {
        let mut owner = self.owner().await;
        sqlx::query("CREATE TABLE effects (job_id uuid NOT NULL, worker text NOT NULL)")
            .execute(&mut owner)
            .await
            .unwrap();
        sqlx::query("GRANT SELECT, INSERT ON effects TO penny_app")
            .execute(&mut owner)
            .await
            .unwrap();
    }

    pub async fn effects(&self, job: JobId) -> Vec<String> {
        let mut owner = self.owner().await;
        sqlx::query_scalar("SELECT worker FROM effects WHERE job_id = $1")
            .bind(job.0)
            .fetch_all(&mut owner)
            .await
            .unwrap()
    }

    pub async fn enqueue_as(&self, tenant: TenantId, job: NewJob) -> JobId {
        let mut tx = self.store.tenant(tenant).await.unwrap();
        let id = penny_queue::enqueue(&mut tx, job).await.unwrap();
        tx.commit().await.unwrap();
        id
    }

    pub async fn enqueue(&self, job: NewJob) -> JobId {
        self.enqueue_as(self.tenant, job).await
    }

    pub async fn get_as(&self, tenant: TenantId, id: JobId) -> Option<Job> {
        let mut tx = self.store.tenant(tenant).await.unwrap();
        let job = penny_queue::get(&mut tx, id).await.unwrap();
        tx.commit().await.unwrap();
        job
    }

    pub async fn job(&self, id: JobId) -> Job {
        self.get_as(self.tenant, id).await.expect("job exists")
    }

    pub async fn counts(&self, queue: &str) -> JobCounts {
        self.counts_as(self.tenant, queue).await
    }

    pub async fn counts_as(&self, tenant: TenantId, queue: &str) -> JobCounts {
        let mut tx = self.store.tenant(tenant).await.unwrap();
        let c = penny_queue::counts(&mut tx, queue).await.unwrap();
        tx.commit().await.unwrap();
        c
    }

    /// Polls until the job is completed or failed (generous limit: shared machines).
    pub async fn finished(&self, id: JobId) -> Job {
        self.until(id, |j| j.status.is_finished()).await
    }

    pub async fn until(&self, id: JobId, done: impl Fn(&Job) -> bool) -> Job {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let job = self.job(id).await;
            if done(&job) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {id} still {:?}",
                job.status
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn worker(&self, config: QueueConfig, handler: Arc<dyn JobHandler>) -> JoinHandle<()> {
        Worker::spawn(
            self.store.pool().clone(),
            config,
            handler,
            self.stop.subscribe(),
        )
    }
}

/// A fast test configuration: no rate limit, short poll and backoff.
pub fn config(queue: &str) -> QueueConfig {
    QueueConfig {
        rate_per_sec: None,
        poll_interval: Duration::from_millis(100),
        backoff_base: Duration::from_millis(50),
        lease: Duration::from_secs(5),
        shutdown_grace: Duration::from_secs(5),
        ..QueueConfig::new(queue)
    }
}
