//! The tenant's theme (display name, logo, accent colour): every signed-in user reads it,
//! admins replace it.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use penny_store::themes::{self, Theme, DEFAULT_ACCENT};
use penny_store::{tenants, Role, StoreError, TenantTx};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientMeta, Payload, Principal};
use crate::trail::{self, Change};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/themes", get(show).put(replace))
}

/// Largest logo given inline as a `data:` URL (decoded bytes).
const MAX_LOGO_BYTES: usize = 256 * 1024;
const MAX_LOGO_URL_LEN: usize = 2048;
const LOGO_TYPES: [&str; 3] = ["image/png", "image/svg+xml", "image/jpeg"];

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ThemeDoc {
    /// Shown in the app's header; `null` on write: the tenant's name.
    name: Option<String>,
    /// `null`, an `https://` URL, or `data:image/(png|svg+xml|jpeg);base64,…` of at most 256 KiB.
    logo_url: Option<String>,
    /// `#rrggbb`.
    #[schema(example = "#4f46e5")]
    accent_color: String,
}

async fn view(tx: &mut TenantTx, who: &Principal, t: Option<Theme>) -> ApiResult<ThemeDoc> {
    let t = t.unwrap_or(Theme {
        name: None,
        logo_url: None,
        accent_color: DEFAULT_ACCENT.to_string(),
    });
    let name = match t.name {
        Some(n) => n,
        None => {
            tenants::by_id(&mut **tx, who.tenant)
                .await?
                .ok_or(ApiError::NotFound)?
                .name
        }
    };
    Ok(ThemeDoc {
        name: Some(name),
        logo_url: t.logo_url,
        accent_color: t.accent_color,
    })
}

fn accent(raw: &str) -> ApiResult<String> {
    let hex = raw.strip_prefix('#').unwrap_or("");
    if hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(ApiError::validation(
            "accentColor",
            "must be a colour like #4f46e5",
        ))
    }
}

/// Checks a logo URL: https, or a small inline image of an allowed type.
fn logo(raw: &str) -> ApiResult<()> {
    let bad = |m: &str| Err(ApiError::validation("logoUrl", m));
    if let Some(rest) = raw.strip_prefix("data:") {
        let Some((mime, data)) = rest.split_once(";base64,") else {
            return bad("a data: URL must be base64 (data:<type>;base64,…)");
        };
        if !LOGO_TYPES.contains(&mime) {
            return bad("the image must be PNG, SVG or JPEG");
        }
        // Reject before decoding anything much larger than allowed.
        if data.len() > MAX_LOGO_BYTES.div_ceil(3) * 4 {
            return bad("the image must be at most 256 KiB");
        }
        return match base64::engine::general_purpose::STANDARD.decode(data) {
            Ok(bytes) if bytes.len() <= MAX_LOGO_BYTES => Ok(()),
            Ok(_) => bad("the image must be at most 256 KiB"),
            Err(_) => bad("the data: URL is not valid base64"),
        };
    }
    let ok = raw.starts_with("https://")
        && raw.len() > "https://".len()
        && raw.len() <= MAX_LOGO_URL_LEN
        && !raw
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>'));
    if ok {
        Ok(())
    } else {
        bad("must be null, an https:// URL (at most 2048 characters) or a data:image URL")
    }
}

/// The tenant's theme, with defaults for what it has not set.
#[utoipa::path(get, path = "/api/v1/themes", tag = "themes", security(("bearer" = [])),
    responses((status = 200, body = ThemeDoc), (status = 401)))]
async fn show(State(state): State<AppState>, who: Principal) -> ApiResult<Json<ThemeDoc>> {
    let mut tx = state.store.tenant(who.tenant).await?;
    let stored = themes::get(&mut tx).await?;
    let doc = view(&mut tx, &who, stored).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(doc))
}

/// Replaces the tenant's theme (admin).
#[utoipa::path(put, path = "/api/v1/themes", extensions(("x-penny-role" = json!("admin"))), tag = "themes", security(("bearer" = [])),
    request_body = ThemeDoc, responses((status = 200, body = ThemeDoc), (status = 403), (status = 422)))]
async fn replace(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    body: Payload<ThemeDoc>,
) -> ApiResult<Json<ThemeDoc>> {
    who.require(Role::Admin)?;
    let doc = body.value;
    let name = match doc.name.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) if n.chars().count() > 200 => {
            return Err(ApiError::validation(
                "name",
                "must be at most 200 characters",
            ))
        }
        Some(n) => Some(n.to_string()),
    };
    let accent_color = accent(&doc.accent_color)?;
    if let Some(url) = &doc.logo_url {
        logo(url)?;
    }
    let theme = Theme {
        name,
        logo_url: doc.logo_url,
        accent_color,
    };
    let mut tx = state.store.tenant(who.tenant).await?;
    let stored = themes::put(&mut tx, who.tenant, &theme).await?;
    // The record names the logo's kind and size, not its bytes (the payload digest covers them).
    let logo_summary = stored.logo_url.as_ref().map(|u| match u.split_once(',') {
        Some((head, data)) if u.starts_with("data:") => format!("{head} ({} chars)", data.len()),
        _ => u.clone(),
    });
    let change = Change {
        action: "theme.update",
        target_type: "tenant",
        target_id: who.tenant.to_string(),
        payload_sha256: Some(&body.sha256),
        details: json!({"name": stored.name, "accentColor": stored.accent_color, "logo": logo_summary}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    let doc = view(&mut tx, &who, Some(stored)).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accent_colours_are_hex_triplets() {
        assert_eq!(accent("#4F46E5").unwrap(), "#4f46e5");
        for bad in ["4f46e5", "#4f46e", "#4f46e5a", "#zzzzzz", "red", ""] {
            assert!(accent(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn logos_are_https_or_small_inline_images() {
        assert!(logo("https://example.com/logo.png").is_ok());
        assert!(logo("data:image/png;base64,iVBORw0KGgo=").is_ok());
        for bad in [
            "http://example.com/logo.png",
            "https://",
            "https://example.com/a b.png",
            "javascript:alert(1)",
            "data:text/html;base64,PGI+",
            "data:image/png,raw",
            "data:image/png;base64,***",
        ] {
            assert!(logo(bad).is_err(), "{bad}");
        }
        let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_LOGO_BYTES + 1]);
        assert!(logo(&format!("data:image/png;base64,{big}")).is_err());
        let fits = base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_LOGO_BYTES]);
        assert!(logo(&format!("data:image/jpeg;base64,{fits}")).is_ok());
    }
}
