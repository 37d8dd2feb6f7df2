//! The engine's entry points: send a message (starting a run), cancel a run, and the
//! settings shared by every run of this instance.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use penny_auth::SealingKey;
use penny_bus::Bus;
use penny_store::access::Reader;
use penny_store::conversations::{self, Message};
use penny_store::send::{self, NewSend, Parent};
use penny_store::{files, knowledge, policies, runs, Role, Store, TenantId, UserId};
use serde_json::json;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::cancel_topic;
use crate::error::ChatError;
use crate::run::{self, RunPlan, SendStored};
use crate::tools::ToolRunner;

#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// How long a run's lease lasts without renewal; renewed every third of it.
    pub lease: Duration,
    /// Attempts per model before the first token (429/5xx/timeouts), then the fallback.
    pub attempts: u32,
    /// First retry delay; doubles each time.
    pub backoff: Duration,
    /// Upstream silence that counts as a timeout.
    pub idle_timeout: Duration,
    /// Deltas of a run that come faster than this are sent together, one event per frame
    /// (see [`crate::pacer`]); zero sends each as it comes.
    pub delta_frame: Duration,
    /// Event writer tasks (see [`crate::writer`]): each stores one batch at a time.
    pub event_writers: usize,
    /// What model calls may reach besides public addresses.
    pub outbound: penny_outbound::Policy,
    /// Longest a run may take in all (model turns and tool calls): `RUN_MAX_SECS`.
    pub run_max: Duration,
    /// Most bytes a run's answer (text and tool-call arguments) may grow to:
    /// `RUN_MAX_OUTPUT_BYTES`.
    pub run_max_output_bytes: usize,
    /// Runs one tenant may have going on at once on this instance: `TENANT_MAX_RUNS`.
    pub tenant_max_runs: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(15),
            attempts: 3,
            backoff: Duration::from_millis(200),
            idle_timeout: Duration::from_secs(60),
            delta_frame: Duration::from_millis(16),
            event_writers: 2,
            outbound: penny_outbound::Policy::loopback(),
            run_max: Duration::from_secs(600),
            run_max_output_bytes: 1024 * 1024,
            tenant_max_runs: 32,
        }
    }
}

pub(crate) struct Inner {
    pub store: Store,
    pub bus: Arc<dyn Bus>,
    pub client: penny_models::Client,
    pub sealing: SealingKey,
    /// This process's identity as a lease owner.
    pub instance: String,
    pub settings: EngineSettings,
    /// Runs going on per tenant on this instance (`TENANT_MAX_RUNS`).
    pub runs: Arc<penny_limits::Slots<TenantId>>,
    pub tools: Arc<dyn ToolRunner>,
    /// Becomes true when the process shuts down: live event streams end.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// The shared group-commit writer of every run's events.
    pub log: crate::writer::EventLog,
}

#[derive(Clone)]
pub struct Engine(pub(crate) Arc<Inner>);

/// Who is asking.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub tenant: TenantId,
    pub user: UserId,
    /// The caller's role in the tenant (decides which tools it may use).
    pub role: Role,
}

