//! Storage: SQLite (an embedded file, one replica) or PostgreSQL (several replicas act as
//! one), through one `sqlx::AnyPool` and one set of queries written in the SQL both accept
//! (`$N` parameters, `ON CONFLICT … DO NOTHING`, `RETURNING`).
//!
//! Concurrency: a decision first bumps its request's `version` with
//! `UPDATE … WHERE state = 'pending'`, which in PostgreSQL holds the row lock until commit;
//! a second decision on the same request waits there and then sees the first's rows. SQLite
//! gets one connection, so its transactions never interleave at all. Either way
//! `grants.request_id UNIQUE` is the last word: one grant per request.
//!
//! Every failure to reach the database is [`Error::Unavailable`] (503), and nothing is
//! half-written: each change is one transaction.

mod outbox;
mod requests;
mod rows;
mod schema;

pub(crate) use outbox::clock_ms;
pub use outbox::{Notice, Pending};
pub use requests::Decided;

use crate::error::Error;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A stored signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    /// base64url private scalar.
    pub secret: String,
    pub created_at: u64,
    pub signs_from: u64,
    pub signs_until: u64,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    pub backend: Backend,
    /// Per webhook, the events it receives (empty: all).
    hooks: Vec<Vec<String>>,
}

pub(crate) fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Store {
    /// Connects and creates the tables if missing. `hooks`: each webhook's event filter.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        hooks: Vec<Vec<String>>,
    ) -> Result<Store, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("sqlite:") {
            let url = if url.contains('?') {
                url.to_string()
            } else {
                format!("{url}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else {
            (Backend::Postgres, url.to_string())
        };
        let opts = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(3));
        let pool = match backend {
            // One writer at a time is all SQLite offers; one connection makes it explicit.
            Backend::Sqlite => opts.max_connections(1).connect(&url).await?,
            Backend::Postgres => opts.max_connections(max_connections).connect(&url).await?,
        };
        let store = Store {
            pool,
            backend,
            hooks,
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Sqlite {
            // Write-ahead log: one fsync per commit (synchronous stays FULL: a committed
            // decision survives a power cut). Persistent in the file; not allowed inside a
            // transaction.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&self.pool)
                .await?;
        }
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(740520)) AS l")
                .execute(&mut *tx)
                .await?;
        }
        for s in schema::STATEMENTS {
            sqlx::query(s).execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    /// Whether the database answers (for `/healthz`).
    pub async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn keys(&self) -> Result<Vec<KeyRow>, Error> {
        let rows = sqlx::query(
            "SELECT kid, alg, secret, created_at, signs_from, signs_until FROM signing_keys ORDER BY signs_from",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KeyRow {
                    kid: r.try_get("kid")?,
                    alg: r.try_get("alg")?,
                    secret: r.try_get("secret")?,
                    created_at: u(r.try_get("created_at")?),
                    signs_from: u(r.try_get("signs_from")?),
                    signs_until: u(r.try_get("signs_until")?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Error::from)
    }

    /// Inserts `k` unless a key with its `kid` exists (another replica made it first).
    pub async fn insert_key(&self, k: &KeyRow) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, secret, created_at, signs_from, signs_until)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kid) DO NOTHING",
        )
        .bind(&k.kid)
        .bind(&k.alg)
        .bind(&k.secret)
        .bind(i(k.created_at))
        .bind(i(k.signs_from))
        .bind(i(k.signs_until))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
