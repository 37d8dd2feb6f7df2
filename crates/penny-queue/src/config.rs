//! Per-queue worker settings, with the defaults of the original BullMQ deployment.

use std::time::Duration;

/// How a [`crate::Worker`] serves one queue.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// The queue's name, e.g. `tools` or `notifications`.
    pub queue: String,
    /// Jobs this worker runs at the same time.
    pub concurrency: usize,
    /// Jobs per second that leave the queue across every worker and process; `None` = off.
    pub rate_per_sec: Option<f64>,
    /// Jobs one tenant may have running at once across every worker; `None` = no cap.
    /// Whatever the cap, workers go to the tenant with the fewest jobs running first.
    pub per_tenant: Option<usize>,
    /// Completed jobs kept per tenant; older ones are deleted.
    pub keep_completed: i32,
    /// Failed jobs kept per tenant; older ones are deleted.
    pub keep_failed: i32,
    /// Delay before the second attempt; it doubles for each attempt after that.
    pub backoff_base: Duration,
    /// Upper bound of the retry delay.
    pub backoff_max: Duration,
    /// How long a claimed job stays with this worker without a heartbeat. A job whose
    /// worker died is claimed again after this; the heartbeat renews it every third.
    pub lease: Duration,
    /// Fallback poll for delayed jobs and lost notifications; also the period of lease
    /// reaping and retention.
    pub poll_interval: Duration,
    /// Most outcomes written in one completion transaction.
    pub completion_batch: usize,
    /// How long shutdown waits for running jobs before abandoning them to lease expiry.
    pub shutdown_grace: Duration,
}

impl QueueConfig {
    pub const DEFAULT_CONCURRENCY: usize = 5;
    pub const DEFAULT_RATE_PER_SEC: f64 = 10.0;
    pub const DEFAULT_PER_TENANT: usize = 8;
    pub const DEFAULT_KEEP_COMPLETED: i32 = 100;
    pub const DEFAULT_KEEP_FAILED: i32 = 1000;

    /// The defaults: concurrency 5, 10 jobs/s, keep 100 completed and 1000 failed, backoff
    /// from 1 s doubling, 30 s lease, 1 s fallback poll.
    pub fn new(queue: impl Into<String>) -> Self {
        Self {
            queue: queue.into(),
            concurrency: Self::DEFAULT_CONCURRENCY,
            rate_per_sec: Some(Self::DEFAULT_RATE_PER_SEC),
            per_tenant: Some(Self::DEFAULT_PER_TENANT),
            keep_completed: Self::DEFAULT_KEEP_COMPLETED,
            keep_failed: Self::DEFAULT_KEEP_FAILED,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(3600),
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            completion_batch: 256,
            shutdown_grace: Duration::from_secs(30),
        }
    }

    /// The wait before the next attempt after attempt `attempt` (1-based) failed.
    pub fn backoff(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        self.backoff_base
            .saturating_mul(1u32 << doublings)
            .min(self.backoff_max)
    }
}
