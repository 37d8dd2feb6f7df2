//! The `rag` benchmark (`make bench-rag`): documents into knowledge, and searches back.
//!
//! 1. **Bare pipeline** (the baseline, in this process): the PDF's text extracted,
//!    chunked and embedded by `penny-knowledge` with the same model, no server.
//! 2. **Ingest**: a ~1.3 MB text PDF (the KJV, [`crate::bible`]) uploaded and added to a
//!    collection, timed until the document reads `ready`; the server's memory sampled.
//! 3. **Recall@8** on a labelled set: each question is a verse in the World English
//!    Bible's words; a hit is a top-8 passage holding the KJV verse. Hybrid against the
//!    vector-only and keyword-only searches of the same endpoint.
//! 4. **Latency over 100k chunks**: the ingested chunks copied (embeddings jittered, so
//!    no two are equal) into a second collection until it holds `--chunks`, then the
//!    same questions, one at a time, per mode; `GET /health` is the HTTP baseline.
//! 5. **First token**: an answer that calls `search_documents` first against one that
//!    calls nothing, both through the fake provider.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use http::{HeaderValue, Method, StatusCode};
use hyper::body::Bytes;
use serde_json::{json, Value};
use sqlx::Connection;
use uuid::Uuid;

use crate::bible::{self, Verse};
use crate::chat::{self, Prepared};
use crate::client::Conn;
use crate::server::{Launch, Server};
use crate::stats::{met, Machine, Samples};
use crate::upstream::{Placement, Upstream};

const TARGET_INGEST_SECS: f64 = 15.0;
const TARGET_SEARCH_P95_MS: f64 = 20.0;
const K: usize = 8;
/// How far a copy's embedding is moved: each component by up to ±JITTER before it is
/// normalised again (cosine to the original ≈ 0.95).
const JITTER: f64 = 0.03;
const POLL: Duration = Duration::from_millis(20);
const INGEST_TIMEOUT: Duration = Duration::from_secs(900);
const MODES: [&str; 3] = ["hybrid", "vector", "keyword"];

pub struct Options {
    /// Size of the PDF to ingest, in bytes (approximately: whole verses).
    pub pdf_bytes: usize,
    pub questions: usize,
    /// Chunks in the large collection.
    pub chunks: usize,
    /// Answers timed with and without a search.
    pub answers: usize,
    pub model_dir: PathBuf,
}

pub struct Figures {
    pub verses: usize,
    pub text_chars: usize,
    pub pdf_bytes: usize,
    pub pdf_pages: usize,
    pub bare: Bare,
    pub ingest: Ingest,
    pub questions: usize,
    /// Per mode: over the ingested collection, then over the large one.
    pub small: Vec<ModeRun>,
    pub large: Vec<ModeRun>,
    pub large_chunks: i64,
    pub copy_time: Duration,
    pub health: Samples,
    pub plain: Samples,
    pub searched: Samples,
}

/// The pipeline without the server.
pub struct Bare {
    pub extract: Duration,
    pub chunks: usize,
    pub embed: Duration,
}

pub struct Ingest {
    /// Upload of the file (`POST /files`).
    pub upload: Duration,
    /// From `POST /collections/{id}/documents` to `ready`.
    pub ready: Duration,
    pub pages: i64,
    pub chunks: i64,
    pub rss_before: u64,
    pub rss_peak: u64,
}

/// One mode's questions.
pub struct ModeRun {
    pub mode: &'static str,
    pub hits: usize,
    /// Sum of 1/rank of the first hit (mean reciprocal rank × questions).
    pub reciprocal: f64,
    pub latency: Samples,
    /// The server's own `tookMs`.
    pub took: Samples,
}

pub async fn run(launch: &Launch, opts: &Options) -> anyhow::Result<Figures> {
    eprintln!("bench: reading the KJV and the WEB (diatheke)…");
    // Content streams hold ~8% more than their text (operators, line breaks).
    let verses = bible::load(opts.pdf_bytes * 92 / 100).await?;
    let (pdf, pdf_pages) = bible::pdf(&verses)?;
    let text_chars = verses.iter().map(|v| v.kjv.len()).sum();
    let questions = bible::questions(&verses, opts.questions);
    eprintln!(
        "bench: {} verses, {:.2} MB PDF of {pdf_pages} pages, {} questions",
        verses.len(),
        pdf.len() as f64 / 1e6,
        questions.len()
    );
    eprintln!("bench: baseline, extract + chunk + embed in this process…");
    let bare = bare_pipeline(&pdf, opts).await?;
    eprintln!("bench: starting penny…");
    let (server, _) = launch.start().await?;
    let measured = measure(launch, &server, opts, &pdf, &questions).await;
    let stopped = server.stop().await;
    let m = measured?;
    stopped?;
    Ok(Figures {
        verses: verses.len(),
        text_chars,
        pdf_bytes: pdf.len(),
        pdf_pages,
        bare,
        ingest: m.ingest,
        questions: questions.len(),
        small: m.small,
        large: m.large,
        large_chunks: m.large_chunks,
        copy_time: m.copy_time,
        health: m.health,
        plain: m.plain,
        searched: m.searched,
    })
}

