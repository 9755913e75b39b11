//! Transaction routes against the rest of the file: they hold requests
//! (`[hold]` must be on), and the SMS placeholders `{amount}` and
//! `{payee}` mean something only where such a route exists.

use super::kit::Problems;
use crate::config::{HoldConfig, OtpConfig, RouteRule};

pub(super) fn check(
    p: &mut Problems,
    routes: &[RouteRule],
    hold: &HoldConfig,
    otp: &OtpConfig,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let transaction = routes.iter().position(RouteRule::is_transaction);
    let amount = routes.iter().any(|r| r.amount_field.is_some());
    if let (Some(i), false) = (transaction, hold.enabled) {
        // The code is bound to the held request; without holding there is
        // nothing to bind it to, and no session may stand in for it.
        p.add(
            &format!("route[{i}].confirm"),
            "\"transaction\" needs [hold] enabled = true: each request is held and sent once after its own code",
        );
    }
    let texts = std::iter::once(("otp.message".to_string(), &otp.message)).chain(
        otp.messages
            .iter()
            .map(|(l, m)| (format!("otp.messages.{l}"), m)),
    );
    for (key, text) in texts {
        if text.contains("{payee}") && transaction.is_none() {
            p.add(
                &key,
                "{payee} is only filled in for a transaction route; no [[route]] has confirm = \"transaction\"",
            );
        }
        if text.contains("{amount}") && !amount {
            p.add(
                &key,
                "{amount} is only filled in for a transaction route with amount_field; no [[route]] names one",
            );
        }
        if amount && !text.contains("{amount}") {
            warnings.push(format!(
                "{key}: a [[route]] names amount_field but the SMS does not show {{amount}}: \
                 the shopper should see what the code confirms (PSD2 RTS art. 5)"
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::super::parse_for_test as parse;

    const PAY: &str =
        "[[route]]\npath = \"/pay\"\nmethods = [\"POST\"]\nconfirm = \"transaction\"\n";

    fn refused(extra: &str, key: &str, says: &str) {
        let e = parse(extra)
            .err()
            .unwrap_or_else(|| panic!("accepted: {extra}"));
        assert!(e.contains(key) && e.contains(says), "{extra}\n=> {e}");
    }

    #[test]
    fn a_transaction_route_is_checked_key_by_key() {
        let ok = parse(&format!("{PAY}amount_field = \"amount\"\ncurrency = \"USD\"\n[otp]\nmessage = \"{{code}} {{brand}}: pay {{amount}} to {{payee}}\"")).unwrap();
        let r = &ok.routes[0];
        assert!(r.is_transaction());
        assert_eq!(
            (r.amount_field.as_deref(), r.currency.as_str()),
            (Some("amount"), "USD")
        );
        assert!(
            ok.warnings.iter().all(|w| !w.contains("{amount}")),
            "{:?}",
            ok.warnings
        );
        let plain = parse("[[route]]\npath = \"/c\"").unwrap();
        assert!(!plain.routes[0].is_transaction());
        assert_eq!(plain.routes[0].currency, "INR");

        refused(
            "[[route]]\npath = \"/c\"\nconfirm = \"payment\"",
            "route[0].confirm",
            "transaction",
        );
        refused(
            &format!("{PAY}amount_field = \"amount\"\ncurrency = \"inr\""),
            "route[0].currency",
            "ISO 4217",
        );
        refused(
            &format!("{PAY}amount_field = \"amount\"\ncurrency = \"RUPEE\""),
            "route[0].currency",
            "ISO 4217",
        );
        refused(
            "[[route]]\npath = \"/c\"\namount_field = \"amount\"",
            "route[0].amount_field",
            "confirm = \"transaction\"",
        );
        refused(
            "[[route]]\npath = \"/c\"\ncurrency = \"USD\"",
            "route[0].currency",
            "transaction",
        );
        refused(
            &format!("{PAY}currency = \"USD\""),
            "route[0].currency",
            "amount_field",
        );
        refused(
            &format!("{PAY}amount_field = \"a[b]\""),
            "route[0].amount_field",
            "field name",
        );
        refused(
            "[[route]]\npath = \"/pay\"\nconfirm = \"transaction\"",
            "route[0].methods",
            "POST",
        );
        refused(
            "[[route]]\npath = \"/pay\"\nmethods = [\"GET\"]\nconfirm = \"transaction\"",
            "route[0].methods",
            "POST",
        );
        refused(
            &format!("{PAY}max_age = \"5m\""),
            "route[0].max_age",
            "session",
        );
        refused(
            &format!("{PAY}require = \"none\""),
            "route[0].confirm",
            "require",
        );
        refused(
            &format!("{PAY}[hold]\nenabled = false"),
            "route[0].confirm",
            "hold",
        );
    }

    #[test]
    fn amount_and_payee_are_used_only_where_they_mean_something() {
        refused(
            "[otp]\nmessage = \"{code} {brand} {amount}\"",
            "otp.message",
            "amount_field",
        );
        refused(
            "[otp]\nmessage = \"{code} {brand} {payee}\"",
            "otp.message",
            "transaction",
        );
        refused(
            &format!("{PAY}[otp]\nmessage = \"{{code}} {{brand}} {{amount}}\""),
            "otp.message",
            "amount_field",
        );
        // A transaction without amount_field may name the payee.
        parse(&format!(
            "{PAY}[otp]\nmessage = \"{{code}} {{brand}}: pay {{payee}}\""
        ))
        .unwrap();
        let warned = parse(&format!("{PAY}amount_field = \"amount\"")).unwrap();
        assert!(
            warned
                .warnings
                .iter()
                .any(|w| w.contains("otp.message") && w.contains("{amount}")),
            "{:?}",
            warned.warnings
        );
    }
}
