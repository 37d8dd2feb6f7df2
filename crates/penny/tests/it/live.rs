//! Live deltas off the database: a run numbers its conversation's events, its deltas live
//! only on the bus and its live log, and checkpoints (`message.text`) stand in for them in
//! the stored log. A client resuming anywhere, on any instance, with or without the live
//! log, gets every event once and ends with the whole text.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde_json::{json, Value};

use crate::chat::Chat;
use crate::cluster::{cluster_vars, second_instance};
use crate::common::*;

/// Instance A (with the fake provider and its model) and instance B, on one database and
/// a Redis prefix of their own; the prefix is returned for reaching the live log.
async fn pair(extra: &[(&str, &str)]) -> (Chat, TestApp, String) {
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let mut vars = cluster_vars(&prefix);
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let a = Chat::start_with(&refs).await;
    let b = second_instance(&a.app, &vars).await;
    (a, b, prefix)
}

async fn events_after(app: &TestApp, token: &str, conv: &str, after: i64) -> SseReader {
    let res = app
        .http
        .get(app.url(&format!(
            "/api/v1/conversations/{conv}/events?after={after}"
        )))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    SseReader::new(res)
}

/// Events until the one with seq `last` (or past it).
async fn read_to(reader: &mut SseReader, last: i64) -> Vec<Sse> {
    let mut out = Vec::new();
    while let Some(e) = tokio::time::timeout(Duration::from_secs(30), reader.next())
        .await
        .expect("events keep coming")
    {
        let seq = e.id.unwrap();
        out.push(e);
        if seq >= last {
            break;
        }
    }
    out
}

/// Each message's text as a client builds it from `events` on top of `start`: deltas
/// appended, a `message.text` replacing.
fn texts(start: BTreeMap<String, String>, events: &[Sse]) -> BTreeMap<String, String> {
    let mut out = start;
    for e in events {
        let Some(m) = e.data["messageId"].as_str() else {
            continue;
        };
        let text = e.data["text"].as_str().unwrap_or_default();
        match e.event.as_str() {
            "message.delta" => out.entry(m.to_string()).or_default().push_str(text),
            "message.text" => {
                out.insert(m.to_string(), text.to_string());
            }
            _ => {}
        }
    }
    out
}

