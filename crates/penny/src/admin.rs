//! `penny admin …`: the same operations as the API's admin endpoints, for the operator
//! at the server's shell. Each change is written to the audit log (actor: the CLI).

use std::io::BufRead;

use anyhow::{bail, Context};
use penny_auth::{hash_password, new_api_key};
use penny_store::users::{Changes, NewUser, User};
use penny_store::{
    api_keys, audit, sessions, tenants, users, Email, Role, Slug, Store, TenantId, TenantTx,
};
use serde_json::json;

use crate::cli::{AdminCommand, PasswordArgs};

pub async fn run(
    store: &Store,
    owner: &sqlx::postgres::PgConnectOptions,
    cmd: AdminCommand,
) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::CreateTenant { name, slug } => {
            let slug = match slug {
                Some(s) => Slug::parse(&s)?,
                None => Slug::from_name(&name)?,
            };
            let t = tenants::create(store.pool(), &name, &slug).await?;
            let mut tx = store.tenant(t.id).await?;
            record(
                &mut tx,
                t.id,
                "tenant.create",
                "tenant",
                t.id.to_string(),
                json!({"slug": t.slug}),
            )
            .await?;
            tx.commit().await?;
            println!("created tenant {} ({}) id={}", t.slug, t.name, t.id);
        }
        AdminCommand::CreateUser {
            tenant,
            email,
            role,
            password,
        } => {
            let tid = tenant_id(store, &tenant).await?;
            let email = Email::parse(&email)?;
            let role: Role = role.parse()?;
            let hash = match read_password(&password)? {
                Some(p) => Some(hash_password(&p)?),
                None => None,
            };
            let mut tx = store.tenant(tid).await?;
            let new = NewUser {
                email: &email,
                role,
                password_hash: hash,
                display_name: None,
                is_super_admin: false,
            };
            let u = users::create(&mut tx, tid, new).await?;
            record(
                &mut tx,
                tid,
                "user.create",
                "user",
                u.id.to_string(),
                json!({"email": u.email, "role": role}),
            )
            .await?;
            tx.commit().await?;
            println!("created user {} ({}) id={}", u.email, u.role, u.id);
        }
        AdminCommand::SetRole {
            tenant,
            email,
            role,
        } => {
            let tid = tenant_id(store, &tenant).await?;
            let role: Role = role.parse()?;
            let mut tx = store.tenant(tid).await?;
            let u = user(&mut tx, &email).await?;
            let changes = Changes {
                role: Some(role),
                ..Default::default()
            };
            let u = users::update(&mut tx, u.id, changes).await?;
            record(
                &mut tx,
                tid,
                "user.update",
                "user",
                u.id.to_string(),
                json!({"role": role}),
            )
            .await?;
            tx.commit().await?;
            println!("{} is now {}", u.email, u.role);
        }
        AdminCommand::ResetPassword {
            tenant,
            email,
            password,
        } => {
            let tid = tenant_id(store, &tenant).await?;
            let Some(pw) = read_password(&password)? else {
                bail!("give --password or --password-stdin");
            };
            let hash = hash_password(&pw)?;
            let mut tx = store.tenant(tid).await?;
            let u = user(&mut tx, &email).await?;
            let changes = Changes {
                password_hash: Some(hash),
                ..Default::default()
            };
            users::update(&mut tx, u.id, changes).await?;
            sessions::revoke_user(&mut tx, u.id).await?;
            api_keys::revoke_user(&mut tx, u.id).await?;
            record(
                &mut tx,
                tid,
                "user.update",
                "user",
                u.id.to_string(),
                json!({"password_reset": true}),
            )
            .await?;
            tx.commit().await?;
            println!("password of {} reset; their sessions were ended", u.email);
        }
        AdminCommand::UnlockLogin { tenant, email } => {
            let tid = tenant_id(store, &tenant).await?;
            let mut tx = store.tenant(tid).await?;
            let u = user(&mut tx, &email).await?;
            users::unlock_login(&mut tx, u.id).await?;
            record(
                &mut tx,
                tid,
                "user.update",
                "user",
                u.id.to_string(),
                json!({"login_unlocked": true}),
            )
            .await?;
            tx.commit().await?;
            println!(
                "{} may log in again; failed attempts were forgotten",
                u.email
            );
        }
        AdminCommand::CreateApiKey {
            tenant,
            email,
            name,
        } => {
            let tid = tenant_id(store, &tenant).await?;
            let mut tx = store.tenant(tid).await?;
            let u = user(&mut tx, &email).await?;
            let secret = new_api_key();
            let k = api_keys::create(
                &mut tx,
                tid,
                u.id,
                &name,
                &secret.display_prefix,
                &secret.digest,
            )
            .await?;
            record(
                &mut tx,
                tid,
                "api_key.create",
                "api_key",
                k.id.to_string(),
                json!({"name": k.name}),
            )
            .await?;
            tx.commit().await?;
            println!("{}", secret.plaintext);
            eprintln!(
                "API key {} for {} created; it is shown only once.",
                k.prefix, u.email
            );
        }
        AdminCommand::ListTenants => {
            println!("{:<24} {:<32} {:<10} ID", "SLUG", "NAME", "STATUS");
            for t in tenants::list(store.pool()).await? {
                println!("{:<24} {:<32} {:<10} {}", t.slug, t.name, t.status, t.id);
            }
        }
        AdminCommand::ListUsers { tenant } => {
            let tid = tenant_id(store, &tenant).await?;
            let mut tx = store.tenant(tid).await?;
            println!("{:<36} {:<8} {:<12} ID", "EMAIL", "ROLE", "STATUS");
            for u in users::list(&mut tx).await? {
                let role = if u.is_super_admin {
                    format!("{}*", u.role)
                } else {
                    u.role.to_string()
                };
                println!("{:<36} {:<8} {:<12} {}", u.email, role, u.status, u.id);
            }
            tx.commit().await?;
        }
        AdminCommand::VerifyAudit => {
            use sqlx::{ConnectOptions, Connection};
            // Reads every tenant's chain, so it runs as the owner, not under RLS.
            let mut conn = owner.connect().await?;
            let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
                .fetch_one(&mut conn)
                .await?;
            let breaks = audit::verify(&mut conn).await?;
            conn.close().await?;
            if breaks.is_empty() {
                println!("audit log intact: {rows} rows verified");
            } else {
                for b in &breaks {
                    println!("tenant {} row {}: {}", b.tenant_id, b.id, b.reason);
                }
                bail!("audit log chain broken in {} place(s)", breaks.len());
            }
        }
    }
    Ok(())
}

