//! The `redaction` block: compiled into the engine's [`RedactOptions`], shared by every
//! response stream.

use super::Compiler;
use crate::policy::model::Redaction;
use crate::policy::spec::{Keep, RedactionSpec};
use crate::redact::{self, Brand, BrandSet, CvvKeys, RedactOptions, DEFAULT_SKIP_CONTENT_TYPES};
use std::sync::Arc;

impl Compiler {
    pub(super) fn redaction(&mut self, r: RedactionSpec) -> Redaction {
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
                        Some(b) if Brand::NAMES.contains(&b) => names.push(b),
                        _ => self.err(
                            format!("/redaction/pan/brands/{i}"),
                            format!("unknown brand {b}; allowed: {}", Brand::NAMES.join(", ")),
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
