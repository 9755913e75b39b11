//! The fake providers: real HTTP/1.1 servers (hyper) on 127.0.0.1:0 that
//! record every request they parsed and answer from a script, plus the
//! config and message builders the tests share.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use otpgate::sms::{build, validate, Delivery, RawSmsConfig, RetryPolicy, SmsConfig, SmsMessage};

/// One request as the fake provider received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Seen {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }

    pub fn field(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }

    pub fn basic_auth(&self) -> String {
        let value = self.header("authorization");
        let encoded = value.strip_prefix("Basic ").expect("Basic auth");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        String::from_utf8(decoded).unwrap()
    }
}

/// What the fake does with one request.
#[derive(Clone)]
pub enum Reply {
    Answer(u16, Vec<(&'static str, String)>, String),
    /// Read the request, never answer.
    Hang,
    /// Read the request, close the connection without an answer.
    Drop,
}

pub fn answer(status: u16, body: Value) -> Reply {
    Reply::Answer(status, vec![], body.to_string())
}

pub struct FakeProvider {
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeProvider {
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn only_request(&self) -> Seen {
        let all = self.requests();
        assert_eq!(all.len(), 1, "expected exactly one request");
        all.into_iter().next().unwrap()
    }

    pub fn gaps(&self) -> Vec<Duration> {
        let all = self.requests();
        all.windows(2).map(|w| w[1].at - w[0].at).collect()
    }
}

/// Starts a provider that answers with `script` in order; the last reply
/// repeats. The listener is bound before this returns, so no readiness wait.
pub async fn provider(script: Vec<Reply>) -> FakeProvider {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    provider_on(listener, script)
}

/// [`provider`] on a listener the caller bound (e.g. on a port that
/// refused connections until now).
pub fn provider_on(listener: tokio::net::TcpListener, script: Vec<Reply>) -> FakeProvider {
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (record, script) = (record.clone(), script.clone());
            let service = service_fn(move |req: Request<Incoming>| {
                handle(req, record.clone(), script.clone())
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    FakeProvider { base, seen }
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Script = Arc<Mutex<VecDeque<Reply>>>;

pub async fn handle(
    req: Request<Incoming>,
    record: Arc<Mutex<Vec<Seen>>>,
    script: Script,
) -> Result<Response<Full<Bytes>>, BoxError> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes().to_vec();
    record.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.to_string(),
        headers: parts.headers,
        body,
        at: Instant::now(),
    });
    let reply = {
        let mut script = script.lock().unwrap();
        if script.len() > 1 {
            script.pop_front().unwrap()
        } else {
            script.front().cloned().expect("empty script")
        }
    };
    match reply {
        Reply::Answer(status, headers, body) => {
            let mut res = Response::builder()
                .status(status)
                .header("content-type", "application/json");
            for (k, v) in headers {
                res = res.header(k, v);
            }
            Ok(res.body(Full::new(Bytes::from(body)))?)
        }
        Reply::Hang => std::future::pending().await,
        // A service error makes hyper close the connection unanswered.
        Reply::Drop => Err("drop".into()),
    }
}

/// An address nothing listens on: connections are refused.
pub async fn refused_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// Short timings so fault tests run in about a second of real time.
pub fn fast_policy() -> RetryPolicy {
    let mut timeouts = RetryPolicy::default().timeouts;
    timeouts.connect = Duration::from_millis(300);
    timeouts.total = Duration::from_millis(800);
    RetryPolicy {
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
        budget: Duration::from_secs(3),
        timeouts,
        ..RetryPolicy::default()
    }
}

pub fn config(sms: Value) -> SmsConfig {
    let raw: RawSmsConfig = serde_json::from_value(sms).expect("raw config parses");
    match validate(&raw) {
        Ok(cfg) => cfg,
        Err(problems) => panic!("config rejected: {problems:?}"),
    }
}

pub fn delivery(sms: Value) -> Delivery {
    let mut cfg = config(sms);
    cfg.policy = fast_policy();
    build(&cfg)
}

pub fn twilio_table(base: &str) -> Value {
    json!({"account_sid": "ACtest", "auth_token": "tok-secret", "from": "+15005550006", "api_base": base})
}

pub fn msg91_table(base: &str) -> Value {
    json!({"authkey": "msg91-key", "template_id": "tmpl-1", "sender": "EXSHOP", "api_base": base})
}

pub fn vonage_table(base: &str) -> Value {
    json!({"api_key": "vkey", "api_secret": "vsecret", "from": "EXSHOP",
           "entity_id": "1101456789012345678", "content_id": "1107161234567890123", "api_base": base})
}

pub const HINDI: &str = "आपका कोड 123456 है";

pub fn india(body: &str) -> SmsMessage {
    SmsMessage {
        to: "+919812345678".into(),
        region: "IN".into(),
        body: body.into(),
        code: "123456".into(),
        lang: "en".into(),
    }
}

pub fn twilio_created() -> Reply {
    answer(
        201,
        json!({"sid": "SM0123456789abcdef", "status": "queued"}),
    )
}

pub fn vonage_ok() -> Reply {
    answer(
        200,
        json!({"message-count": "1", "messages": [
        {"to": "919812345678", "message-id": "0A0000000123ABCD1", "status": "0"}]}),
    )
}
