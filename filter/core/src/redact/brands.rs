//! Card brands: IIN (issuer) prefix ranges and valid lengths.
//!
//! The table follows PCI notes (`NOTES-pci.md`): a digit string is a candidate PAN for a brand
//! when its leading digits fall in one of the brand's IIN ranges *and* its length is one the
//! brand issues. Luhn alone accepts one random string in ten; the brand table is what keeps
//! IMEIs, order ids and timestamps out.
//!
//! | Brand | IIN prefixes | Lengths |
//! |---|---|---|
//! | Visa | 4 | 13, 16, 18, 19 |
//! | Mastercard | 51–55, 2221–2720 | 16 |
//! | American Express | 34, 37 | 15 |
//! | Discover | 6011, 644–649, 65 | 16–19 |
//! | JCB | 3528–3589 | 16–19 |
//! | Diners Club | 300–305, 3095, 36, 38, 39 | 14, 16, 19 |
//! | UnionPay | 62, 81 | 14–19 |
//! | Maestro | 50, 56–59, 63, 67 | 12–19 |
//! | Mir | 2200–2204 | 16–19 |

use crate::redact::RedactError;

/// Generates [`Brand`], [`Brand::ALL`], [`Brand::NAMES`] and [`Brand::name`] from one row per
/// brand, so the policy's accepted names, the error messages and the matcher's list cannot
/// disagree.
macro_rules! brands {
    ($($(#[$doc:meta])* $variant:ident => $name:literal;)*) => {
        /// A card brand pci-guard recognises.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Brand {
            $($(#[$doc])* $variant,)*
        }

        impl Brand {
            /// Every brand, in the order they are checked.
            pub const ALL: [Brand; [$($name),*].len()] = [$(Brand::$variant),*];

            /// The configuration names, in the order of [`Brand::ALL`]: what
            /// `redaction.pan.brands` accepts.
            pub const NAMES: [&'static str; [$($name),*].len()] = [$($name),*];

            /// The configuration name.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Brand::$variant => $name,)*
                }
            }
        }
    };
}

brands! {
    /// Visa.
    Visa => "visa";
    /// Mastercard (51–55 and the 2-series).
    Mastercard => "mastercard";
    /// American Express.
    Amex => "amex";
    /// Discover.
    Discover => "discover";
    /// JCB.
    Jcb => "jcb";
    /// Diners Club.
    Diners => "diners";
    /// UnionPay.
    UnionPay => "unionpay";
    /// Maestro.
    Maestro => "maestro";
    /// Mir.
    Mir => "mir";
}

impl Brand {
    /// Parses a configuration name (case-insensitive; a few common aliases accepted).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Brand> {
        let n = name.trim().to_ascii_lowercase();
        if let Some(b) = Brand::ALL.into_iter().find(|b| b.name() == n) {
            return Some(b);
        }
        Some(match n.as_str() {
            "master-card" | "mc" => Brand::Mastercard,
            "american-express" | "american_express" | "americanexpress" => Brand::Amex,
            "diners-club" | "diners_club" | "dinersclub" => Brand::Diners,
            "union-pay" | "union_pay" => Brand::UnionPay,
            _ => return None,
        })
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// Whether `len` is a length this brand issues.
    #[must_use]
    pub fn valid_length(self, len: usize) -> bool {
        match self {
            Brand::Visa => matches!(len, 13 | 16 | 18 | 19),
            Brand::Mastercard => len == 16,
            Brand::Amex => len == 15,
            Brand::Discover | Brand::Jcb | Brand::Mir => (16..=19).contains(&len),
            Brand::Diners => matches!(len, 14 | 16 | 19),
            Brand::UnionPay => (14..=19).contains(&len),
            Brand::Maestro => (12..=19).contains(&len),
        }
    }

    /// Whether the leading digits (`p2`: first two as a number, `p3`, `p4` likewise) are in
    /// this brand's IIN ranges.
    fn prefix_matches(self, p2: u32, p3: u32, p4: u32) -> bool {
        match self {
            Brand::Visa => p2 / 10 == 4,
            Brand::Mastercard => (51..=55).contains(&p2) || (2221..=2720).contains(&p4),
            Brand::Amex => p2 == 34 || p2 == 37,
            Brand::Discover => p4 == 6011 || (644..=649).contains(&p3) || p2 == 65,
            Brand::Jcb => (3528..=3589).contains(&p4),
            Brand::Diners => (300..=305).contains(&p3) || p4 == 3095 || matches!(p2, 36 | 38 | 39),
            Brand::UnionPay => p2 == 62 || p2 == 81,
            Brand::Maestro => matches!(p2, 50 | 56..=59 | 63 | 67),
            Brand::Mir => (2200..=2204).contains(&p4),
        }
    }
}

/// A set of brands (a bit set; `Copy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BrandSet(u16);

impl Default for BrandSet {
    fn default() -> Self {
        BrandSet::ALL
    }
}

impl BrandSet {
    /// Every brand (the default): one bit per brand, in the order of [`Brand::ALL`].
    pub const ALL: BrandSet = BrandSet((1 << Brand::ALL.len()) - 1);
    /// No brand: PAN detection off.
    pub const NONE: BrandSet = BrandSet(0);

    /// This set plus `b`.
    #[must_use]
    pub fn with(self, b: Brand) -> BrandSet {
        BrandSet(self.0 | b.bit())
    }

    /// Whether `b` is in the set.
    #[must_use]
    pub fn contains(self, b: Brand) -> bool {
        self.0 & b.bit() != 0
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Builds a set from configuration names; `"all"` means every brand.
    ///
    /// # Errors
    /// [`RedactError::UnknownBrand`] naming the first unknown name and listing the known ones.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<BrandSet, RedactError> {
        let mut set = BrandSet::NONE;
        for n in names {
            let n = n.as_ref();
            if n.trim().eq_ignore_ascii_case("all") {
                set = BrandSet::ALL;
                continue;
            }
            match Brand::from_name(n) {
                Some(b) => set = set.with(b),
                None => {
                    return Err(RedactError::UnknownBrand {
                        name: n.to_owned(),
                        known: Brand::NAMES.join(", "),
                    })
                }
            }
        }
        Ok(set)
    }
}

/// The brand in `set` whose IIN range and length accept `digits` (ASCII digits).
///
/// The spec's IIN ranges do not overlap, so the first two digits pick at most one brand;
/// the match below is the table above, decided in one branch.
#[must_use]
pub fn brand_of(digits: &[u8], set: BrandSet) -> Option<Brand> {
    if digits.len() < 12 || set.is_empty() {
        return None;
    }
    let d = |k: usize| u32::from(digits[k].wrapping_sub(b'0'));
    let p2 = d(0) * 10 + d(1);
    let p3 = p2 * 10 + d(2);
    let p4 = p3 * 10 + d(3);
    let b = match p2 {
        40..=49 => Brand::Visa,
        51..=55 => Brand::Mastercard,
        22..=27 if (2221..=2720).contains(&p4) => Brand::Mastercard,
        22 if (2200..=2204).contains(&p4) => Brand::Mir,
        34 | 37 => Brand::Amex,
        35 if (3528..=3589).contains(&p4) => Brand::Jcb,
        30 if (300..=305).contains(&p3) || p4 == 3095 => Brand::Diners,
        36 | 38 | 39 => Brand::Diners,
        60 if p4 == 6011 => Brand::Discover,
        64 if p3 >= 644 => Brand::Discover,
        65 => Brand::Discover,
        62 | 81 => Brand::UnionPay,
        50 | 56..=59 | 63 | 67 => Brand::Maestro,
        _ => return None,
    };
    debug_assert!(b.prefix_matches(p2, p3, p4));
    (set.contains(b) && b.valid_length(digits.len())).then_some(b)
}

/// The table-driven definition [`brand_of`] must agree with.
#[cfg(test)]
fn brand_of_table(digits: &[u8], set: BrandSet) -> Option<Brand> {
    if digits.len() < 12 {
        return None;
    }
    let d = |k: usize| u32::from(digits[k].wrapping_sub(b'0'));
    let p2 = d(0) * 10 + d(1);
    let p3 = p2 * 10 + d(2);
    let p4 = p3 * 10 + d(3);
    Brand::ALL
        .into_iter()
        .find(|&b| set.contains(b) && b.valid_length(digits.len()) && b.prefix_matches(p2, p3, p4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_test_cards() {
        let cases: &[(&str, Brand)] = &[
            ("4111111111111111", Brand::Visa),
            ("4222222222222", Brand::Visa),
            ("5555555555554444", Brand::Mastercard),
            ("2223003122003222", Brand::Mastercard),
            ("378282246310005", Brand::Amex),
            ("6011111111111117", Brand::Discover),
            ("3530111333300000", Brand::Jcb),
            ("36227206271667", Brand::Diners),
            ("6200000000000005", Brand::UnionPay),
            ("6759649826438453", Brand::Maestro),
            ("2200000000000004", Brand::Mir),
        ];
        for (pan, brand) in cases {
            assert_eq!(
                brand_of(pan.as_bytes(), BrandSet::ALL),
                Some(*brand),
                "{pan}"
            );
            assert!(
                crate::redact::luhn::luhn_valid(pan.as_bytes()),
                "{pan} luhn"
            );
        }
    }

    #[test]
    fn non_cards() {
        // IMEIs: 15 digits, Luhn-valid, no brand issues them at that prefix/length.
        assert_eq!(brand_of(b"490154203237518", BrandSet::ALL), None);
        assert_eq!(brand_of(b"351451208401216", BrandSet::ALL), None);
        // ms timestamp
        assert_eq!(brand_of(b"1748503543012", BrandSet::ALL), None);
        // Amex at 16 digits is not Amex.
        assert_eq!(
            brand_of(b"3782822463100050", BrandSet::ALL.with(Brand::Amex)),
            None
        );
    }

    #[test]
    fn fast_match_equals_table() {
        for p4 in 0..10000u32 {
            for len in 12..=19 {
                let mut s = format!("{p4:04}");
                while s.len() < len {
                    s.push('0');
                }
                assert_eq!(
                    brand_of(s.as_bytes(), BrandSet::ALL),
                    brand_of_table(s.as_bytes(), BrandSet::ALL),
                    "{s}"
                );
            }
        }
    }

    #[test]
    fn set_filtering_and_names() {
        let only_visa = BrandSet::from_names(&["visa"]).unwrap();
        assert_eq!(brand_of(b"5555555555554444", only_visa), None);
        assert_eq!(BrandSet::from_names(&["all"]).unwrap(), BrandSet::ALL);
        let err = BrandSet::from_names(&["vissa"]).unwrap_err().to_string();
        assert!(err.contains("vissa") && err.contains("mastercard"), "{err}");
        for b in Brand::ALL {
            assert_eq!(Brand::from_name(b.name()), Some(b));
        }
    }
}
