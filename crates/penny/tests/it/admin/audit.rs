//! The audit log: filters, paging, CSV export, and tenants kept apart.

use reqwest::Method;
use serde_json::{json, Value};

use super::*;
use crate::common::*;

/// RFC 4180 records of `text`.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && row.is_empty(),
        "the last record ends with CRLF"
    );
    rows
}

#[tokio::test]
async fn the_audit_log_filters_pages_and_exports() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let root_id = me(&app, &root).await["id"].as_str().unwrap().to_string();
    let (manager_id, manager) = app.user_with_role(&root, "default", "manager").await;
    for i in 0..3 {
        body(
            invite(&app, &manager, &format!("m{i}@example.com"), "viewer").await,
            201,
        )
        .await;
    }
    let theme = json!({"name": "Comma, \"quote\"", "logoUrl": null, "accentColor": "#101010"});
    body(
        app.send(Method::PUT, &root, "/api/v1/themes", theme).await,
        200,
    )
    .await;

    // Prefix and exact action, actor by id and by address.
    let page = audit(&app, &root, "action=user.&limit=500").await;
    assert_eq!(
        actions(&page),
        ["user.invite", "user.invite", "user.invite", "user.create"]
    );
    assert_eq!(page["nextBefore"], Value::Null);
    let by_id = audit(
        &app,
        &root,
        &format!("actor={manager_id}&action=user.invite"),
    )
    .await;
    assert_eq!(by_id["items"].as_array().unwrap().len(), 3);
    let item = &by_id["items"][0];
    assert_eq!(item["actorId"], manager_id.as_str());
    assert!(item["actorEmail"].as_str().unwrap().starts_with("manager-"));
    assert_eq!(item["targetType"], "user");
    assert_eq!(item["details"]["email"], "m2@example.com");
    assert_eq!(item["payloadSha256"].as_str().unwrap().len(), 64);
    assert!(item["ip"].as_str().unwrap().starts_with("127.0.0.1"));
    let email = item["actorEmail"].as_str().unwrap().to_string();
    let by_email = audit(&app, &root, &format!("actor={email}&action=user.invite")).await;
    assert_eq!(by_email["items"], by_id["items"]);
    let by_root = audit(&app, &root, &format!("actor={root_id}&action=user.")).await;
    assert_eq!(actions(&by_root), ["user.create"]);
    assert_eq!(audit(&app, &root, "action=user").await["items"], json!([]));

    // Dates: UTC days and instants.
    let mut owner = app.db.owner().await;
    let (today, tomorrow, yesterday): (String, String, String) = sqlx::query_as(
        "SELECT to_char(d, 'YYYY-MM-DD'), to_char(d + 1, 'YYYY-MM-DD'), to_char(d - 1, 'YYYY-MM-DD') \
         FROM (SELECT (now() AT TIME ZONE 'UTC')::date AS d) s",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    let all = audit(&app, &root, "limit=500").await["items"]
        .as_array()
        .unwrap()
        .len();
    assert!(all >= 7, "{all}");
    let count = |q: String| {
        let app = &app;
        let root = &root;
        async move {
            audit(app, root, &q).await["items"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(
        count(format!("from={today}&to={today}&limit=500")).await,
        all
    );
    assert_eq!(count(format!("from={tomorrow}")).await, 0);
    assert_eq!(count(format!("to={yesterday}")).await, 0);
    let newest = &audit(&app, &root, "limit=1").await["items"][0];
    let at = newest["at"].as_str().unwrap().replace('+', "%2B");
    assert_eq!(count(format!("from={at}&limit=500")).await, 1);
    assert_eq!(count(format!("to={at}&limit=500")).await, all);

    // Pages of two walk the same entries as one page.
    let mut walked = Vec::new();
    let mut before = String::new();
    loop {
        let page = audit(&app, &root, &format!("limit=2{before}")).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        walked.extend(items.iter().map(|i| i["id"].as_i64().unwrap()));
        match page["nextBefore"].as_i64() {
            Some(id) => {
                assert_eq!(id, *walked.last().unwrap());
                before = format!("&before={id}");
            }
            None => break,
        }
    }
    let one: Vec<i64> = audit(&app, &root, "limit=500").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(walked, one);
    assert!(one.windows(2).all(|w| w[0] > w[1]), "newest first");

    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("from=yesterday", "from"),
        ("to=2025-02-30", "to"),
        ("actor=nobody", "actor"),
        ("format=xml", "format"),
    ] {
        let res = app.get(&root, &format!("/api/v1/admin/audit?{q}")).await;
        let problem = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{q}");
    }

    // CSV: the same entries, quoted per RFC 4180.
    let res = app.get(&manager, "/api/v1/admin/audit?format=csv").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"audit-default-{today}.csv\"").as_str()
    );
    let text = res.text().await.unwrap();
    assert!(text.starts_with(
        "id,at,actorId,actorEmail,action,targetType,targetId,ip,userAgent,payloadSha256,details\r\n"
    ));
    assert!(text.contains(r#"\""quote\"""#), "{text}");
    let rows = parse_csv(&text);
    let json_items = audit(&app, &root, "limit=500").await;
    let json_items = json_items["items"].as_array().unwrap();
    assert_eq!(rows.len(), json_items.len() + 1);
    for (row, item) in rows[1..].iter().zip(json_items) {
        assert_eq!(row.len(), 11);
        assert_eq!(row[0], item["id"].as_i64().unwrap().to_string());
        assert_eq!(row[4], item["action"].as_str().unwrap());
        let details: Value = serde_json::from_str(&row[10]).unwrap();
        assert_eq!(details, item["details"]);
    }
    let theme_row = rows.iter().find(|r| r[4] == "theme.update").unwrap();
    let details: Value = serde_json::from_str(&theme_row[10]).unwrap();
    assert_eq!(details["name"], "Comma, \"quote\"");
    let res = app
        .get(&root, "/api/v1/admin/audit?format=csv&action=user.invite")
        .await;
    assert_eq!(parse_csv(&res.text().await.unwrap()).len(), 4);
    app.stop().await;
}

#[tokio::test]
async fn another_tenants_admin_never_sees_this_tenants_audit() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let root_id = me(&app, &root).await["id"].as_str().unwrap().to_string();
    body(
        invite(&app, &root, "a-only@example.com", "viewer").await,
        201,
    )
    .await;
    let beta = app.tenant_with_admin(&root, "beta").await;
    let beta_tenant = me(&app, &beta).await["tenant"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let page = audit(&app, &beta, "limit=500").await;
    let items = page["items"].as_array().unwrap();
    let mut owner = app.db.owner().await;
    let (in_beta,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM audit_log WHERE tenant_id = $1::uuid")
            .bind(&beta_tenant)
            .fetch_one(&mut owner)
            .await
            .unwrap();
    assert!(in_beta > 0);
    assert_eq!(items.len() as i64, in_beta);
    assert!(items.iter().all(|i| i["actorId"] != root_id.as_str()));
    assert!(!actions(&page).contains(&"user.invite".to_string()));
    for q in [
        format!("actor={root_id}"),
        format!("actor={ADMIN_EMAIL}"),
        "action=user.invite".to_string(),
    ] {
        assert_eq!(audit(&app, &beta, &q).await["items"], json!([]), "{q}");
    }
    let res = app.get(&beta, "/api/v1/admin/audit?format=csv").await;
    let text = res.text().await.unwrap();
    assert_eq!(parse_csv(&text).len() as i64, in_beta + 1);
    assert!(!text.contains("a-only@example.com"));
    app.stop().await;
}
