//! The store loses its data — Redis restarted empty, `FLUSHALL`, an
//! otpgate restart with the memory store — and nothing a shopper did is
//! undone: a logged-out cookie stays logged out, a signed-in shopper is
//! asked to verify again (fail closed), and the operator sees a WARN line
//! and `otpgate_store_epoch_changes_total`.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::redis_or_skip;
use crate::support::{gateway, upstream, Browser, Gw, Shop, H1, PHONE};

const OTHER: &str = "+919812340001";

async fn instance(shop: &Shop, url: &str) -> Gw {
    gateway(shop)
        .route("/checkout", "otp")
        .set("store.backend", "\"redis\"")
        .set("store.redis_url", &format!("\"{url}\""))
        .run()
        .await
}

/// The operator log of this test binary. One process-wide subscriber:
/// the gateway logs from its worker threads and from the test's runtime,
/// whichever notices the loss first, and a thread-local capture would see
/// only some of them. Tests find their own lines by the epoch they name.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn operator_log() -> &'static Log {
    static LOG: OnceLock<Log> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Log::default();
        let w = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .with_writer(move || w.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        log
    })
}

impl Log {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The epoch Redis holds now (`GET otpgate:epoch`).
fn epoch_in_redis(port: u16) -> String {
    use std::io::{BufRead, BufReader};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET otpgate:epoch\r\n").unwrap();
    let mut r = BufReader::new(s);
    let (mut len, mut value) = (String::new(), String::new());
    r.read_line(&mut len).unwrap();
    r.read_line(&mut value).unwrap();
    value.trim().to_string()
}

/// A shopper who signed in and logged out, and the cookies they had
/// before logging out (what an attacker who copied them would replay).
async fn logged_out(gw: &Gw, phone: &str) -> Browser {
    let mut b = gw.browser(H1);
    b.log_in(phone, "/checkout").await;
    assert_eq!(b.get("/checkout").await.status, 200);
    let kept = b.cookies.clone();
    let page = b.get("/.otpgate/login").await;
    let out = b
        .post_form("/.otpgate/logout", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(out.status, 303);
    b.cookies = kept;
    assert_eq!(b.get("/checkout").await.status, 302, "logged out");
    b
}

/// Refused at once, or (a loss that no connection drop announced, such
/// as `FLUSHALL`) within the revocation cache's bound.
async fn refused(b: &mut Browser, what: &str) {
    crate::status_within(b, "/checkout", 302, what).await;
    let me = b.get("/.otpgate/api/session").await;
    assert_eq!(me.json()["authenticated"], false, "{what}: {}", me.body);
}

async fn epoch_changes(gw: &Gw) -> u64 {
    let m = gw.metrics().await;
    m.lines()
        .find_map(|l| l.strip_prefix("otpgate_store_epoch_changes_total "))
        .unwrap_or_else(|| panic!("no epoch metric in\n{m}"))
        .trim()
        .parse()
        .unwrap()
}

async fn readyz(gw: &Gw) -> u16 {
    let admin = gw.running.as_ref().unwrap().admin_addr.unwrap();
    reqwest::get(format!("http://{admin}/readyz"))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn redis_restarted_empty_refuses_logged_out_and_old_cookies() {
    let log = operator_log();
    let redis = redis_or_skip!();
    let shop = upstream().await;
    let gw = instance(&shop, &redis.url).await;
    let mut gone = logged_out(&gw, PHONE).await;
    let mut signed_in = gw.browser(H1);
    signed_in.log_in(OTHER, "/checkout").await;
    assert_eq!(signed_in.get("/checkout").await.status, 200);
    assert_eq!(epoch_changes(&gw).await, 0);

    let restarted = redis.restart_empty();
    // The probe (or the periodic check) notices; no request came yet.
    let deadline = Instant::now() + Duration::from_secs(10);
    while readyz(&gw).await != 200 {
        assert!(Instant::now() < deadline, "not ready after Redis restart");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(epoch_changes(&gw).await, 1, "counted once");
    refused(&mut gone, "logged-out cookie after an empty restart").await;
    refused(&mut signed_in, "cookie from before the loss").await;
    // Verifying again works, under the new epoch.
    signed_in.log_in(OTHER, "/checkout").await;
    assert_eq!(signed_in.get("/checkout").await.status, 200);
    assert_eq!(epoch_changes(&gw).await, 1, "a new epoch is not a loss");
    let epoch = epoch_in_redis(restarted.port());
    let text = log.text();
    assert!(
        text.lines().any(|l| l.contains("WARN")
            && l.contains("store lost its data")
            && l.contains(&format!("epoch={epoch}"))),
        "no WARN naming epoch {epoch}:\n{text}"
    );
}

/// `FLUSHALL`, found within the revocation cache's bound (its heartbeat
/// finds the epoch gone; no connection dropped, so nothing announced it),
/// on both of two instances: each refuses, each logs and counts once. A
/// logged-out cookie is refused throughout: the cache still holds its
/// revocation until the new epoch refuses it anyway.
#[tokio::test]
async fn flushall_is_found_within_the_staleness_bound_on_every_instance() {
    let redis = redis_or_skip!();
    let shop = upstream().await;
    let (a, b) = (
        instance(&shop, &redis.url).await,
        instance(&shop, &redis.url).await,
    );
    let mut gone = logged_out(&a, PHONE).await;
    let mut signed_in = a.browser(H1);
    signed_in.log_in(OTHER, "/checkout").await;
    let mut on_b = b.browser(H1);
    on_b.cookies = signed_in.cookies.clone();
    assert_eq!(on_b.get("/checkout").await.status, 200);

    assert!(crate::command(redis.port(), "FLUSHALL").starts_with("+OK"));
    assert_eq!(gone.get("/checkout").await.status, 302, "at once");
    refused(&mut gone, "logged-out cookie after FLUSHALL").await;
    refused(&mut signed_in, "signed-in cookie after FLUSHALL, on A").await;
    refused(&mut on_b, "signed-in cookie after FLUSHALL, on B").await;
    let mut replay = b.browser(H1);
    replay.cookies = gone.cookies.clone();
    refused(&mut replay, "logged-out cookie after FLUSHALL, on B").await;
    assert_eq!(epoch_changes(&a).await, 1);
    assert_eq!(epoch_changes(&b).await, 1);
    // A session issued on B after the loss works on A.
    let mut fresh = b.browser(H1);
    fresh.log_in(PHONE, "/checkout").await;
    let mut on_a = a.browser(H1);
    on_a.cookies = fresh.cookies.clone();
    assert_eq!(on_a.get("/checkout").await.status, 200);
}

/// The memory store forgets everything when otpgate restarts; every
/// cookie from before the restart is refused (same secret, same config).
#[tokio::test]
async fn memory_store_restart_refuses_every_older_cookie() {
    let shop = upstream().await;
    let first = gateway(&shop).route("/checkout", "otp");
    let text = first.config_text();
    let mut gw = first.run().await;
    let gone = logged_out(&gw, PHONE).await;
    let mut signed_in = gw.browser(H1);
    signed_in.log_in(OTHER, "/checkout").await;
    assert_eq!(signed_in.get("/checkout").await.status, 200);
    let (gone_cookies, kept) = (gone.cookies.clone(), signed_in.cookies.clone());
    gw.shutdown().await;

    let cfg = otpgate::config::Config::parse(&text, "test").unwrap();
    let again = otpgate::server::start(cfg, None).await.unwrap();
    let url = format!("https://127.0.0.1:{}", again.addr.port());
    let mut b = Browser::new(gw.client(H1), url, gw.sms_path.clone(), H1);
    b.cookies = gone_cookies;
    refused(&mut b, "logged-out cookie after an otpgate restart").await;
    b.cookies = kept;
    refused(&mut b, "signed-in cookie after an otpgate restart").await;
    b.log_in(OTHER, "/checkout").await;
    assert_eq!(b.get("/checkout").await.status, 200);
    again.shutdown().await;
}

/// A pumping block this instance set is written again after the loss,
/// not silently lifted with the counters that led to it.
#[tokio::test]
async fn a_pumping_block_survives_flushall() {
    let redis = redis_or_skip!();
    let shop = upstream().await;
    let mut b = gateway(&shop)
        .route("/checkout", "otp")
        .set("store.backend", "\"redis\"")
        .set("store.redis_url", &format!("\"{}\"", redis.url))
        .set(
            "limits.pumping",
            "{ min_sends = 3, min_conversion = 0.5, block_for = \"1h\", min_networks = 1 }",
        );
    for name in ["send_per_ip", "send_per_prefix", "sms_per_hour"] {
        b = b.set(&format!("limits.{name}"), "{ max = 1000, window = \"1h\" }");
    }
    let gw = b.run().await;
    let mut statuses = vec![];
    for i in 0..5 {
        let n = format!("+91981234{:04}", 100 + i);
        statuses.push(gw.browser(H1).start(&n, "/checkout").await.status);
    }
    assert_eq!(statuses.last(), Some(&429), "blocked: {statuses:?}");

    assert!(crate::command(redis.port(), "FLUSHALL").starts_with("+OK"));
    assert_eq!(readyz(&gw).await, 200, "the probe finds the loss");
    assert_eq!(epoch_changes(&gw).await, 1);
    let still = gw.browser(H1).start("+919812340999", "/checkout").await;
    assert_eq!(still.status, 429, "the block is back: {}", still.body);
    let elsewhere = gw.browser(H1).start("+919876540001", "/checkout").await;
    assert_eq!(elsewhere.status, 303, "other prefixes unaffected");
}
