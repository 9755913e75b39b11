//! The store's semantics (`checks.rs`), each on a fresh `redis-server`.

use otpgate::store::Store;

use crate::{checks, redis_or_skip};

macro_rules! on_one_server {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $check() {
            let redis = redis_or_skip!();
            let (a, b) = (redis.store().await, redis.store().await);
            checks::$check(&a, &b).await;
        }
    )*};
}

on_one_server!(
    attempts_are_bounded_and_single_use,
    counters_window_and_limit,
    resend_cooldown_and_replacement,
    revocations_expire,
    parallel_wrong_guesses_are_bounded,
    parallel_right_code_verifies_once,
    parallel_counts_never_pass_max,
    session_check_reads_revocation_and_epoch,
    keys_from_outside_cannot_choose_a_slot,
    parallel_use_once_is_won_once,
);

#[tokio::test]
async fn unreachable_redis_is_an_error_without_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://user:hunter2@127.0.0.1:{port}");
    let err = otpgate::store::RedisStore::connect(&url)
        .await
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(msg.contains("store unavailable"), "{msg}");
}

/// A challenge written by the first compact layout (a 64-byte value with
/// the whole 32-byte hash, field `c`) is not read by this one (a 48-byte
/// value, field `C`): the code is gone, never misread. Its first 16 bytes
/// are this layout's hash of the same code, so misreading it at this
/// layout's offsets is exactly what must not happen.
#[tokio::test]
async fn a_challenge_in_the_first_compact_layout_is_not_read() {
    let redis = redis_or_skip!();
    let s = redis.store().await;
    let id = otpgate::session::random_id();
    let mut key = b"otpgate:c:".to_vec();
    key.extend(hex::decode(&id).unwrap());
    let mut old = vec![1u8; 32];
    old.extend(0u64.to_be_bytes());
    old.extend(u64::MAX.to_be_bytes());
    old.extend(0u32.to_be_bytes());
    old.extend(1u32.to_be_bytes());
    old.extend([0, 0, 0, 0x2d, 0x9c, 0x51, 0x2a, 0x3e]);
    assert_eq!(old.len(), 64);
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let _: i64 = redis::cmd("HSET")
        .arg(&key)
        .arg("c")
        .arg(&old)
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(s.challenge(&id, 1).await.unwrap().is_none());
    let a = s.attempt(&id, [1; 16], 5, 1).await.unwrap();
    assert!(matches!(a, otpgate::store::Attempt::Missing), "{a:?}");
}
