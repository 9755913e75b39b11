//! The HTML side of the flow: pages, form posts, cookies, CSRF.

use http::{HeaderMap, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::confirm::{amount_for, confirming};
use super::csrf::{csrf_cookie, csrf_for, csrf_valid};
use super::flash::Flash;
use super::held::{self, SendRequest};
use super::input::{query_param, Form};
use super::pending::Pending;
use super::reply::{self, see_other};
use super::state::Own;
use crate::audit;
use crate::body::Body;
use crate::conn::ConnInfo;
use crate::errors::GatewayError;
use crate::flow::{self, FlowError};
use crate::pages::{LoginView, VerifyView};
use crate::phone::Phone;
use crate::redirect::{login_url, safe_rd, LOGIN};
use crate::session::clear_cookie;

const VERIFY: &str = "/.otpgate/verify";

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

pub(super) fn html(
    own: &Own,
    status: StatusCode,
    body: String,
    cookies: &[String],
    retry_after: Option<u64>,
) -> Response<Body> {
    reply::html(status, own.pages.csp.clone(), body, cookies, retry_after)
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
        Ok(n) => Phone::parse(&n, &own.flow.cfg.phone).is_ok_and(|p| p.e164() == ch.phone),
        Err(_) => false,
    }
}

/// This browser holds a session fresh enough for `rd` (the check
/// `gateway::handle` makes there), so the phone page has nothing to ask.
async fn verified_for(own: &Own, headers: &HeaderMap, rd: &str) -> bool {
    let Some(session) = own.sessions.of(headers).await else {
        return false;
    };
    let path = rd.split_once('?').map_or(rd, |(p, _)| p);
    let Ok(path) = crate::normalize::normalize_path(path) else {
        return false;
    };
    let age = own
        .flow
        .clock
        .now_secs()
        .saturating_sub(session.verified_at);
    own.policy
        .rule_for(&http::Method::GET, path.match_key())
        .is_none_or(|rule| age <= rule.max_age.as_secs())
}

/// A refusal: `303` to the page that says it (post/redirect/get).
fn refused_to(own: &Own, location: &str, flash: Flash, cookies: &[String]) -> Response<Body> {
    let mut cookies = cookies.to_vec();
    cookies.push(flash.cookie(&own.cookies));
    see_other(location, &cookies)
}

/// The number as the shopper types it beside the shown dial code.
fn as_typed(own: &Own, e164: &str) -> String {
    match phonenumber::parse(None, e164) {
        Ok(n) if n.country().id() == Some(own.flow.cfg.phone.default_region) => {
            n.national().value().to_string()
        }
        _ => e164.to_string(),
    }
}

pub async fn login_page(
    own: &Own,
    req: &Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    let asked_rd = query_param(req, "rd");
    let rd = safe_rd(asked_rd.as_deref());
    let (flash, clear) = Flash::take(&own.cookies, req.headers());
    if asked_rd.is_some() && flash.is_none() && verified_for(own, req.headers(), &rd).await {
        // Back from the shop after a clean verify lands on this page:
        // there is nothing to ask, so go on to where they were going. (A
        // plain `/.otpgate/login` still shows the phone page: another
        // number, or the form's token.)
        return Ok(see_other(&rd, &[]));
    }
    let now = own.flow.clock.now_ms();
    let (token, set) = csrf_cookie(own, req.headers());
    let lang = own.pages.choose_language(req.headers(), req.uri().query());
    let cookies: Vec<String> = set
        .into_iter()
        .chain(lang.set_cookie)
        .chain(clear)
        .collect();
    let status = flash.as_ref().map_or(StatusCode::OK, Flash::status);
    let wait = flash.as_ref().and_then(|f| f.wait_secs(now));
    let alert = flash.as_ref().and_then(|f| f.alert(now));
    if own.lookup.is_some() {
        // Registered-number mode: nothing to type; the code goes at once
        // to the number the storefront has for this customer — but only
        // when the shopper navigated here themselves. Otherwise any site
        // could text them with an `<img>` or a link (issue 8, defect 6).
        // A refusal comes back here with its flash: then the button, not
        // another automatic send (which would loop on a rate limit).
        if flash.is_none() && super::navigation::shoppers_own_view(req.method(), req.headers()) {
            if pending_for_registered(own, req.headers()).await {
                // A reload is not a new request for a code: the code page
                // offers a resend once `resend_after` has passed.
                return Ok(see_other(VERIFY, &[]));
            }
            let ask = Ask {
                typed: "",
                browser: &token,
                pow: None,
                cookies: cookies.clone(),
            };
            return Ok(start_challenge(own, req.headers(), conn, ask, rd).await);
        }
        let pow = flash.as_ref().and_then(Flash::pow);
        let page = own
            .pages
            .send_registered(&lang.lang, &csrf_for(own, &token), &rd, alert, pow);
        return Ok(html(own, status, page, &cookies, wait));
    }
    let amount = amount_for(own, req.headers()).await;
    let page = own.pages.login(&LoginView {
        amount: amount.as_deref(),
        region: &own.region_code,
        csrf: &csrf_for(own, &token),
        rd: &rd,
        phone: flash
            .as_ref()
            .and_then(|f| f.phone.as_deref())
            .unwrap_or(""),
        error: None,
        alert,
        lang: &lang.lang,
        pow: flash.as_ref().and_then(Flash::pow),
    });
    Ok(html(own, status, page, &cookies, wait))
}

