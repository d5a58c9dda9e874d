//! The webhook outbox: one row per notice and subscribed webhook, written in the transaction
//! of the change it reports, delivered later by [`crate::notify`] (any replica; a claim is a
//! conditional update, so each attempt is made by one replica only).

use super::{i, u, Store};
use crate::error::Error;
use sqlx::{Any, Row, Transaction};

/// What a webhook is told: the event name and its structured fields (never a token).
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub event: &'static str,
    pub data: serde_json::Value,
}

/// A delivery waiting to be made.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: String,
    pub hook: usize,
    pub event: String,
    pub data: serde_json::Value,
    pub attempts: u64,
    pub next_ms: u64,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(super) async fn enqueue(
    tx: &mut Transaction<'_, Any>,
    hooks: &[Vec<String>],
    n: &Notice,
) -> Result<(), Error> {
    let now = now_ms();
    for (h, events) in hooks.iter().enumerate() {
        if !events.is_empty() && !events.iter().any(|e| e == n.event) {
            continue;
        }
        let id = crate::ids::random("ntf").map_err(|_| Error::Internal("no randomness"))?;
        sqlx::query(
            "INSERT INTO outbox (id, hook, event, data, created_ms, attempts, next_ms)
             VALUES ($1, $2, $3, $4, $5, 0, $5)",
        )
        .bind(id)
        .bind(i(h as u64))
        .bind(n.event)
        .bind(n.data.to_string())
        .bind(i(now))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Deliveries due at `now_ms`, oldest first.
    pub async fn due(&self, now_ms: u64, limit: i64) -> Result<Vec<Pending>, Error> {
        let rows = sqlx::query(
            "SELECT id, hook, event, data, attempts, next_ms FROM outbox
             WHERE delivered_ms IS NULL AND failed_ms IS NULL AND next_ms <= $1
             ORDER BY created_ms, id LIMIT $2",
        )
        .bind(i(now_ms))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let data: String = r.try_get("data")?;
                Ok(Pending {
                    id: r.try_get("id")?,
                    hook: usize::try_from(r.try_get::<i64, _>("hook")?).unwrap_or(usize::MAX),
                    event: r.try_get("event")?,
                    data: serde_json::from_str(&data).unwrap_or_default(),
                    attempts: u(r.try_get("attempts")?),
                    next_ms: u(r.try_get("next_ms")?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Error::from)
    }

    /// Takes delivery `p` for this replica until `lease_ms`; false if another replica did.
    pub async fn claim(&self, p: &Pending, lease_ms: u64) -> Result<bool, Error> {
        let n = sqlx::query(
            "UPDATE outbox SET next_ms = $1, attempts = attempts + 1
             WHERE id = $2 AND next_ms = $3 AND delivered_ms IS NULL AND failed_ms IS NULL",
        )
        .bind(i(lease_ms))
        .bind(&p.id)
        .bind(i(p.next_ms))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn delivered(&self, id: &str) -> Result<(), Error> {
        sqlx::query("UPDATE outbox SET delivered_ms = $1 WHERE id = $2")
            .bind(i(now_ms()))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Schedules another attempt at `next_ms`, or gives up (`next_ms` `None`).
    pub async fn retry(&self, id: &str, next_ms: Option<u64>) -> Result<(), Error> {
        match next_ms {
            Some(t) => sqlx::query("UPDATE outbox SET next_ms = $1 WHERE id = $2").bind(i(t)),
            None => sqlx::query("UPDATE outbox SET failed_ms = $1 WHERE id = $2").bind(i(now_ms())),
        }
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deliveries not yet made (for tests and `/healthz`).
    pub async fn undelivered(&self) -> Result<u64, Error> {
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM outbox WHERE delivered_ms IS NULL AND failed_ms IS NULL",
        )
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        Ok(u(n))
    }
}

pub(crate) fn clock_ms() -> u64 {
    now_ms()
}
