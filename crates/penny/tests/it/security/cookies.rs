//! The browser's refresh token lives in an `HttpOnly` cookie scoped to the refresh path,
//! read only with the `X-Penny-Session: cookie` header (a cross-site page cannot send it).

use serde_json::{json, Value};

use crate::common::*;

const MODE: (&str, &str) = ("x-penny-session", "cookie");

/// The `penny_refresh` cookie a response sets: (its value, the whole header).
fn set_cookie(res: &reqwest::Response) -> (String, String) {
    let header = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("penny_refresh="))
        .expect("a penny_refresh cookie");
    let value = header["penny_refresh=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    (value, header)
}

async fn refresh_with_cookie(app: &TestApp, cookie: &str, header: bool) -> reqwest::Response {
    let mut req = app
        .http
        .post(app.url("/api/v1/auth/refresh"))
        .header("cookie", format!("penny_refresh={cookie}"))
        .json(&json!({}));
    if header {
        req = req.header(MODE.0, MODE.1);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn the_web_apps_refresh_token_is_an_http_only_cookie() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .header(MODE.0, MODE.1)
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "tenant": "default"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (first, header) = set_cookie(&res);
    for attr in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/api/v1/auth/refresh",
    ] {
        assert!(header.contains(attr), "{attr} missing: {header}");
    }
    let body: Value = res.json().await.unwrap();
    assert!(body["access_token"].is_string());
    assert!(
        body.get("refresh_token").is_none(),
        "script never sees it: {body}"
    );

    // Without the header the cookie is not read: a forged cross-site request gets nothing.
    let res = refresh_with_cookie(&app, &first, false).await;
    assert_problem(res, 401, "unauthenticated").await;
    // With it, the cookie rotates like a refresh token in the body.
    let res = refresh_with_cookie(&app, &first, true).await;
    assert_eq!(res.status(), 200);
    let (second, _) = set_cookie(&res);
    assert_ne!(first, second);
    let access = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    // The old cookie is used up; presenting it again ends the login.
    assert_problem(
        refresh_with_cookie(&app, &first, true).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_problem(
        refresh_with_cookie(&app, &second, true).await,
        401,
        "unauthenticated",
    )
    .await;

    // The reuse ended that login's access token too.
    assert_problem(app.get(&access, "/api/v1/me").await, 401, "unauthenticated").await;

    // Logout clears the cookie.
    let access = app.root_token().await;
    let res = app
        .http
        .post(app.url("/api/v1/auth/logout"))
        .header(MODE.0, MODE.1)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    let (cleared, header) = set_cookie(&res);
    assert!(
        cleared.is_empty() && header.contains("Max-Age=0"),
        "{header}"
    );
    app.stop().await;
}

#[tokio::test]
async fn api_clients_keep_the_refresh_token_in_the_body() {
    let app = TestApp::spawn().await;
    let res = app.login(ADMIN_EMAIL, ADMIN_PASSWORD, "default").await;
    assert!(res.headers().get("set-cookie").is_none());
    let body: Value = res.json().await.unwrap();
    assert!(body["refresh_token"].as_str().unwrap().starts_with("rt_"));
    app.stop().await;
}