async fn bare_pipeline(pdf: &[u8], opts: &Options) -> anyhow::Result<Bare> {
    use penny_knowledge::{chunk, extract, Embedder};
    let began = Instant::now();
    let bytes = pdf.to_vec();
    let extracted = tokio::task::spawn_blocking(move || {
        let kind = extract::Kind::detect(&bytes, "application/pdf", "kjv.pdf")?;
        extract::extract(&bytes, kind)
    })
    .await?
    .context("extracting the PDF")?;
    let extract = began.elapsed();
    let chunks = chunk::chunk(&extracted.pages);
    let embedder = Embedder::local(&opts.model_dir).context("loading the embedding model")?;
    // One unmeasured batch loads the weights.
    embedder.embed(vec!["warm up".into()]).await?;
    let began = Instant::now();
    // Batches of 32, as the ingest job sends them.
    for batch in chunks.chunks(32) {
        embedder
            .embed(batch.iter().map(|c| c.embedding_text()).collect())
            .await?;
    }
    Ok(Bare {
        extract,
        chunks: chunks.len(),
        embed: began.elapsed(),
    })
}

struct Measured {
    ingest: Ingest,
    small: Vec<ModeRun>,
    large: Vec<ModeRun>,
    large_chunks: i64,
    copy_time: Duration,
    health: Samples,
    plain: Samples,
    searched: Samples,
}

async fn measure(
    launch: &Launch,
    server: &Server,
    opts: &Options,
    pdf: &[u8],
    questions: &[&Verse],
) -> anyhow::Result<Measured> {
    let mut conn = Conn::open(launch.addr()).await?;
    let auth = crate::api::login(&mut conn).await?;
    let small = create_collection(&mut conn, &auth, "KJV").await?;
    eprintln!("bench: ingesting the PDF…");
    let (ingest, document) = ingest(&mut conn, &auth, server, &small, pdf).await?;
    eprintln!(
        "bench: ready in {:.1} s ({} chunks); {} questions per mode…",
        ingest.ready.as_secs_f64(),
        ingest.chunks,
        questions.len()
    );
    let small_runs = modes(&mut conn, &auth, &small, questions).await?;
    let large = create_collection(&mut conn, &auth, "KJV copies").await?;
    eprintln!(
        "bench: copying chunks into a collection of {}…",
        opts.chunks
    );
    let began = Instant::now();
    let large_chunks = copy_chunks(&launch.database_url, document, &large, opts.chunks).await?;
    let copy_time = began.elapsed();
    eprintln!(
        "bench: {large_chunks} chunks in {:.0} s; questions per mode…",
        copy_time.as_secs_f64()
    );
    let large_runs = modes(&mut conn, &auth, &large, questions).await?;
    let health = health(&mut conn, questions.len()).await?;
    eprintln!(
        "bench: first token, {} answers with and without a search…",
        opts.answers
    );
    let (plain, searched) = first_tokens(launch, &mut conn, &auth, &small, questions, opts).await?;
    Ok(Measured {
        ingest,
        small: small_runs,
        large: large_runs,
        large_chunks,
        copy_time,
        health,
        plain,
        searched,
    })
}

async fn create_collection(
    conn: &mut Conn,
    auth: &HeaderValue,
    name: &str,
) -> anyhow::Result<String> {
    let c = conn
        .json(
            Method::POST,
            "/api/v1/collections",
            Some(auth),
            Some(&json!({"name": name})),
            StatusCode::CREATED,
        )
        .await?;
    id(&c)
}

fn id(v: &Value) -> anyhow::Result<String> {
    v["id"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("no id in {v}"))
}

