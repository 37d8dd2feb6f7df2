//! A bare HTTP/1.1 client: one keep-alive TCP connection per [`Conn`], no pool, no TLS,
//! so the load generator costs as little CPU as possible and opens exactly the
//! connections it is asked for.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::{handshake, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One open connection to the server.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            sender,
            host: HeaderValue::from_str(&addr.to_string())?,
        })
    }

    /// A request with `Host` (and `Authorization` when given) set; body as JSON if any.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        auth: Option<&HeaderValue>,
        json: Option<&serde_json::Value>,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let body = match json {
            Some(v) => Some(("application/json", Bytes::from(serde_json::to_vec(v)?))),
            None => None,
        };
        self.request_with(method, path, auth, body)
    }

    /// A request with `Host` (and `Authorization` when given) set, and a body of the given
    /// content type if any.
    pub fn request_with(
        &self,
        method: Method,
        path: &str,
        auth: Option<&HeaderValue>,
        body: Option<(&str, Bytes)>,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone());
        if let Some(a) = auth {
            req = req.header(AUTHORIZATION, a.clone());
        }
        let body = match body {
            Some((content_type, bytes)) => {
                req = req.header(CONTENT_TYPE, content_type);
                bytes
            }
            None => Bytes::new(),
        };
        Ok(req.body(Full::new(body))?)
    }

    /// Sends `req` and reads the whole answer.
    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> anyhow::Result<(StatusCode, Bytes)> {
        self.sender.ready().await?;
        let res = self.sender.send_request(req).await?;
        let status = res.status();
        let body = res.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// Sends `req` and returns as soon as the head is in; the body is read by the caller
    /// (a stream of server-sent events).
    pub async fn send_streaming(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> anyhow::Result<http::Response<Incoming>> {
        self.sender.ready().await?;
        Ok(self.sender.send_request(req).await?)
    }

    /// Sends a request and parses a JSON answer; fails unless the status is `expect`.
    pub async fn json(
        &mut self,
        method: Method,
        path: &str,
        auth: Option<&HeaderValue>,
        body: Option<&serde_json::Value>,
        expect: StatusCode,
    ) -> anyhow::Result<serde_json::Value> {
        let req = self.request(method.clone(), path, auth, body)?;
        let (status, bytes) = self.send(req).await?;
        if status != expect {
            anyhow::bail!(
                "{method} {path}: expected {expect}, got {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        serde_json::from_slice(&bytes)
            .with_context(|| format!("{method} {path}: answer is not JSON"))
    }
}

/// `GET /ready` once on a fresh connection: its status, or `None` when nothing answers yet.
pub async fn probe_ready(addr: SocketAddr) -> Option<StatusCode> {
    let attempt = async {
        let mut conn = Conn::open(addr).await?;
        let req = conn.request(Method::GET, "/ready", None, None)?;
        anyhow::Ok(conn.send(req).await?.0)
    };
    match tokio::time::timeout(Duration::from_secs(5), attempt).await {
        Ok(Ok(status)) => Some(status),
        _ => None,
    }
}

/// The bearer header for an access token.
pub fn bearer(token: &str) -> anyhow::Result<HeaderValue> {
    Ok(HeaderValue::from_str(&format!("Bearer {token}"))?)
}
