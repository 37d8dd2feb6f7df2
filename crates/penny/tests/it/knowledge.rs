//! Knowledge end to end: real files made here (PDFs by lopdf, a DOCX by zip, a
//! password-protected PDF by qpdf), ingested by the real worker with the local model,
//! searched in real pgvector; access, isolation, failures, cancel and new versions.

use std::io::Write;
use std::time::{Duration, Instant};

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};
use serde_json::{json, Value};

use crate::chat::Chat;
use crate::common::*;
use crate::tools::upload;

mod by_url;
mod embedding_models;

/// A PDF with one page per entry, each entry's lines laid out top to bottom.
pub(crate) fn pdf(pages: &[&[&str]]) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let resources = doc.add_object(dictionary! {"Font" => dictionary! {"F1" => font}});
    let mut kids = Vec::new();
    for lines in pages {
        let mut ops = vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 11.into()]),
            Operation::new("TL", vec![14.into()]),
            Operation::new("Td", vec![50.into(), 780.into()]),
        ];
        for line in *lines {
            ops.push(Operation::new("Tj", vec![Object::string_literal(*line)]));
            ops.push(Operation::new("T*", vec![]));
        }
        ops.push(Operation::new("ET", vec![]));
        let content = Content { operations: ops }.encode().expect("content");
        let content = doc.add_object(Stream::new(dictionary! {}, content));
        kids.push(Object::from(doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content,
        })));
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog = doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages_id});
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("pdf");
    out
}

/// A DOCX whose paragraphs are `(style, text)`; style `Heading1` makes a heading.
fn docx(paragraphs: &[(&str, &str)]) -> Vec<u8> {
    let body: String = paragraphs
        .iter()
        .map(|(style, text)| {
            let style = if style.is_empty() {
                String::new()
            } else {
                format!("<w:pPr><w:pStyle w:val=\"{style}\"/></w:pPr>")
            };
            format!("<w:p>{style}<w:r><w:t>{text}</w:t></w:r></w:p>")
        })
        .collect();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document \
         xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">\
         <w:body>{body}</w:body></w:document>"
    );
    zipped(&[("word/document.xml", xml.as_bytes())])
}

fn zipped(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, options).expect("zip entry");
        zip.write_all(bytes).expect("zip write");
    }
    zip.finish().expect("zip").into_inner()
}

pub(crate) async fn collection(app: &TestApp, token: &str, name: &str) -> String {
    let res = app
        .post(token, "/api/v1/collections", json!({"name": name}))
        .await;
    assert_eq!(res.status(), 201);
    let c: Value = res.json().await.unwrap();
    assert_eq!(c["embeddingModel"], "local/all-MiniLM-L6-v2");
    assert_eq!(c["embeddingDims"], 384);
    c["id"].as_str().unwrap().to_string()
}

/// Uploads `bytes` as `name` and adds it to the collection; the document.
pub(crate) async fn add(
    app: &TestApp,
    token: &str,
    coll: &str,
    name: &str,
    bytes: Vec<u8>,
) -> Value {
    let res = upload(app, token, name, bytes).await;
    assert_eq!(res.status(), 201, "upload {name}");
    let file: Value = res.json().await.unwrap();
    let res = app
        .post(
            token,
            &format!("/api/v1/collections/{coll}/documents"),
            json!({"fileId": file["id"]}),
        )
        .await;
    assert!(
        res.status() == 201 || res.status() == 200,
        "add {name}: {}",
        res.status()
    );
    res.json().await.unwrap()
}

