use super::*;
use serde_json::json;

fn parse(v: serde_json::Value) -> Result<Policy, PolicyErrors> {
    Policy::from_value(&v)
}

fn errors(v: serde_json::Value) -> Vec<String> {
    parse(v)
        .unwrap_err()
        .0
        .iter()
        .map(|e| e.to_string())
        .collect()
}

fn idp() -> serde_json::Value {
    json!({"issuer": "https://idp.example.com", "audiences": ["payments-api"], "jwks": test_jwks()})
}

#[test]
fn minimal_policy_gets_safe_defaults() {
    let p = parse(json!({"version": "v1"})).unwrap();
    assert_eq!(p.mode, Mode::Enforce);
    assert_eq!(p.default, DefaultAction::Deny);
    assert_eq!(p.jit_claim, "jit");
    assert!(p.redaction.enabled && p.redaction.options.track_data);
    assert_eq!(p.redaction.options.keep, crate::redact::Keep::Last4);
    assert_eq!(p.redaction.skip_content_types.len(), 4);
    assert!(p.digest.starts_with("sha256:") && p.digest.len() == 7 + 64);
}

#[test]
fn unknown_field_is_an_error_naming_its_pointer() {
    let e = errors(
        json!({"version": "v1", "routes": [{"name": "r", "auth": "public", "match": {"metods": ["GET"]}}]}),
    );
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("/routes/0/match/metods: unknown field `metods`"),
        "{}",
        e[0]
    );
}

#[test]
fn unknown_top_level_field_is_rejected() {
    let e = errors(json!({"version": "v1", "rutes": []}));
    assert!(e[0].starts_with("/rutes: unknown field"), "{}", e[0]);
}

#[test]
fn missing_version_is_reported() {
    let e = errors(json!({}));
    assert!(e[0].contains("missing field `version`"), "{}", e[0]);
}

#[test]
fn bad_mode_value_names_the_field_and_allowed_values() {
    let e = errors(json!({"version": "v1", "mode": "audit"}));
    assert!(
        e[0].starts_with("/mode: unknown variant `audit`"),
        "{}",
        e[0]
    );
    assert!(e[0].contains("dry_run"), "{}", e[0]);
}

#[test]
fn unknown_provider_in_route_lists_the_known_ones() {
    let e = errors(json!({"version": "v1", "providers": {"idp": idp()},
        "routes": [{"name": "r", "match": {}, "auth": ["corp"]}]}));
    assert_eq!(
        e,
        vec!["/routes/0/auth/0: unknown provider \"corp\"; known providers: idp"]
    );
}

#[test]
fn every_semantic_error_is_reported_not_just_the_first() {
    let e = errors(json!({"version": "", "routes": [
        {"name": "a", "match": {"path": "cards"}, "auth": "public"},
        {"name": "a", "match": {"methods": ["GE T"]}, "auth": []}
    ]}));
    assert_eq!(e.len(), 5, "{e:#?}");
    assert!(e.iter().any(|x| x.starts_with("/version:")));
    assert!(e.iter().any(|x| x.starts_with("/routes/0/match/path:")));
    assert!(e.iter().any(|x| x.starts_with("/routes/1/name: duplicate")));
    assert!(e
        .iter()
        .any(|x| x.starts_with("/routes/1/match/methods/0:")));
    assert!(e.iter().any(|x| x.starts_with("/routes/1/auth:")));
}

#[test]
fn provider_needs_exactly_one_key_source() {
    let e = errors(json!({"version": "v1", "providers": {"idp": {"issuer": "x"}}}));
    assert_eq!(
        e,
        vec!["/providers/idp: needs keys: \"jwks\" (inline) or \"remote_jwks\""]
    );
}

#[test]
fn shared_secret_algorithms_need_an_explicit_secret() {
    let mut p = idp();
    p["algorithms"] = json!(["RS256", "HS256"]);
    let e = errors(json!({"version": "v1", "providers": {"idp": p}}));
    assert_eq!(
        e,
        vec!["/providers/idp/algorithms/1: HS256 needs a shared secret: set \"hmac_secret_env\""]
    );
}

#[test]
fn alg_none_is_not_an_algorithm() {
    let mut p = idp();
    p["algorithms"] = json!(["none"]);
    let e = errors(json!({"version": "v1", "providers": {"idp": p}}));
    assert!(
        e[0].starts_with("/providers/idp/algorithms/0: unknown algorithm \"none\""),
        "{}",
        e[0]
    );
}

