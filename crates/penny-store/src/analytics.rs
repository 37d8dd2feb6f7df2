//! Analytics rollups (migrations 0007 and 0012): what finishing a run or a job adds to the
//! daily rollup tables, and reports over a range of days read from those tables alone
//! (never by scanning messages). An ended job is added in the transaction that ends it; a
//! finished run queues its fact (a row of `run_facts`) in the call that ends it
//! ([`crate::runs::end`]), so runs ending together do not wait on each other's rollup
//! rows, and facts are folded into the rollups in batches (by the scheduler, and by every
//! report before it reads).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;

/// Buckets of a latency histogram (see `penny_latency_bucket` in migration 0007): bucket
/// 0 is [0, 1 ms), bucket k is [2^((k-1)/3), 2^(k/3)) ms, the last is open-ended.
pub const BUCKETS: usize = 64;

/// Facts folded by one call of `penny_fold_run_facts`.
const FOLD_BATCH: i32 = 5000;

/// Adds every queued run fact (all tenants') to the rollups; returns how many. With
/// `wait`, waits for a folder already at work and then folds what it left, so the
/// rollups are exact for this transaction; without, returns 0 at once if another folder
/// is at work. The fold commits with the caller's transaction.
pub async fn fold_runs(conn: &mut PgConnection, wait: bool) -> Result<u64, StoreError> {
    let mut total = 0;
    loop {
        let folded: i32 = sqlx::query_scalar("SELECT penny_fold_run_facts($1, $2)")
            .bind(FOLD_BATCH)
            .bind(wait)
            .fetch_one(&mut *conn)
            .await?;
        total += folded as u64;
        if folded < FOLD_BATCH {
            return Ok(total);
        }
    }
}

/// Folds queued run facts in a transaction of its own, unless another folder is at work;
/// returns how many (the scheduler's periodic fold).
pub async fn fold_runs_now(store: &crate::Store) -> Result<u64, StoreError> {
    let mut tx = store.begin().await?;
    let folded = fold_runs(&mut tx, false).await?;
    tx.commit().await?;
    Ok(folded)
}

/// Adds the jobs among `ids` that ended (completed, or failed for good) to the rollups;
/// jobs that will be retried are left out. Call it in the transaction that ends them.
pub async fn record_jobs(conn: &mut PgConnection, ids: &[Uuid]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT penny_rollup_jobs(ARRAY(SELECT f FROM penny_job_facts($1) AS f))")
        .bind(ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// Counts per latency bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram(Vec<i64>);

impl Default for Histogram {
    fn default() -> Self {
        Histogram(vec![0; BUCKETS])
    }
}

impl Histogram {
    fn from_sums(sums: Vec<Option<i64>>) -> Self {
        let mut h = Histogram::default();
        for (slot, n) in h.0.iter_mut().zip(sums) {
            *slot = n.unwrap_or(0);
        }
        h
    }

    pub fn count(&self) -> i64 {
        self.0.iter().sum()
    }

    pub fn add(&mut self, other: &Histogram) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a += b;
        }
    }

    /// The nearest-rank `q` quantile in milliseconds, read as the geometric middle of the
    /// bucket it falls in: within about 12.2 % of the true value between 1 ms and ~28
    /// min (bucket 0 reads 0.5 ms, the open top bucket its lower bound). `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n <= 0 {
            return None;
        }
        let rank = ((n as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as i64;
        let mut seen = 0;
        let bucket = self.0.iter().position(|c| {
            seen += c;
            seen >= rank
        })?;
        Some(match bucket {
            0 => 0.5,
            k if k == BUCKETS - 1 => 2f64.powf((k as f64 - 1.0) / 3.0),
            k => 2f64.powf((k as f64 - 0.5) / 3.0),
        })
    }
}

/// How a report's rows are keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// One row per day of the range (`YYYY-MM-DD`), empty days included.
    Day,
    /// Per model name.
    Model,
    /// Per user id (labelled with the user's email).
    User,
    /// Per tool (job name in the tools queue).
    Tool,
}

/// The figures of one row, or of the whole range.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Distinct users who sent a message.
    pub active_users: i64,
    pub conversations: i64,
    pub messages: i64,
    pub runs: i64,
    pub failed_runs: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
    pub ttft: Histogram,
    pub tool_runs: i64,
    pub tool_failures: i64,
    pub tool_durations: Histogram,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub key: String,
    /// The user's email when grouped by user (`None` for a deleted user).
    pub label: Option<String>,
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub rows: Vec<Row>,
    pub totals: Figures,
    /// Failed runs per error code, most frequent first.
    pub errors: Vec<(String, i64)>,
}

fn hist_sums(prefix: &str) -> String {
    let sums: Vec<String> = (0..BUCKETS)
        .map(|k| format!("sum({prefix}{k:02})"))
        .collect();
    format!("ARRAY[{}]::bigint[]", sums.join(", "))
}

/// How one query keys the rows of a rollup table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Day,
    Model,
    User,
    Tool,
    /// One row for the whole range, even over no rows (sums then read as 0).
    Whole,
}

