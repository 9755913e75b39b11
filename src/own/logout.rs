//! Logout: the post ends the session, then (post/redirect/get) the browser
//! is sent to a page that says so, in the shopper's language, with a link
//! back to where they were.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::csrf::csrf_valid;
use super::forms::html;
use super::input::{query_param, Form};
use super::reply::see_other;
use super::state::Own;
use crate::audit;
use crate::body::Body;
use crate::conn::ConnInfo;
use crate::errors::GatewayError;
use crate::pages::LogoutView;
use crate::redirect::safe_rd;
use crate::session::clear_cookie;

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
    let rd: String = form_urlencoded::byte_serialize(rd.as_bytes()).collect();
    Ok(see_other(
        &format!("/.otpgate/logout?rd={rd}"),
        &[
            clear_cookie(&own.cookies.session_name),
            clear_cookie(&own.cookies.pending_name),
        ],
    ))
}

/// The confirmation. A `GET` changes nothing (a link from another site
/// cannot sign anyone out); with a session still live there is nothing to
/// confirm, so the browser goes on to `rd`.
pub async fn page(own: &Own, req: &Request<Incoming>) -> Result<Response<Body>, GatewayError> {
    let rd = safe_rd(query_param(req, "rd").as_deref());
    if own.sessions.of(req.headers()).await.is_some() {
        return Ok(see_other(&rd, &[]));
    }
    let lang = own.pages.choose_language(req.headers(), req.uri().query());
    let page = own.pages.logout(&LogoutView {
        rd: &rd,
        lang: &lang.lang,
    });
    let cookies: Vec<String> = lang.set_cookie.into_iter().collect();
    Ok(html(own, StatusCode::OK, page, &cookies, None))
}