/// The answers' stored contents, by message id.
async fn answers(app: &TestApp, token: &str, conv: &str) -> BTreeMap<String, String> {
    let res = app
        .get(token, &format!("/api/v1/conversations/{conv}/messages"))
        .await;
    let branch: Value = res.json().await.unwrap();
    let branch = branch.as_array().unwrap_or_else(|| panic!("{branch}"));
    branch
        .iter()
        .filter(|m| m["role"] == "assistant")
        .map(|m| {
            assert_eq!(m["status"], "complete", "{m}");
            (
                m["id"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A client that had `reference` up to seq `k` and resumed with `resumed`: every event
/// follows the one before, none twice, and each answer ends with its stored text.
fn check_resume(reference: &[Sse], k: i64, resumed: &[Sse], stored: &BTreeMap<String, String>) {
    let had: Vec<Sse> = reference
        .iter()
        .filter(|e| e.id.unwrap() <= k)
        .cloned()
        .collect();
    let marker = Sse {
        id: Some(k),
        event: "marker".into(),
        data: json!({}),
    };
    let mut seen = vec![marker];
    seen.extend(resumed.iter().cloned());
    assert_follows(&seen);
    let seqs: HashSet<i64> = resumed.iter().map(|e| e.id.unwrap()).collect();
    assert_eq!(seqs.len(), resumed.len(), "no event twice after {k}");
    let mut built = texts(texts(BTreeMap::new(), &had), resumed);
    built.retain(|id, _| stored.contains_key(id));
    assert_eq!(&built, stored, "the whole text after resuming from {k}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_from_any_seq_on_another_instance_gives_each_event_once_and_the_whole_text() {
    // Every token its own event, so the last answer outgrows the live log.
    let (a, b, prefix) = pair(&[("DELTA_FRAME_MS", "0")]).await;
    let conv = a.conversation(&a.root).await;
    let mut watch = events_after(&a.app, &a.root, &conv, 0).await;
    // A streamed answer, then one with a tool call (stored events between live ones),
    // then one longer than the live log keeps.
    a.send(&conv, json!({"content": "first [[tokens=30 delay_ms=5]]"}))
        .await;
    let mut reference = watch.until(&["run.completed"]).await;
    a.send(
        &conv,
        json!({"content": r#"time? [[tool=current_time args={"format":"unix"}]]"#,
            "toolsAllowed": ["current_time"]}),
    )
    .await;
    reference.extend(watch.until(&["run.completed"]).await);
    let short = reference.last().unwrap().id.unwrap();
    a.send(&conv, json!({"content": "long [[tokens=1500 delay_ms=1]]"}))
        .await;
    reference.extend(watch.until(&["run.completed"]).await);
    assert_contiguous(&reference);
    let kinds: HashSet<&str> = reference.iter().map(|e| e.event.as_str()).collect();
    for kind in ["message.delta", "tool.call", "tool.progress", "tool.result"] {
        assert!(kinds.contains(kind), "{kind} in {kinds:?}");
    }
    let last = reference.last().unwrap().id.unwrap();
    let stored = answers(&a.app, &a.root, &conv).await;
    assert_eq!(stored.len(), 3);

    // With the live log (as just after a run), then with the stored log alone (as once
    // the live log expired, or after a Redis restart).
    for with_live_log in [true, false] {
        if !with_live_log {
            let client = redis::Client::open(redis_url()).unwrap();
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            let key = format!("{prefix}:live:conv:{conv}");
            let removed: i64 = redis::cmd("DEL")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap();
            assert_eq!(removed, 1, "the live log was in Redis");
        }
        // Every seq of the short answers, and a sample of the long one's.
        for k in (0..short).chain((short..last).step_by(97)) {
            let resumed = read_to(&mut events_after(&b, &a.root, &conv, k).await, last).await;
            check_resume(&reference, k, &resumed, &stored);
            if !with_live_log {
                assert!(resumed
                    .iter()
                    .all(|e| e.event != "message.delta" && e.event != "tool.progress"));
            }
        }
    }
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_mid_run_on_another_instance_before_the_first_delta_mid_text_and_during_a_tool() {
    let (a, b, _) = pair(&[]).await;
    let conv = a.conversation(&a.root).await;
    let mut watch = events_after(&a.app, &a.root, &conv, 0).await;
    let mut reference = Vec::new();
    // Opened mid-run (the server reads the logs then); read at the end.
    let mut resumes: Vec<(i64, SseReader)> = Vec::new();
    // 120 tokens 15 ms apart: checkpoints are stored while it streams.
    a.send(&conv, json!({"content": "long [[tokens=120 delay_ms=15]]"}))
        .await;
    loop {
        let e = watch.next().await.unwrap();
        let seq = e.id.unwrap();
        let deltas = reference
            .iter()
            .filter(|e: &&Sse| e.event == "message.delta")
            .count();
        let end = e.event == "run.completed";
        if e.event == "run.started" || deltas == 10 || deltas == 80 {
            resumes.push((seq, events_after(&b, &a.root, &conv, seq).await));
        }
        reference.push(e);
        if end {
            break;
        }
    }
    // A tool that takes a while: resumed from its call, while it runs.
    a.send(
        &conv,
        json!({"content": r#"sleep [[tool=python_execute args={"script":"import time\ntime.sleep(1.5)\nprint(7)"}]]"#,
            "toolsAllowed": ["python_execute"]}),
    )
    .await;
    loop {
        let e = watch.next().await.unwrap();
        let end = e.event == "run.completed" || e.event == "run.failed";
        if e.event == "tool.call" {
            for k in [e.id.unwrap() - 1, e.id.unwrap()] {
                resumes.push((k, events_after(&b, &a.root, &conv, k).await));
            }
        }
        reference.push(e);
        if end {
            break;
        }
    }
    assert_eq!(
        reference.last().unwrap().event,
        "run.completed",
        "{:?}",
        reference.last()
    );
    let stored = answers(&a.app, &a.root, &conv).await;
    for (k, mut reader) in resumes {
        let resumed = reader.until(&["run.completed"]).await;
        // A resume of the first run ends with its end; it owes only that run's text.
        let mine: BTreeMap<String, String> = stored
            .iter()
            .filter(|(id, _)| resumed.iter().any(|e| e.data["messageId"] == id.as_str()))
            .map(|(id, t)| (id.clone(), t.clone()))
            .collect();
        check_resume(&reference, k, &resumed, &mine);
    }
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stored_log_keeps_facts_and_one_checkpoint_per_stretch_of_text() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let body = json!({"content": r#"time? [[tool=current_time args={"format":"unix"}]]"#,
        "toolsAllowed": ["current_time"]});
    chat.send_sse(&conv, body)
        .await
        .until(&["run.completed"])
        .await;
    // Long enough for several checkpoints while it streams.
    let events = chat
        .send_sse(&conv, json!({"content": "long [[tokens=150 delay_ms=15]]"}))
        .await
        .until(&["run.completed"])
        .await;
    let mut owner = chat.app.db.owner().await;
    let stored: Vec<Value> = sqlx::query_scalar(
        "SELECT event FROM conversation_events WHERE conversation_id = $1::uuid ORDER BY seq",
    )
    .bind(&conv)
    .fetch_all(&mut owner)
    .await
    .unwrap();
    let kinds: Vec<&str> = stored.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "run.started",
            "tool.call",
            "message.text", // stands in for the call's live progress
            "tool.result",
            "message.text", // the model's answer to the result
            "run.completed",
            "run.started",
            "message.text", // one for the whole answer: each checkpoint replaced the last
            "run.completed",
        ]
    );
    let last_text = &stored[7];
    let streamed = streamed(&events);
    assert_eq!(last_text["text"], streamed.as_str());
    assert_eq!(last_text["fromSeq"], stored[6]["seq"].as_i64().unwrap() + 1);
    let last_delta = events
        .iter()
        .rev()
        .find(|e| e.event == "message.delta")
        .unwrap();
    assert_eq!(
        last_text["seq"],
        last_delta.id.unwrap(),
        "the seq of the last delta it covers"
    );
    assert_eq!(stored[3]["seq"], stored[2]["seq"].as_i64().unwrap() + 1);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_on_a_fast_stream_still_gets_the_whole_text_in_order() {
    // Every token its own event, far more than a subscriber's bus buffer holds.
    let chat = Chat::start_with(&[("DELTA_FRAME_MS", "0")]).await;
    let conv = chat.conversation(&chat.root).await;
    let mut slow = events_after(&chat.app, &chat.root, &conv, 0).await;
    let done = chat
        .send_sse(
            &conv,
            json!({"content": "fast [[tokens=20000 delay_ms=0]]"}),
        )
        .await
        .until(&["run.completed"])
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let last = done.last().unwrap().id.unwrap();
    let got = read_to(&mut slow, last).await;
    let stored = answers(&chat.app, &chat.root, &conv).await;
    check_resume(&[], 0, &got, &stored);
    assert_eq!(tokens_in(stored.values().next().unwrap()), 20000);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_tool_call_during_a_run_is_told_after_the_run_ends() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let mut watch = events_after(&chat.app, &chat.root, &conv, 0).await;
    chat.send(&conv, json!({"content": "slow [[tokens=60 delay_ms=20]]"}))
        .await;
    let started = watch.until(&["message.delta"]).await;
    let res = chat
        .app
        .post(
            &chat.root,
            "/api/v1/tools/current_time/invoke?wait=true",
            json!({"conversationId": conv, "params": {"format": "unix"}}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["status"], "completed", "{job}");
    let mut events = started;
    events.extend(watch.until(&["tool.result"]).await);
    assert_contiguous(&events);
    let n = events.len();
    assert_eq!(
        events[n - 2].event,
        "run.completed",
        "the run's own events first"
    );
    assert_eq!(events[n - 1].data["jobId"], job["id"]);
    assert!(
        !events.iter().any(|e| e.event == "tool.progress"),
        "no progress cut into the run"
    );
    chat.stop().await;
}

/// A Redis server of this test's own, so it can be killed and started again.
async fn private_redis(port: u16) -> tokio::process::Child {
    let child = tokio::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server (scripts/setup.sh installs it)");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis-server did not start on port {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_mid_run_loses_no_stored_event_and_fan_out_resumes() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = private_redis(port).await;
    let vars = vec![
        ("REDIS_URL".to_string(), format!("redis://127.0.0.1:{port}")),
        ("REDIS_PREFIX".to_string(), "penny".to_string()),
    ];
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let a = Chat::start_with(&refs).await;
    let b = second_instance(&a.app, &vars).await;
    let conv = a.conversation(&a.root).await;
    let mut on_b = events_after(&b, &a.root, &conv, 0).await;
    a.send(&conv, json!({"content": "long [[tokens=200 delay_ms=20]]"}))
        .await;
    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|e: &&Sse| e.event == "message.delta")
        .count()
        < 30
    {
        seen.push(on_b.next().await.unwrap());
    }
    redis.kill().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _redis = private_redis(port).await;
    // The run goes on; B's subscriber hears its end once the bus is back.
    let rest = tokio::time::timeout(Duration::from_secs(30), on_b.until(&["run.completed"]))
        .await
        .expect("fan-out resumes after the restart");
    seen.extend(rest);
    assert_eq!(seen.last().unwrap().event, "run.completed");
    for pair in seen.windows(2) {
        assert!(pair[1].id > pair[0].id, "{:?} then {:?}", pair[0], pair[1]);
    }
    // Nothing stored was lost: the answer is whole, and resuming from the start after the
    // run gives it once, from the stored log and what the new live log holds.
    let stored = answers(&a.app, &a.root, &conv).await;
    assert_eq!(tokens_in(stored.values().next().unwrap()), 200);
    let last = seen.last().unwrap().id.unwrap();
    let again = read_to(&mut events_after(&b, &a.root, &conv, 0).await, last).await;
    check_resume(&[], 0, &again, &stored);
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cancelled_before_the_model_answers_is_numbered_after_its_start() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let mut watch = events_after(&chat.app, &chat.root, &conv, 0).await;
    // Refused and retried with backoff: the run is still asking when it is cancelled.
    let sent = chat
        .send(
            &conv,
            json!({"content": "busy [[status=503 fail_first=9]]"}),
        )
        .await;
    let run = sent["runId"].as_str().unwrap();
    let res = chat
        .app
        .post(&chat.root, &format!("/api/v1/runs/{run}/cancel"), json!({}))
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let mut events = watch.until(&["run.cancelled", "run.failed"]).await;
    assert_eq!(events.last().unwrap().event, "run.cancelled");
    chat.send(&conv, json!({"content": "again [[tokens=2]]"}))
        .await;
    events.extend(watch.until(&["run.completed"]).await);
    assert_contiguous(&events);
    assert_eq!(events[0].id, Some(1));
    chat.stop().await;
}
