//! What one real send writes to the store, for the memory measurements
//! (tests/memory_per_challenge.rs in the memory store,
//! tests/redis_store/memory.rs in Redis): one copy, so both measure the
//! same writes.

use std::time::Duration;

use otpgate::sms::measure::{operator_prefix, SendLabels};
use otpgate::sms::send_record::{Receipt, SendRecord};
use otpgate::store::{Challenge, Store};

pub const NOW: u64 = 1_764_598_400_000;
pub const TTL: Duration = Duration::from_secs(300);
const HOUR: Duration = Duration::from_secs(3600);
/// flow/measure.rs `GRACE`: the delivery record outlives its challenge.
const GRACE: Duration = Duration::from_secs(300);

/// What a send writes besides its counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// The challenge alone.
    Challenge,
    /// Everything a send writes with the default config (one SMS
    /// channel, the console or file provider): the delivery record too.
    Default,
    /// A region with more than one channel and a provider with receipts.
    MultiChannel,
}

/// What one real send writes (flow/steps.rs, flow/limits.rs,
/// pumping.rs): the challenge, a counter per IP, phone, prefix, country,
/// the SMS budget and the pumping detector's counts; and, as `records`
/// says, the records kept beside it ([`Writes`]).
pub async fn send<S: Store>(s: &S, i: usize, records: Writes) {
    let id = otpgate::session::random_id();
    let phone = format!("+9198{i:08}");
    let prefix = &phone[..8];
    let ch = Challenge {
        phone: phone.clone(),
        code_hash: rand::random(),
        sent_at: NOW,
        expires_at: NOW + TTL.as_millis() as u64,
        attempts: 0,
        sends: 1,
    };
    for key in [
        "send_per_ip:127.0.0.1".to_string(),
        format!("send_per_phone:{phone}"),
        format!("send_per_prefix:{prefix}"),
        "send_per_country:IN".to_string(),
        "sms_per_hour:global".to_string(),
        format!("pumping:sent:{prefix}:490166"),
        format!("pumping:sent:{prefix}|127.0.0.0/24:490166"),
        "pumping:sent:IN:490166".to_string(),
    ] {
        s.count(&key, 1, u64::MAX, HOUR, NOW).await.unwrap();
    }
    s.put_challenge(&id, ch).await.unwrap();
    if records == Writes::Challenge {
        return;
    }
    // flow/measure.rs: the delivery record, for the default config's
    // provider (console or file) and its one SMS channel.
    let (country, prefix) = operator_prefix(&phone);
    let provider = if records == Writes::Default {
        "console"
    } else {
        "twilio"
    };
    let meas = SendRecord {
        labels: SendLabels {
            provider: provider.into(),
            channel: "sms".into(),
            country,
            prefix,
        },
        sent_at: NOW,
        receipt: Receipt::None,
        verified: false,
    };
    s.hold(&format!("m:{id}"), meas.encode().unwrap(), TTL + GRACE, NOW)
        .await
        .unwrap();
    if records == Writes::Default {
        return;
    }
    // flow/channels.rs, when the region has more than one channel: the
    // sealed code (nonce, six digits, GCM tag) and the receipt state; and
    // for a provider with receipts (Twilio), its message id's mapping.
    s.hold(&format!("code:{id}"), vec![9; 12 + 6 + 16], TTL, NOW)
        .await
        .unwrap();
    s.hold(&format!("dlvfail:{id}"), b"0".to_vec(), TTL, NOW)
        .await
        .unwrap();
    let sid = format!("SM{:032x}", rand::random::<u128>());
    s.hold(&format!("dlv:{sid}"), id.as_bytes().to_vec(), TTL, NOW)
        .await
        .unwrap();
}
