//! What the fake answers: the directives in the last user message, turned into a plan.
//!
//! Directives are `[[key=value ...]]` blocks anywhere in the text, so tests and demos
//! steer the fake through an ordinary chat.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::FakeOptions;

/// A request, as far as the fake cares, whatever the wire format.
#[derive(Debug, Default)]
pub(crate) struct Conversation {
    pub model: String,
    pub stream: bool,
    /// OpenAI's `stream_options.include_usage`.
    pub include_usage: bool,
    /// The text of the last user message that has text (directives included).
    pub last_user_text: String,
    /// The content of the last message, when that message is a tool result.
    pub tool_result: Option<String>,
    /// Characters of every message's text, the system prompt included.
    pub input_chars: usize,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Directives {
    pub tokens: Option<usize>,
    pub delay_ms: Option<u64>,
    pub tool: Option<String>,
    pub args: Option<String>,
    pub status: Option<u16>,
    pub fail_first: Option<usize>,
    pub disconnect_after: Option<usize>,
    pub stall_after: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    Text(Vec<String>),
    ToolCall { name: String, pieces: Vec<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Complete,
    /// Drop the connection after this many tokens.
    Disconnect(usize),
    /// Send nothing more after this many tokens, keeping the connection open.
    Stall(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub reply: Reply,
    pub delay: Duration,
    pub ending: Ending,
    pub input_tokens: u64,
}

impl Plan {
    pub fn tokens(&self) -> &[String] {
        match &self.reply {
            Reply::Text(tokens) => tokens,
            Reply::ToolCall { pieces, .. } => pieces,
        }
    }

    pub fn output_tokens(&self) -> u64 {
        self.tokens().len() as u64
    }

    pub fn text(&self) -> String {
        match &self.reply {
            Reply::Text(tokens) => tokens.concat(),
            Reply::ToolCall { .. } => String::new(),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Answer with this HTTP error status.
    Fail(u16),
    Answer(Plan),
}

/// The text of a message `content`: a string, or the `text` of its parts or blocks
/// (tool results nest their own content).
pub(crate) fn text_of(content: &serde_json::Value) -> String {
    match content {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Array(parts) => parts
            .iter()
            .map(|part| match part.get("text") {
                Some(text) => text_of(text),
                None => part.get("content").map(text_of).unwrap_or_default(),
            })
            .collect(),
        _ => String::new(),
    }
}

const MAX_TOKENS: usize = 100_000;
const TOOL_RESULT_CHARS: usize = 200;
/// Tool-call arguments are streamed this many characters at a time.
const ARGUMENT_PIECE_CHARS: usize = 3;

/// Decides the answer. `failures` counts requests per user text for `fail_first`.
pub(crate) fn decide(
    conversation: &Conversation,
    options: &FakeOptions,
    failures: &Mutex<HashMap<String, usize>>,
) -> Result<Outcome, String> {
    let (directives, clean_text) = parse_directives(&conversation.last_user_text)?;
    if let Some(fail_first) = directives.fail_first {
        let seen = {
            let mut failures = failures.lock().unwrap_or_else(|e| e.into_inner());
            let count = failures
                .entry(conversation.last_user_text.clone())
                .or_insert(0);
            *count += 1;
            *count
        };
        if seen <= fail_first {
            return Ok(Outcome::Fail(directives.status.unwrap_or(503)));
        }
    } else if let Some(status) = directives.status {
        return Ok(Outcome::Fail(status));
    }

    let reply = if let Some(result) = &conversation.tool_result {
        let text = match cited_answer(result) {
            Some(answer) => answer,
            None => {
                let head: String = result.chars().take(TOOL_RESULT_CHARS).collect();
                format!("Tool result: {head}")
            }
        };
        Reply::Text(split_keeping_spaces(&text))
    } else if let Some(name) = directives.tool {
        let args = directives.args.unwrap_or_else(|| "{}".to_owned());
        Reply::ToolCall {
            name,
            pieces: split_chars(&args, ARGUMENT_PIECE_CHARS),
        }
    } else {
        let count = directives.tokens.unwrap_or(options.default_tokens);
        Reply::Text(echo_tokens(&clean_text, count))
    };
    let ending = match (directives.disconnect_after, directives.stall_after) {
        (Some(n), _) => Ending::Disconnect(n),
        (None, Some(n)) => Ending::Stall(n),
        (None, None) => Ending::Complete,
    };
    Ok(Outcome::Answer(Plan {
        reply,
        delay: directives
            .delay_ms
            .map_or(options.token_delay, Duration::from_millis),
        ending,
        input_tokens: conversation.input_chars.div_ceil(4) as u64,
    }))
}

/// After a document search (a result with numbered `passages`), answers as a grounded
/// model would: the first passage's first sentence, quoted, cited `[1]`.
fn cited_answer(result: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(result).ok()?;
    let first = value.get("passages")?.as_array()?.first()?;
    let n = first.get("n")?.as_u64()?;
    let content = first.get("content")?.as_str()?;
    let sentence = content
        .split_inclusive(['.', '!', '?'])
        .map(str::trim)
        .find(|s| s.split_whitespace().count() >= 3)
        .unwrap_or(content.trim());
    let sentence: String = sentence.chars().take(160).collect();
    Some(format!("The documents say: \"{sentence}\" [{n}]"))
}

/// Splits the directives out of `text`; returns them and the remaining words.
pub(crate) fn parse_directives(text: &str) -> Result<(Directives, String), String> {
    let mut directives = Directives::default();
    let mut clean = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("[[") {
        let Some(len) = rest[start..].find("]]") else {
            break;
        };
        let end = start + len + 2;
        let inner = &rest[start + 2..start + len];
        // `[[Some Page]]` in a demo's text is text, not a directive.
        // `args=` comes last and takes the rest, so JSON arguments may contain spaces.
        let (head, args) = match inner.find("args=") {
            Some(i) if i == 0 || inner[..i].ends_with(char::is_whitespace) => {
                (&inner[..i], Some(&inner[i + 5..]))
            }
            _ => (inner, None),
        };
        let pairs: Option<Vec<(&str, &str)>> = head
            .split_whitespace()
            .map(|p| p.split_once('='))
            .chain(args.map(|a| Some(("args", a.trim()))))
            .collect();
        match pairs {
            Some(pairs) if !pairs.is_empty() => {
                clean.push_str(&rest[..start]);
                clean.push(' ');
                for (key, value) in pairs {
                    directives.set(key, value)?;
                }
            }
            _ => clean.push_str(&rest[..end]),
        }
        rest = &rest[end..];
    }
    clean.push_str(rest);
    let words: Vec<&str> = clean.split_whitespace().collect();
    Ok((directives, words.join(" ")))
}

impl Directives {
    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
            value
                .parse()
                .map_err(|_| format!("directive {key}={value:?} needs a number"))
        }
        match key {
            "tokens" => {
                let tokens: usize = number(key, value)?;
                if tokens > MAX_TOKENS {
                    return Err(format!("directive tokens={tokens} is over {MAX_TOKENS}"));
                }
                self.tokens = Some(tokens);
            }
            "delay_ms" => self.delay_ms = Some(number(key, value)?),
            "tool" => self.tool = Some(value.to_owned()),
            "args" => self.args = Some(value.to_owned()),
            "status" => {
                let status: u16 = number(key, value)?;
                if !(400..=599).contains(&status) {
                    return Err(format!("directive status={status} is not an error status"));
                }
                self.status = Some(status);
            }
            "fail_first" => self.fail_first = Some(number(key, value)?),
            "disconnect_after" => self.disconnect_after = Some(number(key, value)?),
            "stall_after" => self.stall_after = Some(number(key, value)?),
            other => return Err(format!("unknown directive {other:?}")),
        }
        Ok(())
    }
}

/// `Echo: <text>` as exactly `count` tokens: padded with `tN` words when short, words
/// grouped when long. Every token but the first starts with a space.
pub(crate) fn echo_tokens(text: &str, count: usize) -> Vec<String> {
    if count == 0 {
        return Vec::new();
    }
    let mut words: Vec<String> = std::iter::once("Echo:")
        .chain(text.split_whitespace())
        .map(str::to_owned)
        .collect();
    while words.len() < count {
        words.push(format!("t{}", words.len() + 1));
    }
    let (per, extra) = (words.len() / count, words.len() % count);
    let mut words = words.into_iter();
    (0..count)
        .map(|i| {
            let size = per + usize::from(i < extra);
            let group: Vec<String> = words.by_ref().take(size).collect();
            let joined = group.join(" ");
            if i == 0 {
                joined
            } else {
                format!(" {joined}")
            }
        })
        .collect()
}

/// Tokens whose concatenation is exactly `text`: each word with the spaces before it.
pub(crate) fn split_keeping_spaces(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    for c in text.chars() {
        if c.is_whitespace() && in_word {
            tokens.push(std::mem::take(&mut current));
            in_word = false;
        } else if !c.is_whitespace() {
            in_word = true;
        }
        current.push(c);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

fn split_chars(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_result_is_answered_with_a_cited_quote() {
        let result =
            r#"{"passages": [{"n": 1, "content": "Intro. The accord was signed in 1891. More."}]}"#;
        assert_eq!(
            super::cited_answer(result).as_deref(),
            Some("The documents say: \"The accord was signed in 1891.\" [1]")
        );
        assert_eq!(super::cited_answer(r#"{"passages": []}"#), None);
        assert_eq!(super::cited_answer("plain text"), None);
    }

    #[test]
    fn directives_are_removed_from_the_text() {
        let (d, text) =
            parse_directives("hello [[tokens=3 delay_ms=5]] world [[tool=x args={\"a\":1}]]")
                .unwrap();
        assert_eq!(text, "hello world");
        assert_eq!(d.tokens, Some(3));
        assert_eq!(d.delay_ms, Some(5));
        assert_eq!(d.tool.as_deref(), Some("x"));
        assert_eq!(d.args.as_deref(), Some("{\"a\":1}"));
        let (d, _) = parse_directives("[[tool=py args={\"s\": \"print(1 + 2)\"}]]").unwrap();
        assert_eq!(d.args.as_deref(), Some("{\"s\": \"print(1 + 2)\"}"));
    }

    #[test]
    fn bad_directives_are_refused() {
        assert!(parse_directives("[[tokens=many]]").is_err());
        assert!(parse_directives("[[status=200]]").is_err());
        assert!(parse_directives("[[colour=red]]").is_err());
    }

    #[test]
    fn brackets_without_pairs_stay_text() {
        let (d, text) = parse_directives("see [[Main Page]] [[]]").unwrap();
        assert_eq!(d, Directives::default());
        assert_eq!(text, "see [[Main Page]] [[]]");
    }

    #[test]
    fn echo_is_padded_or_grouped_to_the_token_count() {
        assert_eq!(echo_tokens("hi", 4), vec!["Echo:", " hi", " t3", " t4"]);
        assert_eq!(echo_tokens("a b c d", 2), vec!["Echo: a b", " c d"]);
        assert_eq!(echo_tokens("a b c", 3), vec!["Echo: a", " b", " c"]);
        assert!(echo_tokens("a", 0).is_empty());
    }

    #[test]
    fn split_keeping_spaces_loses_nothing() {
        let text = "Tool result: {\"a\": 1,\n  \"b\"}  end ";
        assert_eq!(split_keeping_spaces(text).concat(), text);
        assert_eq!(split_keeping_spaces("a b"), vec!["a", " b"]);
    }

    #[test]
    fn fail_first_counts_per_text() {
        let failures = Mutex::new(HashMap::new());
        let conversation = |text: &str| Conversation {
            last_user_text: text.into(),
            ..Conversation::default()
        };
        let options = FakeOptions::default();
        let a = conversation("a [[status=429 fail_first=2]]");
        let b = conversation("b [[status=429 fail_first=2]]");
        let outcome = |c: &Conversation| decide(c, &options, &failures).unwrap();
        assert_eq!(outcome(&a), Outcome::Fail(429));
        assert_eq!(outcome(&b), Outcome::Fail(429));
        assert_eq!(outcome(&a), Outcome::Fail(429));
        assert!(matches!(outcome(&a), Outcome::Answer(_)));
        assert!(matches!(outcome(&a), Outcome::Answer(_)));
    }
}
