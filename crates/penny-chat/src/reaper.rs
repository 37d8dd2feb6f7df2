//! Runs whose instance died: their lease expires, and a surviving instance (scheduler
//! role) marks them failed, keeping the answer's last checkpoint, and tells subscribers.

use penny_store::conversations::{self, Finish};
use penny_store::{events, runs, TenantId};
use serde_json::json;
use uuid::Uuid;

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
            let text = conversations::message_content(&mut db, run.assistant_message_id)
                .await?
                .unwrap_or_default();
            db.commit().await?;
            let why = "the instance running this generation stopped; the answer is incomplete";
            let ended = self
                .fail_from_outside(
                    tenant,
                    run.conversation_id,
                    run_id,
                    run.assistant_message_id,
                    &text,
                    ("instance_lost", why),
                )
                .await?;
            if ended {
                tracing::warn!(%run_id, "run lease expired; marked failed");
                reaped += 1;
            }
        }
        Ok(reaped)
    }

    /// Ends `run` as failed from outside its own numbering (its writer is gone or
    /// failed): the answer keeps `text`; a `message.text` with that text, standing in for
    /// everything after the last stored event, then `run.failed`, both numbered past the
    /// run's reservation, so no seq it may have published is given twice. False when the
    /// run had already ended or its conversation is gone.
    pub(crate) async fn fail_from_outside(
        &self,
        tenant: TenantId,
        conversation: Uuid,
        run: Uuid,
        message: Uuid,
        text: &str,
        (code, why): (&str, &str),
    ) -> Result<bool, ChatError> {
        let mut db = self.0.store.tenant(tenant).await?;
        let from = events::last_stored(&mut db, conversation).await? + 1;
        db.commit().await?;
        let events = [
            json!({"type": "message.text", "runId": run, "messageId": message, "text": text,
                "fromSeq": from}),
            json!({"type": "run.failed", "runId": run, "messageId": message, "code": code,
                "message": why}),
        ];
        let end = runs::End {
            conversation,
            run,
            status: "failed",
            message,
            finish: Finish {
                content: text,
                status: "failed",
                error_code: Some(code),
                ..Default::default()
            },
            events: &events,
            seq: None,
            checkpoint: None,
        };
        match runs::end(&self.0.store, tenant, end).await? {
            Some(stored) => {
                self.publish_all(conversation, &stored).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
