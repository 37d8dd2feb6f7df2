//! The OpenAPI 3.1 document (`/api/v1/openapi.json`) and a browsable page (`/api/docs`).

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_scalar::{Scalar, Servable};

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "PENNY API", description = "Self-hostable multi-tenant AI workbench. Errors are \
        application/problem+json with a stable `code`."),
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

pub fn openapi_json() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(openapi_json()) }))
}

/// The docs page lives outside `/api/v1` (at `/api/docs`).
pub fn docs() -> Router<AppState> {
    Router::new().merge(Scalar::with_url("/api/docs", openapi_json()))
}
