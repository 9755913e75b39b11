//! The memory store's compact forms: a sale-day spike or a pumping attack
//! leaves hundreds of thousands of pending challenges and counters, so
//! each is kept in fixed-size fields instead of heap `String`s
//! (measured: tests/memory_per_challenge.rs counts heap bytes).
//!
//! - A challenge id made by `session::random_id` (32 lowercase hex digits)
//!   is kept as its 16 bytes; any other text as it is. The two forms never
//!   meet: text is kept only when it is not such an id, so the mapping is
//!   one-to-one.
//! - A phone number in E.164 (`+` and at most 15 digits, no leading zero:
//!   ITU-T E.164 §6) is kept as an integer; anything else as text.
//! - A challenge and the short records kept beside it (`<kind>:<id>`:
//!   the delivery record, the sealed code: [`Place`]) share one map
//!   entry, a [`Slot`]: one key and one table slot per challenge instead
//!   of one per record, the records packed in one allocation
//!   (store/records.rs). The slot is boxed, so the table
//!   (which holds up to twice its entries' size in empty slots right after
//!   it grows) holds only a pointer of it.
//! - A stored value (held request, record) is one boxed slice: its logical
//!   end (8 bytes) then the bytes.
//! - A counter key (`send_per_phone:+91…`) is kept as a 64-bit keyed hash
//!   (SipHash, a key drawn at start): counters are only ever looked up,
//!   never listed, and two keys colliding (about n²/2⁶⁵ for n live
//!   counters: 3·10⁻⁸ for a million) could only merge two counts — more
//!   refusals, never fewer. A counter goes with the window after its own.

use std::hash::{BuildHasher, Hasher};

use super::api::Challenge;
use super::records::Records;

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
    /// Boxed twice: a thin pointer, so a `Number` takes 16 bytes.
    #[allow(clippy::box_collection, clippy::redundant_allocation)]
    Text(Box<Box<str>>),
}

impl Number {
    pub fn of(phone: &str) -> Number {
        let digits = phone.strip_prefix('+').unwrap_or("");
        let e164 = (1..=15).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.bytes().all(|c| c.is_ascii_digit());
        match digits.parse() {
            Ok(n) if e164 => Number::E164(n),
            _ => Number::Text(Box::new(phone.into())),
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

/// Counter keys as 64-bit keyed hashes.
#[derive(Default)]
pub struct CounterKeys(std::collections::hash_map::RandomState);

impl CounterKeys {
    pub fn of(&self, key: &str) -> u64 {
        let mut h = self.0.build_hasher();
        h.write(key.as_bytes());
        h.finish()
    }
}

/// A stored value: its logical end (unix ms) then its bytes, in one
/// allocation.
pub fn stored(until_ms: u64, bytes: &[u8]) -> Box<[u8]> {
    let mut v = Vec::with_capacity(8 + bytes.len());
    v.extend_from_slice(&until_ms.to_le_bytes());
    v.extend_from_slice(bytes);
    v.into_boxed_slice()
}

pub fn until(value: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&value[..8]);
    u64::from_le_bytes(b)
}

pub fn set_until(value: &mut [u8], until_ms: u64) {
    value[..8].copy_from_slice(&until_ms.to_le_bytes());
}

/// The bytes of a stored value whose end is after `now_ms`.
pub fn live(value: &[u8], now_ms: u64) -> Option<Vec<u8>> {
    (until(value) > now_ms).then(|| value[8..].to_vec())
}

/// A record's kind (`m`, `code`, …): up to 8 lowercase letters, kept
/// inline (zero-padded: a kind holds no zero byte, so padding is
/// unambiguous).
pub type Kind = [u8; 8];

/// Where a held key is kept: `<kind>:<id>` (a record beside challenge
/// `id`, in its [`Slot`]) or on its own (a held request under its hold
/// id, a single-use mark, anything else). One key always lands in one
/// place, so hold, extend, claim and peek agree.
#[derive(Debug, PartialEq, Eq)]
pub enum Place {
    Record(Id, Kind),
    Own(Id),
}

impl Place {
    pub fn of(key: &str) -> Place {
        if let Some((kind, id)) = key.split_once(':') {
            if (1..=8).contains(&kind.len()) && kind.bytes().all(|c| c.is_ascii_lowercase()) {
                let mut k = [0u8; 8];
                k[..kind.len()].copy_from_slice(kind.as_bytes());
                return Place::Record(Id::of(id), k);
            }
        }
        Place::Own(Id::of(key))
    }
}

/// A challenge id's entry: the challenge while it is pending, and the
/// records kept beside it (store/records.rs); gone when both are.
#[derive(Debug, Default)]
pub struct Slot {
    pub pending: Option<Pending>,
    pub records: Records,
}

/// A kind's letters, without the zero padding.
pub fn kind(k: &Kind) -> &[u8] {
    let len = k.iter().position(|b| *b == 0).unwrap_or(k.len());
    &k[..len]
}

impl Slot {
    /// Drops what ended by `now_ms`; `false` when nothing is left.
    pub fn sweep(&mut self, now_ms: u64) -> bool {
        if self
            .pending
            .as_ref()
            .is_some_and(|p| p.expires_at <= now_ms)
        {
            self.pending = None;
        }
        self.records.sweep(now_ms);
        !self.is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_none() && self.records.is_empty()
    }

    /// Live things in the slot (the store's `len`).
    pub fn len(&self) -> usize {
        usize::from(self.pending.is_some()) + self.records.len()
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
        assert_eq!(std::mem::size_of::<Number>(), 16);
    }

    #[test]
    fn held_keys_land_in_one_place() {
        let id = crate::session::random_id();
        let chan = Place::of(&format!("chan:{id}"));
        assert_eq!(chan, Place::Record(Id::of(&id), *b"chan\0\0\0\0"));
        assert_eq!(Place::of(&id), Place::Own(Id::of(&id)));
        for own in ["Chan:x", "toolongkind:x", ":x", "a-b:x", "x"] {
            assert!(matches!(Place::of(own), Place::Own(_)), "{own}");
        }
        assert_ne!(Place::of("dlv:x"), Place::of("dlvx:"));
        assert_eq!(kind(b"chan\0\0\0\0"), b"chan");
        assert_eq!(kind(b"dlvfailx"), b"dlvfailx");
        let mut slot = Slot::default();
        slot.records.set(b"chan", 10, b"sms");
        slot.records.set(b"m", 20, b"m");
        assert!(slot.sweep(10), "meas lives until 20");
        assert_eq!(slot.len(), 1);
        assert!(!slot.sweep(20));
    }
}
