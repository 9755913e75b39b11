//! Delivery receipts: Twilio status callbacks (messages and calls), and
//! the counting every provider's receipts share (MSG91, Vonage: dlr.rs).
//!
//! The core mounts `POST /.otpgate/sms/twilio/status`; Twilio posts the form
//! there when `[sms.twilio] status_callback` is set. The handler must
//! 1. read the form (capped body), 2. check [`twilio_signature_valid`] with
//!    the exact public URL Twilio called and the configured auth token, and
//!    answer 403 when it fails, 3. call [`record_twilio_status`], 4. answer
//!    204. A believed failure moves the shopper to another channel (a send
//!    that costs money and a limit), so an unsigned receipt is never
//!    believed (own/twilio_status.rs, own/receipts.rs).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::sms::message::{mask_phone, ProviderCode};
use crate::sms::metrics::{ReceiptLabels, SmsMetrics};

/// Twilio's request signature: HMAC-SHA1, keyed with the auth token, over
/// the full URL followed by every POST parameter sorted by name (then
/// value, identical pairs once), each as name immediately followed by
/// value; base64. The
/// comparison is constant-time (`Mac::verify_slice`).
pub fn twilio_signature_valid(
    auth_token: &str,
    full_url: &str,
    form_params: &[(String, String)],
    header_sig: &str,
) -> bool {
    let Ok(expected) = STANDARD.decode(header_sig.trim()) else {
        return false;
    };
    let mut sorted: Vec<&(String, String)> = form_params.iter().collect();
    sorted.sort();
    // Identical repeated pairs count once, as in Twilio's own helper libraries.
    sorted.dedup();
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return false;
    };
    mac.update(full_url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac.verify_slice(&expected).is_ok()
}

/// Counts a final status (`delivered`, `failed`, `undelivered`) in
/// `otpgate_sms_delivery_receipts_total{provider="twilio",country,status}`.
/// Intermediate statuses (`queued`, `sent`, `ringing`, …) are ignored.
/// A call's `CallStatus` counts too: `completed` is delivered (the code
/// was read out), `busy`, `no-answer` and `canceled` undelivered, `failed`
/// failed. Returns the status counted, if any.
pub fn record_twilio_status(
    metrics: &SmsMetrics,
    params: &[(String, String)],
) -> Option<&'static str> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let status = match get("MessageStatus").or_else(|| get("SmsStatus")) {
        Some(s) => match s {
            "delivered" => "delivered",
            "failed" => "failed",
            "undelivered" => "undelivered",
            _ => return None,
        },
        None => match get("CallStatus")? {
            "completed" => "delivered",
            "failed" => "failed",
            "busy" | "no-answer" | "canceled" => "undelivered",
            _ => return None,
        },
    };
    let to = get("To").unwrap_or_default();
    let country = get("ToCountry")
        .filter(|c| c.len() == 2 && c.chars().all(|ch| ch.is_ascii_uppercase()))
        .map(str::to_owned);
    let code = get("ErrorCode").or_else(|| get("SipResponseCode"));
    record_receipt(metrics, "twilio", to, country, status, code);
    Some(status)
}

/// Counts one final receipt from any provider (label values from a small
/// fixed set: the country from the number, never the provider's text) and
/// logs an undelivered one with the number masked.
pub fn record_receipt(
    metrics: &SmsMetrics,
    provider: &str,
    to: &str,
    country: Option<String>,
    status: &'static str,
    error_code: Option<&str>,
) {
    let country = country.unwrap_or_else(|| country_of(to).to_owned());
    metrics
        .receipts
        .get_or_create(&ReceiptLabels {
            provider: provider.to_owned(),
            country: country.clone(),
            status: status.to_owned(),
        })
        .inc();
    if status != "delivered" {
        let code = ProviderCode::new(error_code.unwrap_or_default());
        tracing::warn!(phone = %mask_phone(to), %country, provider, status, error_code = %code, "sms: not delivered");
    }
}

