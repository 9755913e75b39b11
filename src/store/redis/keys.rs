//! Key names, placed so that every atomic decision stays atomic on Redis
//! Cluster. A Cluster refuses (`CROSSSLOT`) a script or `MGET` whose keys
//! live in different hash slots, and a slot is chosen by the key's *hash
//! tag*: the text between the first `{` and the next `}`, or the whole key
//! when it has none (Redis Cluster specification, "Hash tags").
//!
//! - A challenge (`otpgate:ch:<id>`) and a counter (`otpgate:cnt:<window
//!   start>:<key>`) have no tag: each hashes as a whole, so challenges and
//!   counters spread over every master. The operation key a repeat-safe
//!   script writes beside them (`scripts::once`) is tagged with the whole
//!   name of the key it serves, `otpgate:op:{otpgate:ch:<id>}:<random>`,
//!   which puts it in that key's slot by construction (outside a Cluster
//!   it is only `otpgate:op:<random>`).
//! - A held request (`otpgate:held:<id>`) has no tag either: holding,
//!   extending and claiming it each touch that one key.
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
//! - Outside a Cluster the names are what they always were, so upgrading
//!   a running single-server or Sentinel deployment keeps every pending
//!   challenge, counter and revocation.
//!
//! Parts that come from outside (counter keys carry phone numbers, IPs,
//! prefixes) are escaped so they can never contain `{` or `}`: a client
//! cannot choose a key's slot, nor split a script's keys across slots.

use std::borrow::Cow;

pub const EPOCH: &str = "otpgate:epoch";
/// Where revocations are published (`PUBLISH`: on a Cluster it reaches
/// every node, so a subscriber may listen on any).
pub const CHANNEL: &str = "otpgate:revocations";

#[derive(Debug, Clone, Copy)]
pub struct Keys {
    pub cluster: bool,
}

impl Keys {
    pub fn challenge(self, id: &str) -> String {
        format!("otpgate:ch:{}", untagged(id))
    }

    pub fn counter(self, window_start: u64, key: &str) -> String {
        format!("otpgate:cnt:{window_start}:{}", untagged(key))
    }

    /// A held request (sealed; redis/held.rs). No tag: each is one key
    /// touched by one-key scripts, so they spread over every master.
    pub fn held(self, id: &str) -> String {
        format!("otpgate:held:{}", untagged(id))
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
    pub fn operation_for(self, key: &str) -> String {
        use base64::Engine;
        debug_assert!(!key.contains(['{', '}']), "{key}");
        let random = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(rand::random::<u128>().to_le_bytes());
        if self.cluster {
            format!("otpgate:op:{{{key}}}:{random}")
        } else {
            format!("otpgate:op:{random}")
        }
    }
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
                for key in [k.challenge(part), k.counter(60_000, part)] {
                    assert!(!key.contains(['{', '}']), "{key}");
                    if cluster {
                        let op = k.operation_for(&key);
                        assert_eq!(slot(&key), slot(&op), "{key}");
                    }
                }
            }
            assert_ne!(
                k.counter(0, "%7B"),
                k.counter(0, "{"),
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
        assert_eq!(plain.challenge("abc"), "otpgate:ch:abc");
        assert_eq!(plain.counter(5, "send:ip"), "otpgate:cnt:5:send:ip");
        assert_eq!(plain.not_before("+91"), "otpgate:nb:+91");
        assert_eq!(plain.blocks(), "otpgate:blocks");
    }
}
