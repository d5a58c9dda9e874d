//! Requests, decisions and grants: each change one transaction, with its notices written to
//! the outbox in the same transaction (a change is never reported without having happened,
//! nor happens without being reported).

use super::outbox::{enqueue, Notice};
use super::rows::{self, to_json, GRANT_COLUMNS, REQUEST_COLUMNS};
use super::{i, u, Store};
use crate::error::Error;
use crate::model::{AccessRequest, Decision, Grant, Person, State, Verdict};
use sqlx::{Any, Row, Transaction};

/// A decision's result, as committed.
#[derive(Debug, Clone)]
pub struct Decided {
    pub request: AccessRequest,
    pub decisions: Vec<Decision>,
    /// Set when this decision was the final approval.
    pub grant: Option<Grant>,
}

/// Most requests one listing returns.
pub const MAX_LIST: i64 = 500;

async fn fetch_request(
    tx: &mut Transaction<'_, Any>,
    id: &str,
) -> Result<Option<AccessRequest>, sqlx::Error> {
    let q = format!("SELECT {REQUEST_COLUMNS} FROM access_requests WHERE id = $1");
    match sqlx::query(&q).bind(id).fetch_optional(&mut **tx).await? {
        Some(r) => Ok(Some(rows::request(&r)?)),
        None => Ok(None),
    }
}

