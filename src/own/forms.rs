//! The HTML side of the flow: pages, form posts, cookies, CSRF.

use cookie::SameSite;
use http::{HeaderMap, Request, Response, StatusCode};
use hyper::body::Incoming;
use subtle::ConstantTimeEq;

use super::held;
use super::input::{query_param, Form};
use super::pending::Pending;
use super::reply::{self, see_other};
use super::state::Own;
use crate::audit;
use crate::body::Body;
use crate::conn::ConnInfo;
use crate::errors::GatewayError;
use crate::flow::{self, FlowError};
use crate::headers;
use crate::pages::{Alert, LoginView, VerifyView};
use crate::redirect::{login_url, safe_rd, LOGIN};
use crate::session::{clear_cookie, random_id, set_cookie};

/// The form token: HMAC of the browser's CSRF cookie, so a page from
/// another site can neither read nor forge it.
fn csrf_for(own: &Own, cookie_token: &str) -> String {
    hex::encode(&crate::otp::derive_key(&own.csrf_key, cookie_token)[..16])
}

/// The browser's CSRF cookie, or a new one to set.
fn csrf_cookie(own: &Own, headers: &HeaderMap) -> (String, Option<String>) {
    match headers::cookie(headers, &own.cookies.csrf_name)
        .filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        Some(t) => (t.to_string(), None),
        None => {
            let t = random_id();
            let c = set_cookie(
                &own.cookies.csrf_name,
                &t,
                own.flow.cfg.session_ttl.as_secs(),
                SameSite::Strict,
            );
            (t, Some(c))
        }
    }
}

pub fn csrf_valid(own: &Own, headers: &HeaderMap, form_token: Option<&str>) -> bool {
    let (Some(cookie), Some(token)) =
        (headers::cookie(headers, &own.cookies.csrf_name), form_token)
    else {
        return false;
    };
    bool::from(csrf_for(own, cookie).as_bytes().ct_eq(token.as_bytes()))
}

/// A form post whose CSRF token matches this browser's cookie.
async fn checked_form(
    own: &Own,
    req: Request<Incoming>,
) -> Result<(http::request::Parts, Form), GatewayError> {
    let (parts, form) = Form::read(req).await?;
    if !csrf_valid(own, &parts.headers, form.get("csrf")) {
        return Err(GatewayError::Csrf);
    }
    Ok((parts, form))
}

fn html(
    own: &Own,
    status: StatusCode,
    body: String,
    cookies: &[String],
    retry_after: Option<u64>,
) -> Response<Body> {
    reply::html(status, own.pages.csp.clone(), body, cookies, retry_after)
}

/// A same-origin (or typed, bookmarked: `none`) top-level navigation, by
/// the browser's fetch metadata, which no page can forge (W3C Fetch
/// Metadata; a redirect chain through another site makes it `cross-site`).
/// `HEAD`, subresources, cross-site requests and browsers that send no
/// `Sec-Fetch-*` at all get the button instead: the safe default.
fn sends_at_once(req: &Request<Incoming>) -> bool {
    let h = req.headers();
    let is = |name: &str, allowed: &[&str]| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| allowed.iter().any(|a| v.eq_ignore_ascii_case(a)))
    };
    req.method() == http::Method::GET
        && is("sec-fetch-site", &["same-origin", "none"])
        && is("sec-fetch-mode", &["navigate"])
        && (h.get("sec-fetch-dest").is_none() || is("sec-fetch-dest", &["document"]))
}

/// This browser already has a live challenge for the number the storefront
/// names now (not for an account it was signed in to before).
async fn pending_for_registered(own: &Own, headers: &HeaderMap) -> bool {
    let Some(pending) = Pending::of(&own.cookies, headers) else {
        return false;
    };
    let now = own.flow.clock.now_ms();
    let Ok(Some(ch)) = own.flow.store.challenge(&pending.challenge_id, now).await else {
        return false;
    };
    match own.number_to_text(headers, "").await {
        Ok(n) => {
            crate::phone::Phone::parse(&n, &own.flow.cfg.phone).is_ok_and(|p| p.e164() == ch.phone)
        }
        Err(_) => false,
    }
}

