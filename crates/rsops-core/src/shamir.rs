//! Shamir secret sharing over GF(2^8) exactly as sops does it.
//!
//! The field is GF(2^8) with the AES reduction polynomial
//! x⁸ + x⁴ + x³ + x + 1 (0x11B). Every byte of the secret gets its own random
//! polynomial of degree `threshold − 1` whose constant term is that byte;
//! share *i* (0-based) is the polynomial values at x = *i* + 1, one per
//! secret byte, followed by the single byte x. [`combine`] interpolates each
//! byte position at x = 0 (Lagrange), reading x from the last byte.
//!
//! Field arithmetic is constant-time: multiplication is shift-and-add with
//! masks, inversion is exponentiation to 254; no table is indexed by a
//! secret byte and no branch depends on one.

use rand::RngCore;
use zeroize::Zeroizing;

/// Why a secret could not be split or a set of shares not combined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShamirError {
    /// `parts < threshold`.
    #[error("parts cannot be less than threshold")]
    PartsBelowThreshold,
    /// `parts > 255`.
    #[error("parts cannot exceed 255")]
    TooManyParts,
    /// `threshold < 2`.
    #[error("threshold must be at least 2")]
    ThresholdTooSmall,
    /// The secret is empty.
    #[error("cannot split an empty secret")]
    EmptySecret,
    /// The operating system's random number generator failed.
    #[error("failed to generate polynomial: random number generator failed")]
    Random,
    /// Fewer than two shares were given to [`combine`].
    #[error("less than two parts cannot be used to reconstruct the secret")]
    TooFewShares,
    /// A share is shorter than two bytes (one y value and the x byte).
    #[error("parts must be at least two bytes")]
    ShareTooShort,
    /// The shares do not all have the same length.
    #[error("all parts must be the same length")]
    LengthMismatch,
    /// Two shares have the same x coordinate.
    #[error("duplicate part detected")]
    DuplicateShare,
    /// A share has the x coordinate 0: its y values would be the secret
    /// itself, which no split ever produces (x runs from 1).
    #[error("a part has the x coordinate 0, which no split produces: the file was tampered with")]
    ZeroX,
}

/// Addition (and subtraction) in GF(2^8).
fn gf_add(a: u8, b: u8) -> u8 {
    a ^ b
}

/// Multiplication in GF(2^8) mod 0x11B, branch-free: for each bit of `b`
/// (lowest first) add `a` under a mask, then multiply `a` by x, reducing
/// with 0x1B under a mask of its carried-out top bit.
fn gf_mul(a: u8, b: u8) -> u8 {
    let mut a = a;
    let mut b = b;
    let mut product = 0u8;
    for _ in 0..8 {
        product ^= a & (b & 1).wrapping_neg();
        let carry = (a >> 7).wrapping_neg();
        a = (a << 1) ^ (0x1B & carry);
        b >>= 1;
    }
    product
}

/// Multiplicative inverse as a^254 (a^255 = 1 for a ≠ 0); maps 0 to 0.
/// A fixed square-and-multiply chain: a^254 = a^2 · a^4 · … · a^128.
fn gf_inv(a: u8) -> u8 {
    let mut square = gf_mul(a, a); // a^2
    let mut result = square;
    for _ in 0..6 {
        square = gf_mul(square, square); // a^4 … a^128
        result = gf_mul(result, square);
    }
    result
}

/// Division `a / b` (b ≠ 0 by construction at every call site).
fn gf_div(a: u8, b: u8) -> u8 {
    gf_mul(a, gf_inv(b))
}

/// Evaluates the polynomial with these coefficients (constant term first)
/// at `x` by Horner's rule.
fn evaluate(coefficients: &[u8], x: u8) -> u8 {
    coefficients
        .iter()
        .rev()
        .fold(0u8, |acc, &c| gf_add(gf_mul(acc, x), c))
}

