//! The challenge as Redis keeps it: one packed binary value, field `C` of
//! the challenge hash (redis/keys.rs), read and rewritten by the scripts
//! (redis/scripts.rs, Lua's `struct` library) at fixed offsets:
//!
//! | bytes | what |
//! | --- | --- |
//! | 1–16 | keyed hash of the code (otp.rs `CodeHash`) |
//! | 17–24 | sent at, unix ms, big-endian |
//! | 25–32 | expires at, unix ms, big-endian |
//! | 33–36 | wrong attempts, big-endian |
//! | 37–40 | sends, big-endian |
//! | 41– | the phone: a zero byte then E.164's digits as a 7-byte integer, or the text as it is |
//!
//! The field is `C` (a record's kind is lowercase letters, so the two
//! never meet): the first compact layout kept a 64-byte form (a 32-byte
//! hash) as field `c`, which is not read, so a code in flight at that
//! upgrade is simply gone (the shopper asks for another), never misread.
//!
//! 48 bytes for an E.164 number: within Redis's 64-byte limit for a
//! listpack-encoded hash value (`hash-max-listpack-value`), so the hash
//! stays compact. Decimal text would take twice that (a 13-digit time is
//! 13 bytes where 8 hold it). Held values (redis/held.rs) start with their
//! logical end the same way: 8 bytes, big-endian.

use crate::store::api::Challenge;

/// `hash | sent_at | expires_at`: what a resend writes over the start.
pub fn code_and_times(code_hash: &crate::otp::CodeHash, sent_at: u64, expires_at: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(48);
    v.extend_from_slice(code_hash);
    v.extend_from_slice(&sent_at.to_be_bytes());
    v.extend_from_slice(&expires_at.to_be_bytes());
    v
}

pub fn pack(ch: &Challenge) -> Vec<u8> {
    let mut v = code_and_times(&ch.code_hash, ch.sent_at, ch.expires_at);
    v.extend_from_slice(&ch.attempts.to_be_bytes());
    v.extend_from_slice(&ch.sends.to_be_bytes());
    v.extend_from_slice(&phone_bytes(&ch.phone));
    v
}

pub fn unpack(v: &[u8]) -> Option<Challenge> {
    let u64_at = |at: usize| Some(u64::from_be_bytes(v.get(at..at + 8)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_be_bytes(v.get(at..at + 4)?.try_into().ok()?));
    Some(Challenge {
        code_hash: v.get(..16)?.try_into().ok()?,
        sent_at: u64_at(16)?,
        expires_at: u64_at(24)?,
        attempts: u32_at(32)?,
        sends: u32_at(36)?,
        phone: phone_text(v.get(40..)?)?,
    })
}

/// E.164 (`+`, 1 to 15 digits, no leading zero: ITU-T E.164 §6) as a zero
/// byte and a 7-byte integer (10¹⁵ < 2⁵⁶); anything else as its text (a
/// phone's text never starts with a zero byte, so the forms never meet).
fn phone_bytes(phone: &str) -> Vec<u8> {
    let digits = phone.strip_prefix('+').unwrap_or("");
    let e164 = (1..=15).contains(&digits.len())
        && !digits.starts_with('0')
        && digits.bytes().all(|c| c.is_ascii_digit());
    match digits.parse::<u64>() {
        Ok(n) if e164 && !phone.starts_with('\0') => {
            let mut v = vec![0u8];
            v.extend_from_slice(&n.to_be_bytes()[1..]);
            v
        }
        _ => phone.as_bytes().to_vec(),
    }
}

pub fn phone_text(b: &[u8]) -> Option<String> {
    match b.split_first() {
        Some((0, n)) if n.len() == 7 => {
            let mut be = [0u8; 8];
            be[1..].copy_from_slice(n);
            Some(format!("+{}", u64::from_be_bytes(be)))
        }
        _ => String::from_utf8(b.to_vec()).ok(),
    }
}

/// A held value's logical end (its first 8 bytes), `None` if malformed.
pub fn until(v: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(v.get(..8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_packs_into_48_bytes_and_back() {
        for phone in ["+919812345678", "+1", "+999999999999999", "+0123", "odd"] {
            let ch = Challenge {
                phone: phone.into(),
                code_hash: [7; 16],
                sent_at: 1_764_598_400_123,
                expires_at: 1_764_598_700_123,
                attempts: 2,
                sends: 3,
            };
            let v = pack(&ch);
            if phone.len() > 3 && phone != "+0123" {
                assert_eq!(v.len(), 48, "{phone}");
            }
            let back = unpack(&v).unwrap();
            assert_eq!(back.phone, phone);
            assert_eq!(
                (back.code_hash, back.sent_at, back.expires_at),
                (ch.code_hash, ch.sent_at, ch.expires_at)
            );
            assert_eq!((back.attempts, back.sends), (2, 3));
        }
        assert!(unpack(&[0; 20]).is_none());
    }
}
