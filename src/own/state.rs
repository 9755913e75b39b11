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
use crate::sms::dlr::VonageMethod;
use crate::sms::voice::VoiceProvider;
use crate::sms::whatsapp::WhatsappProvider;
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
    /// Every Twilio account with a `status_callback` (SMS, WhatsApp,
    /// voice): its auth token and the URL Twilio signs (receipts.rs).
    pub twilio_status: Vec<(Secret, String)>,
    /// `[sms.msg91] dlr_token`: the secret in MSG91's report URL.
    pub msg91_dlr: Option<Secret>,
    /// `[sms.vonage] signature_secret` and method: signed receipts.
    pub vonage_dlr: Option<(Secret, VonageMethod)>,
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
            twilio_status: twilio_callbacks(cfg),
            msg91_dlr: cfg.sms.chain.iter().find_map(|p| match p {
                ProviderConfig::Msg91(m) => m.dlr_token.clone(),
                _ => None,
            }),
            vonage_dlr: cfg.sms.chain.iter().find_map(|p| match p {
                ProviderConfig::Vonage(v) => v.signature.clone(),
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

/// The (auth token, callback URL) of every Twilio sender that asks for
/// status callbacks: each signs with its own account's token.
fn twilio_callbacks(cfg: &Config) -> Vec<(Secret, String)> {
    let mut out = Vec::new();
    for p in &cfg.sms.chain {
        if let ProviderConfig::Twilio(t) = p {
            if let (Some(token), Some(url)) = (&t.auth_token, &t.status_callback) {
                out.push((token.clone(), url.clone()));
            }
        }
    }
    let channels = &cfg.channels;
    for p in channels.whatsapp.iter().flat_map(|c| &c.chain) {
        if let WhatsappProvider::Twilio(t) = p {
            if let Some(url) = &t.status_callback {
                out.push((t.account.auth_token.clone(), url.clone()));
            }
        }
    }
    for p in channels.voice.iter().flat_map(|c| &c.chain) {
        if let VoiceProvider::Twilio(t) = p {
            if let Some(url) = &t.status_callback {
                out.push((t.account.auth_token.clone(), url.clone()));
            }
        }
    }
    out
}
