//! A client's view of a conversation's events: what it missed, then live events (from the
//! bus), each exactly once and in seq order. What it missed is read from two logs merged
//! by seq ([`merge`]): the conversation's stored events (where `message.text` checkpoints
//! stand in for a run's deltas) and the bus's live log (everything published lately,
//! deltas included). The subscription is taken before the logs are read, so nothing
//! published in between is lost; live events at or below the last seq sent are skipped;
//! a gap (or a lagging subscription) is filled from the logs.

use std::collections::VecDeque;

use futures::Stream;
use penny_bus::Subscription;
use penny_store::{conversations, events, TenantId};
use uuid::Uuid;

use crate::conversation_topic;
use crate::engine::{Caller, Engine, SendRequest, Started};
use crate::error::ChatError;
use crate::event::ChatEvent;

const PAGE: i64 = 1000;

struct Cursor {
    engine: Engine,
    tenant: TenantId,
    conversation: Uuid,
    sub: Subscription,
    last: i64,
    pending: VecDeque<ChatEvent>,
    /// The last read of the stored log was a full page: there may be more.
    more: bool,
}

impl Cursor {
    async fn fill(&mut self) -> Result<(), ChatError> {
        let live = self.live().await;
        let mut db = self.engine.0.store.tenant(self.tenant).await?;
        let stored = events::after(&mut db, self.conversation, self.last, PAGE).await?;
        db.commit().await?;
        self.take(live, stored);
        Ok(())
    }

    /// The live log after `last`. Read before the stored log: whatever is published after
    /// this read comes on the subscription, and a checkpoint stored before the stored read
    /// reaches into what this read holds (a run stores one at least every
    /// [`crate::writer::CHECKPOINT_EVENTS`] live events, fewer than the live log keeps).
    async fn live(&self) -> Vec<ChatEvent> {
        let topic = conversation_topic(self.conversation);
        let after = u64::try_from(self.last).unwrap_or(0);
        // Without the live log (Redis unreachable) the stored log is still whole for
        // everything but deltas; a gap left shows the client it must read the messages.
        match self.engine.0.bus.live_after(&topic, after).await {
            Ok(live) => live
                .into_iter()
                .filter_map(|(_, bytes)| ChatEvent::from_bytes(bytes))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "reading the live log failed");
                Vec::new()
            }
        }
    }

    /// Queues what came after `last`: `stored` (a page of the stored log) merged with
    /// `live`.
    fn take(&mut self, live: Vec<ChatEvent>, stored: Vec<serde_json::Value>) {
        self.more = stored.len() as i64 == PAGE;
        let stored: Vec<ChatEvent> = stored.iter().filter_map(ChatEvent::from_value).collect();
        let merged = if self.more {
            // The stored page ends before the live log can take over; the rest comes
            // with the next read.
            stored
        } else {
            merge(self.last, stored, live)
        };
        self.pending.extend(merged);
    }

    async fn next(&mut self) -> Option<ChatEvent> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                if e.seq <= self.last {
                    continue;
                }
                self.last = e.seq;
                return Some(e);
            }
            if self.more && self.fill().await.is_err() {
                return None;
            }
            if !self.pending.is_empty() {
                continue;
            }
            let mut shutdown = self.engine.0.shutdown.clone();
            let received = tokio::select! {
                r = self.sub.recv() => r,
                _ = shutdown.wait_for(|s| *s) => return None,
            };
            match received {
                Ok(Some(bytes)) => {
                    let Some(e) = ChatEvent::from_bytes(bytes) else {
                        continue;
                    };
                    if e.seq <= self.last {
                        continue;
                    }
                    if !e.follows(self.last) {
                        // Missed something (or the log has more pages): read the logs.
                        if self.fill().await.is_err() {
                            return None;
                        }
                    }
                    self.pending.push_back(e);
                }
                Err(_lagged) => {
                    if self.fill().await.is_err() {
                        return None;
                    }
                }
                Ok(None) => return None,
            }
        }
    }
}

impl Cursor {
    fn into_stream(self) -> impl Stream<Item = ChatEvent> + Send + 'static {
        futures::stream::unfold(self, |mut c| async move { c.next().await.map(|e| (e, c)) })
    }
}

impl Engine {
    /// The newest seq of `conversation`: the last one stored (`stored`, from its counter)
    /// or, while a run streams, the last one it published (its live log).
    pub async fn newest_seq(&self, conversation: Uuid, stored: i64) -> i64 {
        let topic = conversation_topic(conversation);
        let after = u64::try_from(stored).unwrap_or(0);
        match self.0.bus.live_after(&topic, after).await {
            Ok(live) => live
                .last()
                .and_then(|(seq, _)| i64::try_from(*seq).ok())
                .map_or(stored, |seq| seq.max(stored)),
            Err(_) => stored,
        }
    }

