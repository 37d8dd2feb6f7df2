//! A sweep generated from the OpenAPI document, so that a new endpoint is covered the day
//! it is added: every operation on one of a tenant's objects (a path with an `{id}`),
//! called by another tenant's admin, is 404 and changes nothing; every operation with an
//! `x-penny-role`, called by the role just below it, is 403; and that role itself is let
//! through on every read.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{json, Value};

use crate::chat::Chat;
use crate::common::*;
use crate::tools::upload;

/// Roles from lowest to highest, as `x-penny-role` names them.
const ROLES: [&str; 5] = ["viewer", "creator", "manager", "admin", "super-admin"];

struct Op {
    method: Method,
    path: String,
    role: &'static str,
    has_body: bool,
    /// Required query parameters, with a valid value each.
    query: Vec<(String, &'static str)>,
}

impl Op {
    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Every signed-in operation of the document.
fn operations(spec: &Value) -> Vec<Op> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if op["security"].as_array().is_none_or(|s| s.is_empty()) {
                continue; // open to everyone (health, login, set-up, invitations)
            }
            let role = op["x-penny-role"].as_str().unwrap_or("viewer");
            let role = ROLES
                .into_iter()
                .find(|r| *r == role)
                .unwrap_or_else(|| panic!("{method} {path}: unknown x-penny-role {role}"));
            let query = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .map(|p| {
                    let name = p["name"].as_str().unwrap_or_default();
                    let value = match name {
                        "format" => "json",
                        _ => panic!("{method} {path}: give the sweep a value for ?{name}"),
                    };
                    (name.to_string(), value)
                })
                .collect();
            ops.push(Op {
                method: method.to_uppercase().parse().expect("method"),
                path: path.clone(),
                role,
                has_body: !op["requestBody"].is_null(),
                query,
            });
        }
    }
    ops
}

/// A valid request body for an operation, so that the answer is about access and not
/// about the body: a document replaced with PUT gets itself back (`current`, read before
/// the sweep). A new operation with a body fails here until it is given one.
fn body_for(op: &Op, current: &BTreeMap<String, Value>) -> Option<Value> {
    if op.method == Method::PUT {
        return current.get(&op.path).cloned();
    }
    let body = match (op.method.as_str(), op.path.as_str()) {
        ("PATCH", "/api/v1/conversations/{id}") => json!({"title": "taken"}),
        ("POST", "/api/v1/chat/{id}/messages") => json!({"content": "taken"}),
        ("POST", "/api/v1/artifacts/{id}/link") => json!({}),
        ("PATCH", "/api/v1/models/{id}") => json!({"name": "taken"}),
        ("POST", "/api/v1/runs/{id}/cancel") => json!({}),
        ("PATCH", "/api/v1/tenants/{id}") => json!({"name": "taken"}),
        ("PATCH", "/api/v1/users/{id}") => json!({"role": "viewer"}),
        ("POST", "/api/v1/users/{id}/reset-link") => json!({}),
        ("POST", "/api/v1/models/{id}/test") => json!({}),
        ("POST", "/api/v1/artifacts") => json!({"type": "markdown", "title": "t", "content": "x"}),
        ("POST", "/api/v1/models") => {
            json!({"name": "sweep", "provider": "openai", "base_url": "http://127.0.0.1:9/v1"})
        }
        ("PATCH", "/api/v1/tools/{name}") => json!({"enabled": true}),
        ("POST", "/api/v1/tenants") => json!({"name": "Sweep", "slug": "sweep",
            "admin_email": "admin@sweep.example", "admin_password": "sweep-admin-pw"}),
        ("POST", "/api/v1/users") => {
            json!({"email": "sweep@example.com", "role": "viewer", "password": "a-good-password"})
        }
        ("POST", "/api/v1/users/invite") => {
            json!({"email": "invited@example.com", "role": "viewer"})
        }
        ("POST", "/api/v1/api-keys") => json!({"name": "sweep"}),
        ("POST", "/api/v1/conversations") => json!({}),
        ("POST", "/api/v1/tools/{name}/invoke") => json!({"params": {}}),
        ("POST", "/api/v1/files") => return None, // multipart, see `call`
        ("POST", "/api/v1/collections") => json!({"name": "sweep"}),
        ("PATCH", "/api/v1/collections/{id}") => json!({"name": "taken"}),
        ("POST", "/api/v1/collections/{id}/members") => {
            json!({"userId": uuid::Uuid::new_v4(), "access": "read"})
        }
        ("POST", "/api/v1/collections/{id}/documents") => json!({"fileId": uuid::Uuid::new_v4()}),
        ("POST", "/api/v1/search") => json!({"query": "sweep"}),
        _ if op.has_body => panic!("{}: give the sweep a valid body for it", op.label()),
        _ => return None,
    };
    Some(body)
}

