//! The one rule for a page view that sends a code by itself (registered-
//! number mode's first send, `[channels] auto_fallback`): only the
//! shopper's own top-level navigation may cost an SMS or a call.
//!
//! Judged by the browser's fetch metadata, which no page can forge (W3C
//! Fetch Metadata; a redirect chain through another site makes it
//! `cross-site`): a same-origin (or typed, bookmarked: `none`) `GET`
//! navigation to a document. `HEAD`, subresources, cross-site requests
//! (a link on another site would make the shopper's browser pay for the
//! attacker's page view), speculative prefetches (`Sec-Purpose` /
//! `Purpose: prefetch`, Fetch §2.2.5) and browsers that send no
//! `Sec-Fetch-*` at all get a button instead: the safe default.

use http::{HeaderMap, Method};

pub(super) fn shoppers_own_view(method: &Method, headers: &HeaderMap) -> bool {
    let is = |name: &str, allowed: &[&str]| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| allowed.iter().any(|a| v.eq_ignore_ascii_case(a)))
    };
    *method == Method::GET
        && is("sec-fetch-site", &["same-origin", "none"])
        && is("sec-fetch-mode", &["navigate"])
        && (headers.get("sec-fetch-dest").is_none() || is("sec-fetch-dest", &["document"]))
        && !prefetch(headers)
}

fn prefetch(headers: &HeaderMap) -> bool {
    ["sec-purpose", "purpose"].iter().any(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("prefetch"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    const OWN: [(&str, &str); 3] = [
        ("sec-fetch-site", "same-origin"),
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-dest", "document"),
    ];

    #[test]
    fn only_the_shoppers_own_navigation_counts() {
        assert!(shoppers_own_view(&Method::GET, &headers(&OWN)));
        let typed = [("sec-fetch-site", "none"), ("sec-fetch-mode", "navigate")];
        assert!(shoppers_own_view(&Method::GET, &headers(&typed)));
        assert!(!shoppers_own_view(&Method::HEAD, &headers(&OWN)));
        assert!(!shoppers_own_view(&Method::POST, &headers(&OWN)));
        assert!(!shoppers_own_view(&Method::GET, &HeaderMap::new()));
        for (name, value) in [
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-site", "same-site"),
            ("sec-fetch-mode", "no-cors"),
            ("sec-fetch-dest", "iframe"),
            ("sec-fetch-dest", "image"),
            ("sec-purpose", "prefetch;prerender"),
            ("purpose", "prefetch"),
        ] {
            let mut h = headers(&OWN);
            h.insert(http::HeaderName::from_static(name), value.parse().unwrap());
            assert!(!shoppers_own_view(&Method::GET, &h), "{name}: {value}");
        }
    }
}
