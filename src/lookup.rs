//! Registered-number mode (`[phone] lookup_url`): the storefront, not the
//! shopper, says which number a signed-in customer has, so step-up proves
//! possession of *that* number (a thief with the account session cannot
//! type their own). otpgate calls the URL with the shopper's own cookies
//! (never otpgate's) and expects `200 {"phone": "+919812345678"}`, or
//! `401`/`404` when nobody is signed in.

use std::time::Duration;

use http::header::{COOKIE, USER_AGENT};
use http::HeaderMap;

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("the storefront's phone lookup failed")]
    Unavailable,
    #[error("the storefront's phone lookup answered something other than {{\"phone\": …}}")]
    Malformed,
}

pub struct PhoneLookup {
    client: reqwest::Client,
    url: String,
}

impl PhoneLookup {
    pub fn new(url: &http::Uri, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client with rustls builds");
        PhoneLookup {
            client,
            url: url.to_string(),
        }
    }

    /// The signed-in customer's number as the storefront has it, or `None`
    /// when the storefront says nobody is signed in.
    pub async fn registered_phone(
        &self,
        headers: &HeaderMap,
        own_cookies: &[&str],
    ) -> Result<Option<String>, LookupError> {
        let mut forwarded = HeaderMap::new();
        for name in [COOKIE, USER_AGENT] {
            for v in headers.get_all(&name) {
                forwarded.append(name.clone(), v.clone());
            }
        }
        crate::headers::strip_cookies(&mut forwarded, own_cookies);
        let resp = self
            .client
            .get(&self.url)
            .headers(forwarded)
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "phone lookup failed");
                LookupError::Unavailable
            })?;
        match resp.status().as_u16() {
            200 => {}
            401 | 403 | 404 => return Ok(None),
            status => {
                tracing::warn!(status, "phone lookup answered an error");
                return Err(LookupError::Unavailable);
            }
        }
        let v: serde_json::Value = resp.json().await.map_err(|_| LookupError::Malformed)?;
        match v.get("phone") {
            Some(serde_json::Value::String(p)) if !p.is_empty() => Ok(Some(p.clone())),
            Some(serde_json::Value::Null) | None => Ok(None),
            Some(_) => Err(LookupError::Malformed),
        }
    }
}
