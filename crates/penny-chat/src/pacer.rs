//! Paces one run's deltas to at most one event per frame.
//!
//! A model that streams faster than a screen refreshes (many do: 100-200 tokens/s) would
//! otherwise cost one stored row, one bus message and one socket write per token, for
//! updates no reader can see apart. The first delta, and any delta that comes a frame or
//! more after the last one sent, goes out at once: time to first token and slow models
//! gain no latency. Deltas that come faster are held and sent together when the frame
//! ends (a throttle with leading and trailing edges), so a held token waits at most one
//! frame. A frame of zero sends every delta as it comes.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use uuid::Uuid;

pub(crate) struct DeltaPacer {
    frame: Duration,
    run: Uuid,
    message: Uuid,
    last_sent: Option<Instant>,
    held: String,
}

impl DeltaPacer {
    pub fn new(frame: Duration, run: Uuid, message: Uuid) -> Self {
        DeltaPacer {
            frame,
            run,
            message,
            last_sent: None,
            held: String::new(),
        }
    }

    /// Takes a delta's text; returns the event to send now, if its frame allows one.
    pub fn push(&mut self, text: &str, now: Instant) -> Option<Value> {
        self.held.push_str(text);
        match self.last_sent {
            Some(sent) if now < sent + self.frame => None,
            _ => self.take(now),
        }
    }

    /// When the held text is due, if any is held.
    pub fn deadline(&self) -> Option<Instant> {
        match self.last_sent {
            Some(sent) if !self.held.is_empty() => Some(sent + self.frame),
            _ => None,
        }
    }

    /// The held text as one delta event (at a frame's end, or before any other event of the
    /// run, so the log keeps the run's order).
    pub fn take(&mut self, now: Instant) -> Option<Value> {
        if self.held.is_empty() {
            return None;
        }
        self.last_sent = Some(now);
        let text = std::mem::take(&mut self.held);
        Some(json!({"type": "message.delta", "runId": self.run,
            "messageId": self.message, "text": text}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Duration = Duration::from_millis(16);

    fn pacer() -> DeltaPacer {
        DeltaPacer::new(FRAME, Uuid::nil(), Uuid::nil())
    }

    fn text(e: Option<Value>) -> Option<String> {
        e.map(|e| e["text"].as_str().unwrap().to_string())
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_first_delta_goes_at_once_and_faster_ones_wait_for_the_frame() {
        let t0 = Instant::now();
        let mut p = pacer();
        assert_eq!(text(p.push("a", t0)), Some("a".into()));
        assert_eq!(p.deadline(), None);
        assert_eq!(text(p.push("b", t0 + ms(5))), None);
        assert_eq!(text(p.push("c", t0 + ms(10))), None);
        assert_eq!(p.deadline(), Some(t0 + FRAME));
        assert_eq!(text(p.take(t0 + FRAME)), Some("bc".into()));
        assert_eq!(p.deadline(), None);
        // The next frame starts at that send.
        assert_eq!(text(p.push("d", t0 + ms(20))), None);
        assert_eq!(p.deadline(), Some(t0 + FRAME + FRAME));
    }

    #[test]
    fn a_delta_a_frame_after_the_last_send_is_not_held() {
        let t0 = Instant::now();
        let mut p = pacer();
        p.push("a", t0);
        assert_eq!(text(p.push("b", t0 + FRAME)), Some("b".into()));
        assert_eq!(text(p.push("c", t0 + ms(40))), Some("c".into()));
    }

    #[test]
    fn nothing_held_gives_no_event() {
        let mut p = pacer();
        assert!(p.take(Instant::now()).is_none());
    }

    #[test]
    fn a_zero_frame_sends_every_delta() {
        let t0 = Instant::now();
        let mut p = DeltaPacer::new(Duration::ZERO, Uuid::nil(), Uuid::nil());
        for i in 0..3 {
            assert_eq!(text(p.push("x", t0)), Some("x".into()), "delta {i}");
        }
    }
}
