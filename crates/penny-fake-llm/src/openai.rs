//! The OpenAI Chat Completions wire format, as the fake reads and writes it.

use serde_json::{json, Value};

use crate::script::{text_of, Conversation, Plan, Reply};
use crate::stream::Frames;
use crate::Ids;

pub(crate) fn conversation(body: &Value) -> Result<Conversation, String> {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or("`messages` must be a non-empty array")?;
    let mut conversation = Conversation {
        model: body["model"].as_str().unwrap_or("fake-model").to_owned(),
        stream: body["stream"].as_bool().unwrap_or(false),
        include_usage: body["stream_options"]["include_usage"]
            .as_bool()
            .unwrap_or(false),
        ..Conversation::default()
    };
    for message in messages {
        let text = text_of(&message["content"]);
        conversation.input_chars += text.chars().count();
        for call in message["tool_calls"].as_array().into_iter().flatten() {
            let arguments = call["function"]["arguments"].as_str().unwrap_or_default();
            conversation.input_chars += arguments.chars().count();
        }
        match message["role"].as_str() {
            Some("user") => conversation.last_user_text = text,
            Some("system" | "developer" | "assistant" | "tool") => {}
            _ => return Err("every message needs a known `role`".into()),
        }
    }
    if let Some(last) = messages.last().filter(|m| m["role"] == "tool") {
        conversation.tool_result = Some(text_of(&last["content"]));
    }
    Ok(conversation)
}

pub(crate) fn frames(plan: &Plan, conversation: &Conversation, ids: &Ids) -> Frames {
    let chunk = |delta: Value, finish_reason: Option<&str>| {
        let mut chunk = json!({
            "id": ids.message,
            "object": "chat.completion.chunk",
            "created": ids.created,
            "model": conversation.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
        });
        if conversation.include_usage {
            chunk["usage"] = Value::Null;
        }
        data(&chunk)
    };
    let mut head = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
    let (tokens, finish_reason) = match &plan.reply {
        Reply::Text(tokens) => (
            tokens
                .iter()
                .map(|t| chunk(json!({"content": t}), None))
                .collect(),
            "stop",
        ),
        Reply::ToolCall { name, pieces } => {
            head.push(chunk(
                json!({"tool_calls": [{"index": 0, "id": ids.call, "type": "function",
                                       "function": {"name": name, "arguments": ""}}]}),
                None,
            ));
            let pieces = pieces
                .iter()
                .map(|piece| {
                    chunk(
                        json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                        None,
                    )
                })
                .collect();
            (pieces, "tool_calls")
        }
    };
    let mut tail = vec![chunk(json!({}), Some(finish_reason))];
    if conversation.include_usage {
        tail.push(data(&json!({
            "id": ids.message,
            "object": "chat.completion.chunk",
            "created": ids.created,
            "model": conversation.model,
            "choices": [],
            "usage": usage(plan),
        })));
    }
    tail.push("data: [DONE]\n\n".to_owned());
    Frames { head, tokens, tail }
}

pub(crate) fn completion(plan: &Plan, conversation: &Conversation, ids: &Ids) -> Value {
    let (message, finish_reason) = match &plan.reply {
        Reply::Text(_) => (
            json!({"role": "assistant", "content": plan.text(), "refusal": null}),
            "stop",
        ),
        Reply::ToolCall { name, pieces } => (
            json!({"role": "assistant", "content": null, "tool_calls": [{
                "id": ids.call, "type": "function",
                "function": {"name": name, "arguments": pieces.concat()},
            }]}),
            "tool_calls",
        ),
    };
    json!({
        "id": ids.message,
        "object": "chat.completion",
        "created": ids.created,
        "model": conversation.model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
        "usage": usage(plan),
    })
}

pub(crate) fn error_body(status: u16, message: &str) -> Value {
    let (kind, code) = match status {
        401 => ("invalid_request_error", "invalid_api_key"),
        429 => ("rate_limit_error", "rate_limit_exceeded"),
        400..=499 => ("invalid_request_error", "invalid_request"),
        _ => ("server_error", "server_error"),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

fn usage(plan: &Plan) -> Value {
    let output = plan.output_tokens();
    json!({
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": output,
        "total_tokens": plan.input_tokens + output,
    })
}

fn data(value: &Value) -> String {
    format!("data: {value}\n\n")
}
