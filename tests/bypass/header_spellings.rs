//! Header names otpgate strips or owns, in every spelling (any case, `_`
//! for `-`): CGI-style stacks (PHP, Rack, WSGI) read `X_Original_URL` as
//! `X-Original-URL`, so a spelling that passes is a header the storefront
//! trusts. A storefront that follows rewrite and override headers is
//! modelled by [`followed`]: what such a framework would actually serve.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::shop_and_gateway;
use crate::support::shop::Seen;
use crate::support::{status_of, H2Answer, Shop};

/// The names from the issue and README, kept here independently of
/// otpgate's own list so that a name missing there fails here.
const NAMES: &[&str] = &[
    "x-otpgate-phone",
    "x-otpgate-verified-at",
    "x-otpgate-anything",
    "x-original-url",
    "x-rewrite-url",
    "x-original-uri",
    "x-original-method",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-prefix",
    "x-forwarded-port",
    "x-forwarded-scheme",
    "x-forwarded-ssl",
    "x-forwarded-server",
    "x-forwarded-uri",
    "forwarded",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "x-request-id",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "http2-settings",
];

fn canonical(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

fn managed(name: &str) -> bool {
    let c = canonical(name);
    NAMES.contains(&c.as_str())
        || otpgate::headers::all_names().contains(&c.as_str())
        || c.starts_with("x-otpgate-")
        || c.starts_with("x-forwarded-")
}

/// A random spelling: each letter in either case, each `-` as `-` or `_`.
fn spell(rng: &mut StdRng, name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '-' if rng.gen_bool(0.5) => '_',
            c if rng.gen_bool(0.5) => c.to_ascii_uppercase(),
            c => c,
        })
        .collect()
}

/// What a framework that honours rewrite and override headers (in CGI
/// spelling: case and `_` folded) would serve for this request.
fn followed(seen: &Seen) -> (String, String) {
    let mut method = seen.method.clone();
    let mut target = seen.target.clone();
    for (k, v) in &seen.headers {
        match canonical(k).as_str() {
            "x-original-url" | "x-rewrite-url" | "x-original-uri" => target = v.clone(),
            "x-http-method-override" | "x-http-method" | "x-method-override" => {
                method = v.to_ascii_uppercase()
            }
            _ => {}
        }
    }
    (method, target)
}

/// Names that no peer may set, not even a trusted proxy.
fn never_from_anyone(c: &str) -> bool {
    c.starts_with("x-otpgate-")
        || [
            "x-original-url",
            "x-rewrite-url",
            "x-original-uri",
            "x-original-method",
            "x-http-method-override",
            "x-http-method",
            "x-method-override",
            "connection",
            "keep-alive",
            "proxy-connection",
            "te",
            "transfer-encoding",
            "upgrade",
            "proxy-authorization",
            "http2-settings",
        ]
        .contains(&c)
}

/// Problems with what reached the shop since `before`: any managed field
/// in a non-canonical spelling, or carrying a value the client chose
/// (from a trusted proxy: a forwarding field in its canonical spelling may).
fn leaks(shop: &Shop, before: usize, trusted: bool) -> Vec<String> {
    let mut out = Vec::new();
    for seen in &shop.seen()[before..] {
        for (k, v) in &seen.headers {
            let c = canonical(k);
            // A client's sane request id is kept by design (tracing).
            let may_carry = *k == c && (c == "x-request-id" || (trusted && !never_from_anyone(&c)));
            if (managed(k) && *k != c) || (v.contains("spoof") && !may_carry) {
                out.push(format!("{k}: {v}"));
            }
        }
        let (method, target) = followed(seen);
        if (method.as_str(), target.as_str()) != (seen.method.as_str(), seen.target.as_str()) {
            out.push(format!("a framework would serve {method} {target}"));
        }
    }
    out
}

fn h1_request(method: &str, target: &str, headers: &[(String, String)]) -> Vec<u8> {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    req.into_bytes()
}

