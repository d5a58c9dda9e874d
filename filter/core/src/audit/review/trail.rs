//! What the trail says about itself, for the review's flags: failed controls (the VM's
//! `control_failure` records), policy digest changes, and what `verify` found. Grants and
//! their revocations are `grants.rs`.

use super::{Flag, Report};
use crate::audit::verify::{Finding, FindingKind};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Default)]
pub(super) struct Trail {
    /// chain → the policy (version, digest) its last line carried.
    policy: BTreeMap<String, (String, String)>,
    /// (old digest, new digest) transitions already flagged.
    changes: BTreeSet<(String, String)>,
}

fn s(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

impl Trail {
    /// A record that is not a request event: a VM record, or another service's event.
    pub fn push(&mut self, e: &serde_json::Value, time: &str, report: &mut Report) {
        report.records += 1;
        let (Some("vm"), Some(event)) = (e["kind"].as_str(), e["event"].as_str()) else {
            return;
        };
        self.policy(e, time, &mut report.flags);
        if event != "control_failure" {
            return;
        }
        let c = &e["control"];
        let count = c["count"].as_u64().unwrap_or(1);
        let mut detail = format!("{} at {time}", s(&c["reason"]));
        if count > 1 {
            detail.push_str(&format!(" ({count} times)"));
        }
        for (name, v) in [("provider", &c["provider"]), ("request", &c["request_id"])] {
            if let Some(v) = v.as_str() {
                detail.push_str(&format!(", {name} {v}"));
            }
        }
        detail.push_str(&format!(": {}", s(&c["detail"])));
        report.flags.push(Flag {
            kind: "control_failure",
            identity: format!("(vm {})", s(&e["chain"]["id"])),
            detail,
        });
    }

    /// Notes the policy a line carried; flags each change of digest once, whichever VM saw
    /// it first.
    pub fn policy(&mut self, e: &serde_json::Value, time: &str, flags: &mut Vec<Flag>) {
        let (Some(chain), Some(digest)) =
            (e["chain"]["id"].as_str(), e["policy"]["digest"].as_str())
        else {
            return;
        };
        let version = s(&e["policy"]["version"]);
        let now = (version, digest.to_string());
        let Some(before) = self.policy.insert(chain.to_string(), now.clone()) else {
            return;
        };
        if before.1 != now.1 && self.changes.insert((before.1.clone(), now.1.clone())) {
            flags.push(Flag {
                kind: "policy_changed",
                identity: "(policy)".into(),
                detail: format!(
                    "{} ({}) replaced by {} ({}) by {time}",
                    before.0, before.1, now.0, now.1
                ),
            });
        }
    }
}

impl Report {
    /// Adds what `pci-guard audit verify` found to the flags: a daily review must see gaps
    /// and truncations, not only the traffic.
    pub fn integrity(&mut self, findings: &[Finding]) {
        for f in findings {
            let kind = match &f.kind {
                FindingKind::Gap { .. } | FindingKind::MissingStart { .. } => "trail_gap",
                FindingKind::TailCut { .. } | FindingKind::ChainMissing { .. } => "trail_truncated",
                FindingKind::NoEnd { .. } => "vm_restarted",
                k if k.is_error() => "trail_tampered",
                _ => continue,
            };
            self.flags.push(Flag {
                kind,
                identity: "(trail)".into(),
                detail: f.to_string(),
            });
        }
        self.flags
            .sort_by(|a, b| (a.kind, &a.identity).cmp(&(b.kind, &b.identity)));
    }
}
