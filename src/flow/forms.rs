//! The HTML side of the flow: pages, form posts, cookies, CSRF.

use cookie::SameSite;
use http::header::{CONTENT_TYPE, RETRY_AFTER, SET_COOKIE};
use http::{HeaderMap, Request, Response, StatusCode};
use hyper::body::Incoming;
use subtle::ConstantTimeEq;

use super::core::{self, FlowError, Pending};
use super::flash::Flash;
use super::{own_response, safe_rd, see_other, Form};
use crate::body::Body;
use crate::errors::GatewayError;
use crate::gateway::{ConnInfo, Gateway};
use crate::headers;
use crate::pages::{LoginView, VerifyView};
use crate::phone::Phone;
use crate::session::{clear_cookie, random_id, set_cookie};

pub(super) const VERIFY: &str = "/.otpgate/verify";

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

pub(super) fn html(
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

pub(super) fn query_param(req: &Request<Incoming>, name: &str) -> Option<String> {
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
        Ok(n) => Phone::parse(&n, &gw.cfg.phone).is_ok_and(|p| p.e164() == ch.phone),
        Err(_) => false,
    }
}

/// The phone page, keeping where the shopper was going.
pub(super) fn login_with(rd: &str) -> String {
    let rd: String = form_urlencoded::byte_serialize(rd.as_bytes()).collect();
    format!("/.otpgate/login?rd={rd}")
}

/// This browser holds a session fresh enough for `rd` (the check
/// `gateway::handle` makes there), so the phone page has nothing to ask.
async fn verified_for(gw: &Gateway, headers: &HeaderMap, rd: &str) -> bool {
    let Some(session) = gw.session_of(headers).await else {
        return false;
    };
    let path = rd.split_once('?').map_or(rd, |(p, _)| p);
    let Ok(path) = crate::normalize::normalize_path(path) else {
        return false;
    };
    let age = gw.clock.now_secs().saturating_sub(session.verified_at);
    gw.policy()
        .rule_for(&http::Method::GET, path.match_key())
        .is_none_or(|rule| age <= rule.max_age.as_secs())
}

/// `Set-Cookie` for the browser's pending challenge, living as its code.
fn pending_cookie(gw: &Gateway, pending: &Pending) -> String {
    let sealed = gw.cookies.seal(&gw.cookies.pending_name, &pending.encode());
    set_cookie(
        &gw.cookies.pending_name,
        &sealed,
        gw.cfg.otp.ttl.as_secs(),
        SameSite::Strict,
    )
}

/// A refusal: `303` to the page that says it (post/redirect/get).
fn refused_to(gw: &Gateway, location: &str, flash: Flash, cookies: &[String]) -> Response<Body> {
    let mut cookies = cookies.to_vec();
    cookies.push(flash.cookie(&gw.cookies));
    see_other(location, &cookies)
}

/// The number as the shopper types it beside the shown dial code.
fn as_typed(gw: &Gateway, e164: &str) -> String {
    match phonenumber::parse(None, e164) {
        Ok(n) if n.country().id() == Some(gw.cfg.phone.default_region) => {
            n.national().value().to_string()
        }
        _ => e164.to_string(),
    }
}

/// The browser's challenge for this same number, if it is younger than
/// `otp.resend_after`: the resend delay holds for any new code to the
/// number in this browser, not only for the resend button, so going back
/// to the phone page and sending again texts nothing new (issue 11).
pub async fn young_pending(gw: &Gateway, headers: &HeaderMap, number: &str) -> Option<Pending> {
    let pending = pending_of(gw, headers).filter(|p| !p.challenge_id.is_empty())?;
    let now = gw.clock.now_ms();
    let ch = gw
        .store
        .challenge(&pending.challenge_id, now)
        .await
        .ok()??;
    let phone = Phone::parse(number, &gw.cfg.phone).ok()?;
    let ready_at = ch.sent_at + gw.cfg.otp.resend_after.as_millis() as u64;
    (phone.e164() == ch.phone && now < ready_at).then_some(pending)
}

