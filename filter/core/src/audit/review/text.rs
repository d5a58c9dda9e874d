//! The review as plain text for a terminal.

use super::{GrantUse, Report};
use std::fmt::Write;

impl Report {
    /// A plain-text report for a terminal.
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "{} events, {} to {}",
            self.events,
            self.first.as_deref().unwrap_or("-"),
            self.last.as_deref().unwrap_or("-")
        );
        let _ = writeln!(o, "\nLook at first:");
        if self.flags.is_empty() {
            let _ = writeln!(o, "  nothing flagged");
        }
        for f in &self.flags {
            let _ = writeln!(o, "  [{}] {}: {}", f.kind, f.identity, f.detail);
        }
        let _ = writeln!(o, "\nBy identity and route:");
        let _ = writeln!(
            o,
            "  {:<32} {:<20} {:>8} {:>8} {:>10} {:>8} {:>8} {:>8}",
            "identity", "route", "allowed", "denied", "would_deny", "pan", "cvv", "track"
        );
        for (id, routes) in &self.by_identity {
            for (route, c) in routes {
                let _ = writeln!(
                    o,
                    "  {:<32} {:<20} {:>8} {:>8} {:>10} {:>8} {:>8} {:>8}",
                    id,
                    route,
                    c.allowed,
                    c.denied,
                    c.would_deny,
                    c.pan_masked,
                    c.cvv_masked,
                    c.track_masked
                );
            }
        }
        if !self.operations.is_empty() {
            let _ = writeln!(o, "\nBy identity and operation (request bodies read):");
            let _ = writeln!(
                o,
                "  {:<32} {:<44} {:>8} {:>8} {:>10}",
                "identity", "operation", "allowed", "denied", "would_deny"
            );
            for (id, ops) in &self.operations {
                for (op, c) in ops {
                    let _ = writeln!(
                        o,
                        "  {:<32} {:<44} {:>8} {:>8} {:>10}",
                        id, op, c.allowed, c.denied, c.would_deny
                    );
                }
            }
        }
        let _ = writeln!(o, "\nJust-in-time grants:");
        if self.grants.is_empty() {
            let _ = writeln!(o, "  none");
        }
        for g in &self.grants {
            grant(&mut o, g);
        }
        o
    }
}

/// One grant: the approvals side (who asked, why, who approved), its window, and its use.
fn grant(o: &mut String, g: &GrantUse) {
    let _ = writeln!(o, "  {} for {}", g.grant, g.identity);
    if let Some(r) = &g.request {
        let _ = writeln!(
            o,
            "    request {r} by {}{}",
            g.requester.as_deref().unwrap_or("-"),
            g.target
                .as_deref()
                .map(|t| format!(" for {t}"))
                .unwrap_or_default()
        );
    }
    if !g.scopes.is_empty() {
        let _ = writeln!(o, "    scopes: {}", g.scopes.join(" "));
    }
    if let Some(j) = &g.justification {
        let _ = writeln!(o, "    justification: {j}");
    }
    for a in &g.approvals {
        let _ = writeln!(o, "    approved by {} at {}", a.approver, a.at);
    }
    if g.approvals.is_empty() {
        let by = if g.approved_by.is_empty() {
            "-".to_string()
        } else {
            g.approved_by.join(", ")
        };
        let _ = writeln!(o, "    approved by {by} (named in the grant)");
    }
    let _ = writeln!(
        o,
        "    window: {} .. {}",
        g.approved_at.as_deref().unwrap_or("-"),
        if g.expires_at.is_empty() {
            "-"
        } else {
            &g.expires_at
        }
    );
    if let Some(at) = &g.revoked_at {
        let _ = writeln!(
            o,
            "    revoked at {at} by {}",
            g.revoked_by.as_deref().unwrap_or("-")
        );
    }
    match (&g.first_use, &g.last_use) {
        (Some(f), Some(l)) => {
            let _ = writeln!(o, "    used {} time(s), {f} .. {l}", g.uses);
        }
        _ => {
            let _ = writeln!(o, "    never used");
        }
    }
    for (reason, n) in &g.refused {
        let _ = writeln!(o, "    refused {n} time(s): {reason}");
    }
}
