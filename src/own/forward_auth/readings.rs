//! Every plausible reading of a raw forward-auth target.
//!
//! In forward auth otpgate only judges: nginx (`auth_request`), Traefik and
//! Caddy pass the storefront the *raw* target, not the normalized one the
//! direct proxy forwards. A storefront, or a proxy between it and the
//! client, may apply only some of otpgate's normalization steps, or steps
//! of its own: Tomcat drops `;params` and then resolves `..`
//! (`/checkout/..;/x`), IIS strips trailing dots and spaces and decodes
//! overlong UTF-8, PHP and some routers decode twice (`%252e`), Apache with
//! `MergeSlashes Off` keeps `//`, and a router matching the raw string sees
//! `/checkout/..;/order-42` as `/checkout/...`.
//!
//! So a target whose raw form is not already canonical is read every way
//! these steps combine (each applied or not, in the usual order) and the
//! strictest rule any reading hits applies (forward_auth.rs). The readings
//! are lower-cased like route matching is (SPEC: case-insensitive).

use std::collections::BTreeSet;

/// Longer raw targets are refused, not read 100 ways.
pub const MAX_RAW_TARGET: usize = 8 * 1024;

/// One percent-decoding pass over every `%XX` (encoded separators too:
/// some servers decode `%2f` before routing).
fn decode_once(b: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// IIS's "unicode" reading: overlong UTF-8 for `.` and `/` (CVE-2000-0884).
fn overlong(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1)) {
            (0xc0, Some(0xae)) => out.push(b'.'),
            (0xc0, Some(0xaf)) | (0xc1, Some(0x9c)) => out.push(b'/'),
            _ => {
                out.push(b[i]);
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    out
}

fn segments(b: &[u8]) -> Vec<&[u8]> {
    b.split(|c| *c == b'/').collect()
}

fn join(segs: &[&[u8]]) -> Vec<u8> {
    segs.join(&b'/')
}

/// `;params` dropped from each segment (Tomcat, Spring, Jetty).
fn strip_params(b: &[u8]) -> Vec<u8> {
    let segs: Vec<&[u8]> = segments(b)
        .into_iter()
        .map(|s| s.split(|c| *c == b';').next().unwrap_or(s))
        .collect();
    join(&segs)
}

/// Everything from the first `;` dropped (servers that treat it like `?`).
fn truncate_params(b: &[u8]) -> Vec<u8> {
    b.split(|c| *c == b';').next().unwrap_or(b).to_vec()
}

/// Trailing dots and spaces dropped from each segment (Windows, IIS),
/// except for the dot segments themselves.
fn strip_trailing_dots(b: &[u8]) -> Vec<u8> {
    let segs: Vec<&[u8]> = segments(b)
        .into_iter()
        .map(|s| {
            if s == b"." || s == b".." {
                return s;
            }
            let end = s
                .iter()
                .rposition(|c| *c != b'.' && *c != b' ')
                .map_or(0, |p| p + 1);
            &s[..end]
        })
        .collect();
    join(&segs)
}

fn merge_slashes(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for &c in b {
        if !(c == b'/' && out.last() == Some(&b'/')) {
            out.push(c);
        }
    }
    out
}

/// RFC 3986 §5.2.4 on the segments as they stand (empty ones kept, so
/// `/checkout//../x` is `/checkout/x` here); `..` above the root stays at
/// the root, as most servers do.
fn resolve_dots(b: &[u8]) -> Vec<u8> {
    let mut stack: Vec<&[u8]> = Vec::new();
    let segs = segments(b);
    let last = segs.len().saturating_sub(1);
    for (i, s) in segs.into_iter().enumerate().skip(1) {
        match s {
            b"." => {}
            b".." => {
                stack.pop();
            }
            s => stack.push(s),
        }
        if i == last && (s == b"." || s == b"..") {
            stack.push(b"");
        }
    }
    let mut out = Vec::with_capacity(b.len());
    for s in stack {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// Applies `step` to every reading as well as keeping each unchanged.
fn fork(set: BTreeSet<Vec<u8>>, step: impl Fn(&[u8]) -> Vec<u8>) -> BTreeSet<Vec<u8>> {
    let mut out = set.clone();
    out.extend(set.iter().map(|b| step(b)));
    out
}

/// Every reading of the raw path `raw` (no query), lower-cased.
pub fn readings(raw: &str) -> BTreeSet<String> {
    let once = decode_once(raw.as_bytes());
    let twice = decode_once(&once);
    let mut set: BTreeSet<Vec<u8>> = [raw.as_bytes().to_vec(), once, twice].into();
    set = fork(set, overlong);
    set = fork(set, |b| {
        b.iter()
            .map(|c| if *c == b'\\' { b'/' } else { *c })
            .collect()
    });
    let mut params = set.clone();
    params.extend(set.iter().map(|b| strip_params(b)));
    params.extend(set.iter().map(|b| truncate_params(b)));
    set = fork(params, strip_trailing_dots);
    set = fork(set, merge_slashes);
    set = fork(set, resolve_dots);
    set.into_iter()
        .map(|b| String::from_utf8_lossy(&b).to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::readings;

    fn any_under(raw: &str, prefix: &str) -> bool {
        readings(raw).iter().any(|r| r.starts_with(prefix))
    }

    #[test]
    fn each_server_quirk_has_its_reading() {
        for raw in [
            "/checkout/..;/order-42",
            "/checkout;/../order-42",
            "/x/..;/checkout",
            "/checkout/%2e%2e/x",
            "/x/%252e%252e/checkout",
            "/x/%2e%2e%2fcheckout",
            "/x%5c..%5ccheckout",
            "/x/%c0%ae%c0%ae/checkout",
            // Overlong `/` both ways (C0 AF, C1 9C) around a `..`.
            "/x%c0%af..%c0%afcheckout",
            "/x%c1%9c..%c1%9ccheckout",
            // Only a server that drops everything after the first `;`
            // reads this as `/checkout`; the others resolve it to `/x`.
            "/public/../checkout;/../../x",
            // Only merging slashes (Apache's default) reads `/checkout`.
            "//checkout",
            "/checkout//../x",
            "/CHECKOUT/../x",
            "/x;/../checkout",
            "/checkout./../x",
            "/checkou%74/../x",
        ] {
            assert!(any_under(raw, "/checkout"), "{raw}: {:?}", readings(raw));
        }
        assert!(any_under("/checkout./pay", "/checkout/pay"));
        assert!(any_under("/checkout%20/pay", "/checkout/pay"));
        assert!(any_under("/x;/checkout", "/x/checkout"));
        assert!(!any_under("/public/page", "/checkout"));
        assert!(!any_under("/public;jsessionid=1", "/checkout"));
    }

    /// Windows drops trailing dots and spaces from a name, but `.` and
    /// `..` are still the dot segments: IIS resolves them, it does not
    /// empty them.
    #[test]
    fn trailing_dots_go_but_dot_segments_stay() {
        let read = super::strip_trailing_dots(b"/a./b ./../c/./d..");
        assert_eq!(String::from_utf8_lossy(&read), "/a/b/../c/./d");
    }

    #[test]
    fn dots_resolve_like_rfc_3986() {
        let r = readings("/a/b/../c/./d/..");
        assert!(r.contains("/a/c/"), "{r:?}");
        assert!(readings("/../../x").contains("/x"));
        assert!(readings("/").contains("/"));
    }
}