/// Seeded, so a failure reproduces: random subsets of every managed name
/// in random spellings, over HTTP/1.1 (byte-exact names) and HTTP/2
/// (names lower-cased by the protocol; `_` kept).
#[tokio::test]
async fn no_spelling_of_a_managed_header_reaches_the_storefront() {
    spelling_rounds(false, 0x07_9a7e).await;
}

/// The same through a trusted proxy: only its canonical forwarding fields
/// pass; identity, rerouting and hop-by-hop fields never do.
#[tokio::test]
async fn from_a_trusted_proxy_only_canonical_forwarding_fields_pass() {
    spelling_rounds(true, 0x7e_a57e).await;
}

async fn spelling_rounds(trusted: bool, seed: u64) {
    let (shop, gw) = shop_and_gateway(trusted).await;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut names: Vec<&str> = NAMES.to_vec();
    names.extend(otpgate::headers::all_names());
    let rounds = 150;
    let mut failures = Vec::new();
    for round in 0..rounds {
        let n = rng.gen_range(1..=6);
        let headers: Vec<(String, String)> = (0..n)
            .map(|_| {
                let name = names[rng.gen_range(0..names.len())];
                let value = match canonical(name).as_str() {
                    "x-original-url" | "x-rewrite-url" | "x-original-uri" => "/checkout".into(),
                    "x-http-method-override" | "x-http-method" | "x-method-override" => {
                        "DELETE".into()
                    }
                    _ => format!("spoof{round}"),
                };
                (spell(&mut rng, name), value)
            })
            .collect();
        let (method, target) = if rng.gen_bool(0.5) {
            ("GET", "/public")
        } else {
            ("POST", "/checkout/assets/x")
        };
        let before = shop.count();
        let status = status_of(&gw.raw_h1(&h1_request(method, target, &headers)).await);
        let leaked = leaks(&shop, before, trusted);
        // A refusal (e.g. an unsupported `Transfer-Encoding`) is safe.
        let forwarded = shop.count() > before;
        if !leaked.is_empty() || (forwarded && status != 200) || (!forwarded && status < 400) {
            failures.push(format!("H1 {headers:?}: {status} {leaked:?}"));
        }
        let before = shop.count();
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // The h2 client refuses connection-specific fields itself
        // (Unsendable): then nothing reached the shop either.
        let status = gw.raw_h2(method, target, &pairs).await;
        let leaked = leaks(&shop, before, trusted);
        if !leaked.is_empty() || (shop.count() > before && !matches!(status, H2Answer::Status(200)))
        {
            failures.push(format!("H2 {headers:?}: {status:?} {leaked:?}"));
        }
    }
    crate::report(failures, rounds * 2);
}

/// Every name the issue lists is one otpgate manages (a name missing from
/// its list would pass unchecked).
#[test]
fn otpgate_manages_every_listed_name() {
    for n in NAMES {
        for spelling in [n.to_string(), n.to_ascii_uppercase(), n.replace('-', "_")] {
            assert!(
                otpgate::headers::classify(&spelling).is_some(),
                "{spelling} is not managed"
            );
        }
    }
}

