//! The fingerprint block end to end, over real TLS (issue 15): a client
//! stack whose codes are never typed is refused by its JA4 while another
//! stack (another JA4) still sends, and its refused attempts spend none
//! of the budgets genuine shoppers share; `DELETE /api/blocks/ja4:…`
//! lifts it (a malformed `ja4:` is a 400 naming the form); a client
//! behind a trusted proxy has no fingerprint of its own and is never
//! fingerprint-blocked.
//!
//! The two stacks are reqwest's rustls over HTTP/1.1 and over HTTP/2:
//! their hellos differ in ALPN, so their JA4s differ (tests/fingerprint.rs).

mod support;

use serde_json::{json, Value};
use support::{gateway, upstream, Gw, Shop, H1, H2};

const TOKEN: &str = "admin-token-0123456789abcdef0123456789";

/// `+91 981bbb nnnn`: prefix `+91981bbb`, one per `block`.
fn phone(block: u32, line: u32) -> String {
    format!("+91981{block:03}{line:04}")
}

fn lim(max: u64) -> String {
    format!("{{ max = {max}, window = \"1h\" }}")
}

/// Every limit wide open but the country's (`country` sends an hour);
/// the fingerprint signal after 5 unverified sends, the prefix detector
/// out of the way.
fn shop_gateway(shop: &Shop, country: u64) -> support::GatewayBuilder {
    let mut b = gateway(shop).set("admin.token", &format!("{TOKEN:?}"));
    for name in [
        "send_per_ip",
        "send_per_phone",
        "send_per_prefix",
        "send_per_fingerprint",
        "sms_per_hour",
        "sms_per_day",
    ] {
        b = b.set(&format!("limits.{name}"), &lim(100_000));
    }
    b.set("limits.send_per_country", &lim(country)).set(
        "limits.pumping",
        "{ min_sends = 1000, fingerprint_min_sends = 5, min_conversion = 0.2 }",
    )
}

