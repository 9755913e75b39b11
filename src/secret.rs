//! The one type for every secret otpgate is configured with: a leaf, so
//! `sms/` and `config/` can both hold secrets without importing each other.

use std::fmt;

/// A secret value (session key, token, header value): no `Display`, and
/// `Debug` prints no value, so a stray `{:?}` cannot leak it. The one type
/// for every secret in the configuration, the SMS providers' included.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// `url` with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let shown = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                "***".to_string()
            };
            format!("{}{shown}{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}