/// Waits for the document's ingest to end; the document then.
pub(crate) async fn settled(app: &TestApp, token: &str, doc: &Value) -> Value {
    let id = doc["id"].as_str().unwrap();
    let until = Instant::now() + Duration::from_secs(180);
    loop {
        let d: Value = app
            .get(token, &format!("/api/v1/documents/{id}"))
            .await
            .json()
            .await
            .unwrap();
        if ["ready", "failed", "cancelled"].contains(&d["status"].as_str().unwrap()) {
            return d;
        }
        assert!(Instant::now() < until, "ingest did not end: {d}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn search(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.post(token, "/api/v1/search", body).await
}

async fn passages(app: &TestApp, token: &str, body: Value) -> Vec<Value> {
    let res = search(app, token, body).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    v["passages"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_of_every_kind_are_found_at_their_page() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let coll = collection(&app, &root, "Handbook").await;

    let report = pdf(&[
        &[
            "Annual report",
            "Our bakery sold bread and cakes in three towns.",
        ],
        &[
            "Treaty history",
            "The Zanzibar accord was signed in the year 1891 by both parties.",
            "It set the borders of the coastal strip.",
        ],
        &[
            "Outlook",
            "Next year we plan to open a fourth shop near the harbour.",
        ],
    ]);
    let doc = add(&app, &root, &coll, "report.pdf", report).await;
    assert_eq!(doc["status"], "queued");
    let word = add(
        &app,
        &root,
        &coll,
        "policy.docx",
        docx(&[
            ("Heading1", "Refunds"),
            (
                "",
                "Customers may return unopened goods within 30 days for a full refund.",
            ),
            ("Heading1", "Shipping"),
            ("", "Parcels leave the warehouse every Tuesday."),
        ]),
    )
    .await;
    let html = add(
        &app,
        &root,
        &coll,
        "volcano.html",
        b"<html><head><title>Volcanoes</title><script>var secret = 'xyzzy';</script></head>\
          <body><h1>Mount Etna</h1><p>Etna is an active stratovolcano on the east coast of Sicily.</p></body></html>"
            .to_vec(),
    )
    .await;
    let md = add(
        &app,
        &root,
        &coll,
        "garden.md",
        b"# Garden\n\nTomatoes need six hours of sun a day.\n".to_vec(),
    )
    .await;
    let csv = add(
        &app,
        &root,
        &coll,
        "staff.csv",
        b"name,role,office\nIngrid Berg,Head of lab,Tromso\nOla Nordmann,Driver,Bergen\n".to_vec(),
    )
    .await;

    let doc = settled(&app, &root, &doc).await;
    assert_eq!(doc["status"], "ready", "{doc}");
    assert_eq!(doc["pages"], 3);
    assert!(doc["chunks"].as_i64().unwrap() >= 3);
    assert_eq!(doc["chunksDone"], doc["chunks"]);
    for d in [&word, &html, &md, &csv] {
        let d = settled(&app, &root, d).await;
        assert_eq!(d["status"], "ready", "{d}");
    }

    // A question in other words than the text: the right page comes first.
    let found = passages(
        &app,
        &root,
        json!({"query": "When was the Zanzibar treaty signed?", "collections": [coll], "k": 3}),
    )
    .await;
    let top = &found[0];
    assert_eq!(top["title"], "report.pdf");
    assert_eq!(top["page"], 2, "{found:?}");
    let content = top["content"].as_str().unwrap();
    assert!(content.contains("1891"), "{content}");
    assert!(top["vectorRank"].is_number() && top["keywordRank"].is_number());
    assert!(top["endOffset"].as_i64() > top["startOffset"].as_i64());
    // The passage a citation links to, by id.
    let one: Value = app
        .get(&root, &format!("/api/v1/passages/{}", top["chunkId"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["content"], top["content"]);

    let refund = passages(
        &app,
        &root,
        json!({"query": "can I get my money back", "k": 1}),
    )
    .await;
    assert_eq!(refund[0]["title"], "policy.docx");
    assert_eq!(refund[0]["heading"], "Refunds");
    let volcano = passages(&app, &root, json!({"query": "volcano in Sicily", "k": 1})).await;
    assert_eq!(volcano[0]["title"], "volcano.html");
    let hidden = passages(&app, &root, json!({"query": "xyzzy", "k": 5})).await;
    assert!(
        hidden
            .iter()
            .all(|p| !p["content"].as_str().unwrap().contains("xyzzy")),
        "scripts are not text"
    );
    let who = passages(
        &app,
        &root,
        json!({"query": "who runs the lab in Tromso", "k": 1}),
    )
    .await;
    assert!(who[0]["content"].as_str().unwrap().contains("Ingrid Berg"));
    // A typo still finds the keyword by its trigrams.
    let typo = passages(&app, &root, json!({"query": "Zanzibr", "k": 3})).await;
    assert!(
        typo.iter()
            .any(|p| p["page"] == 2 && p["title"] == "report.pdf"),
        "{typo:?}"
    );

    // The file opens for the citation (a PDF inline, for the browser's viewer).
    let res = app
        .get(
            &root,
            &format!("/api/v1/documents/{}/content", doc["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");

    let listed: Value = app
        .get(&root, &format!("/api/v1/collections/{coll}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["documents"], 5);
    assert_eq!(listed["ready"], 5);
    assert_eq!(listed["access"], "manage");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_are_closed_to_other_tenants_and_to_members_without_access() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (_, owner) = app.user_with_role(&root, "default", "creator").await;
    let (reader_id, reader) = app.user_with_role(&root, "default", "creator").await;
    let (_, viewer) = app.user_with_role(&root, "default", "viewer").await;
    let other = app.tenant_with_admin(&root, "other").await;

    let coll = collection(&app, &owner, "Private").await;
    let doc = add(
        &app,
        &owner,
        &coll,
        "secret.txt",
        b"The launch code for project heron is 4417.".to_vec(),
    )
    .await;
    assert_eq!(settled(&app, &owner, &doc).await["status"], "ready");
    let q = json!({"query": "launch code heron"});
    assert_eq!(passages(&app, &owner, q.clone()).await.len(), 1);
    let passage_id = passages(&app, &owner, q.clone()).await[0]["chunkId"].clone();
    let doc_id = doc["id"].as_str().unwrap();

    // Another tenant's admin, and a colleague who is not a member: as if it did not exist.
    for token in [&other, &reader] {
        assert!(passages(&app, token, q.clone()).await.is_empty());
        let named = search(
            &app,
            token,
            json!({"query": "heron", "collections": [coll]}),
        )
        .await;
        assert_problem(named, 404, "not_found").await;
        for path in [
            format!("/api/v1/collections/{coll}"),
            format!("/api/v1/collections/{coll}/documents"),
            format!("/api/v1/documents/{doc_id}"),
            format!("/api/v1/documents/{doc_id}/content"),
            format!("/api/v1/passages/{passage_id}"),
        ] {
            assert_eq!(app.get(token, &path).await.status(), 404, "{path}");
        }
        let listed: Value = app
            .get(token, "/api/v1/collections")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed, json!([]));
    }
    // A viewer may search but not make collections.
    let res = app
        .post(&viewer, "/api/v1/collections", json!({"name": "Mine"}))
        .await;
    assert_problem(res, 403, "forbidden").await;

    // Read access: search and read, but not add, delete or manage.
    let res = app
        .post(
            &owner,
            &format!("/api/v1/collections/{coll}/members"),
            json!({"userId": reader_id, "access": "read"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let found = passages(
        &app,
        &reader,
        json!({"query": "heron", "collections": [coll]}),
    )
    .await;
    assert!(found[0]["content"].as_str().unwrap().contains("4417"));
    let res = upload(&app, &reader, "mine.txt", b"mine".to_vec()).await;
    let file: Value = res.json().await.unwrap();
    let res = app
        .post(
            &reader,
            &format!("/api/v1/collections/{coll}/documents"),
            json!({"fileId": file["id"]}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    let res = app
        .http
        .delete(app.url(&format!("/api/v1/documents/{doc_id}")))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Someone else's upload cannot be added by a writer.
    let res = app
        .post(
            &owner,
            &format!("/api/v1/collections/{coll}/documents"),
            json!({"fileId": file["id"]}),
        )
        .await;
    assert_problem(res, 422, "validation_failed").await;
    // The tenant's admin sees every collection.
    let listed: Value = app
        .get(&root, "/api/v1/collections")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["id"], coll.as_str());

    // Bad requests say what is wrong.
    for (body, field) in [
        (json!({"query": ""}), "query"),
        (json!({"query": "x", "k": 0}), "k"),
        (json!({"query": "x", "k": 51}), "k"),
    ] {
        let res = search(&app, &owner, body).await;
        let p = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], field);
    }
    let res = app
        .post(&owner, "/api/v1/collections", json!({"name": "  "}))
        .await;
    assert_problem(res, 422, "validation_failed").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_files_fail_with_their_reason_and_leave_nothing_indexed() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let coll = collection(&app, &root, "Hostile").await;
    let dir = temp_dir("knowledge");

    let plain = dir.join("plain.pdf");
    std::fs::write(&plain, pdf(&[&["Protected text"]])).unwrap();
    let locked = dir.join("locked.pdf");
    let qpdf = std::process::Command::new("qpdf")
        .args(["--encrypt", "user-pw", "owner-pw", "256", "--"])
        .arg(&plain)
        .arg(&locked)
        .status()
        .expect("qpdf (scripts/setup.sh installs it)");
    assert!(qpdf.success());
    // A "DOCX" whose document.xml inflates from a few KB to 300 MB.
    let bomb = zipped(&[("word/document.xml", &vec![b' '; 300 << 20])]);
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let mut corrupt = pdf(&[&["Fine"]]);
    corrupt.truncate(40);

    let cases = [
        ("locked.pdf", std::fs::read(&locked).unwrap(), "password"),
        ("bomb.docx", bomb, "inflates"),
        ("broken.pdf", corrupt, "damaged"),
        (
            "blob.bin",
            vec![0u8, 159, 146, 150, 0, 1, 2, 3],
            "cannot be read",
        ),
    ];
    for (name, bytes, reason) in cases {
        let doc = add(&app, &root, &coll, name, bytes).await;
        let doc = settled(&app, &root, &doc).await;
        assert_eq!(doc["status"], "failed", "{name}: {doc}");
        let error = doc["error"].as_str().unwrap();
        assert!(error.contains(reason), "{name}: {error}");
        assert_eq!(doc["chunks"], 0);
    }
    assert_eq!(app.db.count("SELECT 1 FROM chunks", None).await, 0);

    // A PDF page with no paragraph breaks at all is still cut within the bound.
    let wall = "Sentences run on without any break between them at all. ".repeat(300);
    let doc = add(&app, &root, &coll, "wall.pdf", pdf(&[&[wall.as_str()]])).await;
    let doc = settled(&app, &root, &doc).await;
    assert_eq!(doc["status"], "ready", "{doc}");
    assert!(doc["chunks"].as_i64().unwrap() >= 10, "{doc}");
    let too_long = app
        .db
        .count("SELECT 1 FROM chunks WHERE length(content) > 1200", None)
        .await;
    assert_eq!(too_long, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_ingest_stops_and_a_new_version_replaces_the_old() {
    // The document is polled every 20 ms to catch its ingest halfway; on a slow machine
    // that is more than the default 600 requests a minute.
    let app = TestApp::spawn_with(&[("RATE_LIMIT_PER_MINUTE", "100000")]).await;
    let root = app.root_token().await;
    let coll = collection(&app, &root, "Versions").await;

    // Long enough to be cancelled while it runs: hundreds of passages.
    let long: String = (0..600)
        .map(|i| format!("Paragraph {i} is about the weather in town number {i}.\n\n"))
        .collect::<String>()
        .repeat(2);
    let doc = add(&app, &root, &coll, "long.txt", long.into_bytes()).await;
    let id = doc["id"].as_str().unwrap().to_string();
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let res = app.get(&root, &format!("/api/v1/documents/{id}")).await;
        assert_eq!(res.status(), 200);
        let d: Value = res.json().await.unwrap();
        if d["chunksDone"].as_i64().unwrap() > 0 {
            break;
        }
        assert_eq!(
            d["status"].as_str().map(|s| s != "ready"),
            Some(true),
            "finished too soon: {d}"
        );
        assert!(Instant::now() < until);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let res = app
        .post(&root, &format!("/api/v1/documents/{id}/cancel"), json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let d: Value = res.json().await.unwrap();
    assert_eq!(d["status"], "cancelled");
    // The job ends, and what it had stored is gone.
    let job = d["jobId"].as_str().unwrap().to_string();
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let j: Value = app
            .get(&root, &format!("/api/v1/jobs/{job}"))
            .await
            .json()
            .await
            .unwrap();
        if j["status"] == "failed" {
            assert_eq!(j["error"], "cancelled");
            break;
        }
        assert!(Instant::now() < until, "{j}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.db.count("SELECT 1 FROM chunks", None).await, 0);
    let res = app
        .post(&root, &format!("/api/v1/documents/{id}/cancel"), json!({}))
        .await;
    assert_problem(res, 409, "conflict").await;

    // Version 1, then a file of the same name: version 2 replaces its passages.
    let v1 = add(
        &app,
        &root,
        &coll,
        "menu.md",
        b"# Menu\n\nToday: pumpkin soup.".to_vec(),
    )
    .await;
    assert_eq!(settled(&app, &root, &v1).await["status"], "ready");
    let v2 = add(
        &app,
        &root,
        &coll,
        "menu.md",
        b"# Menu\n\nToday: lentil curry.".to_vec(),
    )
    .await;
    assert_eq!(v2["id"], v1["id"], "the same document");
    assert_eq!(v2["version"], 2);
    let v2 = settled(&app, &root, &v2).await;
    assert_eq!(v2["status"], "ready");
    let found = passages(
        &app,
        &root,
        json!({"query": "what is on the menu today", "k": 5}),
    )
    .await;
    let menu: Vec<&str> = found
        .iter()
        .filter(|p| p["title"] == "menu.md")
        .map(|p| p["content"].as_str().unwrap())
        .collect();
    assert_eq!(menu.len(), 1, "{found:?}");
    assert!(menu[0].contains("lentil"), "{menu:?}");

    // Deleting the collection takes its documents and passages.
    let res = app
        .http
        .delete(app.url(&format!("/api/v1/collections/{coll}")))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.db.count("SELECT 1 FROM chunks", None).await, 0);
    assert_eq!(app.db.count("SELECT 1 FROM documents", None).await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_searches_the_documents_and_cites_the_passage_it_used() {
    let chat = Chat::start().await;
    let (app, root) = (&chat.app, chat.root.as_str());
    let (_, stranger) = app.user_with_role(root, "default", "creator").await;
    let coll = collection(app, root, "Handbook").await;
    let doc = add(
        app,
        root,
        &coll,
        "history.pdf",
        pdf(&[
            &["Chapter one", "The bakery opened in the old town square."],
            &[
                "Chapter two",
                "The Zanzibar accord was signed in 1891 by both parties.",
            ],
        ]),
    )
    .await;
    assert_eq!(settled(app, root, &doc).await["status"], "ready");

    let args = json!({"query": "Zanzibar accord signed", "k": 2}).to_string();
    let events = ask(&chat, root, &args).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(*kinds.last().unwrap(), "run.completed", "{kinds:?}");
    let result = events.iter().find(|e| e.event == "tool.result").unwrap();
    assert_eq!(result.data["ok"], true, "{}", result.data);
    let content: Value = serde_json::from_str(result.data["content"].as_str().unwrap()).unwrap();
    let first = &content["passages"][0];
    assert_eq!(first["n"], 1);
    assert_eq!(first["title"], "history.pdf");
    assert_eq!(first["page"], 2);
    assert!(first["passageId"].is_number());
    // The answer quotes the passage and cites it.
    let text = streamed(&events);
    assert!(text.contains("[1]"), "{text}");
    assert!(
        text.contains("The Zanzibar accord was signed in 1891"),
        "{text}"
    );

    // Someone who cannot read the collection finds nothing through the tool either.
    let events = ask(&chat, &stranger, &args).await;
    let result = events.iter().find(|e| e.event == "tool.result").unwrap();
    let content: Value = serde_json::from_str(result.data["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["passages"], json!([]), "{content}");
}

/// Asks in a new conversation of `token`'s, with `search_documents` called by the fake
/// with `args`; the answer's events, streamed as the send's response (every delta).
async fn ask(chat: &Chat, token: &str, args: &str) -> Vec<Sse> {
    let app = &chat.app;
    let conv = chat.conversation(token).await;
    let body = json!({"content": format!("when? [[tool=search_documents args={args}]]"),
        "toolsAllowed": ["search_documents"]});
    answer(app, token, &conv, body).await
}

/// Sends `body` in `conv` as `token`; the answer's events, streamed as the send's response.
async fn answer(app: &TestApp, token: &str, conv: &str, body: Value) -> Vec<Sse> {
    let res = app
        .http
        .post(app.url(&format!("/api/v1/chat/{conv}/messages")))
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "send");
    SseReader::new(res)
        .until(&["run.completed", "run.failed"])
        .await
}

/// The titles of the passages a run's search found (its first `tool.result`).
fn found_titles(events: &[Sse]) -> Vec<String> {
    let result = events
        .iter()
        .find(|e| e.event == "tool.result")
        .unwrap_or_else(|| panic!("no tool.result: {events:?}"));
    assert_eq!(result.data["ok"], true, "{}", result.data);
    let content: Value = serde_json::from_str(result.data["content"].as_str().unwrap()).unwrap();
    content["passages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_string())
        .collect()
}

/// Two collections that both answer "when was the accord signed", differently.
async fn two_collections(app: &TestApp, token: &str) -> (String, String) {
    let handbook = collection(app, token, "Handbook").await;
    let policies = collection(app, token, "Policies").await;
    let first = add(
        app,
        token,
        &handbook,
        "history.txt",
        b"The Zanzibar accord was signed in 1891 by both parties.".to_vec(),
    )
    .await;
    let second = add(
        app,
        token,
        &policies,
        "memo.txt",
        b"The Zanzibar accord was signed again in 1963 by the new republic.".to_vec(),
    )
    .await;
    for doc in [first, second] {
        assert_eq!(settled(app, token, &doc).await["status"], "ready");
    }
    (handbook, policies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_answered_from_the_collections_picked_for_it() {
    let chat = Chat::start().await;
    let (app, root) = (&chat.app, chat.root.as_str());
    let (user_id, user) = app.user_with_role(root, "default", "viewer").await;
    let (handbook, policies) = two_collections(app, root).await;
    for coll in [&handbook, &policies] {
        let res = app
            .post(
                root,
                &format!("/api/v1/collections/{coll}/members"),
                json!({"userId": user_id, "access": "read"}),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    let conv = chat.conversation(&user).await;
    let search = r#"[[tool=search_documents args={"query":"Zanzibar accord signed"}]]"#;

    // No `toolsAllowed`: picking a collection offers the search, and a search that names
    // no collection searches the picked one only.
    let body =
        json!({"content": format!("When was it signed? {search}"), "collections": [policies]});
    let events = answer(app, &user, &conv, body).await;
    assert_eq!(events.last().unwrap().event, "run.completed", "{events:?}");
    let call = events.iter().find(|e| e.event == "tool.call").unwrap();
    assert_eq!(call.data["name"], "search_documents");
    assert!(!call.data["arguments"]
        .as_str()
        .unwrap()
        .contains("collections"));
    assert_eq!(found_titles(&events), ["memo.txt"]);
    assert!(streamed(&events).contains("1963"), "{}", streamed(&events));

    // The question keeps what was picked, by name.
    let branch = chat_branch(app, &user, &conv).await;
    let question = &branch[branch.len() - 2];
    assert_eq!(
        question["collections"],
        json!([{"id": policies, "name": "Policies"}])
    );
    assert_eq!(branch[branch.len() - 1]["collections"], json!([]));

    // A regenerated answer searches the question's collections again.
    let body = json!({"content": "", "parentId": question["id"], "regenerate": true});
    let events = answer(app, &user, &conv, body).await;
    assert_eq!(found_titles(&events), ["memo.txt"]);

    // The model may still name a collection itself.
    let named = format!(
        r#"[[tool=search_documents args={{"query":"Zanzibar accord signed","collections":["{handbook}"]}}]]"#
    );
    let body = json!({"content": format!("And first? {named}"), "collections": [policies]});
    assert_eq!(
        found_titles(&answer(app, &user, &conv, body).await),
        ["history.txt"]
    );

    // The model is told which collections were picked, by name (the fake echoes what it
    // is given of the message).
    let body = json!({"content": "Which ones? [[tokens=4]]", "collections": [handbook, policies]});
    let events = answer(app, &user, &conv, body).await;
    let text = streamed(&events);
    assert!(text.contains("search_documents"), "{text}");
    assert!(
        text.contains(&format!("- Handbook (id {handbook})")),
        "{text}"
    );
    assert!(
        text.contains(&format!("- Policies (id {policies})")),
        "{text}"
    );

    // Without a pick, nothing is told and the search is not offered.
    let body = json!({"content": format!("Again? {search}")});
    let events = answer(app, &user, &conv, body).await;
    let result = events.iter().find(|e| e.event == "tool.result").unwrap();
    assert_eq!(result.data["ok"], false, "{}", result.data);
    assert!(
        result.data["content"]
            .as_str()
            .unwrap()
            .contains("not available"),
        "{}",
        result.data
    );
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_cannot_pick_a_collection_its_sender_cannot_read() {
    let chat = Chat::start().await;
    let (app, root) = (&chat.app, chat.root.as_str());
    let (_, owner) = app.user_with_role(root, "default", "creator").await;
    let (colleague_id, colleague) = app.user_with_role(root, "default", "creator").await;
    let other = app.tenant_with_admin(root, "other").await;
    let private = collection(app, &owner, "Private").await;
    let theirs = collection(app, &other, "Theirs").await;
    let conv = chat.conversation(&colleague).await;
    let messages = "SELECT 1 FROM messages WHERE conversation_id = $1::uuid";
    let runs = "SELECT 1 FROM runs WHERE conversation_id = $1::uuid";

    // Another user's collection, another tenant's, and one that does not exist: as if
    // none of them existed; nothing is written.
    let missing = uuid::Uuid::new_v4().to_string();
    for picked in [
        json!([private]),
        json!([theirs]),
        json!([missing]),
        json!([theirs, private]),
    ] {
        let body = json!({"content": "hello", "collections": picked});
        let res = app
            .post(&colleague, &format!("/api/v1/chat/{conv}/messages"), body)
            .await;
        let p = assert_problem(res, 404, "collection_not_found").await;
        assert!(!p["detail"].as_str().unwrap().contains("Private"), "{p}");
    }
    // Bad lists say what is wrong.
    let many: Vec<String> = (0..21).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    for picked in [
        json!(many),
        json!([private, private]),
        json!(["not-a-uuid"]),
    ] {
        let body = json!({"content": "hello", "collections": picked});
        let res = app
            .post(&colleague, &format!("/api/v1/chat/{conv}/messages"), body)
            .await;
        assert!(
            [400, 422].contains(&res.status().as_u16()),
            "{}",
            res.status()
        );
    }
    // Over the WebSocket: the same error frame, and nothing written either.
    let url = format!("ws://{}/ws/chat/{conv}", app.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    crate::ws::send(&mut ws, json!({"type": "auth", "token": colleague})).await;
    assert_eq!(crate::ws::next(&mut ws).await["type"], "ready");
    crate::ws::send(
        &mut ws,
        json!({"type": "send", "id": "r1", "content": "hello", "collections": [theirs]}),
    )
    .await;
    let refused = crate::ws::next(&mut ws).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "collection_not_found", "{refused}");
    assert_eq!(refused["requestId"], "r1", "{refused}");
    assert_eq!(app.db.count(messages, Some(&conv)).await, 0);
    assert_eq!(app.db.count(runs, Some(&conv)).await, 0);

    // Shared with them, it may be picked.
    let res = app
        .post(
            &owner,
            &format!("/api/v1/collections/{private}/members"),
            json!({"userId": colleague_id, "access": "read"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body = json!({"content": "hello", "collections": [private]});
    let events = answer(app, &colleague, &conv, body).await;
    assert_eq!(events.last().unwrap().event, "run.completed");
    // A regeneration brings no collections of its own.
    let question = &chat_branch(app, &colleague, &conv).await[0];
    let body = json!({"content": "", "parentId": question["id"], "regenerate": true,
        "collections": [private]});
    let res = app
        .post(&colleague, &format!("/api/v1/chat/{conv}/messages"), body)
        .await;
    let p = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "collections");
    assert_eq!(app.db.count(messages, Some(&conv)).await, 2);
    chat.stop().await;
}

async fn chat_branch(app: &TestApp, token: &str, conv: &str) -> Vec<Value> {
    app.get(token, &format!("/api/v1/conversations/{conv}/messages"))
        .await
        .json()
        .await
        .unwrap()
}
