//! Which language a page is shown in: the `lang` query parameter (the
//! page's language switch; it also sets the cookie), then the
//! `otpgate-lang` cookie, then `Accept-Language` with its q-values
//! (RFC 9110 §12.5.4, ranges matched as RFC 4647 §3.3.1 lookup: `hi-IN`
//! falls back to `hi`), then the first of `[brand] languages`. A language
//! not offered is ignored wherever it comes from.

pub const COOKIE: &str = "otpgate-lang";

/// The language to show and, when the shopper just picked it, the cookie
/// that remembers the choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub lang: String,
    pub set_cookie: Option<String>,
}

/// `range` names `tag` if they are equal or `range` is more specific
/// (`hi-IN` for `hi`); case-insensitive (RFC 5646 §2.1.1).
fn matches(range: &str, tag: &str) -> bool {
    let range = range.to_ascii_lowercase();
    let mut r = range.as_str();
    loop {
        if r == tag {
            return true;
        }
        match r.rfind('-') {
            Some(i) => r = &r[..i],
            None => return false,
        }
    }
}

fn offered_match<'a>(offered: &'a [String], range: &str) -> Option<&'a String> {
    offered.iter().find(|tag| matches(range.trim(), tag))
}

/// The best offered language for an `Accept-Language` value, if any.
pub fn from_accept_language<'a>(offered: &'a [String], header: &str) -> Option<&'a String> {
    let mut ranges: Vec<(u16, usize, &str)> = Vec::new();
    for (i, item) in header.split(',').enumerate().take(32) {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or("").trim();
        if range.is_empty() {
            continue;
        }
        let mut q = 1000;
        for param in parts {
            let (k, v) = param.split_once('=').unwrap_or((param, ""));
            if k.trim().eq_ignore_ascii_case("q") {
                q = qvalue(v.trim()).unwrap_or(0);
            }
        }
        if q > 0 {
            ranges.push((q, i, range));
        }
    }
    // Highest q first; equal q keep the order written.
    ranges.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let refused: Vec<&str> = header
        .split(',')
        .filter_map(|item| {
            let (range, params) = item.split_once(';')?;
            let q = params.split(';').find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim().eq_ignore_ascii_case("q").then(|| qvalue(v.trim()))
            })??;
            (q == 0).then_some(range.trim())
        })
        .collect();
    for (_, _, range) in ranges {
        if range == "*" {
            // Anything not refused: the first offered one.
            return offered
                .iter()
                .find(|tag| !refused.iter().any(|r| matches(r, tag)));
        }
        if let Some(tag) = offered_match(offered, range) {
            return Some(tag);
        }
    }
    None
}

/// RFC 9110 §12.4.2 `qvalue` in thousandths; `None` if malformed.
fn qvalue(v: &str) -> Option<u16> {
    let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_val: u16 = format!("{frac:0<3}").parse().ok()?;
    match whole {
        "0" => Some(frac_val),
        "1" if frac_val == 0 => Some(1000),
        _ => None,
    }
}

/// The choice for one request. `offered` is never empty (validated).
pub fn choose(
    offered: &[String],
    query: Option<&str>,
    cookie: Option<&str>,
    accept_language: Option<&str>,
) -> Choice {
    if let Some(tag) = query.and_then(|q| offered_match(offered, q)) {
        return Choice {
            lang: tag.clone(),
            set_cookie: Some(cookie_for(tag)),
        };
    }
    let tag = cookie
        .and_then(|c| offered.iter().find(|t| t.as_str() == c))
        .or_else(|| accept_language.and_then(|h| from_accept_language(offered, h)))
        .unwrap_or(&offered[0]);
    Choice {
        lang: tag.clone(),
        set_cookie: None,
    }
}

/// A year, site-wide: it holds nothing but a tag from the offered list.
fn cookie_for(tag: &str) -> String {
    format!("{COOKIE}={tag}; Path=/; Max-Age=31536000; Secure; HttpOnly; SameSite=Lax")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered() -> Vec<String> {
        vec!["en".into(), "hi".into()]
    }

    fn accept(h: &str) -> Option<String> {
        from_accept_language(&offered(), h).cloned()
    }

    #[test]
    fn q_values_rank_the_ranges() {
        assert_eq!(
            accept("hi-IN,hi;q=0.9,en-US;q=0.8,en;q=0.7").as_deref(),
            Some("hi")
        );
        assert_eq!(accept("en;q=0.5, hi;q=0.8").as_deref(), Some("hi"));
        assert_eq!(accept("hi;q=0.5, en").as_deref(), Some("en"));
        assert_eq!(accept("hi;q=0, en;q=0.1").as_deref(), Some("en"));
        assert_eq!(accept("en-GB;q=0.400,hi;q=0.399").as_deref(), Some("en"));
        // Equal q: the order written.
        assert_eq!(accept("hi;q=0.5,en;q=0.5").as_deref(), Some("hi"));
        // A malformed q counts as 0, not as 1.
        assert_eq!(accept("hi;q=2, en;q=0.2").as_deref(), Some("en"));
        assert_eq!(accept("hi;q=abc").as_deref(), None);
    }

    #[test]
    fn regions_fall_back_to_the_language_and_unknown_tags_are_ignored() {
        assert_eq!(accept("hi-IN").as_deref(), Some("hi"));
        assert_eq!(accept("HI-in").as_deref(), Some("hi"));
        assert_eq!(accept("hi-Deva-IN").as_deref(), Some("hi"));
        assert_eq!(accept("ta-IN, fr;q=0.9").as_deref(), None);
        assert_eq!(accept("ta-IN, hi;q=0.1").as_deref(), Some("hi"));
        // A prefix of a tag is not that tag.
        assert_eq!(accept("h, e, hin").as_deref(), None);
        assert_eq!(accept("").as_deref(), None);
        assert_eq!(accept(" , ;q=1").as_deref(), None);
    }

    #[test]
    fn star_means_anything_not_refused() {
        assert_eq!(accept("*").as_deref(), Some("en"));
        assert_eq!(accept("en;q=0, *").as_deref(), Some("hi"));
        assert_eq!(accept("ta, *;q=0.1").as_deref(), Some("en"));
    }

    #[test]
    fn the_switch_beats_the_cookie_which_beats_the_header() {
        let o = offered();
        let c = choose(&o, Some("hi"), Some("en"), Some("en"));
        assert_eq!(c.lang, "hi");
        let set = c.set_cookie.unwrap();
        assert!(
            set.starts_with("otpgate-lang=hi;") && set.contains("Secure"),
            "{set}"
        );
        let c = choose(&o, None, Some("hi"), Some("en"));
        assert_eq!(
            c,
            Choice {
                lang: "hi".into(),
                set_cookie: None
            }
        );
        assert_eq!(choose(&o, None, None, Some("hi-IN")).lang, "hi");
        assert_eq!(choose(&o, None, None, None).lang, "en");
        // Not offered: ignored at every step, and never written to a cookie.
        let c = choose(&o, Some("ta"), Some("fr"), Some("de"));
        assert_eq!(
            c,
            Choice {
                lang: "en".into(),
                set_cookie: None
            }
        );
        let c = choose(&o, Some("hi; Domain=evil"), None, None);
        assert_eq!(c.set_cookie, None);
        // Only the first offered language is the default.
        let hi_first = vec!["hi".to_string(), "en".to_string()];
        assert_eq!(choose(&hi_first, None, None, None).lang, "hi");
    }
}