/// The seeded object each `{id}` stands for, by the path's first segment.
fn fill(path: &str, ids: &BTreeMap<&str, String>) -> String {
    let kind = path
        .trim_start_matches("/api/v1/")
        .split('/')
        .next()
        .unwrap_or_default();
    let id = || {
        ids.get(kind)
            .unwrap_or_else(|| panic!("{path}: the sweep seeds no {kind} object"))
            .as_str()
    };
    let mut out = path.to_string();
    if out.contains("{id}") {
        out = out.replace("{id}", id());
    }
    // Tool names are the same in every tenant: not a tenant's object.
    out.replace("{name}", "current_time")
}

struct Seeded {
    ids: BTreeMap<&'static str, String>,
    current: BTreeMap<String, Value>,
}

async fn call(app: &TestApp, token: &str, op: &Op, seeded: &Seeded) -> u16 {
    let ids = &seeded.ids;
    let url = fill(&op.path, ids);
    if op.method == Method::POST && op.path == "/api/v1/files" {
        return upload(app, token, "sweep.txt", b"sweep".to_vec())
            .await
            .status()
            .as_u16();
    }
    let req = app
        .http
        .request(op.method.clone(), app.url(&url))
        .query(&op.query)
        .bearer_auth(token);
    let req = match body_for(op, &seeded.current) {
        Some(body) => req.json(&body),
        None => req,
    };
    req.send().await.expect("request").status().as_u16()
}