async fn send(client: &reqwest::Client, gw: &Gw, phone: &str, xff: Option<&str>) -> u16 {
    let mut req = client
        .post(gw.url("/.otpgate/api/send"))
        .header("content-type", "application/json")
        .body(json!({ "phone": phone, "rd": "/checkout" }).to_string());
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn admin(gw: &Gw, method: &str, path: &str) -> (u16, Value) {
    let addr = gw.running.as_ref().unwrap().admin_addr.unwrap();
    let resp = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("http://{addr}{path}"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The fingerprint blocks the admin API lists.
async fn ja4_blocks(gw: &Gw) -> Vec<String> {
    let (status, v) = admin(gw, "GET", "/api/blocks").await;
    assert_eq!(status, 200, "{v}");
    v["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["source"] == "pumping_fingerprint")
        .map(|b| b["prefix"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_stack_whose_codes_never_convert_is_blocked_and_others_still_send() {
    let shop = upstream().await;
    let gw = shop_gateway(&shop, 10).run().await;
    let (pumper, shopper) = (gw.client(H1), gw.client(H2));

    // More than fingerprint_min_sends unverified: the 6th send trips the
    // block, and every later one is refused, in any prefix.
    let mut statuses = Vec::new();
    for i in 0..26 {
        statuses.push(send(&pumper, &gw, &phone(i, 1), None).await);
    }
    assert_eq!(statuses[..5], [200; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(gw.sms().len(), 5);
    let m = gw.metrics().await;
    let refused = "otpgate_rate_limited_total{limit=\"pumping_fingerprint\"}";
    assert_eq!(metric(&m, refused), Some(21.0), "{m}");
    let blocked = ja4_blocks(&gw).await;
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert!(blocked[0].starts_with("ja4:t13"), "{blocked:?}");

    // Another stack sends, and the 21 refused attempts took none of the
    // country's 10: 5 SMS went to the pumper, 5 are left (the 6th would
    // also trip the shopper's own fingerprint, but the country's limit
    // comes first).
    for i in 0..5 {
        assert_eq!(send(&shopper, &gw, &phone(100 + i, 2), None).await, 200);
    }
    assert_eq!(send(&shopper, &gw, &phone(200, 2), None).await, 429);
    let m = gw.metrics().await;
    let country = "otpgate_rate_limited_total{limit=\"send_per_country\"}";
    assert_eq!(metric(&m, country), Some(1.0), "{m}");
    assert_eq!(
        ja4_blocks(&gw).await.len(),
        1,
        "the shopper's JA4 is not blocked"
    );
}

/// `[limits.pumping] enabled = false` turns its fingerprint signal off
/// too (`fingerprints` only says which signals a running detector uses):
/// the same never-converting stack keeps sending.
#[tokio::test]
async fn with_the_detector_off_no_stack_is_fingerprint_blocked() {
    let shop = upstream().await;
    let gw = shop_gateway(&shop, 1_000)
        .set(
            "limits.pumping",
            "{ enabled = false, fingerprints = true, fingerprint_min_sends = 5, min_conversion = 0.2 }",
        )
        .run()
        .await;
    let pumper = gw.client(H1);
    for i in 0..12 {
        assert_eq!(
            send(&pumper, &gw, &phone(i, 1), None).await,
            200,
            "send {i}"
        );
    }
    assert!(ja4_blocks(&gw).await.is_empty());
}

#[tokio::test]
async fn the_admin_api_lifts_a_fingerprint_block() {
    let shop = upstream().await;
    let gw = shop_gateway(&shop, 1_000).run().await;
    let pumper = gw.client(H1);
    for i in 0..6 {
        send(&pumper, &gw, &phone(i, 1), None).await;
    }
    assert_eq!(send(&pumper, &gw, &phone(9, 1), None).await, 429);
    let name = ja4_blocks(&gw).await.pop().expect("a fingerprint block");

    for bad in ["ja4:", "ja4:T13D1516H2", "ja4:t13d_%2B1", "ja4%3A"] {
        let (status, v) = admin(&gw, "DELETE", &format!("/api/blocks/{bad}")).await;
        assert_eq!(status, 400, "{bad}: {v}");
        let error = v["error"].as_str().unwrap_or_default();
        assert!(error.contains("`ja4:`"), "{bad}: names the ja4 form: {v}");
    }
    assert_eq!(ja4_blocks(&gw).await.len(), 1, "a bad call lifts nothing");

    // `:` as sent, or escaped.
    let escaped = name.replace(':', "%3A");
    let (status, v) = admin(&gw, "DELETE", &format!("/api/blocks/{escaped}")).await;
    assert_eq!((status, v["removed"].as_bool()), (200, Some(true)), "{v}");
    assert!(ja4_blocks(&gw).await.is_empty());
    // Lifted means lifted: the stack sends again, and the evidence that
    // blocked it is forgiven rather than tripping the block at once.
    for i in 0..5 {
        assert_eq!(
            send(&pumper, &gw, &phone(50 + i, 1), None).await,
            200,
            "{i}"
        );
    }
    let (status, _) = admin(&gw, "DELETE", &format!("/api/blocks/{name}")).await;
    assert_eq!(status, 404, "no block left to lift");
}

#[tokio::test]
async fn a_client_behind_a_trusted_proxy_is_never_fingerprint_blocked() {
    let shop = upstream().await;
    let gw = shop_gateway(&shop, 1_000)
        .set("server.trusted_proxies", "[\"127.0.0.1\"]")
        .run()
        .await;
    // The proxy's own hello is the same for every shopper behind it: 30
    // unverified sends through it, from 30 addresses, all go out.
    let proxy = gw.client(H1);
    for i in 0..30u32 {
        let from = format!("198.51.100.{}", i + 1);
        assert_eq!(
            send(&proxy, &gw, &phone(i, 3), Some(&from)).await,
            200,
            "{i}"
        );
    }
    assert!(ja4_blocks(&gw).await.is_empty());
    let m = gw.metrics().await;
    let refused = "otpgate_rate_limited_total{limit=\"pumping_fingerprint\"}";
    assert_eq!(metric(&m, refused), None, "{m}");
}

/// A common browser's JA4 is shared by every shopper on it, so its
/// `send_per_fingerprint` meters SMS, not attempts: sends refused for
/// another reason (a bombed number's own limit, a number that is not
/// one) must not spend it, or an attacker on that browser spends it for
/// everyone.
#[tokio::test]
async fn refused_attempts_do_not_spend_a_shared_fingerprint_budget() {
    let shop = upstream().await;
    let gw = shop_gateway(&shop, 1_000)
        .set("limits.send_per_fingerprint", &lim(4))
        .set("limits.send_per_phone", &lim(1))
        .run()
        .await;
    let browser = gw.client(H1);
    let victim = phone(1, 1);
    assert_eq!(send(&browser, &gw, &victim, None).await, 200);
    for _ in 0..5 {
        assert_eq!(send(&browser, &gw, &victim, None).await, 429);
    }
    for junk in ["+9112", "+91000", "12", "+91981", "+4420"] {
        assert_eq!(send(&browser, &gw, junk, None).await, 422, "{junk}");
    }
    for i in 0..3 {
        assert_eq!(
            send(&browser, &gw, &phone(10 + i, 1), None).await,
            200,
            "{i}"
        );
    }
    assert_eq!(send(&browser, &gw, &phone(20, 1), None).await, 429);
    let m = gw.metrics().await;
    let fp = "otpgate_rate_limited_total{limit=\"send_per_fingerprint\"}";
    assert_eq!(metric(&m, fp), Some(1.0), "{m}");
}
