//! Test tokens, two ways. [`mint`] signs exactly the header and payload it is given, so
//! attack tests can write what no JWT library would (`alg` lies, `crit`, HS256 keyed with a
//! public key). [`mint_independent`] has jwt-simple build and sign the token, so the positive
//! tests prove the verifier accepts what another implementation writes, not only what a
//! signer written beside it writes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::keys::{key_for, test_key, HMAC_SECRET};

/// base64url without padding, as JWS segments are written.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The JWS signature of `input` for `alg`: `key` is a PKCS#8 PEM private key for RS*, ES*
/// and EdDSA (ECDSA signatures come out as JOSE raw `r‖s`), the secret itself for HS*.
/// PS* has no raw signer (no test hand-builds a PSS token): use [`mint_independent`].
pub fn sign(alg: &str, key: &[u8], input: &[u8]) -> Vec<u8> {
    use p256::ecdsa::signature::Signer as _;
    use rsa::pkcs8::DecodePrivateKey as _;
    use sha2::Digest as _;
    let pem = || std::str::from_utf8(key).expect("a PEM key is ASCII");
    let rsa_key = || rsa::RsaPrivateKey::from_pkcs8_pem(pem()).unwrap();
    match alg {
        "RS256" => rsa_key()
            .sign(
                rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                &sha2::Sha256::digest(input),
            )
            .unwrap(),
        "RS384" => rsa_key()
            .sign(
                rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                &sha2::Sha384::digest(input),
            )
            .unwrap(),
        "RS512" => rsa_key()
            .sign(
                rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
                &sha2::Sha512::digest(input),
            )
            .unwrap(),
        "ES256" => {
            let k = p256::ecdsa::SigningKey::from_pkcs8_pem(pem()).unwrap();
            let s: p256::ecdsa::Signature = k.sign(input);
            s.to_bytes().to_vec()
        }
        "ES384" => {
            let k = p384::ecdsa::SigningKey::from_pkcs8_pem(pem()).unwrap();
            let s: p384::ecdsa::Signature = k.sign(input);
            s.to_bytes().to_vec()
        }
        "EdDSA" => {
            let kp = ed25519_compact::KeyPair::from_pem(pem()).unwrap();
            kp.sk.sign(input, None).to_vec()
        }
        "HS256" => hmac_sha256::HMAC::mac(input, key).to_vec(),
        "HS384" => hmac_sha512::sha384::HMAC::mac(input, key).to_vec(),
        "HS512" => hmac_sha512::HMAC::mac(input, key).to_vec(),
        other => panic!("testkit::sign: no raw signer for {other:?}"),
    }
}

/// A token with exactly this header and payload, signed for `alg` with `key` (see [`sign`]).
pub fn mint(alg: &str, key: &[u8], header: &Value, payload: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let sig = sign(alg, key, input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

/// The header every test token carries unless a test says otherwise.
pub fn header(alg: &str, kid: &str) -> Value {
    json!({"alg": alg, "kid": kid, "typ": "JWT"})
}

/// `payload` signed with the test key called `key` (`rsa1`, `ec256`, …) under its algorithm
/// and `kid`: what an IdP holding that key would issue.
pub fn mint_as(key: &str, payload: &Value) -> String {
    let k = test_key(key);
    mint(k.alg, &k.pem(), &header(k.alg, k.kid), payload)
}

/// A token for `alg` built and signed by jwt-simple with the matching test key and its `kid`
/// (HS* with [`HMAC_SECRET`], no `kid`). `claims` must be a JSON object; it is the payload
/// as given, jwt-simple adds no claim of its own.
pub fn mint_independent(alg: &str, claims: &Value) -> String {
    use jwt_simple::prelude::*;
    let custom = claims
        .as_object()
        .expect("claims are a JSON object")
        .clone();
    // `with_custom_claims` stamps iat/nbf/exp from the clock: clear them so the caller's
    // values (in `custom`) are the only ones written.
    let mut c = Claims::with_custom_claims(custom, Duration::from_secs(0));
    c.issued_at = None;
    c.invalid_before = None;
    c.expires_at = None;
    let pem = || {
        let k = key_for(alg);
        (String::from_utf8(k.pem()).unwrap(), k.kid)
    };
    match alg {
        "RS256" => {
            let (p, kid) = pem();
            RS256KeyPair::from_pem(&p).unwrap().with_key_id(kid).sign(c)
        }
        "RS384" => {
            let (p, kid) = pem();
            RS384KeyPair::from_pem(&p).unwrap().with_key_id(kid).sign(c)
        }
        "RS512" => {
            let (p, kid) = pem();
            RS512KeyPair::from_pem(&p).unwrap().with_key_id(kid).sign(c)
        }
        "PS256" => {
            let (p, kid) = pem();
            PS256KeyPair::from_pem(&p).unwrap().with_key_id(kid).sign(c)
        }
        "PS384" => {
            let (p, kid) = pem();
            PS384KeyPair::from_pem(&p).unwrap().with_key_id(kid).sign(c)
        }
        "PS512" => {
            let (p, kid) = pem();
            PS512KeyPair::from_pem(&p).unwrap().with_key_id(kid).sign(c)
        }
        "ES256" => {
            let (p, kid) = pem();
            ES256KeyPair::from_pem(&p).unwrap().with_key_id(kid).sign(c)
        }
        "ES384" => {
            let (p, kid) = pem();
            ES384KeyPair::from_pem(&p).unwrap().with_key_id(kid).sign(c)
        }
        "EdDSA" => {
            let (p, kid) = pem();
            Ed25519KeyPair::from_pem(&p)
                .unwrap()
                .with_key_id(kid)
                .sign(c)
        }
        "HS256" => HS256Key::from_bytes(HMAC_SECRET).authenticate(c),
        "HS384" => HS384Key::from_bytes(HMAC_SECRET).authenticate(c),
        "HS512" => HS512Key::from_bytes(HMAC_SECRET).authenticate(c),
        other => panic!("testkit::mint_independent: jwt-simple does not sign {other:?}"),
    }
    .unwrap()
}

/// `claims` signed as the approvals service signs grants: ES256 with the `ec256` test key,
/// `typ` `pci-guard-grant+jwt`.
pub fn mint_grant(claims: &Value) -> String {
    let k = test_key("ec256");
    let header = json!({"alg": "ES256", "kid": k.kid, "typ": "pci-guard-grant+jwt"});
    mint("ES256", &k.pem(), &header, claims)
}
