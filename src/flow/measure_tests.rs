//! `expired` on the memory store and a manual clock: counted once per
//! challenge, by its last send, never for one that was verified.

use std::time::Duration;

use super::measure::sweep;
use super::resend;
use super::tests::{conn, rig, Rig};
use crate::sms::measure::{OutcomeLabels, SendLabels};

const PHONE: &str = "+919812345678";

fn labels() -> SendLabels {
    SendLabels {
        provider: "file".into(),
        channel: "sms".into(),
        country: "IN".into(),
        prefix: "9812".into(),
    }
}

fn outcome(r: &Rig, outcome: &'static str) -> u64 {
    let l = labels();
    r.ctx
        .sms
        .metrics()
        .delivery
        .outcomes
        .get_or_create(&OutcomeLabels {
            provider: l.provider,
            channel: l.channel,
            country: l.country,
            prefix: l.prefix,
            outcome,
        })
        .get()
}

fn sent(r: &Rig) -> u64 {
    let stats = &r.ctx.sms.metrics().delivery;
    stats.sent.get_or_create(&labels()).get()
}

#[tokio::test(start_paused = true)]
async fn a_resent_challenge_expires_once_with_its_last_send() {
    let r = rig("", None);
    let id = r.send(PHONE).await.unwrap();
    r.clock.advance(Duration::from_secs(31));
    let (c, ip) = conn();
    resend(&r.ctx, &id, "en", (c, ip), None, None)
        .await
        .unwrap();
    assert_eq!(sent(&r), 2);
    sweep(&r.ctx).await;
    assert_eq!(outcome(&r, "expired"), 0, "not before otp.ttl");
    r.clock.advance(Duration::from_secs(5 * 60 + 1));
    sweep(&r.ctx).await;
    sweep(&r.ctx).await;
    assert_eq!(outcome(&r, "expired"), 1, "one challenge, one expiry");
}

#[tokio::test(start_paused = true)]
async fn a_verified_challenge_never_expires() {
    let r = rig("", None);
    let id = r.send(PHONE).await.unwrap();
    r.clock.advance(Duration::from_secs(9));
    r.guess(&id, &r.last_code()).await.unwrap();
    let stats = &r.ctx.sms.metrics().delivery;
    assert_eq!(stats.verified.get_or_create(&labels()).get(), 1);
    r.clock.advance(Duration::from_secs(10 * 60));
    sweep(&r.ctx).await;
    assert_eq!(outcome(&r, "expired"), 0);
    // The p95 gauge falls back to send → code without receipts: 9 s.
    let p95 = stats
        .p95
        .get_or_create(&crate::sms::measure::ProviderLabel {
            provider: "file".into(),
        })
        .get();
    assert_eq!(p95, 10.0);
}

/// Issue 13: a default send keeps one record beside its challenge, the
/// twelve-byte delivery record (sms/send_record.rs); the last channel is
/// read from it, no `chan:` record of its own.
#[tokio::test(start_paused = true)]
async fn a_send_keeps_one_twelve_byte_record() {
    let r = rig("", None);
    let id = r.send(PHONE).await.unwrap();
    let now = r.ctx.clock.now_ms();
    let record = r.ctx.store.peek_held(&format!("m:{id}"), now).await;
    assert_eq!(record.unwrap().map(|b| b.len()), Some(12));
    for old in ["chan", "meas"] {
        let held = r.ctx.store.peek_held(&format!("{old}:{id}"), now).await;
        assert_eq!(held.unwrap(), None, "{old}");
    }
    let last = super::channels::last_channel(&r.ctx, &id).await;
    assert_eq!(last, Some(crate::sms::Channel::Sms));
}

/// An upgrade finds records of the old text form beside challenges in
/// flight: each reads as absent (nothing timed, nothing counted twice,
/// no panic) and the code still verifies.
#[tokio::test(start_paused = true)]
async fn an_old_text_record_counts_as_absent() {
    let r = rig("", None);
    let id = r.send(PHONE).await.unwrap();
    let now = r.ctx.clock.now_ms();
    let old = format!("file\tsms\tIN\t9812\t{now}\t--").into_bytes();
    let ttl = Duration::from_secs(600);
    for kind in ["m", "meas"] {
        let key = format!("{kind}:{id}");
        r.ctx.store.hold(&key, old.clone(), ttl, now).await.unwrap();
    }
    assert_eq!(super::channels::last_channel(&r.ctx, &id).await, None);
    r.guess(&id, &r.last_code()).await.unwrap();
    let stats = &r.ctx.sms.metrics().delivery;
    assert_eq!(stats.verified.get_or_create(&labels()).get(), 0);
    r.clock.advance(Duration::from_secs(10 * 60));
    sweep(&r.ctx).await;
    assert_eq!(outcome(&r, "expired"), 0);
}
