//! The memory store's compact forms: a sale-day spike or a pumping attack
//! leaves hundreds of thousands of pending challenges and counters, so
//! each is kept in fixed-size fields instead of heap `String`s.
//!
//! - A challenge id made by `session::random_id` (32 lowercase hex digits)
//!   is kept as its 16 bytes; any other text as it is. The two forms never
//!   meet: text is kept only when it is not such an id, so the mapping is
//!   one-to-one.
//! - A phone number in E.164 (`+` and at most 15 digits, no leading zero:
//!   ITU-T E.164 §6) is kept as an integer; anything else as text.
//! - A counter key (`send_per_phone:+91…`) is kept as a 128-bit keyed hash
//!   (two SipHash keys drawn at start): counters are only ever looked up,
//!   never listed, and two keys colliding (about n²/2¹²⁹ for n counters)
//!   could only merge two counts — more refusals, never fewer.

use std::hash::{BuildHasher, Hasher};

use super::api::Challenge;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Id {
    Random([u8; 16]),
    Text(Box<str>),
}

impl Id {
    pub fn of(id: &str) -> Id {
        let b = id.as_bytes();
        let lower_hex = |c: &u8| c.is_ascii_digit() || (b'a'..=b'f').contains(c);
        if b.len() == 32 && b.iter().all(lower_hex) {
            let mut out = [0u8; 16];
            if hex::decode_to_slice(id, &mut out).is_ok() {
                return Id::Random(out);
            }
        }
        Id::Text(id.into())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Number {
    E164(u64),
    Text(Box<str>),
}

impl Number {
    pub fn of(phone: &str) -> Number {
        let digits = phone.strip_prefix('+').unwrap_or("");
        let e164 = (1..=15).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.bytes().all(|c| c.is_ascii_digit());
        match digits.parse() {
            Ok(n) if e164 => Number::E164(n),
            _ => Number::Text(phone.into()),
        }
    }

    pub fn text(&self) -> String {
        match self {
            Number::E164(n) => format!("+{n}"),
            Number::Text(t) => t.to_string(),
        }
    }
}

/// A pending challenge as the memory store keeps it (see [`Challenge`]).
#[derive(Debug, Clone)]
pub struct Pending {
    pub code_hash: [u8; 32],
    pub sent_at: u64,
    pub expires_at: u64,
    pub attempts: u32,
    pub sends: u32,
    pub phone: Number,
}

impl Pending {
    pub fn of(ch: Challenge) -> Pending {
        Pending {
            code_hash: ch.code_hash,
            sent_at: ch.sent_at,
            expires_at: ch.expires_at,
            attempts: ch.attempts,
            sends: ch.sends,
            phone: Number::of(&ch.phone),
        }
    }

    pub fn challenge(&self) -> Challenge {
        Challenge {
            phone: self.phone.text(),
            code_hash: self.code_hash,
            sent_at: self.sent_at,
            expires_at: self.expires_at,
            attempts: self.attempts,
            sends: self.sends,
        }
    }
}

/// A fixed-window counter: its window, its count, and when it may go
/// (the end of the window after its own: the pumping detector reads the
/// previous window's count).
#[derive(Debug, Clone, Copy)]
pub struct Counter {
    pub start: u64,
    pub count: u64,
    pub ends: u64,
}

/// Counter keys as 128-bit keyed hashes.
pub struct CounterKeys {
    a: std::collections::hash_map::RandomState,
    b: std::collections::hash_map::RandomState,
}

impl Default for CounterKeys {
    fn default() -> Self {
        CounterKeys {
            a: std::collections::hash_map::RandomState::new(),
            b: std::collections::hash_map::RandomState::new(),
        }
    }
}

impl CounterKeys {
    pub fn of(&self, key: &str) -> u128 {
        let half = |s: &std::collections::hash_map::RandomState| {
            let mut h = s.build_hasher();
            h.write(key.as_bytes());
            h.finish() as u128
        };
        (half(&self.a) << 64) | half(&self.b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_round_trip_and_never_meet() {
        let random = crate::session::random_id();
        assert!(matches!(Id::of(&random), Id::Random(_)));
        for text in ["c", "{x}", &random.to_uppercase(), &format!("{random}0")] {
            assert!(matches!(Id::of(text), Id::Text(_)), "{text}");
        }
        assert_ne!(Id::of(&random), Id::of(&random.to_uppercase()));
        for phone in ["+919812345678", "+1", "+999999999999999"] {
            assert!(matches!(Number::of(phone), Number::E164(_)), "{phone}");
            assert_eq!(Number::of(phone).text(), phone);
        }
        for odd in [
            "+0919812345678",
            "919812345678",
            "+",
            "+1234567890123456",
            "+91 98",
            "{",
        ] {
            assert!(matches!(Number::of(odd), Number::Text(_)), "{odd}");
            assert_eq!(Number::of(odd).text(), odd);
        }
        let k = CounterKeys::default();
        assert_eq!(k.of("send_per_phone:+91"), k.of("send_per_phone:+91"));
        assert_ne!(k.of("send_per_phone:+91"), k.of("send_per_phone:+92"));
    }
}
