//! The `approvals` section: the approvals service's issuer, the providers it accepts, the
//! groups claim, how long requests wait and where it notifies, and (`grants.rs`) how the
//! filter checks the grants it signs. Provider names resolve to indices here, as routes' do.

use super::Compiler;
use crate::policy::model::{Approvals, Webhook, WebhookUrl};
use crate::policy::spec::ApprovalsSpec;

/// What a request waits for its approvals when the policy does not say.
pub const DEFAULT_PENDING_TTL_SECONDS: u64 = 3600;
/// Longest justification when the policy does not say.
pub const DEFAULT_MAX_JUSTIFICATION_BYTES: usize = 1024;
/// Longest justification a policy may allow: it goes into grants, events and notifications.
pub const MAX_JUSTIFICATION_BYTES: usize = 16 * 1024;
/// The grants' `aud` when the policy does not say.
pub const DEFAULT_GRANT_AUDIENCE: &str = "pci-guard";
/// Where the service files access requests, under the issuer.
pub const REQUESTS_PATH: &str = "/v1/requests";
/// Events a webhook can receive.
pub const WEBHOOK_EVENTS: [&str; 6] = [
    "filed",
    "approved",
    "denied",
    "expired",
    "revoked",
    "grant_issued",
];

impl Compiler {
    /// `token_headers`: where providers read access tokens (the grant header must differ).
    pub(super) fn approvals(
        &mut self,
        a: ApprovalsSpec,
        providers: &[&str],
        token_headers: &[&str],
    ) -> Approvals {
        let at = "/approvals";
        if !(a.issuer.starts_with("https://") || a.issuer.starts_with("http://"))
            || a.issuer.ends_with('/')
        {
            self.err(
                format!("{at}/issuer"),
                format!(
                    "{:?}: the service's base URL, http(s)://host[:port][/path], without a final '/'",
                    a.issuer
                ),
            );
        }
        let audience = a
            .audience
            .unwrap_or_else(|| DEFAULT_GRANT_AUDIENCE.to_string());
        if audience.is_empty() {
            self.err(format!("{at}/audience"), "must not be empty");
        }
        if a.providers.is_empty() {
            self.err(
                format!("{at}/providers"),
                "name the providers whose tokens requesters and approvers sign in with",
            );
        }
        let provider_idx = a
            .providers
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let found = providers.iter().position(|p| p == n);
                if found.is_none() {
                    self.err(
                        format!("{at}/providers/{i}"),
                        format!(
                            "unknown provider {n:?}; known providers: {}",
                            providers.join(", ")
                        ),
                    );
                }
                found
            })
            .collect();
        if a.groups_claim.as_deref().is_some_and(str::is_empty) {
            self.err(format!("{at}/groups_claim"), "must name a claim");
        }
        let pending_ttl_seconds = self.duration_ms(
            &format!("{at}/pending_ttl"),
            a.pending_ttl.as_deref(),
            DEFAULT_PENDING_TTL_SECONDS * 1000,
        ) / 1000;
        if pending_ttl_seconds == 0 {
            self.err(format!("{at}/pending_ttl"), "must be at least 1s");
        }
        let max_justification_bytes = a
            .max_justification_bytes
            .unwrap_or(DEFAULT_MAX_JUSTIFICATION_BYTES);
        if max_justification_bytes == 0 || max_justification_bytes > MAX_JUSTIFICATION_BYTES {
            self.err(
                format!("{at}/max_justification_bytes"),
                format!("must be between 1 and {MAX_JUSTIFICATION_BYTES}"),
            );
        }
        let webhooks = a
            .webhooks
            .into_iter()
            .enumerate()
            .filter_map(|(i, w)| {
                let at = format!("{at}/webhooks/{i}");
                let events = w.events.unwrap_or_default();
                for (j, e) in events.iter().enumerate() {
                    if !WEBHOOK_EVENTS.contains(&e.as_str()) {
                        self.err(
                            format!("{at}/events/{j}"),
                            format!("unknown event {e:?}; events: {}", WEBHOOK_EVENTS.join(", ")),
                        );
                    }
                }
                let url = match (w.url, w.url_env) {
                    (Some(u), None) => {
                        if !(u.starts_with("https://") || u.starts_with("http://")) {
                            self.err(format!("{at}/url"), "must be an http(s) URL");
                        }
                        WebhookUrl::Literal(u)
                    }
                    (None, Some(v)) if !v.is_empty() => WebhookUrl::Env(v),
                    _ => {
                        self.err(at, "give either \"url\" or \"url_env\"");
                        return None;
                    }
                };
                Some(Webhook { url, events })
            })
            .collect();
        let grants = a
            .grants
            .map(|g| self.grants(g, &a.issuer, providers, token_headers));
        Approvals {
            grants,
            requests_url: format!("{}{REQUESTS_PATH}", a.issuer),
            issuer: a.issuer,
            audience,
            providers: provider_idx,
            groups_claim: a.groups_claim,
            pending_ttl_seconds,
            max_justification_bytes,
            webhooks,
        }
    }
}