/// The rewrite and override headers frameworks follow, with the siblings
/// an attacker tries after the first is blocked.
#[tokio::test]
async fn rewrite_and_override_headers_never_change_what_the_shop_serves() {
    let (shop, gw) = shop_and_gateway(false).await;
    let cases: &[(&str, &str, &str)] = &[
        ("GET", "X-Original-URL", "/checkout"),
        ("GET", "X_Original_URL", "/checkout"),
        ("GET", "x_original_url", "/checkout"),
        ("GET", "X-Original_URL", "/checkout"),
        ("GET", "X-REWRITE-URL", "/checkout"),
        ("GET", "X_Rewrite_Url", "/checkout"),
        ("GET", "X_Original_URI", "/checkout"),
        ("POST", "X_HTTP_Method_Override", "DELETE"),
        ("POST", "x_http_method_override", "PUT"),
        ("POST", "X-Http-Method_Override", "PATCH"),
        ("POST", "X_HTTP_Method", "DELETE"),
        ("POST", "X_Method_Override", "DELETE"),
        ("POST", "X-METHOD-OVERRIDE", "DELETE"),
    ];
    let mut failures = Vec::new();
    for (method, name, value) in cases {
        let before = shop.count();
        let headers = [(name.to_string(), value.to_string())];
        let raw = gw.raw_h1(&h1_request(method, "/public", &headers)).await;
        let leaked = leaks(&shop, before, false);
        if status_of(&raw) != 200 || !leaked.is_empty() {
            failures.push(format!("{method} {name}: {value}: {leaked:?}"));
        }
    }
    crate::report(failures, cases.len());
}

/// From an untrusted client, address and forwarding fields are otpgate's
/// truth or absent; from a trusted proxy, its `X-Forwarded-For` chain (in
/// the canonical spelling only) is kept and the shopper named by it.
#[tokio::test]
async fn forwarding_fields_carry_otpgates_truth() {
    let spoofs: Vec<(String, String)> = [
        ("X-Forwarded-For", "6.6.6.6"),
        ("X_Forwarded_For", "7.7.7.7"),
        ("Forwarded", "for=6.6.6.6;host=evil.example"),
        ("X-Real-IP", "6.6.6.6"),
        ("X-Client-IP", "6.6.6.6"),
        ("True-Client-IP", "6.6.6.6"),
        ("X-Forwarded-Prefix", "/evil"),
        ("X-Forwarded-Port", "80"),
        ("X-Forwarded-Scheme", "http"),
        ("X-Forwarded-Ssl", "off"),
        ("X-Forwarded-Server", "evil.example"),
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Host", "evil.example"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (shop, gw) = shop_and_gateway(false).await;
    gw.raw_h1(&h1_request("GET", "/public", &spoofs)).await;
    let seen = shop.last();
    assert_eq!(seen.all("x-forwarded-for"), ["127.0.0.1"], "{seen:?}");
    assert_eq!(seen.all("x-real-ip"), ["127.0.0.1"]);
    assert_eq!(seen.all("x-forwarded-proto"), ["https"]);
    assert_eq!(seen.all("x-forwarded-host"), ["127.0.0.1"]);
    assert_eq!(
        seen.all("forwarded"),
        ["for=127.0.0.1;proto=https;host=\"127.0.0.1\""]
    );
    for gone in [
        "x-client-ip",
        "true-client-ip",
        "x-forwarded-prefix",
        "x-forwarded-port",
        "x-forwarded-scheme",
        "x-forwarded-ssl",
        "x-forwarded-server",
    ] {
        assert!(seen.header(gone).is_none(), "{gone}: {seen:?}");
    }

    let (shop, gw) = shop_and_gateway(true).await;
    let mut from_proxy = spoofs.clone();
    from_proxy.push(("X_Otpgate_Phone".into(), "+919999999999".into()));
    gw.raw_h1(&h1_request("GET", "/public", &from_proxy)).await;
    let seen = shop.last();
    assert_eq!(
        seen.all("x-forwarded-for"),
        ["6.6.6.6, 127.0.0.1"],
        "{seen:?}"
    );
    assert_eq!(seen.all("x-real-ip"), ["6.6.6.6"]);
    assert_eq!(
        seen.all("forwarded"),
        ["for=6.6.6.6;host=evil.example, for=127.0.0.1;proto=https;host=\"127.0.0.1\""]
    );
    assert_eq!(seen.all("x-forwarded-prefix"), ["/evil"]);
    assert!(
        !seen.headers.iter().any(|(k, _)| k.contains('_')),
        "{seen:?}"
    );
    assert!(seen.header("x-otpgate-phone").is_none());
}
