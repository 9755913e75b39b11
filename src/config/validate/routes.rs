//! `[[route]]`: which paths need a code, for which methods, and how fresh
//! the session must be.

use std::time::Duration;

use super::kit::{duration, Problems};
use crate::config::raw::RawConfig;
use crate::config::{Require, RouteRule};
use crate::normalize::normalize_path;

pub(super) fn routes(p: &mut Problems, raw: &RawConfig, session_ttl: Duration) -> Vec<RouteRule> {
    let mut routes: Vec<RouteRule> = Vec::new();
    for (i, r) in raw.route.iter().enumerate() {
        let key = |leaf: &str| format!("route[{i}].{leaf}");
        let Some(path) = r.path.as_deref() else {
            p.add(
                &key("path"),
                "missing: the path prefix this rule covers, e.g. \"/checkout\"",
            );
            continue;
        };
        let norm = match normalize_path(path) {
            Ok(n) => n.match_key().to_string(),
            Err(e) => {
                p.add(&key("path"), format!("`{path}` is not a usable path: {e}"));
                continue;
            }
        };
        if norm.starts_with("/.otpgate") {
            p.add(
                &key("path"),
                "/.otpgate/ is reserved for otpgate's own pages",
            );
        }
        let require = match p.choice(
            &key("require"),
            r.require.as_deref().unwrap_or("otp"),
            &["otp", "none"],
        ) {
            Some("none") => Require::None,
            _ => Require::Otp,
        };
        let mut methods = Vec::new();
        for m in r.methods.iter().flatten() {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
                p.add(&key("methods"), format!("`{m}` is not an HTTP method"));
            } else {
                methods.push(m.to_ascii_uppercase());
            }
        }
        let rule = RouteRule {
            path: norm,
            require,
            max_age: duration(p, &key("max_age"), r.max_age.as_ref(), "15m"),
            methods,
        };
        if routes
            .iter()
            .any(|o| o.path == rule.path && o.methods == rule.methods)
        {
            p.add(
                &key("path"),
                format!(
                    "`{path}` is already covered by an earlier [[route]] with the same methods"
                ),
            );
        }
        if rule.max_age > session_ttl && rule.require == Require::Otp {
            p.add(
                &key("max_age"),
                "is longer than session.ttl: sessions expire first",
            );
        }
        routes.push(rule);
    }
    routes
}
