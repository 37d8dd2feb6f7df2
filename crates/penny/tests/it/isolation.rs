//! Tenants never see each other: another tenant's object is 404 on every endpoint, and
//! row-level security holds even for a query without `WHERE tenant_id`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn another_tenants_objects_are_not_found_on_every_endpoint() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (victim_id, victim) = app.user_with_role(&root, "default", "creator").await;
    let key: Value = app
        .post(&victim, "/api/v1/api-keys", json!({"name": "k"}))
        .await
        .json()
        .await
        .unwrap();
    let key_id = key["id"].as_str().unwrap();
    let intruder = app.tenant_with_admin(&root, "intruder").await;

    let user_path = format!("/api/v1/users/{victim_id}");
    assert_problem(app.get(&intruder, &user_path).await, 404, "not_found").await;
    let patch = app
        .send(
            Method::PATCH,
            &intruder,
            &user_path,
            json!({"role": "viewer"}),
        )
        .await;
    assert_problem(patch, 404, "not_found").await;
    assert_problem(
        app.send(Method::DELETE, &intruder, &user_path, json!({}))
            .await,
        404,
        "not_found",
    )
    .await;
    let key_path = format!("/api/v1/api-keys/{key_id}");
    assert_problem(
        app.send(Method::DELETE, &intruder, &key_path, json!({}))
            .await,
        404,
        "not_found",
    )
    .await;

    let users: Value = app
        .get(&intruder, "/api/v1/users")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        users.as_array().unwrap().len(),
        1,
        "only the intruder tenant's own admin"
    );
    let keys: Value = app
        .get(&intruder, "/api/v1/api-keys")
        .await
        .json()
        .await
        .unwrap();
    assert!(keys.as_array().unwrap().is_empty());

    // Nothing changed for the victim.
    assert_eq!(
        app.get(key["secret"].as_str().unwrap(), "/api/v1/me")
            .await
            .status(),
        200
    );
    let v: Value = app.get(&root, &user_path).await.json().await.unwrap();
    assert_eq!(v["role"], "creator");
    app.stop().await;
}

#[tokio::test]
async fn row_level_security_hides_other_tenants_rows_without_a_where_clause() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    app.tenant_with_admin(&root, "other").await;
    let store = &app.running.as_ref().unwrap().store;
    let tenants = penny_store::tenants::list(store.pool()).await.unwrap();
    let default = tenants.iter().find(|t| t.slug == "default").unwrap().id;
    let other = tenants.iter().find(|t| t.slug == "other").unwrap().id;

    for (tenant, email) in [(default, ADMIN_EMAIL), (other, "admin@other.example")] {
        let mut tx = store.tenant(tenant).await.unwrap();
        let emails: Vec<String> = sqlx::query_scalar("SELECT email FROM users")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        assert_eq!(emails, vec![email.to_string()]);
        let audit_tenants: Vec<uuid::Uuid> =
            sqlx::query_scalar("SELECT DISTINCT tenant_id FROM audit_log")
                .fetch_all(&mut *tx)
                .await
                .unwrap();
        assert_eq!(audit_tenants, vec![tenant.0]);
        // Writing a row for another tenant is refused by the policy's WITH CHECK.
        let foreign = if tenant == default { other } else { default };
        let err =
            sqlx::query("INSERT INTO users (tenant_id, email) VALUES ($1, 'sneaky@example.com')")
                .bind(foreign)
                .execute(&mut *tx)
                .await
                .unwrap_err();
        assert!(err.to_string().contains("row-level security"), "{err}");
    }
    // With no tenant set, nothing is visible at all.
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(count, 0);
    // The application role is neither superuser nor exempt from RLS.
    let (user, sup, bypass): (String, bool, bool) = sqlx::query_as(
        "SELECT current_user::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!((user.as_str(), sup, bypass), ("penny_app", false, false));
    app.stop().await;
}

#[tokio::test]
async fn every_tenant_owned_table_has_forced_row_level_security() {
    let app = TestApp::spawn().await;
    let mut owner = app.db.owner().await;
    let rows: Vec<(String, bool, bool, i64)> = sqlx::query_as(
        "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity, \
                (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind = 'r' \
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id')",
    )
    .fetch_all(&mut owner)
    .await
    .unwrap();
    assert!(rows.len() >= 5, "{rows:?}");
    for (table, enabled, forced, policies) in rows {
        assert!(
            enabled && forced && policies > 0,
            "{table}: rls={enabled} forced={forced} policies={policies}"
        );
    }
    app.stop().await;
}
