//! Rows to records. JSON columns (target, scopes, operation, approvers) are written by this
//! module's callers only; one that does not parse is reported as a database error.

use super::u;
use crate::model::{AccessRequest, Decision, Grant, Operation, Person, State, TargetRef, Verdict};
use sqlx::any::AnyRow;
use sqlx::Row;

pub const REQUEST_COLUMNS: &str = "id, requester_iss, requester_sub, target, scopes, operation, \
     duration_seconds, justification, state, filed_at, expires_at, decided_at";

pub const GRANT_COLUMNS: &str = "id, request_id, subject_iss, subject_sub, scopes, approved_by, \
     approved_at, nbf, exp, revoked_at, revoked_by_iss, revoked_by_sub";

fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

pub fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Plain structs of strings: serializing cannot fail.
    serde_json::to_string(v).unwrap_or_default()
}

pub fn request(r: &AnyRow) -> Result<AccessRequest, sqlx::Error> {
    let target: TargetRef = json(&r.try_get::<String, _>("target")?)?;
    let scopes: Vec<String> = json(&r.try_get::<String, _>("scopes")?)?;
    let operation: Option<Operation> = match r.try_get::<Option<String>, _>("operation")? {
        Some(s) => Some(json(&s)?),
        None => None,
    };
    let state: String = r.try_get("state")?;
    Ok(AccessRequest {
        id: r.try_get("id")?,
        requester: Person {
            iss: r.try_get("requester_iss")?,
            sub: r.try_get("requester_sub")?,
        },
        target,
        scopes,
        operation,
        duration_seconds: u(r.try_get("duration_seconds")?),
        justification: r.try_get("justification")?,
        state: State::parse(&state)
            .ok_or_else(|| sqlx::Error::Decode(format!("state {state:?}").into()))?,
        filed_at: u(r.try_get("filed_at")?),
        expires_at: u(r.try_get("expires_at")?),
        decided_at: r.try_get::<Option<i64>, _>("decided_at")?.map(u),
    })
}

pub fn decision(r: &AnyRow) -> Result<Decision, sqlx::Error> {
    let verdict: String = r.try_get("verdict")?;
    Ok(Decision {
        by: Person {
            iss: r.try_get("by_iss")?,
            sub: r.try_get("by_sub")?,
        },
        verdict: if verdict == "approve" {
            Verdict::Approve
        } else {
            Verdict::Deny
        },
        comment: r.try_get("comment")?,
        at: u(r.try_get("at")?),
    })
}

pub fn grant(r: &AnyRow) -> Result<Grant, sqlx::Error> {
    let revoked_by = match (
        r.try_get::<Option<String>, _>("revoked_by_iss")?,
        r.try_get::<Option<String>, _>("revoked_by_sub")?,
    ) {
        (Some(iss), Some(sub)) => Some(Person { iss, sub }),
        _ => None,
    };
    Ok(Grant {
        id: r.try_get("id")?,
        request_id: r.try_get("request_id")?,
        subject: Person {
            iss: r.try_get("subject_iss")?,
            sub: r.try_get("subject_sub")?,
        },
        scopes: json(&r.try_get::<String, _>("scopes")?)?,
        approved_by: json(&r.try_get::<String, _>("approved_by")?)?,
        approved_at: u(r.try_get("approved_at")?),
        nbf: u(r.try_get("nbf")?),
        exp: u(r.try_get("exp")?),
        revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(u),
        revoked_by,
    })
}
