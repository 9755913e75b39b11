//! One-time codes: drawn uniformly from the OS CSPRNG and kept only as a
//! keyed hash bound to the challenge and the phone (OWASP MFA cheat sheet).

use hmac::{Hmac, Mac};
use rand::distributions::{Distribution, Uniform};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// `length` decimal digits. `Uniform` samples integers by rejection, so
/// every code is equally likely (no modulo bias).
pub fn generate_code(length: u32) -> String {
    let upper = 10u64.pow(length);
    let n = Uniform::new(0, upper).sample(&mut rand::rngs::OsRng);
    format!("{n:0width$}", width = length as usize)
}

/// Derives a purpose-specific key from the session secret.
pub fn derive_key(secret: &[u8], purpose: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"otpgate/");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

/// What a code on a transaction route confirms (SPEC "Checkout
/// integrity"; PSD2 RTS art. 5, dynamic linking): the one held request it
/// is bound to, and the amount the shopper is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    /// SHA-256 of the held method, target, `Content-Type` and body
    /// (own/sealed.rs `HeldRequest::digest`).
    pub digest: [u8; 32],
    /// Formatted (`₹1,299.00`), when the route names `amount_field`.
    pub amount: Option<String>,
}

/// The keyed hash a store keeps of a code: HMAC-SHA256 truncated to its
/// first 128 bits (RFC 2104 §5: at least half the hash's length; NIST SP
/// 800-107 §5.3.3). Nobody without the key can compute it for a guess,
/// and each guess is a counted try, so 128 bits lose nothing against 256;
/// they save 16 bytes per pending challenge (issue 13).
pub type CodeHash = [u8; 16];

/// HMAC-SHA256(key, challenge id | phone | code [| digest]), truncated
/// ([`CodeHash`]): the one rule for every code otpgate stores or checks. With `binding` (a transaction
/// route's request digest) the code works only for that request: a code
/// texted for one body, target or method cannot confirm another.
pub fn code_hash(
    key: &[u8; 32],
    challenge_id: &str,
    phone: &str,
    code: &str,
    binding: Option<&[u8; 32]>,
) -> CodeHash {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    for part in [challenge_id, phone, code] {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    // Fixed length after the last separator, and absent without a binding
    // (so a sign-in code hashes as it always did).
    if let Some(digest) = binding {
        mac.update(b"transaction\0");
        mac.update(digest);
    }
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// The template as it is sent: without a configured host the lines that
/// hold `{host}` are left out (a Host header is the client's to choose,
/// and a code bound to an attacker's origin would autofill on their
/// phishing page); without an amount (a sign-in, or a transaction route
/// without `amount_field`) the lines that hold `{amount}` are. The DLT
/// pre-flight compares exactly this text.
pub fn template_as_sent(template: &str, host_configured: bool, with_amount: bool) -> String {
    if host_configured && with_amount {
        return template.to_owned();
    }
    let kept: Vec<&str> = template
        .lines()
        .filter(|l| host_configured || !l.contains("{host}"))
        .filter(|l| with_amount || !l.contains("{amount}"))
        .collect();
    kept.join("\n").trim_end().to_owned()
}

/// Renders the SMS text from `otp.message` (as sent: `template_as_sent`).
/// `{payee}` is the brand: who the shopper pays.
pub fn render_message(
    template: &str,
    code: &str,
    brand: &str,
    ttl_minutes: u64,
    host: &str,
    amount: Option<&str>,
) -> String {
    template
        .replace("{amount}", amount.unwrap_or(""))
        .replace("{payee}", brand)
        .replace("{brand}", brand)
        .replace("{ttl_minutes}", &ttl_minutes.to_string())
        .replace("{host}", host)
        .replace("{code}", code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_length_and_are_digits() {
        for len in 4..=10 {
            let c = generate_code(len);
            assert_eq!(c.len(), len as usize);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    /// Chi-square over the first digit of 4-digit codes (uniform => each
    /// 10%); a modulo-biased generator over u16 would skew low digits.
    #[test]
    fn codes_are_uniform() {
        let mut counts = [0u32; 10];
        let n = 50_000;
        for _ in 0..n {
            let c = generate_code(4);
            counts[(c.as_bytes()[0] - b'0') as usize] += 1;
        }
        let expected = n as f64 / 10.0;
        let chi2: f64 = counts
            .iter()
            .map(|&o| (o as f64 - expected).powi(2) / expected)
            .sum();
        // 9 degrees of freedom, p = 0.001 critical value 27.88.
        assert!(chi2 < 27.88, "chi2 {chi2} counts {counts:?}");
    }

    #[test]
    fn hash_binds_challenge_and_phone() {
        let k = derive_key(b"k", "otp");
        let h = code_hash(&k, "c1", "+1", "123456", None);
        assert_ne!(h, code_hash(&k, "c2", "+1", "123456", None));
        assert_ne!(h, code_hash(&k, "c1", "+2", "123456", None));
        assert_eq!(h, code_hash(&k, "c1", "+1", "123456", None));
    }

    #[test]
    fn hash_binds_the_transaction() {
        let k = derive_key(b"k", "otp");
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let bound = code_hash(&k, "c1", "+1", "123456", Some(&a));
        assert_ne!(bound, code_hash(&k, "c1", "+1", "123456", None));
        assert_ne!(bound, code_hash(&k, "c1", "+1", "123456", Some(&b)));
        assert_eq!(bound, code_hash(&k, "c1", "+1", "123456", Some(&a)));
    }

    #[test]
    fn amount_lines_are_sent_only_with_an_amount() {
        let t = "{code} is your {brand} code\nPay {amount} to {payee}\n@{host} #{code}";
        assert_eq!(
            template_as_sent(t, true, false),
            "{code} is your {brand} code\n@{host} #{code}"
        );
        assert_eq!(
            template_as_sent(t, false, true),
            "{code} is your {brand} code\nPay {amount} to {payee}"
        );
        let m = render_message(
            &template_as_sent(t, false, true),
            "1",
            "Shop",
            5,
            "",
            Some("₹1,299.00"),
        );
        assert_eq!(m, "1 is your Shop code\nPay ₹1,299.00 to Shop");
    }

    #[test]
    fn renders_template() {
        let m = render_message(
            "{code} for {brand}, {ttl_minutes} min\n@{host} #{code}",
            "123456",
            "Shop",
            5,
            "shop.example",
            None,
        );
        assert_eq!(m, "123456 for Shop, 5 min\n@shop.example #123456");
    }
}
