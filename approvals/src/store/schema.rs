//! The tables, in SQL both SQLite and PostgreSQL accept. Created at start if missing
//! (PostgreSQL: under an advisory lock, so replicas starting together do not race).
//!
//! - `access_requests`: one row per request; `version` is bumped by every decision, which
//!   also takes PostgreSQL's row lock, so decisions on one request run one at a time.
//! - `decisions`: one row per person and request (the primary key makes a second vote by
//!   the same issuer and subject impossible).
//! - `grants`: `request_id` is UNIQUE: however decisions race, a request has at most one.
//! - `signing_keys`: the ES256 keys and their signing windows.
//! - `outbox`: webhook deliveries, written in the transaction of the change they report.

pub const STATEMENTS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS access_requests (
        id TEXT PRIMARY KEY,
        requester_iss TEXT NOT NULL,
        requester_sub TEXT NOT NULL,
        target TEXT NOT NULL,
        scopes TEXT NOT NULL,
        operation TEXT,
        duration_seconds BIGINT NOT NULL,
        justification TEXT NOT NULL,
        state TEXT NOT NULL,
        filed_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        decided_at BIGINT,
        version BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS access_requests_by_state ON access_requests (state, expires_at)",
    "CREATE INDEX IF NOT EXISTS access_requests_by_requester ON access_requests (requester_sub, requester_iss)",
    "CREATE TABLE IF NOT EXISTS decisions (
        request_id TEXT NOT NULL REFERENCES access_requests (id),
        by_iss TEXT NOT NULL,
        by_sub TEXT NOT NULL,
        verdict TEXT NOT NULL,
        comment TEXT,
        at BIGINT NOT NULL,
        PRIMARY KEY (request_id, by_iss, by_sub)
    )",
    "CREATE TABLE IF NOT EXISTS grants (
        id TEXT PRIMARY KEY,
        request_id TEXT NOT NULL UNIQUE REFERENCES access_requests (id),
        subject_iss TEXT NOT NULL,
        subject_sub TEXT NOT NULL,
        scopes TEXT NOT NULL,
        approved_by TEXT NOT NULL,
        approved_at BIGINT NOT NULL,
        nbf BIGINT NOT NULL,
        exp BIGINT NOT NULL,
        revoked_at BIGINT,
        revoked_by_iss TEXT,
        revoked_by_sub TEXT,
        revoke_comment TEXT
    )",
    "CREATE INDEX IF NOT EXISTS grants_by_subject ON grants (subject_sub, subject_iss)",
    "CREATE INDEX IF NOT EXISTS grants_revoked ON grants (revoked_at, exp)",
    "CREATE TABLE IF NOT EXISTS signing_keys (
        kid TEXT PRIMARY KEY,
        alg TEXT NOT NULL,
        secret TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        signs_from BIGINT NOT NULL,
        signs_until BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS outbox (
        id TEXT PRIMARY KEY,
        hook BIGINT NOT NULL,
        event TEXT NOT NULL,
        data TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        attempts BIGINT NOT NULL,
        next_ms BIGINT NOT NULL,
        delivered_ms BIGINT,
        failed_ms BIGINT
    )",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (delivered_ms, failed_ms, next_ms)",
];
