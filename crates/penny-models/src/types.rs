//! The provider-neutral vocabulary: endpoints, requests, messages and stream events.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which wire protocol an endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// OpenAI-compatible Chat Completions (`POST {base_url}/chat/completions`).
    OpenAi,
    /// Anthropic Messages (`POST {base_url}/messages`).
    Anthropic,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider name that is neither `openai` nor `anthropic`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?} (expected \"openai\" or \"anthropic\")")]
pub struct ParseProviderError(pub String);

impl FromStr for Provider {
    type Err = ParseProviderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        if name.eq_ignore_ascii_case("openai") {
            Ok(Provider::OpenAi)
        } else if name.eq_ignore_ascii_case("anthropic") {
            Ok(Provider::Anthropic)
        } else {
            Err(ParseProviderError(s.to_owned()))
        }
    }
}

/// Where and how to reach one model.
#[derive(Clone, PartialEq, Eq)]
pub struct ModelEndpoint {
    pub provider: Provider,
    /// Up to and including the version segment, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    /// The upstream's model id.
    pub model: String,
    /// 0 means "the provider's default" (OpenAI: omitted; Anthropic requires one: 4096).
    pub max_output_tokens: u32,
}

// Hand-written so that a logged endpoint never shows its key.
impl fmt::Debug for ModelEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelEndpoint")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("max_output_tokens", &self.max_output_tokens)
            .finish()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub system: Option<String>,
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ChatMessage {
    User {
        content: String,
    },
    Assistant {
        content: String,
        #[serde(default)]
        tool_calls: Vec<ToolCall>,
    },
    /// The result of the tool call `call_id`, fed back to the model.
    Tool {
        call_id: String,
        content: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as JSON text, assembled from the streamed pieces; `{}` when the model
    /// sent none. Not validated: a model can produce malformed JSON.
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    Delta(String),
    /// Emitted once the call's arguments are complete.
    ToolCall(ToolCall),
    Usage {
        input_tokens: u64,
        output_tokens: u64,
    },
    /// The last event of a successful stream. `finish_reason` is the provider's own word
    /// (`stop`, `tool_calls`, `length` / `end_turn`, `tool_use`, `max_tokens`…).
    Done {
        finish_reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_round_trip_through_serde_and_from_str() {
        for (provider, name) in [
            (Provider::OpenAi, "openai"),
            (Provider::Anthropic, "anthropic"),
        ] {
            assert_eq!(serde_json::to_value(provider).unwrap(), name);
            assert_eq!(
                serde_json::from_value::<Provider>(name.into()).unwrap(),
                provider
            );
            assert_eq!(name.parse::<Provider>(), Ok(provider));
            assert_eq!(provider.to_string(), name);
        }
        assert_eq!(" OpenAI ".parse::<Provider>(), Ok(Provider::OpenAi));
        assert!("gemini".parse::<Provider>().is_err());
    }

    #[test]
    fn endpoint_debug_hides_the_key() {
        let ep = ModelEndpoint {
            provider: Provider::OpenAi,
            base_url: "http://x/v1".into(),
            api_key: Some("sk-secret".into()),
            model: "m".into(),
            max_output_tokens: 0,
        };
        assert!(!format!("{ep:?}").contains("sk-secret"));
    }
}