#[test]
fn a_provider_names_its_scope_claims_or_gets_scope_and_scp() {
    let mut entra = idp();
    entra["scope_claims"] = json!(["roles", "scp"]);
    let p = parse(json!({"version": "v1", "providers": {"idp": idp(), "entra": entra}})).unwrap();
    let claims = |name: &str| {
        p.providers
            .iter()
            .find(|x| x.name == name)
            .unwrap()
            .config
            .scope_claims
            .clone()
    };
    assert_eq!(claims("idp"), ["scope", "scp"]);
    assert_eq!(claims("entra"), ["roles", "scp"]);
    for (list, want) in [
        (
            json!([]),
            "/providers/idp/scope_claims: must name at least one claim (leave it out for \"scope\" and \"scp\")",
        ),
        (
            json!(["roles", ""]),
            "/providers/idp/scope_claims/1: must not be empty",
        ),
        (
            json!(["roles", "roles"]),
            "/providers/idp/scope_claims/1: \"roles\" is named twice",
        ),
    ] {
        let mut bad = idp();
        bad["scope_claims"] = list;
        assert_eq!(
            errors(json!({"version": "v1", "providers": {"idp": bad}})),
            vec![want]
        );
    }
}

#[test]
fn remote_jwks_durations_are_parsed_and_checked() {
    let p = parse(json!({"version": "v1", "providers": {"idp": {"issuer": "x",
        "remote_jwks": {"cluster": "idp_jwks", "authority": "idp", "path": "/jwks", "refresh": "30s", "max_stale": "2h"}}}}))
    .unwrap();
    match &p.providers[0].keys {
        KeySource::Remote(r) => {
            assert_eq!(
                (r.refresh_ms, r.timeout_ms, r.max_stale_ms),
                (30_000, 2_000, 7_200_000)
            )
        }
        KeySource::Inline(_) => panic!("expected remote keys"),
    }
    let e = errors(json!({"version": "v1", "providers": {"idp": {"issuer": "x",
        "remote_jwks": {"cluster": "c", "authority": "a", "path": "/j", "refresh": "5 minutes"}}}}));
    assert!(
        e[0].starts_with("/providers/idp/remote_jwks/refresh: \"5 minutes\" is not a duration"),
        "{}",
        e[0]
    );
}

#[test]
fn public_route_cannot_require_scopes() {
    let e = errors(
        json!({"version": "v1", "routes": [{"name": "h", "match": {}, "auth": "public", "scopes": ["x"]}]}),
    );
    assert_eq!(
        e,
        vec!["/routes/0/auth: a public route cannot require scopes or grants"]
    );
}

#[test]
fn auth_must_be_public_or_a_list() {
    let e =
        errors(json!({"version": "v1", "routes": [{"name": "h", "match": {}, "auth": "none"}]}));
    assert!(
        e[0].starts_with("/routes/0/auth: expected \"public\" or a list"),
        "{}",
        e[0]
    );
}

#[test]
fn require_approval_rule_needs_scopes_and_ttl() {
    let e = errors(
        json!({"version": "v1", "rules": [{"id": "x", "action": "require_approval", "match": {}}]}),
    );
    assert!(
        e.contains(
            &"/rules/0/scopes: a require_approval rule must name the scopes its grant must cover"
                .to_string()
        ),
        "{e:#?}"
    );
    assert!(
        e.contains(&"/rules/0/max_ttl: a just-in-time grant needs a maximum duration".to_string()),
        "{e:#?}"
    );
}

#[test]
fn redaction_options_are_validated() {
    let e = errors(
        json!({"version": "v1", "redaction": {"pan": {"mask_char": "##", "brands": ["visa", "amexx"]}}}),
    );
    assert!(
        e.contains(&"/redaction/pan/mask_char: must be exactly one ASCII character".to_string()),
        "{e:#?}"
    );
    assert!(
        e.iter()
            .any(|x| x.starts_with("/redaction/pan/brands/1: unknown brand \"amexx\"")),
        "{e:#?}"
    );
}