#[derive(Debug, Clone, Default)]
pub struct SendRequest {
    pub content: String,
    pub parent: Parent,
    pub model: Option<String>,
    /// Tools the model may call for this message, by name.
    pub tools_allowed: Vec<String>,
    /// Uploaded files (ids) attached to the message.
    pub attachments: Vec<Uuid>,
    /// Knowledge collections (ids) the message should be answered from: `search_documents`
    /// is offered and searches them when the model names none.
    pub collections: Vec<Uuid>,
    /// Kinds of artifact the answer should produce; the model is asked for them.
    pub artifacts_expected: Vec<String>,
    /// Answer the question `parent` names again, as a sibling of its answers: no new user
    /// message (`content`, `attachments` and `collections` stay empty; the question's
    /// collections are searched again).
    pub regenerate: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Started {
    pub message_id: Uuid,
    pub assistant_message_id: Uuid,
    pub run_id: Uuid,
    /// The seq of `run.started`: an SSE answer streams from here.
    pub seq: i64,
}

const MAX_CONTENT: usize = 100_000;
/// Files one message may carry (as many as a sandbox run takes).
const MAX_ATTACHMENTS: usize = 20;
/// Collections one message may be answered from.
const MAX_COLLECTIONS: usize = 20;
/// The tool that searches a message's collections.
const SEARCH_TOOL: &str = "search_documents";

/// The first id `ids` names a second time.
fn first_repeat(ids: &[Uuid]) -> Option<Uuid> {
    let mut seen = std::collections::HashSet::new();
    ids.iter().copied().find(|id| !seen.insert(*id))
}

/// The caller's own uploads `ids`, as the snapshot kept on the message:
/// `[{id, filename, mime, size}]` in the order given.
async fn attachments(
    store: &Store,
    who: Caller,
    ids: &[Uuid],
) -> Result<serde_json::Value, ChatError> {
    if let Some(dup) = first_repeat(ids) {
        return Err(ChatError::Invalid {
            field: "attachments",
            message: format!("file {dup} is attached twice"),
        });
    }
    if ids.is_empty() {
        return Ok(serde_json::Value::Array(Vec::new()));
    }
    let mut tx = store.tenant(who.tenant).await?;
    let found = files::find(&mut tx, ids).await?;
    tx.commit().await?;
    ids.iter()
        .map(|id| {
            match found
                .iter()
                .find(|f| f.id == *id && f.user_id == who.user.0)
            {
                Some(f) => {
                    Ok(json!({"id": f.id, "filename": f.filename, "mime": f.mime, "size": f.size}))
                }
                None => Err(ChatError::Invalid {
                    field: "attachments",
                    message: format!("file {id} is not one of your uploads"),
                }),
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(serde_json::Value::Array)
}

/// The collections `ids` that the caller can read, as the snapshot kept on the message:
/// `[{id, name}]` in the order given. One the caller cannot read is `CollectionNotFound`,
/// as if it did not exist.
async fn collections(
    store: &Store,
    who: Caller,
    ids: &[Uuid],
) -> Result<serde_json::Value, ChatError> {
    if let Some(dup) = first_repeat(ids) {
        return Err(ChatError::Invalid {
            field: "collections",
            message: format!("collection {dup} is picked twice"),
        });
    }
    if ids.is_empty() {
        return Ok(serde_json::Value::Array(Vec::new()));
    }
    let mut tx = store.tenant(who.tenant).await?;
    // Not empty here: an empty list would read every visible collection.
    let found = knowledge::readable(&mut tx, Reader::new(who.user, who.role), ids).await?;
    tx.commit().await?;
    ids.iter()
        .map(|id| match found.iter().find(|c| c.id == *id) {
            Some(c) => Ok(json!({"id": id, "name": c.name})),
            None => Err(ChatError::CollectionNotFound(*id)),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(serde_json::Value::Array)
}

/// The ids of a message's collections snapshot.
fn collection_ids(snapshot: &serde_json::Value) -> Vec<Uuid> {
    snapshot
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str().and_then(|s| Uuid::parse_str(s).ok()))
        .collect()
}

/// A regeneration names the question and brings nothing new.
fn check_regenerate(req: &SendRequest) -> Result<(), ChatError> {
    let invalid = |field: &'static str, message: &str| ChatError::Invalid {
        field,
        message: message.into(),
    };
    if !matches!(req.parent, Parent::Message(_)) {
        return Err(invalid(
            "parentId",
            "must name the question whose answer to regenerate",
        ));
    }
    if !req.content.trim().is_empty() {
        return Err(invalid(
            "content",
            "must be empty when regenerating an answer",
        ));
    }
    if !req.attachments.is_empty() {
        return Err(invalid(
            "attachments",
            "must be empty when regenerating an answer",
        ));
    }
    if !req.collections.is_empty() {
        return Err(invalid(
            "collections",
            "must be empty when regenerating an answer (the question's are searched again)",
        ));
    }
    Ok(())
}

impl Engine {
    pub fn new(
        store: Store,
        bus: Arc<dyn Bus>,
        sealing: SealingKey,
        tools: Arc<dyn ToolRunner>,
        settings: EngineSettings,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        Engine(Arc::new(Inner {
            log: crate::writer::EventLog::spawn(store.clone(), bus.clone(), settings.event_writers),
            shutdown,
            tools,
            client: penny_models::Client::new(settings.idle_timeout, settings.outbound.clone()),
            store,
            bus,
            sealing,
            instance: Uuid::new_v4().to_string(),
            runs: penny_limits::Slots::new(settings.tenant_max_runs),
            settings,
        }))
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    pub fn sealing(&self) -> &SealingKey {
        &self.0.sealing
    }

    /// The bus the engine publishes on (shared with the HTTP layer's announcements).
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.0.bus
    }

    /// Stores the user's message and starts a run that answers it. The run goes on when
    /// the caller goes away.
    pub async fn send(
        &self,
        who: Caller,
        conversation: Uuid,
        req: SendRequest,
    ) -> Result<Started, ChatError> {
        let content = req.content.trim();
        if req.regenerate {
            check_regenerate(&req)?;
        } else if content.is_empty() || content.chars().count() > MAX_CONTENT {
            return Err(ChatError::Invalid {
                field: "content",
                message: format!("must be 1-{MAX_CONTENT} characters"),
            });
        }
        if req.artifacts_expected.len() > 10
            || req
                .artifacts_expected
                .iter()
                .any(|k| k.trim().is_empty() || k.chars().count() > 40)
        {
            return Err(ChatError::Invalid {
                field: "artifactsExpected",
                message: "at most 10 kinds, each 1-40 characters".into(),
            });
        }
        if req.attachments.len() > MAX_ATTACHMENTS {
            return Err(ChatError::Invalid {
                field: "attachments",
                message: format!("at most {MAX_ATTACHMENTS} files"),
            });
        }
        if req.collections.len() > MAX_COLLECTIONS {
            return Err(ChatError::Invalid {
                field: "collections",
                message: format!("at most {MAX_COLLECTIONS} collections"),
            });
        }
        let store = &self.0.store;
        // Picked collections offer the search even when the client did not list it (a
        // regeneration learns whether its question had any only from the branch, so it
        // asks for the search and drops it below when they had none).
        let mut allowed = req.tools_allowed.clone();
        let may_pick = req.regenerate || !req.collections.is_empty();
        if may_pick && !allowed.iter().any(|t| t == SEARCH_TOOL) {
            allowed.push(SEARCH_TOOL.into());
        }
        // Four reads at once, each one call on its own connection: the time of the
        // slowest, not of the four in a row. Their errors are told in this order whatever
        // comes back first, so a conversation that is not the caller's is "not found"
        // before anything else about the send is told.
        let (tools, target, attachments, picked) = tokio::join!(
            self.0.tools.offer(&who, &allowed),
            send::target(
                store,
                who.tenant,
                who.user,
                conversation,
                req.model.as_deref(),
                req.parent
            ),
            attachments(store, who, &req.attachments),
            collections(store, who, &req.collections),
        );
        let target = target?;
        let Some(model) = target.model else {
            return Err(target
                .wanted
                .map(ChatError::UnknownModel)
                .unwrap_or(ChatError::NoModel));
        };
        if model.is_embedding() {
            return Err(ChatError::Invalid {
                field: "model",
                message: format!(
                    "{:?} is an embedding model (for knowledge collections); pick a chat model",
                    model.name
                ),
            });
        }
        if !policies::grants(target.grant.as_deref(), who.role) {
            return Err(ChatError::ModelForbidden(model.name));
        }
        if target.busy {
            return Err(send::busy().into());
        }
        // Held by the run until it ends: one tenant cannot fill the instance with runs.
        let slot = self
            .0
            .runs
            .acquire(who.tenant)
            .ok_or(ChatError::TooManyRuns {
                max: self.0.runs.max(),
            })?;
        let attachments = attachments?;
        let picked = picked?;
        // The run's context, read here so the run starts without reading anything.
        let mut branch = target.branch.ok_or_else(send::foreign_parent)?;
        let (assistant_msg, run) = (Uuid::new_v4(), Uuid::new_v4());
        // The question answered, and its parent.
        let (user_msg, parent) = if req.regenerate {
            match branch.last() {
                Some(q) if q.role == "user" => (q.id, q.parent_id),
                _ => return Err(send::not_a_question().into()),
            }
        } else {
            let (user_msg, parent) = (Uuid::new_v4(), branch.last().map(|m| m.id));
            branch.push(Message::user(
                user_msg,
                conversation,
                parent,
                content,
                attachments.clone(),
                picked.clone(),
            ));
            (user_msg, parent)
        };
        // The question's collections (a regeneration's were picked when it was asked; the
        // search checks again that the caller may still read them).
        let searched = branch
            .last()
            .map(|q| collection_ids(&q.collections))
            .unwrap_or_default();
        let mut tools = tools;
        if searched.is_empty() && !req.tools_allowed.iter().any(|t| t == SEARCH_TOOL) {
            tools.retain(|t| t.name != SEARCH_TOOL);
        }
        let plan = RunPlan {
            tenant: who.tenant,
            conversation,
            run,
            assistant_message: assistant_msg,
            model: model.clone(),
            system_prompt: crate::context::system_prompt(
                target.tenant_prompt,
                target.system_prompt,
                &req.artifacts_expected,
            ),
            branch,
            tools,
            collections: searched,
            caller: who,
            max_tokens_cap: target.max_tokens_cap.and_then(|n| u32::try_from(n).ok()),
        };
        // The model is asked while the send is stored (the first token comes that much
        // sooner); the run writes nothing until `stored` says the send is committed, and
        // ends without a trace if it never is.
        let (stored, gate) = oneshot::channel();
        tokio::spawn(run::execute(
            self.clone(),
            plan,
            SendStored::new(gate),
            slot,
        ));
        let started = json!({"type": "run.started", "runId": run, "messageId": assistant_msg,
            "userMessageId": user_msg, "parentId": parent, "model": model.name});
        let first_title: String = content.chars().take(60).collect();
        let seq = send::store(
            store,
            NewSend {
                tenant: who.tenant,
                conversation,
                parent,
                user_message: user_msg,
                assistant_message: assistant_msg,
                run,
                content,
                attachments: &attachments,
                collections: &picked,
                model: &model.name,
                first_title: &first_title,
                owner: &self.0.instance,
                lease: self.0.settings.lease,
                started: &started,
                regenerate: req.regenerate,
            },
        )
        .await?;
        let mut started = started;
        started["seq"] = seq.into();
        self.publish_all(conversation, std::slice::from_ref(&started))
            .await;
        // After `run.started`, so every event of the run is published after it.
        let _ = stored.send(seq);
        Ok(Started {
            message_id: user_msg,
            assistant_message_id: assistant_msg,
            run_id: run,
            seq,
        })
    }

    /// Asks a run to stop, wherever it runs: a flag in the database (seen at the next
    /// lease renewal) and a message on the bus (seen at once).
    pub async fn cancel(&self, who: Caller, run_id: Uuid) -> Result<(), ChatError> {
        let mut tx = self.0.store.tenant(who.tenant).await?;
        let run = runs::get(&mut tx, run_id)
            .await?
            .ok_or(ChatError::NotFound)?;
        // Only the conversation's owner may stop its runs.
        conversations::get(&mut tx, who.user, run.conversation_id).await?;
        runs::request_cancel(&mut tx, run_id).await?;
        tx.commit().await?;
        self.0
            .bus
            .publish(&cancel_topic(run_id), Bytes::from_static(b"cancel"))
            .await?;
        Ok(())
    }

    /// Passes a worker's progress on a call to the run that made it (see
    /// [`crate::progress_topic`]); lost if the run is gone, like any live event.
    pub async fn tool_progress(&self, run: Uuid, event: &serde_json::Value) {
        let Ok(bytes) = serde_json::to_vec(event) else {
            return;
        };
        let topic = crate::progress_topic(run);
        if let Err(e) = self.0.bus.publish(&topic, Bytes::from(bytes)).await {
            tracing::warn!(error = %e, %run, "passing tool progress on failed");
        }
    }

    /// Publishes events stored by someone else (a tool job's commit), in order.
    pub async fn publish_stored(&self, conversation: Uuid, events: &[serde_json::Value]) {
        self.publish_all(conversation, events).await;
    }

    /// Publishes stored events in order; a bus failure only delays live delivery (clients
    /// resume from the log), so it is logged, not returned.
    pub(crate) async fn publish_all(&self, conversation: Uuid, events: &[serde_json::Value]) {
        let events: Vec<_> = events.iter().map(|e| (conversation, e.clone())).collect();
        crate::writer::publish(&*self.0.bus, &events).await;
    }
}
