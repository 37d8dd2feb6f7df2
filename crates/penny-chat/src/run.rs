//! One run: call the model (retrying before the first token, then its fallback), stream
//! deltas into the event log, honour cancellation, keep the lease, and store the result.

use std::time::{Duration, Instant};

use futures::StreamExt;
use penny_models::{
    ChatMessage, ChatRequest, EventStream, ModelEndpoint, ProviderError, StreamEvent, ToolCall,
    ToolSpec,
};
use penny_store::conversations::{self, Finish};
use penny_store::models::{self, Model};
use penny_store::{policies, runs, TenantId};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::cancel_topic;
use crate::context::{estimate_tokens, history};
use crate::engine::{Caller, Engine};
use crate::error::ChatError;
use crate::pacer::DeltaPacer;
use crate::tools::{CallSite, ToolOutcome};
use crate::writer::EventWriter;

pub struct RunPlan {
    pub tenant: TenantId,
    pub caller: Caller,
    pub conversation: Uuid,
    pub run: Uuid,
    pub assistant_message: Uuid,
    pub model: Model,
    pub system_prompt: Option<String>,
    /// The branch the answer continues, root first, ending with the user's message.
    pub branch: Vec<conversations::Message>,
    /// Tools offered to the model for this run.
    pub tools: Vec<ToolSpec>,
    /// The collections picked for the question: `search_documents` searches them when
    /// the model names none.
    pub collections: Vec<Uuid>,
    /// The tenant's cap on output tokens per message, below each model's own maximum.
    pub max_tokens_cap: Option<u32>,
}

impl RunPlan {
    /// Output tokens to ask of `m`: its maximum, lowered to the tenant's cap.
    fn max_output_tokens(&self, m: &Model) -> u32 {
        let own = m.max_output_tokens.max(1) as u32;
        self.max_tokens_cap.map_or(own, |cap| own.min(cap.max(1)))
    }
}

/// How a run ended.
enum Outcome {
    Completed,
    Cancelled,
    Failed { code: &'static str, message: String },
}

#[derive(Default)]
struct Progress {
    text: String,
    /// Bytes the model has produced: text and tool-call arguments.
    output_bytes: usize,
    input_tokens: u64,
    output_tokens: u64,
    ttft: Option<Duration>,
    model_used: Option<Model>,
    tool_calls: Vec<Value>,
}

/// Whether the send that started a run was stored: the run is started while the send is
/// being stored, and writes nothing before it is. Asked once, then remembered.
pub(crate) struct SendStored {
    /// Answers the seq of the run's `run.started` once the send is stored.
    gate: Option<oneshot::Receiver<i64>>,
    started: Option<i64>,
}

impl SendStored {
    pub fn new(gate: oneshot::Receiver<i64>) -> Self {
        SendStored {
            gate: Some(gate),
            started: None,
        }
    }

    /// Waits for the send's commit; false when it failed (nothing of the run exists).
    /// Cancel-safe: the gate stays until it has answered, so a wait dropped in a
    /// `select!` loses nothing.
    async fn wait(&mut self) -> bool {
        if let Some(gate) = self.gate.as_mut() {
            self.started = gate.await.ok();
            self.gate = None;
        }
        self.started.is_some()
    }

