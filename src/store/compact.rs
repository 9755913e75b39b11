//! The memory store's compact forms: a sale-day spike or a pumping attack
//! leaves hundreds of thousands of pending challenges and counters, so
//! each is kept in fixed-size fields instead of heap `String`s
//! (measured: tests/memory_per_challenge.rs counts heap bytes).
//!
//! - A challenge id made by `session::random_id` (32 lowercase hex digits)
//!   is kept as its 16 bytes; any other text (tests, odd held keys) as 16
//!   bytes of a keyed hash ([`Id`]): as unlikely to meet a random id as
//!   two random ids are to meet.
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

/// A challenge or held key, in 16 bytes (a table entry of 24 with its
/// slot's pointer, where an enum of bytes or text took 32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Id([u8; 16]);

impl Id {
    pub fn of(id: &str) -> Id {
        let b = id.as_bytes();
        let lower_hex = |c: &u8| c.is_ascii_digit() || (b'a'..=b'f').contains(c);
        if b.len() == 32 && b.iter().all(lower_hex) {
            let mut out = [0u8; 16];
            if hex::decode_to_slice(id, &mut out).is_ok() {
                return Id(out);
            }
        }
        Id(text_id(id))
    }
}

/// Any other text: its first 128 bits of SHA-256 under a key drawn at
/// start. The same space as a random id's 128 bits, so meeting one by
/// chance is as likely as two random ids meeting (2⁻¹²⁸ a pair); and
/// without the key no text can be chosen to meet a given id.
fn text_id(text: &str) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(rand::random);
    let mut h = Sha256::new();
    h.update(b"otpgate memory store id\0");
    h.update(key);
    h.update(text.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize()[..16]);
    out
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

/// A pending challenge as the memory store keeps it (see [`Challenge`]):
/// 48 bytes, so a [`Slot`] takes 64 (an allocator size class) instead of
/// 96. Its end is kept exactly; the send time as the milliseconds before
/// it (a `u32`: 49 days, far above any `otp.ttl`; a longer one keeps a
/// later send time, so a resend waits longer, never less). Attempts and
/// sends saturate at 65,535 (`otp.max_attempts` is at most 100).
#[derive(Debug, Clone)]
pub struct Pending {
    pub code_hash: crate::otp::CodeHash,
    pub expires_at: u64,
    life_ms: u32,
    attempts: u16,
    sends: u16,
    pub phone: Number,
}

impl Pending {
    pub fn of(ch: Challenge) -> Pending {
        Pending {
            code_hash: ch.code_hash,
            expires_at: ch.expires_at,
            life_ms: life(ch.sent_at, ch.expires_at),
            attempts: ch.attempts.try_into().unwrap_or(u16::MAX),
            sends: ch.sends.try_into().unwrap_or(u16::MAX),
            phone: Number::of(&ch.phone),
        }
    }

    pub fn challenge(&self) -> Challenge {
        Challenge {
            phone: self.phone.text(),
            code_hash: self.code_hash,
            sent_at: self.sent_at(),
            expires_at: self.expires_at,
            attempts: self.attempts(),
            sends: u32::from(self.sends),
        }
    }

    pub fn sent_at(&self) -> u64 {
        self.expires_at - u64::from(self.life_ms)
    }

    pub fn attempts(&self) -> u32 {
        u32::from(self.attempts)
    }

    /// Counts one guess; the attempts so far.
    pub fn attempt(&mut self) -> u32 {
        self.attempts = self.attempts.saturating_add(1);
        self.attempts()
    }

    /// A new code sent at `now_ms`, valid until `expires_at`.
    pub fn renew(&mut self, code_hash: crate::otp::CodeHash, now_ms: u64, expires_at: u64) {
        self.code_hash = code_hash;
        self.expires_at = expires_at;
        self.life_ms = life(now_ms, expires_at);
        self.sends = self.sends.saturating_add(1);
    }
}

/// Milliseconds from send to end, at most `u32::MAX` (then the send time
/// reads later than it was: see [`Pending`]).
fn life(sent_at: u64, expires_at: u64) -> u32 {
    expires_at
        .saturating_sub(sent_at)
        .try_into()
        .unwrap_or(u32::MAX)
}

