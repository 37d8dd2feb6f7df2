//! `GET /api/v1/admin/analytics`: usage of the caller's tenant over a range of days
//! (UTC), grouped by day, model, user or tool, as JSON or CSV. Read from the daily
//! rollups that finishing runs and jobs keep current.

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Duration, NaiveDate, Utc};
use penny_store::analytics::{self, Figures, GroupBy, Report};
use penny_store::{tenants, Role, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::extract::Principal;
use crate::AppState;

/// Longest range one report covers, in days.
const MAX_DAYS: i64 = 366;
/// The range when none is given: the last 30 days, today included.
const DEFAULT_DAYS: i64 = 30;

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/analytics", get(report))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsQuery {
    /// First day, `YYYY-MM-DD` (UTC, inclusive). Default: 29 days before `to`.
    from: Option<String>,
    /// Last day, `YYYY-MM-DD` (UTC, inclusive). Default: today.
    to: Option<String>,
    /// `day` (default), `model`, `user` or `tool`.
    group_by: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// One row's figures; `null` where the grouping does not give the figure a meaning (a
/// model has no conversations, a tool no tokens...).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsRow {
    /// The day (`YYYY-MM-DD`), model name, user id or tool name; `total` for totals.
    key: String,
    /// What to show for the key: the user's email when grouped by user.
    label: Option<String>,
    /// Distinct users who sent a message.
    active_users: Option<i64>,
    /// Conversations created.
    conversations: Option<i64>,
    /// Messages users sent (each starts one run).
    messages: Option<i64>,
    runs: Option<i64>,
    failed_runs: Option<i64>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cost_usd: Option<f64>,
    /// Time to first token, estimated from a log-bucketed histogram (within ~12 %).
    ttft_p50_ms: Option<f64>,
    ttft_p95_ms: Option<f64>,
    /// Tool jobs that ended, and those of them that failed.
    tool_runs: Option<i64>,
    tool_failures: Option<i64>,
    tool_p50_ms: Option<f64>,
    tool_p95_ms: Option<f64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorCount {
    /// The failed runs' error code, e.g. `provider_auth`.
    code: String,
    count: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsView {
    from: String,
    to: String,
    group_by: &'static str,
    totals: AnalyticsRow,
    rows: Vec<AnalyticsRow>,
    /// Failed runs per error code over the range, most frequent first.
    errors: Vec<ErrorCount>,
}

/// Tenant usage over a range of days (managers and admins).
#[utoipa::path(get, path = "/api/v1/admin/analytics", extensions(("x-penny-role" = json!("manager"))), tag = "admin", security(("bearer" = [])),
    params(AnalyticsQuery),
    responses((status = 200, body = AnalyticsView,
               description = "JSON, or text/csv with format=csv"),
              (status = 403), (status = 422, description = "bad dates, a range over 366 days, unknown groupBy")))]
async fn report(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<AnalyticsQuery>,
) -> ApiResult<Response> {
    who.require(Role::Manager)?;
    let (from, to) = range(q.from.as_deref(), q.to.as_deref())?;
    let (by, by_name) = match q.group_by.as_deref().unwrap_or("day") {
        "day" => (GroupBy::Day, "day"),
        "model" => (GroupBy::Model, "model"),
        "user" => (GroupBy::User, "user"),
        "tool" => (GroupBy::Tool, "tool"),
        _ => {
            return Err(ApiError::validation(
                "groupBy",
                "expected day, model, user or tool",
            ))
        }
    };
    let csv = match q.format.as_deref().unwrap_or("json") {
        "json" => false,
        "csv" => true,
        _ => return Err(ApiError::validation("format", "expected json or csv")),
    };
    let mut tx = state.store.tenant(who.tenant).await?;
    let report = analytics::report(&mut tx, from, to, by, penny_tools::QUEUE).await?;
    tx.commit().await.map_err(StoreError::from)?;
    let view = view(from, to, by, by_name, report);
    if !csv {
        return Ok(Json(view).into_response());
    }
    let slug = tenants::by_id(state.store.pool(), who.tenant)
        .await?
        .map(|t| t.slug)
        .unwrap_or_else(|| "tenant".into());
    let filename = format!("analytics-{slug}-{from}-{to}-by-{by_name}.csv");
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        to_csv(&view.rows),
    )
        .into_response())
}

/// The range asked for: both ends default, `from <= to`, at most [`MAX_DAYS`] days.
fn range(from: Option<&str>, to: Option<&str>) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let parse = |field: &'static str, s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| ApiError::validation(field, "expected a date as YYYY-MM-DD"))
    };
    let to = match to {
        Some(s) => parse("to", s)?,
        None => Utc::now().date_naive(),
    };
    let from = match from {
        Some(s) => parse("from", s)?,
        None => to - Duration::days(DEFAULT_DAYS - 1),
    };
    if from > to {
        return Err(ApiError::validation("from", "must not be after `to`"));
    }
    if (to - from).num_days() + 1 > MAX_DAYS {
        return Err(ApiError::validation(
            "to",
            format!("a range covers at most {MAX_DAYS} days"),
        ));
    }
    Ok((from, to))
}

