//! What the model sees: the tenant's or conversation's system prompt and the branch's
//! history, trimmed from the oldest end to fit the model's context window.

use penny_models::ChatMessage;
use penny_store::conversations::Message;

/// A rough token estimate (about four characters a token for English text); good enough
/// to keep within a window, and needs no tokenizer per model.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4) + 4
}

/// Turns a branch (root first, ending with the new user message) into chat messages that
/// fit `budget` tokens. The newest message is always kept.
pub fn history(branch: &[Message], budget: usize) -> Vec<ChatMessage> {
    let mut kept = Vec::new();
    let mut used = 0;
    for m in branch.iter().rev() {
        let usable = match m.role.as_str() {
            "user" => true,
            // Failed or cancelled answers with no text teach the model nothing.
            "assistant" => !m.content.is_empty(),
            _ => false,
        };
        if !usable {
            continue;
        }
        let cost = estimate_tokens(&m.content);
        if !kept.is_empty() && used + cost > budget {
            break;
        }
        used += cost;
        kept.push(match m.role.as_str() {
            "user" => ChatMessage::User {
                content: m.content.clone(),
            },
            _ => ChatMessage::Assistant {
                content: m.content.clone(),
                tool_calls: Vec::new(),
            },
        });
    }
    kept.reverse();
    // Providers expect the conversation to open with a user turn.
    while matches!(kept.first(), Some(ChatMessage::Assistant { .. })) {
        kept.remove(0);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: &str, content: &str) -> Message {
        Message {
            id: uuid::Uuid::new_v4(),
            conversation_id: uuid::Uuid::nil(),
            parent_id: None,
            role: role.into(),
            content: content.into(),
            status: "complete".into(),
            model: None,
            tool_calls: None,
            tool_call_id: None,
            input_tokens: None,
            output_tokens: None,
            ttft_ms: None,
            duration_ms: None,
            cost: None,
            error_code: None,
            created_at: chrono_now(),
            siblings: 1,
            sibling_index: 1,
        }
    }

    fn chrono_now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }

    #[test]
    fn keeps_newest_messages_within_budget_and_starts_with_user() {
        let long = "x".repeat(400); // ~104 tokens
        let branch = vec![
            msg("user", &long),
            msg("assistant", &long),
            msg("user", "hi"),
            msg("assistant", ""),
            msg("user", "now"),
        ];
        let h = history(&branch, 120);
        assert_eq!(h.len(), 2);
        assert!(matches!(&h[0], ChatMessage::User { content } if content == "hi"));
        assert!(matches!(&h[1], ChatMessage::User { content } if content == "now"));
        let all = history(&branch, 10_000);
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn the_newest_message_is_kept_even_when_too_big() {
        let h = history(&[msg("user", &"y".repeat(10_000))], 10);
        assert_eq!(h.len(), 1);
    }
}
