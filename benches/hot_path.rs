//! Per-request work otpgate adds on the forwarding path, in isolation:
//! path normalization, the route decision, the header rewrite, and opening
//! a session cookie. Run with `cargo bench`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderValue, Method};
use otpgate::config::{Require, RouteRule, Secret, SessionConfig};
use otpgate::headers;
use otpgate::normalize::normalize_path;
use otpgate::policy::Policy;
use otpgate::session::{CookieSealer, Session};

fn request_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("host", "shop.example.com"),
        (
            "user-agent",
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36",
        ),
        (
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        ("accept-language", "en-IN,en;q=0.9,hi;q=0.8"),
        ("accept-encoding", "gzip, deflate, br"),
        ("cookie", "cart=abc123; _ga=GA1.2.3.4"),
        ("connection", "keep-alive"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    h
}

/// One step of the header rewrite, applied to a request's headers.
type Step<'a> = dyn Fn(&mut HeaderMap) + 'a;

fn bench(c: &mut Criterion) {
    c.bench_function("normalize /products/tea-250g?ref=home", |b| {
        b.iter(|| normalize_path(black_box("/products/tea-250g")).unwrap())
    });
    c.bench_function("normalize hostile /a/./b/../%63heckout;x=1//y", |b| {
        b.iter(|| normalize_path(black_box("/a/./b/../%63heckout;x=1//y")).unwrap())
    });
    let rule = |p: &str, r| RouteRule {
        path: p.into(),
        require: r,
        max_age: Duration::from_secs(900),
        methods: vec![],
        confirm: otpgate::config::Confirmation::Session,
        amount_field: None,
        currency: "INR".into(),
    };
    let policy = Policy::new(vec![
        rule("/checkout", Require::Otp),
        rule("/checkout/assets", Require::None),
        rule("/account", Require::Otp),
    ]);
    c.bench_function("policy decide", |b| {
        b.iter(|| {
            policy
                .rule_for(&Method::GET, black_box("/products/tea-250g"))
                .is_some()
        })
    });
    let template = request_headers();
    let peer: std::net::IpAddr = "203.0.113.9".parse().unwrap();
    // The trust-boundary rewrite of gateway::forward, whole and in its two
    // halves (removing what clients may not send; adding what we set).
    let removals = |h: &mut HeaderMap| {
        headers::remove_hop_by_hop(h);
        headers::strip_spoofable(h, false);
        headers::strip_cookies(
            h,
            &[
                "__Host-otpgate",
                "__Host-otpgate-pending",
                "__Host-otpgate-csrf",
            ],
        );
    };
    let additions = |h: &mut HeaderMap| {
        let host = h.get("host").cloned();
        headers::set_forwarded(
            h,
            headers::ForwardFacts {
                peer,
                client: peer,
                peer_trusted: false,
                host,
                request_id: HeaderValue::from_static("0123456789abcdef0123456789abcdef"),
            },
        );
    };
    let steps: [(&str, &Step); 3] = [
        ("header rewrite", &|h| {
            removals(h);
            additions(h);
        }),
        ("header rewrite: removals only", &removals),
        ("header rewrite: set_forwarded only", &additions),
    ];
    for (name, step) in steps {
        c.bench_function(name, |b| {
            b.iter_batched(
                || template.clone(),
                |mut h| {
                    step(&mut h);
                    h
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    let sealer = CookieSealer::new(&SessionConfig {
        secrets: vec![Secret::new("bench-secret-bench-secret-bench-secret")],
        ttl: Duration::from_secs(86400),
        cookie_name: "__Host-otpgate".into(),
    });
    let s = Session {
        id: "0123456789abcdef0123456789abcdef".into(),
        phone: "+919812345678".into(),
        verified_at: 1_800_000_000,
        expires_at: 1_800_086_400,
        epoch: 1,
    };
    let set = sealer.session_cookie(&s, 1_800_000_000);
    let sealed = set
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    c.bench_function("open session cookie", |b| {
        b.iter(|| {
            sealer
                .open_session(black_box(&sealed), 1_800_000_100)
                .unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
