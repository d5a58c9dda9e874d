//! `policy-schema/policy.schema.json` and the Rust parser agree on every example: each file in
//! `examples/` passes both, each file in `invalid/` fails both, and the parser's errors are
//! exactly those in the file's `.error` twin (set `UPDATE_GOLDEN=1` to rewrite them, then
//! review the diff). The lists the schema enumerates (brands, algorithms) equal the code's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_core::identity::Alg;
use pci_guard_core::policy::Policy;
use pci_guard_core::redact::Brand;
use std::path::{Path, PathBuf};

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policy-schema")
}

fn schema() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(schema_dir().join("policy.schema.json")).unwrap())
        .unwrap()
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&schema()).expect("policy.schema.json is a valid 2020-12 schema")
}

fn json_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(schema_dir().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_passes_the_schema_and_the_parser() {
    let v = validator();
    let files = json_files("examples");
    assert!(files.len() >= 3);
    for f in files {
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let schema_errors: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(
            schema_errors.is_empty(),
            "{}: schema rejects: {schema_errors:#?}",
            f.display()
        );
        if let Err(e) = Policy::from_value(&doc) {
            panic!("{}: parser rejects: {e}", f.display());
        }
    }
}

#[test]
fn every_invalid_example_fails_the_schema_and_the_parser_with_its_recorded_error() {
    let v = validator();
    let files = json_files("invalid");
    assert!(files.len() >= 10);
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for f in files {
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        assert!(
            !v.is_valid(&doc),
            "{}: the schema accepts it, the parser must not",
            f.display()
        );
        let errors = match Policy::from_value(&doc) {
            Ok(_) => panic!(
                "{}: the parser accepts it, the schema does not",
                f.display()
            ),
            Err(e) => {
                e.0.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
                    + "\n"
            }
        };
        let golden = f.with_extension("error");
        if update {
            std::fs::write(&golden, &errors).unwrap();
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_else(|_| {
            panic!("{} is missing: run with UPDATE_GOLDEN=1", golden.display())
        });
        assert_eq!(errors, expected, "{}", f.display());
    }
}

/// The strings of the `enum` at `pointer` in the schema.
fn schema_enum(pointer: &str) -> Vec<String> {
    let schema = schema();
    let list = schema
        .pointer(pointer)
        .and_then(|v| v.as_array())
        .unwrap_or_else(|| panic!("policy.schema.json has no list at {pointer}"));
    list.iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_schemas_brand_names_are_the_brand_table_names() {
    assert_eq!(
        schema_enum("/$defs/redaction/properties/pan/properties/brands/oneOf/1/items/enum"),
        Brand::NAMES
    );
}

#[test]
fn the_schemas_algorithms_are_the_ones_the_parser_accepts() {
    assert_eq!(schema_enum("/$defs/algorithm/enum"), Alg::NAMES);
}
