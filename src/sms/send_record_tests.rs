use super::{Receipt, SendRecord, NAMED, PROVIDERS};
use crate::sms::measure::{operator_prefix, SendLabels};

fn record(provider: &str, channel: &str, e164: &str) -> SendRecord {
    let (country, prefix) = operator_prefix(e164);
    SendRecord {
        labels: SendLabels {
            provider: provider.into(),
            channel: channel.into(),
            country,
            prefix,
        },
        sent_at: 1_764_598_400_123,
        receipt: Receipt::None,
        verified: false,
    }
}

#[test]
fn every_send_a_flow_makes_round_trips() {
    let mut all = Vec::new();
    for provider in PROVIDERS.iter().copied().chain(["test-sender", "é"]) {
        for channel in ["sms", "whatsapp", "voice"] {
            for e164 in ["+919812345678", "+14155550123", "+999", "+447700900123"] {
                for receipt in [Receipt::None, Receipt::Delivered, Receipt::Failed] {
                    for verified in [false, true] {
                        let mut r = record(provider, channel, e164);
                        r.receipt = receipt;
                        r.verified = verified;
                        all.push(r);
                    }
                }
            }
        }
    }
    for r in all {
        let bytes = r.encode().expect("encodable");
        if PROVIDERS.contains(&r.labels.provider.as_str()) {
            assert_eq!(bytes.len(), 12, "{r:?}");
        }
        assert_eq!(SendRecord::decode(&bytes), Some(r));
    }
    let unknown = record("console", "sms", "+999");
    assert_eq!(unknown.labels.country, "unknown");
    assert_eq!(unknown.labels.prefix, "");
}

#[test]
fn labels_the_form_cannot_hold_are_not_encoded() {
    let base = record("console", "sms", "+919812345678");
    let mut bad = Vec::new();
    for (country, prefix) in [
        ("in", "9812"),
        ("IND", "9812"),
        ("IN", "98123"),
        ("IN", "98a"),
    ] {
        let mut r = base.clone();
        r.labels.country = country.into();
        r.labels.prefix = prefix.into();
        bad.push(r);
    }
    let mut r = base.clone();
    r.labels.channel = "fax".into();
    bad.push(r);
    let mut r = base;
    r.labels.provider = String::new();
    bad.push(r);
    for r in bad {
        assert_eq!(r.encode(), None, "{r:?}");
    }
}

/// An upgrade meets records of the text form (flow/measure.rs before
/// 0.10): each one, and every corruption of a good record, is absent.
#[test]
fn old_text_and_malformed_records_are_absent() {
    for old in [
        &b"twilio\tsms\tIN\t9812\t1764598400000\t--"[..],
        b"console\tsms\tunknown\t\t1764598400000\tdv",
        b"x\tsms\tIN\t\t1764598400000\t--",
    ] {
        assert_eq!(SendRecord::decode(old), None);
    }
    let good = record("twilio", "sms", "+919812345678").encode().unwrap();
    let mut bad: Vec<Vec<u8>> = (0..good.len()).map(|n| good[..n].to_vec()).collect();
    for (at, byte) in [
        (0, PROVIDERS.len() as u8),
        (0, NAMED),
        (1, 0b11),
        (1, 0b1100),
        (1, 0b10_0000),
        (2, b'i'),
        (3, 0),
        (4, 0x9A),
        (4, 0xF9),
        (5, 0xAF),
    ] {
        let mut b = good.clone();
        b[at] = byte;
        bad.push(b);
    }
    let mut longer = good.clone();
    longer.push(b'x');
    bad.push(longer);
    let mut named = record("test-sender", "sms", "+999").encode().unwrap();
    named.push(0xFF);
    bad.push(named);
    for b in bad {
        assert_eq!(SendRecord::decode(&b), None, "{b:?}");
    }
    // Every byte string of the fixed size decodes or not, never panics.
    for first in 0..=255u8 {
        for flags in 0..=255u8 {
            let _ = SendRecord::decode(&[first, flags, b'I', b'N', 0x98, 0x12, 0, 0, 0, 0, 0, 1]);
        }
    }
}
