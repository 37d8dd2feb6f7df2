//! The embedded web app: served at `/` and on every client route with `no-cache`, hashed
//! assets cached for a year, API paths never swallowed by the app.

use crate::common::*;

#[tokio::test]
async fn the_web_app_is_served_with_the_cache_rules_and_a_spa_fallback() {
    let app = TestApp::spawn().await;
    let index = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["cache-control"], "no-cache");
    assert!(index.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // A strict policy: no script but PENNY's own files, nothing may frame the app.
    let csp = index.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    for part in [
        "default-src 'self'",
        "script-src 'self';",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(part), "{part} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    let html = index.text().await.unwrap();
    assert!(
        html.contains("/assets/"),
        "web/dist was not built into this binary (run `make test`, which builds web/ first): {html}"
    );
    // A client route loads the same page.
    let deep = app
        .http
        .get(app.url("/c/some-conversation"))
        .send()
        .await
        .unwrap();
    assert_eq!(deep.status(), 200);
    assert_eq!(deep.text().await.unwrap(), html);

    // Its hashed script is cached for a year, compressed when asked.
    let start = html.find("/assets/").unwrap();
    let end = start + html[start..].find('"').unwrap();
    let asset = &html[start..end];
    let res = app
        .http
        .get(app.url(asset))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{asset}");
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let again = app
        .http
        .get(app.url(asset))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    assert_problem(
        app.http
            .get(app.url("/assets/missing-0000.js"))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.http.post(app.url("/c/x")).send().await.unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
    let api = app.http.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(api.headers()["cache-control"], "no-store");
    app.stop().await;
}