/// Uploads the PDF, adds it to `collection`, and waits until it is ready.
async fn ingest(
    conn: &mut Conn,
    auth: &HeaderValue,
    server: &Server,
    collection: &str,
    pdf: &[u8],
) -> anyhow::Result<(Ingest, Uuid)> {
    let boundary = "penny-bench-boundary-7d1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"kjv.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(pdf);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let rss_before = server.rss_bytes()?;
    let began = Instant::now();
    let req = conn.request_with(
        Method::POST,
        "/api/v1/files",
        Some(auth),
        Some((&content_type, Bytes::from(body))),
    )?;
    let (status, answer) = conn.send(req).await?;
    if status != StatusCode::CREATED {
        bail!(
            "POST /api/v1/files: {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    let upload = began.elapsed();
    let file = id(&serde_json::from_slice(&answer)?)?;
    let began = Instant::now();
    let doc = conn
        .json(
            Method::POST,
            &format!("/api/v1/collections/{collection}/documents"),
            Some(auth),
            Some(&json!({"fileId": file})),
            StatusCode::CREATED,
        )
        .await?;
    let document = id(&doc)?;
    let mut rss_peak = rss_before;
    let doc = loop {
        rss_peak = rss_peak.max(server.rss_bytes()?);
        let doc = conn
            .json(
                Method::GET,
                &format!("/api/v1/documents/{document}"),
                Some(auth),
                None,
                StatusCode::OK,
            )
            .await?;
        match doc["status"].as_str() {
            Some("ready") => break doc,
            Some("failed" | "cancelled") => bail!("the document ended {}", doc),
            _ if began.elapsed() > INGEST_TIMEOUT => {
                bail!("not ready after {INGEST_TIMEOUT:?}: {doc}")
            }
            _ => tokio::time::sleep(POLL).await,
        }
    };
    let ingest = Ingest {
        upload,
        ready: began.elapsed(),
        pages: doc["pages"].as_i64().unwrap_or(0),
        chunks: doc["chunks"].as_i64().unwrap_or(0),
        rss_before,
        rss_peak,
    };
    Ok((ingest, Uuid::parse_str(&document)?))
}

/// Every question in every mode against `collection`, one at a time.
async fn modes(
    conn: &mut Conn,
    auth: &HeaderValue,
    collection: &str,
    questions: &[&Verse],
) -> anyhow::Result<Vec<ModeRun>> {
    // Unmeasured: the first searches load the model's weights and warm the caches.
    for q in questions.iter().take(10) {
        search(conn, auth, collection, "hybrid", q).await?;
    }
    let mut runs = Vec::new();
    for mode in MODES {
        let mut latency = Vec::with_capacity(questions.len());
        let mut took = Vec::with_capacity(questions.len());
        let (mut hits, mut reciprocal) = (0, 0.0);
        for q in questions {
            let began = Instant::now();
            let answer = search(conn, auth, collection, mode, q).await?;
            latency.push(began.elapsed());
            let server_ms = answer["tookMs"].as_f64().unwrap_or(0.0);
            took.push(Duration::from_secs_f64(server_ms / 1000.0));
            let passages = answer["passages"].as_array().context("no passages")?;
            let rank = passages
                .iter()
                .position(|p| p["content"].as_str().is_some_and(|c| q.is_in(c)));
            if let Some(r) = rank {
                hits += 1;
                reciprocal += 1.0 / (r + 1) as f64;
            }
        }
        runs.push(ModeRun {
            mode,
            hits,
            reciprocal,
            latency: Samples::new(latency),
            took: Samples::new(took),
        });
    }
    Ok(runs)
}

async fn search(
    conn: &mut Conn,
    auth: &HeaderValue,
    collection: &str,
    mode: &str,
    q: &Verse,
) -> anyhow::Result<Value> {
    let body = json!({"query": q.web, "collections": [collection], "k": K, "mode": mode});
    conn.json(
        Method::POST,
        "/api/v1/search",
        Some(auth),
        Some(&body),
        StatusCode::OK,
    )
    .await
    .with_context(|| format!("searching for {}", q.reference()))
}

/// Copies the document's chunks into `collection` (one document per copy, embeddings
/// jittered and normalised again) until it holds `want`; returns how many it holds.
/// Straight SQL as the database owner: the copies are seed data, not what is measured.
async fn copy_chunks(
    database_url: &str,
    document: Uuid,
    collection: &str,
    want: usize,
) -> anyhow::Result<i64> {
    let collection = Uuid::parse_str(collection)?;
    let mut db = crate::db::connect(database_url).await?;
    let per_copy: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id \
         AND d.generation = c.generation WHERE d.id = $1",
    )
    .bind(document)
    .fetch_one(&mut db)
    .await?;
    anyhow::ensure!(per_copy > 0, "the ingested document has no chunks");
    let copies = (want as i64 + per_copy - 1) / per_copy;
    for n in 1..=copies {
        sqlx::query(COPY)
            .bind(document)
            .bind(collection)
            .bind(format!("KJV copy {n}"))
            .bind(JITTER)
            .execute(&mut db)
            .await
            .with_context(|| format!("copy {n} of the chunks"))?;
        if n % 10 == 0 {
            eprintln!("bench:   {} chunks copied", n * per_copy);
        }
    }
    sqlx::query("VACUUM ANALYZE chunks")
        .execute(&mut db)
        .await?;
    sqlx::query("ANALYZE documents").execute(&mut db).await?;
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM chunks WHERE collection_id = $1")
        .bind(collection)
        .fetch_one(&mut db)
        .await?;
    db.close().await?;
    Ok(held)
}

/// One copy of a ready document and its chunks into another collection.
const COPY: &str = "\
WITH d AS (
  INSERT INTO documents (tenant_id, collection_id, file_id, title, mime, bytes, sha256,
    status, pages, chunks, pages_done, chunks_done, generation, version, created_by,
    ready_at)
  SELECT tenant_id, $2, file_id, $3, mime, bytes, sha256, 'ready', pages, chunks,
    pages_done, chunks_done, generation, version, created_by, now()
  FROM documents WHERE id = $1
  RETURNING id, generation)
