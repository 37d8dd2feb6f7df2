//! Embeddings from an OpenAI-compatible endpoint: `POST {base_url}/embeddings` with
//! `{model, input: [...]}`, answered by `data[i].embedding`. Every call goes through the
//! outbound policy's client, in batches, each bounded in time and size; every vector's
//! size is checked against the model's configured `dimensions`. Errors say what kind of
//! failure it was, never the key, the URL or the upstream's words.

use std::time::Duration;

use penny_outbound::{Outbound, OutboundError};
use serde::Deserialize;
use serde_json::json;

use super::EmbedError;

/// Texts sent per request (providers take up to 2048; smaller keeps each answer small).
const BATCH: usize = 64;
/// How long one request may take, answer included.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A tenant's embedding model, its key opened.
pub struct RemoteSpec {
    /// How collections name it (the tenant's model name).
    pub name: String,
    pub base_url: String,
    pub api_key: Option<String>,
    /// The upstream's model id.
    pub model: String,
    pub dims: usize,
}

pub(super) struct Remote {
    spec: RemoteSpec,
    http: Outbound,
}

#[derive(Deserialize)]
struct Answer {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: Option<usize>,
    embedding: Vec<f32>,
}

impl Remote {
    pub(super) fn new(spec: RemoteSpec, http: Outbound) -> Remote {
        Remote { spec, http }
    }

    pub(super) fn name(&self) -> &str {
        &self.spec.name
    }

    pub(super) fn dims(&self) -> usize {
        self.spec.dims
    }

    pub(super) async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            let vectors = tokio::time::timeout(TIMEOUT, self.call(batch))
                .await
                .map_err(|_| EmbedError::Timeout {
                    secs: TIMEOUT.as_secs(),
                })??;
            out.extend(vectors);
        }
        Ok(out)
    }

    async fn call(&self, batch: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let url = format!("{}/embeddings", self.spec.base_url.trim_end_matches('/'));
        let mut request = self
            .http
            .post(&url)
            .map_err(from_outbound)?
            .json(&json!({"model": self.spec.model, "input": batch}));
        if let Some(key) = &self.spec.api_key {
            request = request.bearer_auth(key);
        }
        let response = self.http.send(request).await.map_err(from_outbound)?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            return Err(match status {
                401 | 403 => EmbedError::Auth { status },
                429 => EmbedError::RateLimited,
                _ => EmbedError::Upstream { status },
            });
        }
        // A float's text is at most ~16 bytes; room for the rest of the answer.
        let limit = batch.len() * self.spec.dims * 32 + 64 * 1024;
        let body = penny_outbound::read_limited(response, limit)
            .await
            .map_err(from_outbound)?;
        let answer: Answer = serde_json::from_slice(&body).map_err(|_| {
            EmbedError::Protocol("the answer is not an OpenAI embeddings list".into())
        })?;
        order(answer.data, batch.len(), self.spec.dims)
    }
}

/// The vectors in input order, each of the model's size.
fn order(items: Vec<Item>, n: usize, dims: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
    if items.len() != n {
        return Err(EmbedError::Protocol(format!(
            "{} embeddings for {n} texts",
            items.len()
        )));
    }
    let mut out: Vec<Option<Vec<f32>>> = vec![None; n];
    for (at, item) in items.into_iter().enumerate() {
        let i = item.index.unwrap_or(at);
        if item.embedding.len() != dims {
            return Err(EmbedError::Dimensions {
                got: item.embedding.len(),
                want: dims,
            });
        }
        if item.embedding.iter().any(|x| !x.is_finite()) {
            return Err(EmbedError::Protocol("an embedding is not finite".into()));
        }
        match out.get_mut(i) {
            Some(slot @ None) => *slot = Some(item.embedding),
            _ => {
                return Err(EmbedError::Protocol(
                    "the embeddings' indexes are wrong".into(),
                ))
            }
        }
    }
    Ok(out.into_iter().flatten().collect())
}

fn from_outbound(e: OutboundError) -> EmbedError {
    match e {
        OutboundError::Refused(reason) => EmbedError::Refused(reason),
        OutboundError::BadUrl(_) => {
            EmbedError::Protocol("the model's base_url is not usable".into())
        }
        OutboundError::TooLarge { limit } => {
            EmbedError::Protocol(format!("the answer is larger than {limit} bytes"))
        }
        OutboundError::Transport(m) => EmbedError::Unreachable(penny_outbound::redact(&m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(index: Option<usize>, v: &[f32]) -> Item {
        Item {
            index,
            embedding: v.to_vec(),
        }
    }

    #[test]
    fn vectors_come_back_in_input_order_of_the_model_size() {
        let got = order(
            vec![item(Some(1), &[0.0, 1.0]), item(Some(0), &[1.0, 0.0])],
            2,
            2,
        );
        assert_eq!(got.unwrap(), vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
        let wrong = order(vec![item(None, &[1.0, 0.0, 0.0])], 1, 2);
        assert!(matches!(
            wrong,
            Err(EmbedError::Dimensions { got: 3, want: 2 })
        ));
        assert!(order(vec![item(Some(0), &[1.0]), item(Some(0), &[1.0])], 2, 1).is_err());
        assert!(order(vec![item(None, &[1.0])], 2, 1).is_err());
        assert!(order(vec![item(None, &[f32::NAN])], 1, 1).is_err());
    }
}
