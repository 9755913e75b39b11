//! The store's semantics (`checks.rs`), each on a fresh `redis-server`.

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
