//! `POST /v1/embeddings` in the OpenAI format: deterministic vectors, so that tests and
//! demos of knowledge run the real embedding client without a model.
//!
//! A text's vector is a hashed bag of its words: each word (lower-cased, a few stop words
//! left out) adds ±1 at a position chosen by its hash, and the sum is made unit length.
//! Texts sharing words are therefore near (cosine), texts sharing none are nearly
//! orthogonal, and the same text always gets the same vector.
//!
//! Its size is the request's `dimensions`, else the number that ends the model's name
//! (`fake-embed-64` → 64), else 384. An input holding `[[status=CODE]]` gets that HTTP
//! error; one holding `[[dims=N]]` gets a vector of N (to try a client's size check).

use serde_json::{json, Value};

/// Size of a vector when neither the request nor the model's name says.
const DEFAULT_DIMS: usize = 384;
/// The largest vector and the most inputs served (OpenAI's limit is 2048 inputs).
const MAX_DIMS: usize = 4096;
const MAX_INPUTS: usize = 2048;

const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "how", "in", "is", "it", "of",
    "on", "or", "that", "the", "this", "to", "was", "what", "which", "with",
];

/// What the request asks for, or a message for a 400.
pub(crate) struct Request {
    pub model: String,
    pub inputs: Vec<String>,
    pub dims: usize,
}

pub(crate) fn request(body: &Value) -> Result<Request, String> {
    let model = body["model"]
        .as_str()
        .filter(|m| !m.is_empty())
        .ok_or("`model` is required")?
        .to_owned();
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or("`input` must be a string or an array of strings")?,
        _ => return Err("`input` must be a string or an array of strings".into()),
    };
    if inputs.is_empty() || inputs.len() > MAX_INPUTS {
        return Err(format!("`input` must hold 1 to {MAX_INPUTS} texts"));
    }
    let dims = match body.get("dimensions").and_then(Value::as_u64) {
        Some(n) => n as usize,
        None => size_of_model(&model).unwrap_or(DEFAULT_DIMS),
    };
    if !(1..=MAX_DIMS).contains(&dims) {
        return Err(format!("`dimensions` must be between 1 and {MAX_DIMS}"));
    }
    Ok(Request {
        model,
        inputs,
        dims,
    })
}

/// `fake-embed-64` → 64.
fn size_of_model(model: &str) -> Option<usize> {
    let digits = model.rsplit(['-', '_', '/', ':']).next()?;
    digits.parse().ok().filter(|n| (1..=MAX_DIMS).contains(n))
}

/// The HTTP error an input scripts with `[[status=CODE]]`, if any.
pub(crate) fn scripted_failure(inputs: &[String]) -> Option<u16> {
    inputs
        .iter()
        .find_map(|t| directive(t, "status"))
        .filter(|s| (400..=599).contains(s))
        .map(|s| s as u16)
}

fn directive(text: &str, name: &str) -> Option<usize> {
    let start = text.find(&format!("[[{name}="))? + name.len() + 3;
    let end = text[start..].find("]]")? + start;
    text[start..end].trim().parse().ok()
}

/// The OpenAI response: one embedding per input, in order.
pub(crate) fn response(req: &Request) -> Value {
    let data: Vec<Value> = req
        .inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let dims = directive(text, "dims")
                .filter(|n| (1..=MAX_DIMS).contains(n))
                .unwrap_or(req.dims);
            json!({"object": "embedding", "index": i, "embedding": embed(text, dims)})
        })
        .collect();
    let tokens: usize = req
        .inputs
        .iter()
        .map(|t| t.chars().count().div_ceil(4))
        .sum();
    json!({
        "object": "list",
        "data": data,
        "model": req.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })
}

/// A hashed bag of words, unit length (a text without words gets the first axis).
pub fn embed(text: &str, dims: usize) -> Vec<f32> {
    let mut v = vec![0f32; dims.max(1)];
    let words = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()));
    for word in words {
        let h = fnv1a(word.as_bytes());
        let at = (h % v.len() as u64) as usize;
        v[at] += if h >> 63 == 0 { 1.0 } else { -1.0 };
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        v[0] = 1.0;
    } else {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn texts_sharing_words_are_near_and_others_far() {
        let doc = embed("The refund policy allows returns within 30 days", 256);
        let query = embed("what is the refund policy?", 256);
        let other = embed("Dragons breathe fire over mountains", 256);
        assert!(cosine(&doc, &query) > 0.5, "{}", cosine(&doc, &query));
        assert!(cosine(&doc, &other).abs() < 0.3);
        assert_eq!(
            doc,
            embed("The refund policy allows returns within 30 days", 256)
        );
        assert!((cosine(&doc, &doc) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn size_from_the_request_or_the_model_name() {
        let r = request(&json!({"model": "fake-embed-64", "input": "x"})).unwrap();
        assert_eq!(r.dims, 64);
        let r = request(&json!({"model": "fake-embed", "input": ["x"], "dimensions": 8})).unwrap();
        assert_eq!(r.dims, 8);
        let r = request(&json!({"model": "fake-embed", "input": ["x", "y"]})).unwrap();
        assert_eq!((r.dims, r.inputs.len()), (DEFAULT_DIMS, 2));
        assert!(request(&json!({"model": "m", "input": [1]})).is_err());
        assert!(request(&json!({"input": "x"})).is_err());
    }

    #[test]
    fn directives_script_failures_and_sizes() {
        assert_eq!(scripted_failure(&["a [[status=503]]".into()]), Some(503));
        let r = request(&json!({"model": "e-16", "input": ["a [[dims=4]]", "b"]})).unwrap();
        let out = response(&r);
        assert_eq!(out["data"][0]["embedding"].as_array().unwrap().len(), 4);
        assert_eq!(out["data"][1]["embedding"].as_array().unwrap().len(), 16);
        assert_eq!(out["data"][1]["index"], 1);
    }
}
