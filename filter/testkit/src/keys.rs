//! The test keys in `testdata/keys/` (generated once, committed on purpose; its README says
//! how) and the HMAC secret the tests' providers share.

use std::path::PathBuf;

/// The shared secret of the tests' HS* providers (`provider.hmac_secret`).
pub const HMAC_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test-only";

/// One private key in `testdata/keys/`: `<name>.pem` (PKCS#8), published in
/// `corp-idp.jwks.json` under `kid`.
#[derive(Debug)]
pub struct TestKey {
    /// What tests call it (`rsa1`); also the stem of its files.
    pub name: &'static str,
    /// Its `kid` in the JWKS files.
    pub kid: &'static str,
    /// The algorithm [`crate::mint_as`] signs with it.
    pub alg: &'static str,
}

/// Every test key, in the order of `testdata/keys/README.md`.
pub const KEYS: [TestKey; 5] = [
    TestKey {
        name: "rsa1",
        kid: "rsa-2026-a",
        alg: "RS256",
    },
    TestKey {
        name: "rsa2",
        kid: "rsa-2026-b",
        alg: "RS256",
    },
    TestKey {
        name: "ec256",
        kid: "ec256-1",
        alg: "ES256",
    },
    TestKey {
        name: "ec384",
        kid: "ec384-1",
        alg: "ES384",
    },
    TestKey {
        name: "ed25519",
        kid: "ed-1",
        alg: "EdDSA",
    },
];

impl TestKey {
    /// The private key, PEM (PKCS#8).
    pub fn pem(&self) -> Vec<u8> {
        read_key(&format!("{}.pem", self.name)).into_bytes()
    }
}

/// `testdata/keys/`, found from this crate's source so every test binary and bench finds it
/// whatever its working directory (the wasm32 runner preopens the workspace at its own path).
pub fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/keys")
}

/// A file of `testdata/keys/` as text: a PEM key, a JWKS.
pub fn read_key(file: &str) -> String {
    let path = keys_dir().join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The test key called `name` (`rsa1`, `rsa2`, `ec256`, `ec384`, `ed25519`).
pub fn test_key(name: &str) -> &'static TestKey {
    KEYS.iter()
        .find(|k| k.name == name)
        .unwrap_or_else(|| panic!("no test key {name:?}; there are {:?}", names()))
}

/// The key tests sign `alg` with when they name none: `rsa1` for RS*/PS*, the curve's key
/// for ES256/ES384, `ed25519` for EdDSA.
pub fn key_for(alg: &str) -> &'static TestKey {
    let name = match alg {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => "rsa1",
        "ES256" => "ec256",
        "ES384" => "ec384",
        "EdDSA" => "ed25519",
        other => panic!("no test key pair for {other:?} (HS* sign with a secret)"),
    };
    test_key(name)
}

/// What [`crate::sign`] takes for `alg` by default: [`HMAC_SECRET`] for HS*, otherwise the
/// PEM of [`key_for`]`(alg)`.
pub fn signing_key(alg: &str) -> Vec<u8> {
    if alg.starts_with("HS") {
        HMAC_SECRET.to_vec()
    } else {
        key_for(alg).pem()
    }
}

fn names() -> Vec<&'static str> {
    KEYS.iter().map(|k| k.name).collect()
}