INSERT INTO chunks (tenant_id, collection_id, document_id, generation, ordinal, page,
  start_offset, end_offset, heading, content, dims, embedding)
SELECT c.tenant_id, $2, d.id, d.generation, c.ordinal, c.page, c.start_offset,
  c.end_offset, c.heading, c.content, c.dims, l2_normalize(c.embedding + noise.v)
FROM d
JOIN chunks c ON c.document_id = $1 AND c.generation = d.generation
CROSS JOIN LATERAL (
  SELECT array_agg((random() * 2 - 1) * $4)::vector AS v
  FROM generate_series(1, c.dims)) noise";

async fn health(conn: &mut Conn, n: usize) -> anyhow::Result<Samples> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let req = conn.request(Method::GET, "/health", None, None)?;
        let began = Instant::now();
        let (status, _) = conn.send(req).await?;
        times.push(began.elapsed());
        anyhow::ensure!(status == StatusCode::OK, "/health answered {status}");
    }
    Ok(Samples::new(times))
}

/// Time to the first answer token, without then with a `search_documents` call first
/// (alternating, each in a new conversation).
async fn first_tokens(
    launch: &Launch,
    conn: &mut Conn,
    auth: &HeaderValue,
    collection: &str,
    questions: &[&Verse],
    opts: &Options,
) -> anyhow::Result<(Samples, Samples)> {
    let fake = Upstream::start(Placement::Process).await?;
    chat::ensure_model(conn, auth, &fake).await?;
    let mut plain = Vec::with_capacity(opts.answers);
    let mut searched = Vec::with_capacity(opts.answers);
    // One unmeasured answer of each kind warms the model's client and the tool worker.
    for i in 0..=opts.answers {
        let q = questions[i % questions.len()];
        let query = q.web.as_deref().unwrap_or_default();
        let args = json!({"query": query, "collections": [collection]});
        for with_search in [false, true] {
            let (content, tools) = if with_search {
                (
                    format!("{query} [[tool=search_documents args={args}]]"),
                    vec!["search_documents".to_string()],
                )
            } else {
                (format!("{query} [[tokens=20]]"), Vec::new())
            };
            let conversation = chat::create_conversation(conn, auth).await?;
            let timed = Prepared::penny(launch.addr(), auth, &conversation, &content, &tools)
                .await?
                .stream()
                .await
                .with_context(|| format!("an answer (search: {with_search})"))?;
            if i > 0 {
                if with_search {
                    &mut searched
                } else {
                    &mut plain
                }
                .push(timed.first_delta);
            }
        }
    }
    Ok((Samples::new(plain), Samples::new(searched)))
}

