//! A held request sent after the right code (own/held.rs): once, as the
//! verified shopper, through the same trust boundary as every forwarded
//! request (forward.rs `rewrite`), and the storefront's answer becomes the
//! answer to the verify post.
//!
//! What the storefront gets: the held method, target, `Content-Type` and
//! body, byte for byte; every other header is the verify request's (the
//! same browser a moment later, so its current cookies for the
//! storefront, its `User-Agent`, `Accept-Language`), never the held
//! request's, which are minutes old and were never checked against a
//! session. Then `X-Otpgate-Phone` and `X-Forwarded-*` as always.
//!
//! What the shopper sees: the storefront's answer with the session cookie
//! added. A 3xx (Post/Redirect/Get, what checkouts answer) is followed to
//! the order page as usual. Any other answer is shown as the answer to
//! `POST /.otpgate/verify`, with `Content-Location` naming the target
//! (RFC 9110 §8.7) and, for a small uncompressed HTML page, a `<base
//! href>` to the target (base.rs), so its relative links resolve against
//! the storefront's URL. The address bar shows `/.otpgate/verify`; a
//! reload re-posts the verify form, whose code is spent (the shopper is
//! told to start again): the held request is never sent twice.

use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, SET_COOKIE};
use http::uri::PathAndQuery;
use http::{Request, Response};

use super::forward::answer;
use super::Gateway;
use crate::audit;
use crate::body::Body;
use crate::conn::ConnInfo;
use crate::errors::{Answer, GatewayError};
use crate::own::Replay;
use crate::pages::LangHint;

static CONTENT_LOCATION: http::HeaderName = http::HeaderName::from_static("content-location");

impl Gateway {
    /// Sends `replay`; `fallback` is the verify answer it replaces, whose
    /// cookies (the new session, the pending cookie cleared) are kept.
    pub(super) async fn replay(
        &self,
        fallback: Response<()>,
        replay: Replay,
        conn: ConnInfo,
        request_id: HeaderValue,
        json: bool,
    ) -> Response<Body> {
        let Replay {
            request: held,
            headers,
            session,
        } = replay;
        let target = held.target.clone();
        let hint = LangHint::of(&headers);
        let sent = self
            .send_held(held, headers, conn, request_id, &session)
            .await;
        let mut resp = match sent {
            Ok(resp) => {
                self.metrics.held("replayed");
                audit::hold("replayed", &target, Some(&session.phone), conn);
                resp
            }
            Err(e) => {
                // Sent or not, it is spent: a storefront that timed out may
                // have placed the order, so it is never sent again.
                tracing::warn!(error = %e, "held request not answered by the storefront");
                audit::hold("replay_failed", &target, Some(&session.phone), conn);
                e.into_response(Answer::new(json, &self.own.pages, &hint))
            }
        };
        let redirect = resp.status().is_redirection();
        let h = resp.headers_mut();
        if !redirect {
            if let Ok(v) = HeaderValue::from_str(&target) {
                h.insert(CONTENT_LOCATION.clone(), v);
            }
        }
        for c in fallback.headers().get_all(SET_COOKIE) {
            h.append(SET_COOKIE, c.clone());
        }
        resp
    }

    async fn send_held(
        &self,
        held: crate::own::HeldRequest,
        headers: http::HeaderMap,
        conn: ConnInfo,
        request_id: HeaderValue,
        session: &crate::session::Session,
    ) -> Result<Response<Body>, GatewayError> {
        let pq =
            PathAndQuery::try_from(held.target.as_str()).map_err(|_| GatewayError::BadTarget)?;
        let target = held.target;
        let mut req = Request::new(held.body);
        let held_ct = held.content_type;
        *req.method_mut() = held.method;
        *req.headers_mut() = headers;
        let (mut parts, body) = req.into_parts();
        // The verify post's own body is not the one sent: nothing that
        // describes it may go along (RFC 9110 §8: Content-*).
        let described: Vec<_> = parts
            .headers
            .keys()
            .filter(|k| k.as_str().starts_with("content-"))
            .cloned()
            .collect();
        for k in described {
            parts.headers.remove(k);
        }
        parts.headers.remove(http::header::EXPECT);
        parts.headers.remove(http::header::TRANSFER_ENCODING);
        if let Some(ct) = held_ct {
            parts.headers.insert(CONTENT_TYPE, ct);
        }
        parts
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        self.rewrite(&mut parts, conn, request_id, Some(session));
        let (resp, took) = self
            .upstream
            .local()
            .send_held(Request::from_parts(parts, body), pq)
            .await?;
        self.metrics.upstream_seconds.observe(took.as_secs_f64());
        let resp = answer(resp, true);
        if super::base::rewritable(&resp) {
            return super::base::with_base(resp, &target).await;
        }
        Ok(resp)
    }
}
