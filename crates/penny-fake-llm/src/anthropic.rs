//! The Anthropic Messages wire format, as the fake reads and writes it.

use serde_json::{json, Value};

use crate::script::{text_of, Conversation, Plan, Reply};
use crate::stream::Frames;
use crate::Ids;

pub(crate) fn conversation(body: &Value) -> Result<Conversation, String> {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or("messages: must be a non-empty array")?;
    if !body["max_tokens"].is_u64() {
        return Err("max_tokens: Field required".into());
    }
    let mut conversation = Conversation {
        model: body["model"].as_str().unwrap_or("fake-model").to_owned(),
        stream: body["stream"].as_bool().unwrap_or(false),
        input_chars: text_of(&body["system"]).chars().count(),
        ..Conversation::default()
    };
    for message in messages {
        let role = message["role"].as_str();
        if !matches!(role, Some("user" | "assistant")) {
            return Err("messages: roles must be \"user\" or \"assistant\"".into());
        }
        let blocks = blocks(&message["content"]);
        let mut text = String::new();
        let mut tool_result = None;
        for block in &blocks {
            match block["type"].as_str() {
                Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
                Some("tool_result") => {
                    let result = text_of(&block["content"]);
                    conversation.input_chars += result.chars().count();
                    tool_result = Some(result);
                }
                Some("tool_use") => {
                    conversation.input_chars += block["input"].to_string().chars().count();
                }
                _ => {}
            }
        }
        conversation.input_chars += text.chars().count();
        let has_text = blocks.iter().any(|b| b["type"] == "text");
        if role == Some("user") && has_text {
            conversation.last_user_text = text;
        }
        // A user turn of tool results only is the answer to the model's tool call.
        conversation.tool_result = tool_result.filter(|_| role == Some("user") && !has_text);
    }
    Ok(conversation)
}

/// `content` as blocks: a plain string is one text block.
fn blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(text) => vec![json!({"type": "text", "text": text})],
        Value::Array(blocks) => blocks.clone(),
        _ => Vec::new(),
    }
}

pub(crate) fn frames(plan: &Plan, conversation: &Conversation, ids: &Ids) -> Frames {
    let mut head = vec![event(&json!({
        "type": "message_start",
        "message": {
            "id": ids.message, "type": "message", "role": "assistant", "content": [],
            "model": conversation.model, "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": plan.input_tokens, "output_tokens": 1},
        },
    }))];
    let (block, tokens, stop_reason): (Value, Vec<String>, &str) = match &plan.reply {
        Reply::Text(tokens) => (
            json!({"type": "text", "text": ""}),
            tokens
                .iter()
                .map(|t| block_delta(json!({"type": "text_delta", "text": t})))
                .collect(),
            "end_turn",
        ),
        Reply::ToolCall { name, pieces } => (
            json!({"type": "tool_use", "id": ids.call, "name": name, "input": {}}),
            pieces
                .iter()
                .map(|p| block_delta(json!({"type": "input_json_delta", "partial_json": p})))
                .collect(),
            "tool_use",
        ),
    };
    head.push(event(
        &json!({"type": "content_block_start", "index": 0, "content_block": block}),
    ));
    head.push(event(&json!({"type": "ping"})));
    let tail = vec![
        event(&json!({"type": "content_block_stop", "index": 0})),
        event(&json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": null},
            "usage": {"output_tokens": plan.output_tokens()},
        })),
        event(&json!({"type": "message_stop"})),
    ];
    Frames { head, tokens, tail }
}

pub(crate) fn message(plan: &Plan, conversation: &Conversation, ids: &Ids) -> Value {
    let (content, stop_reason) = match &plan.reply {
        Reply::Text(_) => (json!([{"type": "text", "text": plan.text()}]), "end_turn"),
        Reply::ToolCall { name, pieces } => {
            let arguments = pieces.concat();
            let input = serde_json::from_str::<Value>(&arguments).unwrap_or(json!({}));
            (
                json!([{"type": "tool_use", "id": ids.call, "name": name, "input": input}]),
                "tool_use",
            )
        }
    };
    json!({
        "id": ids.message,
        "type": "message",
        "role": "assistant",
        "model": conversation.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {"input_tokens": plan.input_tokens, "output_tokens": plan.output_tokens()},
    })
}

pub(crate) fn error_body(status: u16, message: &str) -> Value {
    let kind = match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

fn block_delta(delta: Value) -> String {
    event(&json!({"type": "content_block_delta", "index": 0, "delta": delta}))
}

fn event(data: &Value) -> String {
    let kind = data["type"].as_str().unwrap_or("message");
    format!("event: {kind}\ndata: {data}\n\n")
}
