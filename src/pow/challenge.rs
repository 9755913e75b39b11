//! A challenge's text and its check, in constant time (a few HMACs and one
//! SHA-256, whatever the difficulty): the server keeps nothing until a
//! solution is used.
//!
//! `p1.<id>.<bits>.<expires>.<browser tag>.<phone tag>.<mac>`, all ASCII:
//! `id` 32 hex digits (random: the single-use key), `bits` the difficulty,
//! `expires` unix seconds, the tags the first 8 bytes of
//! HMAC(key, "b|" browser) and HMAC(key, "p|" E.164) in hex, and `mac`
//! the first 16 bytes of HMAC(key) over everything before it. The tags let
//! the check say *what* does not match (another number, another browser)
//! while revealing neither; the MAC makes any change — a lowered
//! difficulty, a later expiry, a swapped tag — an altered challenge.
//!
//! A solution is a nonce (1 to 64 ASCII letters, digits, `-` or `_`) such
//! that SHA-256(challenge text || nonce) starts with `bits` zero bits
//! (hashcash, Back 2002).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::demand::PowError;

type HmacSha256 = Hmac<Sha256>;

const VERSION: &str = "p1";
/// Longer than any challenge this code writes: a longer text is refused
/// before any hashing.
const MAX_CHALLENGE: usize = 160;
pub const MAX_NONCE: usize = 64;

/// Whom a challenge is for: the browser (its cookie, own/pow.rs) and the
/// number the code would go to.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub browser: &'a str,
    /// E.164.
    pub phone: &'a str,
}

/// A challenge that passed every check but the single-use one.
#[derive(Debug, PartialEq, Eq)]
pub struct Checked {
    pub id: String,
    pub bits: u8,
    pub expires_at_ms: u64,
}

fn mac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn tag(key: &[u8; 32], kind: &[u8], value: &str) -> String {
    hex::encode(&mac(key, &[kind, b"|", value.as_bytes()])[..8])
}

fn seal(key: &[u8; 32], body: &str) -> String {
    hex::encode(&mac(key, &[b"pow|", body.as_bytes()])[..16])
}

/// A new challenge of `bits` for `to`, to be solved by `expires` (unix s).
pub fn issue(key: &[u8; 32], to: Binding, bits: u8, expires: u64) -> String {
    let id = format!("{:032x}", rand::random::<u128>());
    let body = format!(
        "{VERSION}.{id}.{bits}.{expires}.{}.{}",
        tag(key, b"b", to.browser),
        tag(key, b"p", to.phone)
    );
    let mac = seal(key, &body);
    format!("{body}.{mac}")
}

/// Leading zero bits of a digest.
fn leading_zero_bits(digest: &[u8]) -> u32 {
    let mut n = 0;
    for b in digest {
        if *b == 0 {
            n += 8;
        } else {
            return n + b.leading_zeros();
        }
    }
    n
}

