//! A client's view of a conversation's events: what it missed (from the log), then live
//! events (from the bus), each exactly once and in seq order. The subscription is taken
//! before the log is read, so nothing published in between is lost; live events at or
//! below the last seq sent are skipped; a gap (or a lagging subscription) is filled from
//! the log.

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
}

impl Cursor {
    async fn fill(&mut self) -> Result<(), ChatError> {
        let mut db = self.engine.0.store.tenant(self.tenant).await?;
        let page = events::after(&mut db, self.conversation, self.last, PAGE).await?;
        db.commit().await?;
        self.pending
            .extend(page.iter().filter_map(ChatEvent::from_value));
        Ok(())
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
                    let seq = e.seq;
                    if seq <= self.last {
                        continue;
                    }
                    if seq > self.last + 1 {
                        // Missed something (or the log has more pages): read the log.
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
        };
        let mut db = self.0.store.tenant(who.tenant).await?;
        conversations::get(&mut db, who.user, conversation).await?;
        let page = events::after(&mut db, conversation, cursor.last, PAGE).await?;
        db.commit().await?;
        cursor
            .pending
            .extend(page.iter().filter_map(ChatEvent::from_value));
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
        };
        Ok((started, cursor.into_stream()))
    }
}
