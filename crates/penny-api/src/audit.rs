//! The audit log for admins and managers: filtered, newest first, paged by id, as JSON or
//! as a CSV download (RFC 4180), streamed page by page.

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::{stream, StreamExt};
use penny_store::audit::{self, Filter, Listed};
use penny_store::{tenants, Email, Role, Store, StoreError, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::Principal;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/audit", get(list))
}

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;
/// Most rows one CSV download holds.
const CSV_MAX_ROWS: i64 = 100_000;
/// Rows read per query while streaming a CSV.
const CSV_PAGE: i64 = 1_000;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuditQuery {
    /// A user id or e-mail address.
    actor: Option<String>,
    /// An exact action (`user.invite`) or a prefix ending in `.` (`user.`).
    action: Option<String>,
    target_type: Option<String>,
    target_id: Option<String>,
    /// From this instant (RFC 3339) or the start of this day (`YYYY-MM-DD`, UTC).
    from: Option<String>,
    /// Up to this instant (RFC 3339, inclusive) or the end of this day (`YYYY-MM-DD`, UTC).
    to: Option<String>,
    /// Entries older than this id (the previous page's `nextBefore`).
    before: Option<i64>,
    /// Entries per page (default 50, at most 500); a CSV holds up to 100,000.
    limit: Option<i64>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditItem {
    id: i64,
    at: DateTime<Utc>,
    actor_id: Option<Uuid>,
    actor_email: Option<String>,
    action: String,
    target_type: Option<String>,
    target_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    /// Hex SHA-256 of the request body (secrets redacted), when there was one.
    payload_sha256: Option<String>,
    #[schema(value_type = Object)]
    details: Value,
}

impl From<Listed> for AuditItem {
    fn from(r: Listed) -> Self {
        AuditItem {
            id: r.id,
            at: r.created_at,
            actor_id: r.actor_user_id,
            actor_email: r.actor_email,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            ip: r.ip,
            user_agent: r.user_agent,
            payload_sha256: r.payload_sha256.map(hex::encode),
            details: r.details,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    items: Vec<AuditItem>,
    /// Pass as `before` for the next (older) page; `null` on the last page.
    next_before: Option<i64>,
}

/// A bound of the date range: RFC 3339, or a whole UTC day (`end` selects the day's end).
fn instant(field: &str, raw: &str, end: bool) -> ApiResult<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        let t = t.with_timezone(&Utc);
        // Stored times have microseconds: one more makes `to` inclusive.
        return Ok(if end {
            t + Duration::microseconds(1)
        } else {
            t
        });
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        ApiError::validation(field, "expected an RFC 3339 time or a date YYYY-MM-DD")
    })?;
    let day = if end { day.succ_opt() } else { Some(day) };
    day.and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| ApiError::validation(field, "date is out of range"))
}

fn filter(q: &AuditQuery) -> ApiResult<Filter> {
    let mut f = Filter {
        before: q.before,
        ..Filter::default()
    };
    if let Some(actor) = q.actor.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        match Uuid::parse_str(actor) {
            Ok(id) => f.actor_id = Some(id),
            Err(_) => {
                let email = Email::parse(actor).map_err(|_| {
                    ApiError::validation("actor", "expected a user id or an e-mail address")
                })?;
                f.actor_email = Some(email.as_str().to_string());
            }
        }
    }
    if let Some(action) = q.action.as_deref().filter(|a| !a.is_empty()) {
        if action.len() > 100 {
            return Err(ApiError::validation(
                "action",
                "must be at most 100 characters",
            ));
        }
        if action.ends_with('.') {
            f.action_prefix = Some(action.to_string());
        } else {
            f.action = Some(action.to_string());
        }
    }
    f.target_type = q.target_type.clone().filter(|t| !t.is_empty());
    f.target_id = q.target_id.clone().filter(|t| !t.is_empty());
    f.from = q
        .from
        .as_deref()
        .map(|r| instant("from", r, false))
        .transpose()?;
    f.until =
        q.to.as_deref()
            .map(|r| instant("to", r, true))
            .transpose()?;
    if let (Some(from), Some(until)) = (f.from, f.until) {
        if from >= until {
            return Err(ApiError::validation("to", "must be after from"));
        }
    }
    Ok(f)
}

/// Audit entries of the caller's tenant (admins and managers), newest first.
#[utoipa::path(get, path = "/api/v1/admin/audit", extensions(("x-penny-role" = json!("manager"))), tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = AuditPage),
        (status = 200, content_type = "text/csv", description = "with format=csv"),
        (status = 403), (status = 422)))]
async fn list(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    who.require(Role::Manager)?;
    let f = filter(&q)?;
    match q.format.as_deref() {
        None | Some("json") => {}
        Some("csv") => return csv(&state, &who, f).await,
        Some(_) => return Err(ApiError::validation("format", "expected json or csv")),
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            format!("must be 1-{MAX_LIMIT}"),
        ));
    }
    let mut tx = state.store.tenant(who.tenant).await?;
    // One more than asked tells whether an older page exists.
    let mut rows = audit::list(&mut tx, &f, limit + 1).await?;
    tx.commit().await.map_err(StoreError::from)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_before = if more {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let page = AuditPage {
        items: rows.into_iter().map(AuditItem::from).collect(),
        next_before,
    };
    Ok(Json(page).into_response())
}

const CSV_HEADER: [&str; 11] = [
    "id",
    "at",
    "actorId",
    "actorEmail",
    "action",
    "targetType",
    "targetId",
    "ip",
    "userAgent",
    "payloadSha256",
    "details",
];

