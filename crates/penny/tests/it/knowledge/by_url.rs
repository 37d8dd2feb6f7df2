//! Documents added by URL: fetched by the server through the outbound policy from a real
//! HTTP server started here, kept as the caller's upload, ingested like one and found
//! with their `sourceUrl`; refused, unreachable and too large URLs keep nothing and say
//! why without the URL's token or the upstream's body.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::{collection, passages, pdf, settled};
use crate::common::*;

const PAGE: &str = "<!doctype html><html><head><title>Refunds</title></head><body>\
    <h1>Refund policy</h1><p>Unopened marmalade jars may be returned to the Lisbon \
    warehouse within forty days for a full refund.</p></body></html>";

/// Bytes the test servers allow an upload (and so a fetch) to have.
const LIMIT: usize = 64 * 1024;

/// A site on 127.0.0.1 with a page, a PDF download, a missing page whose body must not
/// leak, and two bodies over the limit (one declared, one streamed). Counts requests.
async fn site() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let report = pdf(&[
        &["Fleet report", "Our vans delivered parcels in three towns."],
        &[
            "Maintenance",
            "The blue delivery van gets new brake pads every eleven months.",
        ],
    ]);
    let app = Router::new()
        .route(
            "/help/refunds",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) }),
        )
        .route(
            "/download",
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, "application/pdf"),
                        (
                            header::CONTENT_DISPOSITION,
                            "attachment; filename=\"fleet.pdf\"",
                        ),
                    ],
                    report,
                )
            }),
        )
        .route(
            "/missing",
            get(|| async { (StatusCode::NOT_FOUND, "UPSTREAM-SECRET-BODY root:x:0:0") }),
        )
        .route("/big", get(|| async { "x".repeat(LIMIT + 1) }))
        .route(
            "/big-streamed",
            get(|| async {
                let chunks = (0..40).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 4096]));
                Response::new(axum::body::Body::from_stream(futures::stream::iter(chunks)))
                    .into_response()
            }),
        )
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                counted.fetch_add(1, Ordering::SeqCst);
                next.run(req)
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, hits)
}

async fn add_url(app: &TestApp, token: &str, coll: &str, url: &str) -> reqwest::Response {
    app.post(
        token,
        &format!("/api/v1/collections/{coll}/documents"),
        json!({"url": url}),
    )
    .await
}

/// Documents and uploads in the database (as the owner).
async fn rows(app: &TestApp) -> (i64, i64) {
    (
        app.db.count("SELECT 1 FROM documents", None).await,
        app.db.count("SELECT 1 FROM files", None).await,
    )
}