pub async fn send(
    own: &Own,
    req: Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    let (parts, form) = checked_form(own, req).await?;
    let rd = safe_rd(form.get("rd"));
    let typed = form.get("phone").unwrap_or("");
    // `checked_form` passed: the browser has its CSRF cookie.
    let (browser, _) = csrf_cookie(own, &parts.headers);
    let ask = Ask {
        typed,
        browser: &browser,
        pow: super::pow::from_form(&form),
        cookies: Vec::new(),
    };
    Ok(start_challenge(own, &parts.headers, conn, ask, rd).await)
}

/// A send as the page asked for it.
struct Ask<'a> {
    typed: &'a str,
    /// The browser's CSRF cookie (a proof-of-work is bound to it).
    browser: &'a str,
    pow: Option<crate::pow::Solution>,
    /// Set on every answer (a CSRF cookie made by this request).
    cookies: Vec<String>,
}

/// Texts a code (in the page's language) and sends the browser to the
/// code page, or back to the phone page saying why not (a proof-of-work
/// to do, too: the flash carries its challenge).
async fn start_challenge(
    own: &Own,
    headers: &HeaderMap,
    conn: ConnInfo,
    ask: Ask<'_>,
    rd: String,
) -> Response<Body> {
    let now = own.flow.clock.now_ms();
    let typed = ask.typed;
    let mut cookies = ask.cookies;
    let refused = |e: &FlowError, cookies: &[String]| {
        refused_to(
            own,
            &login_url(&rd),
            Flash::error(e, now).with_phone(typed),
            cookies,
        )
    };
    let number = match own.number_to_text(headers, typed).await {
        Ok(n) => n,
        Err(e) => return refused(&e, &cookies),
    };
    if let Some(pending) = Pending::young_for(own, headers, &number).await {
        let held = held::attach(own, Some(&pending), conn).await;
        cookies.push(
            Pending {
                rd,
                held,
                ..pending
            }
            .cookie(&own.cookies, own.flow.cfg.otp.ttl.as_secs()),
        );
        cookies.push(Flash::notice("code_already_sent").cookie(&own.cookies));
        return see_other(VERIFY, &cookies);
    }
    let lang = own.pages.choose_language(headers, None).lang;
    let send = SendRequest {
        number: &number,
        lang: &lang,
        rd: rd.clone(),
        browser: ask.browser,
        pow: ask.pow,
    };
    match held::start(own, headers, send, conn).await {
        Ok(pending) => {
            cookies.push(pending.cookie(&own.cookies, own.flow.cfg.otp.ttl.as_secs()));
            see_other(VERIFY, &cookies)
        }
        Err(e) => refused(&e, &cookies),
    }
}

