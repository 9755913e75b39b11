//! Key names, placed so that every atomic decision stays atomic on Redis
//! Cluster. A Cluster refuses (`CROSSSLOT`) a script or `MGET` whose keys
//! live in different hash slots, and a slot is chosen by the key's *hash
//! tag*: the text between the first `{` and the next `}`, or the whole key
//! when it has none (Redis Cluster specification, "Hash tags").
//!
//! - A challenge is one small hash, `otpgate:c:<id>` (the id's 16 raw
//!   bytes when it is a `session::random_id`, 32 hex digits; any other id
//!   as text under `otpgate:C:<id>`): field `C` the packed challenge
//!   (redis/packed.rs), and beside it the records the flow keeps per
//!   challenge (`m:<id>`, `code:<id>`, `dlvfail:<id>`, … are fields
//!   `m`, `code`, `dlvfail` of that same hash: [`Keys::held`]). One key,
//!   listpack-encoded (every value ≤ 64 bytes), instead of one key each:
//!   what a pending challenge costs (issue 13; bench/memory.sh).
//! - A counter is a field of a bucket hash, `otpgate:n:<window
//!   start>:<window ms>:<bucket>`: [`BUCKET_BITS`] (14: 16,384 buckets
//!   per window length and start), chosen by the first bits of SHA-256 of
//!   the counter's key, the field its bytes 3 to 10 (raw). Every counter
//!   of a bucket shares its window and so its end: one TTL for all. A
//!   field costs about 12 bytes where a key of its own costs about 110
//!   (Redis's per-key dictionary entry, expiry entry and object header);
//!   each bucket's own ~170 bytes are shared by the counters in it. A
//!   bucket stays listpack-encoded up to 128 fields (Redis's
//!   `hash-max-listpack-entries`), about 1.5 million counters of one
//!   window length per window; past that buckets turn into hash tables
//!   (about 75 bytes a counter: still less than a key each; raising that
//!   Redis setting keeps them compact). Two keys meeting in one bucket
//!   and field (78 bits: n²/2⁷⁹ for n counters) could only merge two
//!   counts — more refusals, never fewer.
//! - Neither kind has a hash tag: each hashes as a whole, so challenges
//!   and counters spread over every master. The operation key a
//!   repeat-safe script writes beside them (`scripts::once`) is tagged
//!   with the whole name of the key it serves, `otpgate:op:{<key>}:<random>`,
//!   which puts it in that key's slot by construction (outside a Cluster
//!   it is only `otpgate:op:<random>`).
//! - A held request (`otpgate:h:<hold id, 16 raw bytes>`, or
//!   `otpgate:H:<text>` for any other held key) has no tag either:
//!   holding, extending and claiming it each touch that one key.
//! - The session check reads the epoch, a revocation and the phone's
//!   "not before" time (admin API) in one `MGET`. On a Cluster these, and
//!   the admin API's prefix blocks, are tagged `{otpgate:epoch}` and so live
//!   in the epoch's slot: the `MGET` stays one command to one node, and —
//!   the reason it must be so — a master that loses its data loses the
//!   revocations *together with* the epoch, so the loss is detected and
//!   every old cookie refused (`store/epoch.rs`). Revocations spread over
//!   other masters could vanish while the epoch stayed, and a logged-out
//!   cookie would be accepted again. The price: every session check goes
//!   to the one master that owns that slot (challenges and counters, the
//!   write- and memory-heavy part, are what the Cluster shards).
//! - Outside a Cluster the names of revocations, not-before times, blocks
//!   and the epoch are what they always were. Challenges, counters and
//!   held requests changed layout in 0.9 (`otpgate:ch:`, `otpgate:cnt:`,
//!   `otpgate:held:` before): codes in flight at the upgrade must be
//!   resent, and counters start afresh (README "Scaling", upgrading).
//!
//! Parts that come from outside (ids, held keys, counter keys carry phone
//! numbers, IPs, prefixes) are escaped so they can never contain `{` or
//! `}` (raw id bytes too): a client cannot choose a key's slot, nor split
//! a script's keys across slots.

use std::borrow::Cow;

pub const EPOCH: &str = "otpgate:epoch";
/// Counter buckets per window: 2^14 (see the module docs).
pub const BUCKET_BITS: u32 = 14;
/// Where revocations are published (`PUBLISH`: on a Cluster it reaches
/// every node, so a subscriber may listen on any).
pub const CHANNEL: &str = "otpgate:revocations";

#[derive(Debug, Clone, Copy)]
pub struct Keys {
    pub cluster: bool,
}

