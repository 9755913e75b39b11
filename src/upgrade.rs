//! Protocol upgrades: only WebSocket (RFC 6455) is ever tunnelled.
//!
//! A tunnel hands the socket to whatever protocol the storefront switched
//! to, beyond every check otpgate makes per request. `Upgrade: h2c` is the
//! known attack (Bishop Fox, "h2c smuggling", 2020): the storefront answers
//! 101, and the client then sends HTTP/2 streams to protected paths with
//! any header it likes. So a request may upgrade only when it is a complete
//! WebSocket handshake (RFC 6455 §4.1) on a route it was authorized for;
//! every other `Upgrade` (h2c, TLS/1.x, lists such as `websocket, h2c`) is
//! dropped with the other hop-by-hop fields, and the request is forwarded
//! as a plain one. A 101 from the storefront is spliced only when it
//! accepts the handshake otpgate sent (§4.2.2).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::header::{HeaderMap, HeaderValue, CONNECTION, UPGRADE};
use http::{Method, Version};
use sha1::{Digest, Sha1};

static SEC_WEBSOCKET_KEY: http::HeaderName = http::HeaderName::from_static("sec-websocket-key");
static SEC_WEBSOCKET_VERSION: http::HeaderName =
    http::HeaderName::from_static("sec-websocket-version");
static SEC_WEBSOCKET_ACCEPT: http::HeaderName =
    http::HeaderName::from_static("sec-websocket-accept");

/// RFC 6455 §1.3.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A WebSocket handshake otpgate will forward: its key, to check the answer.
#[derive(Debug, Clone)]
pub struct WebSocket {
    key: HeaderValue,
}

/// The client's request as a WebSocket handshake, when it is exactly one:
/// HTTP/1.1 `GET`, `Connection: upgrade`, `Upgrade: websocket` as the only
/// token, one `Sec-WebSocket-Key` of 16 bytes and `Sec-WebSocket-Version:
/// 13`. Anything else is not upgraded.
pub fn websocket_request(method: &Method, version: Version, h: &HeaderMap) -> Option<WebSocket> {
    if *method != Method::GET || version != Version::HTTP_11 {
        return None;
    }
    let connection_upgrade = h.get_all(CONNECTION).iter().any(|v| {
        v.as_bytes()
            .split(|b| *b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
    });
    let upgrade = single(h, &UPGRADE)?;
    let key = single(h, &SEC_WEBSOCKET_KEY)?;
    let nonce = STANDARD.decode(key.as_bytes()).ok()?;
    let ok = connection_upgrade
        && upgrade
            .as_bytes()
            .trim_ascii()
            .eq_ignore_ascii_case(b"websocket")
        && nonce.len() == 16
        && single(h, &SEC_WEBSOCKET_VERSION)?.as_bytes().trim_ascii() == b"13";
    ok.then(|| WebSocket { key: key.clone() })
}

/// The one value of a field that must appear once.
fn single<'a>(h: &'a HeaderMap, name: &http::HeaderName) -> Option<&'a HeaderValue> {
    let mut all = h.get_all(name).iter();
    let first = all.next()?;
    all.next().is_none().then_some(first)
}

/// Puts the upgrade back on the storefront request after hop-by-hop
/// removal, in its one accepted spelling.
pub fn restore(headers: &mut HeaderMap) {
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
}

impl WebSocket {
    /// Whether the storefront's 101 completes this handshake (RFC 6455
    /// §4.2.2): `Upgrade: websocket` and the `Sec-WebSocket-Accept` derived
    /// from our key. Any other switch is not spliced.
    pub fn accepted_by(&self, response: &HeaderMap) -> bool {
        let mut sha = Sha1::new();
        sha.update(self.key.as_bytes());
        sha.update(GUID.as_bytes());
        let expected = STANDARD.encode(sha.finalize());
        single(response, &UPGRADE)
            .is_some_and(|u| u.as_bytes().trim_ascii().eq_ignore_ascii_case(b"websocket"))
            && single(response, &SEC_WEBSOCKET_ACCEPT)
                .is_some_and(|a| a.as_bytes().trim_ascii() == expected.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn handshake(upgrade: &str) -> HeaderMap {
        map(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", upgrade),
            ("sec-websocket-key", KEY),
            ("sec-websocket-version", "13"),
        ])
    }

    #[test]
    fn only_a_complete_websocket_handshake_upgrades() {
        let get = |h: &HeaderMap| websocket_request(&Method::GET, Version::HTTP_11, h).is_some();
        assert!(get(&handshake("websocket")));
        assert!(get(&handshake("WebSocket")));
        for other in [
            "h2c",
            "websocket, h2c",
            "h2c, websocket",
            "TLS/1.2",
            "websocket/13",
        ] {
            assert!(!get(&handshake(other)), "{other}");
        }
        let mut no_key = handshake("websocket");
        no_key.remove("sec-websocket-key");
        assert!(!get(&no_key));
        let mut v8 = handshake("websocket");
        v8.insert("sec-websocket-version", HeaderValue::from_static("8"));
        assert!(!get(&v8));
        let mut two = handshake("websocket");
        two.append("upgrade", HeaderValue::from_static("h2c"));
        assert!(!get(&two));
        let mut no_conn = handshake("websocket");
        no_conn.remove("connection");
        assert!(!get(&no_conn));
        let h = handshake("websocket");
        assert!(websocket_request(&Method::POST, Version::HTTP_11, &h).is_none());
        assert!(websocket_request(&Method::GET, Version::HTTP_2, &h).is_none());
    }

    #[test]
    fn the_accept_key_is_checked() {
        let ws =
            websocket_request(&Method::GET, Version::HTTP_11, &handshake("websocket")).unwrap();
        // RFC 6455 §1.3's example.
        let good = map(&[
            ("upgrade", "websocket"),
            ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ]);
        assert!(ws.accepted_by(&good));
        assert!(!ws.accepted_by(&map(&[("upgrade", "h2c")])));
        let wrong = map(&[("upgrade", "websocket"), ("sec-websocket-accept", "x")]);
        assert!(!ws.accepted_by(&wrong));
    }
}