    /// Waits for the send's commit and starts `writer`'s numbering after its
    /// `run.started`; false when the send failed. However the run ends (even before it
    /// asked the model anything), its end is numbered after `run.started`.
    async fn begin(&mut self, writer: &EventWriter) -> bool {
        if !self.wait().await {
            return false;
        }
        if let Some(started) = self.started {
            writer.begin(started).await;
        }
        true
    }
}

/// Runs `plan` to its end; `_slot` (the tenant's slot for a running answer) is given back
/// when it returns.
pub async fn execute(
    engine: Engine,
    plan: RunPlan,
    mut send: SendStored,
    _slot: penny_limits::Slot<TenantId>,
) {
    let started = Instant::now();
    let writer = engine.0.log.writer(
        plan.tenant,
        plan.conversation,
        plan.run,
        plan.assistant_message,
    );
    let mut progress = Progress::default();
    let mut pacer = DeltaPacer::new(
        engine.0.settings.delta_frame,
        plan.run,
        plan.assistant_message,
    );
    let run_max = engine.0.settings.run_max;
    let driven = drive(
        &engine,
        &plan,
        &mut send,
        &writer,
        &mut pacer,
        &mut progress,
        started,
    );
    // However the model and the tools behave, a run ends by RUN_MAX_SECS.
    let outcome = match tokio::time::timeout(run_max, driven).await {
        Ok(outcome) => outcome,
        Err(_) => Ok(Outcome::Failed {
            code: "run_timeout",
            message: format!("the run took longer than {} s", run_max.as_secs()),
        }),
    };
    if !send.begin(&writer).await {
        return; // the send was refused: there is no run to answer or finish
    }
    let outcome = outcome.unwrap_or_else(|e| Outcome::Failed {
        code: "internal",
        message: e.to_string(),
    });
    // Text held for its frame goes in before the run's end.
    send_held(&mut pacer, &writer).await;
    let closed = match writer.close().await {
        Ok(closed) => closed,
        Err(e) => {
            // The run's end still numbers after everything it published.
            tracing::error!(error = %e, run_id = %plan.run, "storing run events failed");
            return fail_unstored(&engine, &plan, &progress).await;
        }
    };
    if let Err(e) = finish(&engine, &plan, &progress, outcome, started, closed).await {
        // The lease will expire and the reaper will finish the run as failed.
        tracing::error!(error = %e, run_id = %plan.run, "finishing run failed");
    }
}

/// Most model turns one run may take (each tool round trip is one).
const MAX_STEPS: usize = 8;
/// Most tool calls one model turn may make.
const MAX_CALLS_PER_STEP: usize = 16;

/// The run's answer grew past `RUN_MAX_OUTPUT_BYTES`.
fn too_large(limit: usize) -> Outcome {
    Outcome::Failed {
        code: "output_too_large",
        message: format!("the answer grew past {} KiB", limit / 1024),
    }
}

/// The longest prefix of `text` of at most `room` bytes, cut at a character boundary.
fn prefix(text: &str, room: usize) -> &str {
    let mut end = room.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

async fn drive(
    engine: &Engine,
    plan: &RunPlan,
    send: &mut SendStored,
    writer: &EventWriter,
    pacer: &mut DeltaPacer,
    progress: &mut Progress,
    started: Instant,
) -> Result<Outcome, ChatError> {
    let mut cancel = CancelWatch(engine.0.bus.subscribe(&cancel_topic(plan.run)).await?);
    // Tool progress from workers comes to the run, which numbers it with its own events.
    let mut tool_progress = engine
        .0
        .bus
        .subscribe(&crate::progress_topic(plan.run))
        .await?;
    let mut progress_open = true;
    let mut request = build_request(plan);
    let lease = engine.0.settings.lease;
    let max_bytes = engine.0.settings.run_max_output_bytes;
    let mut renew = tokio::time::interval(lease / 3);
    renew.tick().await;

    for _step in 0..MAX_STEPS {
        // A send that fails to store drops the model's request at once; one that is stored
        // leaves this branch off (and answers at once on later steps).
        let opened = tokio::select! {
            opened = open_stream(engine, plan, &request, progress) => opened?,
            false = send.wait() => return Ok(Outcome::Cancelled),
            _ = cancel.requested() => return Ok(Outcome::Cancelled),
        };
        if !send.begin(writer).await {
            return Ok(Outcome::Cancelled); // not stored: `execute` ends the run unseen
        }
        let mut stream = match opened {
            Ok(s) => s,
            Err(e) => return Ok(failed(&progress.model_used, e)),
        };
        let mut step_text = String::new();
        let mut calls = Vec::new();
        loop {
            // Far enough that the branch's guard, not its timer, keeps it off.
            let held = pacer.deadline();
            let due = held.unwrap_or_else(|| Instant::now() + lease);
            tokio::select! {
                item = stream.next() => match item {
                    Some(Ok(StreamEvent::Delta(text))) => {
                        progress.ttft.get_or_insert_with(|| started.elapsed());
                        // What fits is kept and shown; the run ends at the limit.
                        let room = max_bytes.saturating_sub(progress.output_bytes);
                        let kept = prefix(&text, room);
                        progress.output_bytes += kept.len();
                        progress.text.push_str(kept);
                        step_text.push_str(kept);
                        if let Some(delta) = pacer.push(kept, Instant::now()) {
                            writer.send(delta).await;
                        }
                        if kept.len() < text.len() {
                            return Ok(too_large(max_bytes));
                        }
                    }
                    Some(Ok(StreamEvent::Usage { input_tokens, output_tokens })) => {
                        progress.input_tokens += input_tokens;
                        progress.output_tokens += output_tokens;
                    }
                    Some(Ok(StreamEvent::ToolCall(call))) => {
                        progress.output_bytes += call.arguments.len() + call.name.len();
                        if progress.output_bytes > max_bytes {
                            return Ok(too_large(max_bytes));
                        }
                        if calls.len() == MAX_CALLS_PER_STEP {
                            return Ok(Outcome::Failed {
                                code: "tool_step_limit",
                                message: format!(
                                    "the model asked for more than {MAX_CALLS_PER_STEP} tool calls at once"
                                ),
                            });
                        }
                        calls.push(call);
                    }
                    Some(Ok(StreamEvent::Done { .. })) | None => break,
                    Some(Err(e)) => return Ok(failed(&progress.model_used, e)),
                },
                _ = tokio::time::sleep_until(due.into()), if held.is_some() => {
                    send_held(pacer, writer).await;
                }
                _ = cancel.requested() => return Ok(Outcome::Cancelled),
                _ = renew.tick() => {
                    let mut db = engine.0.store.tenant(plan.tenant).await?;
                    let stop = runs::renew(&mut db, plan.run, &engine.0.instance, lease).await?;
                    db.commit().await?;
                    if stop {
                        return Ok(Outcome::Cancelled);
                    }
                }
            }
        }
        if calls.is_empty() {
            return Ok(Outcome::Completed);
        }
        // The step's text goes in before its tool calls.
        send_held(pacer, writer).await;
        request.messages.push(ChatMessage::Assistant {
            content: step_text,
            tool_calls: calls.clone(),
        });
        for call in calls {
            let outcome = {
                let running = run_tool(engine, plan, writer, &call);
                tokio::pin!(running);
                loop {
                    tokio::select! {
                        r = &mut running => break r,
                        p = tool_progress.recv(), if progress_open => match p {
                            Ok(Some(p)) => forward_progress(plan, writer, &p).await,
                            Ok(None) => progress_open = false,
                            Err(_lagged) => {} // progress is a hint; the result will come
                        },
                        _ = cancel.requested() => return Ok(Outcome::Cancelled),
                    }
                }
            };
            let ToolOutcome {
                ok,
                content,
                artifacts,
            } = outcome;
            for artifact in artifacts {
                writer.store(artifact).await;
            }
            writer.store(json!({"type": "tool.result", "runId": plan.run, "messageId": plan.assistant_message,
                "callId": call.id, "name": call.name, "ok": ok, "content": content})).await;
            progress.tool_calls.push(
                json!({"id": call.id, "name": call.name, "arguments": call.arguments,
                "ok": ok, "result": content}),
            );
            request.messages.push(ChatMessage::Tool {
                call_id: call.id,
                content,
            });
        }
    }
    Ok(Outcome::Failed {
        code: "tool_step_limit",
        message: format!("the model kept calling tools after {MAX_STEPS} turns"),
    })
}

/// The run's cancel topic. Only a message on it is a request to stop: a bus gap (a Redis
/// restart) is not, and a request missed in one is still seen at the next lease renewal
/// (the database flag).
struct CancelWatch(penny_bus::Subscription);

impl CancelWatch {
    /// Resolves when a stop is asked for; cancel-safe.
    async fn requested(&mut self) {
        loop {
            match self.0.recv().await {
                Ok(Some(_)) => return,
                Err(_lagged) => continue,
                Ok(None) => std::future::pending::<()>().await, // the bus is gone
            }
        }
    }
}

/// Sends the text `pacer` holds, if any: at its frame's end, or before another event.
async fn send_held(pacer: &mut DeltaPacer, writer: &EventWriter) {
    if let Some(delta) = pacer.take(Instant::now()) {
        writer.send(delta).await;
    }
}

/// Passes a worker's progress on a call of this run to its subscribers, numbered by the
/// run (live: progress is not stored; the call's result is).
async fn forward_progress(plan: &RunPlan, writer: &EventWriter, payload: &[u8]) {
    let Ok(Value::Object(mut event)) = serde_json::from_slice::<Value>(payload) else {
        return;
    };
    if event.get("type").and_then(Value::as_str) != Some("tool.progress") {
        return;
    }
    event.insert("runId".into(), json!(plan.run));
    event.insert("messageId".into(), json!(plan.assistant_message));
    writer.send(Value::Object(event)).await;
}

/// Announces and runs one call: the `tool.call` event and its job are stored together; a
/// tool that was not offered, or arguments the tool refuses, are answered without a job.
async fn run_tool(
    engine: &Engine,
    plan: &RunPlan,
    writer: &EventWriter,
    call: &ToolCall,
) -> ToolOutcome {
    let event = json!({"type": "tool.call", "runId": plan.run, "messageId": plan.assistant_message,
        "callId": call.id, "name": call.name, "arguments": call.arguments});
    let refused = |content: String| ToolOutcome {
        ok: false,
        content,
        artifacts: Vec::new(),
    };
    if !plan.tools.iter().any(|t| t.name == call.name) {
        writer.store(event).await;
        return refused(format!(
            "tool {:?} is not available for this message",
            call.name
        ));
    }
    let site = CallSite {
        caller: plan.caller,
        conversation: plan.conversation,
        run: plan.run,
        message: plan.assistant_message,
        collections: plan.collections.clone(),
    };
    let job = match engine.0.tools.prepare(&site, call) {
        Ok(job) => job,
        Err(message) => {
            writer.store(event).await;
            return refused(message);
        }
    };
    match writer.send_with_job(event, job).await {
        Ok(id) => engine.0.tools.finish(plan.tenant, id).await,
        Err(message) => refused(message),
    }
}

fn failed(model: &Option<Model>, e: ProviderError) -> Outcome {
    let name = model.as_ref().map(|m| m.name.as_str()).unwrap_or("?");
    let message = match &e {
        ProviderError::Auth { status, .. } => format!(
            "model {name}: the upstream rejected its API key ({status}); an admin must fix the key of model {name}"
        ),
        other => format!("model {name}: {}", other.public_message()),
    };
    Outcome::Failed {
        code: e.code(),
        message,
    }
}

fn build_request(plan: &RunPlan) -> ChatRequest {
    let system = plan.system_prompt.clone();
    let reserved = plan.max_output_tokens(&plan.model) as usize
        + system.as_deref().map(estimate_tokens).unwrap_or(0);
    let budget = (plan.model.context_window as usize)
        .saturating_sub(reserved)
        .max(1);
    ChatRequest {
        system,
        messages: history(&plan.branch, budget),
        tools: plan.tools.clone(),
    }
}

fn endpoint(engine: &Engine, plan: &RunPlan, m: &Model) -> Result<ModelEndpoint, ProviderError> {
    engine.endpoint(m, plan.max_output_tokens(m))
}

/// Opens the stream: retries retryable errors with exponential backoff, then tries the
/// fallback model once the same way. Errors after the first token are not retried.
async fn open_stream(
    engine: &Engine,
    plan: &RunPlan,
    request: &ChatRequest,
    progress: &mut Progress,
) -> Result<Result<EventStream, ProviderError>, ChatError> {
    let mut candidates = vec![plan.model.clone()];
    if let Some(fallback) = &plan.model.fallback {
        let mut db = engine.0.store.tenant(plan.tenant).await?;
        if let Some(m) = models::resolve(&mut db, Some(fallback)).await? {
            // The policy that chose the model binds its fallback too.
            if policies::model_allows(&mut db, m.id, plan.caller.role).await? {
                candidates.push(m);
            }
        }
        db.commit().await?;
    }
    let s = &engine.0.settings;
    let mut last = ProviderError::Connect("no model tried".into());
    for model in candidates {
        progress.model_used = Some(model.clone());
        let ep = match endpoint(engine, plan, &model) {
            Ok(ep) => ep,
            Err(e) => return Ok(Err(e)),
        };
        let mut delay = s.backoff;
        for attempt in 1..=s.attempts.max(1) {
            match engine.0.client.stream(&ep, request).await {
                Ok(stream) => return Ok(Ok(stream)),
                Err(e) if e.is_retryable() => {
                    tracing::warn!(model = %model.name, attempt, error = %e, "model request failed; retrying");
                    if attempt < s.attempts {
                        let wait = match &e {
                            ProviderError::RateLimited {
                                retry_after: Some(d),
                                ..
                            } => (*d).min(Duration::from_secs(10)),
                            _ => delay,
                        };
                        tokio::time::sleep(wait).await;
                        delay *= 2;
                    }
                    last = e;
                }
                Err(e) => return Ok(Err(e)),
            }
        }
    }
    Ok(Err(last))
}

async fn finish(
    engine: &Engine,
    plan: &RunPlan,
    p: &Progress,
    outcome: Outcome,
    started: Instant,
    closed: crate::writer::Closed,
) -> Result<(), ChatError> {
    let model = p.model_used.as_ref().unwrap_or(&plan.model);
    let (status, event) = match &outcome {
        Outcome::Completed => ("complete", "run.completed"),
        Outcome::Cancelled => ("cancelled", "run.cancelled"),
        Outcome::Failed { .. } => ("failed", "run.failed"),
    };
    let run_status = if status == "complete" {
        "completed"
    } else {
        status
    };
    let cost = p.input_tokens as f64 / 1000.0 * model.price_input_per_1k
        + p.output_tokens as f64 / 1000.0 * model.price_output_per_1k;
    let duration_ms = started.elapsed().as_millis() as i32;
    let ttft_ms = p.ttft.map(|d| d.as_millis() as i32);
    let mut final_event: Value = json!({"type": event, "runId": plan.run, "messageId": plan.assistant_message,
        "model": model.name, "usage": {"inputTokens": p.input_tokens, "outputTokens": p.output_tokens},
        "cost": cost, "ttftMs": ttft_ms, "durationMs": duration_ms});
    let error_code = match &outcome {
        Outcome::Failed { code, message } => {
            final_event["code"] = json!(code);
            final_event["message"] = json!(message);
            Some(*code)
        }
        _ => None,
    };
    let finish = Finish {
        content: &p.text,
        status,
        model: Some(&model.name),
        input_tokens: Some(p.input_tokens as i64),
        output_tokens: Some(p.output_tokens as i64),
        ttft_ms,
        duration_ms: Some(duration_ms),
        cost: Some(cost),
        error_code,
        tool_calls: (!p.tool_calls.is_empty()).then(|| Value::Array(p.tool_calls.clone())),
    };
    let end = runs::End {
        conversation: plan.conversation,
        run: plan.run,
        status: run_status,
        message: plan.assistant_message,
        finish,
        events: std::slice::from_ref(&final_event),
        seq: Some(closed.seq),
        checkpoint: closed.checkpoint.as_ref().map(|c| (&c.event, c.replaces)),
    };
    // None: the reaper got there first.
    if let Some(stored) = runs::end(&engine.0.store, plan.tenant, end).await? {
        engine.publish_all(plan.conversation, &stored).await;
    }
    Ok(())
}

/// Ends a run whose events could not all be stored as failed, the way the reaper would:
/// past its reservation, with the text it streamed, so no seq it published is reused.
async fn fail_unstored(engine: &Engine, plan: &RunPlan, p: &Progress) {
    let ended = engine
        .fail_from_outside(
            plan.tenant,
            plan.conversation,
            plan.run,
            plan.assistant_message,
            &p.text,
            ("internal", "the answer could not be stored"),
        )
        .await;
    if let Err(e) = ended {
        tracing::error!(error = %e, run_id = %plan.run, "finishing run failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wait_dropped_before_the_answer_keeps_the_gate() {
        let (stored, gate) = oneshot::channel();
        let mut send = SendStored::new(gate);
        // As `select!` drops the branch that lost the race.
        let early = tokio::time::timeout(Duration::from_millis(5), send.wait()).await;
        assert!(early.is_err());
        stored.send(7).unwrap();
        assert!(send.wait().await);
        assert!(send.wait().await, "the answer is remembered");
    }

    #[tokio::test]
    async fn a_send_that_was_not_stored_says_so() {
        let (stored, gate) = oneshot::channel::<i64>();
        let mut send = SendStored::new(gate);
        drop(stored);
        assert!(!send.wait().await);
        assert!(!send.wait().await);
    }
}