#[test]
fn digest_ignores_formatting_and_key_order() {
    let a = Policy::parse(br#"{"version":"v1","mode":"enforce"}"#).unwrap();
    let b = Policy::parse(b"{ \"mode\": \"enforce\",\n  \"version\": \"v1\" }").unwrap();
    let c = Policy::parse(br#"{"version":"v2","mode":"enforce"}"#).unwrap();
    assert_eq!(a.digest, b.digest);
    assert_ne!(a.digest, c.digest);
}

#[test]
fn not_json_is_one_document_error() {
    let e = Policy::parse(b"{version: 1").unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!(e.0[0].pointer, "");
    assert!(e.0[0].message.starts_with("not valid JSON"));
}

/// A real key set (the EC P-256 test key), since a provider without keys is refused.
fn test_jwks() -> serde_json::Value {
    serde_json::from_str(include_str!("../../../../testdata/keys/ec256.jwks.json")).unwrap()
}

#[test]
fn policies_past_their_bounds_are_refused_naming_the_bound() {
    let route = json!({"name": "r", "auth": "public", "match": {"path": "/x"}});
    let mut routes: Vec<serde_json::Value> = (0..=MAX_ROUTES)
        .map(|i| {
            let mut r = route.clone();
            r["name"] = json!(format!("r{i}"));
            r
        })
        .collect();
    let e = errors(json!({"version": "v1", "routes": routes}));
    assert!(
        e.iter()
            .any(|m| m == "/routes: 1025 entries, more than the 1024 allowed"),
        "{e:?}"
    );
    routes.truncate(MAX_ROUTES);
    assert!(parse(json!({"version": "v1", "routes": routes})).is_ok());

    let rules: Vec<serde_json::Value> = (0..=MAX_RULES)
        .map(|i| json!({"id": format!("r{i}"), "action": "deny", "match": {"path": "/x"}}))
        .collect();
    let e = errors(json!({"version": "v1", "rules": rules}));
    assert!(
        e.iter().any(|m| m.starts_with("/rules: 1025 entries")),
        "{e:?}"
    );

    let providers: serde_json::Map<String, serde_json::Value> = (0..=MAX_PROVIDERS)
        .map(|i| (format!("p{i}"), idp()))
        .collect();
    let e = errors(json!({"version": "v1", "providers": providers}));
    assert!(
        e.iter().any(|m| m.starts_with("/providers: 33 entries")),
        "{e:?}"
    );

    let mut big = br#"{"version": "v1", "pad": ""#.to_vec();
    big.resize(MAX_POLICY_BYTES + 1, b' ');
    let e = Policy::parse(&big).unwrap_err().to_string();
    assert!(e.contains("more than the 1048576 allowed"), "{e}");
}

#[test]
fn the_route_name_is_needed_only_when_a_route_or_rule_matches_on_it() {
    let route = |m: serde_json::Value| json!({"name": "r", "auth": "public", "match": m});
    let plain = parse(json!({"version": "v1", "routes": [route(json!({"path": "/a"}))]})).unwrap();
    assert!(!plain.matches_route_names());
    let by_route =
        parse(json!({"version": "v1", "routes": [route(json!({"route_name": "cards"}))]})).unwrap();
    assert!(by_route.matches_route_names());
    let by_rule = parse(json!({"version": "v1",
        "rules": [{"id": "x", "action": "deny", "match": {"route_name": "admin"}}]}))
    .unwrap();
    assert!(by_rule.matches_route_names());
}

#[test]
fn approvals_section_compiles_with_defaults_and_resolved_providers() {
    let p = parse(json!({"version": "v1", "providers": {"corp-idp": idp()},
        "routes": [{"name": "refund", "match": {"path": "/v1/refunds"}, "auth": ["corp-idp"],
                    "scopes": ["payments:refund"],
                    "jit": {"max_ttl": "30m", "min_approvals": 2, "approver_groups": ["payments-approvers"]}}],
        "approvals": {"issuer": "https://approvals.example.com", "providers": ["corp-idp"],
                      "groups_claim": "groups"}}))
    .unwrap();
    let a = p.approvals.as_ref().unwrap();
    assert_eq!(a.providers, vec![0]);
    assert_eq!(a.audience, DEFAULT_GRANT_AUDIENCE);
    assert_eq!(a.pending_ttl_seconds, 3600);
    assert_eq!(a.max_justification_bytes, DEFAULT_MAX_JUSTIFICATION_BYTES);
    let jit = p.routes[0].jit.as_ref().unwrap();
    assert_eq!(jit.approver_groups, vec!["payments-approvers"]);
    assert!(jit.names_approvers());
    assert!(parse(json!({"version": "v1"})).unwrap().approvals.is_none());
}

#[test]
fn approver_names_with_outer_spaces_or_empty_are_refused() {
    let e = errors(json!({"version": "v1",
        "rules": [{"id": "x", "action": "require_approval", "match": {"path": "/x"},
                   "scopes": ["s"], "max_ttl": "5m", "approvers": ["alice ", ""]}]}));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].starts_with("/rules/0/approvers/0: \"alice \""),
        "{e:?}"
    );
    assert!(e[1].starts_with("/rules/0/approvers/1: \"\""), "{e:?}");
}

#[test]
fn a_provider_cannot_take_the_name_the_grants_documents_are_shared_under() {
    for name in [GRANT_KEYS_NAME, GRANT_REVOCATIONS_NAME] {
        let e = errors(json!({"version": "v1", "providers": {name: idp()},
            "approvals": {"issuer": "https://approvals.example.com", "providers": [name],
                          "grants": {"cluster": "approvals"}}}));
        assert_eq!(
            e,
            vec![format!(
                "/providers/{name}: is the name the grants' keys and revocation list are shared under; rename the provider"
            )]
        );
    }
    // Without a grants section the names are free.
    assert!(parse(json!({"version": "v1", "providers": {GRANT_KEYS_NAME: idp()}})).is_ok());
}