pub async fn login_page(
    gw: &Gateway,
    req: &Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    let asked_rd = query_param(req, "rd");
    let rd = safe_rd(asked_rd.as_deref());
    let (flash, clear) = Flash::take(&gw.cookies, req.headers());
    if asked_rd.is_some() && flash.is_none() && verified_for(gw, req.headers(), &rd).await {
        // Back from the shop after a clean verify lands on this page:
        // there is nothing to ask, so go on to where they were going. (A
        // plain `/.otpgate/login` still shows the phone page: another
        // number, or the form's token.)
        return Ok(see_other(&rd, &[]));
    }
    let now = gw.clock.now_ms();
    let (token, set) = csrf_cookie(gw, req.headers());
    let lang = gw.pages.choose_language(req.headers(), req.uri().query());
    let cookies: Vec<String> = set
        .into_iter()
        .chain(lang.set_cookie)
        .chain(clear)
        .collect();
    let status = flash.as_ref().map_or(StatusCode::OK, Flash::status);
    let wait = flash.as_ref().and_then(|f| f.wait_secs(now));
    let alert = flash.as_ref().and_then(|f| f.alert(now));
    if gw.lookup.is_some() {
        // Registered-number mode: nothing to type; the code goes at once
        // to the number the storefront has for this customer — but only
        // when the shopper navigated here themselves. Otherwise any site
        // could text them with an `<img>` or a link (issue 8, defect 6).
        // A refusal comes back here with its flash: then the button, not
        // another automatic send (which would loop on a rate limit).
        if flash.is_none() && sends_at_once(req) {
            if pending_for_registered(gw, req.headers()).await {
                // A reload is not a new request for a code: the code page
                // offers a resend once `resend_after` has passed.
                return Ok(see_other(VERIFY, &[]));
            }
            return Ok(start_challenge(gw, req.headers(), conn, "", rd).await);
        }
        let page = gw
            .pages
            .send_registered(&lang.lang, &csrf_for(gw, &token), &rd, alert);
        return Ok(html(gw, status, page, &cookies, wait));
    }
    let page = gw.pages.login(&LoginView {
        region: &gw.region_code,
        csrf: &csrf_for(gw, &token),
        rd: &rd,
        phone: flash
            .as_ref()
            .and_then(|f| f.phone.as_deref())
            .unwrap_or(""),
        error: None,
        alert,
        lang: &lang.lang,
    });
    Ok(html(gw, status, page, &cookies, wait))
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

/// Texts a code (in the page's language) and sends the browser to the
/// code page, or back to the phone page saying why not.
async fn start_challenge(
    gw: &Gateway,
    headers: &HeaderMap,
    conn: ConnInfo,
    typed: &str,
    rd: String,
) -> Response<Body> {
    let now = gw.clock.now_ms();
    let refused = |e: &FlowError| {
        refused_to(
            gw,
            &login_with(&rd),
            Flash::error(e, now).with_phone(typed),
            &[],
        )
    };
    let number = match core::number_to_text(gw, headers, typed).await {
        Ok(n) => n,
        Err(e) => return refused(&e),
    };
    if let Some(pending) = young_pending(gw, headers, &number).await {
        let c = pending_cookie(gw, &Pending { rd, ..pending });
        let notice = Flash::notice("code_already_sent").cookie(&gw.cookies);
        return see_other(VERIFY, &[c, notice]);
    }
    let lang = gw.pages.choose_language(headers, None).lang;
    let client_ip = gw.client_ip(headers, conn);
    match core::start(gw, &number, &lang, conn, client_ip).await {
        Ok((challenge_id, phone)) => {
            let pending = Pending {
                challenge_id,
                rd,
                phone: phone.e164().to_string(),
            };
            see_other(VERIFY, &[pending_cookie(gw, &pending)])
        }
        Err(e) => refused(&e),
    }
}

/// The code page, saying what the last post left to say.
async fn render_verify(
    gw: &Gateway,
    headers: &HeaderMap,
    query: Option<&str>,
    pending: &Pending,
    flash: Option<Flash>,
    clear: Option<String>,
) -> Response<Body> {
    let now = gw.clock.now_ms();
    let live = match pending.challenge_id.as_str() {
        "" => None,
        id => gw.store.challenge(id, now).await.ok().flatten(),
    };
    let Some(ch) = live else {
        let mut cookies = vec![clear_cookie(&gw.cookies.pending_name)];
        if pending.challenge_id.is_empty() {
            // Verified already (back from the shop): the phone page sends
            // a verified shopper on to `rd`.
            cookies.extend(clear);
            return see_other(&login_with(&pending.rd), &cookies);
        }
        // Expired or used up: start again, keeping the number and where
        // they were going (this flash replaces any other).
        let flash =
            Flash::error(&FlowError::NoChallenge, now).with_phone(&as_typed(gw, &pending.phone));
        return refused_to(gw, &login_with(&pending.rd), flash, &cookies);
    };
    let (token, set) = csrf_cookie(gw, headers);
    let wait = (ch.sent_at + gw.cfg.otp.resend_after.as_millis() as u64)
        .saturating_sub(now)
        .div_ceil(1000);
    let lang = gw.pages.choose_language(headers, query);
    let notice = flash.as_ref().filter(|f| f.notice).map(|f| f.key.as_str());
    let page = gw.pages.verify(&VerifyView {
        csrf: &csrf_for(gw, &token),
        rd: &pending.rd,
        masked_phone: &crate::phone::mask(&ch.phone),
        code_length: gw.cfg.otp.length,
        resend_in_secs: wait,
        error: None,
        alert: flash.as_ref().and_then(|f| f.alert(now)),
        notice: None,
        notice_key: notice,
        lang: &lang.lang,
    });
    let status = flash.as_ref().map_or(StatusCode::OK, Flash::status);
    let cookies: Vec<String> = set
        .into_iter()
        .chain(lang.set_cookie)
        .chain(clear)
        .collect();
    let retry_after = flash.as_ref().and_then(|f| f.wait_secs(now));
    html(gw, status, page, &cookies, retry_after)
}

pub async fn verify_page(
    gw: &Gateway,
    req: &Request<Incoming>,
) -> Result<Response<Body>, GatewayError> {
    match pending_of(gw, req.headers()) {
        Some(p) => {
            let (flash, clear) = Flash::take(&gw.cookies, req.headers());
            Ok(render_verify(gw, req.headers(), req.uri().query(), &p, flash, clear).await)
        }
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
    if pending.challenge_id.is_empty() {
        // Verified already: a second press of the button, or a replay.
        return Ok(see_other(&pending.rd, &[]));
    }
    let client_ip = gw.client_ip(&parts.headers, conn);
    let now = gw.clock.now_ms();
    let code = form.get("code").unwrap_or("");
    match core::check(gw, &pending.challenge_id, code, conn, client_ip).await {
        Ok(session) => {
            // The pending cookie stays, spent (no challenge), so that back
            // from the shop still knows `rd` (see `render_verify`).
            let done = Pending {
                challenge_id: String::new(),
                rd: pending.rd.clone(),
                phone: String::new(),
            };
            let cookies = [
                gw.cookies.session_cookie(&session, gw.clock.now_secs()),
                pending_cookie(gw, &done),
            ];
            crate::audit::session_issued(&session, conn);
            Ok(see_other(&pending.rd, &cookies))
        }
        Err(e @ (FlowError::Exhausted | FlowError::NoChallenge)) => {
            // A used-up code keeps the number: the phone field is filled.
            let flash = Flash::error(&e, now).with_phone(&as_typed(gw, &pending.phone));
            let clear = [clear_cookie(&gw.cookies.pending_name)];
            Ok(refused_to(gw, &login_with(&pending.rd), flash, &clear))
        }
        Err(e) => Ok(refused_to(gw, VERIFY, Flash::error(&e, now), &[])),
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
    let lang = gw.pages.choose_language(&parts.headers, None).lang;
    let now = gw.clock.now_ms();
    match core::resend(gw, &pending.challenge_id, &lang, conn, client_ip).await {
        Ok(_) => {
            let notice = Flash::notice("new_code_sent").cookie(&gw.cookies);
            Ok(see_other(VERIFY, &[notice]))
        }
        // The code page sends an ended challenge on to the phone page.
        Err(e) => Ok(refused_to(gw, VERIFY, Flash::error(&e, now), &[])),
    }
}
