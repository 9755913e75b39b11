//! The admin API (`/api/*` on the admin listener; docs/admin-api.md): end
//! every session of a phone on every instance, list, add and lift prefix
//! blocks. Only with `Authorization: Bearer <[admin] token>`: without a
//! token configured the API does not exist (404, the same answer as any
//! unknown path), and a missing or wrong token is 401. Every call, refused
//! ones included, is an audit event.

use std::net::IpAddr;
use std::time::{Duration, UNIX_EPOCH};

use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::body::Body;
use crate::gateway::Gateway;
use crate::pumping;

/// Request bodies are a line of JSON; anything longer is refused unread.
const MAX_BODY: usize = 4096;
/// The longest block the API sets: a forgotten block must end some day.
const MAX_BLOCK: Duration = Duration::from_secs(365 * 24 * 3600);

/// A refusal: status, message and the field it concerns.
struct Refusal {
    status: StatusCode,
    message: String,
    field: Option<&'static str>,
}

fn bad(field: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        message: message.into(),
        field: Some(field),
    }
}

fn store_down(e: crate::store::StoreError) -> Refusal {
    tracing::warn!(error = %e, "admin API: store call failed");
    Refusal {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "store unavailable; nothing was changed or the change is unknown: retry".into(),
        field: None,
    }
}

/// What one call did, for the answer and the audit line.
struct Done {
    status: StatusCode,
    body: Value,
}

pub async fn handle(gw: &Gateway, req: Request<Incoming>, peer: IpAddr) -> Response<Body> {
    let action = action_of(req.method(), req.uri().path());
    let Some(token) = gw.cfg.admin.token.as_ref() else {
        return reply(StatusCode::NOT_FOUND, json!({"error": "not found"}));
    };
    if !bearer_matches(&req, token.expose()) {
        crate::audit::admin_call("unauthenticated", peer, action, None, 401);
        let mut resp = reply(
            StatusCode::UNAUTHORIZED,
            json!({"error": "missing or wrong bearer token ([admin] token)"}),
        );
        resp.headers_mut().insert(
            WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"otpgate-admin\""),
        );
        return resp;
    }
    let mut subject = None;
    let result = route(gw, req, action, &mut subject).await;
    let (status, body) = match result {
        Ok(done) => (done.status, done.body),
        Err(r) => {
            let mut body = json!({"error": r.message});
            if let Some(field) = r.field {
                body["field"] = json!(field);
            }
            (r.status, body)
        }
    };
    crate::audit::admin_call("admin", peer, action, subject.as_deref(), status.as_u16());
    reply(status, body)
}

/// The audit name of a call.
fn action_of(method: &Method, path: &str) -> &'static str {
    match (method, path) {
        (&Method::POST, "/api/sessions/revoke") => "sessions_revoke",
        (&Method::GET, "/api/blocks") => "blocks_list",
        (&Method::POST, "/api/blocks") => "block_add",
        (&Method::DELETE, p) if p.starts_with("/api/blocks/") => "block_remove",
        _ => "unknown",
    }
}

async fn route(
    gw: &Gateway,
    req: Request<Incoming>,
    action: &'static str,
    subject: &mut Option<String>,
) -> Result<Done, Refusal> {
    match action {
        "sessions_revoke" => {
            let body = json_body(req).await?;
            let phone = e164_field(&body, "phone")?;
            *subject = Some(crate::phone::mask(&phone));
            let now = gw.clock.now_ms();
            gw.store
                .revoke_phone(&phone, now, gw.cfg.session.ttl)
                .await
                .map_err(store_down)?;
            tracing::warn!(phone = %crate::phone::mask(&phone), "admin API: every session of a phone ended");
            Ok(Done {
                status: StatusCode::OK,
                body: json!({"phone": phone, "sessions_before": rfc3339(now)}),
            })
        }
        "blocks_list" => {
            let now = gw.clock.now_ms();
            let blocks = gw.store.blocks(now).await.map_err(store_down)?;
            let list: Vec<Value> = blocks
                .iter()
                .map(|b| json!({"prefix": b.prefix, "until": rfc3339(b.until_ms), "source": b.source}))
                .collect();
            Ok(Done {
                status: StatusCode::OK,
                body: json!({ "blocks": list }),
            })
        }
        "block_add" => {
            let body = json_body(req).await?;
            let prefix = prefix_of(string_field(&body, "prefix")?)?;
            let how_long = duration_field(&body, "for")?;
            *subject = Some(prefix.clone());
            let now = gw.clock.now_ms();
            let until = now + how_long.as_millis() as u64;
            pumping::block(&*gw.store, &prefix, until, pumping::SOURCE_ADMIN)
                .await
                .map_err(store_down)?;
            tracing::warn!(prefix, until = %rfc3339(until), "admin API: prefix blocked");
            Ok(Done {
                status: StatusCode::CREATED,
                body: json!({"prefix": prefix, "until": rfc3339(until), "source": pumping::SOURCE_ADMIN}),
            })
        }
        "block_remove" => {
            let raw = req.uri().path().trim_start_matches("/api/blocks/");
            // `+` arrives as `%2B` (or literally), the `:` of `ja4:` as
            // `%3A`: the only escapes a block name can need; anything
            // else fails `prefix_of` or `fingerprint_block_of`.
            let decoded = raw
                .replace("%2B", "+")
                .replace("%2b", "+")
                .replace("%3A", ":")
                .replace("%3a", ":");
            let prefix = match decoded.strip_prefix("ja4:") {
                Some(ja4) => fingerprint_block_of(ja4)?,
                None => prefix_of(&decoded)?,
            };
            *subject = Some(prefix.clone());
            let removed = gw.store.remove_block(&prefix).await.map_err(store_down)?;
            let pumping_cfg = &gw.cfg.limits.pumping;
            pumping::forgive(&*gw.store, pumping_cfg, &prefix, gw.clock.now_ms())
                .await
                .map_err(store_down)?;
            gw.metrics.prefix_unblocked(&prefix);
            if !removed {
                return Err(Refusal {
                    status: StatusCode::NOT_FOUND,
                    message: format!("no block on {prefix}"),
                    field: Some("prefix"),
                });
            }
            tracing::warn!(prefix, "admin API: prefix block lifted");
            Ok(Done {
                status: StatusCode::OK,
                body: json!({"prefix": prefix, "removed": true}),
            })
        }
        _ => Err(Refusal {
            status: StatusCode::NOT_FOUND,
            message: "no such API call (see docs/admin-api.md)".into(),
            field: None,
        }),
    }
}