fn view(
    from: NaiveDate,
    to: NaiveDate,
    by: GroupBy,
    by_name: &'static str,
    report: Report,
) -> AnalyticsView {
    let Report {
        rows,
        totals,
        errors,
    } = report;
    AnalyticsView {
        from: from.to_string(),
        to: to.to_string(),
        group_by: by_name,
        totals: row("total".into(), None, &totals, Shown::ALL),
        rows: rows
            .into_iter()
            .map(|r| row(r.key, r.label, &r.figures, Shown::for_group(by)))
            .collect(),
        errors: errors
            .into_iter()
            .map(|(code, count)| ErrorCount { code, count })
            .collect(),
    }
}

/// Which figures a grouping gives a meaning to.
#[derive(Clone, Copy)]
struct Shown {
    users: bool,
    conversations: bool,
    usage: bool,
    tools: bool,
}

impl Shown {
    const ALL: Shown = Shown {
        users: true,
        conversations: true,
        usage: true,
        tools: true,
    };

    fn for_group(by: GroupBy) -> Shown {
        match by {
            GroupBy::Day => Shown::ALL,
            // Conversations and tool jobs do not belong to a model.
            GroupBy::Model => Shown {
                conversations: false,
                tools: false,
                ..Shown::ALL
            },
            // One user is one user; tool jobs are counted per tool, not per user.
            GroupBy::User => Shown {
                users: false,
                tools: false,
                ..Shown::ALL
            },
            GroupBy::Tool => Shown {
                users: false,
                conversations: false,
                usage: false,
                tools: true,
            },
        }
    }
}

/// Rounds to a tenth of a millisecond (the estimate is not finer than that).
fn ms(v: Option<f64>) -> Option<f64> {
    v.map(|x| (x * 10.0).round() / 10.0)
}

fn row(key: String, label: Option<String>, f: &Figures, s: Shown) -> AnalyticsRow {
    let usage = |v: i64| s.usage.then_some(v);
    AnalyticsRow {
        key,
        label,
        active_users: s.users.then_some(f.active_users),
        conversations: s.conversations.then_some(f.conversations),
        messages: usage(f.messages),
        runs: usage(f.runs),
        failed_runs: usage(f.failed_runs),
        input_tokens: usage(f.input_tokens),
        output_tokens: usage(f.output_tokens),
        cost_usd: s.usage.then_some(f.cost_usd),
        ttft_p50_ms: ms(s.usage.then(|| f.ttft.quantile(0.50)).flatten()),
        ttft_p95_ms: ms(s.usage.then(|| f.ttft.quantile(0.95)).flatten()),
        tool_runs: s.tools.then_some(f.tool_runs),
        tool_failures: s.tools.then_some(f.tool_failures),
        tool_p50_ms: ms(s.tools.then(|| f.tool_durations.quantile(0.50)).flatten()),
        tool_p95_ms: ms(s.tools.then(|| f.tool_durations.quantile(0.95)).flatten()),
    }
}

const CSV_HEADER: &str = "key,label,activeUsers,conversations,messages,runs,failedRuns,\
    inputTokens,outputTokens,costUsd,ttftP50Ms,ttftP95Ms,toolRuns,toolFailures,toolP50Ms,toolP95Ms";

/// The rows as CSV (RFC 4180, a header line first); `null` is an empty field.
fn to_csv(rows: &[AnalyticsRow]) -> String {
    fn num<T: ToString>(v: Option<T>) -> String {
        v.map(|n| n.to_string()).unwrap_or_default()
    }
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    out.push_str(CSV_HEADER);
    out.push_str("\r\n");
    for r in rows {
        let fields = [
            text_field(&r.key),
            r.label.as_deref().map(text_field).unwrap_or_default(),
            num(r.active_users),
            num(r.conversations),
            num(r.messages),
            num(r.runs),
            num(r.failed_runs),
            num(r.input_tokens),
            num(r.output_tokens),
            num(r.cost_usd),
            num(r.ttft_p50_ms),
            num(r.ttft_p95_ms),
            num(r.tool_runs),
            num(r.tool_failures),
            num(r.tool_p50_ms),
            num(r.tool_p95_ms),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// Quotes a text field when it needs it; a leading `= + - @` is defused so a spreadsheet
/// does not run it as a formula.
fn text_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn ranges_are_checked() {
        assert_eq!(
            range(Some("2024-01-01"), Some("2024-12-31")).unwrap(),
            (day("2024-01-01"), day("2024-12-31"))
        );
        assert!(
            range(Some("2024-01-01"), Some("2025-01-01")).is_err(),
            "367 days"
        );
        assert!(range(Some("2024-02-02"), Some("2024-02-01")).is_err());
        assert!(range(Some("2024-02-30"), None).is_err());
        let (from, to) = range(None, Some("2024-03-30")).unwrap();
        assert_eq!((from, to), (day("2024-03-01"), day("2024-03-30")));
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(text_field("plain"), "plain");
        assert_eq!(text_field("a,b"), "\"a,b\"");
        assert_eq!(text_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(text_field("=cmd()"), "'=cmd()");
    }
}
