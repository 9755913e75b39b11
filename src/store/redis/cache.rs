//! The revocation cache: the per-request session check answered from this
//! instance's memory, with Redis as the source of truth, so a signed-in
//! request costs no round trip.
//!
//! What it holds: every live revocation (logout, pumping network block),
//! every per-phone "not before" time (admin API), the store's epoch, and
//! `seq`, the number of the last revocation it applied. Every revocation
//! is written by one script (`scripts::REVOKE`) that also adds it to an
//! index, increments `otpgate:revseq` and publishes it, atomically: the
//! numbers have no holes, so a missed message shows as a gap.
//!
//! When it may answer (everything else falls back to the round trip, the
//! MGET it replaced: fail closed, never "not revoked"):
//! - after a snapshot (index, epoch and `seq` read in one script) taken
//!   *after* the subscription was confirmed, so nothing published since
//!   the snapshot can be missed; a dropped subscription, a gap in `seq`, a
//!   new epoch or a heartbeat that finds Redis ahead (`seq`) or emptied
//!   (epoch, `seq` went back) forgets everything until the next snapshot;
//! - and only until [`TRUST`] after the send of the last heartbeat or
//!   snapshot that found this cache complete. A revocation committed at
//!   time t is either in that read (and applied) or the read began before
//!   t; so whatever happens to the messages, a revocation made on another
//!   instance is enforced here within [`TRUST`] (≤ 1 s). Pub/sub makes it
//!   milliseconds in practice; the heartbeat makes it a bound. The
//!   instance that revokes applies it at once, before answering.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use crate::store::api::SessionCheck;

/// How long a complete read of Redis is trusted: the staleness bound.
pub const TRUST: Duration = Duration::from_secs(1);
/// How often the subscriber reads `seq` and the epoch (several per
/// [`TRUST`], so one slow or lost heartbeat does not end the trust).
pub const HEARTBEAT_EVERY: Duration = Duration::from_millis(250);

/// What a revocation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A session (or a pumping network block) id, revoked until `value`
    /// (the caller's clock, as the round trip compares it).
    Revoked,
    /// Every session of a phone verified up to `value` (admin API).
    NotBefore,
}

/// One revocation, as the index stores it (`r|<id>|<value>` or
/// `n|<phone>|<value>`, ids escaped as in key names) and the channel
/// carries it. `ends` (unix ms, system clock) is when its key expires,
/// the index's score: the entry counts exactly as long as the key would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    pub id: String,
    pub value: u64,
    pub ends: u64,
}

impl Entry {
    pub fn member(&self) -> String {
        let kind = match self.kind {
            Kind::Revoked => "r",
            Kind::NotBefore => "n",
        };
        format!("{kind}|{}|{}", self.id, self.value)
    }

    /// Parses an index member and its score. The id is what lies between
    /// the first and the last `|`, so an id holding `|` stays whole.
    pub fn parse(member: &str, ends: u64) -> Option<Entry> {
        let (kind, rest) = member.split_once('|')?;
        let (id, value) = rest.rsplit_once('|')?;
        let kind = match kind {
            "r" => Kind::Revoked,
            "n" => Kind::NotBefore,
            _ => return None,
        };
        Some(Entry {
            kind,
            id: id.to_string(),
            value: value.parse().ok()?,
            ends,
        })
    }
}

/// A message on the channel: `<seq>|<ends>|<member>`, or `0|0|e|<epoch>`
/// when an epoch was written (the store was empty: start over, unless the
/// snapshot already had it), or `0|0|p|<nonce>`, a subscriber's probe of
/// its own subscription (every other instance ignores it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Entry { seq: u64, entry: Entry },
    Epoch(u64),
    Probe(u64),
}

impl Message {
    pub fn parse(payload: &str) -> Option<Message> {
        let mut parts = payload.splitn(3, '|');
        let seq: u64 = parts.next()?.parse().ok()?;
        let ends: u64 = parts.next()?.parse().ok()?;
        let member = parts.next()?;
        if let Some(epoch) = member.strip_prefix("e|") {
            return Some(Message::Epoch(epoch.parse().ok()?));
        }
        if let Some(nonce) = member.strip_prefix("p|") {
            return Some(Message::Probe(nonce.parse().ok()?));
        }
        Some(Message::Entry {
            seq,
            entry: Entry::parse(member, ends)?,
        })
    }
}

/// What Redis said in one snapshot.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub epoch: Option<u64>,
    pub seq: u64,
    pub entries: Vec<Entry>,
}

/// Whether the subscriber may go on, or must subscribe and read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Fine,
    Resync,
}

