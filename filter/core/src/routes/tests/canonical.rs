use crate::routes::is_canonical;

#[test]
fn ordinary_paths_are_canonical() {
    for p in [
        "/",
        "/healthz",
        "/v1/cards/c_1",
        "/v1/cards/a%20b",
        "/payments.v1.Cards/GetCard",
        "/v1/cards/",
        "/a/b.json",
        "/a/.well-known/x",
    ] {
        assert!(is_canonical(p), "{p}");
    }
}

#[test]
fn path_tricks_are_not_canonical() {
    for p in [
        "v1/cards",
        "//v1/cards",
        "/v1//cards",
        "/v1/cards//",
        "/v1/./cards",
        "/v1/../admin",
        "/v1/cards/..",
        "/v1/cards%2F1",
        "/v1/cards%2f1",
        "/v1%5Ccards",
        "/v1\\cards",
        "/v1/%2e%2e/admin",
        "/v1/%2E/x",
        "/v1/cards%00",
        "/v1/cards\0",
        "/v1/cards%252f1",
        "/v1/cards%",
        "/v1/cards%zz",
        "/v1/c#x",
        "/v1/c\tx",
    ] {
        assert!(!is_canonical(p), "{p:?}");
    }
}
