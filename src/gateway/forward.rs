//! Phase 4: the request rewritten at the trust boundary and streamed to
//! the storefront; its answer made safe to send back.

use std::time::Duration;

use http::header::{HeaderValue, CACHE_CONTROL, HOST};
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::Gateway;
use crate::body::Body;
use crate::conn::ConnInfo;
use crate::errors::GatewayError;
use crate::fingerprint::Forwarded;
use crate::headers::{self, ForwardFacts};
use crate::normalize::NormalizedPath;
use crate::session::Session;
use crate::upgrade;

impl Gateway {
    /// Headers rewritten at the trust boundary, then streamed. The caller
    /// has authorized this request (phase 3); only then may it upgrade.
    pub(super) async fn forward(
        &self,
        req: Request<Incoming>,
        conn: ConnInfo,
        request_id: HeaderValue,
        path: &NormalizedPath,
        session: Option<&Session>,
    ) -> Result<(Response<Body>, Duration), GatewayError> {
        let (mut parts, body) = req.into_parts();
        let websocket = self.rewrite(&mut parts, conn, request_id, session);
        // Most paths are already normal: then the original target is reused.
        let pq = match (parts.uri.path_and_query(), parts.uri.query()) {
            (Some(pq), _) if pq.path() == path.forward() => Ok(pq.clone()),
            (_, Some(q)) => PathAndQuery::try_from(format!("{}?{q}", path.forward())),
            (_, None) => PathAndQuery::try_from(path.forward()),
        }
        .map_err(|_| GatewayError::BadTarget)?;
        let (resp, took) = self
            .upstream
            .local()
            .send(Request::from_parts(parts, body), pq, websocket.as_ref())
            .await?;
        Ok((answer(resp, session.is_some()), took))
    }

    /// The trust boundary, for every request the storefront gets (streamed
    /// or held): hop-by-hop and spoofable headers and otpgate's cookies
    /// out, `X-Forwarded-*` and the verified phone in. Returns the client's
    /// WebSocket handshake, if it made one (only then may it upgrade).
    pub(super) fn rewrite(
        &self,
        parts: &mut http::request::Parts,
        conn: ConnInfo,
        request_id: HeaderValue,
        session: Option<&Session>,
    ) -> Option<upgrade::WebSocket> {
        let websocket = upgrade::websocket_request(&parts.method, parts.version, &parts.headers);
        // Validated by host.rs in phase 1.
        let host = parts.headers.get(HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        let client = self.trusted.client_ip(&parts.headers, conn);
        let fingerprints = (self.cfg.fingerprint.forward).then(|| Forwarded::of(parts, conn.ja4));
        let h = &mut parts.headers;
        headers::remove_hop_by_hop(h);
        headers::strip_spoofable(h, conn.peer_trusted);
        headers::strip_cookies(
            h,
            &[
                &self.sessions.cookies().session_name,
                &self.sessions.cookies().pending_name,
                &self.sessions.cookies().csrf_name,
            ],
        );
        headers::set_forwarded(
            h,
            ForwardFacts {
                peer: conn.peer.ip(),
                client,
                peer_trusted: conn.peer_trusted,
                host: host.clone(),
                request_id,
            },
        );
        if let Some(f) = &fingerprints {
            f.insert(h);
        }
        match (&host, self.cfg.upstream.preserve_host) {
            (Some(host), true) => h.insert(HOST, host.clone()),
            _ => h.insert(
                HOST,
                HeaderValue::from_str(self.upstream.local().authority().as_str())
                    .expect("valid authority"),
            ),
        };
        if let Some(s) = session {
            if let Ok(v) = HeaderValue::from_str(&s.phone) {
                h.insert(headers::X_OTPGATE_PHONE.clone(), v);
            }
            h.insert(
                headers::X_OTPGATE_VERIFIED_AT.clone(),
                HeaderValue::from(s.verified_at),
            );
        }
        if websocket.is_some() {
            upgrade::restore(h);
        }
        websocket
    }
}

/// The storefront's answer made safe to send back.
pub(super) fn answer(resp: Response<Incoming>, verified: bool) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    if parts.status != StatusCode::SWITCHING_PROTOCOLS {
        headers::remove_hop_by_hop(&mut parts.headers);
        if verified {
            private_unless_set(&mut parts.headers);
        }
    }
    Response::from_parts(parts, Body::upstream(body))
}

/// The storefront saw the shopper's verified phone (`X-Otpgate-Phone`), so
/// its answer may be that shopper's alone: a shared cache must not keep it
/// for the next one (RFC 9111 §5.2.2.7). The storefront's own
/// `Cache-Control`, when it sets one, is its decision and kept. No `Vary:
/// Cookie`: `private` already keeps shared caches out, and the browser's
/// own cache belongs to one shopper.
fn private_unless_set(h: &mut http::HeaderMap) {
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
    }
}
