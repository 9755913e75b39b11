//! The HTML side of the flow: pages, form posts, cookies, CSRF.

use cookie::SameSite;
use http::header::{CONTENT_TYPE, RETRY_AFTER, SET_COOKIE};
use http::{HeaderMap, Request, Response, StatusCode};
use hyper::body::Incoming;
use subtle::ConstantTimeEq;

use super::core::{self, FlowError, Pending};
use super::{own_response, safe_rd, see_other, Form};
use crate::audit;
use crate::body::Body;
use crate::errors::GatewayError;
use crate::gateway::{ConnInfo, Gateway};
use crate::headers;
use crate::pages::{Alert, LoginView, VerifyView};
use crate::session::{clear_cookie, random_id, set_cookie};

/// The form token: HMAC of the browser's CSRF cookie, so a page from
/// another site can neither read nor forge it.
fn csrf_for(gw: &Gateway, cookie_token: &str) -> String {
    hex::encode(&crate::otp::derive_key(&gw.csrf_key, cookie_token)[..16])
}

/// The browser's CSRF cookie, or a new one to set.
fn csrf_cookie(gw: &Gateway, headers: &HeaderMap) -> (String, Option<String>) {
    match headers::cookie(headers, &gw.cookies.csrf_name)
        .filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        Some(t) => (t.to_string(), None),
        None => {
            let t = random_id();
            let c = set_cookie(
                &gw.cookies.csrf_name,
                &t,
                gw.cfg.session.ttl.as_secs(),
                SameSite::Strict,
            );
            (t, Some(c))
        }
    }
}

pub fn csrf_valid(gw: &Gateway, headers: &HeaderMap, form_token: Option<&str>) -> bool {
    let (Some(cookie), Some(token)) = (headers::cookie(headers, &gw.cookies.csrf_name), form_token)
    else {
        return false;
    };
    bool::from(csrf_for(gw, cookie).as_bytes().ct_eq(token.as_bytes()))
}

/// A form post whose CSRF token matches this browser's cookie.
async fn checked_form(
    gw: &Gateway,
    req: Request<Incoming>,
) -> Result<(http::request::Parts, Form), GatewayError> {
    let (parts, form) = Form::read(req).await?;
    if !csrf_valid(gw, &parts.headers, form.get("csrf")) {
        return Err(GatewayError::Csrf);
    }
    Ok((parts, form))
}

pub fn pending_of(gw: &Gateway, headers: &HeaderMap) -> Option<Pending> {
    let sealed = headers::cookie(headers, &gw.cookies.pending_name)?;
    Pending::decode(&gw.cookies.open(&gw.cookies.pending_name, sealed)?)
}

fn html(
    gw: &Gateway,
    status: StatusCode,
    body: String,
    cookies: &[String],
    retry_after: Option<u64>,
) -> Response<Body> {
    let mut b = own_response(status)
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .header("content-security-policy", gw.pages.csp.clone());
    for c in cookies {
        b = b.header(SET_COOKIE, c);
    }
    if let Some(s) = retry_after {
        b = b.header(RETRY_AFTER, s.max(1));
    }
    b.body(Body::full(body)).expect("valid response")
}

