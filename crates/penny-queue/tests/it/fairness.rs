//! One tenant's backlog does not starve the rest: workers go to the tenant with the fewest
//! jobs running first, and no tenant runs more than its cap at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use penny_queue::{Job, JobContext, JobFailure, JobHandler, JobId, NewJob, QueueConfig};
use penny_store::TenantId;
use serde_json::{json, Value};

use crate::common::{config, Harness};

/// Records which tenant's job started in which order, and the most of each tenant's jobs
/// that ran at once.
#[derive(Default)]
struct Recorder {
    hold: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    started: Vec<TenantId>,
    running: HashMap<TenantId, usize>,
    most: HashMap<TenantId, usize>,
}

#[async_trait]
impl JobHandler for Recorder {
    async fn run(&self, job: &Job, _ctx: &JobContext) -> Result<Value, JobFailure> {
        {
            let mut s = self.state.lock().unwrap();
            s.started.push(job.tenant_id);
            let n = {
                let n = s.running.entry(job.tenant_id).or_insert(0);
                *n += 1;
                *n
            };
            let most = s.most.entry(job.tenant_id).or_insert(0);
            *most = (*most).max(n);
        }
        tokio::time::sleep(self.hold).await;
        *self
            .state
            .lock()
            .unwrap()
            .running
            .get_mut(&job.tenant_id)
            .unwrap() -= 1;
        Ok(Value::Null)
    }
}

/// Waits (generously: shared machines) until `tenant`'s job `id` has ended.
async fn ended(h: &Harness, tenant: TenantId, id: JobId) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let job = h.get_as(tenant, id).await.expect("job exists");
        if job.status.is_finished() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {id} still {:?}",
            job.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn backlog(h: &Harness, tenant: TenantId, n: usize) -> Vec<JobId> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(
            h.enqueue_as(tenant, NewJob::new("tools", "work", json!({})))
                .await,
        );
    }
    ids
}

#[tokio::test]
async fn a_tenant_behind_a_long_backlog_is_served_next() {
    let h = Harness::new().await;
    let other = h.add_tenant("other").await;
    backlog(&h, h.tenant, 20).await;
    let theirs = backlog(&h, other, 2).await;
    let recorder = Arc::new(Recorder {
        hold: Duration::from_millis(100),
        ..Recorder::default()
    });
    let cfg = QueueConfig {
        concurrency: 2,
        per_tenant: None,
        ..config("tools")
    };
    let _w = h.worker(cfg, recorder.clone());
    for id in &theirs {
        ended(&h, other, *id).await;
    }
    let started = recorder.state.lock().unwrap().started.clone();
    let position: Vec<usize> = started
        .iter()
        .enumerate()
        .filter(|(_, t)| **t == other)
        .map(|(i, _)| i)
        .collect();
    // First come first served would start them 21st and 22nd.
    assert_eq!(position.len(), 2, "{started:?}");
    assert!(
        position[1] < 4,
        "the other tenant's jobs started at {position:?}"
    );
}

#[tokio::test]
async fn no_tenant_runs_more_than_its_cap_at_once() {
    let h = Harness::new().await;
    let other = h.add_tenant("other").await;
    let mine = backlog(&h, h.tenant, 10).await;
    let theirs = backlog(&h, other, 3).await;
    let recorder = Arc::new(Recorder {
        hold: Duration::from_millis(150),
        ..Recorder::default()
    });
    let cfg = QueueConfig {
        concurrency: 8,
        per_tenant: Some(2),
        ..config("tools")
    };
    // Two workers: the cap holds across them.
    let _a = h.worker(cfg.clone(), recorder.clone());
    let _b = h.worker(cfg, recorder.clone());
    for id in &mine {
        ended(&h, h.tenant, *id).await;
    }
    for id in &theirs {
        ended(&h, other, *id).await;
    }
    let s = recorder.state.lock().unwrap();
    assert_eq!(s.most[&h.tenant], 2, "{:?}", s.most);
    assert_eq!(s.most[&other], 2, "{:?}", s.most);
}
