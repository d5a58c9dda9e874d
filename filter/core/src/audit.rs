//! Audit event