fn query_param(req: &Request<Incoming>, name: &str) -> Option<String> {
    form_urlencoded::parse(req.uri().query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
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
async fn pending_for_registered(gw: &Gateway, headers: &HeaderMap) -> bool {
    let Some(pending) = pending_of(gw, headers) else {
        return false;
    };
    let now = gw.clock.now_ms();
    let Ok(Some(ch)) = gw.store.challenge(&pending.challenge_id, now).await else {
        return false;
    };
    match core::number_to_text(gw, headers, "").await {
        Ok(n) => crate::phone::Phone::parse(&n, &gw.cfg.phone).is_ok_and(|p| p.e164() == ch.phone),
        Err(_) => false,
    }
}

pub async fn login_page(
    gw: &Gateway,
    req: &Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    let rd = safe_rd(query_param(req, "rd").as_deref());
    let (token, set) = csrf_cookie(gw, req.headers());
    let lang = gw.pages.choose_language(req.headers(), req.uri().query());
    if gw.lookup.is_some() {
        // Registered-number mode: nothing to type; the code goes at once
        // to the number the storefront has for this customer — but only
        // when the shopper navigated here themselves. Otherwise any site
        // could text them with an `<img>` or a link (issue 8, defect 6).
        if sends_at_once(req) {
            if pending_for_registered(gw, req.headers()).await {
                // A reload is not a new request for a code: the code page
                // offers a resend once `resend_after` has passed.
                return Ok(see_other("/.otpgate/verify", &[]));
            }
            return Ok(start_challenge(gw, req.headers(), conn, "", rd).await);
        }
        let page = gw
            .pages
            .send_registered(&lang.lang, &csrf_for(gw, &token), &rd);
        return Ok(html(gw, StatusCode::OK, page, set.as_slice(), None));
    }
    let page = gw.pages.login(&LoginView {
        region: &gw.region_code,
        csrf: &csrf_for(gw, &token),
        rd: &rd,
        phone: "",
        error: None,
        lang: &lang.lang,
        ..Default::default()
    });
    let cookies: Vec<String> = set.into_iter().chain(lang.set_cookie).collect();
    Ok(html(gw, StatusCode::OK, page, &cookies, None))
}

pub async fn send(
    gw: &Gateway,
    req: Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    let (parts, form) = checked_form(gw, req).await?;
    let rd = safe_rd(form.get("rd"));
    let typed = form.get("phone").unwrap_or("");
    Ok(start_challenge(gw, &parts.headers, conn, typed, rd).await)
}

/// Texts a code and sends the browser to the code page, or explains why not.
async fn start_challenge(
    gw: &Gateway,
    headers: &HeaderMap,
    conn: ConnInfo,
    typed: &str,
    rd: String,
) -> Response<Body> {
    let client_ip = gw.client_ip(headers, conn);
    let started = match core::number_to_text(gw, headers, typed).await {
        Ok(number) => core::start(gw, &number, conn, client_ip).await,
        Err(e) => Err(e),
    };
    let e = match started {
        Ok((challenge_id, _)) => {
            let pending = gw.cookies.seal(
                &gw.cookies.pending_name,
                &Pending { challenge_id, rd }.encode(),
            );
            let c = set_cookie(
                &gw.cookies.pending_name,
                &pending,
                gw.cfg.otp.ttl.as_secs(),
                SameSite::Strict,
            );
            return see_other("/.otpgate/verify", &[c]);
        }
        Err(e) => e,
    };
    let retry_after = e.retry_after().map(|d| d.as_secs());
    let msg = e.to_string();
    if gw.lookup.is_some() {
        // No phone form to show again in registered-number mode.
        let mut resp = own_response(e.status())
            .header(CONTENT_TYPE, "text/html; charset=utf-8")
            .header("content-security-policy", crate::pages::ERROR_CSP.clone())
            .body(Body::full(crate::pages::error_page(e.status(), &msg)))
            .expect("valid response");
        if let Some(s) = retry_after {
            resp.headers_mut().insert(RETRY_AFTER, s.max(1).into());
        }
        return resp;
    }
    let (token, set) = csrf_cookie(gw, headers);
    let lang = gw.pages.choose_language(headers, None);
    let page = gw.pages.login(&LoginView {
        region: &gw.region_code,
        csrf: &csrf_for(gw, &token),
        rd: &rd,
        phone: typed,
        error: Some(&msg),
        alert: Some(alert_of(&e)),
        lang: &lang.lang,
    });
    html(gw, e.status(), page, set.as_slice(), retry_after)
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
    gw: &Gateway,
    headers: &HeaderMap,
    pending: &Pending,
    err: Option<&FlowError>,
    notice: Option<&str>,
) -> Response<Body> {
    render_verify_in(gw, headers, None, pending, err, notice).await
}

/// `query` carries the language switch's `?lang=` on a GET.
async fn render_verify_in(
    gw: &Gateway,
    headers: &HeaderMap,
    query: Option<&str>,
    pending: &Pending,
    err: Option<&FlowError>,
    notice: Option<&str>,
) -> Response<Body> {
    let now = gw.clock.now_ms();
    let Ok(Some(ch)) = gw.store.challenge(&pending.challenge_id, now).await else {
        // Expired or used up: start again, keeping where they were going.
        let rd: String = form_urlencoded::byte_serialize(pending.rd.as_bytes()).collect();
        return see_other(
            &format!("/.otpgate/login?rd={rd}"),
            &[clear_cookie(&gw.cookies.pending_name)],
        );
    };
    let (token, set) = csrf_cookie(gw, headers);
    let wait = (ch.sent_at + gw.cfg.otp.resend_after.as_millis() as u64)
        .saturating_sub(now)
        .div_ceil(1000);
    let msg = err.map(|e| match e {
        FlowError::WrongCode { remaining } => format!(
            "{e} {remaining} {} left.",
            if *remaining == 1 { "try" } else { "tries" }
        ),
        e => e.to_string(),
    });
    let lang = gw.pages.choose_language(headers, query);
    let page = gw.pages.verify(&VerifyView {
        csrf: &csrf_for(gw, &token),
        rd: &pending.rd,
        masked_phone: &crate::phone::mask(&ch.phone),
        code_length: gw.cfg.otp.length,
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
        gw,
        status,
        page,
        &cookies,
        err.and_then(FlowError::retry_after).map(|d| d.as_secs()),
    )
}

pub async fn verify_page(
    gw: &Gateway,
    req: &Request<Incoming>,
) -> Result<Response<Body>, GatewayError> {
    match pending_of(gw, req.headers()) {
        Some(p) => Ok(render_verify_in(gw, req.headers(), req.uri().query(), &p, None, None).await),
        None => Ok(see_other("/.otpgate/login", &[])),
    }
}

pub async fn verify(
    gw: &Gateway,
    req: Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    let (parts, form) = checked_form(gw, req).await?;
    let Some(pending) = pending_of(gw, &parts.headers) else {
        return Ok(see_other("/.otpgate/login", &[]));
    };
    let client_ip = gw.client_ip(&parts.headers, conn);
    match core::check(
        gw,
        &pending.challenge_id,
        form.get("code").unwrap_or(""),
        conn,
        client_ip,
    )
    .await
    {
        Ok(session) => {
            let now = gw.clock.now_secs();
            let cookies = [
                gw.cookies.session_cookie(&session, now),
                clear_cookie(&gw.cookies.pending_name),
            ];
            audit::session_issued(&session, conn);
            Ok(see_other(&pending.rd, &cookies))
        }
        Err(e @ (FlowError::Exhausted | FlowError::NoChallenge)) => {
            let (token, set) = csrf_cookie(gw, &parts.headers);
            let msg = e.to_string();
            let lang = gw.pages.choose_language(&parts.headers, None);
            let page = gw.pages.login(&LoginView {
                region: &gw.region_code,
                csrf: &csrf_for(gw, &token),
                rd: &pending.rd,
                phone: "",
                error: Some(&msg),
                alert: Some(alert_of(&e)),
                lang: &lang.lang,
            });
            let mut cookies = vec![clear_cookie(&gw.cookies.pending_name)];
            cookies.extend(set);
            Ok(html(gw, e.status(), page, &cookies, None))
        }
        Err(e) => Ok(render_verify(gw, &parts.headers, &pending, Some(&e), None).await),
    }
}

pub async fn resend(
    gw: &Gateway,
    req: Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    let (parts, _) = checked_form(gw, req).await?;
    let Some(pending) = pending_of(gw, &parts.headers) else {
        return Ok(see_other("/.otpgate/login", &[]));
    };
    let client_ip = gw.client_ip(&parts.headers, conn);
    match core::resend(gw, &pending.challenge_id, conn, client_ip).await {
        Ok(_) => Ok(render_verify(
            gw,
            &parts.headers,
            &pending,
            None,
            Some("We sent you a new code. Earlier codes no longer work."),
        )
        .await),
        Err(e) => Ok(render_verify(gw, &parts.headers, &pending, Some(&e), None).await),
    }
}

pub async fn logout(
    gw: &Gateway,
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
    if !same_origin && !csrf_valid(gw, &parts.headers, form.get("csrf")) {
        return Err(GatewayError::Csrf);
    }
    if let Some(session) = gw.session_of(&parts.headers).await {
        let until = session.expires_at.saturating_mul(1000);
        gw.store
            .revoke(&session.id, until)
            .await
            .map_err(|_| GatewayError::Internal)?;
        audit::logout(&session, conn);
    }
    let rd = safe_rd(form.get("rd"));
    Ok(see_other(
        &rd,
        &[
            clear_cookie(&gw.cookies.session_name),
            clear_cookie(&gw.cookies.pending_name),
        ],
    ))
}
