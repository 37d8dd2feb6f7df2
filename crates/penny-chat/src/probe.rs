//! Checking a model configuration: one short prompt, no retries, no fallback, nothing
//! stored. The admin console's "test" button.

use std::time::Duration;

use futures::StreamExt;
use penny_models::{ChatMessage, ChatRequest, ModelEndpoint, Provider, ProviderError, StreamEvent};
use penny_store::models::Model;

use crate::engine::Engine;

/// What the model is asked.
pub const PROBE_PROMPT: &str = "Reply with one word: ok.";
/// The answer needs no more than this.
const MAX_TOKENS: u32 = 16;
/// The whole call, from connecting to the last token.
const LIMIT: Duration = Duration::from_secs(30);
/// The reply is cut here (a misbehaving upstream may ignore the token limit).
const MAX_REPLY_CHARS: usize = 500;

impl Engine {
    /// Sends [`PROBE_PROMPT`] to `model` and returns the reply text.
    pub async fn probe_model(&self, model: &Model) -> Result<String, ProviderError> {
        let ep = self.endpoint(
            model,
            (model.max_output_tokens.max(1) as u32).min(MAX_TOKENS),
        )?;
        let request = ChatRequest {
            system: None,
            messages: vec![ChatMessage::User {
                content: PROBE_PROMPT.into(),
            }],
            tools: Vec::new(),
        };
        let call = async {
            let mut stream = self.0.client.stream(&ep, &request).await?;
            let mut reply = String::new();
            while let Some(event) = stream.next().await {
                match event? {
                    StreamEvent::Delta(text) => {
                        reply.push_str(&text);
                        if reply.chars().count() >= MAX_REPLY_CHARS {
                            reply = reply.chars().take(MAX_REPLY_CHARS).collect();
                            break;
                        }
                    }
                    StreamEvent::Done { .. } => break,
                    StreamEvent::ToolCall(_) | StreamEvent::Usage { .. } => {}
                }
            }
            Ok(reply)
        };
        tokio::time::timeout(LIMIT, call)
            .await
            .unwrap_or(Err(ProviderError::Timeout))
    }

    /// Where and how to call `m`, its stored key opened, asking for at most
    /// `max_output_tokens`.
    pub(crate) fn endpoint(
        &self,
        m: &Model,
        max_output_tokens: u32,
    ) -> Result<ModelEndpoint, ProviderError> {
        let api_key = m
            .api_key_sealed
            .as_ref()
            .map(|sealed| {
                self.0
                    .sealing
                    .open(sealed)
                    .map_err(|e| ProviderError::Auth {
                        status: 0,
                        message: format!("stored API key cannot be opened: {e}"),
                    })
            })
            .transpose()?;
        let provider: Provider = m
            .provider
            .parse()
            .map_err(|_| ProviderError::Protocol(format!("unknown provider {}", m.provider)))?;
        Ok(ModelEndpoint {
            provider,
            base_url: m.base_url.clone(),
            api_key,
            model: m.model.clone(),
            max_output_tokens,
        })
    }
}