/// A server that may fetch from 127.0.0.1 (uploads up to [`LIMIT`]), its root's token,
/// a collection named `name`, and the base URL of a [`site`] to fetch from.
async fn on_the_web(name: &str) -> (TestApp, String, String, String) {
    let limit = LIMIT.to_string();
    let app = TestApp::spawn_with(&[
        ("OUTBOUND_ALLOW", "127.0.0.1"),
        ("UPLOAD_LIMIT_BYTES", &limit),
    ])
    .await;
    let root = app.root_token().await;
    let coll = collection(&app, &root, name).await;
    let (base, _) = site().await;
    (app, root, coll, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_and_a_pdf_added_by_url_are_found_with_their_source() {
    let (app, root, coll, base) = on_the_web("From the web").await;

    let page_url = format!("{base}/help/refunds");
    let res = add_url(&app, &root, &coll, &page_url).await;
    assert_eq!(res.status(), 201);
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["sourceUrl"], page_url.as_str());
    assert_eq!(page["title"], "refunds.html");
    assert_eq!(page["mime"], "text/html");
    assert_eq!(page["bytes"], PAGE.len());
    // The body is the caller's upload, as `POST /files` would have made it.
    let file: Value = app
        .get(
            &root,
            &format!("/api/v1/files/{}", page["fileId"].as_str().unwrap()),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(file["filename"], "refunds.html");
    assert_eq!(file["size"], PAGE.len());

    let pdf_url = format!("{base}/download?id=7");
    let res = add_url(&app, &root, &coll, &pdf_url).await;
    assert_eq!(res.status(), 201);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["title"], "fleet.pdf", "named by Content-Disposition");
    assert_eq!(report["mime"], "application/pdf");

    let page = settled(&app, &root, &page).await;
    assert_eq!(page["status"], "ready", "{page}");
    let report = settled(&app, &root, &report).await;
    assert_eq!(report["status"], "ready", "{report}");
    assert_eq!(report["pages"], 2);

    let found = passages(
        &app,
        &root,
        json!({"query": "return marmalade jars for a refund", "collections": [coll]}),
    )
    .await;
    assert_eq!(found[0]["documentId"], page["id"], "{found:?}");
    assert_eq!(found[0]["sourceUrl"], page_url.as_str());
    assert!(found[0]["content"]
        .as_str()
        .unwrap()
        .contains("Lisbon warehouse"));
    let found = passages(
        &app,
        &root,
        json!({"query": "brake pads of the delivery van", "collections": [coll]}),
    )
    .await;
    assert_eq!(found[0]["documentId"], report["id"], "{found:?}");
    assert_eq!(found[0]["page"], 2);
    assert_eq!(found[0]["sourceUrl"], pdf_url.as_str());

    // The same name again is the document's next version.
    let res = add_url(&app, &root, &coll, &page_url).await;
    assert_eq!(res.status(), 200);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["id"], page["id"]);
    assert_eq!(again["version"], 2);
    let again = settled(&app, &root, &again).await;
    assert_eq!(again["status"], "ready", "{again}");
    assert_eq!(again["sourceUrl"], page_url.as_str());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_that_cannot_be_fetched_keep_nothing_and_say_why_without_leaking() {
    let (app, root, coll, base) = on_the_web("Web").await;
    let path = format!("/api/v1/collections/{coll}/documents");
    let before = rows(&app).await;

    let res = add_url(
        &app,
        &root,
        &coll,
        "http://169.254.169.254/latest/meta-data/",
    )
    .await;
    let p = assert_problem(res, 422, "url_refused").await;
    assert!(p["detail"].as_str().unwrap().contains("link-local"), "{p}");

    let res = add_url(&app, &root, &coll, &format!("{base}/missing?token=hunter2")).await;
    let p = assert_problem(res, 422, "url_unreachable").await;
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("404"), "{p}");
    assert!(
        !detail.contains("UPSTREAM-SECRET") && !detail.contains("hunter2"),
        "{p}"
    );

    // Nothing listens on port 9 here.
    let res = add_url(&app, &root, &coll, "http://127.0.0.1:9/doc?token=hunter2").await;
    let p = assert_problem(res, 422, "url_unreachable").await;
    assert!(!p["detail"].as_str().unwrap().contains("hunter2"), "{p}");

    for big in ["big", "big-streamed"] {
        let res = add_url(&app, &root, &coll, &format!("{base}/{big}")).await;
        assert_problem(res, 413, "url_too_large").await;
    }

    let res = app
        .post(
            &root,
            &path,
            json!({"fileId": uuid::Uuid::new_v4(), "url": format!("{base}/help/refunds")}),
        )
        .await;
    assert_problem(res, 422, "validation_failed").await;
    let res = app.post(&root, &path, json!({})).await;
    assert_problem(res, 422, "validation_failed").await;
    let long = format!("{base}/{}", "a".repeat(2048));
    for bad in [
        "ftp://127.0.0.1/doc.pdf",
        "not a url",
        "http://u:p@127.0.0.1/",
        long.as_str(),
    ] {
        let res = add_url(&app, &root, &coll, bad).await;
        let p = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], "url", "{bad}: {p}");
    }
    assert_eq!(rows(&app).await, before, "no document or upload was kept");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_urls_are_refused_unless_the_operator_allows_them() {
    let app = TestApp::spawn_with(&[("OUTBOUND_ALLOW", "none")]).await;
    let root = app.root_token().await;
    let coll = collection(&app, &root, "Web").await;
    let (base, hits) = site().await;
    let port = base.rsplit(':').next().unwrap();
    let before = rows(&app).await;
    for url in [
        format!("{base}/help/refunds"),
        format!("http://localhost:{port}/help/refunds"),
        format!("http://[::ffff:127.0.0.1]:{port}/help/refunds"),
        "http://10.0.0.1/doc.pdf".to_string(),
    ] {
        let res = add_url(&app, &root, &coll, &url).await;
        assert_problem(res, 422, "url_refused").await;
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing reached the site");
    assert_eq!(rows(&app).await, before);
    // A viewer may not add documents at all, so makes the server fetch nothing.
    let (_, viewer) = app.user_with_role(&root, "default", "viewer").await;
    let res = add_url(&app, &viewer, &coll, &format!("{base}/help/refunds")).await;
    assert_eq!(res.status(), 403);
    app.stop().await;
}
