//! Who is calling: bearer tokens verified by the filter's own code
//! (`pci_guard_core::identity::authenticate`) against the providers the policy's `approvals`
//! section names, with a [`Keyring`] built from the same policy. Remote key sets are fetched
//! here ([`Authn::fetch_keys`]) and handed to the key stores, as the plugin does through Envoy.
//!
//! A caller is a [`Person`] (exact issuer and subject) plus the groups its token lists. A
//! token without `iss` or `sub`, or with an empty one, can neither request nor approve.

use crate::error::Error;
use crate::model::Person;
use axum::http::HeaderMap;
use pci_guard_core::identity::signature::PureVerifier;
use pci_guard_core::identity::{authenticate, Keyring, Verified};
use pci_guard_core::policy::Policy;
use pci_guard_core::reason::Reason;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Most groups read from a token.
pub const MAX_GROUPS: usize = 256;

/// A verified caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub person: Person,
    /// The policy's name of the provider that vouched for it.
    pub provider: String,
    /// Values of the policy's `approvals.groups_claim` (strings only, exactly as written).
    pub groups: Vec<String>,
}

pub struct Authn {
    policy: Arc<Policy>,
    providers: Vec<usize>,
    groups_claim: Option<String>,
    keyring: Mutex<Keyring>,
}

impl Authn {
    pub fn new(policy: Arc<Policy>) -> Self {
        let (providers, groups_claim) = policy
            .approvals
            .as_ref()
            .map(|a| (a.providers.clone(), a.groups_claim.clone()))
            .unwrap_or_default();
        let keyring = Mutex::new(Keyring::new(&policy.providers, 0));
        Self {
            policy,
            providers,
            groups_claim,
            keyring,
        }
    }

    /// The caller of an API call (its `Authorization: Bearer` token, or whichever header the
    /// provider reads tokens from).
    pub fn caller(&self, headers: &HeaderMap, now: u64) -> Result<Caller, Error> {
        let pairs: Vec<(String, String)> = headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        self.verify_pairs(&pairs, now)
    }

    /// The caller a bare token names (RFC 8693's `subject_token`): presented to each provider
    /// the way that provider reads tokens.
    pub fn caller_of_token(&self, token: &str, now: u64) -> Result<Caller, Error> {
        let mut pairs = Vec::new();
        for &i in &self.providers {
            if let Some(p) = self.policy.providers.get(i) {
                for s in &p.sources {
                    pairs.push((s.header.clone(), format!("{}{token}", s.prefix)));
                }
            }
        }
        self.verify_pairs(&pairs, now)
    }

    fn verify_pairs(&self, pairs: &[(String, String)], now: u64) -> Result<Caller, Error> {
        let verified = {
            let mut keyring = self
                .keyring
                .lock()
                .map_err(|_| Error::Internal("key state poisoned"))?;
            authenticate(
                &self.policy.providers,
                &self.providers,
                pairs,
                now,
                &mut keyring,
                &PureVerifier,
            )
        };
        let v = verified.map_err(|r| match r {
            Reason::TokenBadAudience => Error::forbidden(
                "token_bad_audience",
                "the access token is not meant for this service's providers",
            ),
            r => Error::Unauthenticated(r),
        })?;
        self.to_caller(&v)
    }

    fn to_caller(&self, v: &Verified) -> Result<Caller, Error> {
        let id = &v.identity;
        let person = Person::new(
            id.iss.as_deref().unwrap_or(""),
            id.sub.as_deref().unwrap_or(""),
        )
        .ok_or_else(|| {
            Error::forbidden(
                "token_without_subject",
                "the access token has no issuer or subject: it names nobody who could request or approve",
            )
        })?;
        let groups = match self.groups_claim.as_ref().and_then(|c| id.claims.get(c)) {
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(|g| g.as_str())
                .filter(|g| !g.is_empty())
                .take(MAX_GROUPS)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        Ok(Caller {
            person,
            provider: id.provider.clone(),
            groups,
        })
    }

    /// Polls every remote provider's key set as its key store asks (refresh, backoff,
    /// unknown `kid`), for ever. `urls`: provider index → JWKS URL.
    pub async fn fetch_keys(self: Arc<Self>, urls: Vec<(usize, String)>) {
        if urls.is_empty() {
            return;
        }
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("pci-guard-approvals: no HTTP client for key fetches: {e}");
                return;
            }
        };
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            for (i, url) in &urls {
                let now = crate::time::now();
                let due = match self.keyring.lock() {
                    Ok(mut k) => match k.store_mut(*i) {
                        Some(s) if s.should_fetch(now) => {
                            s.on_fetch_start(now);
                            true
                        }
                        _ => false,
                    },
                    Err(_) => return,
                };
                if !due {
                    continue;
                }
                let body = match client.get(url).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.ok(),
                    _ => None,
                };
                let now = crate::time::now();
                let Ok(mut k) = self.keyring.lock() else {
                    return;
                };
                if let Some(s) = k.store_mut(*i) {
                    match body {
                        Some(b) => {
                            if let Err(e) = s.on_fetch_ok(&b, now) {
                                eprintln!("pci-guard-approvals: {url}: not a usable JWKS: {e}");
                            }
                        }
                        None => {
                            eprintln!("pci-guard-approvals: {url}: key fetch failed");
                            s.on_fetch_err(now);
                        }
                    }
                }
            }
        }
    }
}