/// The code page, saying what the last post left to say.
async fn render_verify(
    own: &Own,
    headers: &HeaderMap,
    query: Option<&str>,
    pending: &Pending,
    flash: Option<Flash>,
    clear: Option<String>,
) -> Response<Body> {
    let now = own.flow.clock.now_ms();
    let live = match pending.challenge_id.as_str() {
        "" => None,
        id => match own.flow.store.challenge(id, now).await {
            Ok(ch) => ch,
            // The store did not answer (a Redis failover): a 503 that says
            // so, keeping the pending cookie, so the same code works once
            // the store is back. Never "expired": that would throw the
            // sign-in away.
            Err(e) => {
                tracing::error!(error = %e, "store unavailable");
                let lang = own.pages.choose_language(headers, query).lang;
                let status = FlowError::Store.status();
                let msg = own.pages.text(&lang, "error_unavailable", &[]);
                let page = own.pages.error_in(&lang, status, &msg);
                return reply::html(status, crate::pages::ERROR_CSP.clone(), page, &[], None);
            }
        },
    };
    let Some(ch) = live else {
        let mut cookies = vec![clear_cookie(&own.cookies.pending_name)];
        if pending.challenge_id.is_empty() {
            // Verified already (back from the shop): the phone page sends
            // a verified shopper on to `rd`.
            cookies.extend(clear);
            return see_other(&login_url(&pending.rd), &cookies);
        }
        // Expired or used up: start again, keeping the number and where
        // they were going (this flash replaces any other).
        let flash =
            Flash::error(&FlowError::NoChallenge, now).with_phone(&as_typed(own, &pending.phone));
        return refused_to(own, &login_url(&pending.rd), flash, &cookies);
    };
    let (token, set) = csrf_cookie(own, headers);
    let wait = (ch.sent_at + own.flow.cfg.otp.resend_after.as_millis() as u64)
        .saturating_sub(now)
        .div_ceil(1000);
    let lang = own.pages.choose_language(headers, query);
    let notice = flash.as_ref().filter(|f| f.notice).map(|f| f.key.as_str());
    // Another channel: after the resend delay, or at once when the last
    // message was reported undelivered or `fallback_after` passed.
    let offer = crate::flow::offer(&own.flow, &pending.challenge_id, &ch).await;
    let channels: Vec<&'static str> = offer.channels.iter().map(|c| c.as_str()).collect();
    let amount = amount_for(own, headers).await;
    let page = own.pages.verify(&VerifyView {
        amount: amount.as_deref(),
        csrf: &csrf_for(own, &token),
        rd: &pending.rd,
        masked_phone: &crate::phone::mask(&ch.phone),
        code_length: own.flow.cfg.otp.length,
        resend_in_secs: wait,
        channels: &channels,
        delivery_failed: offer.delivery_failed,
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
    html(own, status, page, &cookies, retry_after)
}

pub async fn verify_page(
    own: &Own,
    req: &Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    match Pending::of(&own.cookies, req.headers()) {
        Some(p) => {
            let (mut flash, clear) = Flash::take(&own.cookies, req.headers());
            if super::fallback::automatic(own, req.method(), req.headers(), conn, &p).await {
                flash = Some(Flash::notice("same_code_sent"));
            }
            Ok(render_verify(own, req.headers(), req.uri().query(), &p, flash, clear).await)
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
    if pending.challenge_id.is_empty() {
        // Verified already: a second press of the button, or a replay.
        return Ok(see_other(&pending.rd, &[]));
    }
    let client_ip = own.trusted.client_ip(&parts.headers, conn);
    let now = own.flow.clock.now_ms();
    let code = form.get("code").unwrap_or("");
    // A transaction's code is checked against the request held now.
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
        Ok(session) => {
            // The pending cookie stays, spent (no challenge), so that back
            // from the shop still knows `rd` (see `render_verify`).
            let done = Pending {
                challenge_id: String::new(),
                held: None,
                rd: pending.rd.clone(),
                phone: String::new(),
            };
            let cookies = [
                own.cookies
                    .session_cookie(&session, own.flow.clock.now_secs()),
                done.cookie(&own.cookies, own.flow.cfg.otp.ttl.as_secs()),
            ];
            audit::session_issued(&session, conn);
            let mut resp = see_other(&pending.rd, &cookies);
            // The gateway sends the held request and answers with the
            // storefront's answer instead, these cookies added.
            let claimed = held::claim(own, &pending, &parts, &session, conn, confirm.as_ref());
            if let Some(r) = claimed.await {
                resp.extensions_mut().insert(r);
            }
            Ok(resp)
        }
        Err(e @ (FlowError::Exhausted | FlowError::NoChallenge)) => {
            // A used-up code keeps the number: the phone field is filled.
            let flash = Flash::error(&e, now).with_phone(&as_typed(own, &pending.phone));
            let clear = [clear_cookie(&own.cookies.pending_name)];
            Ok(refused_to(own, &login_url(&pending.rd), flash, &clear))
        }
        Err(e) => Ok(refused_to(own, VERIFY, Flash::error(&e, now), &[])),
    }
}

pub async fn resend(
    own: &Own,
    req: Request<Incoming>,
    conn: ConnInfo,
) -> Result<Response<Body>, GatewayError> {
    let (parts, form) = checked_form(own, req).await?;
    let Some(pending) = Pending::of(&own.cookies, &parts.headers) else {
        return Ok(see_other(LOGIN, &[]));
    };
    let client_ip = own.trusted.client_ip(&parts.headers, conn);
    let lang = own.pages.choose_language(&parts.headers, None).lang;
    let now = own.flow.clock.now_ms();
    // `channel`: the same code by another way (a button of the code page).
    let channel = match form.get("channel").filter(|c| !c.is_empty()) {
        None => None,
        Some(name) => match crate::sms::Channel::parse(name) {
            Some(c) => Some(c),
            None => {
                let e = FlowError::ChannelUnavailable;
                return Ok(refused_to(own, VERIFY, Flash::error(&e, now), &[]));
            }
        },
    };
    let confirm = confirming(own, Some(&pending)).await;
    let id = &pending.challenge_id;
    let who = (conn, client_ip);
    match flow::resend(&own.flow, id, &lang, who, confirm.as_ref(), channel).await {
        Ok(_) => {
            held::extend(own, &pending).await;
            let key = if channel.is_some() {
                "same_code_sent"
            } else {
                "new_code_sent"
            };
            let notice = Flash::notice(key).cookie(&own.cookies);
            Ok(see_other(VERIFY, &[notice]))
        }
        // The code page sends an ended challenge on to the phone page.
        Err(e) => Ok(refused_to(own, VERIFY, Flash::error(&e, now), &[])),
    }
}
