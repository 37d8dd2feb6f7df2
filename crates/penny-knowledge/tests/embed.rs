//! The local model, for real: the weights the set-up script installs.

use std::path::PathBuf;

use penny_knowledge::Embedder;

fn model_dir() -> PathBuf {
    std::env::var_os("PENNY_EMBEDDING_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.penny/models/all-MiniLM-L6-v2")
        })
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn similar_sentences_are_closer_than_unrelated_ones() {
    let embedder = Embedder::local(&model_dir()).expect("the model (scripts/setup-models.sh)");
    assert_eq!(embedder.dims(), 384);
    assert_eq!(embedder.model(), "local/all-MiniLM-L6-v2");
    let texts = [
        "The cat sits on the mat.",
        "A kitten is sitting on a rug.",
        "Stock markets fell sharply after the rate decision.",
        // Long enough to be cut at the model's limit, and batched with short ones.
        &"Quarterly revenue grew in every region. ".repeat(80),
    ];
    let v = embedder
        .embed(texts.iter().map(|t| t.to_string()).collect())
        .await
        .expect("embeddings");
    assert_eq!(v.len(), 4);
    for e in &v {
        assert_eq!(e.len(), 384);
        let norm: f32 = cosine(e, e).sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "unit length, got {norm}");
    }
    let close = cosine(&v[0], &v[1]);
    let far = cosine(&v[0], &v[2]);
    assert!(
        close > 0.5 && far < 0.2 && close > far + 0.3,
        "close {close}, far {far}"
    );
    // The same text in another batch gives the same vector (padding does not leak in).
    let again = embedder
        .embed(vec![texts[0].to_string()])
        .await
        .expect("embedding");
    assert!(cosine(&again[0], &v[0]) > 0.9999);
}
