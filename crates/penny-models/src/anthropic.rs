//! Anthropic Messages: the request body and the typed event stream.

use std::collections::{HashMap, VecDeque};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::decode::{parse_json, Decoder, PartialCall};
use crate::sse::SseEvent;
use crate::{ChatMessage, ChatRequest, ModelEndpoint, ProviderError, StreamEvent};

pub(crate) const VERSION: &str = "2023-06-01";
/// Anthropic requires `max_tokens`; used when the endpoint leaves it at 0.
const DEFAULT_MAX_TOKENS: u32 = 4096;

pub(crate) fn url(ep: &ModelEndpoint) -> String {
    format!("{}/messages", ep.base_url.trim_end_matches('/'))
}

pub(crate) fn request_body(ep: &ModelEndpoint, req: &ChatRequest) -> Value {
    // Anthropic wants user and assistant turns to alternate and every tool result of a
    // turn in the one user message after it, so consecutive user-side blocks are merged.
    let mut messages: Vec<(&str, Vec<Value>)> = Vec::new();
    let mut push = |role: &'static str, blocks: Vec<Value>| match messages.last_mut() {
        Some((last, existing)) if *last == role => existing.extend(blocks),
        _ => messages.push((role, blocks)),
    };
    for message in &req.messages {
        match message {
            ChatMessage::User { content } => {
                push("user", vec![json!({"type": "text", "text": content})]);
            }
            ChatMessage::Assistant {
                content,
                tool_calls,
            } => {
                let mut blocks = Vec::with_capacity(tool_calls.len() + 1);
                if !content.is_empty() {
                    blocks.push(json!({"type": "text", "text": content}));
                }
                for call in tool_calls {
                    blocks.push(json!({
                        "type": "tool_use",
                        "id": call.id,
                        "name": call.name,
                        "input": tool_input(&call.arguments),
                    }));
                }
                // An empty assistant turn is refused by the API and says nothing.
                if !blocks.is_empty() {
                    push("assistant", blocks);
                }
            }
            ChatMessage::Tool { call_id, content } => push(
                "user",
                vec![json!({"type": "tool_result", "tool_use_id": call_id, "content": content})],
            ),
        }
    }
    let messages: Vec<Value> = messages
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    let max_tokens = match ep.max_output_tokens {
        0 => DEFAULT_MAX_TOKENS,
        n => n,
    };
    let mut body = json!({
        "model": ep.model,
        "stream": true,
        "max_tokens": max_tokens,
        "messages": messages,
    });
    if let Some(system) = &req.system {
        body["system"] = system.as_str().into();
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.parameters,
                })
            })
            .collect();
        body["tools"] = tools.into();
    }
    body
}

/// `tool_use.input` must be an object; a model that produced broken arguments earlier
/// gets them back wrapped rather than losing the conversation.
fn tool_input(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => value,
        Ok(_) | Err(_) if arguments.trim().is_empty() => json!({}),
        Ok(_) | Err(_) => {
            tracing::warn!("tool call arguments are not a JSON object; sending them wrapped");
            json!({"_raw_arguments": arguments})
        }
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: MessageStart,
    },
    ContentBlockStart {
        index: u64,
        content_block: Block,
    },
    ContentBlockDelta {
        index: u64,
        delta: BlockDelta,
    },
    ContentBlockStop {
        index: u64,
    },
    MessageDelta {
        delta: MessageDelta,
        usage: Option<Usage>,
    },
    MessageStop,
    Error {
        error: ApiError,
    },
    // `ping` and event types added after this was written.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct MessageStart {
    usage: Option<Usage>,
}