pub async fn login_page(
    own: &Own,
    req: &Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    let rd = safe_rd(query_param(req, "rd").as_deref());
    let (token, set) = csrf_cookie(own, req.headers());
    let lang = own.pages.choose_language(req.headers(), req.uri().query());
    if own.lookup.is_some() {
        // Registered-number mode: nothing to type; the code goes at once
        // to the number the storefront has for this customer — but only
        // when the shopper navigated here themselves. Otherwise any site
        // could text them with an `<img>` or a link (issue 8, defect 6).
        if sends_at_once(req) {
            if pending_for_registered(own, req.headers()).await {
                // A reload is not a new request for a code: the code page
                // offers a resend once `resend_after` has passed.
                return Ok(see_other("/.otpgate/verify", &[]));
            }
            return Ok(start_challenge(own, req.headers(), conn, "", rd).await);
        }
        let page = own
            .pages
            .send_registered(&lang.lang, &csrf_for(own, &token), &rd);
        return Ok(html(own, StatusCode::OK, page, set.as_slice(), None));
    }
    let page = own.pages.login(&LoginView {
        region: &own.region_code,
        csrf: &csrf_for(own, &token),
        rd: &rd,
        phone: "",
        error: None,
        lang: &lang.lang,
        ..Default::default()
    });
    let cookies: Vec<String> = set.into_iter().chain(lang.set_cookie).collect();
    Ok(html(own, StatusCode::OK, page, &cookies, None))
}

pub async fn send(
    own: &Own,
    req: Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    let (parts, form) = checked_form(own, req).await?;
    let rd = safe_rd(form.get("rd"));
    let typed = form.get("phone").unwrap_or("");
    Ok(start_challenge(own, &parts.headers, conn, typed, rd).await)
}

/// Texts a code and sends the browser to the code page, or explains why not.
async fn start_challenge(
    own: &Own,
    headers: &HeaderMap,
    conn: ConnInfo,
    typed: &str,
    rd: String,
) -> Response<Body> {
    let client_ip = own.trusted.client_ip(headers, conn);
    let started = match own.number_to_text(headers, typed).await {
        Ok(number) => flow::start(&own.flow, &number, conn, client_ip).await,
        Err(e) => Err(e),
    };
    let e = match started {
        Ok((challenge_id, _)) => {
            let before = Pending::of(&own.cookies, headers);
            let held = held::attach(own, before.as_ref(), &challenge_id, conn).await;
            let pending = Pending {
                challenge_id,
                held,
                rd,
            };
            let c = pending.cookie(&own.cookies, own.flow.cfg.otp.ttl.as_secs());
            return see_other("/.otpgate/verify", &[c]);
        }
        Err(e) => e,
    };
    let retry_after = e.retry_after().map(|d| d.as_secs());
    let msg = e.to_string();
    if own.lookup.is_some() {
        // No phone form to show again in registered-number mode.
        let page = crate::pages::error_page(e.status(), &msg);
        return reply::html(
            e.status(),
            crate::pages::ERROR_CSP.clone(),
            page,
            &[],
            retry_after,
        );
    }
    let (token, set) = csrf_cookie(own, headers);
    let lang = own.pages.choose_language(headers, None);
    let page = own.pages.login(&LoginView {
        region: &own.region_code,
        csrf: &csrf_for(own, &token),
        rd: &rd,
        phone: typed,
        error: Some(&msg),
        alert: Some(alert_of(&e)),
        lang: &lang.lang,
    });
    html(own, e.status(), page, set.as_slice(), retry_after)
}

/// A flow error as the pages announce it, in the shopper's language.
fn alert_of(e: &FlowError) -> Alert<'static> {
    Alert {
        code: e.code(),
        retry_after_secs: e.retry_after().map(|d| d.as_secs()),
        remaining: match e {
            FlowError::WrongCode { remaining } => Some(*remaining),
            _ => None,
        },
    }
}

async fn render_verify(
    own: &Own,
    headers: &HeaderMap,
    pending: &Pending,
    err: Option<&FlowError>,
    notice: Option<&str>,
) -> Response<Body> {
    render_verify_in(own, headers, None, pending, err, notice).await
}

/// `query` carries the language switch's `?lang=` on a GET.
async fn render_verify_in(
    own: &Own,
    headers: &HeaderMap,
    query: Option<&str>,
    pending: &Pending,
    err: Option<&FlowError>,
    notice: Option<&str>,
) -> Response<Body> {
    let now = own.flow.clock.now_ms();
    let Ok(Some(ch)) = own.flow.store.challenge(&pending.challenge_id, now).await else {
        // Expired or used up: start again, keeping where they were going.
        return see_other(
            &login_url(&pending.rd),
            &[clear_cookie(&own.cookies.pending_name)],
        );
    };
    let (token, set) = csrf_cookie(own, headers);
    let wait = (ch.sent_at + own.flow.cfg.otp.resend_after.as_millis() as u64)
        .saturating_sub(now)
        .div_ceil(1000);
    let msg = err.map(|e| match e {
        FlowError::WrongCode { remaining } => format!(
            "{e} {remaining} {} left.",
            if *remaining == 1 { "try" } else { "tries" }
        ),
        e => e.to_string(),
    });
    let lang = own.pages.choose_language(headers, query);
    let page = own.pages.verify(&VerifyView {
        csrf: &csrf_for(own, &token),
        rd: &pending.rd,
        masked_phone: &crate::phone::mask(&ch.phone),
        code_length: own.flow.cfg.otp.length,
        resend_in_secs: wait,
        error: msg.as_deref(),
        alert: err.map(alert_of),
        notice,
        notice_key: notice.map(|_| "new_code_sent"),
        lang: &lang.lang,
    });
    let status = err.map_or(StatusCode::OK, FlowError::status);
    let cookies: Vec<String> = set.into_iter().chain(lang.set_cookie).collect();
    html(
        own,
        status,
        page,
        &cookies,
        err.and_then(FlowError::retry_after).map(|d| d.as_secs()),
    )
}

