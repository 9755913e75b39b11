//! The store's semantics as checks over any Redis deployment: the memory
//! store's unit tests plus parallel callers. `semantics.rs` runs each on a
//! fresh server; `cluster.rs` and `sentinel.rs` run them all on theirs.
//! `a` and `b` are two connections, as two gateway instances would have.

use std::time::Duration;

use futures_util::future::join_all;
use otpgate::store::{Attempt, Block, Challenge, Count, Resend, SessionCheck, Store};

const PHONE: &str = "+919812345678";

/// What `b` answers once writes made elsewhere have reached it: at once
/// from Redis, within 1 s from the Redis store's revocation cache
/// (src/store/redis/cache.rs), which is all that instance promises.
async fn settled(
    b: &dyn Store,
    sid: &str,
    phone: &str,
    now_ms: u64,
    done: impl Fn(&SessionCheck) -> bool,
) -> SessionCheck {
    let t = std::time::Instant::now();
    loop {
        let c = b.session_check(sid, phone, now_ms).await.unwrap();
        if done(&c) || t.elapsed() > crate::STALENESS {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn ch(hash: [u8; 16]) -> Challenge {
    Challenge {
        phone: "+919812345678".into(),
        code_hash: hash,
        sent_at: 0,
        expires_at: 10_000,
        attempts: 0,
        sends: 1,
    }
}

pub async fn attempts_are_bounded_and_single_use(s: &dyn Store, _: &dyn Store) {
    s.put_challenge("c", ch([1; 16])).await.unwrap();
    assert_eq!(
        s.attempt("c", [2; 16], 3, 1).await.unwrap(),
        Attempt::Wrong { remaining: 2 }
    );
    let read = s.challenge("c", 1).await.unwrap().unwrap();
    assert_eq!((read.attempts, read.sends, read.code_hash), (1, 1, [1; 16]));
    assert_eq!(read.phone, "+919812345678");
    assert_eq!(
        s.attempt("c", [1; 16], 3, 1).await.unwrap(),
        Attempt::Verified {
            phone: "+919812345678".into()
        }
    );
    assert_eq!(
        s.attempt("c", [1; 16], 3, 1).await.unwrap(),
        Attempt::Missing,
        "single use"
    );
    s.put_challenge("d", ch([1; 16])).await.unwrap();
    for left in [2, 1] {
        assert_eq!(
            s.attempt("d", [2; 16], 3, 1).await.unwrap(),
            Attempt::Wrong { remaining: left }
        );
    }
    assert_eq!(
        s.attempt("d", [2; 16], 3, 1).await.unwrap(),
        Attempt::Exhausted
    );
    assert_eq!(
        s.attempt("d", [1; 16], 3, 1).await.unwrap(),
        Attempt::Missing
    );
    s.put_challenge("e", ch([1; 16])).await.unwrap();
    assert!(s.challenge("e", 10_000).await.unwrap().is_none(), "expired");
    assert_eq!(
        s.attempt("e", [1; 16], 3, 10_000).await.unwrap(),
        Attempt::Missing,
        "expired"
    );
    // A lower max than attempts already made: void at once.
    s.put_challenge(
        "f",
        Challenge {
            attempts: 3,
            ..ch([1; 16])
        },
    )
    .await
    .unwrap();
    assert_eq!(
        s.attempt("f", [1; 16], 3, 1).await.unwrap(),
        Attempt::Exhausted
    );
}

pub async fn counters_window_and_limit(s: &dyn Store, _: &dyn Store) {
    let w = Duration::from_secs(60);
    for i in 1..=3 {
        assert_eq!(
            s.count("k", 1, 3, w, 1_000).await.unwrap(),
            Count::Allowed { count: i }
        );
    }
    assert_eq!(
        s.count("k", 1, 3, w, 1_000).await.unwrap(),
        Count::Limited {
            retry_after: Duration::from_secs(59)
        }
    );
    assert_eq!(
        s.count("k", 0, 3, w, 2_000).await.unwrap(),
        Count::Limited {
            retry_after: Duration::from_secs(58)
        },
        "a read at the limit is limited"
    );
    s.uncount("k", 1, w, 1_500).await.unwrap();
    assert_eq!(
        s.count("k", 0, 3, w, 1_500).await.unwrap(),
        Count::Allowed { count: 2 }
    );
    assert_eq!(
        s.count("k", 2, 3, w, 1_500).await.unwrap(),
        Count::Limited {
            retry_after: Duration::from_millis(58_500)
        },
        "cost that would pass max is refused whole"
    );
    s.uncount("k", 5, w, 1_500).await.unwrap();
    assert_eq!(
        s.count("k", 0, 3, w, 1_500).await.unwrap(),
        Count::Allowed { count: 0 },
        "never below zero"
    );
    assert_eq!(
        s.count("k", 1, 3, w, 61_000).await.unwrap(),
        Count::Allowed { count: 1 },
        "a new window starts at zero"
    );
    s.uncount("k", 1, w, 1_000).await.unwrap();
    assert_eq!(
        s.count("k", 0, u64::MAX, w, 61_000).await.unwrap(),
        Count::Allowed { count: 1 },
        "uncount of an old window leaves the current one"
    );
}

pub async fn resend_cooldown_and_replacement(s: &dyn Store, _: &dyn Store) {
    let (after, ttl) = (Duration::from_secs(30), Duration::from_secs(300));
    assert_eq!(
        s.replace_code("none", [2; 16], after, ttl, 1)
            .await
            .unwrap(),
        Resend::Missing
    );
    s.put_challenge(
        "c",
        Challenge {
            sent_at: 1_000,
            expires_at: 301_000,
            ..ch([1; 16])
        },
    )
    .await
    .unwrap();
    assert_eq!(
        s.replace_code("c", [2; 16], after, ttl, 11_000)
            .await
            .unwrap(),
        Resend::TooSoon {
            retry_after: Duration::from_secs(20)
        }
    );
    assert_eq!(
        s.replace_code("c", [2; 16], after, ttl, 31_000)
            .await
            .unwrap(),
        Resend::Replaced
    );
    let c = s.challenge("c", 31_000).await.unwrap().unwrap();
    assert_eq!(
        (c.code_hash, c.sent_at, c.expires_at, c.sends),
        ([2; 16], 31_000, 331_000, 2)
    );
    assert_eq!(
        s.attempt("c", [1; 16], 3, 32_000).await.unwrap(),
        Attempt::Wrong { remaining: 2 },
        "the old code is gone"
    );
    assert_eq!(
        s.replace_code("c", [3; 16], after, ttl, 331_000)
            .await
            .unwrap(),
        Resend::Missing,
        "expired"
    );
}

pub async fn revocations_expire(s: &dyn Store, _: &dyn Store) {
    assert!(!s.is_revoked("sid", 1).await.unwrap());
    s.revoke("sid", 5_000).await.unwrap();
    assert!(s.is_revoked("sid", 4_999).await.unwrap());
    assert!(!s.is_revoked("sid", 5_000).await.unwrap());
    assert!(!s.is_revoked("other", 1).await.unwrap());
    assert!(s.healthy().await);
}

pub async fn parallel_wrong_guesses_are_bounded(s: &dyn Store, _: &dyn Store) {
    s.put_challenge("c", ch([1; 16])).await.unwrap();
    let answers = join_all(
        (0..50).map(|i| async move { s.attempt("c", [2 + i as u8; 16], 5, 1).await.unwrap() }),
    )
    .await;
    let wrong = answers
        .iter()
        .filter(|a| matches!(a, Attempt::Wrong { .. }))
        .count();
    let exhausted = answers.iter().filter(|a| **a == Attempt::Exhausted).count();
    assert_eq!(wrong, 4, "{answers:?}");
    assert_eq!(exhausted, 1, "{answers:?}");
    assert!(s.challenge("c", 1).await.unwrap().is_none());
    let mut left: Vec<u32> = answers
        .iter()
        .filter_map(|a| match a {
            Attempt::Wrong { remaining } => Some(*remaining),
            _ => None,
        })
        .collect();
    left.sort();
    assert_eq!(left, [1, 2, 3, 4], "each try counted once");
}

pub async fn parallel_right_code_verifies_once(a: &dyn Store, b: &dyn Store) {
    a.put_challenge("c", ch([1; 16])).await.unwrap();
    let answers = join_all((0..50).map(|i| {
        let s = if i % 2 == 0 { a } else { b };
        async move { s.attempt("c", [1; 16], 5, 1).await.unwrap() }
    }))
    .await;
    let ok = answers
        .iter()
        .filter(|a| matches!(a, Attempt::Verified { .. }))
        .count();
    assert_eq!(ok, 1, "{answers:?}");
    assert!(answers
        .iter()
        .all(|a| matches!(a, Attempt::Verified { .. } | Attempt::Missing)));
}

pub async fn parallel_counts_never_pass_max(a: &dyn Store, b: &dyn Store) {
    let w = Duration::from_secs(60);
    let answers = join_all((0..60).map(|i| {
        let s = if i % 2 == 0 { a } else { b };
        async move { s.count("k", 1, 7, w, 1_000).await.unwrap() }
    }))
    .await;
    let mut counts: Vec<u64> = answers
        .iter()
        .filter_map(|c| match c {
            Count::Allowed { count } => Some(*count),
            Count::Limited { .. } => None,
        })
        .collect();
    counts.sort();
    assert_eq!(counts, (1..=7).collect::<Vec<_>>());
    assert_eq!(
        a.count("k", 0, u64::MAX, w, 1_000).await.unwrap(),
        Count::Allowed { count: 7 }
    );
}

/// The per-request check: revocation, the phone's "not before" time and
/// the epoch in one call, the epoch agreed by every instance; the admin
/// API's blocks shared too.
pub async fn session_check_reads_revocation_and_epoch(a: &dyn Store, b: &dyn Store) {
    let (epoch, created) = a.epoch().await.unwrap();
    assert!(created, "an empty store gets its epoch");
    assert_eq!(b.epoch().await.unwrap(), (epoch, false), "instances agree");
    let fresh = SessionCheck {
        revoked: false,
        phone_not_before: None,
        epoch: Some(epoch),
    };
    assert_eq!(settled(b, "sid", PHONE, 1, |c| *c == fresh).await, fresh);
    a.revoke("sid", 5_000).await.unwrap();
    a.revoke_phone(PHONE, 3_000, Duration::from_secs(60))
        .await
        .unwrap();
    let after = SessionCheck {
        revoked: true,
        phone_not_before: Some(3_000),
        ..fresh
    };
    assert_eq!(
        settled(b, "sid", PHONE, 4_999, |c| *c == after).await,
        after
    );
    assert_eq!(
        b.session_check("sid", PHONE, 5_000).await.unwrap(),
        SessionCheck {
            revoked: false,
            ..after
        }
    );
    let block = Block {
        prefix: "+9198123".into(),
        until_ms: 9_000,
        source: "admin".into(),
    };
    a.put_block(&block).await.unwrap();
    assert_eq!(
        b.blocked_until(&["+91".into(), "+9198123".into()], 1)
            .await
            .unwrap(),
        Some(9_000)
    );
    assert_eq!(b.blocks(1).await.unwrap(), [block]);
    assert!(b.remove_block("+9198123").await.unwrap());
    assert!(a.blocks(1).await.unwrap().is_empty());
}

/// Ids and counter keys that try to choose their own hash slot (a `{tag}`
/// in a phone field, an id with braces): on a Cluster a script whose keys
/// fell into two slots would be refused (`CROSSSLOT`) — or worse, decide
/// on half its keys. Every call still answers, atomically.
pub async fn keys_from_outside_cannot_choose_a_slot(s: &dyn Store, b: &dyn Store) {
    let w = Duration::from_secs(60);
    for k in ["send:{x}", "a}b{c}", "{}", "}{", "%7B", "{otpgate:epoch}"] {
        assert_eq!(
            s.count(k, 1, 1, w, 1_000).await.unwrap(),
            Count::Allowed { count: 1 },
            "{k}"
        );
        assert!(matches!(
            b.count(k, 1, 1, w, 1_000).await.unwrap(),
            Count::Limited { .. }
        ));
        s.uncount(k, 1, w, 1_000).await.unwrap();
        assert_eq!(
            b.count(k, 0, 1, w, 1_000).await.unwrap(),
            Count::Allowed { count: 0 },
            "{k}"
        );
        s.put_challenge(k, ch([1; 16])).await.unwrap();
        assert_eq!(
            b.replace_code(k, [2; 16], Duration::ZERO, w, 1)
                .await
                .unwrap(),
            Resend::Replaced
        );
        assert_eq!(
            s.attempt(k, [2; 16], 3, 1).await.unwrap(),
            Attempt::Verified {
                phone: "+919812345678".into()
            }
        );
        s.revoke(k, 5_000).await.unwrap();
        assert!(settled(b, k, k, 1, |c| c.revoked).await.revoked, "{k}");
        s.revoke_phone(k, 7, Duration::from_secs(60)).await.unwrap();
        let check = settled(b, "none", k, 1, |c| c.phone_not_before == Some(7)).await;
        assert_eq!(check.phone_not_before, Some(7), "{k}");
    }
    assert_eq!(
        s.count("{", 1, 9, w, 1_000).await.unwrap(),
        Count::Allowed { count: 1 }
    );
    assert_eq!(
        s.count("%7B", 0, 9, w, 1_000).await.unwrap(),
        Count::Allowed { count: 0 },
        "`{{` and `%7B` are different keys"
    );
}

/// A single-use mark (a proof-of-work solution): of parallel callers on
/// two connections exactly one gets it, until its end; then it is free.
pub async fn parallel_use_once_is_won_once(a: &dyn Store, b: &dyn Store) {
    let tries = (0..16).map(|i| {
        let s = if i % 2 == 0 { a } else { b };
        s.use_once("pow:{x}1", 5_000, 1_000)
    });
    let won = join_all(tries)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    assert_eq!(won, 1);
    assert!(!a.use_once("pow:{x}1", 9_000, 4_999).await.unwrap());
    assert!(b.use_once("pow:{x}1", 9_000, 5_000).await.unwrap(), "ended");
    assert!(
        a.use_once("pow:{x}2", 5_000, 1_000).await.unwrap(),
        "another key"
    );
}

/// Every check in turn on one deployment; `reset` empties it between
/// checks (they reuse ids such as "c" and "k").
pub async fn every_check(a: &dyn Store, b: &dyn Store, reset: impl Fn()) {
    reset();
    attempts_are_bounded_and_single_use(a, b).await;
    reset();
    counters_window_and_limit(a, b).await;
    reset();
    resend_cooldown_and_replacement(a, b).await;
    reset();
    revocations_expire(a, b).await;
    reset();
    parallel_wrong_guesses_are_bounded(a, b).await;
    reset();
    parallel_right_code_verifies_once(a, b).await;
    reset();
    parallel_counts_never_pass_max(a, b).await;
    reset();
    session_check_reads_revocation_and_epoch(a, b).await;
    reset();
    keys_from_outside_cannot_choose_a_slot(a, b).await;
    reset();
    parallel_use_once_is_won_once(a, b).await;
}
