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

/// What one real send writes (flow/steps.rs, flow/limits.rs,
/// pumping.rs): the challenge, a counter per IP, phone, prefix, country,
/// the SMS budget and the pumping detector's counts; with `records`, also
/// the records kept beside it (flow/channels.rs: the last channel;
/// flow/measure.rs: the delivery record).
async fn send(s: &MemoryStore, i: usize, records: bool) {
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
    if !records {
        return;
    }
    s.hold(&format!("chan:{id}"), b"sms".to_vec(), TTL, NOW)
        .await
        .unwrap();
    let meas = format!("twilio\tsms\tIN\t{prefix}\t{NOW}\t--");
    s.hold(&format!("meas:{id}"), meas.into_bytes(), TTL, NOW)
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

    let (challenge_worst, challenge_mean) = {
        let s = MemoryStore::new();
        worst(n, step, |i| send(&s, i, false)).await
    };
    let (records_worst, records_mean) = {
        let s = MemoryStore::new();
        worst(n, step, |i| send(&s, i, true)).await
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
    assert!(
        held_worst <= body as u64 + 200,
        "a held request of {body} B costs {held_worst} B (goal body + 200 B)"
    );
}
