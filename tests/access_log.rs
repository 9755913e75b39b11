//! One access line per request, with the facts an operator needs and
//! nothing secret.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use support::{gateway, upstream, H1, H2, PHONE};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// This thread's log as JSON lines at `info`, kept while the guard lives.
    fn json_lines() -> (Captured, tracing::subscriber::DefaultGuard) {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_env_filter("info")
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }
}

#[tokio::test]
async fn every_request_gets_one_access_line_without_secrets() {
    let (logs, _guard) = Captured::json_lines();

    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let mut b = gw.browser(H2);
    b.log_in(PHONE, "/checkout").await;
    let session = b.cookies["__Host-otpgate"].clone();
    let resp = gw
        .client(H1)
        .get(gw.url("/checkout/pay?card=4111111111111111"))
        .header("cookie", format!("__Host-otpgate={session}"))
        .header("authorization", "Bearer top-secret-token")
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let _ = resp.bytes().await.unwrap();
    let code = b.code_for(PHONE);
    drop(gw);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let access: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "otpgate::access")
        .collect();
    let line = access
        .iter()
        .find(|v| v["fields"]["request_id"] == "trace-me-42")
        .unwrap_or_else(|| panic!("no access line for the request in:\n{text}"));
    let f = &line["fields"];
    assert_eq!(f["method"], "GET");
    assert_eq!(f["path"], "/checkout/pay", "the path without its query");
    assert_eq!(f["status"], 200);
    assert!(f["duration_ms"].as_f64().is_some());
    assert!(f["upstream_ms"].as_f64().is_some());
    assert!(f["bytes"].as_u64().unwrap() > 0);
    // Every request of the flow has its own line.
    assert!(access.len() >= 5, "{} access lines", access.len());
    for secret in [
        session.as_str(),
        "top-secret-token",
        "4111111111111111",
        &code,
        support::SECRET,
    ] {
        assert!(!text.contains(secret), "{secret:?} reached the logs");
    }
}

/// The access line names the client as the limits see it: the TCP peer, or
/// behind a trusted proxy the address it put in `X-Forwarded-For` — and a
/// client that is not a trusted proxy cannot name itself.
#[tokio::test]
async fn access_lines_name_the_client_ip() {
    let (logs, _guard) = Captured::json_lines();

    let shop = upstream().await;
    let direct = gateway(&shop).run().await;
    let behind_proxy = gateway(&shop)
        .set("server.trusted_proxies", r#"["127.0.0.1/32"]"#)
        .run()
        .await;
    for (gw, id) in [(&direct, "direct"), (&behind_proxy, "proxied")] {
        let resp = gw
            .client(H1)
            .get(gw.url("/"))
            .header("x-forwarded-for", "203.0.113.7")
            .header("x-request-id", id)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let _ = resp.bytes().await.unwrap();
    }
    drop((direct, behind_proxy));

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let client_of = |id: &str| {
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["target"] == "otpgate::access" && v["fields"]["request_id"] == id)
            .unwrap_or_else(|| panic!("no access line {id} in:\n{text}"))["fields"]["client"]
            .clone()
    };
    assert_eq!(client_of("direct"), "127.0.0.1", "untrusted XFF is ignored");
    assert_eq!(client_of("proxied"), "203.0.113.7");
}

/// A redirect has no body to stream: its line says it completed, not that
/// the client went away (`aborted=true` on every 302 hid real aborts).
#[tokio::test]
async fn redirects_are_logged_complete_not_aborted() {
    let (logs, _guard) = Captured::json_lines();

    let shop = upstream().await;
    let gw = gateway(&shop).route("/checkout", "otp").run().await;
    let resp = gw
        .client(H1)
        .get(gw.url("/checkout/pay"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let _ = resp.bytes().await.unwrap();
    let ok = gw.client(H1).get(gw.url("/public")).send().await.unwrap();
    let _ = ok.bytes().await.unwrap();
    drop(gw);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "otpgate::access")
        .collect();
    let of = |path: &str| {
        lines
            .iter()
            .find(|v| v["fields"]["path"] == path)
            .unwrap_or_else(|| panic!("no access line for {path}: {text}"))
            .clone()
    };
    let redirect = of("/checkout/pay");
    assert_eq!(redirect["fields"]["status"], 302, "{redirect}");
    assert_eq!(redirect["fields"]["aborted"], false, "{redirect}");
    let page = of("/public");
    assert_eq!(page["fields"]["aborted"], false, "{page}");
}