pub async fn verify_page(
    own: &Own,
    req: &Request<Incoming>,
) -> Result<Response<Body>, GatewayError> {
    match Pending::of(&own.cookies, req.headers()) {
        Some(p) => {
            Ok(render_verify_in(own, req.headers(), req.uri().query(), &p, None, None).await)
        }
        None => Ok(see_other(LOGIN, &[])),
    }
}

pub async fn verify(
    own: &Own,
    req: Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    let (parts, form) = checked_form(own, req).await?;
    let Some(pending) = Pending::of(&own.cookies, &parts.headers) else {
        return Ok(see_other(LOGIN, &[]));
    };
    let client_ip = own.trusted.client_ip(&parts.headers, conn);
    match flow::check(
        &own.flow,
        &pending.challenge_id,
        form.get("code").unwrap_or(""),
        conn,
        client_ip,
    )
    .await
    {
        Ok(session) => {
            let now = own.flow.clock.now_secs();
            let cookies = [
                own.cookies.session_cookie(&session, now),
                clear_cookie(&own.cookies.pending_name),
            ];
            audit::session_issued(&session, conn);
            let mut resp = see_other(&pending.rd, &cookies);
            // The gateway sends the held request and answers with the
            // storefront's answer instead, these cookies added.
            if let Some(r) = held::claim(own, &pending, &parts, &session, conn).await {
                resp.extensions_mut().insert(r);
            }
            Ok(resp)
        }
        Err(e @ (FlowError::Exhausted | FlowError::NoChallenge)) => {
            let (token, set) = csrf_cookie(own, &parts.headers);
            let msg = e.to_string();
            let lang = own.pages.choose_language(&parts.headers, None);
            let page = own.pages.login(&LoginView {
                region: &own.region_code,
                csrf: &csrf_for(own, &token),
                rd: &pending.rd,
                phone: "",
                error: Some(&msg),
                alert: Some(alert_of(&e)),
                lang: &lang.lang,
            });
            let mut cookies = vec![clear_cookie(&own.cookies.pending_name)];
            cookies.extend(set);
            Ok(html(own, e.status(), page, &cookies, None))
        }
        Err(e) => Ok(render_verify(own, &parts.headers, &pending, Some(&e), None).await),
    }
}

pub async fn resend(
    own: &Own,
    req: Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    let (parts, _) = checked_form(own, req).await?;
    let Some(pending) = Pending::of(&own.cookies, &parts.headers) else {
        return Ok(see_other(LOGIN, &[]));
    };
    let client_ip = own.trusted.client_ip(&parts.headers, conn);
    match flow::resend(&own.flow, &pending.challenge_id, conn, client_ip).await {
        Ok(_) => Ok({
            held::extend(own, &pending).await;
            render_verify(
                own,
                &parts.headers,
                &pending,
                None,
                Some("We sent you a new code. Earlier codes no longer work."),
            )
            .await
        }),
        Err(e) => Ok(render_verify(own, &parts.headers, &pending, Some(&e), None).await),
    }
}

pub async fn logout(
    own: &Own,
    req: Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    // A storefront's own "Log out" button has no CSRF token to send, so a
    // same-origin post (the browser's `Sec-Fetch-Site`, which no page can
    // forge) is accepted too. A cross-site post still needs the token.
    let (parts, form) = Form::read(req).await?;
    let same_origin = parts
        .headers
        .get("sec-fetch-site")
        .is_some_and(|v| v == "same-origin");
    if !same_origin && !csrf_valid(own, &parts.headers, form.get("csrf")) {
        return Err(GatewayError::Csrf);
    }
    if let Some(session) = own.sessions.of(&parts.headers).await {
        let until = session.expires_at.saturating_mul(1000);
        own.flow
            .store
            .revoke(&session.id, until)
            .await
            .map_err(|_| GatewayError::Internal)?;
        audit::logout(&session, conn);
    }
    let rd = safe_rd(form.get("rd"));
    Ok(see_other(
        &rd,
        &[
            clear_cookie(&own.cookies.session_name),
            clear_cookie(&own.cookies.pending_name),
        ],
    ))
}
