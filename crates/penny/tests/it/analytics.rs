//! The admin console's numbers and controls: analytics from real runs and tool jobs,
//! platform health, tenant suspension and usage, and testing a model configuration.

use reqwest::Method;
use serde_json::{json, Value};

use crate::chat::{Chat, KEY};
use crate::common::*;

/// Sends a message as `token` and reads its events until the run ends.
async fn run_as(app: &TestApp, token: &str, conv: &str, body: Value) -> Vec<Sse> {
    let res = app
        .http
        .post(app.url(&format!("/api/v1/chat/{conv}/messages")))
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .json(&body)
        .send()
        .await
        .unwrap();
    SseReader::new(res)
        .until(&["run.completed", "run.failed", "run.cancelled"])
        .await
}

async fn conversation(app: &TestApp, token: &str) -> String {
    let res = app.post(token, "/api/v1/conversations", json!({})).await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The assistant messages of a conversation (its current branch).
async fn answers(app: &TestApp, token: &str, conv: &str) -> Vec<Value> {
    let branch: Vec<Value> = app
        .get(token, &format!("/api/v1/conversations/{conv}/messages"))
        .await
        .json()
        .await
        .unwrap();
    branch
        .into_iter()
        .filter(|m| m["role"] == "assistant")
        .collect()
}

async fn analytics(app: &TestApp, token: &str, query: &str) -> Value {
    let res = app
        .get(token, &format!("/api/v1/admin/analytics?{query}"))
        .await;
    assert_eq!(res.status(), 200, "analytics?{query}");
    res.json().await.unwrap()
}

/// What the messages say, summed: (input tokens, output tokens, cost).
fn usage(messages: &[&Value]) -> (i64, i64, f64) {
    messages.iter().fold((0, 0, 0.0), |(i, o, c), m| {
        (
            i + m["input_tokens"].as_i64().unwrap_or(0),
            o + m["output_tokens"].as_i64().unwrap_or(0),
            c + m["cost"].as_f64().unwrap_or(0.0),
        )
    })
}

/// Asserts an estimated quantile is within the histogram's stated error (12.2 %, plus
/// the 0.1 ms rounding) of the nearest-rank quantile of `values`.
fn assert_estimate(estimate: &Value, values: &[i64], q: f64) {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((sorted.len() as f64 * q).ceil() as usize).max(1);
    let truth = sorted[rank - 1] as f64;
    let est = estimate
        .as_f64()
        .unwrap_or_else(|| panic!("no estimate for {values:?}"));
    if truth < 1.0 {
        assert_eq!(est, 0.5, "{values:?}");
    } else {
        assert!(
            (est - truth).abs() <= truth * 0.1225 + 0.05,
            "estimate {est} for {truth} ({values:?})"
        );
    }
}

/// Rebuilds the rollups the way migration 0007 backfills them (from the stored runs and
/// jobs) and compares them with what the finishing transactions wrote; rolls back.
async fn assert_backfill_matches_live(app: &TestApp) {
    use sqlx::Connection;
    const TABLES: [&str; 5] = [
        "usage_user_daily",
        "usage_model_daily",
        "model_users",
        "jobs_daily",
        "run_errors_daily",
    ];
    let mut owner = app.db.owner().await;
    let mut tx = owner.begin().await.unwrap();
    // Runs that finished since the last report or scheduler fold count as live too.
    sqlx::query("SELECT penny_fold_run_facts(1000000, true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    for t in TABLES {
        sqlx::query(&format!("CREATE TEMP TABLE live_{t} AS SELECT * FROM {t}"))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    sqlx::query(&format!("TRUNCATE {}", TABLES.join(", ")))
        .execute(&mut *tx)
        .await
        .unwrap();
    for backfill in [
        "SELECT penny_rollup_runs(ARRAY(SELECT f FROM penny_run_facts(ARRAY(SELECT id FROM runs)) AS f))",
        "SELECT penny_rollup_jobs(ARRAY(SELECT f FROM penny_job_facts(ARRAY(SELECT id FROM jobs)) AS f))",
    ] {
        sqlx::query(backfill).execute(&mut *tx).await.unwrap();
    }
    for t in TABLES {
        // Costs are sums of floats in another order: compared apart, with a tolerance.
        let (a, b) = (rows_of(t, &format!("live_{t}")), rows_of(t, t));
        let (rows, differ, cost_gap): (i64, i64, f64) = sqlx::query_as(&format!(
            "WITH a AS ({a}),
                  b AS ({b})
             SELECT (SELECT count(*) FROM a),
                    (SELECT count(*) FROM (SELECT r FROM a EXCEPT ALL SELECT r FROM b) x)
                  + (SELECT count(*) FROM (SELECT r FROM b EXCEPT ALL SELECT r FROM a) y),
                    coalesce(abs((SELECT sum((to_jsonb(t) ->> 'cost_usd')::float8) FROM live_{t} t)
                               - (SELECT sum((to_jsonb(t) ->> 'cost_usd')::float8) FROM {t} t)), 0)"
        ))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert!(rows > 0, "{t} is empty");
        assert_eq!(differ, 0, "{t}: backfill and live rollups differ");
        assert!(cost_gap < 1e-9, "{t}: cost differs by {cost_gap}");
    }
    tx.rollback().await.unwrap();
}

/// The rows of rollup `table` (read from `source`) as JSON without their cost; the model
/// rollup's per-session shards are summed into one row per key, since live runs finish on
/// several database sessions and a backfill on one.
fn rows_of(table: &str, source: &str) -> String {
    if table != "usage_model_daily" {
        return format!("SELECT to_jsonb(t) - 'cost_usd' AS r FROM {source} t");
    }
    let key = "model";
    format!(
        "SELECT g || jsonb_object_agg(k, s) AS r FROM (
           SELECT jsonb_build_object('tenant_id', t.tenant_id, 'day', t.day, '{key}', t.{key}) AS g,
                  kv.key AS k, sum(kv.value::text::numeric) AS s
             FROM {source} t,
                  jsonb_each(to_jsonb(t) - 'cost_usd' - 'shard' - 'tenant_id' - 'day' - '{key}') kv
            GROUP BY 1, 2) x
         GROUP BY g"
    )
}

fn row<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no row {key} in {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_add_up_real_runs_and_tool_jobs_by_day_model_user_and_tool() {
    let chat = Chat::start().await;
    let (app, root) = (&chat.app, chat.root.as_str());
    let second = json!({"name": "fake-b", "provider": "openai", "base_url": chat.fake.openai_base(),
        "api_key": KEY, "price_input_per_1k": 0.5, "price_output_per_1k": 0.5});
    assert_eq!(app.post(root, "/api/v1/models", second).await.status(), 201);
    let (x_id, x) = app.user_with_role(root, "default", "creator").await;
    let x_email = app
        .get(root, &format!("/api/v1/users/{x_id}"))
        .await
        .json::<Value>()
        .await
        .unwrap()["email"]
        .as_str()
        .unwrap()
        .to_string();

    // User X: three answered messages and one the upstream refuses, all on fake-gpt.
    let conv_x = conversation(app, &x).await;
    for i in 0..3 {
        let events = run_as(
            app,
            &x,
            &conv_x,
            json!({"content": format!("hello {i} [[tokens=4]]")}),
        )
        .await;
        assert_eq!(events.last().unwrap().event, "run.completed");
    }
    let events = run_as(
        app,
        &x,
        &conv_x,
        json!({"content": "broken [[status=400]]"}),
    )
    .await;
    let failed = events.last().unwrap();
    assert_eq!(failed.event, "run.failed");
    assert_eq!(failed.data["code"], "provider_error");
    // The admin: one message on fake-b whose answer calls a tool (a job).
    let conv_r = conversation(app, root).await;
    let body = json!({"content": "time? [[tool=current_time args={}]]",
        "toolsAllowed": ["current_time"], "model": "fake-b"});
    assert_eq!(
        run_as(app, root, &conv_r, body).await.last().unwrap().event,
        "run.completed"
    );
    // And a tool invoked through the API that fails.
    let res = app
        .post(
            root,
            "/api/v1/tools/generate_report/invoke?wait=true",
            json!({"params": {"title": "x",
            "sections": [{"heading": "h", "artifactIds": [uuid::Uuid::new_v4()]}]}}),
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "failed");

    // Hand count, from the stored messages.
    let x_msgs = answers(app, &x, &conv_x).await;
    let r_msgs = answers(app, root, &conv_r).await;
    assert_eq!((x_msgs.len(), r_msgs.len()), (4, 1));
    let x_all: Vec<&Value> = x_msgs.iter().collect();
    let all: Vec<&Value> = x_msgs.iter().chain(&r_msgs).collect();
    let (x_in, x_out, x_cost) = usage(&x_all);
    let (in_all, out_all, cost_all) = usage(&all);
    assert_eq!(x_out, 12, "three answers of 4 tokens, none for the failure");
    let ttfts =
        |ms: &[&Value]| -> Vec<i64> { ms.iter().filter_map(|m| m["ttft_ms"].as_i64()).collect() };

    // By model.
    let by_model = analytics(app, root, "groupBy=model").await;
    assert_eq!(by_model["groupBy"], "model");
    let keys: Vec<&str> = by_model["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["fake-gpt", "fake-b"], "most messages first");
    let gpt = row(&by_model, "fake-gpt");
    assert_eq!(gpt["label"], "fake-gpt");
    assert_eq!(gpt["activeUsers"], 1);
    assert_eq!(
        (
            gpt["messages"].as_i64(),
            gpt["runs"].as_i64(),
            gpt["failedRuns"].as_i64()
        ),
        (Some(4), Some(4), Some(1))
    );
    assert_eq!(
        (
            gpt["inputTokens"].as_i64().unwrap(),
            gpt["outputTokens"].as_i64().unwrap()
        ),
        (x_in, x_out)
    );
    assert!((gpt["costUsd"].as_f64().unwrap() - x_cost).abs() < 1e-9);
    assert!((x_cost - (x_in as f64 * 1.0 + x_out as f64 * 2.0) / 1000.0).abs() < 1e-9);
    assert!(
        gpt["conversations"].is_null() && gpt["toolRuns"].is_null() && gpt["toolP50Ms"].is_null()
    );
    assert_estimate(&gpt["ttftP50Ms"], &ttfts(&x_all), 0.5);
    assert_estimate(&gpt["ttftP95Ms"], &ttfts(&x_all), 0.95);
    let b = row(&by_model, "fake-b");
    assert_eq!(
        (b["messages"].as_i64(), b["failedRuns"].as_i64()),
        (Some(1), Some(0))
    );

    // Totals and errors are the same whatever the grouping.
    let totals = &by_model["totals"];
    assert_eq!(totals["key"], "total");
    for (field, want) in [
        ("activeUsers", 2),
        ("conversations", 2),
        ("messages", 5),
        ("runs", 5),
        ("failedRuns", 1),
        ("inputTokens", in_all),
        ("outputTokens", out_all),
        ("toolRuns", 2),
        ("toolFailures", 1),
    ] {
        assert_eq!(
            totals[field].as_i64(),
            Some(want),
            "totals.{field}: {totals}"
        );
    }
    assert!((totals["costUsd"].as_f64().unwrap() - cost_all).abs() < 1e-9);
    assert_estimate(&totals["ttftP50Ms"], &ttfts(&all), 0.5);
    assert!(totals["toolP50Ms"].as_f64().is_some());
    assert_eq!(
        by_model["errors"],
        json!([{"code": "provider_error", "count": 1}])
    );

    // By user: labelled with the email; conversations per user.
    let by_user = analytics(app, root, "groupBy=user").await;
    let ux = &by_user["rows"][0];
    assert_eq!(
        (ux["key"].as_str().unwrap(), ux["label"].as_str().unwrap()),
        (x_id.as_str(), x_email.as_str())
    );
    assert_eq!(
        (
            ux["messages"].as_i64(),
            ux["failedRuns"].as_i64(),
            ux["conversations"].as_i64()
        ),
        (Some(4), Some(1), Some(1))
    );
    assert!(ux["activeUsers"].is_null() && ux["toolRuns"].is_null());
    let ur = &by_user["rows"][1];
    assert_eq!(
        (
            ur["label"].as_str(),
            ur["messages"].as_i64(),
            ur["conversations"].as_i64()
        ),
        (Some(ADMIN_EMAIL), Some(1), Some(1))
    );
    assert_eq!(by_user["totals"], by_model["totals"]);

    // By tool.
    let by_tool = analytics(app, root, "groupBy=tool").await;
    let keys: Vec<&str> = by_tool["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["current_time", "generate_report"]);
    let time = row(&by_tool, "current_time");
    assert_eq!(
        (time["toolRuns"].as_i64(), time["toolFailures"].as_i64()),
        (Some(1), Some(0))
    );
    assert!(
        time["toolP50Ms"].as_f64().is_some()
            && time["messages"].is_null()
            && time["activeUsers"].is_null()
    );
    let report = row(&by_tool, "generate_report");
    assert_eq!(
        (report["toolRuns"].as_i64(), report["toolFailures"].as_i64()),
        (Some(1), Some(1))
    );

    // By day (the default): every day of the last 30, empty ones as zeros.
    let by_day = analytics(app, root, "").await;
    assert_eq!(by_day["groupBy"], "day");
    let days = by_day["rows"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(days[29]["key"], by_day["to"]);
    assert_eq!(days[0]["key"], by_day["from"]);
    assert!(days
        .windows(2)
        .all(|w| w[0]["key"].as_str() < w[1]["key"].as_str()));
    for d in &days[..29] {
        assert_eq!(
            (
                d["messages"].as_i64(),
                d["runs"].as_i64(),
                d["activeUsers"].as_i64(),
                d["conversations"].as_i64(),
                d["toolRuns"].as_i64()
            ),
            (Some(0), Some(0), Some(0), Some(0), Some(0)),
            "{d}"
        );
        assert!(d["ttftP50Ms"].is_null() && d["toolP95Ms"].is_null());
    }
    let today = &days[29];
    for field in [
        "activeUsers",
        "conversations",
        "messages",
        "runs",
        "failedRuns",
        "inputTokens",
        "toolRuns",
        "toolFailures",
    ] {
        assert_eq!(today[field], totals[field], "{field}");
    }
    // An explicit range in the past is all zeros.
    let old = analytics(app, root, "from=2020-01-01&to=2020-01-03").await;
    assert_eq!(old["rows"].as_array().unwrap().len(), 3);
    assert_eq!(old["rows"][0]["key"], "2020-01-01");
    assert_eq!(old["totals"]["messages"], 0);
    assert_eq!(old["errors"], json!([]));

    // CSV: the same rows.
    let res = app
        .get(root, "/api/v1/admin/analytics?groupBy=model&format=csv")
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"analytics-default-")
            && disposition.ends_with("-by-model.csv\""),
        "{disposition}"
    );
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert_eq!(
        lines[0],
        "key,label,activeUsers,conversations,messages,runs,failedRuns,inputTokens,outputTokens,\
        costUsd,ttftP50Ms,ttftP95Ms,toolRuns,toolFailures,toolP50Ms,toolP95Ms"
    );
    assert!(
        lines[1].starts_with(&format!("fake-gpt,fake-gpt,1,,4,4,1,{x_in},{x_out},")),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].ends_with(",,,,"),
        "no tool figures per model: {}",
        lines[1]
    );

    // The migration's backfill, run over these rows, gives exactly the live rollups.
    assert_backfill_matches_live(app).await;

    // Staff only; another tenant sees nothing of this one.
    assert_problem(
        app.get(&x, "/api/v1/admin/analytics").await,
        403,
        "forbidden",
    )
    .await;
    let (_, viewer) = app.user_with_role(root, "default", "viewer").await;
    assert_problem(
        app.get(&viewer, "/api/v1/admin/analytics").await,
        403,
        "forbidden",
    )
    .await;
    let (_, manager) = app.user_with_role(root, "default", "manager").await;
    assert_eq!(
        analytics(app, &manager, "groupBy=model").await["totals"],
        by_model["totals"]
    );
    let other = app.tenant_with_admin(root, "elsewhere").await;
    for group in ["model", "user", "tool"] {
        let theirs = analytics(app, &other, &format!("groupBy={group}")).await;
        assert_eq!(theirs["rows"], json!([]), "{group}");
        assert_eq!(theirs["totals"]["messages"], 0);
        assert_eq!(theirs["totals"]["toolRuns"], 0);
        assert_eq!(theirs["totals"]["activeUsers"], 0);
        assert_eq!(theirs["errors"], json!([]));
    }
    let theirs = analytics(app, &other, "").await;
    assert!(theirs["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["messages"] == 0 && d["conversations"] == 0));
    chat.stop().await;
}

/// Queued run facts (migration 0012).
async fn queued_facts(app: &TestApp) -> i64 {
    app.db.count("SELECT 1 FROM run_facts", None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_runs_of_one_user_finishing_together_are_each_counted_once() {
    let chat = Chat::start().await;
    let (app, root) = (&chat.app, chat.root.as_str());
    // Twelve conversations of one user answered at once: every run finishes within a
    // few milliseconds of the others, on the same day's rollup row of that user.
    const RUNS: usize = 12;
    let mut conversations = Vec::new();
    for _ in 0..RUNS {
        conversations.push(conversation(app, root).await);
    }
    let runs = conversations.iter().map(|c| {
        run_as(
            app,
            root,
            c,
            json!({"content": "together [[tokens=3 delay_ms=40]]"}),
        )
    });
    for events in futures::future::join_all(runs).await {
        assert_eq!(events.last().unwrap().event, "run.completed");
    }

    // The scheduler folds the queued facts without anyone asking for a report.
    let mut waited = 0;
    while queued_facts(app).await > 0 {
        assert!(waited < 100, "run facts still queued after 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    let totals = &analytics(app, root, "").await["totals"];
    assert_eq!(totals["runs"], RUNS as i64, "{totals}");
    assert_eq!(totals["messages"], RUNS as i64, "{totals}");
    assert_eq!(totals["outputTokens"], 3 * RUNS as i64, "{totals}");

    // A report counts runs the scheduler has not folded yet.
    let events = run_as(
        app,
        root,
        &conversations[0],
        json!({"content": "one more [[tokens=2]]"}),
    )
    .await;
    assert_eq!(events.last().unwrap().event, "run.completed");
    let totals = &analytics(app, root, "").await["totals"];
    assert_eq!(totals["runs"], RUNS as i64 + 1, "{totals}");
    assert_eq!(
        queued_facts(app).await,
        0,
        "the report folded what was queued"
    );
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_refuse_bad_ranges_groupings_and_formats() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    for (query, field) in [
        ("from=2024-02-02&to=2024-02-01", "from"),
        ("from=2024-01-01&to=2025-01-01", "to"),
        ("from=2024-13-01", "from"),
        ("to=yesterday", "to"),
        ("groupBy=week", "groupBy"),
        ("format=xml", "format"),
    ] {
        let res = app
            .get(&root, &format!("/api/v1/admin/analytics?{query}"))
            .await;
        let p = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], field, "{query}");
    }
    // 366 days is the most one report covers.
    let year = analytics(&app, &root, "from=2024-01-01&to=2024-12-31").await;
    assert_eq!(year["rows"].as_array().unwrap().len(), 366);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_lists_this_instance_the_queues_and_failed_jobs() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let res = app
        .post(
            &root,
            "/api/v1/tools/generate_report/invoke?wait=true",
            json!({"params": {"title": "x",
            "sections": [{"heading": "h", "artifactIds": [uuid::Uuid::new_v4()]}]}}),
        )
        .await;
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["status"], "failed");

    let res = app.get(&root, "/api/v1/admin/health").await;
    assert_eq!(res.status(), 200);
    let health: Value = res.json().await.unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    let checks = health["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["database", "redis", "objects", "workers", "scheduler"]
    );
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:?}");
    assert!(checks[0]["latencyMs"].as_f64().is_some());
    assert!(checks[1]["detail"]
        .as_str()
        .unwrap()
        .starts_with("not configured"));

    let instances = health["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 1, "{instances:?}");
    let me = &instances[0];
    assert_eq!(me["alive"], true);
    assert_eq!(me["roles"], json!(["api", "ws", "worker", "scheduler"]));
    assert_eq!(me["version"], env!("CARGO_PKG_VERSION"));
    assert!(!me["host"].as_str().unwrap().is_empty());
    assert!(me["startedAt"].is_string() && me["lastSeenAt"].is_string());

    let tools = health["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "tools")
        .unwrap();
    assert_eq!(
        (
            tools["failed"].as_i64(),
            tools["completed"].as_i64(),
            tools["waiting"].as_i64()
        ),
        (Some(1), Some(0), Some(0))
    );
    let failed = &health["recentFailedJobs"];
    assert_eq!(failed.as_array().unwrap().len(), 1);
    assert_eq!(failed[0]["id"], job["id"]);
    assert_eq!(failed[0]["tool"], "generate_report");
    assert_eq!(failed[0]["queue"], "tools");
    assert_eq!(failed[0]["attempts"], 1);
    assert!(
        failed[0]["error"].as_str().unwrap().contains("no artifact"),
        "{failed}"
    );
    assert!(failed[0]["finishedAt"].is_string());

    // Managers see it; viewers and creators do not; another tenant sees its own jobs.
    // Managers see it, but not where the platform runs (hosts, storage locations).
    let (_, manager) = app.user_with_role(&root, "default", "manager").await;
    let res = app.get(&manager, "/api/v1/admin/health").await;
    assert_eq!(res.status(), 200);
    let theirs: Value = res.json().await.unwrap();
    assert!(theirs["instances"][0]["host"].is_null(), "{theirs}");
    assert_eq!(theirs["checks"][2]["detail"], "object storage answers");
    assert!(health["checks"][2]["detail"]
        .as_str()
        .unwrap()
        .starts_with("object storage at "));
    for role in ["viewer", "creator"] {
        let (_, token) = app.user_with_role(&root, "default", role).await;
        assert_problem(
            app.get(&token, "/api/v1/admin/health").await,
            403,
            "forbidden",
        )
        .await;
    }
    let other = app.tenant_with_admin(&root, "elsewhere").await;
    let theirs: Value = app
        .get(&other, "/api/v1/admin/health")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["recentFailedJobs"], json!([]));
    assert_eq!(theirs["instances"].as_array().unwrap().len(), 1);
    let tools = theirs["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "tools")
        .unwrap();
    assert_eq!(tools["failed"], 0);
    app.stop().await;
}

async fn tenants(app: &TestApp, root: &str) -> Vec<Value> {
    app.get(root, "/api/v1/tenants").await.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_tenant_is_refused_until_reactivated_and_its_usage_is_listed() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let acme = app.tenant_with_admin(&root, "acme").await;
    let (acme_email, acme_pw) = ("admin@acme.example", "acme-admin-pw");
    let list = tenants(&app, &root).await;
    let row = list.iter().find(|t| t["slug"] == "acme").unwrap().clone();
    let id = row["id"].as_str().unwrap().to_string();
    assert_eq!(
        (row["users"].as_i64(), row["storageBytes"].as_i64()),
        (Some(1), Some(0))
    );

    // An upload counts towards the tenant's stored bytes.
    let part = reqwest::multipart::Part::bytes(vec![b'x'; 1234]).file_name("data.txt");
    let res = app
        .http
        .post(app.url("/api/v1/files"))
        .bearer_auth(&acme)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let list = tenants(&app, &root).await;
    let row = list.iter().find(|t| t["slug"] == "acme").unwrap();
    assert_eq!(row["storageBytes"], 1234);
    let default = list.iter().find(|t| t["slug"] == "default").unwrap();
    assert_eq!(default["storageBytes"], 0);

    let path = format!("/api/v1/tenants/{id}");
    let res = app
        .send(Method::PATCH, &root, &path, json!({"status": "suspended"}))
        .await;
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.unwrap();
    assert_eq!(
        (
            view["status"].as_str(),
            view["storageBytes"].as_i64(),
            view["users"].as_i64()
        ),
        (Some("suspended"), Some(1234), Some(1))
    );
    // The tenant's existing token and new logins are refused.
    assert_problem(app.get(&acme, "/api/v1/me").await, 403, "tenant_suspended").await;
    assert_problem(
        app.login(acme_email, acme_pw, "acme").await,
        403,
        "tenant_suspended",
    )
    .await;

    let res = app
        .send(Method::PATCH, &root, &path, json!({"status": "active"}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get(&acme, "/api/v1/me").await.status(), 200);
    assert_eq!(app.login(acme_email, acme_pw, "acme").await.status(), 200);

    // Name and rate limit; null goes back to the server's default.
    let res = app
        .send(
            Method::PATCH,
            &root,
            &path,
            json!({"name": "Acme Inc", "rateLimitPerMinute": 120}),
        )
        .await;
    let view: Value = res.json().await.unwrap();
    assert_eq!(
        (
            view["name"].as_str(),
            view["rate_limit_per_minute"].as_i64(),
            view["status"].as_str()
        ),
        (Some("Acme Inc"), Some(120), Some("active"))
    );
    let res = app
        .send(
            Method::PATCH,
            &root,
            &path,
            json!({"rateLimitPerMinute": null}),
        )
        .await;
    let view: Value = res.json().await.unwrap();
    assert!(view["rate_limit_per_minute"].is_null());
    assert_eq!(view["name"], "Acme Inc");

    for (body, field) in [
        (json!({"status": "paused"}), "status"),
        (json!({"rateLimitPerMinute": 0}), "rateLimitPerMinute"),
        (json!({"name": "  "}), "name"),
        (json!({"plan": "gold"}), "plan"),
    ] {
        let p = assert_problem(
            app.send(Method::PATCH, &root, &path, body.clone()).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], field, "{body}");
    }
    // The super-admin cannot lock the platform's own tenant out.
    let own = default["id"].as_str().unwrap();
    let res = app
        .send(
            Method::PATCH,
            &root,
            &format!("/api/v1/tenants/{own}"),
            json!({"status": "suspended"}),
        )
        .await;
    assert_problem(res, 422, "validation_failed").await;
    let res = app
        .send(
            Method::PATCH,
            &root,
            &format!("/api/v1/tenants/{}", uuid::Uuid::new_v4()),
            json!({"name": "x"}),
        )
        .await;
    assert_problem(res, 404, "not_found").await;
    // Only the super-admin: a tenant admin (here or in the tenant itself) may not.
    let (_, admin) = app.user_with_role(&root, "default", "admin").await;
    for token in [&admin, &acme] {
        let res = app
            .send(Method::PATCH, token, &path, json!({"status": "suspended"}))
            .await;
        assert_problem(res, 403, "forbidden").await;
    }
    assert_problem(app.get(&admin, "/api/v1/tenants").await, 403, "forbidden").await;

    // Each change is in the audit log of the super-admin's tenant.
    let mut owner = app.db.owner().await;
    let changes: Vec<(String, String)> = sqlx::query_as(
        "SELECT target_id, details->'status'->>'to' FROM audit_log WHERE action = 'tenant.update' ORDER BY id",
    )
    .fetch_all(&mut owner)
    .await
    .unwrap();
    let statuses: Vec<&str> = changes.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(statuses, ["suspended", "active", "active", "active"]);
    assert!(changes.iter().all(|(t, _)| *t == id));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testing_a_model_reports_its_reply_or_the_upstream_error() {
    let chat = Chat::start().await;
    let (app, root) = (&chat.app, chat.root.as_str());
    let add = |name: &str, base: String, key: &str| json!({"name": name, "provider": "openai", "base_url": base, "api_key": key});
    for model in [
        add("wrong-key", chat.fake.openai_base(), "sk-wrong"),
        add("nowhere", "http://127.0.0.1:9/v1".into(), KEY),
    ] {
        assert_eq!(app.post(root, "/api/v1/models", model).await.status(), 201);
    }
    let models: Vec<Value> = app.get(root, "/api/v1/models").await.json().await.unwrap();
    let id = |name: &str| {
        models.iter().find(|m| m["name"] == name).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let test = |id: String| async move {
        let res = app
            .post(root, &format!("/api/v1/models/{id}/test"), json!({}))
            .await;
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()
    };

    let ok = test(id("fake-gpt")).await;
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["model"], "fake-gpt");
    assert!(
        ok["reply"]
            .as_str()
            .unwrap()
            .starts_with("Echo: Reply with one word"),
        "{ok}"
    );
    assert!(ok["latencyMs"].as_u64().is_some());
    assert!(ok.get("error").is_none());

    let bad = test(id("wrong-key")).await;
    assert_eq!(bad["ok"], false);
    assert_eq!(bad["error"]["code"], "provider_auth", "{bad}");
    assert!(bad["error"]["message"].as_str().unwrap().contains("401"));
    assert_eq!(bad["model"], "wrong-key");
    let gone = test(id("nowhere")).await;
    assert_eq!(
        (gone["ok"].as_bool(), gone["error"]["code"].as_str()),
        (Some(false), Some("provider_unreachable")),
        "{gone}"
    );

    // Admins only; another tenant's model is not found.
    let (_, manager) = app.user_with_role(root, "default", "manager").await;
    let path = format!("/api/v1/models/{}/test", id("fake-gpt"));
    assert_problem(app.post(&manager, &path, json!({})).await, 403, "forbidden").await;
    let other = app.tenant_with_admin(root, "elsewhere").await;
    assert_problem(app.post(&other, &path, json!({})).await, 404, "not_found").await;
    chat.stop().await;
}
