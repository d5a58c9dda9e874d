//! Summaries of audit logs for reviewers: per identity and route, what was allowed, denied or
//! would have been, which just-in-time grants were used and by whose approval, how much card
//! data was masked, and what to look at first.
//!
//! The flags are what PCI DSS 10.4.1.1 expects an automated daily review to raise: bursts of
//! denials and rises in masked card data (the traffic, here), and, from the trail itself
//! (`trail.rs`): gaps and truncations found by `verify`, failed security controls, policy
//! digest changes, grants used outside their window or after their revocation.
//!
//! Streaming: [`Review::push`] takes one event at a time and keeps counters, not events, so a
//! year of logs fits in memory as long as identities × routes do.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Denials by one identity within [`BURST_WINDOW_SECS`] that make a burst.
pub const BURST_DENIALS: usize = 5;
pub const BURST_WINDOW_SECS: i64 = 60;
/// An hour whose masked PANs exceed this multiple of the identity's earlier hourly mean (and
/// [`RISE_MIN_PANS`]) is flagged.
pub const RISE_FACTOR: u64 = 3;
pub const RISE_MIN_PANS: u64 = 20;

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub allowed: u64,
    pub denied: u64,
    pub would_deny: u64,
    pub pan_masked: u64,
    pub cvv_masked: u64,
    pub track_masked: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Flag {
    pub kind: &'static str,
    pub identity: String,
    pub detail: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Request events reviewed.
    pub events: u64,
    /// The VM's own records (start, heartbeat, checkpoint, control failure, end) and other
    /// services' events (approvals) reviewed.
    pub records: u64,
    pub first: Option<String>,
    pub last: Option<String>,
    /// Keyed `identity` → `route` → counts.
    pub by_identity: BTreeMap<String, BTreeMap<String, Counts>>,
    /// Keyed `identity` → operation (`jsonrpc tools/call refund_payment`,
    /// `graphql mutation RefundPayment`) → counts, for requests whose body was read.
    pub operations: BTreeMap<String, BTreeMap<String, Counts>>,
    /// Every just-in-time grant seen in the proxy logs or the approvals logs.
    pub grants: Vec<GrantUse>,
    pub flags: Vec<Flag>,
}

#[derive(Default)]
pub struct Review {
    since: Option<String>,
    until: Option<String>,
    report: Report,
    grants: grants::Grants,
    /// Recent denial times per identity (seconds), for burst detection.
    denials: BTreeMap<String, Vec<i64>>,
    burst_flagged: BTreeSet<String>,
    /// identity → hour → PANs masked.
    pans_by_hour: BTreeMap<String, BTreeMap<i64, u64>>,
    trail: trail::Trail,
    pub skipped: u64,
}

fn s(v: &serde_json::Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// Seconds since the epoch of an RFC 3339 UTC time as the filter writes it.
pub fn parse_time(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from civil (Howard Hinnant).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se)
}

impl Review {
    /// `since`/`until`: RFC 3339 times or dates (`2026-11-27`), compared as written.
    pub fn new(since: Option<String>, until: Option<String>) -> Self {
        Self {
            since,
            until,
            ..Default::default()
        }
    }

    pub fn push(&mut self, e: &serde_json::Value) {
        let Some(time) = s(&e["time"]) else {
            self.skipped += 1;
            return;
        };
        if self
            .since
            .as_ref()
            .is_some_and(|t| time.as_str() < t.as_str())
            || self
                .until
                .as_ref()
                .is_some_and(|t| time.as_str() > t.as_str())
        {
            return;
        }
        match e["kind"].as_str() {
            None => self.trail.policy(e, &time, &mut self.report.flags),
            Some(kind) => {
                if kind == "approvals" {
                    self.grants.approvals(e, &time);
                }
                return self.trail.push(e, &time, &mut self.report);
            }
        }
        let r = &mut self.report;
        r.events += 1;
        if r.first.as_ref().is_none_or(|f| &time < f) {
            r.first = Some(time.clone());
        }
        if r.last.as_ref().is_none_or(|l| &time > l) {
            r.last = Some(time.clone());
        }
        let identity = s(&e["identity"]["sub"])
            .map(|sub| match s(&e["identity"]["provider"]) {
                Some(p) => format!("{p}/{sub}"),
                None => sub,
            })
            .unwrap_or_else(|| "(anonymous)".to_string());
        let route = s(&e["request"]["route"]).unwrap_or_else(|| "(no route)".to_string());
        let c = r
            .by_identity
            .entry(identity.clone())
            .or_default()
            .entry(route)
            .or_default();
        let result = e["decision"]["result"].as_str().unwrap_or("");
        match result {
            "allow" => c.allowed += 1,
            "deny" => c.denied += 1,
            "would_deny" => c.would_deny += 1,
            _ => {}
        }
        let red = &e["redaction"];
        let pans = red["pan"].as_u64().unwrap_or(0);
        c.pan_masked += pans;
        c.cvv_masked += red["cvv"].as_u64().unwrap_or(0);
        c.track_masked += red["track"].as_u64().unwrap_or(0);

        let secs = parse_time(&time).unwrap_or(0);
        if pans > 0 {
            *self
                .pans_by_hour
                .entry(identity.clone())
                .or_default()
                .entry(secs / 3600)
                .or_default() += pans;
        }
        if result == "deny" {
            self.denial(&identity, secs, &time);
        }
        operations::count(&mut self.report.operations, &identity, e, result);
        self.grants
            .proxy(&identity, e, &time, &mut self.report.flags);
    }

    fn denial(&mut self, identity: &str, secs: i64, time: &str) {
        let times = self.denials.entry(identity.to_string()).or_default();
        times.push(secs);
        times.retain(|t| secs - t < BURST_WINDOW_SECS);
        if times.len() >= BURST_DENIALS && self.burst_flagged.insert(identity.to_string()) {
            self.report.flags.push(Flag {
                kind: "denial_burst",
                identity: identity.to_string(),
                detail: format!(
                    "{} denials within {BURST_WINDOW_SECS} s, up to {time}",
                    times.len()
                ),
            });
        }
    }

    pub fn finish(mut self) -> Report {
        for (identity, hours) in &self.pans_by_hour {
            let mut total = 0u64;
            for (seen, (hour, &n)) in (0u64..).zip(hours) {
                // The first hour has nothing before it to rise from.
                if let Some(mean) = total.checked_div(seen) {
                    if n >= RISE_MIN_PANS && n > RISE_FACTOR * mean.max(1) {
                        self.report.flags.push(Flag {
                            kind: "masked_pan_rise",
                            identity: identity.clone(),
                            detail: format!(
                                "{n} card numbers masked in the hour from {}, against {mean} per hour before",
                                super::rfc3339_millis((*hour as u64) * 3_600_000)
                            ),
                        });
                    }
                }
                total += n;
            }
        }
        self.report.grants = self.grants.finish(&mut self.report.flags);
        self.report
            .flags
            .sort_by(|a, b| (a.kind, &a.identity).cmp(&(b.kind, &b.identity)));
        self.report
    }
}

mod grants;
mod operations;
mod text;
mod trail;

pub use grants::{Approval, GrantUse};

#[cfg(test)]
mod tests;
