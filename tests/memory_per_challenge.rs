//! What a pending challenge and a held request cost in the memory store,
//! in heap bytes (dhat counts every allocation: deterministic, where RSS
//! moves in allocator-sized steps). Issue 13 item 4: a pending challenge
//! with the counters and records a send writes ≤ 256 B; issue 10: a held
//! request ≤ its body + 200 B.
//!
//! Every figure is the worst over checkpoints every `STEP` inserts (a
//! hash table doubles, and right after a doubling it is at its emptiest:
//! the worst case, not a lucky point). Printed as `key=value` lines for
//! bench/memory.sh:
//!
//!   cargo test --locked --test memory_per_challenge -- --nocapture
//!   (N=… HELD=… BODY=… in the environment change the sizes)

use std::time::Duration;

use otpgate::sms::measure::{operator_prefix, SendLabels};
use otpgate::sms::send_record::{Receipt, SendRecord};
use otpgate::store::{Challenge, MemoryStore, Store};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn heap() -> u64 {
    dhat::HeapStats::get().curr_bytes as u64
}

const NOW: u64 = 1_764_598_400_000;
const TTL: Duration = Duration::from_secs(300);
const HOUR: Duration = Duration::from_secs(3600);
/// flow/measure.rs `GRACE`: the delivery record outlives its challenge.
const GRACE: Duration = Duration::from_secs(300);

/// What a send writes besides its counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writes {
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
async fn send(s: &MemoryStore, i: usize, records: Writes) {
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

/// The worst bytes per item over checkpoints every `step` of `n` inserts.
async fn worst<F, Fut>(n: usize, step: usize, mut insert: F) -> (u64, u64)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let start = heap();
    let mut worst = 0;
    for i in 0..n {
        insert(i).await;
        if (i + 1) % step == 0 {
            worst = worst.max((heap() - start) / (i as u64 + 1));
        }
    }
    (worst, (heap() - start) / n as u64)
}

#[tokio::test(flavor = "current_thread")]
async fn memory_store_bytes_per_pending_challenge_and_held_request() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let n = env("N", 100_000);
    let held = env("HELD", 20_000);
    let body = env("BODY", 1_000);
    let step = (n / 20).max(1);

    // The phone-number metadata (a megabyte or two) is loaded once, on
    // the first parse: a cost of the process, not of pending challenges.
    operator_prefix("+919800000000");
    let (challenge_worst, challenge_mean) = {
        let s = MemoryStore::new();
        worst(n, step, |i| send(&s, i, Writes::Challenge)).await
    };
    let (records_worst, records_mean) = {
        let s = MemoryStore::new();
        worst(n, step, |i| send(&s, i, Writes::Default)).await
    };
    let (multi_worst, multi_mean) = {
        let s = MemoryStore::new();
        worst(n, step, |i| send(&s, i, Writes::MultiChannel)).await
    };
    let s = MemoryStore::new();

    // A held request as own/held.rs stores it: a fresh hold id, the
    // sealed request (nonce, AES-GCM tag, method, target, type, body).
    let sealer = otpgate::own::Sealer::new(&[7; 32]);
    let step = (held / 20).max(1);
    let (held_worst, held_mean) = worst(held, step, |i| {
        let request = otpgate::own::HeldRequest {
            method: http::Method::POST,
            target: "/checkout/place-order".into(),
            content_type: Some(http::HeaderValue::from_static(
                "application/x-www-form-urlencoded",
            )),
            body: format!("n={i:08}&x={}", "a".repeat(body.saturating_sub(13))).into(),
            transaction: None,
        };
        let sealed = sealer.seal(&request);
        let s = &s;
        async move {
            let id = otpgate::session::random_id();
            s.hold(&id, sealed, TTL, NOW).await.unwrap();
        }
    })
    .await;

    println!("memory_heap_challenge_bytes={challenge_worst}");
    println!("memory_heap_challenge_mean_bytes={challenge_mean}");
    println!("memory_heap_challenge_records_bytes={records_worst}");
    println!("memory_heap_challenge_records_mean_bytes={records_mean}");
    println!("memory_heap_challenge_multichannel_bytes={multi_worst}");
    println!("memory_heap_challenge_multichannel_mean_bytes={multi_mean}");
    println!("memory_heap_held_bytes={held_worst}");
    println!("memory_heap_held_mean_bytes={held_mean}");
    println!(
        "memory_heap_held_overhead_bytes={}",
        held_worst - body as u64
    );
    assert!(
        challenge_worst <= 256,
        "a pending challenge costs {challenge_worst} B (goal 256 B)"
    );
    // Everything a send writes with the default config (issue 13 item 4).
    assert!(
        records_worst <= 256,
        "a pending challenge with its records costs {records_worst} B (goal 256 B)"
    );
    assert!(
        held_worst <= body as u64 + 200,
        "a held request of {body} B costs {held_worst} B (goal body + 200 B)"
    );
}
