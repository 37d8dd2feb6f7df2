//! Runs whose instance died: their lease expires, and a surviving instance (scheduler
//! role) marks them failed, keeping the text streamed so far, and tells subscribers.

use penny_store::conversations::Finish;
use penny_store::{events, runs};
use serde_json::json;

use crate::engine::Engine;
use crate::error::ChatError;

impl Engine {
    /// Finishes every run with an expired lease; returns how many.
    pub async fn reap_expired_runs(&self) -> Result<usize, ChatError> {
        let expired = runs::expired(self.0.store.pool(), 100).await?;
        let mut reaped = 0;
        for (tenant, run_id) in expired {
            let mut db = self.0.store.tenant(tenant).await?;
            let Some(run) = runs::get(&mut db, run_id).await? else {
                continue;
            };
            let text =
                events::streamed_text(&mut db, run.conversation_id, run.assistant_message_id)
                    .await?;
            db.commit().await?;
            let message = "the instance running this generation stopped; the answer is incomplete";
            let event = json!({"type": "run.failed", "runId": run_id, "messageId": run.assistant_message_id,
                "code": "instance_lost", "message": message});
            let end = runs::End {
                conversation: run.conversation_id,
                run: run_id,
                status: "failed",
                message: run.assistant_message_id,
                finish: Finish {
                    content: &text,
                    status: "failed",
                    error_code: Some("instance_lost"),
                    ..Default::default()
                },
                event: &event,
            };
            // None: the run ended after all, or its conversation is gone.
            let Some(stored) = runs::end(&self.0.store, tenant, end).await? else {
                continue;
            };
            self.publish_all(run.conversation_id, &[stored]).await;
            tracing::warn!(%run_id, "run lease expired; marked failed");
            reaped += 1;
        }
        Ok(reaped)
    }
}