impl Key {
    fn of(by: GroupBy) -> Key {
        match by {
            GroupBy::Day => Key::Day,
            GroupBy::Model => Key::Model,
            GroupBy::User => Key::User,
            GroupBy::Tool => Key::Tool,
        }
    }

    /// `SELECT <key>, <figures> FROM <table> WHERE <the range><filter> <GROUP BY>`. The
    /// key is made text after grouping, once per row of the answer.
    fn select(self, figures: &str, table: &str, filter: &str) -> String {
        let (key, group) = match self {
            Key::Day => ("to_char(day, 'YYYY-MM-DD')", "GROUP BY day"),
            Key::Model => ("model", "GROUP BY model"),
            Key::User => ("user_id::text", "GROUP BY user_id"),
            Key::Tool => ("name", "GROUP BY name"),
            Key::Whole => ("''", ""),
        };
        format!("SELECT {key}, {figures} FROM {table} WHERE day BETWEEN $1 AND $2{filter} {group}")
    }
}

type UsageRow = (String, i64, i64, i64, i64, i64, f64, Vec<Option<i64>>);

/// Run counters and TTFT histograms per `key`: per model (and day) from the model
/// rollup, per user from the user rollup.
async fn usage(
    conn: &mut PgConnection,
    key: Key,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(String, Figures)>, StoreError> {
    let table = if key == Key::User {
        "usage_user_daily"
    } else {
        "usage_model_daily"
    };
    let figures = format!(
        "coalesce(sum(messages), 0)::bigint, coalesce(sum(runs), 0)::bigint, \
         coalesce(sum(failed_runs), 0)::bigint, coalesce(sum(input_tokens), 0)::bigint, \
         coalesce(sum(output_tokens), 0)::bigint, coalesce(sum(cost_usd), 0), {}",
        hist_sums("ttft_h")
    );
    let rows: Vec<UsageRow> = sqlx::query_as(&key.select(&figures, table, ""))
        .bind(from)
        .bind(to)
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(key, messages, runs, failed_runs, input, output, cost, hist)| {
                let f = Figures {
                    messages,
                    runs,
                    failed_runs,
                    input_tokens: input,
                    output_tokens: output,
                    cost_usd: cost,
                    ttft: Histogram::from_sums(hist),
                    ..Figures::default()
                };
                (key, f)
            },
        )
        .collect())
}