async fn json_of(app: &TestApp, token: &str, path: &str) -> Value {
    let res = app.get(token, path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.expect("json")
}

/// What the victim tenant can see of its own objects, to compare after the sweep.
async fn snapshot(app: &TestApp, root: &str, ids: &BTreeMap<&str, String>) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in [
        format!("/api/v1/conversations/{}", ids["conversations"]),
        format!("/api/v1/conversations/{}/messages", ids["conversations"]),
        format!("/api/v1/artifacts/{}", ids["artifacts"]),
        format!("/api/v1/files/{}", ids["files"]),
        format!("/api/v1/users/{}", ids["users"]),
        "/api/v1/models".to_string(),
        "/api/v1/api-keys".to_string(),
        "/api/v1/tenants".to_string(),
        "/api/v1/policies".to_string(),
        "/api/v1/tools".to_string(),
    ] {
        seen.push(json_of(app, root, &path).await);
    }
    seen
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_on_an_id_is_closed_to_other_tenants_and_lower_roles() {
    let chat = Chat::start_with(&[
        ("RATE_LIMIT_PER_MINUTE", "100000"),
        ("RATE_LIMIT_IP_PER_MINUTE", "100000"),
    ])
    .await;
    let (app, root) = (&chat.app, chat.root.as_str());
    let spec: Value = json_of(app, root, "/api/v1/openapi.json").await;
    let ops = operations(&spec);
    assert!(ops.len() > 40, "the document lists the API");

    // One of each kind of object, in tenant `default`.
    let conv = chat.conversation(root).await;
    let sent = chat.send(&conv, json!({"content": "hello"})).await;
    chat.settled(&conv).await;
    let artifact: Value = app
        .post(
            root,
            "/api/v1/artifacts",
            json!({"type": "markdown", "title": "Plan", "content": "# v1", "conversationId": conv}),
        )
        .await
        .json()
        .await
        .expect("artifact");
    let file: Value = upload(app, root, "notes.txt", b"notes".to_vec())
        .await
        .json()
        .await
        .expect("file");
    let key: Value = app
        .post(root, "/api/v1/api-keys", json!({"name": "k"}))
        .await
        .json()
        .await
        .expect("key");
    let job: Value = app
        .post(
            root,
            "/api/v1/tools/current_time/invoke?wait=true",
            json!({"params": {}}),
        )
        .await
        .json()
        .await
        .expect("job");
    let collection = crate::knowledge::collection(app, root, "Sweep").await;
    let document =
        crate::knowledge::add(app, root, &collection, "sweep.md", b"# Sweep".to_vec()).await;
    let document = crate::knowledge::settled(app, root, &document).await;
    assert_eq!(document["status"], "ready");
    let passage: Value = app
        .post(root, "/api/v1/search", json!({"query": "sweep"}))
        .await
        .json()
        .await
        .expect("search");
    let models = json_of(app, root, "/api/v1/models").await;
    let tenants = json_of(app, root, "/api/v1/tenants").await;
    let (user, _) = app.user_with_role(root, "default", "creator").await;
    let mut ids: BTreeMap<&'static str, String> = BTreeMap::new();
    ids.insert("conversations", conv.clone());
    ids.insert("chat", conv.clone());
    ids.insert("runs", sent["runId"].as_str().expect("runId").to_string());
    ids.insert("artifacts", id_of(&artifact));
    ids.insert("files", id_of(&file));
    ids.insert("api-keys", id_of(&key));
    ids.insert("jobs", id_of(&job));
    ids.insert("models", id_of(&models[0]));
    ids.insert("tenants", id_of(&tenants[0]));
    ids.insert("users", user);
    ids.insert("collections", collection);
    ids.insert("documents", id_of(&document));
    ids.insert("passages", passage["passages"][0]["chunkId"].to_string());

    let mut current = BTreeMap::new();
    for op in ops.iter().filter(|op| op.method == Method::PUT) {
        current.insert(op.path.clone(), json_of(app, root, &op.path).await);
    }
    let seeded = Seeded { ids, current };
    let intruder = app.tenant_with_admin(root, "intruder").await;
    // A user of each tenant role; the super-admin is `root`.
    let mut users: BTreeMap<&str, String> = BTreeMap::new();
    for role in &ROLES[..4] {
        users.insert(role, app.user_with_role(root, "default", role).await.1);
    }
    let rank = |role: &str| ROLES.iter().position(|r| *r == role).unwrap_or(0);
    let below = |role: &str| rank(role).checked_sub(1).map(|i| users[ROLES[i]].as_str());
    let at = |role: &str| users.get(role).map_or(root, String::as_str);
    let before = snapshot(app, root, &seeded.ids).await;

    let mut wrong = Vec::new();
    for op in &ops {
        if op.path.contains("{id}") {
            let want = if op.role == "super-admin" { 403 } else { 404 };
            let got = call(app, &intruder, op, &seeded).await;
            if got != want {
                wrong.push(format!(
                    "{} by another tenant's admin: {got}, want {want}",
                    op.label()
                ));
            }
        }
        if let Some(token) = below(op.role) {
            let got = call(app, token, op, &seeded).await;
            if got != 403 {
                wrong.push(format!(
                    "{} by a role below {}: {got}, want 403",
                    op.label(),
                    op.role
                ));
            }
        }
        if op.method == Method::GET {
            let got = call(app, at(op.role), op, &seeded).await;
            if got == 403 || got >= 500 {
                wrong.push(format!("{} by {}: {got}", op.label(), op.role));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        before,
        snapshot(app, root, &seeded.ids).await,
        "the sweep changed nothing"
    );
}