#[derive(Default)]
struct State {
    /// `false` until a snapshot is installed, and after anything that
    /// makes the contents doubtful.
    synced: bool,
    trusted_until: Option<Instant>,
    epoch: Option<u64>,
    seq: u64,
    /// A heartbeat that found Redis ahead: its send time and `seq`. Once
    /// the messages up to it arrive, the trust runs from that send.
    behind: Option<(Instant, u64)>,
    /// id -> (revoked until, entry ends).
    revoked: HashMap<String, (u64, u64)>,
    /// phone -> (not before, entry ends).
    not_before: HashMap<String, (u64, u64)>,
}

impl State {
    fn add(&mut self, e: Entry) {
        // The later of two entries wins (fail closed: never shortens).
        let map = match e.kind {
            Kind::Revoked => &mut self.revoked,
            Kind::NotBefore => &mut self.not_before,
        };
        let v = map.entry(e.id).or_default();
        *v = (v.0.max(e.value), v.1.max(e.ends));
    }

    fn trust_from(&mut self, sent: Instant) {
        let until = sent + TRUST;
        self.trusted_until = Some(self.trusted_until.map_or(until, |t| t.max(until)));
    }
}

#[derive(Default)]
pub struct Cache {
    state: RwLock<State>,
}

impl Cache {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The session check from memory, or `None` when the cache may not
    /// answer (the caller asks Redis). `id` and `phone` escaped as in key
    /// names.
    pub fn check(&self, id: &str, phone: &str, now_ms: u64) -> Option<SessionCheck> {
        let s = self.read();
        if !s.synced || s.trusted_until.is_none_or(|t| Instant::now() >= t) {
            return None;
        }
        Some(SessionCheck {
            revoked: s.revoked.get(id).is_some_and(|(u, _)| *u > now_ms),
            phone_not_before: s.not_before.get(phone).map(|(at, _)| *at),
            epoch: s.epoch,
        })
    }

    /// Whether the cache answers now.
    pub fn trusted(&self) -> bool {
        self.check("", "", 0).is_some()
    }

    /// Whether a snapshot is installed and nothing has put it in doubt
    /// since (its trust may still have run out).
    pub fn synced(&self) -> bool {
        self.read().synced
    }

    /// Forgets everything: every check goes to Redis until the next
    /// snapshot.
    pub fn forget(&self) {
        *self.write() = State::default();
    }

    /// A snapshot read after the subscription was confirmed, its read sent
    /// at `sent`.
    /// What this instance revoked itself since [`Cache::forget`] is kept:
    /// a snapshot read just before its write may be installed just after.
    pub fn install(&self, sent: Instant, snap: Snapshot) {
        let mut s = self.write();
        let local = std::mem::take(&mut *s);
        *s = State {
            synced: true,
            epoch: snap.epoch,
            seq: snap.seq,
            revoked: local.revoked,
            not_before: local.not_before,
            ..State::default()
        };
        for e in snap.entries {
            s.add(e);
        }
        s.trust_from(sent);
    }

    /// A revocation this instance wrote itself: enforced here at once,
    /// whether or not the cache is synced (adding only ever refuses more).
    pub fn apply_local(&self, e: Entry) {
        self.write().add(e);
    }

    /// A message from the channel.
    pub fn apply(&self, m: Message) -> Verdict {
        if let Message::Probe(_) = m {
            return Verdict::Fine;
        }
        let mut s = self.write();
        if !s.synced {
            return Verdict::Resync;
        }
        let (seq, entry) = match m {
            Message::Probe(_) => return Verdict::Fine,
            Message::Entry { seq, entry } => (seq, entry),
            Message::Epoch(e) if s.epoch == Some(e) => return Verdict::Fine,
            Message::Epoch(_) => return Verdict::Resync,
        };
        if seq > s.seq + 1 {
            // A message was lost (a Cluster bus hiccup, a replica that
            // missed a PUBLISH): the contents are incomplete.
            return Verdict::Resync;
        }
        s.add(entry);
        s.seq = s.seq.max(seq);
        if let Some((sent, upto)) = s.behind {
            if s.seq >= upto {
                s.behind = None;
                s.trust_from(sent);
            }
        }
        Verdict::Fine
    }

    /// A heartbeat, sent at `sent`, that read `epoch` and `seq`.
    pub fn beat(&self, sent: Instant, epoch: Option<u64>, seq: u64) -> Verdict {
        let mut s = self.write();
        if !s.synced || epoch != s.epoch || seq < s.seq {
            // Emptied, flushed, failed over to other data, or a new
            // epoch: what the cache holds is not what Redis holds.
            return Verdict::Resync;
        }
        if seq == s.seq {
            s.behind = None;
            s.trust_from(sent);
            return Verdict::Fine;
        }
        match s.behind {
            // Still short of what the previous heartbeat saw, a whole
            // heartbeat later: a message was lost, not late.
            Some((_, upto)) if s.seq < upto => Verdict::Resync,
            _ => {
                s.behind = Some((sent, seq));
                Verdict::Fine
            }
        }
    }

