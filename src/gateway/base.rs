//! A page the storefront answered a held request with is shown as the
//! answer to `POST /.otpgate/verify`: the browser resolves its relative
//! links against `/.otpgate/verify`. A `<base href>` naming the held
//! target (HTML §4.2.3) makes them resolve against the storefront's URL
//! again. Only a small, uncompressed HTML page without its own `<base>` is
//! touched; anything else passes through as the storefront sent it.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use http::Response;
use http_body_util::{BodyExt, Limited};

use crate::body::Body;

/// Order confirmations are a few KiB; a larger page streams unchanged.
const MAX_PAGE: usize = 512 * 1024;

/// Whether the answer is a page [`with_base`] may rewrite.
pub(super) fn rewritable<B>(resp: &Response<B>) -> bool {
    let h = resp.headers();
    let html = h
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
    let small = h
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n <= MAX_PAGE);
    html && small && !h.contains_key(CONTENT_ENCODING) && !resp.status().is_redirection()
}

/// The page read whole (it declared at most [`MAX_PAGE`]) and given a
/// `<base>` for `target`.
pub(super) async fn with_base(
    resp: Response<Body>,
    target: &str,
) -> Result<Response<Body>, crate::errors::GatewayError> {
    let (mut parts, body) = resp.into_parts();
    let page = Limited::new(body, MAX_PAGE)
        .collect()
        .await
        .map_err(|_| crate::errors::GatewayError::UpstreamProtocol)?
        .to_bytes();
    let page = insert_base(page, target);
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(page.len()));
    Ok(Response::from_parts(parts, Body::full(page)))
}

/// Inserts `<base href="target">` right after `<head …>`, unless the page
/// has no `<head>` or already sets a `<base>`.
fn insert_base(page: Bytes, target: &str) -> Bytes {
    let lower = page.to_ascii_lowercase();
    let find = |needle: &[u8]| lower.windows(needle.len()).position(|w| w == needle);
    if find(b"<base").is_some() {
        return page;
    }
    let Some(head) = find(b"<head") else {
        return page;
    };
    // `<head>` or `<head attr…>`, not `<header>`.
    if !matches!(
        lower.get(head + 5),
        Some(b'>' | b' ' | b'\t' | b'\n' | b'\r')
    ) {
        return page;
    }
    let Some(close) = lower[head..].iter().position(|b| *b == b'>') else {
        return page;
    };
    let at = head + close + 1;
    // The target is a normalized path and query: escape what could end
    // the attribute anyway.
    let href = target
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    let tag = format!("<base href=\"{href}\">");
    let mut out = Vec::with_capacity(page.len() + tag.len());
    out.extend_from_slice(&page[..at]);
    out.extend_from_slice(tag.as_bytes());
    out.extend_from_slice(&page[at..]);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::insert_base;
    use bytes::Bytes;

    fn base(page: &str) -> String {
        String::from_utf8(
            insert_base(Bytes::from(page.to_string()), "/checkout/confirm?a=1&b=\"").to_vec(),
        )
        .unwrap()
    }

    #[test]
    fn after_head_only_once_and_escaped() {
        assert_eq!(
            base("<html><HEAD lang=x><title>t</title></head></html>"),
            "<html><HEAD lang=x><base href=\"/checkout/confirm?a=1&amp;b=&quot;\"><title>t</title></head></html>"
        );
        let own = "<html><head><base href=\"/x/\"></head></html>";
        assert_eq!(base(own), own);
        assert_eq!(base("<header>no head</header>"), "<header>no head</header>");
        assert_eq!(base("plain"), "plain");
    }
}
