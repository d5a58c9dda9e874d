//! Test support (feature `testkit`, never in the plugin): signs hand-built tokens with the
//! test keys in `testdata/keys/`, so unit, conformance and end-to-end tests mint tokens the
//! same way. Panics freely: it only ever runs in tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::identity::Alg;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;
use std::path::Path;

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs `input` for `alg` with the private key `key_file` (PEM, in `keys_dir`); ECDSA
/// signatures come out as JOSE raw `r‖s`. HS256 uses the file's bytes as the secret.
pub fn sign(alg: Alg, keys_dir: &Path, key_file: &str, input: &[u8]) -> Vec<u8> {
    use p256::ecdsa::signature::Signer as _;
    use rsa::pkcs8::DecodePrivateKey as _;
    use sha2::Digest as _;
    let pem = || std::fs::read_to_string(keys_dir.join(key_file)).unwrap();
    let rsa_key = || rsa::RsaPrivateKey::from_pkcs8_pem(&pem()).unwrap();
    match alg {
        Alg::RS256 => rsa_key()
            .sign(
                rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                &sha2::Sha256::digest(input),
            )
            .unwrap(),
        Alg::RS384 => rsa_key()
            .sign(
                rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                &sha2::Sha384::digest(input),
            )
            .unwrap(),
        Alg::RS512 => rsa_key()
            .sign(
                rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
                &sha2::Sha512::digest(input),
            )
            .unwrap(),
        Alg::ES256 => {
            let k = p256::ecdsa::SigningKey::from_pkcs8_pem(&pem()).unwrap();
            let s: p256::ecdsa::Signature = k.sign(input);
            s.to_bytes().to_vec()
        }
        Alg::ES384 => {
            let k = p384::ecdsa::SigningKey::from_pkcs8_pem(&pem()).unwrap();
            let s: p384::ecdsa::Signature = k.sign(input);
            s.to_bytes().to_vec()
        }
        Alg::EdDSA => {
            let kp = ed25519_compact::KeyPair::from_pem(&pem()).unwrap();
            kp.sk.sign(input, None).to_vec()
        }
        // The file's bytes are the secret (e.g. an RSA public key, for key-confusion tests).
        Alg::HS256 => {
            hmac_sha256::HMAC::mac(input, std::fs::read(keys_dir.join(key_file)).unwrap()).to_vec()
        }
        other => panic!("testkit::sign: {other} is not needed by any test"),
    }
}

/// A token with exactly this header and payload, signed for `alg` with `key_file`.
pub fn mint(alg: Alg, keys_dir: &Path, key_file: &str, header: &Value, payload: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let sig = sign(alg, keys_dir, key_file, input.as_bytes());
    format!("{input}.{}", b64(&sig))
}