/// One field, quoted when it holds a comma, quote, CR or LF (RFC 4180), quotes doubled.
/// Text that a spreadsheet would run as a formula (a user agent or address starting with
/// `=`, `+`, `-`, `@`) gets a leading `'` (OWASP's CSV injection advice); no field PENNY
/// writes itself starts that way.
fn csv_field(out: &mut String, v: &str) {
    let guarded;
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        guarded = format!("'{v}");
        guarded.as_str()
    } else {
        v
    };
    if v.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

fn csv_line(out: &mut String, fields: &[&str]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, f);
    }
    out.push_str("\r\n");
}

fn csv_row(out: &mut String, r: &Listed) {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let fields = [
        r.id.to_string(),
        r.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        r.actor_user_id.map(|u| u.to_string()).unwrap_or_default(),
        opt(&r.actor_email),
        r.action.clone(),
        opt(&r.target_type),
        opt(&r.target_id),
        opt(&r.ip),
        opt(&r.user_agent),
        r.payload_sha256
            .as_deref()
            .map(hex::encode)
            .unwrap_or_default(),
        r.details.to_string(),
    ];
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    csv_line(out, &refs);
}

/// Streams the matching entries as CSV, a page per query (each in its own short
/// transaction; keyset paging by id, so entries written meanwhile do not shift pages).
async fn csv(state: &AppState, who: &Principal, f: Filter) -> ApiResult<Response> {
    let slug = tenants::by_id(state.store.pool(), who.tenant)
        .await?
        .map(|t| t.slug)
        .unwrap_or_else(|| "tenant".into());
    // The first page is read before answering, so a failure is still a problem document.
    let first = page(&state.store, who.tenant, &f, CSV_PAGE.min(CSV_MAX_ROWS)).await?;
    let mut head = String::new();
    csv_line(&mut head, &CSV_HEADER);
    let pages = stream::unfold(
        Some(Paging {
            store: state.store.clone(),
            tenant: who.tenant,
            filter: f,
            next: Some(first),
            sent: 0,
        }),
        next_chunk,
    );
    let body = stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(head)) }).chain(pages);
    let filename = format!("audit-{slug}-{}.csv", Utc::now().format("%Y-%m-%d"));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        // Fused: the compression layer may poll once more after the end.
        Body::from_stream(body.fuse()),
    )
        .into_response())
}

async fn page(
    store: &Store,
    tenant: TenantId,
    f: &Filter,
    limit: i64,
) -> Result<Vec<Listed>, StoreError> {
    let mut tx = store.tenant(tenant).await?;
    let rows = audit::list(&mut tx, f, limit).await?;
    tx.commit().await?;
    Ok(rows)
}

struct Paging {
    store: Store,
    tenant: TenantId,
    filter: Filter,
    /// A page already read (the first one).
    next: Option<Vec<Listed>>,
    sent: i64,
}

/// The next chunk of CSV text; `None` after the last page or at the row cap.
async fn next_chunk(
    state: Option<Paging>,
) -> Option<(Result<Bytes, std::io::Error>, Option<Paging>)> {
    let mut p = state?;
    let want = CSV_PAGE.min(CSV_MAX_ROWS - p.sent);
    if want <= 0 {
        return None;
    }
    let rows = match p.next.take() {
        Some(rows) => rows,
        None => match page(&p.store, p.tenant, &p.filter, want).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "reading the audit log for a CSV failed");
                // Cut the download short: a client sees an incomplete body, not a good file.
                return Some((Err(std::io::Error::other("audit read failed")), None));
            }
        },
    };
    let last = rows.last()?.id;
    let mut out = String::with_capacity(rows.len() * 200);
    for r in &rows {
        csv_row(&mut out, r);
    }
    p.sent += rows.len() as i64;
    let done = (rows.len() as i64) < want;
    p.filter.before = Some(last);
    Some((Ok(Bytes::from(out)), (!done).then_some(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fields: &[&str]) -> String {
        let mut s = String::new();
        csv_line(&mut s, fields);
        s
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(line(&["a", "b c", ""]), "a,b c,\r\n");
        assert_eq!(line(&["x,y"]), "\"x,y\"\r\n");
        assert_eq!(line(&["say \"hi\""]), "\"say \"\"hi\"\"\"\r\n");
        assert_eq!(line(&["two\nlines", "cr\r"]), "\"two\nlines\",\"cr\r\"\r\n");
        assert_eq!(line(&[r#"{"a":1}"#]), "\"{\"\"a\"\":1}\"\r\n");
        assert_eq!(
            line(&["=HYPERLINK(1)", "@x,y"]),
            "'=HYPERLINK(1),\"'@x,y\"\r\n"
        );
    }

    #[test]
    fn dates_and_times_bound_the_range() {
        let from = instant("from", "2025-03-01", false).unwrap();
        assert_eq!(from.to_rfc3339(), "2025-03-01T00:00:00+00:00");
        let to = instant("to", "2025-03-01", true).unwrap();
        assert_eq!(to.to_rfc3339(), "2025-03-02T00:00:00+00:00");
        let t = instant("to", "2025-03-01T10:00:00+02:00", false).unwrap();
        assert_eq!(t.to_rfc3339(), "2025-03-01T08:00:00+00:00");
        assert!(instant("from", "yesterday", false).is_err());
        assert!(instant("from", "2025-13-01", false).is_err());
    }
}
