//! One conversation event as clients receive it: its JSON text, serialised once when it
//! is published or read from the log and shared by every subscriber (a WebSocket or SSE
//! writer sends the bytes as they are), with the few fields routing needs read out.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct ChatEvent {
    pub seq: i64,
    /// The event's `type` (`message.delta`, `run.completed`…).
    pub kind: String,
    pub run_id: Option<Uuid>,
    /// For a `message.text`: the first seq it stands in for (it carries the whole text of
    /// its message up to its own seq).
    pub from_seq: Option<i64>,
    json: Bytes,
}

/// The fields read out of an event; the rest of the text is skipped, not copied.
#[derive(Deserialize)]
struct Head {
    seq: i64,
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "runId", default)]
    run_id: Option<Uuid>,
    #[serde(rename = "fromSeq", default)]
    from_seq: Option<i64>,
}

impl ChatEvent {
    /// From the bus: `None` if the bytes are not an event (not UTF-8 JSON with a seq).
    pub fn from_bytes(json: Bytes) -> Option<Self> {
        std::str::from_utf8(&json).ok()?;
        let head: Head = serde_json::from_slice(&json).ok()?;
        let from_seq = head.from_seq.filter(|_| head.kind == "message.text");
        Some(ChatEvent {
            seq: head.seq,
            kind: head.kind,
            run_id: head.run_id,
            from_seq,
            json,
        })
    }

    /// From the log.
    pub fn from_value(v: &Value) -> Option<Self> {
        Self::from_bytes(Bytes::from(serde_json::to_vec(v).ok()?))
    }

    /// The event as JSON text.
    pub fn text(&self) -> &str {
        // Checked to be UTF-8 when made.
        std::str::from_utf8(&self.json).unwrap_or_default()
    }

    /// The event as JSON bytes (UTF-8), cheap to clone.
    pub fn json(&self) -> Bytes {
        self.json.clone()
    }

    /// The event as a JSON value (for tests and callers that inspect it).
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }

    /// Whether this event comes right after seq `last`: the next seq, or a `message.text`
    /// that stands in for it.
    pub fn follows(&self, last: i64) -> bool {
        self.seq == last + 1 || (self.seq > last && self.from_seq.is_some_and(|f| f <= last + 1))
    }

    /// Whether this event ends run `run`.
    pub fn ends_run(&self, run: Uuid) -> bool {
        self.run_id == Some(run)
            && matches!(
                self.kind.as_str(),
                "run.completed" | "run.failed" | "run.cancelled"
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_routing_fields_and_keeps_the_text() {
        let run = Uuid::new_v4();
        let v = json!({"type": "run.completed", "seq": 7, "runId": run, "usage": {"a": 1}});
        let e = ChatEvent::from_value(&v).expect("an event");
        assert_eq!(e.seq, 7);
        assert_eq!(e.kind, "run.completed");
        assert!(e.ends_run(run));
        assert!(!e.ends_run(Uuid::new_v4()));
        assert_eq!(e.value(), v);
    }

    #[test]
    fn refuses_what_is_not_an_event() {
        assert!(ChatEvent::from_bytes(Bytes::from_static(b"{\"type\":\"x\"}")).is_none());
        assert!(ChatEvent::from_bytes(Bytes::from_static(b"not json")).is_none());
        assert!(ChatEvent::from_bytes(Bytes::from_static(b"\xff\xfe")).is_none());
    }
}