pub fn print(f: &Figures, opts: &Options, machine: &Machine, db_local: bool) {
    println!();
    println!(
        "PENNY RAG benchmark (release, all-MiniLM-L6-v2 on the CPU, {}{})",
        machine.describe(),
        if db_local {
            ", shared with PostgreSQL"
        } else {
            ""
        }
    );
    println!(
        "corpus: the KJV from Genesis, {} verses, {:.2} M characters, as a {:.2} MB text PDF of {} pages",
        f.verses,
        f.text_chars as f64 / 1e6,
        f.pdf_bytes as f64 / 1e6,
        f.pdf_pages
    );
    println!();
    let bare_total = f.bare.extract + f.bare.embed;
    let rate = |chunks: f64, d: Duration| chunks / d.as_secs_f64().max(1e-9);
    println!("ingest                                          time    chunks/s");
    println!(
        "  bare: extract {:.2} s + embed {} chunks        {:>6.1} s {:>9.1}   (baseline, in-process)",
        f.bare.extract.as_secs_f64(),
        f.bare.chunks,
        bare_total.as_secs_f64(),
        rate(f.bare.chunks as f64, f.bare.embed)
    );
    println!(
        "  penny: upload {:.2} s, then added → ready       {:>6.1} s {:>9.1}   {:.2}× the baseline",
        f.ingest.upload.as_secs_f64(),
        f.ingest.ready.as_secs_f64(),
        rate(f.ingest.chunks as f64, f.ingest.ready),
        f.ingest.ready.as_secs_f64() / bare_total.as_secs_f64().max(1e-9)
    );
    println!(
        "  document: {} pages, {} chunks; server RSS {:.0} MB before, {:.0} MB at most during (+{:.0} MB)",
        f.ingest.pages,
        f.ingest.chunks,
        f.ingest.rss_before as f64 / 1e6,
        f.ingest.rss_peak as f64 / 1e6,
        f.ingest.rss_peak.saturating_sub(f.ingest.rss_before) as f64 / 1e6
    );
    println!();
    println!(
        "search: {} questions (a verse in the WEB's words; hit = a top-{K} passage holding the KJV verse)",
        f.questions
    );
    println!(
        "{:<34}{:>10}{:>8}{:>11}{:>11}{:>13}",
        "", "recall@8", "MRR", "p50", "p95", "server p95"
    );
    let n = f.questions.max(1) as f64;
    for (label, runs) in [
        (format!("{} chunks", f.ingest.chunks), &f.small),
        (format!("{} chunks", f.large_chunks), &f.large),
    ] {
        for r in runs {
            println!(
                "{:<34}{:>9.1}%{:>8.3}{:>8.2} ms{:>8.2} ms{:>10.2} ms",
                format!("  {label}, {}", r.mode),
                100.0 * r.hits as f64 / n,
                r.reciprocal / n,
                r.latency.p50_ms(),
                r.latency.p95_ms(),
                r.took.p95_ms()
            );
        }
    }
    println!(
        "{:<34}{:>10}{:>8}{:>8.2} ms{:>8.2} ms   (HTTP baseline)",
        "  GET /health",
        "",
        "",
        f.health.p50_ms(),
        f.health.p95_ms()
    );
    println!(
        "  the {} copies took {:.0} s to write (SQL, embeddings jittered ±{JITTER} per component)",
        f.large_chunks,
        f.copy_time.as_secs_f64()
    );
    println!();
    println!(
        "first token ({} answers each, fake provider)   p50        p95",
        opts.answers
    );
    println!(
        "  no tool                                 {:>7.1} ms {:>7.1} ms",
        f.plain.p50_ms(),
        f.plain.p95_ms()
    );
    println!(
        "  search_documents, then the answer       {:>7.1} ms {:>7.1} ms",
        f.searched.p50_ms(),
        f.searched.p95_ms()
    );
    println!(
        "  added by the search                     {:>7.1} ms {:>7.1} ms",
        f.searched.p50_ms() - f.plain.p50_ms(),
        f.searched.p95_ms() - f.plain.p95_ms()
    );
    println!();
    let hybrid = |runs: &[ModeRun]| runs.iter().find(|r| r.mode == "hybrid").map(|r| r.hits);
    let best_single = |runs: &[ModeRun]| {
        runs.iter()
            .filter(|r| r.mode != "hybrid")
            .map(|r| r.hits)
            .max()
    };
    let large_p95 = f
        .large
        .iter()
        .find(|r| r.mode == "hybrid")
        .map_or(f64::MAX, |r| r.latency.p95_ms());
    println!(
        "targets: ingest ≤ {TARGET_INGEST_SECS} s, hybrid top-{K} p95 ≤ {TARGET_SEARCH_P95_MS} ms over {} chunks, hybrid recall ≥ the better single mode",
        f.large_chunks
    );
    println!(
        "met:     ingest {}, search p95 {}, recall {}",
        met(f.ingest.ready.as_secs_f64() <= TARGET_INGEST_SECS),
        met(large_p95 <= TARGET_SEARCH_P95_MS),
        met(hybrid(&f.small) >= best_single(&f.small))
    );
}
