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

/// HMAC-SHA256(key, challenge id | phone | code).
pub fn code_hash(key: &[u8; 32], challenge_id: &str, phone: &str, code: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    for part in [challenge_id, phone, code] {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    mac.finalize().into_bytes().into()
}

/// The template as it is sent: without a configured host the lines that
/// hold `{host}` are left out (a Host header is the client's to choose,
/// and a code bound to an attacker's origin would autofill on their
/// phishing page). The DLT pre-flight compares exactly this text.
pub fn template_as_sent(template: &str, host_configured: bool) -> String {
    if host_configured {
        return template.to_owned();
    }
    let kept: Vec<&str> = template.lines().filter(|l| !l.contains("{host}")).collect();
    kept.join("\n").trim_end().to_owned()
}

/// Renders the SMS text from `otp.message`.
pub fn render_message(
    template: &str,
    code: &str,
    brand: &str,
    ttl_minutes: u64,
    host: &str,
) -> String {
    template
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
        let h = code_hash(&k, "c1", "+1", "123456");
        assert_ne!(h, code_hash(&k, "c2", "+1", "123456"));
        assert_ne!(h, code_hash(&k, "c1", "+2", "123456"));
        assert_eq!(h, code_hash(&k, "c1", "+1", "123456"));
    }

    #[test]
    fn renders_template() {
        let m = render_message(
            "{code} for {brand}, {ttl_minutes} min\n@{host} #{code}",
            "123456",
            "Shop",
            5,
            "shop.example",
        );
        assert_eq!(m, "123456 for Shop, 5 min\n@shop.example #123456");
    }
}
