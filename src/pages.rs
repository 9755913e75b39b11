//! otpgate's own pages: server-rendered, no external assets, usable without
//! JavaScript; a little inline script (allowed by hash in the CSP) adds the
//! resend countdown and WebOTP autofill.

use std::sync::LazyLock;

use base64::Engine;
use http::{HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

use crate::config::Brand;

const CSS: &str = r#"*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1f2328}
main{max-width:420px;margin:0 auto;padding:24px 16px}.card{background:#fff;border-radius:12px;padding:24px 20px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.35rem;margin:0 0 8px}p{margin:0 0 16px}.brand{font-weight:600;color:var(--brand);margin:0 0 16px;display:flex;align-items:center;gap:8px}.brand img{height:28px}
label{display:block;font-weight:600;margin:0 0 6px}input[type=tel],input[type=text]{width:100%;font-size:1.25rem;padding:12px;border:2px solid #8c959f;border-radius:8px}
input:focus{outline:3px solid var(--brand);outline-offset:1px}#code{letter-spacing:.3em;font-variant-numeric:tabular-nums}
button{width:100%;min-height:48px;margin-top:16px;font-size:1.05rem;font-weight:600;border:0;border-radius:8px;background:var(--brand);color:#fff;cursor:pointer}
button.link{background:none;color:var(--brand);text-decoration:underline;min-height:44px;margin-top:8px}button:disabled{opacity:.55;cursor:default}
.hint{color:#57606a;font-size:.9rem;margin:6px 0 0}.alert{border-radius:8px;padding:10px 12px;margin:0 0 16px;background:#ffebe9;color:#82071e}.alert:empty{display:none}
.notice{background:#dafbe1;color:#116329}a{color:var(--brand)}.small{font-size:.9rem;text-align:center;margin-top:16px}.small a{display:inline-block;padding:12px 8px}"#;

/// Resend countdown and WebOTP (`navigator.credentials.get({otp})`).
const SCRIPT: &str = r#"(function(){var b=document.getElementById('resend');if(b){var s=parseInt(b.getAttribute('data-wait'),10)||0,c=document.getElementById('countdown'),d=document.getElementById('resend-ready'),w=s>0;function t(){if(s>0){b.disabled=true;c.textContent='You can ask for a new code in '+s+' s.';s--;setTimeout(t,1000)}else{b.disabled=false;c.textContent='';if(w)d.textContent='You can now ask for a new code.'}}t()}
var i=document.getElementById('code');if(i&&'OTPCredential' in window){var a=new AbortController();var f=i.form;f.addEventListener('submit',function(){a.abort()});navigator.credentials.get({otp:{transport:['sms']},signal:a.signal}).then(function(o){if(o&&o.code){i.value=o.code;f.submit()}}).catch(function(){})}})();"#;

fn sha256_b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()))
}

fn csp_for(style: &str) -> String {
    format!(
        "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        sha256_b64(style),
        sha256_b64(SCRIPT)
    )
}

/// The error pages' CSP (their style has no brand colour in it).
pub static ERROR_CSP: LazyLock<HeaderValue> =
    LazyLock::new(|| HeaderValue::from_str(&csp_for(&error_style())).expect("ascii"));

fn error_style() -> String {
    format!(":root{{--brand:#0f766e}}{CSS}")
}

pub fn esc(s: &str) -> String {
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

pub struct Pages {
    style: String,
    pub csp: HeaderValue,
    brand_html: String,
    brand_name: String,
}

pub struct LoginView<'a> {
    /// The default region's ISO code, for the hint.
    pub region: &'a str,
    pub csrf: &'a str,
    pub rd: &'a str,
    pub phone: &'a str,
    pub error: Option<&'a str>,
}

pub struct VerifyView<'a> {
    pub csrf: &'a str,
    pub rd: &'a str,
    pub masked_phone: &'a str,
    pub code_length: u32,
    pub resend_in_secs: u64,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
}

impl Pages {
    pub fn new(brand: &Brand) -> Self {
        // brand.color is validated as #rgb/#rrggbb, so it cannot break out.
        let style = format!(":root{{--brand:{}}}{CSS}", brand.color);
        let logo = brand
            .logo_url
            .as_deref()
            .map(|u| format!("<img src=\"{}\" alt=\"\">", esc(u)))
            .unwrap_or_default();
        Pages {
            csp: HeaderValue::from_str(&csp_for(&style)).expect("ascii"),
            style,
            brand_html: format!("<p class=\"brand\">{logo}{}</p>", esc(&brand.name)),
            brand_name: brand.name.clone(),
        }
    }

