//! The one outbound HTTP policy. Every request PENNY makes on a user's behalf (model
//! providers, the model test, and later webhooks, MCP servers, OIDC discovery, data
//! sources, document URLs) goes through an [`Outbound`] client, which:
//!
//! * refuses loopback, RFC 1918, link-local (cloud metadata), CGNAT, multicast,
//!   unique-local IPv6 and other special addresses unless the operator allows them
//!   (`OUTBOUND_ALLOW`: CIDRs and host names);
//! * checks the addresses a host name resolves to inside the resolver the connection
//!   itself uses, so the address connected to is one that was checked (no DNS
//!   rebinding between a check and the connect), and checks the peer address again on
//!   the response;
//! * checks every redirect hop the same way (at most [`MAX_REDIRECTS`]);
//! * uses no proxy from the environment, and reads bodies only up to a bound;
//! * reports errors without the URL (which may carry credentials) or upstream bodies.

mod policy;
mod redact;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

pub use policy::{Policy, PolicyError, Refusal};
pub use redact::redact;

/// Redirect hops followed, each checked.
pub const MAX_REDIRECTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The destination is refused by the policy; the reason names the kind of address,
    /// never the upstream's answer.
    #[error("refused by the outbound policy: {0}")]
    Refused(String),
    #[error("not a usable URL: {0}")]
    BadUrl(String),
    #[error("the response is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// A transport error, with the URL removed.
    #[error("{0}")]
    Transport(String),
}

impl OutboundError {
    /// From a reqwest error: the URL is dropped, a policy refusal from the resolver or a
    /// redirect is recognised as such.
    pub fn from_reqwest(err: reqwest::Error) -> OutboundError {
        let err = err.without_url();
        let mut source: Option<&dyn std::error::Error> = Some(&err);
        while let Some(e) = source {
            if let Some(r) = e.downcast_ref::<Refusal>() {
                return OutboundError::Refused(r.to_string());
            }
            source = e.source();
        }
        OutboundError::Transport(redact(&error_chain(&err)))
    }

    pub fn is_refused(&self) -> bool {
        matches!(self, OutboundError::Refused(_))
    }
}

/// reqwest's top-level message ("error sending request") hides the useful part.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// An HTTP client bound to a [`Policy`]. Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct Outbound {
    http: reqwest::Client,
    policy: Arc<Policy>,
}

impl Outbound {
    /// A client built from `builder` with the policy's resolver, redirect rule and no
    /// environment proxy (a proxy would hide the address connected to).
    pub fn new(policy: Policy, builder: reqwest::ClientBuilder) -> Outbound {
        let policy = Arc::new(policy);
        let for_redirects = policy.clone();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(Refusal::new("too many redirects"));
            }
            match for_redirects.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(refusal) => attempt.error(refusal),
            }
        });
        let http = builder
            .dns_resolver(Arc::new(Resolver(policy.clone())))
            .redirect(redirects)
            .no_proxy()
            .build()
            // Building fails only when the TLS backend cannot start; the default client
            // reports the same problem on its first request.
            .unwrap_or_default();
        Outbound { http, policy }
    }

    /// A plain client: connecting bounded by `connect_timeout`, requests sent as
    /// `user_agent` (for callers that need nothing else of reqwest's).
    pub fn with_connect_timeout(
        policy: Policy,
        connect_timeout: std::time::Duration,
        user_agent: &str,
    ) -> Outbound {
        let builder = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .user_agent(user_agent);
        Outbound::new(policy, builder)
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// A request to `url`, if the policy lets its scheme and literal address through
    /// (names are checked when they are resolved).
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, OutboundError> {
        let parsed = url::Url::parse(url).map_err(|e| OutboundError::BadUrl(e.to_string()))?;
        self.policy
            .check_url(&parsed)
            .map_err(|r| OutboundError::Refused(r.to_string()))?;
        Ok(self.http.request(method, parsed))
    }

    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, OutboundError> {
        self.request(reqwest::Method::POST, url)
    }

    pub fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, OutboundError> {
        self.request(reqwest::Method::GET, url)
    }

    /// Sends `request` and checks the address the response came from.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, OutboundError> {
        let response = request.send().await.map_err(OutboundError::from_reqwest)?;
        if let Some(peer) = response.remote_addr() {
            let host = response.url().host_str().map(str::to_owned);
            self.policy
                .check_peer(host.as_deref(), peer)
                .map_err(|r| OutboundError::Refused(r.to_string()))?;
        }
        Ok(response)
    }
}

/// A body as a stream of at most `limit` bytes: refused at once when its declared length
/// is larger, and ending in [`OutboundError::TooLarge`] as soon as more arrives, without
/// reading further. For bodies kept whole elsewhere (object storage) without buffering.
pub fn limited_stream(
    response: reqwest::Response,
    limit: usize,
) -> Result<impl Stream<Item = Result<Bytes, OutboundError>> + Send + 'static, OutboundError> {
    if response
        .content_length()
        .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
    {
        return Err(OutboundError::TooLarge { limit });
    }
    // (bytes seen, ended): the stream ends after its first error.
    Ok(response
        .bytes_stream()
        .scan((0usize, false), move |(seen, ended), chunk| {
            let item = if *ended {
                None
            } else {
                Some(match chunk {
                    Err(e) => {
                        *ended = true;
                        Err(OutboundError::from_reqwest(e))
                    }
                    Ok(c) if seen.saturating_add(c.len()) > limit => {
                        *ended = true;
                        Err(OutboundError::TooLarge { limit })
                    }
                    Ok(c) => {
                        *seen += c.len();
                        Ok(c)
                    }
                })
            };
            futures::future::ready(item)
        }))
}

/// Reads a whole body, refusing one larger than `limit` bytes without reading further.
pub async fn read_limited(
    response: reqwest::Response,
    limit: usize,
) -> Result<Bytes, OutboundError> {
    let mut body = BytesMut::new();
    let mut stream = std::pin::pin!(limited_stream(response, limit)?);
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk?);
    }
    Ok(body.freeze())
}

/// Reads at most `limit` bytes of a body and drops the rest: for error bodies, of which
/// only the start is ever shown.
pub async fn read_prefix(response: reqwest::Response, limit: usize) -> Bytes {
    let mut body = BytesMut::new();
    let mut stream = response.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    body.freeze()
}

/// Resolves with the system resolver and keeps only the addresses the policy allows for
/// that name; the connector connects only to what this returns.
struct Resolver(Arc<Policy>);

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?
                .collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| policy.check_peer(Some(&host), *a).is_ok())
                .collect();
            if allowed.is_empty() {
                let refusal = match found.first() {
                    Some(a) => policy
                        .check_peer(Some(&host), *a)
                        .err()
                        .unwrap_or_else(|| Refusal::new("no address")),
                    None => Refusal::new("the host name has no address"),
                };
                tracing::info!(host, "outbound request refused: {refusal}");
                return Err(Box::new(refusal) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}
