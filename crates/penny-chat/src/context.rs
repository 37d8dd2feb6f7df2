//! What the model sees: the tenant's or conversation's system prompt and the branch's
//! history, trimmed from the oldest end to fit the model's context window.

use penny_models::ChatMessage;
use penny_store::conversations::Message;

/// A rough token estimate (about four characters a token for English text); good enough
/// to keep within a window, and needs no tokenizer per model.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4) + 4
}

/// The run's system prompt: the tenant's, then the conversation's own, then the kinds of
/// artifact the user asked the answer to produce; `None` when all are empty.
pub fn system_prompt(
    tenant: Option<String>,
    own: Option<String>,
    expected: &[String],
) -> Option<String> {
    let ask = (!expected.is_empty()).then(|| {
        let kinds: Vec<&str> = expected.iter().map(|k| k.trim()).collect();
        format!(
            "The user expects this answer to produce these artifacts: {}. Create them with \
             the tools you are offered.",
            kinds.join(", ")
        )
    });
    let parts: Vec<String> = [tenant, own, ask]
        .into_iter()
        .flatten()
        .filter(|p| !p.trim().is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// What the model is told of a message's attached files (the snapshot stored with it):
/// their names, types, sizes and ids, and how to read them.
pub fn attachment_note(attachments: &serde_json::Value) -> Option<String> {
    let files = attachments.as_array().filter(|a| !a.is_empty())?;
    let lines: Vec<String> = files
        .iter()
        .map(|f| {
            format!(
                "- {} ({}, {} bytes, id {})",
                f["filename"].as_str().unwrap_or("file"),
                f["mime"].as_str().unwrap_or("application/octet-stream"),
                f["size"].as_i64().unwrap_or(0),
                f["id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    Some(format!(
        "[Attached files; pass their ids in python_execute's `files` to read them from \
         /workspace/inputs:\n{}]",
        lines.join("\n")
    ))
}

/// What the model is told of the knowledge collections picked for a message (the snapshot
/// stored with it): their names and ids, and that `search_documents` searches them.
pub fn collection_note(collections: &serde_json::Value) -> Option<String> {
    let picked = collections.as_array().filter(|a| !a.is_empty())?;
    let lines: Vec<String> = picked
        .iter()
        .map(|c| {
            format!(
                "- {} (id {})",
                c["name"].as_str().unwrap_or("collection"),
                c["id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    Some(format!(
        "[The user picked these document collections to answer from; search them with          search_documents (it searches them when you give no `collections`) and cite what          you use:\n{}]",
        lines.join("\n")
    ))
}

/// A user message's text as the model sees it: with the notes on its files and collections.
fn user_text(m: &Message) -> String {
    [
        attachment_note(&m.attachments),
        collection_note(&m.collections),
    ]
    .into_iter()
    .flatten()
    .fold(m.content.clone(), |text, note| format!("{text}\n\n{note}"))
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
        let content = match m.role.as_str() {
            "user" => user_text(m),
            _ => m.content.clone(),
        };
        let cost = estimate_tokens(&content);
        if !kept.is_empty() && used + cost > budget {
            break;
        }
        used += cost;
        kept.push(match m.role.as_str() {
            "user" => ChatMessage::User { content },
            _ => ChatMessage::Assistant {
                content,
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
        let id = uuid::Uuid::new_v4();
        let none = serde_json::json!([]);
        let mut m = Message::user(id, uuid::Uuid::nil(), None, content, none.clone(), none);
        m.role = role.into();
        m
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
    fn the_system_prompt_is_the_tenants_then_the_conversations_then_the_ask() {
        assert_eq!(system_prompt(None, None, &[]), None);
        assert_eq!(system_prompt(Some(" ".into()), None, &[]), None);
        assert_eq!(
            system_prompt(
                Some("Be brief.".into()),
                Some("You are a tutor.".into()),
                &[]
            ),
            Some("Be brief.\n\nYou are a tutor.".into())
        );
        let p = system_prompt(None, Some("Tutor.".into()), &["chart".into()]).unwrap();
        assert!(p.starts_with("Tutor.\n\nThe user expects"), "{p}");
        assert!(p.contains("artifacts: chart."), "{p}");
    }

    #[test]
    fn picked_collections_and_attached_files_are_told_after_the_text() {
        let mut m = msg("user", "What changed?");
        m.attachments =
            serde_json::json!([{"id": "f1", "filename": "a.csv", "mime": "text/csv", "size": 3}]);
        m.collections =
            serde_json::json!([{"id": "c1", "name": "Handbook"}, {"id": "c2", "name": "Policies"}]);
        let h = history(&[m], 1_000);
        let ChatMessage::User { content } = &h[0] else {
            panic!("not a user turn: {h:?}");
        };
        assert!(
            content.starts_with("What changed?\n\n[Attached files"),
            "{content}"
        );
        assert!(
            content.contains("- a.csv (text/csv, 3 bytes, id f1)"),
            "{content}"
        );
        assert!(
            content.ends_with("- Handbook (id c1)\n- Policies (id c2)]"),
            "{content}"
        );
        assert!(content.contains("search_documents"), "{content}");
        assert_eq!(collection_note(&serde_json::json!([])), None);
    }

    #[test]
    fn the_newest_message_is_kept_even_when_too_big() {
        let h = history(&[msg("user", &"y".repeat(10_000))], 10);
        assert_eq!(h.len(), 1);
    }
}