    fn page(&self, title: &str, body: &str) -> String {
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><meta name=\"referrer\" content=\"no-referrer\"><title>{} · {}</title><style>{}</style></head><body><main><div class=\"card\">{}{}</div></main><script>{SCRIPT}</script></body></html>",
            esc(title),
            esc(&self.brand_name),
            self.style,
            self.brand_html,
            body
        )
    }

    pub fn login(&self, v: &LoginView) -> String {
        let body = format!(
            r#"<h1>Confirm your phone</h1><p>We'll text a one-time code to your mobile number to make sure it's you.</p>
<div id="error" class="alert" role="alert" aria-live="assertive">{err}</div>
<form method="post" action="/.otpgate/send" novalidate>
<input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="rd" value="{rd}">
<label for="phone">Mobile number</label>
<input id="phone" name="phone" type="tel" inputmode="tel" autocomplete="tel" required autofocus maxlength="32" value="{phone}" aria-describedby="{described}"{invalid}>
<p id="phone-hint" class="hint">Numbers without a country code are read as {region} numbers; otherwise start with + and the country code.</p>
<button type="submit">Send code</button>
</form>"#,
            err = esc(v.error.unwrap_or("")),
            csrf = esc(v.csrf),
            rd = esc(v.rd),
            phone = esc(v.phone),
            invalid = if v.error.is_some() {
                " aria-invalid=\"true\""
            } else {
                ""
            },
            described = if v.error.is_some() {
                "error phone-hint"
            } else {
                "phone-hint"
            },
            region = esc(v.region),
        );
        self.page("Confirm your phone", &body)
    }

    /// Registered-number mode, when the request may not send by itself
    /// (cross-site, `HEAD`, no fetch metadata): one button that posts the
    /// CSRF token, so only the shopper's own click texts them.
    pub fn send_registered(&self, csrf: &str, rd: &str) -> String {
        let body = format!(
            r#"<h1>Confirm your phone</h1><p>We'll text a one-time code to the mobile number on your account to make sure it's you.</p>
<form method="post" action="/.otpgate/send">
<input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="rd" value="{rd}">
<button type="submit" autofocus>Send code</button>
</form>"#,
            csrf = esc(csrf),
            rd = esc(rd),
        );
        self.page("Confirm your phone", &body)
    }

    pub fn verify(&self, v: &VerifyView) -> String {
        let notice = v
            .notice
            .map(|n| {
                format!(
                    "<div class=\"alert notice\" role=\"status\">{}</div>",
                    esc(n)
                )
            })
            .unwrap_or_default();
        let rd: String = form_urlencoded::byte_serialize(v.rd.as_bytes()).collect();
        let body = format!(
            r#"<h1>Enter your code</h1><p>We sent a {n}-digit code to <strong>{phone}</strong>. It may take a minute to arrive.</p>{notice}
<div id="error" class="alert" role="alert" aria-live="assertive">{err}</div>
<form method="post" action="/.otpgate/verify">
<input type="hidden" name="csrf" value="{csrf}">
<label for="code">Code</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 \-]*" maxlength="{max}" required autofocus aria-describedby="{described}"{invalid}>
<p id="code-hint" class="hint">{n} digits, from the text message.</p>
<button type="submit">Verify</button>
</form>
<form method="post" action="/.otpgate/resend">
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit" class="link" id="resend" data-wait="{wait}">Send a new code</button>
<p id="countdown" class="hint"></p><p id="resend-ready" class="hint" aria-live="polite"></p>
</form>
<p class="small"><a href="/.otpgate/login?rd={rd}">Use a different number</a></p>"#,
            n = v.code_length,
            phone = esc(v.masked_phone),
            err = esc(v.error.unwrap_or("")),
            csrf = esc(v.csrf),
            wait = v.resend_in_secs,
            max = v.code_length + 4,
            invalid = if v.error.is_some() {
                " aria-invalid=\"true\""
            } else {
                ""
            },
            described = if v.error.is_some() {
                "error code-hint"
            } else {
                "code-hint"
            },
        );
        self.page("Enter your code", &body)
    }
}

/// A small page for otpgate's own refusals (no brand: used before config).
pub fn error_page(status: StatusCode, message: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{code} {reason}</title><style>{style}</style></head><body><main><div class=\"card\"><h1>{reason}</h1><p role=\"alert\">{msg}</p><p><a href=\"/\">Back to the shop</a></p></div></main></body></html>",
        code = status.as_u16(),
        reason = esc(status.canonical_reason().unwrap_or("Error")),
        style = error_style(),
        msg = esc(message),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_code_field_is_right() {
        let p = Pages::new(&Brand {
            name: "<b>Shop</b>".into(),
            color: "#123".into(),
            logo_url: None,
        });
        let html = p.verify(&VerifyView {
            csrf: "\"x",
            rd: "/a",
            masked_phone: "+91******5678",
            code_length: 6,
            resend_in_secs: 30,
            error: Some("<script>"),
            notice: None,
        });
        assert!(html.contains("&lt;b&gt;Shop"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("value=\"&quot;x\""));
        assert!(html.contains(r#"inputmode="numeric" autocomplete="one-time-code""#));
        assert!(!html.contains("type=\"number\""));
    }
}
