//! Which PostgreSQL PENNY uses: the server named by `DATABASE_URL`, or the embedded
//! cluster. Either way the result is the owner's connection options, used to migrate, and
//! the application pool that runs as `penny_app`.

use std::str::FromStr;

use anyhow::Context;
use penny_store::Store;
use sqlx::postgres::PgConnectOptions;

use crate::config::Config;
use crate::embedded_pg::EmbeddedPg;

pub struct Database {
    pub owner: PgConnectOptions,
    embedded: Option<EmbeddedPg>,
}

impl Database {
    pub async fn open(cfg: &Config) -> anyhow::Result<Self> {
        let (owner, embedded) = match &cfg.database_url {
            Some(url) => {
                let opts = PgConnectOptions::from_str(url)
                    .context("DATABASE_URL is not a valid PostgreSQL URL")?;
                (opts, None)
            }
            None => {
                let pg = EmbeddedPg::start(&cfg.data_dir, cfg.pg_bin_dir.as_deref()).await?;
                (pg.connect_options(), Some(pg))
            }
        };
        Ok(Database { owner, embedded })
    }

    /// Applies migrations, then opens the application pool.
    pub async fn migrate_and_connect(&self, max_connections: u32) -> anyhow::Result<Store> {
        penny_store::migrate(&self.owner).await?;
        Ok(Store::connect(self.owner.clone(), max_connections).await?)
    }

    pub async fn close(&self) {
        if let Some(pg) = &self.embedded {
            pg.stop().await;
        }
    }
}