/// Splits `secret` into `parts` shares, any `threshold` of which rebuild it
/// (2 ≤ threshold ≤ parts ≤ 255). Each share is `secret.len() + 1` bytes:
/// the y values, then x = share index + 1.
///
/// Checks run in sops' order, so the first failing one is reported.
pub fn split(
    secret: &[u8],
    parts: usize,
    threshold: usize,
) -> Result<Vec<Zeroizing<Vec<u8>>>, ShamirError> {
    if parts < threshold {
        return Err(ShamirError::PartsBelowThreshold);
    }
    if parts > 255 {
        return Err(ShamirError::TooManyParts);
    }
    if threshold < 2 {
        return Err(ShamirError::ThresholdTooSmall);
    }
    if secret.is_empty() {
        return Err(ShamirError::EmptySecret);
    }
    let mut shares: Vec<Zeroizing<Vec<u8>>> = (1..=parts)
        .map(|x| {
            let mut share = Zeroizing::new(vec![0u8; secret.len() + 1]);
            if let Some(last) = share.last_mut() {
                *last = x as u8; // x ≤ 255: parts was checked above
            }
            share
        })
        .collect();
    let mut coefficients = Zeroizing::new(vec![0u8; threshold]);
    for (position, &byte) in secret.iter().enumerate() {
        random_polynomial(byte, &mut coefficients)?;
        for share in shares.iter_mut() {
            let x = share.last().copied().unwrap_or_default();
            if let Some(y) = share.get_mut(position) {
                *y = evaluate(&coefficients, x);
            }
        }
    }
    Ok(shares)
}

/// Fills `coefficients` with a random polynomial whose constant term is
/// `intercept` (the other coefficients from the OS CSPRNG).
fn random_polynomial(intercept: u8, coefficients: &mut [u8]) -> Result<(), ShamirError> {
    let Some((constant, rest)) = coefficients.split_first_mut() else {
        return Ok(());
    };
    *constant = intercept;
    rand::rngs::OsRng
        .try_fill_bytes(rest)
        .map_err(|_| ShamirError::Random)
}

/// Rebuilds the secret from shares made by [`split`] (at least two, all the
/// same length, distinct x bytes). With fewer shares than the threshold the
/// result is unrelated to the secret; nothing can detect that here (the data
/// key then fails to decrypt the file).
pub fn combine(shares: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    if shares.len() < 2 {
        return Err(ShamirError::TooFewShares);
    }
    let len = shares.first().map_or(0, |s| s.len());
    if len < 2 {
        return Err(ShamirError::ShareTooShort);
    }
    if shares.iter().any(|s| s.len() != len) {
        return Err(ShamirError::LengthMismatch);
    }
    let xs: Vec<u8> = shares.iter().filter_map(|s| s.last().copied()).collect();
    if xs.contains(&0) {
        return Err(ShamirError::ZeroX);
    }
    let mut seen = [false; 256];
    for &x in &xs {
        let slot = &mut seen[usize::from(x)];
        if *slot {
            return Err(ShamirError::DuplicateShare);
        }
        *slot = true;
    }
    let weights = lagrange_weights_at_zero(&xs);
    let mut secret = Zeroizing::new(vec![0u8; len - 1]);
    for (position, out) in secret.iter_mut().enumerate() {
        *out = shares
            .iter()
            .zip(weights.iter())
            .fold(0u8, |acc, (share, &w)| {
                gf_add(
                    acc,
                    gf_mul(share.get(position).copied().unwrap_or_default(), w),
                )
            });
    }
    Ok(secret)
}

