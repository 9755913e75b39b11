//! What otpgate's own endpoints share, built once at start-up: the OTP
//! steps' context, sessions and cookies, the pages, the CSRF key, and whom
//! to believe about the client's address. No endpoint sees the `Gateway`.

use std::sync::Arc;

use http::HeaderMap;

use super::sealed::Sealer;
use crate::config::{Config, HoldConfig};
use crate::conn::TrustedProxies;
use crate::flow::{FlowCtx, FlowError};
use crate::lookup::PhoneLookup;
use crate::pages::Pages;
use crate::policy::Policy;
use crate::pow::Pow;
use crate::secret::Secret;
use crate::session::CookieSealer;
use crate::sessions::Sessions;
use crate::sms::ProviderConfig;

pub struct Own {
    /// The OTP steps' narrow context (store, clock, SMS, metrics, keys).
    pub flow: FlowCtx,
    pub sessions: Sessions,
    pub cookies: Arc<CookieSealer>,
    pub trusted: TrustedProxies,
    /// The routes, for forward auth's verdicts.
    pub policy: Arc<Policy>,
    pub pages: Pages,
    /// Keys the form tokens (HMAC of the CSRF cookie).
    pub csrf_key: [u8; 32],
    /// `phone.default_region` as text, for the phone page's hint.
    pub region_code: String,
    /// Registered-number mode: the storefront names the phone.
    pub lookup: Option<PhoneLookup>,
    /// Twilio's auth token and the `status_callback` URL it signs.
    pub twilio_status: Option<(Secret, String)>,
    /// `[hold]`: whether and how much of a protected POST is kept.
    pub hold: HoldConfig,
    /// Seals held requests (sealed.rs).
    pub sealer: Sealer,
    /// `[pow]`: prices a risky send in the shopper's CPU time (pow.rs).
    pub pow: Pow,
}

impl Own {
    pub fn new(
        cfg: &Config,
        flow: FlowCtx,
        sessions: Sessions,
        cookies: Arc<CookieSealer>,
        policy: Arc<Policy>,
        csrf_key: [u8; 32],
    ) -> Self {
        Own {
            flow,
            sessions,
            cookies,
            trusted: TrustedProxies::new(&cfg.server.trusted_proxies),
            policy,
            pages: Pages::new(&cfg.brand),
            csrf_key,
            region_code: format!("{:?}", cfg.phone.default_region),
            lookup: cfg.phone.lookup_url.as_ref().map(|u| {
                PhoneLookup::new(
                    u,
                    cfg.upstream
                        .connect_timeout
                        .max(std::time::Duration::from_secs(3)),
                )
            }),
            twilio_status: cfg.sms.chain.iter().find_map(|p| match p {
                ProviderConfig::Twilio(t) => {
                    Some((t.auth_token.clone()?, t.status_callback.clone()?))
                }
                _ => None,
            }),
            hold: cfg.hold.clone(),
            sealer: Sealer::new(cfg.session.secrets[0].expose().as_bytes()),
            pow: Pow::new(
                &cfg.pow,
                &cfg.limits.pumping,
                crate::otp::derive_key(cfg.session.secrets[0].expose().as_bytes(), "pow"),
            ),
        }
    }

    /// The number to text: the one the shopper typed or, in registered-number
    /// mode (`phone.lookup_url`), the one the storefront has for the signed-in
    /// customer — then anything typed is ignored.
    pub async fn number_to_text(
        &self,
        headers: &HeaderMap,
        typed: &str,
    ) -> Result<String, FlowError> {
        let Some(lookup) = &self.lookup else {
            return Ok(typed.to_string());
        };
        let own = [
            self.cookies.session_name.as_str(),
            &self.cookies.pending_name,
            &self.cookies.csrf_name,
        ];
        match lookup.registered_phone(headers, &own).await {
            Ok(Some(phone)) => Ok(phone),
            Ok(None) => Err(FlowError::NotSignedIn),
            Err(_) => Err(FlowError::Store),
        }
    }
}
