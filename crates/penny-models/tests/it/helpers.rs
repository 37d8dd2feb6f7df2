//! Starting the fake and reading a whole stream.

use std::time::Duration;

use futures::StreamExt;
use penny_fake_llm::{FakeOptions, FakeServer};
use penny_models::{
    ChatMessage, ChatRequest, Client, ModelEndpoint, Provider, ProviderError, StreamEvent,
    ToolCall, ToolSpec,
};
use serde_json::json;

pub async fn fake(options: FakeOptions) -> FakeServer {
    penny_fake_llm::spawn(options).await.unwrap()
}

pub fn endpoint(fake: &FakeServer, provider: Provider) -> ModelEndpoint {
    ModelEndpoint {
        provider,
        base_url: match provider {
            Provider::OpenAi => fake.openai_base(),
            Provider::Anthropic => fake.anthropic_base(),
        },
        api_key: Some("sk-test".into()),
        model: "fake-model".into(),
        max_output_tokens: 256,
    }
}

pub fn say(text: &str) -> ChatRequest {
    ChatRequest {
        system: None,
        messages: vec![ChatMessage::User {
            content: text.into(),
        }],
        tools: vec![],
    }
}

pub fn weather_tool() -> ToolSpec {
    ToolSpec {
        name: "get_weather".into(),
        description: "Current weather for a city".into(),
        parameters: json!({
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        }),
    }
}

/// Everything one call produced: its events, and the error that ended it, if any.
#[derive(Debug)]
pub struct Run {
    pub events: Vec<StreamEvent>,
    pub error: Option<ProviderError>,
}

impl Run {
    pub fn deltas(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Delta(text) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn tool_calls(&self) -> Vec<&ToolCall> {
        self.events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ToolCall(call) => Some(call),
                _ => None,
            })
            .collect()
    }

    pub fn finish_reason(&self) -> Option<&str> {
        match self.events.last() {
            Some(StreamEvent::Done { finish_reason }) => Some(finish_reason),
            _ => None,
        }
    }

    pub fn is_done(&self) -> bool {
        self.error.is_none() && self.finish_reason().is_some()
    }
}

pub fn text_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Delta(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// Streams a call to its end. Panics if the call fails before streaming.
pub async fn collect(ep: &ModelEndpoint, request: &ChatRequest, idle_timeout: Duration) -> Run {
    let client = Client::new(idle_timeout, penny_outbound::Policy::loopback());
    let mut stream = client.stream(ep, request).await.unwrap();
    let mut run = Run {
        events: Vec::new(),
        error: None,
    };
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => run.events.push(event),
            Err(err) => {
                assert!(run.error.is_none(), "a second error: {err:?}");
                run.error = Some(err);
            }
        }
    }
    run
}

/// The error of a call that must fail before streaming.
pub async fn start_error(ep: &ModelEndpoint, request: &ChatRequest) -> ProviderError {
    match Client::new(Duration::from_secs(5), penny_outbound::Policy::loopback())
        .stream(ep, request)
        .await
    {
        Ok(_) => panic!("the call streamed instead of failing"),
        Err(err) => err,
    }
}
