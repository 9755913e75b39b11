//! The flow as JSON for single-page and mobile storefronts (docs/api.md).
//! Cross-site forgery is stopped by requiring `Content-Type:
//! application/json` (which a cross-origin page cannot send without a CORS
//! preflight that otpgate never grants) and by `Sec-Fetch-Site`.

use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::confirm::confirming;
use super::held;
use super::input::read_json;
use super::pending::Pending;
use super::reply::json as reply;
use super::state::Own;
use crate::audit;
use crate::body::Body;
use crate::conn::ConnInfo;
use crate::errors::GatewayError;
use crate::flow::{self, FlowError};
use crate::redirect::{safe_rd, LOGIN};
use crate::session::clear_cookie;

fn flow_error(e: &FlowError) -> Response<Body> {
    let mut body = json!({ "error": e.code(), "message": e.to_string() });
    if let FlowError::WrongCode { remaining } = e {
        body["remaining"] = (*remaining).into();
    }
    let mut resp = reply(e.status(), body.clone(), &[]);
    if let Some(d) = e.retry_after() {
        let secs = d.as_secs().max(1);
        body["retry_after"] = secs.into();
        resp = reply(e.status(), body, &[]);
        resp.headers_mut().insert(RETRY_AFTER, secs.into());
    }
    resp
}

/// Only same-origin JSON posts are accepted.
fn same_origin_json(headers: &HeaderMap) -> Result<(), GatewayError> {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    let site_ok = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|s| matches!(s, "same-origin" | "none"));
    if json && site_ok {
        Ok(())
    } else {
        Err(GatewayError::Csrf)
    }
}

pub async fn send(
    own: &Own,
    req: Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    same_origin_json(req.headers())?;
    let (parts, v) = read_json(req).await?;
    let typed = v.get("phone").and_then(Value::as_str).unwrap_or("");
    let rd = safe_rd(v.get("rd").and_then(Value::as_str));
    // The SMS in the shopper's language: `lang`, else as the pages choose.
    let lang = own
        .pages
        .language_of(&parts.headers, v.get("lang").and_then(Value::as_str));
    let number = match own.number_to_text(&parts.headers, typed).await {
        Ok(n) => n,
        Err(e) => return Ok(flow_error(&e)),
    };
    if let Some(pending) = Pending::young_for(own, &parts.headers, &number).await {
        // The resend delay holds for a new send to the same number from
        // the same browser too: the code already texted still works.
        let held = held::attach(own, Some(&pending), conn).await;
        return Ok(sent(
            own,
            &Pending {
                rd,
                held,
                ..pending
            },
            false,
        )
        .await);
    }
    match held::start(own, &parts.headers, &number, &lang, conn, rd).await {
        Ok(pending) => Ok(sent(own, &pending, true).await),
        Err(e) => Ok(flow_error(&e)),
    }
}

/// `"sent"`, with the times left of the browser's challenge; `new_code`
/// says whether this request texted one.
async fn sent(own: &Own, pending: &Pending, new_code: bool) -> Response<Body> {
    let now = own.flow.clock.now_ms();
    let Ok(Some(ch)) = own.flow.store.challenge(&pending.challenge_id, now).await else {
        return flow_error(&FlowError::NoChallenge);
    };
    let secs = |ms: u64| ms.saturating_sub(now).div_ceil(1000);
    let otp = &own.flow.cfg.otp;
    let mut body = json!({
        "status": "sent",
        "new_code": new_code,
        "phone": crate::phone::mask(&ch.phone),
        "code_length": otp.length,
        "expires_in": secs(ch.expires_at),
        "resend_after": secs(ch.sent_at + otp.resend_after.as_millis() as u64),
    });
    // The other ways to get this code, once they may be asked for.
    let offer = flow::offer(&own.flow, &pending.challenge_id, &ch).await;
    let channels: Vec<&str> = offer.channels.iter().map(|c| c.as_str()).collect();
    body["channels"] = json!(channels);
    body["delivery_failed"] = json!(offer.delivery_failed);
    let confirm = confirming(own, Some(pending)).await;
    with_amount(own, &mut body, confirm.as_ref());
    let c = pending.cookie(&own.cookies, otp.ttl.as_secs());
    reply(StatusCode::OK, body, &[c])
}

