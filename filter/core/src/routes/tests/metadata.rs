use crate::routes::metadata::{pci_guard_metadata, route_name};
use serde_json::Value;

fn len_field(n: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![(n << 3) | 2, payload.len() as u8];
    v.extend_from_slice(payload);
    v
}

fn string_value(s: &str) -> Vec<u8> {
    len_field(3, s.as_bytes())
}

fn struct_of(k: &str, value: &[u8]) -> Vec<u8> {
    let mut entry = len_field(1, k.as_bytes());
    entry.extend(len_field(2, value));
    len_field(1, &entry)
}

/// `Metadata{filter_metadata: {ns: Struct{key: "value"}}}`
fn metadata(ns: &str, key: &str, value: &str) -> Vec<u8> {
    let st = struct_of(key, &string_value(value));
    let mut entry = len_field(1, ns.as_bytes());
    entry.extend(len_field(2, &st));
    len_field(1, &entry)
}

#[test]
fn reads_the_route_from_pci_guard_metadata() {
    assert_eq!(
        route_name(&metadata("pci_guard", "route", "cards-read")),
        Some("cards-read".into())
    );
}

#[test]
fn other_namespaces_and_garbage_give_nothing() {
    assert_eq!(route_name(&metadata("envoy.lb", "route", "x")), None);
    assert_eq!(route_name(&[0x0a, 0x7f, 0x01]), None);
    assert_eq!(route_name(&[]), None);
}

#[test]
fn decodes_lists_bools_and_numbers() {
    let mut list = len_field(1, &string_value("a"));
    list.extend(len_field(1, &[0x20, 0x01])); // bool true
    let mut v = struct_of("l", &len_field(6, &list));
    let mut num = vec![0x11];
    num.extend_from_slice(&2.5f64.to_le_bytes());
    v.extend(struct_of("n", &num));
    let mut entry = len_field(1, b"pci_guard");
    entry.extend(len_field(2, &v));
    let m = pci_guard_metadata(&len_field(1, &entry)).unwrap();
    assert_eq!(
        Value::Object(m),
        serde_json::json!({"l": ["a", true], "n": 2.5})
    );
}
