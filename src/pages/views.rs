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

/// The phone page's proof-of-work (pow.rs): finds a nonce such that
/// SHA-256(challenge || nonce) has `data-pow-bits` leading zero bits,
/// with WebCrypto (256 digests in flight at a time: the API is async, and
/// one at a time would spend the budget on scheduling), says so in
/// `#pow-status` meanwhile, fills `pow_nonce` and posts the form the
/// shopper already sent once. Between batches it yields to the page
/// through a `MessageChannel` (a `setTimeout` would be clamped to 4 ms
/// per batch; chaining promises alone would starve rendering, input and
/// the load event). Without WebCrypto (an insecure context, an old
/// browser) it shows the same words as the no-JavaScript text.
pub(super) const POW_SCRIPT: &str = r#"(function(){var f=document.querySelector('form[data-pow]');if(!f)return;var s=document.getElementById('pow-status'),n=f.querySelector('input[name=pow_nonce]'),b=f.querySelector('button[type=submit]');
var c=f.getAttribute('data-pow'),bits=parseInt(f.getAttribute('data-pow-bits'),10);function say(k){if(s){s.hidden=false;s.textContent=s.getAttribute(k)}}
if(!(window.crypto&&crypto.subtle&&window.TextEncoder&&window.MessageChannel&&n)){say('data-nojs');return}say('data-text');if(b)b.disabled=true;var e=new TextEncoder(),p=e.encode(c);
var q=[],mc=new MessageChannel();mc.port1.onmessage=function(){q.shift()()};function later(g){q.push(g);mc.port2.postMessage(0)}
function zeros(d){var v=new Uint8Array(d),z=0;for(var i=0;i<v.length;i++){if(v[i])return z+Math.clz32(v[i])-24;z+=8}return z}
function done(x){n.value=String(x);if(b)b.disabled=false;f.submit()}
function run(from){var w=[];for(var k=0;k<256;k++){var m=e.encode(String(from+k)),x=new Uint8Array(p.length+m.length);x.set(p);x.set(m,p.length);w.push(crypto.subtle.digest('SHA-256',x))}
Promise.all(w).then(function(d){for(var k=0;k<d.length;k++){if(zeros(d[k])>=bits){done(from+k);return}}later(function(){run(from+256)})},function(){say('data-nojs')})}
run(0)})();"#;

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

/// A proof-of-work for the page's script to solve before the form posts.
#[derive(Debug, Clone, Copy)]
pub struct PowView<'a> {
    pub challenge: &'a str,
    /// Leading zero bits.
    pub difficulty: u8,
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
    /// A send that needs a proof-of-work first.
    pub pow: Option<PowView<'a>>,
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
