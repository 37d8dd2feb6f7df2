//! OpenAI-compatible Chat Completions: the request body and the `data:` chunk stream.

use std::collections::{BTreeMap, VecDeque};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::decode::{parse_json, Decoder, PartialCall};
use crate::sse::SseEvent;
use crate::{ChatMessage, ChatRequest, ModelEndpoint, ProviderError, StreamEvent};

pub(crate) fn url(ep: &ModelEndpoint) -> String {
    format!("{}/chat/completions", ep.base_url.trim_end_matches('/'))
}

pub(crate) fn request_body(ep: &ModelEndpoint, req: &ChatRequest) -> Value {
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if let Some(system) = &req.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    for message in &req.messages {
        messages.push(match message {
            ChatMessage::User { content } => json!({"role": "user", "content": content}),
            ChatMessage::Assistant {
                content,
                tool_calls,
            } if !tool_calls.is_empty() => {
                let calls: Vec<Value> = tool_calls
                    .iter()
                    .map(|call| {
                        json!({
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments},
                        })
                    })
                    .collect();
                // Some servers reject an empty string next to tool calls; null is the norm.
                let content = if content.is_empty() {
                    Value::Null
                } else {
                    Value::from(content.as_str())
                };
                json!({"role": "assistant", "content": content, "tool_calls": calls})
            }
            ChatMessage::Assistant { content, .. } => {
                json!({"role": "assistant", "content": content})
            }
            ChatMessage::Tool { call_id, content } => {
                json!({"role": "tool", "tool_call_id": call_id, "content": content})
            }
        });
    }
    let mut body = json!({
        "model": ep.model,
        "stream": true,
        "stream_options": {"include_usage": true},
        "messages": messages,
    });
    if ep.max_output_tokens > 0 {
        body["max_tokens"] = ep.max_output_tokens.into();
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                })
            })
            .collect();
        body["tools"] = tools.into();
    }
    body
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<Usage>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    index: u64,
    delta: Option<Delta>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    index: Option<u64>,
    id: Option<String>,
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[derive(Debug, Default)]
pub(crate) struct OpenAiDecoder {
    /// Tool calls in progress, by their `index` in the stream.
    calls: BTreeMap<u64, PartialCall>,
    finish_reason: Option<String>,
    done: bool,
}

impl OpenAiDecoder {
    fn tool_call_delta(&mut self, delta: ToolCallDelta) -> Result<(), ProviderError> {
        let index = match delta.index {
            Some(index) => index,
            // Servers that omit `index` send one call per id, or continue the last one.
            None => match (&delta.id, self.calls.last_key_value()) {
                (Some(id), Some((&last, call))) if !id.is_empty() && *id != call.id => last + 1,
                (_, Some((&last, _))) => last,
                (_, None) => 0,
            },
        };
        if !self.calls.contains_key(&index) {
            crate::decode::check_calls(self.calls.len() + 1)?;
        }
        let call = self.calls.entry(index).or_default();
        // Some servers repeat id and name in every piece: set, never append.
        if let Some(id) = delta.id.filter(|id| !id.is_empty()) {
            call.id = id;
        }
        if let Some(function) = delta.function {
            if let Some(name) = function.name.filter(|name| !name.is_empty()) {
                call.name = name;
            }
            if let Some(arguments) = function.arguments {
                call.append(&arguments)?;
            }
        }
        Ok(())
    }

    fn flush_calls(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        for (index, call) in std::mem::take(&mut self.calls) {
            out.push_back(StreamEvent::ToolCall(
                call.finish(|| format!("call_{index}"))?,
            ));
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        self.flush_calls(out)?;
        let finish_reason = self
            .finish_reason
            .take()
            .unwrap_or_else(|| "stop".to_owned());
        out.push_back(StreamEvent::Done { finish_reason });
        self.done = true;
        Ok(())
    }
}

impl Decoder for OpenAiDecoder {
    fn event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return self.finish(out);
        }
        if data.is_empty() {
            return Ok(());
        }
        let chunk: Chunk = parse_json(data)?;
        if let Some(error) = chunk.error {
            return Err(stream_error(&error));
        }
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(delta) = choice.delta {
                if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                    out.push_back(StreamEvent::Delta(text));
                }
                for call in delta.tool_calls.unwrap_or_default() {
                    self.tool_call_delta(call)?;
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.flush_calls(out)?;
                self.finish_reason = Some(reason);
            }
        }
        if let Some(usage) = chunk.usage {
            out.push_back(StreamEvent::Usage {
                input_tokens: usage.prompt_tokens,
                output_tokens: usage.completion_tokens,
            });
        }
        Ok(())
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn end_of_input(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        // A few compatible servers close right after the finish_reason without `[DONE]`;
        // the answer is complete then. Without a finish_reason it was cut off.
        if self.finish_reason.is_some() {
            return self.finish(out);
        }
        Err(ProviderError::Disconnected(
            "stream ended before [DONE]".into(),
        ))
    }
}

