//! What the two wire formats share: turning SSE events into [`StreamEvent`]s, and
//! assembling a tool call from the pieces it arrives in.

use std::collections::VecDeque;

use crate::sse::SseEvent;
use crate::{ProviderError, StreamEvent, ToolCall};

/// One provider's reading of its event stream.
pub(crate) trait Decoder: Send + 'static {
    /// Handles one SSE event, pushing the events it completes.
    fn event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError>;

    /// Whether the provider's terminal event has been seen.
    fn is_done(&self) -> bool;

    /// The byte stream ended before [`is_done`](Decoder::is_done): either finish the
    /// stream (pushing `Done`) or say why it is incomplete.
    fn end_of_input(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError>;
}

/// A tool call whose arguments are still arriving.
#[derive(Debug, Default)]
pub(crate) struct PartialCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// Most bytes of arguments one tool call may arrive with.
pub(crate) const MAX_CALL_ARGUMENTS: usize = 1024 * 1024;
/// Most tool calls one model turn may make.
pub(crate) const MAX_CALLS: usize = 64;

/// Refuses a turn with more calls than [`MAX_CALLS`] (`open` calls so far).
pub(crate) fn check_calls(open: usize) -> Result<(), ProviderError> {
    if open > MAX_CALLS {
        return Err(ProviderError::Protocol(format!(
            "the model made more than {MAX_CALLS} tool calls in one turn"
        )));
    }
    Ok(())
}

impl PartialCall {
    /// Adds a piece of the arguments, refusing more than [`MAX_CALL_ARGUMENTS`] in all.
    pub fn append(&mut self, piece: &str) -> Result<(), ProviderError> {
        if self.arguments.len() + piece.len() > MAX_CALL_ARGUMENTS {
            return Err(ProviderError::Protocol(format!(
                "a tool call's arguments are larger than {} KiB",
                MAX_CALL_ARGUMENTS / 1024
            )));
        }
        self.arguments.push_str(piece);
        Ok(())
    }

    pub fn finish(self, fallback_id: impl FnOnce() -> String) -> Result<ToolCall, ProviderError> {
        if self.name.is_empty() {
            return Err(ProviderError::Protocol(
                "a tool call arrived without a name".into(),
            ));
        }
        let arguments = if self.arguments.trim().is_empty() {
            "{}".to_owned()
        } else {
            self.arguments
        };
        let id = if self.id.is_empty() {
            fallback_id()
        } else {
            self.id
        };
        Ok(ToolCall {
            id,
            name: self.name,
            arguments,
        })
    }
}

pub(crate) fn parse_json<'a, T: serde::Deserialize<'a>>(data: &'a str) -> Result<T, ProviderError> {
    serde_json::from_str(data).map_err(|e| {
        ProviderError::Protocol(format!(
            "unreadable event ({e}): {}",
            crate::error::truncate(data.to_owned(), 200)
        ))
    })
}

/// Runs `decoder` over recorded bytes split every `size` bytes, as a network might.
#[cfg(test)]
pub(crate) fn decode_chunked(
    mut decoder: impl Decoder,
    input: &str,
    size: usize,
) -> Result<Vec<StreamEvent>, ProviderError> {
    let mut parser = crate::sse::SseParser::default();
    let mut out = VecDeque::new();
    for chunk in input.as_bytes().chunks(size) {
        for event in parser.feed(chunk)? {
            decoder.event(event, &mut out)?;
        }
    }
    if let Some(event) = parser.finish()? {
        decoder.event(event, &mut out)?;
    }
    if !decoder.is_done() {
        decoder.end_of_input(&mut out)?;
    }
    Ok(out.into())
}
