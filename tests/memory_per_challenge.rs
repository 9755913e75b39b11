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

use otpgate::store::{MemoryStore, Store};

#[path = "support/sends.rs"]
mod sends;
use sends::{send, Writes, NOW, TTL};

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
    otpgate::sms::measure::operator_prefix("+919800000000");
    let (challenge_worst, challenge_mean) = {
        let s = MemoryStore::new();
        worst(n, step, |i| send(&*s, i, Writes::Challenge)).await
    };
    let (records_worst, records_mean) = {
        let s = MemoryStore::new();
        worst(n, step, |i| send(&*s, i, Writes::Default)).await
    };
    let (multi_worst, multi_mean) = {
        let s = MemoryStore::new();
        worst(n, step, |i| send(&*s, i, Writes::MultiChannel)).await
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
