//! The review as plain text for a terminal.

use super::Report;

impl Report {
    /// A plain-text report for a terminal.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
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
        let _ = writeln!(o, "\nJust-in-time grants used:");
        if self.grants.is_empty() {
            let _ = writeln!(o, "  none");
        }
        for g in &self.grants {
            let _ = writeln!(
                o,
                "  {} by {}: approved by {} at {}, expires {}; used {} time(s), {} .. {}",
                g.grant,
                g.identity,
                if g.approved_by.is_empty() {
                    "-".to_string()
                } else {
                    g.approved_by.join(", ")
                },
                g.approved_at.as_deref().unwrap_or("-"),
                g.expires_at,
                g.uses,
                g.first_use,
                g.last_use
            );
        }
        o
    }
}
