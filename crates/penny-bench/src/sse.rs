//! A reader of server-sent events over a hyper response body, stamping each event with
//! the instant the bytes that completed it arrived.

use std::time::Instant;

use anyhow::Context;
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// One event: its `event:` name (empty when none), its `data:` lines joined by `\n`.
pub struct Event {
    pub event: String,
    pub data: String,
    pub at: Instant,
}

pub struct Reader {
    body: Incoming,
    buf: Vec<u8>,
    ready: std::collections::VecDeque<Event>,
}

impl Reader {
    pub fn new(body: Incoming) -> Reader {
        Reader {
            body,
            buf: Vec::new(),
            ready: std::collections::VecDeque::new(),
        }
    }

    /// The next event, or `None` when the stream has ended.
    pub async fn next(&mut self) -> anyhow::Result<Option<Event>> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Ok(Some(e));
            }
            let Some(frame) = self.body.frame().await else {
                return Ok(None);
            };
            let frame = frame.context("reading the event stream")?;
            let at = Instant::now();
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            self.buf.extend_from_slice(&data);
            while let Some(end) = find_blank_line(&self.buf) {
                let block: Vec<u8> = self.buf.drain(..end.0 + end.1).collect();
                if let Some(e) = parse(&block[..end.0], at) {
                    self.ready.push_back(e);
                }
            }
        }
    }
}

/// Where the first event ends: (its length, the separator's length).
fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn parse(block: &[u8], at: Instant) -> Option<Event> {
    let text = String::from_utf8_lossy(block);
    let mut event = String::new();
    let mut data: Vec<&str> = Vec::new();
    for line in text.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = value.to_string(),
            "data" => data.push(value),
            _ => {} // id, retry, comments (keep-alives)
        }
    }
    if data.is_empty() {
        return None;
    }
    Some(Event {
        event,
        data: data.join("\n"),
        at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_and_comments_skipped() {
        let at = Instant::now();
        let buf = b"id: 3\nevent: message.delta\ndata: {\"seq\":3}\n\n:\n\ndata: [DONE]\n\n";
        let (len, sep) = find_blank_line(buf).unwrap();
        let e = parse(&buf[..len], at).unwrap();
        assert_eq!(e.event, "message.delta");
        assert_eq!(e.data, "{\"seq\":3}");
        let rest = &buf[len + sep..];
        let (len, _) = find_blank_line(rest).unwrap();
        assert!(parse(&rest[..len], at).is_none());
    }
}
