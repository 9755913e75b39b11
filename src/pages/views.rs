//! The pages' data: the views the endpoints fill in, the loaded pages,
//! escaping, and the one script every page runs. Shared by pages.rs and
//! its renderers, so neither reaches back into the other.

use std::path::PathBuf;

use http::HeaderValue;
use minijinja::Environment;

use super::strings::Strings;

/// Counts down every `[data-countdown]` (a rate-limit wait; the resend
/// delay, during which the resend button is off), then WebOTP
/// (`navigator.credentials.get({otp})`). Its text comes from the page, so
/// the script, and its CSP hash, are the same in every language.
pub(super) const SCRIPT: &str = r#"(function(){function tick(n,done){var s=parseInt(n.getAttribute('data-countdown'),10)||0;(function t(){n.textContent=s;if(s>0){s--;setTimeout(t,1000)}else if(done){done()}})()}
var b=document.getElementById('resend'),c=document.getElementById('countdown'),n=c&&c.querySelector('[data-countdown]');if(b&&n){b.disabled=true;tick(n,function(){b.disabled=false;c.hidden=true;var r=document.getElementById('resend-ready');r.textContent=r.getAttribute('data-text')})}
var w=document.querySelectorAll('.alert [data-countdown]');for(var k=0;k<w.length;k++)tick(w[k]);
var i=document.getElementById('code');if(i&&'OTPCredential' in window){var a=new AbortController();var f=i.form;f.addEventListener('submit',function(){a.abort()});navigator.credentials.get({otp:{transport:['sms']},signal:a.signal}).then(function(o){if(o&&o.code){i.value=o.code;f.submit()}}).catch(function(){})}})();"#;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One offered language and its complete strings.
pub(super) struct Language {
    pub(super) tag: String,
    pub(super) strings: Strings,
}

pub struct Pages {
    pub(super) env: Environment<'static>,
    /// In `[brand] languages` order; the first is the default.
    pub(super) languages: Vec<Language>,
    pub(super) offered: Vec<String>,
    pub(super) style: String,
    pub csp: HeaderValue,
    pub(super) brand_name: String,
    pub(super) logo_url: Option<String>,
}

/// A flow error to announce, by its code (`FlowError::code`, the JSON
/// API's `error`): the page says it in the shopper's language.
#[derive(Debug, Default, Clone, Copy)]
pub struct Alert<'a> {
    pub code: &'a str,
    /// A rate limit's wait, counted down on the page.
    pub retry_after_secs: Option<u64>,
    /// Wrong code: tries left.
    pub remaining: Option<u32>,
}

#[derive(Debug, Default)]
pub struct LoginView<'a> {
    /// The default region's ISO code; its dial code is shown before the field.
    pub region: &'a str,
    pub csrf: &'a str,
    pub rd: &'a str,
    pub phone: &'a str,
    /// Text shown as is (when there is no `alert`).
    pub error: Option<&'a str>,
    pub alert: Option<Alert<'a>>,
    /// An offered language tag; empty means the default.
    pub lang: &'a str,
    /// A held transaction's amount, formatted: "Confirm ₹1,299.00 to …".
    pub amount: Option<&'a str>,
}

#[derive(Debug, Default)]
pub struct VerifyView<'a> {
    pub csrf: &'a str,
    pub rd: &'a str,
    pub masked_phone: &'a str,
    pub code_length: u32,
    pub resend_in_secs: u64,
    /// Other channels to get the same code by (`whatsapp`, `voice`,
    /// `sms`), each a button; empty before the resend delay has passed.
    pub channels: &'a [&'static str],
    /// A provider reported the last message undelivered.
    pub delivery_failed: bool,
    pub error: Option<&'a str>,
    pub alert: Option<Alert<'a>>,
    /// Text shown as is (when there is no `notice_key`).
    pub notice: Option<&'a str>,
    /// A strings key, e.g. `"new_code_sent"`.
    pub notice_key: Option<&'a str>,
    pub lang: &'a str,
    /// A held transaction's amount, formatted: "Confirm ₹1,299.00 to …".
    pub amount: Option<&'a str>,
}

#[derive(Debug, Default)]
pub struct LogoutView<'a> {
    /// Where "Back to the shop" goes (a checked local path).
    pub rd: &'a str,
    pub lang: &'a str,
}

/// Where a merchant's template files live, for messages.
pub fn template_path(dir: Option<&std::path::Path>, name: &str) -> PathBuf {
    dir.map_or_else(
        || PathBuf::from(format!("(built-in) {name}")),
        |d| d.join(name),
    )
}