#[derive(Deserialize, Default)]
struct Usage {
    input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

impl Usage {
    /// Cached prompt tokens are reported apart from `input_tokens`; all were read.
    fn input(&self) -> Option<u64> {
        let parts = [
            self.input_tokens,
            self.cache_creation_input_tokens,
            self.cache_read_input_tokens,
        ];
        parts
            .iter()
            .any(Option::is_some)
            .then(|| parts.iter().flatten().sum())
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    // Thinking blocks and others are not part of the answer.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct MessageDelta {
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

#[derive(Debug, Default)]
pub(crate) struct AnthropicDecoder {
    /// Open tool_use blocks by content-block index.
    calls: HashMap<u64, PartialCall>,
    /// A tool_use block's `input` when it came complete in content_block_start.
    start_inputs: HashMap<u64, String>,
    input_tokens: u64,
    output_tokens: u64,
    usage_sent: bool,
    stop_reason: Option<String>,
    done: bool,
}

impl Decoder for AnthropicDecoder {
    fn event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError> {
        let event: Event = parse_json(&event.data)?;
        match event {
            Event::MessageStart { message } => {
                if let Some(usage) = message.usage {
                    self.input_tokens = usage.input().unwrap_or(0);
                    self.output_tokens = usage.output_tokens.unwrap_or(0);
                }
            }
            Event::ContentBlockStart {
                index,
                content_block,
            } => match content_block {
                Block::Text { text } if !text.is_empty() => out.push_back(StreamEvent::Delta(text)),
                Block::ToolUse { id, name, input } => {
                    // Deltas normally carry the input; a non-empty start input stands when
                    // no delta follows.
                    if let Value::Object(map) = input {
                        if !map.is_empty() {
                            self.start_inputs
                                .insert(index, Value::Object(map).to_string());
                        }
                    }
                    crate::decode::check_calls(self.calls.len() + 1)?;
                    self.calls.insert(
                        index,
                        PartialCall {
                            id,
                            name,
                            arguments: String::new(),
                        },
                    );
                }
                Block::Text { .. } | Block::Other => {}
            },
            Event::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } if !text.is_empty() => {
                    out.push_back(StreamEvent::Delta(text));
                }
                BlockDelta::InputJsonDelta { partial_json } => {
                    let call = self.calls.get_mut(&index).ok_or_else(|| {
                        ProviderError::Protocol(format!(
                            "input_json_delta for unknown block {index}"
                        ))
                    })?;
                    call.append(&partial_json)?;
                }
                BlockDelta::TextDelta { .. } | BlockDelta::Other => {}
            },
            Event::ContentBlockStop { index } => {
                let start_input = self.start_inputs.remove(&index);
                if let Some(mut call) = self.calls.remove(&index) {
                    if call.arguments.trim().is_empty() {
                        call.arguments = start_input.unwrap_or_default();
                    }
                    out.push_back(StreamEvent::ToolCall(
                        call.finish(|| format!("toolu_{index}"))?,
                    ));
                }
            }
            Event::MessageDelta { delta, usage } => {
                if let Some(reason) = delta.stop_reason {
                    self.stop_reason = Some(reason);
                }
                let usage = usage.unwrap_or_default();
                self.input_tokens = usage.input().unwrap_or(self.input_tokens);
                self.output_tokens = usage.output_tokens.unwrap_or(self.output_tokens);
                self.push_usage(out);
            }
            Event::MessageStop => {
                if !self.usage_sent {
                    self.push_usage(out);
                }
                let finish_reason = self
                    .stop_reason
                    .take()
                    .unwrap_or_else(|| "end_turn".to_owned());
                out.push_back(StreamEvent::Done { finish_reason });
                self.done = true;
            }
            Event::Error { error } => return Err(api_error(error)),
            Event::Other => {}
        }
        Ok(())
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn end_of_input(&mut self, _out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        Err(ProviderError::Disconnected(
            "stream ended before message_stop".into(),
        ))
    }
}

impl AnthropicDecoder {
    fn push_usage(&mut self, out: &mut VecDeque<StreamEvent>) {
        out.push_back(StreamEvent::Usage {
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
        });
        self.usage_sent = true;
    }
}

/// An `error` event sent after the 200 status; its type says what an HTTP status would.
fn api_error(error: ApiError) -> ProviderError {
    let message = if error.message.is_empty() {
        error.kind.clone()
    } else {
        error.message
    };
    match error.kind.as_str() {
        "rate_limit_error" => ProviderError::RateLimited {
            retry_after: None,
            message,
        },
        "authentication_error" => ProviderError::Auth {
            status: 401,
            message,
        },
        "permission_error" => ProviderError::Auth {
            status: 403,
            message,
        },
        "overloaded_error" => ProviderError::Upstream {
            status: 529,
            message,
        },
        "invalid_request_error" => ProviderError::Upstream {
            status: 400,
            message,
        },
        "not_found_error" => ProviderError::Upstream {
            status: 404,
            message,
        },
        "request_too_large" => ProviderError::Upstream {
            status: 413,
            message,
        },
        _ => ProviderError::Upstream {
            status: 500,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Provider, ToolCall, ToolSpec};

    fn decode(input: &str, size: usize) -> Result<Vec<StreamEvent>, ProviderError> {
        crate::decode::decode_chunked(AnthropicDecoder::default(), input, size)
    }

    const RECORDED: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude\",\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\n",
        "data: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me check \"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Päris.\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \\\"Pa\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ris\\\"}\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );

    #[test]
    fn text_and_tool_use_blocks_survive_awkward_splits() {
        let expected = vec![
            StreamEvent::Delta("Let me check ".into()),
            StreamEvent::Delta("Päris.".into()),
            StreamEvent::ToolCall(ToolCall {
                id: "toolu_01".into(),
                name: "get_weather".into(),
                arguments: r#"{"city": "Paris"}"#.into(),
            }),
            StreamEvent::Usage {
                input_tokens: 30,
                output_tokens: 89,
            },
            StreamEvent::Done {
                finish_reason: "tool_use".into(),
            },
        ];
        for size in [1, 2, 3, 4, 7, 13, 100, RECORDED.len()] {
            assert_eq!(decode(RECORDED, size).unwrap(), expected, "split {size}");
        }
    }

    #[test]
    fn stream_without_message_stop_is_disconnected() {
        let cut = &RECORDED[..RECORDED.find("event: message_stop").unwrap_or(0)];
        assert!(matches!(
            decode(cut, 9),
            Err(ProviderError::Disconnected(_))
        ));
    }

    #[test]
    fn error_event_maps_to_provider_error() {
        let input = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let err = decode(input, 5).unwrap_err();
        assert_eq!(
            err,
            ProviderError::Upstream {
                status: 529,
                message: "Overloaded".into()
            }
        );
        assert!(err.is_retryable());
    }

    #[test]
    fn unknown_event_types_are_ignored() {
        let input = "event: future_thing\ndata: {\"type\":\"future_thing\",\"x\":1}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        assert_eq!(
            decode(input, 6).unwrap(),
            vec![
                StreamEvent::Usage {
                    input_tokens: 0,
                    output_tokens: 0
                },
                StreamEvent::Done {
                    finish_reason: "end_turn".into()
                }
            ]
        );
    }

    #[test]
    fn request_merges_tool_results_into_one_user_turn() {
        let ep = ModelEndpoint {
            provider: Provider::Anthropic,
            base_url: "http://x/v1".into(),
            api_key: Some("k".into()),
            model: "claude".into(),
            max_output_tokens: 0,
        };
        let call = |id: &str| ToolCall {
            id: id.into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Paris"}"#.into(),
        };
        let req = ChatRequest {
            system: Some("be brief".into()),
            messages: vec![
                ChatMessage::User {
                    content: "weather?".into(),
                },
                ChatMessage::Assistant {
                    content: "Checking.".into(),
                    tool_calls: vec![call("t1"), call("t2")],
                },
                ChatMessage::Tool {
                    call_id: "t1".into(),
                    content: "sunny".into(),
                },
                ChatMessage::Tool {
                    call_id: "t2".into(),
                    content: "rainy".into(),
                },
            ],
            tools: vec![ToolSpec {
                name: "get_weather".into(),
                description: "Weather by city".into(),
                parameters: json!({"type": "object"}),
            }],
        };
        assert_eq!(url(&ep), "http://x/v1/messages");
        assert_eq!(
            request_body(&ep, &req),
            json!({
                "model": "claude",
                "stream": true,
                "max_tokens": 4096,
                "system": "be brief",
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
                    {"role": "assistant", "content": [
                        {"type": "text", "text": "Checking."},
                        {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}},
                        {"type": "tool_use", "id": "t2", "name": "get_weather", "input": {"city": "Paris"}},
                    ]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "t1", "content": "sunny"},
                        {"type": "tool_result", "tool_use_id": "t2", "content": "rainy"},
                    ]},
                ],
                "tools": [{"name": "get_weather", "description": "Weather by city",
                           "input_schema": {"type": "object"}}],
            })
        );
    }

    #[test]
    fn broken_tool_arguments_are_sent_wrapped() {
        assert_eq!(tool_input(""), json!({}));
        assert_eq!(tool_input("[1]"), json!({"_raw_arguments": "[1]"}));
        assert_eq!(tool_input("{\"a\":"), json!({"_raw_arguments": "{\"a\":"}));
    }
}