/// Compares digests, so neither the token's bytes nor its length show in
/// the time a refusal takes.
fn bearer_matches<B>(req: &Request<B>, token: &str) -> bool {
    let Some(given) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
    else {
        return false;
    };
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(token.as_bytes());
    a.ct_eq(&b).into()
}

async fn json_body(req: Request<Incoming>) -> Result<Value, Refusal> {
    let bytes = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| Refusal {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: format!("the body is over {MAX_BODY} bytes or was cut off"),
            field: None,
        })?
        .to_bytes();
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| bad("(body)", format!("not JSON: {e}")))?;
    if !value.is_object() {
        return Err(bad("(body)", "must be a JSON object"));
    }
    Ok(value)
}

fn string_field<'a>(body: &'a Value, field: &'static str) -> Result<&'a str, Refusal> {
    match body.get(field) {
        None => Err(bad(field, "missing")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(bad(field, "must be a string")),
    }
}

/// A phone number in E.164 (`+` and 8 to 15 digits; spaces and dashes
/// are dropped): the form session cookies carry.
fn e164_field(body: &Value, field: &'static str) -> Result<String, Refusal> {
    let raw = string_field(body, field)?;
    let s: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = s.strip_prefix('+').unwrap_or("");
    if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            field,
            "must be a phone number in E.164 form, e.g. \"+919812345678\"",
        ));
    }
    Ok(s)
}

/// The block name `ja4:<JA4>` of a fingerprint block of the pumping
/// detector (pumping/fingerprint.rs), lifted like a prefix block. A JA4
/// is lowercase hex, digits and `_` (FoxIO JA4 spec); anything else is
/// named as a malformed `ja4:` form rather than read as a bad prefix.
fn fingerprint_block_of(ja4: &str) -> Result<String, Refusal> {
    let ok = (1..=64).contains(&ja4.len())
        && ja4
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(bad(
            "prefix",
            "a fingerprint block is `ja4:` and a JA4 of 1 to 64 lowercase letters, digits and `_`, e.g. \"ja4:t13d1516h2_8daaf6152771_02713d6af862\"",
        ));
    }
    Ok(format!("ja4:{ja4}"))
}

/// A number prefix: `+` and 1 to 15 digits.
fn prefix_of(raw: &str) -> Result<String, Refusal> {
    let digits = raw.strip_prefix('+').unwrap_or("");
    if !(1..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            "prefix",
            "must be `+` and 1 to 15 digits, e.g. \"+9198123\" (in a URL: %2B9198123)",
        ));
    }
    Ok(raw.to_string())
}

fn duration_field(body: &Value, field: &'static str) -> Result<Duration, Refusal> {
    let raw = string_field(body, field)?;
    let mut problems = crate::validation::Problems::default();
    let d = crate::validation::duration(&mut problems, field, Some(raw));
    let d = match (d, problems.0.pop()) {
        (Some(d), _) => d,
        (None, Some((_, message))) => return Err(bad(field, message)),
        (None, None) => return Err(bad(field, "must be a duration like \"24h\"")),
    };
    if d > MAX_BLOCK {
        return Err(bad(field, "must be at most 365d"));
    }
    Ok(d)
}

fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

fn reply(status: StatusCode, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Body::full(format!("{body}\n")))
        .expect("valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(auth: Option<&str>) -> Request<()> {
        let mut b = Request::builder();
        if let Some(a) = auth {
            b = b.header(AUTHORIZATION, a);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn only_the_exact_bearer_token_matches() {
        let t = "t".repeat(40);
        assert!(bearer_matches(&req(Some(&format!("Bearer {t}"))), &t));
        assert!(bearer_matches(&req(Some(&format!("bearer {t}"))), &t));
        assert!(!bearer_matches(&req(None), &t));
        assert!(!bearer_matches(&req(Some(&format!("Basic {t}"))), &t));
        assert!(!bearer_matches(&req(Some(&format!("Bearer {t}x"))), &t));
        assert!(!bearer_matches(
            &req(Some(&format!("Bearer {}", &t[1..]))),
            &t
        ));
        assert!(!bearer_matches(&req(Some("Bearer ")), &t));
    }

    #[test]
    fn prefixes_are_plus_and_digits() {
        assert!(prefix_of("+9198123").is_ok());
        for bad in [
            "9198123",
            "+",
            "+91 98",
            "+91a",
            "+1234567890123456",
            "++91",
        ] {
            assert!(prefix_of(bad).is_err(), "{bad}");
        }
    }
}