/// An error object sent inside the stream (OpenRouter, vLLM) after the 200 status.
fn stream_error(error: &Value) -> ProviderError {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .unwrap_or("error in stream")
        .to_owned();
    let code = error.get("code");
    let status = code
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..600).contains(c));
    let kind = [error.get("type"), code]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    match status {
        Some(429) => ProviderError::RateLimited {
            retry_after: None,
            message,
        },
        None if kind.contains("rate_limit") => ProviderError::RateLimited {
            retry_after: None,
            message,
        },
        Some(status @ (401 | 403)) => ProviderError::Auth { status, message },
        Some(status) => ProviderError::Upstream { status, message },
        None => ProviderError::Upstream {
            status: 502,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ToolCall, ToolSpec};

    fn decode(input: &str, size: usize) -> Result<Vec<StreamEvent>, ProviderError> {
        crate::decode::decode_chunked(OpenAiDecoder::default(), input, size)
    }

    const TOOL_STREAM: &str = concat!(
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"ci\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ty\\\":\\\"Pä\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ris\\\"}\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7,\"total_tokens\":19}}\n\n",
        "data: [DONE]\n\n",
    );

    #[test]
    fn interleaved_tool_call_pieces_are_assembled_by_index() {
        let expected = vec![
            StreamEvent::ToolCall(ToolCall {
                id: "call_a".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Päris"}"#.into(),
            }),
            StreamEvent::ToolCall(ToolCall {
                id: "call_b".into(),
                name: "get_time".into(),
                arguments: "{}".into(),
            }),
            StreamEvent::Usage {
                input_tokens: 12,
                output_tokens: 7,
            },
            StreamEvent::Done {
                finish_reason: "tool_calls".into(),
            },
        ];
        for size in [1, 2, 3, 5, 7, 64, TOOL_STREAM.len()] {
            assert_eq!(decode(TOOL_STREAM, size).unwrap(), expected, "split {size}");
        }
    }

    #[test]
    fn text_deltas_come_in_order_then_usage_then_done() {
        let input = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\r\n\r\n",
            ": comment\r\n\r\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\r\n\r\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\r\n\r\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}],\"usage\":null}\r\n\r\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\r\n\r\n",
            "data: [DONE]\r\n\r\n",
        );
        let expected = vec![
            StreamEvent::Delta("Hel".into()),
            StreamEvent::Delta("lo".into()),
            StreamEvent::Usage {
                input_tokens: 3,
                output_tokens: 2,
            },
            StreamEvent::Done {
                finish_reason: "length".into(),
            },
        ];
        for size in 1..20 {
            assert_eq!(decode(input, size).unwrap(), expected);
        }
    }

    #[test]
    fn stream_cut_before_finish_is_disconnected() {
        let input = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n";
        assert!(matches!(
            decode(input, 4),
            Err(ProviderError::Disconnected(_))
        ));
    }

    #[test]
    fn stream_closed_after_finish_reason_without_done_is_complete() {
        let input = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}\n\n";
        assert_eq!(
            decode(input, 4).unwrap(),
            vec![
                StreamEvent::Delta("a".into()),
                StreamEvent::Done {
                    finish_reason: "stop".into()
                }
            ]
        );
    }

    #[test]
    fn error_object_in_stream_becomes_provider_error() {
        let input = "data: {\"error\":{\"message\":\"overloaded\",\"code\":503}}\n\n";
        assert_eq!(
            decode(input, 3),
            Err(ProviderError::Upstream {
                status: 503,
                message: "overloaded".into()
            })
        );
        let input = "data: {\"error\":{\"message\":\"slow\",\"type\":\"rate_limit_exceeded\"}}\n\n";
        assert!(matches!(
            decode(input, 3),
            Err(ProviderError::RateLimited { .. })
        ));
    }

    #[test]
    fn garbage_chunk_is_a_protocol_error() {
        assert!(matches!(
            decode("data: {not json\n\n", 3),
            Err(ProviderError::Protocol(_))
        ));
    }

    #[test]
    fn request_carries_tools_tool_calls_and_tool_results() {
        let ep = ModelEndpoint {
            provider: crate::Provider::OpenAi,
            base_url: "http://x/v1/".into(),
            api_key: None,
            model: "m".into(),
            max_output_tokens: 100,
        };
        let req = ChatRequest {
            system: Some("be brief".into()),
            messages: vec![
                ChatMessage::User {
                    content: "weather?".into(),
                },
                ChatMessage::Assistant {
                    content: String::new(),
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "get_weather".into(),
                        arguments: r#"{"city":"Paris"}"#.into(),
                    }],
                },
                ChatMessage::Tool {
                    call_id: "call_1".into(),
                    content: "sunny".into(),
                },
            ],
            tools: vec![ToolSpec {
                name: "get_weather".into(),
                description: "Weather by city".into(),
                parameters: json!({"type": "object"}),
            }],
        };
        assert_eq!(url(&ep), "http://x/v1/chat/completions");
        assert_eq!(
            request_body(&ep, &req),
            json!({
                "model": "m",
                "stream": true,
                "stream_options": {"include_usage": true},
                "max_tokens": 100,
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "weather?"},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_1", "type": "function",
                         "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
                    ]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                ],
                "tools": [{"type": "function", "function": {
                    "name": "get_weather", "description": "Weather by city",
                    "parameters": {"type": "object"}}}],
            })
        );
    }
}
