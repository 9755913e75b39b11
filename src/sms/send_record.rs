//! The delivery record kept beside a pending challenge (flow/measure.rs),
//! in a fixed binary form: every pending challenge carries one, so its
//! size is part of what a sale-day spike or a pumping attack costs
//! (issue 13: ≤ 256 B per pending challenge, tests/memory_per_challenge.rs
//! and tests/redis_store/memory.rs).
//!
//! Twelve bytes for a built-in provider:
//!
//! | bytes | what |
//! | --- | --- |
//! | 0 | provider: index in [`PROVIDERS`], or [`NAMED`] (its name follows byte 11) |
//! | 1 | channel (bits 0–1), receipt (bits 2–3: none, delivered, failed), verified (bit 4) |
//! | 2–3 | country: ISO 3166 alpha-2 in capitals, or two zero bytes for `unknown` |
//! | 4–5 | operator prefix: up to four digits, one per half byte, `0xF` pads |
//! | 6–11 | send time, unix ms, 48-bit big-endian (until the year 10889) |
//!
//! Decoding checks every field and rejects anything else (`None`: the
//! record counts as absent), so the text form of earlier versions
//! (`twilio\tsms\tIN\t9812\t1764598400000\t--`, at least 26 bytes, and
//! under another kind, `meas:`) can never be misread, and a corrupt record never
//! panics.

use super::measure::SendLabels;
use super::Channel;

/// The built-in providers' names (`Sender::name`), by index. Appending
/// keeps old records readable; reordering would not.
pub const PROVIDERS: [&str; 11] = [
    "console",
    "file",
    "twilio",
    "msg91",
    "vonage",
    "webhook",
    "twilio_voice",
    "msg91_voice",
    "twilio_whatsapp",
    "msg91_whatsapp",
    "meta_whatsapp",
];

/// Byte 0 for a provider not in [`PROVIDERS`]: its name follows.
pub const NAMED: u8 = 0xFF;

const FIXED: usize = 12;
/// The longest send time 48 bits hold.
const MAX_MS: u64 = (1 << 48) - 1;

/// What a final receipt said of the send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    None,
    Delivered,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRecord {
    pub labels: SendLabels,
    pub sent_at: u64,
    pub receipt: Receipt,
    pub verified: bool,
}

impl SendRecord {
    /// The record's bytes; `None` for labels this form cannot hold (a
    /// country that is not two capitals, a prefix that is not up to four
    /// digits, a channel that is not one: never from `operator_prefix`).
    pub fn encode(&self) -> Option<Vec<u8>> {
        let l = &self.labels;
        let mut out = Vec::with_capacity(FIXED);
        match PROVIDERS.iter().position(|p| *p == l.provider) {
            Some(i) => out.push(i as u8),
            None => out.push(NAMED),
        }
        let channel = Channel::parse(&l.channel)? as u8;
        let receipt = match self.receipt {
            Receipt::None => 0,
            Receipt::Delivered => 1,
            Receipt::Failed => 2,
        };
        out.push(channel | receipt << 2 | u8::from(self.verified) << 4);
        out.extend_from_slice(&country(&l.country)?);
        out.extend_from_slice(&prefix(&l.prefix)?);
        out.extend_from_slice(&self.sent_at.min(MAX_MS).to_be_bytes()[2..]);
        if out[0] == NAMED {
            if l.provider.is_empty() {
                return None;
            }
            out.extend_from_slice(l.provider.as_bytes());
        }
        Some(out)
    }

    pub fn decode(bytes: &[u8]) -> Option<SendRecord> {
        if bytes.len() < FIXED {
            return None;
        }
        let provider = match bytes[0] {
            NAMED if bytes.len() > FIXED => std::str::from_utf8(&bytes[FIXED..]).ok()?,
            i if bytes.len() == FIXED => PROVIDERS.get(usize::from(i))?,
            _ => return None,
        };
        let flags = bytes[1];
        if flags >> 5 != 0 {
            return None;
        }
        let channel = match flags & 0b11 {
            0 => Channel::Sms,
            1 => Channel::Whatsapp,
            2 => Channel::Voice,
            _ => return None,
        };
        let receipt = match flags >> 2 & 0b11 {
            0 => Receipt::None,
            1 => Receipt::Delivered,
            2 => Receipt::Failed,
            _ => return None,
        };
        let mut ms = [0u8; 8];
        ms[2..].copy_from_slice(&bytes[6..12]);
        Some(SendRecord {
            labels: SendLabels {
                provider: provider.to_owned(),
                channel: channel.as_str().to_owned(),
                country: country_text([bytes[2], bytes[3]])?,
                prefix: prefix_text([bytes[4], bytes[5]])?,
            },
            sent_at: u64::from_be_bytes(ms),
            receipt,
            verified: flags & 0b1_0000 != 0,
        })
    }
}

fn country(text: &str) -> Option<[u8; 2]> {
    match text.as_bytes() {
        b"unknown" => Some([0, 0]),
        [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Some([*a, *b]),
        _ => None,
    }
}

fn country_text(b: [u8; 2]) -> Option<String> {
    match b {
        [0, 0] => Some("unknown".into()),
        [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => {
            Some(String::from_utf8(vec![a, b]).ok()?)
        }
        _ => None,
    }
}

fn prefix(text: &str) -> Option<[u8; 2]> {
    if text.len() > 4 || !text.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut nibbles = [0xFu8; 4];
    for (n, c) in nibbles.iter_mut().zip(text.bytes()) {
        *n = c - b'0';
    }
    Some([nibbles[0] << 4 | nibbles[1], nibbles[2] << 4 | nibbles[3]])
}

/// Digits, then only padding: `9F8F` is not a prefix.
fn prefix_text(b: [u8; 2]) -> Option<String> {
    let nibbles = [b[0] >> 4, b[0] & 0xF, b[1] >> 4, b[1] & 0xF];
    let digits = nibbles.iter().take_while(|n| **n <= 9).count();
    if nibbles[digits..].iter().any(|n| *n != 0xF) {
        return None;
    }
    Some(
        nibbles[..digits]
            .iter()
            .map(|n| char::from(b'0' + n))
            .collect(),
    )
}

#[cfg(test)]
#[path = "send_record_tests.rs"]
mod tests;
