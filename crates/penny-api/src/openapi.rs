//! The OpenAPI 3.1 document (`/api/v1/openapi.json`) and a browsable page (`/api/docs`).

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "PENNY API", description = "Self-hostable multi-tenant AI workbench. Errors are \
        application/problem+json with a stable `code`. An operation's `x-penny-role` is the lowest \
        role that may call it (`viewer`, `creator`, `manager`, `admin`, `super-admin`); without one, \
        any signed-in user may."),
    paths(
        crate::health::health, crate::health::ready,
        crate::sessions::login, crate::sessions::refresh, crate::sessions::logout, crate::sessions::me,
        crate::setup::status, crate::setup::finish,
        crate::tenants::list, crate::tenants::create,
        crate::users::list, crate::users::create, crate::users::show, crate::users::update, crate::users::remove,
        crate::api_keys::list, crate::api_keys::create, crate::api_keys::revoke,
        crate::models::list, crate::models::create, crate::models::update, crate::models::remove,
        crate::conversations::list, crate::conversations::create, crate::conversations::show,
        crate::conversations::update, crate::conversations::remove, crate::conversations::messages,
        crate::conversations::export,
        crate::chat::send, crate::chat::events, crate::chat::cancel,
        crate::tools::list, crate::tools::update, crate::tools::invoke,
        crate::jobs::one, crate::jobs::queues,
        crate::artifacts::list, crate::artifacts::one, crate::artifacts::content,
        crate::artifacts::create, crate::artifacts::link,
        crate::files::upload, crate::files::one, crate::files::content,
        crate::analytics::report, crate::admin_health::health, crate::tenants::update, crate::models::test,
        crate::users::invite, crate::users::reset_link, crate::invitations::show, crate::invitations::accept,
        crate::policies::show, crate::policies::replace, crate::themes::show, crate::themes::replace, crate::audit::list,
        crate::knowledge::list, crate::knowledge::create, crate::knowledge::show, crate::knowledge::update,
        crate::knowledge::remove, crate::knowledge::members, crate::knowledge::set_member,
        crate::knowledge::documents, crate::knowledge::add_document, crate::knowledge::document,
        crate::knowledge::document_content, crate::knowledge::delete_document, crate::knowledge::cancel,
        crate::knowledge::passage, crate::knowledge::search,
    ),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = doc.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "An access token from /auth/login, or an API key (pk_…)",
                        ))
                        .build(),
                ),
            );
        }
    }
}

/// The schema of a tenant role field: one of the role names, as validation accepts them.
pub(crate) fn role_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(penny_store::Role::ALL.map(penny_store::Role::as_str)))
        .examples(["creator"])
        .build()
}

pub fn openapi_json() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(openapi_json()) }))
}

/// The docs page's Content-Security-Policy: everything from PENNY itself, so the page
/// cannot load or send anything elsewhere (Scalar's "try it" proxy included).
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The docs page: Scalar's bundle, served from the binary (`scripts/docs-assets.sh` puts it
/// in the web build), reading `/api/v1/openapi.json`.
const DOCS_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>PENNY API reference</title>
</head>
<body>
  <script id="api-reference" data-url="/api/v1/openapi.json"
    data-configuration='{"withDefaultFonts": false, "hideClientButton": true,
      "showDeveloperTools": "never", "agent": {"disabled": true}}'></script>
  <script src="/api/docs/scalar.js"></script>
</body>
</html>
"#;

/// The docs page lives outside `/api/v1` (at `/api/docs`).
pub fn docs() -> Router<AppState> {
    Router::new()
        .route("/api/docs", get(docs_page))
        .route("/api/docs/scalar.js", get(docs_script))
}

async fn docs_page() -> Response {
    let mut res = Html(DOCS_HTML).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DOCS_CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

async fn docs_script(headers: HeaderMap) -> Response {
    crate::web::embedded("docs/scalar.js", &headers)
}
