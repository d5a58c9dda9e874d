//! `pci-guard audit export` of the log a real Envoy recorded (`testdata/audit/recorded.log`)
//! against the published schemas, as packaged on registries and trimmed into fixtures
//! (`testdata/siem/README.md` says how):
//! - OCSF 1.7.0 from PyPI `pydantic-ocsf` (the OCSF schema's events, objects and dictionary):
//!   every record's class exists, its required attributes are there, every attribute it
//!   carries belongs to its class (or a profile it declares), types and enum values match,
//!   objects recursively, and the classes' constraints (`at_least_one`, `just_one`) hold.
//! - Elastic Common Schema from npm `@elastic/ecs` (Elastic's field definitions): every field
//!   is an ECS field of the right type, or under the custom `pci_guard.*` namespace; the
//!   categorization fields take allowed values, and each `event.type` is one its
//!   `event.category` expects.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(p)
}

fn fixture(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(data(name)).unwrap()).unwrap()
}

fn export(format: &str) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_pci-guard"))
        .args(["audit", "export", "--format", format])
        .arg(data("audit/recorded.log"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// --- OCSF ------------------------------------------------------------------------------------

struct Ocsf {
    fx: Value,
    errors: Vec<String>,
}

impl Ocsf {
    fn record(&mut self, r: &Value) {
        let uid = r["class_uid"].as_u64().unwrap_or(0);
        let class = self.fx["classes"][uid.to_string()].clone();
        if class.is_null() {
            return self.errors.push(format!("class_uid {uid}: no such class"));
        }
        let at = format!("{} ({uid})", class["name"].as_str().unwrap());
        if r["category_uid"] != class["category_uid"] {
            self.errors
                .push(format!("{at}: category_uid {}", r["category_uid"]));
        }
        let activity = r["activity_id"].as_u64().unwrap_or(u64::MAX);
        if r["type_uid"].as_u64() != Some(uid * 100 + activity) {
            self.errors.push(format!(
                "{at}: type_uid {} for activity {activity}",
                r["type_uid"]
            ));
        }
        let mut attrs = class["attributes"].as_object().unwrap().clone();
        for p in r["metadata"]["profiles"].as_array().into_iter().flatten() {
            match self.fx["profile_attributes"][p.as_str().unwrap_or("")].as_object() {
                Some(more) => attrs.extend(more.clone()),
                None => self.errors.push(format!("{at}: unknown profile {p}")),
            }
        }
        let obj = r.as_object().unwrap();
        self.object(&at, obj, &attrs, &class["constraints"]);
    }

    fn object(
        &mut self,
        at: &str,
        obj: &Map<String, Value>,
        attrs: &Map<String, Value>,
        constraints: &Value,
    ) {
        for (name, def) in attrs {
            if def["requirement"] == "required" && !obj.contains_key(name) {
                self.errors.push(format!("{at}: required {name} missing"));
            }
        }
        for (k, v) in obj {
            match attrs.get(k) {
                None => self
                    .errors
                    .push(format!("{at}: {k} is not an attribute here")),
                Some(def) => self.value(&format!("{at}.{k}"), k, v, def, def["array"] == true),
            }
        }
        let present = |names: &Value| {
            names.as_array().map(|n| {
                n.iter()
                    .filter(|x| obj.contains_key(x.as_str().unwrap()))
                    .count()
            })
        };
        if let Some(n) = present(&constraints["at_least_one"]) {
            if n == 0 {
                self.errors
                    .push(format!("{at}: none of {}", constraints["at_least_one"]));
            }
        }
        if let Some(n) = present(&constraints["just_one"]) {
            if n != 1 {
                self.errors
                    .push(format!("{at}: not just one of {}", constraints["just_one"]));
            }
        }
    }

    fn value(&mut self, at: &str, name: &str, v: &Value, def: &Value, array: bool) {
        if array {
            match v.as_array() {
                Some(items) => items
                    .iter()
                    .for_each(|x| self.value(at, name, x, def, false)),
                None => self.errors.push(format!("{at}: not an array")),
            }
            return;
        }
        if let Some(o) = def["object"].as_str() {
            let Some(obj) = v.as_object() else {
                return self.errors.push(format!("{at}: not an object"));
            };
            let od = self.fx["objects"][o].clone();
            let attrs = od["attributes"].as_object().unwrap().clone();
            return self.object(at, obj, &attrs, &od["constraints"]);
        }
        let ok = match def["type"].as_str().unwrap_or("any") {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "object" => v.is_object(),
            _ => true,
        };
        if !ok {
            self.errors
                .push(format!("{at}: {v} is not {}", def["type"]));
        }
        // class_uid, category_uid and type_uid are checked against the class above.
        let computed = ["class_uid", "category_uid", "type_uid"].contains(&name);
        if let (Some(allowed), false) = (def["enum"].as_array(), computed) {
            if !allowed.contains(v) {
                self.errors.push(format!("{at}: {v} is not one of {def}"));
            }
        }
    }
}

#[test]
fn ocsf_export_of_the_recorded_log_matches_the_published_classes() {
    let fx = fixture("siem/ocsf-1.7.0.json");
    assert_eq!(fx["ocsf_version"], "1.7.0");
    let records = export("ocsf");
    let mut v = Ocsf {
        fx,
        errors: Vec::new(),
    };
    for r in &records {
        v.record(r);
        assert_eq!(r["metadata"]["version"], "1.7.0");
    }
    assert!(v.errors.is_empty(), "{:#?}", v.errors);
    let classes: BTreeSet<u64> = records
        .iter()
        .filter_map(|r| r["class_uid"].as_u64())
        .collect();
    assert_eq!(
        classes,
        [3003, 4002, 6002, 6008].into(),
        "HTTP Activity, Authorize Session (a JIT grant), Application Lifecycle and Error"
    );
    // A denied request reads as one: failure, denied, blocked, with the reason.
    let denied = records
        .iter()
        .find(|r| r["class_uid"] == 4002 && r["action_id"] == 2)
        .unwrap();
    assert_eq!(
        (&denied["status_id"], &denied["disposition_id"]),
        (&2.into(), &2.into())
    );
    assert!(denied["status_detail"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
}

#[test]
fn the_ocsf_validator_rejects_what_the_schema_does() {
    let fx = fixture("siem/ocsf-1.7.0.json");
    let good = export("ocsf")
        .into_iter()
        .find(|r| r["class_uid"] == 4002)
        .unwrap();
    for (what, edit) in [
        (
            "missing metadata",
            Box::new(|r: &mut Value| {
                r.as_object_mut().unwrap().remove("metadata");
            }) as Box<dyn Fn(&mut Value)>,
        ),
        (
            "unknown attribute",
            Box::new(|r: &mut Value| r["token"] = "x".into()),
        ),
        (
            "activity out of enum",
            Box::new(|r: &mut Value| {
                r["activity_id"] = 42.into();
                r["type_uid"] = 400242.into();
            }),
        ),
        (
            "wrong type",
            Box::new(|r: &mut Value| r["http_response"]["code"] = "200".into()),
        ),
    ] {
        let mut r = good.clone();
        edit(&mut r);
        let mut v = Ocsf {
            fx: fx.clone(),
            errors: Vec::new(),
        };
        v.record(&r);
        assert!(!v.errors.is_empty(), "{what} passed");
    }
}

// --- ECS -------------------------------------------------------------------------------------

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v.as_object() {
        Some(o) => o.iter().for_each(|(k, x)| {
            let p = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            flatten(&p, x, out)
        }),
        None => out.push((prefix.to_string(), v.clone())),
    }
}

fn check_ecs(fields: &Map<String, Value>, doc: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    for req in ["@timestamp", "ecs.version"] {
        let mut flat = Vec::new();
        flatten("", doc, &mut flat);
        if !flat.iter().any(|(p, _)| p == req) {
            errors.push(format!("{req} missing"));
        }
    }
    let mut flat = Vec::new();
    flatten("", doc, &mut flat);
    for (path, v) in &flat {
        if path.starts_with("pci_guard.") {
            continue; // the custom namespace
        }
        let Some(f) = fields.get(path) else {
            errors.push(format!("{path}: not an ECS field"));
            continue;
        };
        let values: Vec<&Value> = match v.as_array() {
            Some(a) if f["array"] == true => a.iter().collect(),
            Some(_) => {
                errors.push(format!("{path}: an array where ECS has one value"));
                continue;
            }
            None => vec![v],
        };
        for x in values {
            let ok = match f["type"].as_str().unwrap() {
                "keyword" | "constant_keyword" | "wildcard" | "match_only_text" | "text" => {
                    x.is_string()
                }
                "long" | "integer" | "short" | "byte" | "unsigned_long" => x.is_u64() || x.is_i64(),
                "float" | "double" | "scaled_float" | "half_float" => x.is_number(),
                "boolean" => x.is_boolean(),
                "date" => x
                    .as_str()
                    .and_then(pci_guard_core::audit::parse_rfc3339_millis)
                    .is_some(),
                "ip" => x
                    .as_str()
                    .is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
                "object" | "flattened" | "nested" => x.is_object(),
                t => {
                    errors.push(format!("{path}: type {t} unchecked"));
                    true
                }
            };
            if !ok {
                errors.push(format!("{path}: {x} is not a {}", f["type"]));
            }
            if let Some(allowed) = f["allowed"].as_array() {
                if !allowed.iter().any(|a| a["name"] == *x) {
                    errors.push(format!("{path}: {x} is not an allowed value"));
                }
            }
        }
    }
    let categories = doc["event"]["category"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let allowed = fields["event.category"]["allowed"].as_array().unwrap();
    for c in &categories {
        let Some(expected) = allowed.iter().find(|a| a["name"] == *c) else {
            continue;
        };
        for t in doc["event"]["type"].as_array().into_iter().flatten() {
            if !expected["expected_event_types"]
                .as_array()
                .unwrap()
                .contains(t)
            {
                errors.push(format!(
                    "event.type {t} is not one event.category {c} expects"
                ));
            }
        }
    }
    errors
}

#[test]
fn ecs_export_of_the_recorded_log_uses_only_ecs_fields_and_allowed_values() {
    let fx = fixture("siem/ecs-9.4.0.json");
    let fields = fx["fields"].as_object().unwrap();
    assert!(
        fields.keys().all(|k| !k.starts_with("pci_guard.")),
        "the custom namespace must not collide with ECS"
    );
    let docs = export("ecs");
    assert!(docs.len() > 10);
    for d in &docs {
        let errors = check_ecs(fields, d);
        assert!(errors.is_empty(), "{errors:#?}\n{d:#}");
        assert_eq!(d["ecs"]["version"], "9.4.0");
    }
    let kinds: BTreeSet<&str> = docs
        .iter()
        .filter_map(|d| d["event"]["action"].as_str())
        .collect();
    for k in ["request", "start", "heartbeat", "control_failure"] {
        assert!(kinds.contains(k), "{k} missing from {kinds:?}");
    }
}

#[test]
fn the_ecs_validator_rejects_what_the_schema_does() {
    let fx = fixture("siem/ecs-9.4.0.json");
    let fields = fx["fields"].as_object().unwrap();
    let good = export("ecs")
        .into_iter()
        .find(|d| d["event"]["action"] == "request")
        .unwrap();
    for edit in [
        |d: &mut Value| d["http"]["request"]["verb"] = "GET".into(),
        |d: &mut Value| d["event"]["outcome"] = "maybe".into(),
        |d: &mut Value| d["http"]["response"]["status_code"] = "200".into(),
        |d: &mut Value| d["event"]["type"] = serde_json::json!(["installation"]),
    ] {
        let mut d = good.clone();
        edit(&mut d);
        assert!(!check_ecs(fields, &d).is_empty(), "{d}");
    }
}
