//! The HTTP side: sending a request to the endpoint and driving its event stream with
//! the idle timeout.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use reqwest::header::{ACCEPT, CONTENT_TYPE};

use crate::anthropic::{self, AnthropicDecoder};
use crate::decode::Decoder;
use crate::error::{error_chain, MAX_ERROR_BODY};
use crate::openai::{self, OpenAiDecoder};
use crate::sse::SseParser;
use crate::{ChatRequest, ModelEndpoint, Provider, ProviderError, StreamEvent};

/// The events of one model call. It ends after `Done` or after the first error.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, ProviderError>> + Send>>;

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// After `Done`, the rest of the body (normally just the end of the chunked encoding) is
/// read for at most this long so that the connection goes back to the pool.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// A client for every provider. Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct Client {
    http: penny_outbound::Outbound,
    idle_timeout: Duration,
}

impl Client {
    /// `idle_timeout` bounds connecting, waiting for the response headers, and every gap
    /// between two chunks of the stream. Every call goes through `policy`.
    pub fn new(idle_timeout: Duration, policy: penny_outbound::Policy) -> Self {
        let builder = reqwest::Client::builder()
            .connect_timeout(idle_timeout)
            .tcp_nodelay(true)
            .user_agent(concat!("penny/", env!("CARGO_PKG_VERSION")));
        let http = penny_outbound::Outbound::new(policy, builder);
        Client { http, idle_timeout }
    }

    /// Starts a streaming call. Errors that happen before the first event (status codes,
    /// connection, headers timeout) are returned here; later ones arrive in the stream.
    pub async fn stream(
        &self,
        ep: &ModelEndpoint,
        req: &ChatRequest,
    ) -> Result<EventStream, ProviderError> {
        let request = match ep.provider {
            Provider::OpenAi => {
                let mut request = self
                    .http
                    .post(&openai::url(ep))
                    .map_err(ProviderError::from_outbound)?
                    .json(&openai::request_body(ep, req));
                if let Some(key) = &ep.api_key {
                    request = request.bearer_auth(key);
                }
                request
            }
            Provider::Anthropic => {
                let mut request = self
                    .http
                    .post(&anthropic::url(ep))
                    .map_err(ProviderError::from_outbound)?
                    .header("anthropic-version", anthropic::VERSION)
                    .json(&anthropic::request_body(ep, req));
                if let Some(key) = &ep.api_key {
                    request = request.header("x-api-key", key);
                }
                request
            }
        };
        tracing::debug!(provider = %ep.provider, model = %ep.model, "calling model provider");
        let response = tokio::time::timeout(
            self.idle_timeout,
            self.http.send(request.header(ACCEPT, "text/event-stream")),
        )
        .await
        .map_err(|_| ProviderError::Timeout)?
        .map_err(ProviderError::from_outbound)?;

        let status = response.status();
        if !status.is_success() {
            let headers = response.headers().clone();
            let body = tokio::time::timeout(
                self.idle_timeout,
                penny_outbound::read_prefix(response, MAX_ERROR_BODY),
            )
            .await
            .unwrap_or_default();
            return Err(ProviderError::from_status(status.as_u16(), &headers, &body));
        }
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json {
            // A server that ignored `stream: true`; PENNY needs the stream.
            return Err(ProviderError::Protocol(
                "the provider answered with JSON, not an event stream".into(),
            ));
        }

        let body: ByteStream = Box::pin(response.bytes_stream());
        let stream = match ep.provider {
            Provider::OpenAi => drive(body, OpenAiDecoder::default(), self.idle_timeout),
            Provider::Anthropic => drive(body, AnthropicDecoder::default(), self.idle_timeout),
        };
        Ok(stream)
    }
}

fn drive<D: Decoder>(body: ByteStream, decoder: D, idle_timeout: Duration) -> EventStream {
    let driver = Driver {
        body,
        parser: SseParser::default(),
        decoder,
        idle_timeout,
        queue: VecDeque::new(),
        error: None,
        phase: Phase::Reading,
    };
    Box::pin(futures::stream::unfold(driver, Driver::next))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Reading,
    /// The terminal event was seen; only the queue is left to hand out.
    Draining,
    Finished,
}

struct Driver<D> {
    body: ByteStream,
    parser: SseParser,
    decoder: D,
    idle_timeout: Duration,
    queue: VecDeque<StreamEvent>,
    /// Handed out once the events decoded before it are.
    error: Option<ProviderError>,
    phase: Phase,
}

impl<D: Decoder> Driver<D> {
    async fn next(mut self) -> Option<(Result<StreamEvent, ProviderError>, Self)> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some((Ok(event), self));
            }
            if let Some(error) = self.error.take() {
                self.phase = Phase::Finished;
                return Some((Err(error), self));
            }
            match self.phase {
                Phase::Finished => return None,
                Phase::Draining => {
                    self.drain().await;
                    self.phase = Phase::Finished;
                    return None;
                }
                Phase::Reading => self.read().await,
            }
        }
    }

    async fn read(&mut self) {
        match tokio::time::timeout(self.idle_timeout, self.body.next()).await {
            Err(_) => self.error = Some(ProviderError::Timeout),
            Ok(Some(Err(e))) => {
                self.error = Some(ProviderError::Disconnected(error_chain(&e.without_url())))
            }
            Ok(Some(Ok(bytes))) => {
                let result = self.parser.feed(&bytes).and_then(|events| {
                    for event in events {
                        if self.decoder.is_done() {
                            break;
                        }
                        self.decoder.event(event, &mut self.queue)?;
                    }
                    Ok(())
                });
                if let Err(e) = result {
                    self.error = Some(e);
                }
            }
            Ok(None) => {
                let result = self.parser.finish().and_then(|last| {
                    if let Some(event) = last.filter(|_| !self.decoder.is_done()) {
                        self.decoder.event(event, &mut self.queue)?;
                    }
                    if self.decoder.is_done() {
                        Ok(())
                    } else {
                        self.decoder.end_of_input(&mut self.queue)
                    }
                });
                if let Err(e) = result {
                    self.error = Some(e);
                }
                self.phase = Phase::Finished;
            }
        }
        if self.decoder.is_done() && self.phase == Phase::Reading {
            self.phase = Phase::Draining;
        }
    }

    async fn drain(&mut self) {
        let limit = self.idle_timeout.min(DRAIN_LIMIT);
        let body = &mut self.body;
        let _ = tokio::time::timeout(limit, async {
            while let Some(Ok(_)) = body.next().await {}
        })
        .await;
    }
}