/// The country of an E.164 number for the handful of calling codes that
/// belong to one country; `unknown` otherwise (e.g. `+1` is shared). Label
/// values stay a small fixed set, whatever a callback says.
pub fn country_of(e164: &str) -> &'static str {
    const CODES: [(&str, &str); 20] = [
        ("+91", "IN"),
        ("+44", "GB"),
        ("+49", "DE"),
        ("+33", "FR"),
        ("+61", "AU"),
        ("+65", "SG"),
        ("+971", "AE"),
        ("+966", "SA"),
        ("+92", "PK"),
        ("+880", "BD"),
        ("+94", "LK"),
        ("+977", "NP"),
        ("+62", "ID"),
        ("+63", "PH"),
        ("+55", "BR"),
        ("+52", "MX"),
        ("+81", "JP"),
        ("+234", "NG"),
        ("+254", "KE"),
        ("+27", "ZA"),
    ];
    CODES
        .iter()
        .find(|(prefix, _)| e164.starts_with(prefix))
        .map_or("unknown", |(_, iso)| iso)
}

#[cfg(test)]
mod tests {
    use super::{record_twilio_status, twilio_signature_valid};
    use crate::sms::metrics::{ReceiptLabels, SmsMetrics};

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    // Twilio's published example (twilio-php/-csharp RequestValidatorTest).
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn documented() -> Vec<(String, String)> {
        params(&[
            ("Digits", "1234"),
            ("To", "+18005551212"),
            ("From", "+14158675309"),
            ("Caller", "+14158675309"),
            ("CallSid", "CA1234567890ABCDE"),
        ])
    }

    #[test]
    fn accepts_twilios_documented_signature_in_any_param_order() {
        let sig = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        assert!(twilio_signature_valid("12345", URL, &documented(), sig));
        let mut reversed = documented();
        reversed.reverse();
        assert!(twilio_signature_valid("12345", URL, &reversed, sig));
    }

    #[test]
    fn sorts_repeated_keys_by_value_like_twilio() {
        let repeated = params(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert!(twilio_signature_valid(
            "12345",
            URL,
            &repeated,
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        ));
    }

    #[test]
    fn rejects_tampering_and_garbage() {
        let sig = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        let mut tampered = documented();
        tampered[0].1 = "9999".into();
        assert!(!twilio_signature_valid("12345", URL, &tampered, sig));
        assert!(!twilio_signature_valid("54321", URL, &documented(), sig));
        assert!(!twilio_signature_valid(
            "12345",
            &format!("{URL}&x=1"),
            &documented(),
            sig
        ));
        assert!(!twilio_signature_valid(
            "12345",
            URL,
            &documented(),
            "not base64 王"
        ));
        assert!(!twilio_signature_valid("12345", URL, &documented(), ""));
    }

    #[test]
    fn counts_final_statuses_by_country() {
        let metrics = SmsMetrics::new();
        let delivered = params(&[("MessageStatus", "delivered"), ("To", "+919812345678")]);
        assert_eq!(
            record_twilio_status(&metrics, &delivered),
            Some("delivered")
        );
        let failed = params(&[
            ("MessageStatus", "undelivered"),
            ("To", "+14155550100"),
            ("ErrorCode", "30003"),
        ]);
        assert_eq!(record_twilio_status(&metrics, &failed), Some("undelivered"));
        let queued = params(&[("MessageStatus", "queued"), ("To", "+919812345678")]);
        assert_eq!(record_twilio_status(&metrics, &queued), None);
        let count = |country: &str, status: &str| {
            metrics
                .receipts
                .get_or_create(&ReceiptLabels {
                    provider: "twilio".into(),
                    country: country.into(),
                    status: status.into(),
                })
                .get()
        };
        assert_eq!(count("IN", "delivered"), 1);
        assert_eq!(count("unknown", "undelivered"), 1);
    }
}