/// Distinct users who sent a message: per day, per model, or over the whole range.
async fn active_users(
    conn: &mut PgConnection,
    key: Key,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(String, i64)>, StoreError> {
    let sql = match key {
        // One row per user and day, so a count per day is a count of users.
        Key::Day => Key::Day.select("count(*)", "usage_user_daily", ""),
        Key::Model => "SELECT model, count(*) FROM model_users \
                       WHERE days && daterange($1, $2, '[]') GROUP BY model"
            .into(),
        _ => "SELECT '', count(DISTINCT user_id) FROM model_users \
              WHERE days && daterange($1, $2, '[]')"
            .into(),
    };
    Ok(sqlx::query_as(&sql)
        .bind(from)
        .bind(to)
        .fetch_all(conn)
        .await?)
}

/// Conversations created, per day, per user or over the whole range.
async fn conversations(
    conn: &mut PgConnection,
    key: Key,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(String, i64)>, StoreError> {
    let sql = key.select(
        "coalesce(sum(conversations), 0)::bigint",
        "conversations_daily",
        "",
    );
    Ok(sqlx::query_as(&sql)
        .bind(from)
        .bind(to)
        .fetch_all(conn)
        .await?)
}

/// Jobs of `queue` that ended, per day, per job name or over the whole range.
async fn tools(
    conn: &mut PgConnection,
    key: Key,
    queue: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(String, Figures)>, StoreError> {
    let figures = format!(
        "coalesce(sum(runs), 0)::bigint, coalesce(sum(failures), 0)::bigint, {}",
        hist_sums("duration_h")
    );
    let sql = key.select(&figures, "jobs_daily", " AND queue = $3");
    let rows: Vec<(String, i64, i64, Vec<Option<i64>>)> = sqlx::query_as(&sql)
        .bind(from)
        .bind(to)
        .bind(queue)
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(key, runs, failures, hist)| {
            let f = Figures {
                tool_runs: runs,
                tool_failures: failures,
                tool_durations: Histogram::from_sums(hist),
                ..Figures::default()
            };
            (key, f)
        })
        .collect())
}

/// The report for the days `from..=to` of the transaction's tenant. `tool_queue` is the
/// queue whose jobs are tool runs.
pub async fn report(
    conn: &mut PgConnection,
    from: NaiveDate,
    to: NaiveDate,
    by: GroupBy,
    tool_queue: &str,
) -> Result<Report, StoreError> {
    // Runs that finished since the last fold count too.
    fold_runs(conn, true).await?;
    let key = Key::of(by);
    let mut rows: BTreeMap<String, Figures> = BTreeMap::new();
    if by == GroupBy::Day {
        for day in from.iter_days().take_while(|d| *d <= to) {
            rows.insert(day.format("%Y-%m-%d").to_string(), Figures::default());
        }
    }

    let mut totals = usage(conn, Key::Whole, from, to)
        .await?
        .pop()
        .map(|(_, f)| f)
        .unwrap_or_default();
    totals.active_users = active_users(conn, Key::Whole, from, to)
        .await?
        .first()
        .map_or(0, |(_, n)| *n);
    if by != GroupBy::Tool {
        for (k, f) in usage(conn, key, from, to).await? {
            *rows.entry(k).or_default() = f;
        }
    }
    if matches!(by, GroupBy::Day | GroupBy::Model) {
        for (k, n) in active_users(conn, key, from, to).await? {
            rows.entry(k).or_default().active_users = n;
        }
    }

    let per_row = matches!(by, GroupBy::Day | GroupBy::User);
    let counted = conversations(conn, if per_row { key } else { Key::Whole }, from, to).await?;
    for (k, n) in counted {
        totals.conversations += n;
        if per_row {
            rows.entry(k).or_default().conversations = n;
        }
    }

    let per_row = matches!(by, GroupBy::Day | GroupBy::Tool);
    let jobs = tools(
        conn,
        if per_row { key } else { Key::Whole },
        tool_queue,
        from,
        to,
    )
    .await?;
    for (k, f) in jobs {
        totals.tool_runs += f.tool_runs;
        totals.tool_failures += f.tool_failures;
        totals.tool_durations.add(&f.tool_durations);
        if per_row {
            let row = rows.entry(k).or_default();
            row.tool_runs = f.tool_runs;
            row.tool_failures = f.tool_failures;
            row.tool_durations = f.tool_durations;
        }
    }

    let errors: Vec<(String, i64)> = sqlx::query_as(
        "SELECT code, sum(runs)::bigint FROM run_errors_daily WHERE day BETWEEN $1 AND $2 \
         GROUP BY code ORDER BY 2 DESC, code",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    let labels = if by == GroupBy::User {
        emails(conn, rows.keys()).await?
    } else {
        HashMap::new()
    };
    Ok(Report {
        rows: ordered(rows, by, &labels),
        totals,
        errors,
    })
}

/// The rows in the order a reader wants: days in order, the rest busiest first.
fn ordered(
    rows: BTreeMap<String, Figures>,
    by: GroupBy,
    labels: &HashMap<String, String>,
) -> Vec<Row> {
    let mut rows: Vec<Row> = rows
        .into_iter()
        .map(|(key, figures)| Row {
            label: match by {
                GroupBy::User => labels.get(&key).cloned(),
                _ => Some(key.clone()),
            },
            key,
            figures,
        })
        .collect();
    let busiest = |r: &Row| match by {
        GroupBy::Tool => (r.figures.tool_runs, 0),
        _ => (r.figures.messages, r.figures.conversations),
    };
    if by != GroupBy::Day {
        rows.sort_by(|a, b| busiest(b).cmp(&busiest(a)).then_with(|| a.key.cmp(&b.key)));
    }
    rows
}

/// The emails of the users among `ids` (user ids as text) that still exist.
async fn emails(
    conn: &mut PgConnection,
    ids: impl Iterator<Item = &String>,
) -> Result<HashMap<String, String>, StoreError> {
    let ids: Vec<Uuid> = ids.filter_map(|k| Uuid::parse_str(k).ok()).collect();
    let found: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, email FROM users WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(conn)
            .await?;
    Ok(found
        .into_iter()
        .map(|(id, email)| (id.to_string(), email))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(counts: &[(usize, i64)]) -> Histogram {
        let mut h = Histogram::default();
        for &(k, n) in counts {
            h.0[k] = n;
        }
        h
    }

    /// The bucket `penny_latency_bucket` gives `ms` (kept in step with the migration).
    fn bucket(ms: f64) -> usize {
        if ms < 1.0 {
            0
        } else {
            (1 + (3.0 * ms.log2() + 1e-9).floor() as usize).min(BUCKETS - 1)
        }
    }

    #[test]
    fn quantiles_are_within_the_stated_error() {
        for ms in [1.0, 3.0, 17.0, 250.0, 999.0, 4_000.0, 60_000.0, 1_000_000.0] {
            let h = with(&[(bucket(ms), 1)]);
            let est = h.quantile(0.5).unwrap();
            let err = (est - ms).abs() / ms;
            assert!(
                err <= 2f64.powf(1.0 / 6.0) - 1.0 + 1e-9,
                "{ms} read as {est}"
            );
        }
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        // 90 fast samples and 10 slow ones: p50 is fast, p95 slow.
        let (fast, slow) = (bucket(100.0), bucket(5_000.0));
        let h = with(&[(fast, 90), (slow, 10)]);
        let p50 = h.quantile(0.5).unwrap();
        let p95 = h.quantile(0.95).unwrap();
        assert!((p50 - 100.0).abs() < 13.0, "{p50}");
        assert!((p95 - 5_000.0).abs() < 620.0, "{p95}");
        assert_eq!(
            h.quantile(0.9).unwrap(),
            p50,
            "rank 90 is the last fast one"
        );
        let mut sum = h.clone();
        sum.add(&h);
        assert_eq!(sum.count(), 200);
    }
}
