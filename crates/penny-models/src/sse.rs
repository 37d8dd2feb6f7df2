//! A Server-Sent Events parser that takes bytes in arbitrary chunks.
//!
//! Upstreams split their bytes wherever the network does, including inside a line or a
//! UTF-8 sequence, so lines are cut from raw bytes and decoded only once complete.

use crate::ProviderError;

/// Longest line the parser holds while waiting for its end: an upstream that never sends a
/// newline must not grow a buffer without bound.
pub(crate) const MAX_LINE: usize = 1024 * 1024;
/// Most `data:` one event may carry (one JSON object of a provider's stream).
pub(crate) const MAX_EVENT: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event:` field; empty when absent (the SSE default type, "message").
    pub event: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

#[derive(Debug, Default)]
pub(crate) struct SseParser {
    buf: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
}

impl SseParser {
    /// Adds a chunk and returns the events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, ProviderError> {
        self.buf.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(offset) = self.buf[start..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
        {
            let end = start + offset;
            let next = match self.buf[end] {
                b'\r' => match self.buf.get(end + 1) {
                    Some(b'\n') => end + 2,
                    Some(_) => end + 1,
                    // A CR at the end of the buffer may be the first half of CRLF.
                    None => break,
                },
                _ => end + 1,
            };
            let line = std::str::from_utf8(&self.buf[start..end])
                .map_err(|_| ProviderError::Protocol("stream is not valid UTF-8".into()))?
                .to_owned();
            start = next;
            if let Some(event) = self.line(&line)? {
                events.push(event);
            }
        }
        self.buf.drain(..start);
        if self.buf.len() > MAX_LINE {
            return Err(ProviderError::Protocol(format!(
                "a line of the stream is longer than {} KiB",
                MAX_LINE / 1024
            )));
        }
        Ok(events)
    }

    /// Ends the input: a last event without its blank line is still delivered, since some
    /// servers close the stream right after the final `data:` line.
    pub fn finish(&mut self) -> Result<Option<SseEvent>, ProviderError> {
        let rest = std::mem::take(&mut self.buf);
        let mut last = None;
        if !rest.is_empty() {
            let line = std::str::from_utf8(&rest)
                .map_err(|_| ProviderError::Protocol("stream is not valid UTF-8".into()))?;
            let line = line.strip_suffix('\r').unwrap_or(line);
            last = self.line(line)?;
        }
        Ok(last.or_else(|| self.dispatch()))
    }

    fn line(&mut self, line: &str) -> Result<Option<SseEvent>, ProviderError> {
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                if self.data.len() + value.len() >= MAX_EVENT {
                    return Err(ProviderError::Protocol(format!(
                        "an event of the stream is larger than {} MiB",
                        MAX_EVENT / (1024 * 1024)
                    )));
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // `id` and `retry` matter only to browsers that reconnect by themselves.
            _ => {}
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = std::mem::take(&mut self.event);
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        Some(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(input: &[u8], sizes: &[usize]) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        let mut rest = input;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes[i % sizes.len()].min(rest.len());
            let (chunk, tail) = rest.split_at(n);
            events.extend(parser.feed(chunk).unwrap());
            rest = tail;
            i += 1;
        }
        events.extend(parser.finish().unwrap());
        events
    }

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn events_survive_every_split_point() {
        let input = "event: message_start\ndata: {\"a\":\"héllo\"}\n\n: keep-alive\n\ndata: one\ndata: two\r\n\r\ndata:[DONE]\r\rdata: last";
        let expected = vec![
            ev("message_start", "{\"a\":\"héllo\"}"),
            ev("", "one\ntwo"),
            ev("", "[DONE]"),
            ev("", "last"),
        ];
        for size in 1..input.len() {
            assert_eq!(
                parse_in_pieces(input.as_bytes(), &[size]),
                expected,
                "split every {size} bytes"
            );
        }
        assert_eq!(parse_in_pieces(input.as_bytes(), &[3, 1, 7, 2]), expected);
    }

    #[test]
    fn event_type_without_data_is_not_dispatched() {
        assert_eq!(
            parse_in_pieces(b"event: ping\n\ndata: x\n\n", &[5]),
            vec![ev("", "x")]
        );
    }

    #[test]
    fn invalid_utf8_is_a_protocol_error() {
        let mut parser = SseParser::default();
        assert!(matches!(
            parser.feed(b"data: \xff\xfe\n"),
            Err(ProviderError::Protocol(_))
        ));
    }

    #[test]
    fn a_line_without_end_is_refused_past_the_cap() {
        let mut p = SseParser::default();
        let chunk = vec![b'x'; 64 * 1024];
        let mut result = Ok(Vec::new());
        for _ in 0..(MAX_LINE / chunk.len() + 2) {
            result = p.feed(&chunk);
            if result.is_err() {
                break;
            }
        }
        assert!(matches!(result, Err(ProviderError::Protocol(_))));
        assert!(p.buf.len() <= MAX_LINE + chunk.len());
    }

    #[test]
    fn an_event_of_endless_data_lines_is_refused() {
        let mut p = SseParser::default();
        let line = format!("data: {}\n", "y".repeat(64 * 1024));
        let mut refused = false;
        for _ in 0..(MAX_EVENT / line.len() + 2) {
            if p.feed(line.as_bytes()).is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused);
    }
}
