//! The policy: parsed from JSON, validated with errors that name the field (as a JSON
//! pointer), and compiled once into immutable structures the request path only reads.
//!
//! [`Policy::parse`] is the one entry point: the plugin calls it in `on_configure`, the
//! `pci-guard` command in `policy check` and `explain`. A policy that does not pass is never
//! half-applied: the caller gets every error found, and the plugin refuses to start.

mod duration;
pub mod lint;
pub mod spec;

use crate::identity::extract::TokenSource;
use crate::identity::provider::SubjectMatch;
use crate::identity::Alg;
use crate::identity::KeySet;
pub use crate::identity::{KeySource, Provider, ProviderConfig, RemoteJwks};
use crate::redact::{self, BrandSet, CvvKeys, RedactOptions};
use crate::routes::{GrpcMatch, Matcher, PathMatch};
use spec::*;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

pub use spec::{DefaultAction, Keep, Mode, NoncanonicalPaths, RuleAction};

/// Largest policy document accepted, in bytes. A policy is configuration, but a generated one
/// can grow unnoticed, and each VM holds it in memory.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;
/// Most routes in a policy: every request walks the list (first match wins).
pub const MAX_ROUTES: usize = 1024;
/// Most operation rules in a policy: every request walks the list.
pub const MAX_RULES: usize = 1024;
/// Most identity providers: each may hold a key set (at most `jwks::MAX_KEYS` keys).
pub const MAX_PROVIDERS: usize = 32;

/// One thing wrong with a policy, at a place in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// JSON pointer (RFC 6901) of the offending field; empty for the whole document.
    pub pointer: String,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "(document)"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// Every error found in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

/// A validated, compiled policy. Immutable once built; shared by every request of a VM.
#[derive(Debug)]
pub struct Policy {
    pub version: String,
    /// `sha256:<hex>` of the policy's canonical JSON (keys sorted, no whitespace), so an
    /// auditor can tell which policy decided a request.
    pub digest: String,
    pub mode: Mode,
    pub default: DefaultAction,
    pub noncanonical_paths: NoncanonicalPaths,
    pub providers: Vec<Provider>,
    pub jit_claim: String,
    pub rules: Vec<Rule>,
    pub routes: Vec<Route>,
    pub redaction: Redaction,
    pub audit: Audit,
}

#[derive(Debug)]
pub enum Auth {
    Public,
    /// Indices into [`Policy::providers`]; any one may vouch for the caller.
    AnyOf(Vec<usize>),
}

#[derive(Debug)]
pub struct Route {
    pub name: String,
    pub matcher: Matcher,
    pub auth: Auth,
    pub scopes: Vec<String>,
    pub jit: Option<JitRequirement>,
    pub redact: bool,
    pub skip_content_types: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct JitRequirement {
    pub max_ttl_seconds: u64,
    pub min_approvals: u32,
    pub approvers: Option<Vec<String>>,
}

#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub action: RuleAction,
    pub matcher: Matcher,
    pub message: Option<String>,
    pub scopes: Vec<String>,
    pub jit: JitRequirement,
    pub dry_run: bool,
}

#[derive(Debug)]
pub struct Redaction {
    pub enabled: bool,
    /// The compiled engine options, shared by every stream.
    pub options: Arc<RedactOptions>,
    pub skip_content_types: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Audit {
    pub chain_secret_env: Option<String>,
}

/// Brand names accepted in `redaction.pan.brands`.
pub const BRANDS: [&str; 9] = [
    "visa",
    "mastercard",
    "amex",
    "discover",
    "jcb",
    "diners",
    "unionpay",
    "maestro",
    "mir",
];

/// Signature algorithms a provider may list.
pub const ALGORITHMS: [&str; 12] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256",
    "HS384", "HS512",
];

pub const DEFAULT_SKIP_CONTENT_TYPES: [&str; 4] =
    ["image/*", "audio/*", "video/*", "application/octet-stream"];

const DEFAULT_JWKS_REFRESH_MS: u64 = 5 * 60_000;
const DEFAULT_JWKS_TIMEOUT_MS: u64 = 2_000;
const DEFAULT_JWKS_MAX_STALE_MS: u64 = 60 * 60_000;