/// `POST /.otpgate/api/resend` `{"channel": "whatsapp"}`: the same code by
/// another channel (or, without `channel`, a new code), as the form does.
pub async fn resend(
    own: &Own,
    req: Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    same_origin_json(req.headers())?;
    let (parts, v) = read_json(req).await?;
    let Some(pending) = Pending::of(&own.cookies, &parts.headers) else {
        return Ok(flow_error(&FlowError::NoChallenge));
    };
    let channel = match v.get("channel").and_then(Value::as_str) {
        None => None,
        Some(name) => match crate::sms::Channel::parse(name) {
            Some(c) => Some(c),
            None => return Ok(flow_error(&FlowError::ChannelUnavailable)),
        },
    };
    let lang = own
        .pages
        .language_of(&parts.headers, v.get("lang").and_then(Value::as_str));
    let client_ip = own.trusted.client_ip(&parts.headers, conn);
    let confirm = confirming(own, Some(&pending)).await;
    let id = &pending.challenge_id;
    let who = (conn, client_ip);
    match flow::resend(&own.flow, id, &lang, who, confirm.as_ref(), channel).await {
        Ok(_) => {
            held::extend(own, &pending).await;
            Ok(sent(own, &pending, channel.is_none()).await)
        }
        Err(e) => Ok(flow_error(&e)),
    }
}

pub async fn verify(
    own: &Own,
    req: Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    same_origin_json(req.headers())?;
    let (parts, v) = read_json(req).await?;
    let Some(pending) = Pending::of(&own.cookies, &parts.headers) else {
        return Ok(flow_error(&FlowError::NoChallenge));
    };
    let code = v.get("code").and_then(Value::as_str).unwrap_or("");
    let client_ip = own.trusted.client_ip(&parts.headers, conn);
    let confirm = confirming(own, Some(&pending)).await;
    let binding = confirm.as_ref().map(|c| &c.digest);
    match flow::check(
        &own.flow,
        &pending.challenge_id,
        code,
        conn,
        client_ip,
        binding,
    )
    .await
    {
        Ok(s) => {
            let now = own.flow.clock.now_secs();
            let cookies = [
                own.cookies.session_cookie(&s, now),
                clear_cookie(&own.cookies.pending_name),
            ];
            audit::session_issued(&s, conn);
            let mut body = json!({
                "status": "verified",
                "phone": s.phone,
                "verified_at": s.verified_at,
                "expires_at": s.expires_at,
                "redirect": pending.rd,
            });
            with_amount(own, &mut body, confirm.as_ref());
            let mut resp = reply(StatusCode::OK, body, &cookies);
            // A held request: the gateway answers with the storefront's
            // answer to it instead, these cookies added (docs/api.md).
            if let Some(r) = held::claim(own, &pending, &parts, &s, conn, confirm.as_ref()).await {
                resp.extensions_mut().insert(r);
            }
            Ok(resp)
        }
        Err(e) => Ok(flow_error(&e)),
    }
}

/// A transaction's answers say what the code confirms (docs/api.md).
fn with_amount(own: &Own, body: &mut Value, confirm: Option<&crate::otp::Confirm>) {
    if let Some(amount) = confirm.and_then(|c| c.amount.as_deref()) {
        body["amount"] = amount.into();
        body["payee"] = own.flow.cfg.brand_name.as_str().into();
    }
}

pub async fn session(own: &Own, req: &Request<Incoming>) -> Result<Response<Body>, GatewayError> {
    Ok(match own.sessions.of(req.headers()).await {
        Some(s) => reply(
            StatusCode::OK,
            json!({ "authenticated": true, "phone": s.phone, "verified_at": s.verified_at, "expires_at": s.expires_at }),
            &[],
        ),
        None => reply(
            StatusCode::UNAUTHORIZED,
            json!({ "authenticated": false, "error": "otp_required", "login_url": LOGIN }),
            &[],
        ),
    })
}