/// Where a held key is kept (the same rule as the memory store's
/// `compact::Place`): a record beside a challenge, or a key of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeldAt {
    /// Field `kind` of the challenge hash.
    Field(Vec<u8>, String),
    Key(Vec<u8>),
}

impl Keys {
    /// The challenge hash of `id` (and of the records kept beside it).
    pub fn challenge(self, id: &str) -> Vec<u8> {
        compact_id("otpgate:c:", "otpgate:C:", id)
    }

    /// The bucket hash and field of counter `key` in the window starting
    /// at `window_start` (`window_ms` long).
    pub fn counter(self, window_start: u64, window_ms: u64, key: &str) -> (String, [u8; 8]) {
        use sha2::Digest;
        let d = sha2::Sha256::digest(key.as_bytes());
        let bucket = u16::from_be_bytes([d[0], d[1]]) >> (16 - BUCKET_BITS);
        let bucket = format!("otpgate:n:{window_start}:{window_ms}:{bucket:04x}");
        let mut field = [0u8; 8];
        field.copy_from_slice(&d[2..10]);
        (bucket, field)
    }

    /// A held key: `<kind>:<id>` (a kind of 1 to 8 lowercase letters) is
    /// field `kind` of challenge `id`'s hash; anything else (a held
    /// request under its hold id) a key of its own. One key always lands
    /// in one place, so hold, extend, claim and peek agree.
    pub fn held(self, key: &str) -> HeldAt {
        if let Some((kind, id)) = key.split_once(':') {
            if (1..=8).contains(&kind.len()) && kind.bytes().all(|c| c.is_ascii_lowercase()) {
                return HeldAt::Field(self.challenge(id), kind.to_string());
            }
        }
        HeldAt::Key(compact_id("otpgate:h:", "otpgate:H:", key))
    }

    /// A single-use mark (`Store::use_once`). No tag: one key.
    pub fn used(self, id: &str) -> String {
        format!("otpgate:used:{}", untagged(id))
    }

    pub fn revocation(self, session_id: &str) -> String {
        self.beside_epoch("rev", session_id)
    }

    /// The admin API's per-phone "not before" time.
    pub fn not_before(self, phone: &str) -> String {
        self.beside_epoch("nb", phone)
    }

    /// The revocation cache's index, numbering and "index complete" mark
    /// (`redis/cache.rs`), beside the epoch: lost together with it.
    pub fn rev_index(self) -> String {
        self.beside_epoch_name("revidx")
    }

    pub fn rev_seq(self) -> String {
        self.beside_epoch_name("revseq")
    }

    pub fn rev_ready(self) -> String {
        self.beside_epoch_name("revready")
    }

    fn beside_epoch_name(self, kind: &str) -> String {
        if self.cluster {
            format!("otpgate:{kind}:{{{EPOCH}}}")
        } else {
            format!("otpgate:{kind}")
        }
    }

    /// The admin API's prefix blocks (one hash).
    pub fn blocks(self) -> String {
        self.beside_epoch_name("blocks")
    }

    /// `otpgate:<kind>:<id>`; on a Cluster in the epoch's slot.
    fn beside_epoch(self, kind: &str, id: &str) -> String {
        if self.cluster {
            format!("otpgate:{kind}:{{{EPOCH}}}:{}", untagged(id))
        } else {
            format!("otpgate:{kind}:{}", untagged(id))
        }
    }

    /// A fresh operation key: 128 random bits in 22 characters (base64url;
    /// hex would take 32, raw bytes would make keys no operator can read).
    /// On a Cluster it carries `key`, a name made by [`Keys::challenge`] or
    /// [`Keys::counter`] (which hold no braces), as its tag: the slot of
    /// `key`. Elsewhere the tag would only cost memory, for as long as the
    /// key lives (`scripts::OP_TTL_MS`).
    pub fn operation_for(self, key: &[u8]) -> Vec<u8> {
        use base64::Engine;
        debug_assert!(!key.iter().any(|c| matches!(c, b'{' | b'}')));
        let random = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(rand::random::<u128>().to_le_bytes());
        let mut op = b"otpgate:op:".to_vec();
        if self.cluster {
            op.push(b'{');
            op.extend_from_slice(key);
            op.extend_from_slice(b"}:");
        }
        op.extend_from_slice(random.as_bytes());
        op
    }
}

