//! Streaming clients for the model providers PENNY talks to: OpenAI-compatible Chat
//! Completions (OpenAI, Ollama, vLLM, llama.cpp, OpenRouter…) and Anthropic Messages.
//!
//! Both speak one vocabulary: a [`ChatRequest`] goes in, an [`EventStream`] of
//! [`StreamEvent`]s comes out (text deltas, complete tool calls, usage, done), and every
//! failure is a [`ProviderError`] with a stable [`code`](ProviderError::code).

mod anthropic;
mod client;
mod decode;
mod error;
mod openai;
mod sse;
mod types;

pub use client::{Client, EventStream};
pub use error::ProviderError;
pub use types::{
    ChatMessage, ChatRequest, ModelEndpoint, ParseProviderError, Provider, StreamEvent, ToolCall,
    ToolSpec,
};