impl Policy {
    /// Whether any route or rule matches on Envoy's route name: if none does, the filter
    /// need not ask the host for it on every request.
    #[must_use]
    pub fn matches_route_names(&self) -> bool {
        self.routes
            .iter()
            .map(|r| &r.matcher)
            .chain(self.rules.iter().map(|r| &r.matcher))
            .any(|m| m.route_name.is_some())
    }

    /// Parses, validates and compiles a policy from its JSON text.
    pub fn parse(json: &[u8]) -> Result<Policy, PolicyErrors> {
        if json.len() > MAX_POLICY_BYTES {
            return Err(PolicyErrors(vec![PolicyError {
                pointer: String::new(),
                message: format!(
                    "the policy is {} bytes, more than the {MAX_POLICY_BYTES} allowed",
                    json.len()
                ),
            }]));
        }
        let value: serde_json::Value = serde_json::from_slice(json).map_err(|e| {
            PolicyErrors(vec![PolicyError {
                pointer: String::new(),
                message: format!("not valid JSON: {e}"),
            }])
        })?;
        Self::from_value(&value)
    }

    /// Compiles a policy already parsed as JSON (e.g. converted from YAML).
    pub fn from_value(value: &serde_json::Value) -> Result<Policy, PolicyErrors> {
        let spec: PolicySpec = serde_path_to_error::deserialize(value).map_err(|e| {
            let pointer = pointer_of(e.path());
            let message = strip_position(&e.inner().to_string());
            PolicyErrors(vec![PolicyError { pointer, message }])
        })?;
        // serde_json's map keeps keys sorted, so this is the canonical form.
        let canonical = serde_json::to_vec(value).unwrap_or_default();
        let digest = crate::digest::sha256(&canonical);
        Compiler::default().compile(spec, digest)
    }
}