/// The Lagrange basis polynomials evaluated at 0:
/// wⱼ = Πₘ≠ⱼ xₘ / (xₘ − xⱼ). The x values are distinct, so no division by 0.
fn lagrange_weights_at_zero(xs: &[u8]) -> Vec<u8> {
    xs.iter()
        .enumerate()
        .map(|(j, &xj)| {
            xs.iter()
                .enumerate()
                .filter(|&(m, _)| m != j)
                .fold(1u8, |acc, (_, &xm)| gf_mul(acc, gf_div(xm, gf_add(xm, xj))))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Schoolbook multiplication with a branching reduction, as a reference.
    fn reference_mul(a: u8, b: u8) -> u8 {
        let mut wide: u16 = 0;
        for i in 0..8 {
            if b & (1 << i) != 0 {
                wide ^= u16::from(a) << i;
            }
        }
        for bit in (8..16).rev() {
            if wide & (1 << bit) != 0 {
                wide ^= 0x11B << (bit - 8);
            }
        }
        wide as u8
    }

    #[test]
    fn field_arithmetic() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(gf_mul(a, b), reference_mul(a, b), "{a} * {b}");
            }
            if a != 0 {
                assert_eq!(gf_mul(a, gf_inv(a)), 1, "inverse of {a}");
            }
        }
        assert_eq!(gf_inv(0), 0);
        // FIPS-197 §4.2 example: {57} • {83} = {c1}.
        assert_eq!(gf_mul(0x57, 0x83), 0xC1);
        assert_eq!(gf_div(0xC1, 0x83), 0x57);
    }

    #[test]
    fn a_share_at_x_zero_is_refused() {
        let secret = [7u8; 32];
        let shares = split(&secret, 3, 2).expect("split");
        // (x = 0, y = a chosen key) would make the chosen key the secret.
        let mut forged = [0x41u8; 33];
        forged[32] = 0;
        assert_eq!(
            combine(&[&shares[0][..], &forged[..]]).unwrap_err(),
            ShamirError::ZeroX
        );
        assert_eq!(
            &combine(&[&shares[0][..], &shares[2][..]]).expect("combine")[..],
            &secret[..]
        );
    }

    #[test]
    fn share_layout() {
        let secret: Vec<u8> = (0..32).collect();
        let shares = split(&secret, 5, 3).expect("split");
        assert_eq!(shares.len(), 5);
        for (i, share) in shares.iter().enumerate() {
            assert_eq!(share.len(), 33);
            assert_eq!(share[32], i as u8 + 1);
        }
    }

    #[test]
    fn split_argument_checks_in_sops_order() {
        let s = [1u8; 32];
        assert_eq!(
            split(&s, 2, 3).unwrap_err(),
            ShamirError::PartsBelowThreshold
        );
        assert_eq!(split(&s, 256, 2).unwrap_err(), ShamirError::TooManyParts);
        assert_eq!(split(&s, 2, 1).unwrap_err(), ShamirError::ThresholdTooSmall);
        assert_eq!(split(&s, 3, 0).unwrap_err(), ShamirError::ThresholdTooSmall);
        assert_eq!(split(&[], 2, 2).unwrap_err(), ShamirError::EmptySecret);
        assert_eq!(split(&s, 255, 255).expect("max").len(), 255);
        assert_eq!(
            ShamirError::ThresholdTooSmall.to_string(),
            "threshold must be at least 2"
        );
    }

    #[test]
    fn combine_argument_checks() {
        let a = [1u8, 2, 1];
        let b = [3u8, 4, 2];
        assert_eq!(combine(&[]).unwrap_err(), ShamirError::TooFewShares);
        assert_eq!(combine(&[&a]).unwrap_err(), ShamirError::TooFewShares);
        assert_eq!(
            combine(&[&[1u8], &[2u8]]).unwrap_err(),
            ShamirError::ShareTooShort
        );
        assert_eq!(
            combine(&[&a, &b[..2]]).unwrap_err(),
            ShamirError::LengthMismatch
        );
        assert_eq!(
            combine(&[&a, &[9u8, 9, 1]]).unwrap_err(),
            ShamirError::DuplicateShare
        );
        assert!(combine(&[&a, &b]).is_ok());
    }

    #[test]
    fn combine_known_polynomial() {
        // p(x) = 0x42 + 0x07·x: p(1) = 0x45, p(2) = 0x42 ^ 0x0e = 0x4c.
        let s1 = [0x45u8, 1];
        let s2 = [0x4cu8, 2];
        assert_eq!(combine(&[&s1, &s2]).expect("combine").as_slice(), &[0x42]);
        assert_eq!(combine(&[&s2, &s1]).expect("combine").as_slice(), &[0x42]);
    }

    /// All subsets (as index bit masks) of `n` shares with at least `k` members.
    fn subsets(n: usize, k: usize) -> impl Iterator<Item = Vec<usize>> {
        (1u32..(1 << n))
            .filter(move |m| m.count_ones() as usize >= k)
            .map(move |m| (0..n).filter(|i| m & (1 << i) != 0).collect())
    }

    proptest! {
        #[test]
        fn any_threshold_subset_recovers_the_secret(
            secret in proptest::collection::vec(any::<u8>(), 1..40),
            parts in 2usize..7,
            threshold_offset in 0usize..6,
        ) {
            let threshold = 2 + threshold_offset % (parts - 1);
            let shares = split(&secret, parts, threshold).expect("split");
            for subset in subsets(parts, threshold) {
                let chosen: Vec<&[u8]> = subset.iter().map(|&i| shares[i].as_slice()).collect();
                let got = combine(&chosen).expect("combine");
                prop_assert_eq!(got.as_slice(), secret.as_slice());
            }
        }

        #[test]
        fn fewer_than_threshold_shares_give_garbage(
            secret in proptest::collection::vec(any::<u8>(), 16..40),
            parts in 3usize..7,
            threshold_offset in 0usize..6,
        ) {
            // threshold ≥ 3 so that threshold − 1 ≥ 2 shares can be combined.
            let threshold = 3 + threshold_offset % (parts - 2);
            let shares = split(&secret, parts, threshold).expect("split");
            for subset in subsets(parts, 2).filter(|s| s.len() < threshold) {
                let chosen: Vec<&[u8]> = subset.iter().map(|&i| shares[i].as_slice()).collect();
                let got = combine(&chosen).expect("combine runs");
                // Each byte matches with probability 1/256: ≥ 16 bytes never all do.
                prop_assert_ne!(got.as_slice(), secret.as_slice());
            }
        }

        #[test]
        fn combine_never_panics(shares in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..5), 0..5)) {
            let refs: Vec<&[u8]> = shares.iter().map(Vec::as_slice).collect();
            let _ = combine(&refs);
        }
    }

    /// The fixture sops 3.11 wrote with two key groups (one age key each,
    /// `shamir_threshold: 2`), and its TEST-ONLY keys.
    const CASE_DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/sops/cases/shamir_two_key_groups"
    );
    const KEYS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sops/keys");

    /// The armored age blocks of the `enc` fields, in file order.
    fn armored_blocks(yaml: &str) -> Vec<String> {
        let mut blocks = Vec::new();
        let mut current: Option<String> = None;
        for line in yaml.lines().map(str::trim) {
            if line == "-----BEGIN AGE ENCRYPTED FILE-----" {
                current = Some(String::new());
            }
            if let Some(block) = current.as_mut() {
                block.push_str(line);
                block.push('\n');
            }
            if line == "-----END AGE ENCRYPTED FILE-----" {
                blocks.extend(current.take());
            }
        }
        blocks
    }

    /// The value of the top-level or nested `key: value` line.
    fn yaml_value<'a>(yaml: &'a str, key: &str) -> &'a str {
        yaml.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(": ")))
            .expect("key present")
            .trim_matches('"')
    }

    fn age_decrypt(armored: &str, identity_file: &str) -> Vec<u8> {
        use std::io::Read;
        let text =
            std::fs::read_to_string(format!("{KEYS_DIR}/{identity_file}")).expect("identity file");
        let secret = text
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .expect("secret key line");
        let identity: age::x25519::Identity = secret.parse().expect("identity");
        let decryptor = age::Decryptor::new(age::armor::ArmoredReader::new(armored.as_bytes()))
            .expect("age header");
        let mut reader = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .expect("age decrypt");
        let mut out = Vec::new();
        reader.read_to_end(&mut out).expect("age read");
        out
    }

    #[test]
    fn sops_written_shares_combine_to_the_data_key() {
        use crate::cipher::decrypt;
        use rsops_format::go::normalize_time_seconds;
        use sha2::{Digest, Sha512};

        let yaml =
            std::fs::read_to_string(format!("{CASE_DIR}/encrypted.yaml")).expect("corpus file");
        let blocks = armored_blocks(&yaml);
        assert_eq!(blocks.len(), 2);
        let share1 = age_decrypt(&blocks[0], "age-1.txt");
        let share2 = age_decrypt(&blocks[1], "age-2.txt");
        assert_eq!((share1.len(), share1[32]), (33, 1));
        assert_eq!((share2.len(), share2[32]), (33, 2));
        let key = combine(&[&share1, &share2]).expect("combine");
        let key: [u8; 32] = key.as_slice().try_into().expect("32-byte data key");

        // The data key decrypts the file's values ...
        let db = decrypt(&key, yaml_value(&yaml, "db_password"), b"db_password:").expect("value");
        assert_eq!(db.plaintext.as_slice(), b"s3cret");
        let port = decrypt(&key, yaml_value(&yaml, "port"), b"port:").expect("value");
        assert_eq!(port.plaintext.as_slice(), b"5432");
        let token = decrypt(&key, yaml_value(&yaml, "token"), b"nested:token:").expect("value");
        assert_eq!(token.plaintext.as_slice(), b"abc");
        // ... and the MAC, which is the hash of exactly those plaintexts.
        let aad = normalize_time_seconds(yaml_value(&yaml, "lastmodified")).expect("time");
        let mac = decrypt(&key, yaml_value(&yaml, "mac"), aad.as_bytes()).expect("mac");
        let mut h = Sha512::new();
        h.update(b"s3cret5432abc");
        assert_eq!(
            mac.plaintext.as_slice(),
            hex::encode_upper(h.finalize()).as_bytes()
        );
        // One share alone is not the key.
        assert!(combine(&[&share1]).is_err());
        let wrong = combine(&[&share1, &share1[..]]);
        assert_eq!(wrong.unwrap_err(), ShamirError::DuplicateShare);
    }
}
