//! The sealed code kept for channel switches (channels.rs): only its own
//! challenge opens it, and a code the store has since replaced is never
//! sent again.

use std::time::Duration;

use super::channels::same_code;
use super::resend;
use super::tests::{conn, rig, Rig};
use crate::clock::Clock;
use crate::otp;
use crate::sms::Channel;
use crate::store::Store;

/// SMS first, then WhatsApp: the code is kept sealed beside the challenge.
/// (The WhatsApp provider is never called here.)
const TWO_CHANNELS: &str = r#"
[channels]
order = ["sms", "whatsapp"]
[whatsapp]
provider = "meta"
[whatsapp.meta]
access_token = "meta-token"
phone_number_id = "106540352242922"
template = "otp_copy_code"
api_base = "http://127.0.0.1:9"
"#;

async fn sealed(r: &Rig, id: &str) -> Vec<u8> {
    let now = r.clock.now_ms();
    r.store
        .peek_held(&format!("code:{id}"), now)
        .await
        .unwrap()
        .expect("the code is kept sealed")
}

async fn challenge(r: &Rig, id: &str) -> crate::store::Challenge {
    let now = r.clock.now_ms();
    r.store.challenge(id, now).await.unwrap().unwrap()
}

#[tokio::test]
async fn another_challenges_sealed_code_is_refused() {
    let r = rig(TWO_CHANNELS, None);
    let mine = r.send("+919812345678").await.unwrap();
    let my_code = r.last_code();
    let theirs = r.send("+919812345679").await.unwrap();
    let same_phone = r.send("+919812345678").await.unwrap();
    let ch = challenge(&r, &mine).await;
    assert_eq!(
        same_code(&r.ctx, &mine, &ch, None)
            .await
            .unwrap()
            .as_deref(),
        Some(my_code.as_str()),
        "its own challenge opens it"
    );
    let record = sealed(&r, &mine).await;
    let now = r.clock.now_ms();
    let ttl = Duration::from_secs(300);
    // Moved beside another number's challenge, and beside a later
    // challenge of the same number (the id is in the associated data).
    for other in [&theirs, &same_phone] {
        let key = format!("code:{other}");
        r.store.hold(&key, record.clone(), ttl, now).await.unwrap();
        let ch = challenge(&r, other).await;
        assert_eq!(same_code(&r.ctx, other, &ch, None).await.unwrap(), None);
    }
    // One bit changed, or cut short: not a code.
    let mut flipped = record.clone();
    *flipped.last_mut().unwrap() ^= 1;
    for bad in [flipped, record[..11].to_vec(), Vec::new()] {
        let key = format!("code:{mine}");
        r.store.hold(&key, bad, ttl, now).await.unwrap();
        assert_eq!(same_code(&r.ctx, &mine, &ch, None).await.unwrap(), None);
    }
}

#[tokio::test]
async fn a_stale_sealed_code_is_not_sent_again() {
    let r = rig(TWO_CHANNELS, None);
    let id = r.send("+919812345678").await.unwrap();
    let first = r.last_code();
    // The store's code is replaced without the sealed copy (a resend on
    // another instance whose seal did not land): the sealed one is stale.
    let newer = if first == "000000" {
        "111111"
    } else {
        "000000"
    };
    let hash = otp::code_hash(&r.ctx.otp_key, &id, "+919812345678", newer, None);
    let now = r.clock.now_ms();
    let ttl = Duration::from_secs(300);
    r.store
        .replace_code(&id, hash, Duration::ZERO, ttl, now)
        .await
        .unwrap();
    let ch = challenge(&r, &id).await;
    assert_eq!(same_code(&r.ctx, &id, &ch, None).await.unwrap(), None);

    r.clock.advance(Duration::from_secs(31));
    let (c, ip) = conn();
    resend(&r.ctx, &id, "en", (c, ip), None, Some(Channel::Sms))
        .await
        .unwrap();
    let sent = r.last_code();
    assert_ne!(sent, first, "the replaced code is never sent again");
    assert!(r.guess(&id, &first).await.is_err());
    assert!(r.guess(&id, &sent).await.is_ok(), "a fresh code was sent");
}

#[tokio::test]
async fn a_channel_switch_sends_the_same_code() {
    let r = rig(TWO_CHANNELS, None);
    let id = r.send("+919812345678").await.unwrap();
    let first = r.last_code();
    r.clock.advance(Duration::from_secs(31));
    let (c, ip) = conn();
    resend(&r.ctx, &id, "en", (c, ip), None, Some(Channel::Sms))
        .await
        .unwrap();
    assert_eq!(r.sent(), 2);
    assert_eq!(r.last_code(), first);
    assert!(r.guess(&id, &first).await.is_ok());
}
