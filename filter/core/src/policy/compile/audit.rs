//! The `audit` section: heartbeat and checkpoint intervals in range, the self-request
//! cluster named.

use super::Compiler;
use crate::policy::model::{
    Audit, Checkpoints, DEFAULT_CHECKPOINT_EVENTS, DEFAULT_CHECKPOINT_MS, DEFAULT_HEARTBEAT_MS,
    DEFAULT_SELF_CLUSTER,
};
use crate::policy::spec::AuditSpec;

/// Heartbeats (and checkpoints) between one second and one hour: finer would cost a
/// self-request per worker more often than the filter's tick; coarser would let a cut tail
/// hide for longer than a daily review can act on.
const MIN_INTERVAL_MS: u64 = 1_000;
const MAX_INTERVAL_MS: u64 = 3_600_000;

impl Compiler {
    pub(super) fn audit(&mut self, spec: AuditSpec) -> Audit {
        let heartbeat_ms = self.interval(
            "/audit/heartbeat",
            spec.heartbeat.as_deref(),
            DEFAULT_HEARTBEAT_MS,
        );
        let checkpoint = spec.checkpoint.map(|c| {
            if c.signing_key_env.trim().is_empty() {
                self.err(
                    "/audit/checkpoint/signing_key_env",
                    "must name the environment variable that holds the Ed25519 signing key",
                );
            }
            let every_events = c.every_events.unwrap_or(DEFAULT_CHECKPOINT_EVENTS);
            if every_events == 0 {
                self.err("/audit/checkpoint/every_events", "must be at least 1");
            }
            Checkpoints {
                every_ms: self.interval(
                    "/audit/checkpoint/every",
                    c.every.as_deref(),
                    DEFAULT_CHECKPOINT_MS,
                ),
                every_events: every_events.max(1),
                signing_key_env: c.signing_key_env,
            }
        });
        let self_cluster = spec
            .self_cluster
            .unwrap_or_else(|| DEFAULT_SELF_CLUSTER.to_string());
        if self_cluster.trim().is_empty() {
            self.err("/audit/self_cluster", "must name a cluster");
        }
        Audit {
            chain_secret_env: spec.chain_secret_env,
            heartbeat_ms,
            checkpoint,
            self_cluster,
        }
    }

    fn interval(&mut self, at: &str, s: Option<&str>, default: u64) -> u64 {
        let ms = self.duration_ms(at, s, default);
        if !(MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&ms) {
            self.err(at, "must be between 1s and 1h");
            return default;
        }
        ms
    }
}
