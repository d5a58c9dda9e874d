//! The JWS algorithms pci-guard verifies, the digest each signs over and its key family.

use std::fmt;

/// A JWS algorithm pci-guard knows how to verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alg {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

/// The digest an algorithm signs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    /// The name Envoy's `verify_signature` foreign function expects.
    pub const fn name(self) -> &'static str {
        match self {
            Hash::Sha256 => "sha256",
            Hash::Sha384 => "sha384",
            Hash::Sha512 => "sha512",
        }
    }
}

/// What kind of key and signature scheme an algorithm uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlgFamily {
    Hmac,
    RsaPkcs1,
    RsaPss,
    EcdsaP256,
    EcdsaP384,
    Ed25519,
}

impl Alg {
    /// Every algorithm, in the order policies and their errors list them.
    pub const ALL: [Alg; 12] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::EdDSA,
        Alg::HS256,
        Alg::HS384,
        Alg::HS512,
    ];

    /// The JOSE names of [`Alg::ALL`]: what a provider's `algorithms` may list.
    pub const NAMES: [&'static str; 12] = {
        let mut names = [""; 12];
        let mut i = 0;
        while i < names.len() {
            names[i] = Alg::ALL[i].name();
            i += 1;
        }
        names
    };

    /// The provider default: every asymmetric algorithm. HS* must be listed explicitly
    /// and needs a configured shared secret.
    pub const DEFAULT_ALLOWED: [Alg; 9] = {
        let mut out = [Alg::RS256; 9];
        let (mut i, mut n) = (0, 0);
        while i < Alg::ALL.len() {
            if !Alg::ALL[i].is_hmac() {
                out[n] = Alg::ALL[i];
                n += 1;
            }
            i += 1;
        }
        out
    };

    /// Parses a JOSE `alg` name (case-sensitive, as RFC 7518 defines them).
    pub fn from_name(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The JOSE name.
    pub const fn name(self) -> &'static str {
        match self {
            Alg::HS256 => "HS256",
            Alg::HS384 => "HS384",
            Alg::HS512 => "HS512",
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::EdDSA => "EdDSA",
        }
    }

    pub const fn family(self) -> AlgFamily {
        match self {
            Alg::HS256 | Alg::HS384 | Alg::HS512 => AlgFamily::Hmac,
            Alg::RS256 | Alg::RS384 | Alg::RS512 => AlgFamily::RsaPkcs1,
            Alg::PS256 | Alg::PS384 | Alg::PS512 => AlgFamily::RsaPss,
            Alg::ES256 => AlgFamily::EcdsaP256,
            Alg::ES384 => AlgFamily::EcdsaP384,
            Alg::EdDSA => AlgFamily::Ed25519,
        }
    }

    /// The digest signed over (Ed25519 hashes internally; SHA-512 is reported for it).
    pub const fn hash(self) -> Hash {
        match self {
            Alg::HS256 | Alg::RS256 | Alg::PS256 | Alg::ES256 => Hash::Sha256,
            Alg::HS384 | Alg::RS384 | Alg::PS384 | Alg::ES384 => Hash::Sha384,
            Alg::HS512 | Alg::RS512 | Alg::PS512 | Alg::EdDSA => Hash::Sha512,
        }
    }

    pub const fn is_hmac(self) -> bool {
        matches!(self.family(), AlgFamily::Hmac)
    }

    /// The exact signature length for fixed-length schemes (RSA: the modulus length, which
    /// depends on the key).
    pub const fn fixed_signature_len(self) -> Option<usize> {
        match self {
            Alg::HS256 => Some(32),
            Alg::HS384 => Some(48),
            Alg::HS512 => Some(64),
            Alg::ES256 => Some(64),
            Alg::ES384 => Some(96),
            Alg::EdDSA => Some(64),
            _ => None,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