    /// Drops entries whose keys have expired by `now_ms` (system clock).
    pub fn prune(&self, now_ms: u64) {
        let mut s = self.write();
        s.revoked.retain(|_, (_, ends)| *ends > now_ms);
        s.not_before.retain(|_, (_, ends)| *ends > now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revoked(id: &str, until: u64) -> Entry {
        Entry {
            kind: Kind::Revoked,
            id: id.into(),
            value: until,
            ends: until + 1,
        }
    }

    fn synced(seq: u64) -> Cache {
        let c = Cache::default();
        c.install(
            Instant::now(),
            Snapshot {
                epoch: Some(7),
                seq,
                entries: vec![revoked("old", 9_000)],
            },
        );
        c
    }

    #[test]
    fn answers_only_when_synced_and_trusted() {
        let c = Cache::default();
        assert_eq!(c.check("old", "", 1), None, "never synced");
        let c = synced(3);
        assert!(c.check("old", "", 1).unwrap().revoked);
        assert_eq!(c.check("old", "", 1).unwrap().epoch, Some(7));
        c.forget();
        assert_eq!(c.check("old", "", 1), None, "forgotten");
        let stale = Cache::default();
        stale.install(Instant::now() - TRUST, Snapshot::default());
        assert_eq!(stale.check("x", "", 1), None, "trust ran out");
    }

    #[test]
    fn a_gap_or_an_epoch_message_means_resync() {
        let c = synced(3);
        let m = |seq, id: &str| Message::Entry {
            seq,
            entry: revoked(id, 9_000),
        };
        assert_eq!(c.apply(m(3, "dup")), Verdict::Fine, "already in snapshot");
        assert_eq!(c.apply(m(4, "a")), Verdict::Fine);
        assert!(c.check("a", "", 1).unwrap().revoked);
        assert_eq!(c.apply(m(6, "b")), Verdict::Resync, "5 was lost");
        assert_eq!(c.apply(Message::Epoch(7)), Verdict::Fine, "known");
        assert_eq!(c.apply(Message::Epoch(8)), Verdict::Resync);
    }

    #[test]
    fn heartbeats_extend_trust_only_when_nothing_is_missing() {
        let c = synced(3);
        let long_ago = Instant::now() - TRUST * 2;
        c.forget();
        c.install(
            long_ago,
            Snapshot {
                epoch: Some(7),
                seq: 3,
                entries: vec![],
            },
        );
        assert!(!c.trusted());
        assert_eq!(c.beat(Instant::now(), Some(7), 4), Verdict::Fine);
        assert!(!c.trusted(), "Redis is ahead: not trusted yet");
        let m = Message::Entry {
            seq: 4,
            entry: revoked("a", 9_000),
        };
        assert_eq!(c.apply(m), Verdict::Fine);
        assert!(c.trusted(), "caught up with the heartbeat");
        assert_eq!(c.beat(Instant::now(), Some(7), 5), Verdict::Fine);
        assert_eq!(
            c.beat(Instant::now(), Some(7), 5),
            Verdict::Resync,
            "still behind a heartbeat later: lost"
        );
        let c = synced(3);
        assert_eq!(c.beat(Instant::now(), Some(8), 3), Verdict::Resync);
        assert_eq!(c.beat(Instant::now(), None, 3), Verdict::Resync);
        let c = synced(3);
        assert_eq!(c.beat(Instant::now(), Some(7), 0), Verdict::Resync);
    }

    #[test]
    fn entries_round_trip_and_never_shorten() {
        let e = Entry {
            kind: Kind::NotBefore,
            id: "+91|x".into(),
            value: 5,
            ends: 99,
        };
        assert_eq!(Entry::parse(&e.member(), 99), Some(e.clone()));
        let m = Message::parse(&format!("12|99|{}", e.member())).unwrap();
        assert_eq!(m, Message::Entry { seq: 12, entry: e });
        assert_eq!(Message::parse("0|0|e|9"), Some(Message::Epoch(9)));
        assert_eq!(Message::parse("0|0|p|5"), Some(Message::Probe(5)));
        assert_eq!(Message::parse("x|0|r|a|1"), None);
        let c = synced(0);
        c.apply_local(revoked("s", 100));
        c.apply_local(revoked("s", 50));
        assert!(c.check("s", "", 99).unwrap().revoked, "kept the later");
        c.prune(200);
        assert!(!c.check("s", "", 1).unwrap().revoked, "pruned");
    }
}