/// `raw` and the 16 bytes of a `session::random_id` (32 lowercase hex
/// digits), or `text` and any other id; escaped either way. The prefixes
/// differ, so the two forms never meet.
fn compact_id(raw: &str, text: &str, id: &str) -> Vec<u8> {
    let b = id.as_bytes();
    let lower_hex = |c: &u8| c.is_ascii_digit() || (b'a'..=b'f').contains(c);
    let mut bytes = [0u8; 16];
    if b.len() == 32 && b.iter().all(lower_hex) && hex::decode_to_slice(id, &mut bytes).is_ok() {
        return escaped(raw, &bytes);
    }
    escaped(text, b)
}

/// `prefix` then `bytes` with `%`, `{` and `}` percent-encoded, as
/// [`untagged`] does for text.
fn escaped(prefix: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + bytes.len() + 4);
    out.extend_from_slice(prefix.as_bytes());
    for &c in bytes {
        match c {
            b'%' => out.extend_from_slice(b"%25"),
            b'{' => out.extend_from_slice(b"%7B"),
            b'}' => out.extend_from_slice(b"%7D"),
            c => out.push(c),
        }
    }
    out
}

/// `s` with `%`, `{` and `}` percent-encoded: no hash tag can form, and
/// distinct inputs stay distinct. The common case borrows.
pub(super) fn untagged(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '{', '}']) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.replace('%', "%25")
            .replace('{', "%7B")
            .replace('}', "%7D"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::cluster_routing::get_slot;

    fn slot(key: &str) -> u16 {
        get_slot(key.as_bytes())
    }

    #[test]
    fn each_script_touches_one_slot_whatever_the_caller_passes() {
        for cluster in [false, true] {
            let k = Keys { cluster };
            // Attacker-chosen parts that try to pick a slot or break a tag.
            for part in [
                "+919812345678",
                "ip:{x}",
                "a}b{c}",
                "{}",
                "}{",
                "%7B",
                "{otpgate:epoch}",
            ] {
                let random = crate::session::random_id();
                let held = |key: &str| match k.held(key) {
                    HeldAt::Field(key, _) | HeldAt::Key(key) => key,
                };
                for key in [
                    k.challenge(part),
                    k.challenge(&random),
                    k.counter(60_000, 60_000, part).0.into_bytes(),
                    k.used(part).into_bytes(),
                    held(part),
                    held(&format!("chan:{part}")),
                    held(&random),
                ] {
                    assert!(!key.iter().any(|c| matches!(c, b'{' | b'}')), "{key:?}");
                    if cluster {
                        let op = k.operation_for(&key);
                        assert_eq!(get_slot(&key), get_slot(&op), "{key:?}");
                    }
                }
            }
            assert_ne!(
                k.challenge("%7B"),
                k.challenge("{"),
                "escaping is injective"
            );
        }
    }

    #[test]
    fn on_a_cluster_revocations_share_the_epochs_slot() {
        let k = Keys { cluster: true };
        for sid in ["0123456789abcdef0123456789abcdef", "{x}", "}"] {
            assert_eq!(slot(&k.revocation(sid)), slot(EPOCH), "{sid}");
            assert_eq!(slot(&k.not_before(sid)), slot(EPOCH), "{sid}");
        }
        assert_eq!(slot(&k.blocks()), slot(EPOCH));
        for key in [k.rev_index(), k.rev_seq(), k.rev_ready()] {
            assert_eq!(slot(&key), slot(EPOCH), "{key}");
        }
        let plain = Keys { cluster: false };
        assert_eq!(plain.revocation("abc"), "otpgate:rev:abc", "names kept");
        assert_eq!(plain.challenge("abc"), b"otpgate:C:abc");
        let id = "7b7d25".to_string() + &"0".repeat(26);
        let mut raw = b"otpgate:c:%7B%7D%25".to_vec();
        raw.extend_from_slice(&[0; 13]);
        assert_eq!(plain.challenge(&id), raw, "raw id bytes, escaped");
        assert_eq!(
            plain.held(&format!("chan:{id}")),
            HeldAt::Field(raw, "chan".into()),
            "a record lives in its challenge's hash"
        );
        assert!(matches!(plain.held("Chan:x"), HeldAt::Key(_)));
        assert_eq!(
            plain.counter(5, 60, "send:ip"),
            plain.counter(5, 60, "send:ip")
        );
        assert_ne!(
            plain.counter(5, 60, "send:ip"),
            plain.counter(5, 60, "send:iq")
        );
        assert!(plain.counter(5, 60, "k").0.starts_with("otpgate:n:5:60:"));
        assert_eq!(plain.not_before("+91"), "otpgate:nb:+91");
        assert_eq!(plain.blocks(), "otpgate:blocks");
    }
}
