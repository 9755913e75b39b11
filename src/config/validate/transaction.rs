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