/// The work itself: SHA-256(challenge || nonce) has `bits` leading zeros.
fn solves(challenge: &str, nonce: &str, bits: u8) -> bool {
    let digest = Sha256::new()
        .chain_update(challenge.as_bytes())
        .chain_update(nonce.as_bytes())
        .finalize();
    leading_zero_bits(&digest) >= u32::from(bits)
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every check but single use, cheapest and most telling first.
pub fn check(
    key: &[u8; 32],
    to: Binding,
    challenge: &str,
    nonce: &str,
    now_ms: u64,
) -> Result<Checked, PowError> {
    let nonce_ok = (1..=MAX_NONCE).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if challenge.len() > MAX_CHALLENGE || !nonce_ok {
        return Err(PowError::Malformed);
    }
    let parts: Vec<&str> = challenge.split('.').collect();
    let [VERSION, id, bits, expires, browser, phone, sealed] = parts[..] else {
        return Err(PowError::Malformed);
    };
    let bits_ok = !bits.is_empty() && bits.len() <= 2 && bits.bytes().all(|b| b.is_ascii_digit());
    let expires_ok =
        !expires.is_empty() && expires.len() <= 12 && expires.bytes().all(|b| b.is_ascii_digit());
    let (Some(bits), Some(expires)) = (
        bits_ok.then(|| bits.parse::<u8>().ok()).flatten(),
        expires_ok.then(|| expires.parse::<u64>().ok()).flatten(),
    ) else {
        return Err(PowError::Malformed);
    };
    if !is_hex(id, 32) || !is_hex(browser, 16) || !is_hex(phone, 16) || !is_hex(sealed, 32) {
        return Err(PowError::Malformed);
    }
    let body = &challenge[..challenge.len() - sealed.len() - 1];
    let same = |a: &str, b: &str| bool::from(a.as_bytes().ct_eq(b.as_bytes()));
    if !same(&seal(key, body), sealed) {
        return Err(PowError::Altered);
    }
    if !same(&tag(key, b"p", to.phone), phone) {
        return Err(PowError::OtherNumber);
    }
    if !same(&tag(key, b"b", to.browser), browser) {
        return Err(PowError::OtherBrowser);
    }
    let expires_at_ms = expires.saturating_mul(1000);
    if now_ms >= expires_at_ms {
        return Err(PowError::Expired);
    }
    if !solves(challenge, nonce, bits) {
        return Err(PowError::Unsolved);
    }
    Ok(Checked {
        id: id.to_string(),
        bits,
        expires_at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Finds a nonce by brute force, as a client does (tests, the docs'
    /// example client). Decimal counting, like the page's script.
    fn solve(challenge: &str, bits: u8) -> String {
        (0u64..)
            .map(|n| n.to_string())
            .find(|n| solves(challenge, n, bits))
            .expect("some nonce solves")
    }

    const KEY: [u8; 32] = [7; 32];
    const TO: Binding = Binding {
        browser: "b1",
        phone: "+919812345678",
    };

    #[test]
    fn a_solved_challenge_checks_and_names_what_is_wrong_otherwise() {
        let c = issue(&KEY, TO, 8, 100);
        let n = solve(&c, 8);
        let ok = check(&KEY, TO, &c, &n, 99_999).unwrap();
        assert_eq!((ok.bits, ok.expires_at_ms, ok.id.len()), (8, 100_000, 32));
        let other_phone = Binding {
            phone: "+919812345679",
            ..TO
        };
        let other_browser = Binding {
            browser: "b2",
            ..TO
        };
        assert_eq!(
            check(&KEY, other_phone, &c, &n, 0),
            Err(PowError::OtherNumber)
        );
        assert_eq!(
            check(&KEY, other_browser, &c, &n, 0),
            Err(PowError::OtherBrowser)
        );
        assert_eq!(check(&KEY, TO, &c, &n, 100_000), Err(PowError::Expired));
        assert_eq!(check(&[8; 32], TO, &c, &n, 0), Err(PowError::Altered));
        // Lowered difficulty, later expiry: the MAC no longer matches.
        let easier = c.replacen(".8.", ".1.", 1);
        assert_eq!(check(&KEY, TO, &easier, "0", 0), Err(PowError::Altered));
        let later = c.replacen(".100.", ".999.", 1);
        assert_eq!(check(&KEY, TO, &later, &n, 0), Err(PowError::Altered));
        let wrong = (0u64..)
            .map(|i| i.to_string())
            .find(|i| !solves(&c, i, 8))
            .unwrap();
        assert_eq!(check(&KEY, TO, &c, &wrong, 0), Err(PowError::Unsolved));
    }

    #[test]
    fn malformed_input_is_refused_without_a_panic() {
        let c = issue(&KEY, TO, 4, 100);
        let n = solve(&c, 4);
        let long = "9".repeat(200);
        let bad_challenges = [
            "",
            ".",
            "p1",
            "p2.a.b.c.d.e.f",
            &c[..c.len() - 1],
            &format!("{c}."),
            &format!("{c}.x"),
            &c.replacen("p1.", "p1..", 1),
            &c.replacen(".4.", ".400.", 1),
            &c.replacen(".4.", ".-4.", 1),
            &c.replacen(".100.", &format!(".{long}."), 1),
            "p1.\u{e9}\u{e9}.4.100.0.0.0",
        ];
        for bad in bad_challenges {
            assert_eq!(
                check(&KEY, TO, bad, &n, 0),
                Err(PowError::Malformed),
                "{bad}"
            );
        }
        for bad in ["", " ", "1 2", "é", &"1".repeat(65), "1\n"] {
            assert_eq!(
                check(&KEY, TO, &c, bad, 0),
                Err(PowError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn zero_bits_count_across_bytes() {
        assert_eq!(leading_zero_bits(&[0, 0, 0x10, 0xff]), 19);
        assert_eq!(leading_zero_bits(&[0x80]), 0);
        assert_eq!(leading_zero_bits(&[0, 0]), 16);
    }
}