impl Policy {
    /// Reads the shared secrets that `hmac_secret_env` names, through `env` (the VM's or the
    /// shell's environment). A named variable that is missing or too short is an error: a
    /// provider must never silently run without the secret it was configured with.
    pub fn resolve_secrets(
        &mut self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(), PolicyErrors> {
        let mut errors = Vec::new();
        for p in &mut self.providers {
            let Some(var) = &p.hmac_secret_env else {
                continue;
            };
            let at = format!(
                "/providers/{}/hmac_secret_env",
                p.name.replace('~', "~0").replace('/', "~1")
            );
            match env(var) {
                Some(v) if !v.is_empty() => p.config.hmac_secret = Some(v.into_bytes()),
                _ => {
                    errors.push(PolicyError {
                        pointer: at,
                        message: format!("the environment variable {var} is not set"),
                    });
                    continue;
                }
            }
            for problem in p.config.problems() {
                errors.push(PolicyError {
                    pointer: at.clone(),
                    message: format!("{}: {}", problem.field, problem.message),
                });
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PolicyErrors(errors))
        }
    }
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut p = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => p.push_str(&format!("/{index}")),
            Segment::Map { key } => {
                p.push('/');
                p.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    p
}

/// serde_json appends " at line L column C", which means nothing for a policy that came
/// through Istio's `pluginConfig`: the pointer says where.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Collects every error instead of stopping at the first.
#[derive(Default)]
struct Compiler {
    errors: Vec<PolicyError>,
}

impl Compiler {
    fn err(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.errors.push(PolicyError {
            pointer: pointer.into(),
            message: message.into(),
        });
    }

    fn duration_ms(&mut self, at: &str, s: Option<&str>, default: u64) -> u64 {
        match s {
            None => default,
            Some(s) => match duration::parse_millis(s) {
                Some(ms) if ms > 0 => ms,
                _ => {
                    self.err(
                        at,
                        format!("{s:?} is not a duration: use {}", duration::FORMS),
                    );
                    default
                }
            },
        }
    }

    fn compile(mut self, spec: PolicySpec, digest: String) -> Result<Policy, PolicyErrors> {
        if spec.version.trim().is_empty() {
            self.err("/version", "must not be empty: name this policy revision");
        }
        for (at, n, max) in [
            ("/routes", spec.routes.len(), MAX_ROUTES),
            ("/rules", spec.rules.len(), MAX_RULES),
            ("/providers", spec.providers.len(), MAX_PROVIDERS),
        ] {
            if n > max {
                self.err(at, format!("{n} entries, more than the {max} allowed"));
            }
        }
        let providers: Vec<Provider> = spec
            .providers
            .into_iter()
            .map(|(name, p)| self.provider(name, p))
            .collect();
        let names: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();

        let mut rule_ids = HashSet::new();
        let rules: Vec<Rule> = spec
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let at = format!("/rules/{i}");
                if !rule_ids.insert(r.id.clone()) {
                    self.err(format!("{at}/id"), format!("duplicate rule id {:?}", r.id));
                }
                self.rule(&at, r)
            })
            .collect();

        let mut route_names = HashSet::new();
        let routes: Vec<Route> = spec
            .routes
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let at = format!("/routes/{i}");
                if !route_names.insert(r.name.clone()) {
                    self.err(
                        format!("{at}/name"),
                        format!("duplicate route name {:?}", r.name),
                    );
                }
                self.route(&at, r, &names)
            })
            .collect();

        let redaction = self.redaction(spec.redaction);
        if spec.jit.claim.is_empty() {
            self.err(
                "/jit/claim",
                "must name the token claim that carries grants",
            );
        }
        if !self.errors.is_empty() {
            return Err(PolicyErrors(self.errors));
        }
        Ok(Policy {
            version: spec.version,
            digest,
            mode: spec.mode,
            default: spec.default,
            noncanonical_paths: spec.noncanonical_paths,
            providers,
            jit_claim: spec.jit.claim,
            rules,
            routes,
            redaction,
            audit: Audit {
                chain_secret_env: spec.audit.chain_secret_env,
            },
        })
    }

    fn provider(&mut self, name: String, p: ProviderSpec) -> Provider {
        let at = format!("/providers/{}", name.replace('~', "~0").replace('/', "~1"));
        if p.issuer.is_empty() {
            self.err(format!("{at}/issuer"), "must not be empty");
        }
        let keys = match (p.jwks, p.remote_jwks) {
            (Some(inline), None) => match KeySet::from_json(&inline) {
                Ok(ks) => KeySource::Inline(Arc::new(ks)),
                Err(e) => {
                    self.err(
                        format!("{at}/jwks"),
                        format!("not a usable JSON Web Key Set: {e}"),
                    );
                    KeySource::Inline(Arc::new(KeySet::from_keys(Vec::new())))
                }
            },
            (None, Some(r)) => {
                let ra = format!("{at}/remote_jwks");
                for (field, v) in [("cluster", &r.cluster), ("authority", &r.authority)] {
                    if v.is_empty() {
                        self.err(format!("{ra}/{field}"), "must not be empty");
                    }
                }
                if !r.path.starts_with('/') {
                    self.err(format!("{ra}/path"), "must start with '/'");
                }
                let refresh_ms = self.duration_ms(
                    &format!("{ra}/refresh"),
                    r.refresh.as_deref(),
                    DEFAULT_JWKS_REFRESH_MS,
                );
                let timeout_ms = self.duration_ms(
                    &format!("{ra}/timeout"),
                    r.timeout.as_deref(),
                    DEFAULT_JWKS_TIMEOUT_MS,
                );
                let max_stale_ms = self.duration_ms(
                    &format!("{ra}/max_stale"),
                    r.max_stale.as_deref(),
                    DEFAULT_JWKS_MAX_STALE_MS,
                );
                KeySource::Remote(RemoteJwks {
                    cluster: r.cluster,
                    authority: r.authority,
                    path: r.path,
                    refresh_ms,
                    timeout_ms,
                    max_stale_ms,
                })
            }
            (Some(_), Some(_)) => {
                self.err(
                    at.clone(),
                    "give either \"jwks\" or \"remote_jwks\", not both",
                );
                KeySource::Inline(Arc::new(KeySet::from_keys(Vec::new())))
            }
            (None, None) => {
                self.err(
                    at.clone(),
                    "needs keys: \"jwks\" (inline) or \"remote_jwks\"",
                );
                KeySource::Inline(Arc::new(KeySet::from_keys(Vec::new())))
            }
        };
        let algorithms: Vec<Alg> = match p.algorithms {
            None => Alg::DEFAULT_ALLOWED.to_vec(),
            Some(list) => {
                if list.is_empty() {
                    self.err(
                        format!("{at}/algorithms"),
                        "must list at least one algorithm",
                    );
                }
                let mut algs = Vec::new();
                for (i, a) in list.iter().enumerate() {
                    match Alg::from_name(a).filter(|_| ALGORITHMS.contains(&a.as_str())) {
                        None => self.err(
                            format!("{at}/algorithms/{i}"),
                            format!(
                                "unknown algorithm {a:?}; allowed: {}",
                                ALGORITHMS.join(", ")
                            ),
                        ),
                        Some(alg) if alg.is_hmac() && p.hmac_secret_env.is_none() => self.err(
                            format!("{at}/algorithms/{i}"),
                            format!("{a} needs a shared secret: set \"hmac_secret_env\""),
                        ),
                        Some(alg) => algs.push(alg),
                    }
                }
                let hmac = algs.iter().filter(|a| a.is_hmac()).count();
                if hmac > 0 && hmac < algs.len() {
                    self.err(
                        format!("{at}/algorithms"),
                        "mixes HS* with public-key algorithms; use one provider for each",
                    );
                }
                algs
            }
        };
        if p.hmac_secret_env.is_some() && !algorithms.iter().any(|a| a.is_hmac()) {
            self.err(
                format!("{at}/hmac_secret_env"),
                "a shared secret is set but no HS* algorithm is listed",
            );
        }
        if p.clock_skew_seconds > 300 {
            self.err(
                format!("{at}/clock_skew_seconds"),
                "at most 300: a larger skew keeps expired tokens alive",
            );
        }
        let sources = match p.from_headers {
            None => vec![TokenSource::bearer()],
            Some(list) => {
                if list.is_empty() {
                    self.err(
                        format!("{at}/from_headers"),
                        "must name at least one header",
                    );
                }
                list.into_iter()
                    .enumerate()
                    .map(|(i, h)| {
                        if !is_header_name(&h.name) {
                            self.err(
                                format!("{at}/from_headers/{i}/name"),
                                format!("{:?} is not a valid header name", h.name),
                            );
                        }
                        TokenSource::new(h.name, h.prefix)
                    })
                    .collect()
            }
        };
        let claim_to_headers = p
            .claim_to_headers
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if !is_header_name(&c.header) {
                    self.err(
                        format!("{at}/claim_to_headers/{i}/header"),
                        format!("{:?} is not a valid header name", c.header),
                    );
                }
                (c.claim, c.header.to_ascii_lowercase())
            })
            .collect();
        let max_lifetime_seconds = p
            .max_lifetime
            .as_deref()
            .map(|s| self.duration_ms(&format!("{at}/max_lifetime"), Some(s), 0) / 1000);
        let config = ProviderConfig {
            name: name.clone(),
            issuer: p.issuer,
            audiences: p.audiences,
            subjects: p.subjects.map(|s| SubjectMatch {
                exact: s.exact,
                prefixes: s.prefixes,
            }),
            clock_skew_seconds: p.clock_skew_seconds,
            require_expiration: p.require_expiration,
            max_lifetime_seconds,
            algorithms,
            hmac_secret: None,
        };
        Provider {
            name,
            config,
            sources,
            keys,
            hmac_secret_env: p.hmac_secret_env,
            claim_to_headers,
            forward_token: p.forward_token,
        }
    }

    fn matcher(&mut self, at: &str, m: MatchSpec) -> Matcher {
        let at = format!("{at}/match");
        let methods = m
            .methods
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, meth)| {
                if meth.is_empty() || !meth.bytes().all(|b| b.is_ascii_alphabetic()) {
                    self.err(
                        format!("{at}/methods/{i}"),
                        format!("{meth:?} is not an HTTP method"),
                    );
                }
                meth.to_ascii_uppercase()
            })
            .collect();
        let path = match (m.path, m.path_prefix) {
            (Some(_), Some(_)) => {
                self.err(
                    at.clone(),
                    "give either \"path\" or \"path_prefix\", not both",
                );
                None
            }
            (Some(t), None) => match PathMatch::template(&t) {
                Ok(p) => Some(p),
                Err(e) => {
                    self.err(format!("{at}/path"), format!("{t:?}: {e}"));
                    None
                }
            },
            (None, Some(p)) => {
                if !p.starts_with('/') {
                    self.err(format!("{at}/path_prefix"), "must start with '/'");
                }
                Some(PathMatch::Prefix(p))
            }
            (None, None) => None,
        };
        let grpc = m.grpc.and_then(|g| {
            let parsed = GrpcMatch::parse(&g);
            if parsed.is_none() {
                self.err(
                    format!("{at}/grpc"),
                    format!("{g:?} is not \"package.Service/Method\" or \"package.Service/*\""),
                );
            }
            parsed
        });
        Matcher {
            methods,
            path,
            grpc,
            route_name: m.route_name,
        }
    }

    fn jit_requirement(
        &mut self,
        at: &str,
        max_ttl: Option<&str>,
        min_approvals: u32,
        approvers: Option<Vec<String>>,
    ) -> JitRequirement {
        let max_ttl_seconds = match max_ttl {
            Some(s) => self.duration_ms(&format!("{at}/max_ttl"), Some(s), 0) / 1000,
            None => {
                self.err(
                    format!("{at}/max_ttl"),
                    "a just-in-time grant needs a maximum duration",
                );
                0
            }
        };
        if min_approvals == 0 {
            self.err(format!("{at}/min_approvals"), "must be at least 1");
        }
        if approvers.as_ref().is_some_and(|a| a.is_empty()) {
            self.err(
                format!("{at}/approvers"),
                "must not be empty; omit it to allow any approver",
            );
        }
        JitRequirement {
            max_ttl_seconds,
            min_approvals,
            approvers,
        }
    }

    fn rule(&mut self, at: &str, r: RuleSpec) -> Rule {
        if r.id.is_empty() {
            self.err(format!("{at}/id"), "must not be empty");
        }
        let matcher = self.matcher(at, r.matcher);
        let jit = match r.action {
            RuleAction::RequireApproval => {
                if r.scopes.is_empty() {
                    self.err(
                        format!("{at}/scopes"),
                        "a require_approval rule must name the scopes its grant must cover",
                    );
                }
                self.jit_requirement(
                    at,
                    r.max_ttl.as_deref(),
                    r.min_approvals.unwrap_or(1),
                    r.approvers,
                )
            }
            RuleAction::Deny => {
                for f in [
                    ("max_ttl", r.max_ttl.is_some()),
                    ("min_approvals", r.min_approvals.is_some()),
                    ("approvers", r.approvers.is_some()),
                ] {
                    if f.1 {
                        self.err(
                            format!("{at}/{}", f.0),
                            "only applies to require_approval rules",
                        );
                    }
                }
                JitRequirement {
                    max_ttl_seconds: 0,
                    min_approvals: 0,
                    approvers: None,
                }
            }
        };
        Rule {
            id: r.id,
            action: r.action,
            matcher,
            message: r.message,
            scopes: r.scopes,
            jit,
            dry_run: r.dry_run,
        }
    }

    fn route(&mut self, at: &str, r: RouteSpec, providers: &[&str]) -> Route {
        if r.name.is_empty() {
            self.err(format!("{at}/name"), "must not be empty");
        }
        let matcher = self.matcher(at, r.matcher);
        let auth = match r.auth {
            AuthSpec::Public => {
                if !r.scopes.is_empty() || r.jit.is_some() {
                    self.err(
                        format!("{at}/auth"),
                        "a public route cannot require scopes or grants",
                    );
                }
                Auth::Public
            }
            AuthSpec::AnyOf(list) => {
                if list.is_empty() {
                    self.err(
                        format!("{at}/auth"),
                        "name at least one provider, or use \"public\"",
                    );
                }
                let idx = list
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| {
                        let found = providers.iter().position(|p| p == n);
                        if found.is_none() {
                            let known = if providers.is_empty() {
                                "none are defined under \"providers\"".to_string()
                            } else {
                                format!("known providers: {}", providers.join(", "))
                            };
                            self.err(
                                format!("{at}/auth/{i}"),
                                format!("unknown provider {n:?}; {known}"),
                            );
                        }
                        found
                    })
                    .collect();
                Auth::AnyOf(idx)
            }
        };
        let jit = r.jit.and_then(|j| {
            let req = self.jit_requirement(
                &format!("{at}/jit"),
                Some(&j.max_ttl),
                j.min_approvals,
                j.approvers,
            );
            j.required.then_some(req)
        });
        if jit.is_some() && r.scopes.is_empty() {
            self.err(
                format!("{at}/scopes"),
                "a route that requires a grant must name the scopes the grant covers",
            );
        }
        let (redact, skip) = match r.redaction {
            None => (true, Vec::new()),
            Some(rr) => (rr.enabled, rr.skip_content_types.unwrap_or_default()),
        };
        Route {
            name: r.name,
            matcher,
            auth,
            scopes: r.scopes,
            jit,
            redact,
            skip_content_types: skip,
        }
    }

    fn redaction(&mut self, r: RedactionSpec) -> Redaction {
        let mut options = RedactOptions {
            keep: match r.pan.keep {
                Keep::Last4 => redact::Keep::Last4,
                Keep::First6Last4 => redact::Keep::First6Last4,
                Keep::NoneKept => redact::Keep::NoneKept,
            },
            track_data: r.track_data,
            ..RedactOptions::default()
        };
        match r.pan.mask_char.as_bytes() {
            [c] => options.mask_char = *c,
            _ => self.err(
                "/redaction/pan/mask_char",
                "must be exactly one ASCII character",
            ),
        }
        if let Err(e) = options.validate() {
            self.err("/redaction/pan/mask_char", e.to_string());
            options.mask_char = b'*';
        }
        match r.pan.brands {
            None => {}
            Some(serde_json::Value::String(s)) if s == "all" => {}
            Some(serde_json::Value::Array(list)) if !list.is_empty() => {
                let mut names = Vec::new();
                for (i, b) in list.iter().enumerate() {
                    match b.as_str() {
                        Some(b) if BRANDS.contains(&b) => names.push(b),
                        _ => self.err(
                            format!("/redaction/pan/brands/{i}"),
                            format!("unknown brand {b}; allowed: {}", BRANDS.join(", ")),
                        ),
                    }
                }
                match BrandSet::from_names(&names) {
                    Ok(set) => options.brands = set,
                    Err(e) => self.err("/redaction/pan/brands", e.to_string()),
                }
            }
            Some(_) => self.err(
                "/redaction/pan/brands",
                "must be \"all\" or a non-empty list of brand names",
            ),
        }
        let mut keys: Vec<String> = match r.cvv.keys {
            None => vec!["default".to_string()],
            Some(serde_json::Value::String(s)) if s == "default" => vec!["default".to_string()],
            Some(serde_json::Value::Array(list)) if !list.is_empty() => list
                .iter()
                .enumerate()
                .filter_map(|(i, k)| match k.as_str() {
                    Some(k) if !k.is_empty() => Some(k.to_string()),
                    _ => {
                        self.err(
                            format!("/redaction/cvv/keys/{i}"),
                            "must be a non-empty string",
                        );
                        None
                    }
                })
                .collect(),
            Some(_) => {
                self.err(
                    "/redaction/cvv/keys",
                    "must be \"default\" or a non-empty list of key names",
                );
                vec!["default".to_string()]
            }
        };
        keys.extend(r.cvv.extra_keys);
        match CvvKeys::new(&keys) {
            Ok(k) => options.cvv_keys = k,
            Err(e) => self.err("/redaction/cvv", e.to_string()),
        }
        Redaction {
            enabled: r.enabled,
            options: Arc::new(options),
            skip_content_types: r.skip_content_types.unwrap_or_else(|| {
                DEFAULT_SKIP_CONTENT_TYPES
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            }),
        }
    }
}

fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests;