    /// Events of `conversation` after seq `after`, then live ones, until the client goes.
    pub async fn events(
        &self,
        who: Caller,
        conversation: Uuid,
        after: i64,
    ) -> Result<impl Stream<Item = ChatEvent> + Send + 'static, ChatError> {
        // Subscribed before the log is read; nothing is delivered unless the caller may
        // see the conversation, checked in the transaction that reads the log.
        let sub = self
            .0
            .bus
            .subscribe(&conversation_topic(conversation))
            .await?;
        let mut cursor = Cursor {
            engine: self.clone(),
            tenant: who.tenant,
            conversation,
            sub,
            last: after.max(0),
            pending: VecDeque::new(),
            more: false,
        };
        let live = cursor.live().await;
        let mut db = self.0.store.tenant(who.tenant).await?;
        conversations::get(&mut db, who.user, conversation).await?;
        let page = events::after(&mut db, conversation, cursor.last, PAGE).await?;
        db.commit().await?;
        cursor.take(live, page);
        Ok(cursor.into_stream())
    }

    /// Sends a message and follows its run: the events from `run.started` on, then live
    /// ones. The subscription is taken before the message is stored, so the log need not
    /// be read (a gap, should one appear, is still filled from it).
    pub async fn send_and_follow(
        &self,
        who: Caller,
        conversation: Uuid,
        req: SendRequest,
    ) -> Result<(Started, impl Stream<Item = ChatEvent> + Send + 'static), ChatError> {
        let sub = self
            .0
            .bus
            .subscribe(&conversation_topic(conversation))
            .await?;
        let started = self.send(who, conversation, req).await?;
        let cursor = Cursor {
            engine: self.clone(),
            tenant: who.tenant,
            conversation,
            sub,
            last: started.seq - 1,
            pending: VecDeque::new(),
            more: false,
        };
        Ok((started, cursor.into_stream()))
    }
}

/// What came after seq `after`, from the stored log and the live log, each in seq order.
///
/// The live log holds every event published lately, deltas included, with no gap from
/// its first; the stored log holds what is stored, with checkpoints (`message.text`)
/// standing in for deltas. So: stored events until the live log can take over (a
/// checkpoint reaching into it is taken, and the live log resumes after it), then the
/// live log. A gap neither log covers (the live log expired or was lost and no checkpoint
/// covers it yet) is left for the client to see.
pub(crate) fn merge(after: i64, stored: Vec<ChatEvent>, live: Vec<ChatEvent>) -> Vec<ChatEvent> {
    let live_from = live.first().map(|e| e.seq);
    let mut next = after + 1;
    let mut out = Vec::with_capacity(stored.len() + live.len());
    for e in stored {
        if e.seq < next {
            continue;
        }
        if let Some(from) = live_from {
            if next >= from {
                break;
            }
            if e.seq >= from {
                if e.from_seq.is_some() {
                    next = e.seq + 1;
                    out.push(e);
                }
                // Otherwise the live log has this event too, and all before it.
                break;
            }
        }
        next = e.seq + 1;
        out.push(e);
    }
    out.extend(live.into_iter().filter(|e| e.seq >= next));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(seq: i64, kind: &str) -> ChatEvent {
        ChatEvent::from_value(&json!({"type": kind, "seq": seq})).expect("an event")
    }

    fn text(seq: i64, from: i64) -> ChatEvent {
        ChatEvent::from_value(
            &json!({"type": "message.text", "seq": seq, "fromSeq": from, "text": "t"}),
        )
        .expect("an event")
    }

    fn seqs(events: &[ChatEvent]) -> Vec<(i64, String)> {
        events.iter().map(|e| (e.seq, e.kind.clone())).collect()
    }

    fn deltas(range: std::ops::RangeInclusive<i64>) -> Vec<ChatEvent> {
        range.map(|s| ev(s, "message.delta")).collect()
    }

    #[test]
    fn the_live_log_takes_over_where_it_starts() {
        // Stored: run.started 1, checkpoint of 2..5 at 5, tool.call 6. Live: 4..8.
        let stored = vec![ev(1, "run.started"), text(5, 2), ev(6, "tool.call")];
        let mut live = deltas(4..=5);
        live.extend([
            ev(6, "tool.call"),
            ev(7, "message.delta"),
            ev(8, "message.delta"),
        ]);
        // From the start: run.started, then the checkpoint reaching into the live log,
        // then the live log after it.
        let got = merge(0, stored.clone(), live.clone());
        assert_eq!(
            seqs(&got),
            [
                (1, "run.started"),
                (5, "message.text"),
                (6, "tool.call"),
                (7, "message.delta"),
                (8, "message.delta")
            ]
            .map(|(s, k)| (s, k.to_string()))
        );
        // From inside the live log: the live log alone, delta by delta.
        let got = merge(3, stored, live);
        assert_eq!(got.first().map(|e| e.seq), Some(4));
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(|e| e.kind != "message.text"));
    }

    #[test]
    fn without_a_live_log_checkpoints_close_the_gaps() {
        let stored = vec![
            ev(1, "run.started"),
            text(5, 2),
            ev(6, "tool.call"),
            text(9, 7),
            ev(10, "run.completed"),
        ];
        let got = merge(3, stored, Vec::new());
        assert_eq!(
            seqs(&got).iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            [5, 6, 9, 10]
        );
        let mut last = 3;
        for e in &got {
            assert!(e.follows(last), "{} follows {last}", e.seq);
            last = e.seq;
        }
    }

    #[test]
    fn a_gap_neither_log_covers_is_left_to_see() {
        // Stored up to 3; live starts at 7 (Redis restarted), no checkpoint yet.
        let stored = vec![
            ev(1, "run.started"),
            ev(2, "tool.call"),
            ev(3, "tool.result"),
        ];
        let got = merge(0, stored, deltas(7..=8));
        let s: Vec<i64> = got.iter().map(|e| e.seq).collect();
        assert_eq!(s, [1, 2, 3, 7, 8]);
        assert!(!got[3].follows(3));
    }
}
