//! `[[route]]`: which paths need a code, for which methods, and how fresh
//! the session must be.

use std::time::Duration;

use super::kit::{duration, Problems};
use crate::config::raw::RawConfig;
use crate::config::raw::RawRoute;
use crate::config::{Confirmation, Require, RouteRule};
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
        let confirm = match p.choice(
            &key("confirm"),
            r.confirm.as_deref().unwrap_or("session"),
            &["session", "transaction"],
        ) {
            Some("transaction") => Confirmation::Transaction,
            _ => Confirmation::Session,
        };
        let rule = RouteRule {
            path: norm,
            require,
            max_age: duration(p, &key("max_age"), r.max_age.as_ref(), "15m"),
            methods,
            confirm,
            amount_field: r.amount_field.clone(),
            currency: r.currency.clone().unwrap_or_else(|| "INR".into()),
        };
        transaction(p, i, r, &rule);
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

/// A transaction route's keys (SPEC "Checkout integrity"): each request is
/// held and confirmed by its own code, so it must be a request that can be
/// held, and `amount_field`/`currency` mean something only there.
fn transaction(p: &mut Problems, i: usize, r: &RawRoute, rule: &RouteRule) {
    let key = |leaf: &str| format!("route[{i}].{leaf}");
    let bodies = ["POST", "PUT", "PATCH"];
    if !rule.is_transaction() {
        if r.amount_field.is_some() {
            p.add(
                &key("amount_field"),
                "needs confirm = \"transaction\": only a transaction route's code is bound to an amount",
            );
        }
        if r.currency.is_some() {
            p.add(
                &key("currency"),
                "needs confirm = \"transaction\" and amount_field",
            );
        }
        return;
    }
    if rule.require == Require::None {
        p.add(
            &key("confirm"),
            "\"transaction\" needs require = \"otp\": a route that needs no code has nothing to confirm",
        );
    }
    if rule.methods.is_empty() || rule.methods.iter().any(|m| !bodies.contains(&m.as_str())) {
        p.add(
            &key("methods"),
            "a transaction route needs methods from [\"POST\", \"PUT\", \"PATCH\"]: only a request with a body is held and confirmed by its own code (a GET is not a transaction, RFC 9110 §9.2.1)",
        );
    }
    if r.max_age.is_some() {
        p.add(
            &key("max_age"),
            "a transaction route never accepts a session, so no max_age applies",
        );
    }
    if let Some(f) = &r.amount_field {
        if f.is_empty() || f.contains(['[', ']']) || f.chars().any(char::is_control) {
            p.add(
                &key("amount_field"),
                format!(
                    "`{f}` is not a field name: a top-level form or JSON field, e.g. \"amount\""
                ),
            );
        }
    } else if r.currency.is_some() {
        p.add(
            &key("currency"),
            "needs amount_field: the currency of which amount?",
        );
    }
    if !crate::money::is_currency_code(&rule.currency) {
        p.add(
            &key("currency"),
            format!(
                "`{}` is not an ISO 4217 code: three letters A-Z, e.g. \"INR\"",
                rule.currency
            ),
        );
    }
}