async fn tenant_id(store: &Store, slug: &str) -> anyhow::Result<TenantId> {
    Ok(tenants::by_slug(store.pool(), slug)
        .await?
        .with_context(|| format!("no tenant with slug {slug:?} (see `penny admin list-tenants`)"))?
        .id)
}

async fn user(tx: &mut TenantTx, email: &str) -> anyhow::Result<User> {
    let email = Email::parse(email)?;
    Ok(users::credentials(tx, &email)
        .await?
        .with_context(|| format!("no user {} in that tenant", email.as_str()))?
        .user)
}

async fn record(
    tx: &mut TenantTx,
    tenant: TenantId,
    action: &'static str,
    target_type: &'static str,
    target_id: String,
    details: serde_json::Value,
) -> anyhow::Result<()> {
    let mut details = details;
    details["via"] = json!("cli");
    let entry = audit::Entry {
        action,
        target_type: Some(target_type),
        target_id: Some(target_id),
        details,
        ..Default::default()
    };
    audit::append(tx, tenant, entry).await?;
    Ok(())
}

fn read_password(args: &PasswordArgs) -> anyhow::Result<Option<String>> {
    if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        let pw = line.trim_end_matches(['\n', '\r']).to_string();
        if pw.is_empty() {
            bail!("--password-stdin: standard input was empty");
        }
        return Ok(Some(pw));
    }
    Ok(args.password.clone())
}
