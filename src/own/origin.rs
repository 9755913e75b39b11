//! Where a request that would be held came from (own/held.rs): this
//! site's own page or another's, a browser's form or a script, and the
//! page to go back to.

use http::header::{HOST, REFERER};
use http::{HeaderMap, Request};

use crate::redirect::safe_rd;

/// Sent from a page of this site. A cross-site request is never held:
/// the replay carries the browser's cookies at verify time, so holding a
/// form another site auto-submitted would turn the shopper's code into
/// that site's order (cross-site request forgery past a storefront that
/// relies on `SameSite` cookies). Browsers send `Sec-Fetch-Site` (W3C
/// Fetch Metadata) or at least `Origin` on every POST (RFC 6454 §7,
/// Fetch); a client that sends neither (a script, an old browser) is
/// judged by `Referer`, and without any of them is not held.
pub fn same_origin(h: &HeaderMap, host: Option<&str>) -> bool {
    let text = |name| {
        h.get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
    };
    if let Some(site) = text("sec-fetch-site") {
        return site.eq_ignore_ascii_case("same-origin");
    }
    let Some(host) = host else {
        return false;
    };
    if let Some(origin) = text("origin") {
        return origin
            .strip_prefix("https://")
            .is_some_and(|o| o.eq_ignore_ascii_case(host));
    }
    came_from(h, Some(host)).is_some()
}

/// The host the client named: `Host`, or HTTP/2's `:authority` (RFC 9113
/// §8.3.1), both checked by host.rs in phase 1.
pub fn host_of<B>(req: &Request<B>) -> Option<String> {
    match req.headers().get(HOST) {
        Some(h) => h.to_str().ok().map(str::to_string),
        None => req.uri().authority().map(|a| a.as_str().to_string()),
    }
}

/// A form submitted by a browser (a navigation), not a script's fetch:
/// `Sec-Fetch-Mode: navigate` where the browser sends fetch metadata,
/// else an HTML `Accept` without `X-Requested-With`.
pub fn submitted_by_browser(h: &HeaderMap) -> bool {
    if h.contains_key("x-requested-with") {
        return false;
    }
    let has = |name, needle: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains(needle))
    };
    match h.get("sec-fetch-mode").and_then(|v| v.to_str().ok()) {
        Some(mode) => mode.eq_ignore_ascii_case("navigate"),
        None => has(http::header::ACCEPT, "text/html"),
    }
}

/// The storefront page the shopper submitted from (same host only): where
/// they go back to if, after the code, nothing is left to send.
pub fn came_from(h: &HeaderMap, host: Option<&str>) -> Option<String> {
    let referer: http::Uri = h.get(REFERER)?.to_str().ok()?.parse().ok()?;
    let host = host?;
    let same = referer
        .authority()
        .is_some_and(|a| a.as_str().eq_ignore_ascii_case(host));
    let pq = referer.path_and_query()?.as_str();
    same.then(|| safe_rd(Some(pq)))
}

#[cfg(test)]
mod tests {
    use super::{came_from, same_origin, submitted_by_browser};
    use http::HeaderMap;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn a_form_submission_is_told_apart_from_a_script() {
        assert!(submitted_by_browser(&headers(&[(
            "sec-fetch-mode",
            "navigate"
        )])));
        assert!(submitted_by_browser(&headers(&[(
            "accept",
            "text/html,*/*"
        )])));
        for script in [
            &[("sec-fetch-mode", "cors"), ("accept", "text/html")][..],
            &[
                ("accept", "text/html"),
                ("x-requested-with", "XMLHttpRequest"),
            ],
            &[("accept", "application/json")],
            &[],
        ] {
            assert!(!submitted_by_browser(&headers(script)), "{script:?}");
        }
    }

    #[test]
    fn only_a_request_from_this_site_is_held() {
        let host = ("host", "shop.example");
        for ok in [
            &[host, ("sec-fetch-site", "same-origin")][..],
            &[host, ("origin", "https://shop.example")],
            &[host, ("referer", "https://shop.example/cart")],
        ] {
            assert!(same_origin(&headers(ok), Some("shop.example")), "{ok:?}");
        }
        for forged in [
            &[
                host,
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://shop.example"),
            ][..],
            &[host, ("sec-fetch-site", "same-site")],
            &[host, ("sec-fetch-site", "none")],
            &[host, ("origin", "https://evil.example")],
            &[host, ("origin", "null")],
            &[host, ("origin", "http://shop.example")],
            &[host, ("origin", "https://shop.example.evil.example")],
            &[host, ("referer", "https://evil.example/shop.example")],
            &[host],
        ] {
            assert!(
                !same_origin(&headers(forged), Some("shop.example")),
                "{forged:?}"
            );
        }
    }

    #[test]
    fn the_page_it_came_from_is_a_local_path_of_this_host() {
        let at = |r: &'static str| came_from(&headers(&[("referer", r)]), Some("shop.example"));
        assert_eq!(
            at("https://shop.example/cart?x=1").as_deref(),
            Some("/cart?x=1")
        );
        assert_eq!(at("https://SHOP.example/cart").as_deref(), Some("/cart"));
        assert_eq!(at("https://evil.example/cart"), None);
        assert_eq!(
            at("https://shop.example//evil.example").as_deref(),
            Some("/")
        );
        assert_eq!(came_from(&HeaderMap::new(), Some("shop.example")), None);
        assert_eq!(
            came_from(&headers(&[("referer", "https://shop.example/")]), None),
            None
        );
    }
}