/// A fixed-window counter: its window, its count, and when it may go
/// (the end of the window after its own: the pumping detector reads the
/// previous window's count).
#[derive(Debug, Clone, Copy)]
pub struct Counter {
    pub start: u64,
    /// Saturates at `u32::MAX` (a count past it reads as `u32::MAX`:
    /// limited for any configurable `max` below it).
    count: u32,
    /// When it may go, in whole unix seconds (rounded up: until 2106).
    ends_s: u32,
}

impl Counter {
    pub fn new(start: u64, ends_ms: u64) -> Counter {
        Counter {
            start,
            count: 0,
            ends_s: ends_ms.div_ceil(1000).try_into().unwrap_or(u32::MAX),
        }
    }

    pub fn count(&self) -> u64 {
        u64::from(self.count)
    }

    pub fn set(&mut self, count: u64) {
        self.count = count.try_into().unwrap_or(u32::MAX);
    }

    /// Whether it still counts for something at `now_ms` (the sweep).
    pub fn lives(&self, now_ms: u64) -> bool {
        u64::from(self.ends_s) * 1000 > now_ms
    }
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
        assert_eq!(hex::encode(Id::of(&random).0), random, "its own bytes");
        let texts = ["c", "{x}", &random.to_uppercase(), &format!("{random}0")];
        for text in texts {
            assert_eq!(Id::of(text), Id::of(text), "{text}: one id a text");
            assert_ne!(Id::of(text), Id::of(&random), "{text}");
        }
        for (i, a) in texts.iter().enumerate() {
            for b in &texts[i + 1..] {
                assert_ne!(Id::of(a), Id::of(b), "{a} {b}");
            }
        }
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

    /// The sizes the per-challenge budget (issue 13) is built on: a slot
    /// in the allocator's 64-byte class, a counter's table entry 24 bytes.
    #[test]
    fn compact_forms_keep_their_sizes() {
        assert_eq!(std::mem::size_of::<Option<Pending>>(), 48);
        assert_eq!(std::mem::size_of::<Slot>(), 64);
        assert_eq!(std::mem::size_of::<(u64, Counter)>(), 24);
        assert_eq!(std::mem::size_of::<(Id, Box<Slot>)>(), 24);
    }

    #[test]
    fn a_pending_challenge_round_trips_and_saturates_safely() {
        let ch = Challenge {
            phone: "+919812345678".into(),
            code_hash: [7; 16],
            sent_at: 1_764_598_400_000,
            expires_at: 1_764_598_700_000,
            attempts: 3,
            sends: 2,
        };
        let p = Pending::of(ch.clone());
        assert_eq!(p.challenge(), ch);
        // A send time more than 49 days before the end reads later (a
        // resend waits longer); the end stays exact.
        let long = Pending::of(Challenge {
            sent_at: 0,
            ..ch.clone()
        });
        assert_eq!(long.expires_at, ch.expires_at);
        assert!(long.sent_at() > 0);
        // An end before the send: the end is kept, the send reads as it.
        let odd = Pending::of(Challenge {
            sent_at: ch.expires_at + 5,
            ..ch.clone()
        });
        assert_eq!(
            (odd.expires_at, odd.sent_at()),
            (ch.expires_at, ch.expires_at)
        );
        let mut many = Pending::of(Challenge {
            attempts: 70_000,
            sends: 70_000,
            ..ch
        });
        assert_eq!(many.attempts(), 65_535);
        assert_eq!(many.attempt(), 65_535, "saturates, never wraps to 0");
        let mut c = Counter::new(0, 1_001);
        assert!(c.lives(1_999) && !c.lives(2_000), "ends rounded up to 2 s");
        c.set(u64::MAX);
        assert_eq!(c.count(), u64::from(u32::MAX));
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
        assert_eq!(slot.len(), 2, "both records count");
        assert!(slot.sweep(10), "meas lives until 20");
        assert_eq!(slot.len(), 1);
        assert!(!slot.sweep(20));
    }
}