async fn fetch_decisions(
    tx: &mut Transaction<'_, Any>,
    id: &str,
) -> Result<Vec<Decision>, sqlx::Error> {
    sqlx::query(
        "SELECT by_iss, by_sub, verdict, comment, at FROM decisions WHERE request_id = $1 ORDER BY at, by_iss, by_sub",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(rows::decision)
    .collect()
}

impl Store {
    pub async fn insert_request(&self, r: &AccessRequest, notice: &Notice) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO access_requests (id, requester_iss, requester_sub, target, scopes, operation,
               duration_seconds, justification, state, filed_at, expires_at, decided_at, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, 0)",
        )
        .bind(&r.id)
        .bind(&r.requester.iss)
        .bind(&r.requester.sub)
        .bind(to_json(&r.target))
        .bind(to_json(&r.scopes))
        .bind(r.operation.as_ref().map(to_json))
        .bind(i(r.duration_seconds))
        .bind(&r.justification)
        .bind(r.state.as_str())
        .bind(i(r.filed_at))
        .bind(i(r.expires_at))
        .execute(&mut *tx)
        .await?;
        enqueue(&mut tx, &self.hooks, notice).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A request with its decisions and grant.
    pub async fn request(&self, id: &str) -> Result<Option<Decided>, Error> {
        let mut tx = self.pool.begin().await?;
        let Some(request) = fetch_request(&mut tx, id).await? else {
            return Ok(None);
        };
        let decisions = fetch_decisions(&mut tx, id).await?;
        let q = format!("SELECT {GRANT_COLUMNS} FROM grants WHERE request_id = $1");
        let grant = match sqlx::query(&q).bind(id).fetch_optional(&mut *tx).await? {
            Some(r) => Some(rows::grant(&r)?),
            None => None,
        };
        tx.commit().await?;
        Ok(Some(Decided {
            request,
            decisions,
            grant,
        }))
    }

    /// The newest requests, optionally in one stored state.
    pub async fn list(&self, state: Option<State>) -> Result<Vec<AccessRequest>, Error> {
        let rows = match state {
            Some(s) => {
                let q = format!(
                    "SELECT {REQUEST_COLUMNS} FROM access_requests WHERE state = $1 ORDER BY filed_at DESC, id LIMIT $2"
                );
                sqlx::query(&q)
                    .bind(s.as_str())
                    .bind(MAX_LIST)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let q = format!(
                    "SELECT {REQUEST_COLUMNS} FROM access_requests ORDER BY filed_at DESC, id LIMIT $1"
                );
                sqlx::query(&q).bind(MAX_LIST).fetch_all(&self.pool).await?
            }
        };
        Ok(rows.iter().map(rows::request).collect::<Result<_, _>>()?)
    }

    /// Records `who`'s verdict on request `id` at `now`.
    ///
    /// `check` sees the locked request and returns how many approvals it needs, or why `who`
    /// may not decide. A final approval creates the grant (window `[now, now + duration)`)
    /// with id `grant_id`. `notices` says what to report, from the committed result.
    #[allow(clippy::too_many_arguments)]
    pub async fn decide(
        &self,
        id: &str,
        who: &Person,
        verdict: Verdict,
        comment: Option<&str>,
        now: u64,
        grant_id: &str,
        check: &(dyn Fn(&AccessRequest) -> Result<u32, Error> + Sync),
        notices: &(dyn Fn(&Decided) -> Vec<Notice> + Sync),
    ) -> Result<Decided, Error> {
        let mut tx = self.pool.begin().await?;
        // The row lock (PostgreSQL) that serialises decisions on this request.
        let locked = sqlx::query(
            "UPDATE access_requests SET version = version + 1 WHERE id = $1 AND state = 'pending'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let Some(mut request) = fetch_request(&mut tx, id).await? else {
            return Err(Error::NotFound);
        };
        let state = request.state_at(now);
        if locked == 0 || state != State::Pending {
            return Err(Error::conflict(
                "not_pending",
                format!("the request is {}: nothing left to decide", state.as_str()),
            ));
        }
        let needed = check(&request)?;
        let inserted = sqlx::query(
            "INSERT INTO decisions (request_id, by_iss, by_sub, verdict, comment, at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request_id, by_iss, by_sub) DO NOTHING",
        )
        .bind(id)
        .bind(&who.iss)
        .bind(&who.sub)
        .bind(verdict.as_str())
        .bind(comment)
        .bind(i(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(Error::conflict(
                "already_decided",
                "you already decided on this request; another approver must approve",
            ));
        }
        let decisions = fetch_decisions(&mut tx, id).await?;
        let approvers: Vec<Person> = decisions
            .iter()
            .filter(|d| d.verdict == Verdict::Approve)
            .map(|d| d.by.clone())
            .collect();
        let mut grant = None;
        let final_state = match verdict {
            Verdict::Deny => Some(State::Denied),
            Verdict::Approve if approvers.len() as u64 >= u64::from(needed) => {
                let g = Grant {
                    id: grant_id.to_owned(),
                    request_id: id.to_owned(),
                    subject: request.requester.clone(),
                    scopes: request.scopes.clone(),
                    approved_by: approvers,
                    approved_at: now,
                    nbf: now,
                    exp: now.saturating_add(request.duration_seconds),
                    revoked_at: None,
                    revoked_by: None,
                };
                sqlx::query(
                    "INSERT INTO grants (id, request_id, subject_iss, subject_sub, scopes, approved_by,
                       approved_at, nbf, exp) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&g.id)
                .bind(id)
                .bind(&g.subject.iss)
                .bind(&g.subject.sub)
                .bind(to_json(&g.scopes))
                .bind(to_json(&g.approved_by))
                .bind(i(g.approved_at))
                .bind(i(g.nbf))
                .bind(i(g.exp))
                .execute(&mut *tx)
                .await?;
                grant = Some(g);
                Some(State::Approved)
            }
            Verdict::Approve => None,
        };
        if let Some(s) = final_state {
            sqlx::query("UPDATE access_requests SET state = $1, decided_at = $2 WHERE id = $3")
                .bind(s.as_str())
                .bind(i(now))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            request.state = s;
            request.decided_at = Some(now);
        }
        let decided = Decided {
            request,
            decisions,
            grant,
        };
        for n in notices(&decided) {
            enqueue(&mut tx, &self.hooks, &n).await?;
        }
        tx.commit().await?;
        Ok(decided)
    }

    pub async fn grant(&self, id: &str) -> Result<Option<Grant>, Error> {
        let q = format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1");
        match sqlx::query(&q).bind(id).fetch_optional(&self.pool).await? {
            Some(r) => Ok(Some(rows::grant(&r)?)),
            None => Ok(None),
        }
    }

    /// `who`'s grants that are neither revoked nor expired at `now`, newest first.
    pub async fn active_grants(&self, who: &Person, now: u64) -> Result<Vec<Grant>, Error> {
        let q = format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE subject_sub = $1 AND subject_iss = $2
             AND revoked_at IS NULL AND exp > $3 ORDER BY approved_at DESC, id LIMIT 100"
        );
        let rows = sqlx::query(&q)
            .bind(&who.sub)
            .bind(&who.iss)
            .bind(i(now))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(rows::grant).collect::<Result<_, _>>()?)
    }

    /// Revokes grant `id` at `now` if `allowed` lets `who` (it sees the grant and its
    /// request). Already revoked or expired: 409.
    pub async fn revoke(
        &self,
        id: &str,
        who: &Person,
        comment: Option<&str>,
        now: u64,
        allowed: &(dyn Fn(&Grant, &AccessRequest) -> Result<(), Error> + Sync),
        notices: &(dyn Fn(&Grant, &AccessRequest) -> Vec<Notice> + Sync),
    ) -> Result<(Grant, AccessRequest), Error> {
        let mut tx = self.pool.begin().await?;
        let q = format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1");
        let Some(row) = sqlx::query(&q).bind(id).fetch_optional(&mut *tx).await? else {
            return Err(Error::NotFound);
        };
        let mut grant = rows::grant(&row)?;
        let Some(request) = fetch_request(&mut tx, &grant.request_id).await? else {
            return Err(Error::NotFound);
        };
        allowed(&grant, &request)?;
        if now >= grant.exp {
            return Err(Error::conflict(
                "grant_expired",
                "the grant has already expired",
            ));
        }
        let done = sqlx::query(
            "UPDATE grants SET revoked_at = $1, revoked_by_iss = $2, revoked_by_sub = $3, revoke_comment = $4
             WHERE id = $5 AND revoked_at IS NULL",
        )
        .bind(i(now))
        .bind(&who.iss)
        .bind(&who.sub)
        .bind(comment)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(Error::conflict(
                "grant_revoked",
                "the grant is already revoked",
            ));
        }
        grant.revoked_at = Some(now);
        grant.revoked_by = Some(who.clone());
        for n in notices(&grant, &request) {
            enqueue(&mut tx, &self.hooks, &n).await?;
        }
        tx.commit().await?;
        Ok((grant, request))
    }

    /// Marks every pending request past its `expires_at` expired; returns them (each to
    /// exactly one replica: the one whose `UPDATE … RETURNING` changed it).
    pub async fn expire_due(
        &self,
        now: u64,
        notices: &(dyn Fn(&AccessRequest) -> Vec<Notice> + Sync),
    ) -> Result<Vec<AccessRequest>, Error> {
        let mut tx = self.pool.begin().await?;
        let q = format!(
            "UPDATE access_requests SET state = 'expired', decided_at = $1, version = version + 1
             WHERE state = 'pending' AND expires_at <= $1 RETURNING {REQUEST_COLUMNS}"
        );
        let rows = sqlx::query(&q).bind(i(now)).fetch_all(&mut *tx).await?;
        let expired: Vec<AccessRequest> =
            rows.iter().map(rows::request).collect::<Result<_, _>>()?;
        for r in &expired {
            for n in notices(r) {
                enqueue(&mut tx, &self.hooks, &n).await?;
            }
        }
        tx.commit().await?;
        Ok(expired)
    }

    /// The revocation list at `now`: revoked grants not yet expired (the filter has nothing
    /// to refuse once a grant's `exp` passed), and how many grants were ever revoked (a
    /// version that only grows).
    pub async fn revocations(&self, now: u64) -> Result<(u64, Vec<(String, u64, u64)>), Error> {
        let version: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM grants WHERE revoked_at IS NOT NULL")
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?;
        let rows = sqlx::query(
            "SELECT id, revoked_at, exp FROM grants WHERE revoked_at IS NOT NULL AND exp > $1
             ORDER BY revoked_at, id",
        )
        .bind(i(now))
        .fetch_all(&self.pool)
        .await?;
        let list = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>("id")?,
                    u(r.try_get("revoked_at")?),
                    u(r.try_get("exp")?),
                ))
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok((u(version), list))
    }
}
