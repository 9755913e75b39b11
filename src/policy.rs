//! Which rule covers a request: the longest matching prefix of the
//! normalized, lower-cased path, like an nginx `location`.

use http::Method;

use crate::config::{Require, RouteRule};

/// otpgate's own pages live under this prefix and are never forwarded.
pub const OWN_PREFIX: &str = "/.otpgate";

pub fn is_own(match_key: &str) -> bool {
    match_key
        .strip_prefix(OWN_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

pub struct Policy {
    /// Longest path first, so the first match is the longest.
    rules: Vec<RouteRule>,
}

impl Policy {
    pub fn new(mut rules: Vec<RouteRule>) -> Self {
        rules.sort_by_key(|r| std::cmp::Reverse(r.path.len()));
        Policy { rules }
    }

    /// The rule for this request, or `None` (pass through).
    ///
    /// A `POST` may be any method in disguise: Rails, Laravel, Symfony and
    /// Express read `_method` from a form, JSON or multipart body (or a
    /// query, or an override header that headers.rs strips), where otpgate
    /// cannot see it without buffering every body. So a `POST` is judged as
    /// the strictest of the requests it could become: itself, or any method
    /// a rule on this path names. `methods = ["DELETE"]` on `/cart` thus
    /// covers `POST /cart` too.
    pub fn rule_for(&self, method: &Method, match_key: &str) -> Option<&RouteRule> {
        let direct = self.rule_for_method(method.as_str(), match_key);
        if !method.as_str().eq_ignore_ascii_case("POST") {
            return direct;
        }
        self.rules
            .iter()
            .filter(|r| match_key.starts_with(r.path.as_str()))
            .flat_map(|r| r.methods.iter())
            .filter_map(|m| self.rule_for_method(m, match_key))
            .chain(direct)
            .min_by_key(|r| r.strictness())
    }

    fn rule_for_method(&self, method: &str, match_key: &str) -> Option<&RouteRule> {
        self.rules
            .iter()
            .find(|r| match_key.starts_with(r.path.as_str()) && method_matches(&r.methods, method))
            .filter(|r| r.require == Require::Otp)
    }

    /// The rule for a path when the method is unknown: the longest match
    /// among rules of any method that require a session (fail closed).
    pub fn rule_for_any_method(&self, match_key: &str) -> Option<&RouteRule> {
        for r in self
            .rules
            .iter()
            .filter(|r| match_key.starts_with(r.path.as_str()))
        {
            if r.methods.is_empty() {
                return (r.require == Require::Otp).then_some(r);
            }
            if r.require == Require::Otp {
                return Some(r);
            }
            // A method-limited "none" rule may not apply: look further.
        }
        None
    }

    /// Some route never accepts a session (`confirm = "transaction"`).
    pub fn has_transaction(&self) -> bool {
        self.rules.iter().any(RouteRule::is_transaction)
    }

    /// The shortest `max_age` of any protected rule: what an unknown target
    /// must satisfy in forward-auth (fail closed).
    pub fn strictest_max_age(&self) -> Option<std::time::Duration> {
        self.rules
            .iter()
            .filter(|r| r.require == Require::Otp)
            .map(|r| r.max_age)
            .min()
    }
}

/// Methods compare case-insensitively (some frameworks accept `post`), and
/// `GET` covers `HEAD`: a rule must not be dodged by respelling the method.
fn method_matches(methods: &[String], m: &str) -> bool {
    if methods.is_empty() {
        return true;
    }
    methods
        .iter()
        .any(|r| r.eq_ignore_ascii_case(m) || (r == "GET" && m.eq_ignore_ascii_case("HEAD")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rule(path: &str, require: Require, methods: &[&str]) -> RouteRule {
        RouteRule {
            path: path.into(),
            require,
            max_age: Duration::from_secs(900),
            methods: methods.iter().map(|m| m.to_string()).collect(),
            confirm: crate::config::Confirmation::Session,
            amount_field: None,
            currency: "INR".into(),
        }
    }

    #[test]
    fn a_post_that_could_reach_a_transaction_is_judged_as_one() {
        let mut pay = rule("/checkout/pay", Require::Otp, &["PUT"]);
        pay.confirm = crate::config::Confirmation::Transaction;
        let mut short = rule("/checkout", Require::Otp, &["POST"]);
        short.max_age = Duration::from_secs(1);
        let p = Policy::new(vec![short, pay]);
        // `_method=PUT` in the body: strictest is the transaction, even
        // beside a one-second session rule.
        assert!(p
            .rule_for(&Method::POST, "/checkout/pay")
            .unwrap()
            .is_transaction());
        assert!(p
            .rule_for(&Method::PUT, "/checkout/pay")
            .unwrap()
            .is_transaction());
        assert!(!p
            .rule_for(&Method::POST, "/checkout/cart")
            .unwrap()
            .is_transaction());
        assert!(p.has_transaction());
    }

    #[test]
    fn longest_prefix_wins_and_methods_filter() {
        let p = Policy::new(vec![
            rule("/checkout", Require::Otp, &[]),
            rule("/checkout/assets", Require::None, &[]),
            rule("/cart", Require::Otp, &["POST"]),
        ]);
        assert!(p.rule_for(&Method::GET, "/checkout").is_some());
        assert!(p.rule_for(&Method::GET, "/checkout-success").is_some());
        assert!(p.rule_for(&Method::GET, "/checkout/assets/a.css").is_none());
        assert!(p.rule_for(&Method::GET, "/cart").is_none());
        assert!(p.rule_for(&Method::POST, "/cart").is_some());
        let lower = Method::from_bytes(b"post").unwrap();
        assert!(p.rule_for(&lower, "/cart").is_some());
    }

    #[test]
    fn a_post_is_judged_as_any_method_it_could_override_to() {
        let p = Policy::new(vec![
            rule("/cart", Require::Otp, &["DELETE"]),
            rule("/cart/items", Require::None, &["POST"]),
            rule("/orders", Require::Otp, &["PUT", "PATCH"]),
            rule("/open", Require::None, &[]),
        ]);
        assert!(p.rule_for(&Method::GET, "/cart").is_none());
        assert!(p.rule_for(&Method::DELETE, "/cart").is_some());
        assert!(p.rule_for(&Method::POST, "/cart").is_some());
        let lower = Method::from_bytes(b"post").unwrap();
        assert!(p.rule_for(&lower, "/cart").is_some());
        // A `none` rule for POST cannot open what the override would reach.
        assert!(p.rule_for(&Method::POST, "/cart/items").is_some());
        assert!(p.rule_for(&Method::POST, "/orders/1").is_some());
        assert!(p.rule_for(&Method::PUT, "/orders/1").is_some());
        assert!(p.rule_for(&Method::POST, "/open").is_none());
    }

    #[test]
    fn own_prefix() {
        assert!(is_own("/.otpgate/login"));
        assert!(is_own("/.otpgate"));
        assert!(!is_own("/.otpgatex"));
    }
}
