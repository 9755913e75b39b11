//! Views -> template contexts, and the check that every page renders in
//! every language (run by `check-config` against a merchant's overrides).

use std::path::Path;

use http::StatusCode;
use minijinja::{context, Value};

use super::strings;
use super::templates::{countdown, located};
use super::views::{
    escape, template_path, Alert, Language, LoginView, LogoutView, Pages, VerifyView, SCRIPT,
};

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The dial code shown before the phone field: `+91` for `IN`.
fn dial_code(region: &str) -> String {
    phonenumber::metadata::DATABASE
        .by_id(region)
        .map(|m| format!("+{}", m.country_code()))
        .unwrap_or_default()
}

/// What every page has: language, strings, brand, style, script, switch.
fn base(p: &Pages, l: &Language, switch_href: Option<&dyn Fn(&str) -> String>) -> Value {
    let languages: Vec<Value> = match switch_href {
        Some(href) => p
            .languages
            .iter()
            .map(|o| {
                context! {
                    code => o.tag,
                    name => o.strings["lang_name"],
                    href => href(&o.tag),
                    current => o.tag == l.tag,
                }
            })
            .collect(),
        None => Vec::new(),
    };
    context! {
        lang => l.tag,
        t => Value::from_serialize(&l.strings),
        brand => context! { name => p.brand_name, logo_url => p.logo_url },
        style => Value::from_safe_string(p.style.clone()),
        script => Value::from_safe_string(SCRIPT.to_string()),
        languages => languages,
    }
}

/// The alert region's content, already escaped (a wait is a countdown).
fn alert(l: &Language, alert: Option<&Alert>, text: Option<&str>) -> Value {
    let Some(a) = alert else {
        return Value::from_safe_string(text.map(escape).unwrap_or_default());
    };
    let s = &l.strings;
    let mut said = s
        .get(&format!("error_{}", a.code))
        .cloned()
        .or_else(|| text.map(str::to_owned))
        .unwrap_or_else(|| s["error_unavailable"].clone());
    if let Some(n) = a.remaining {
        let left = if n == 1 {
            s["tries_left_one"].clone()
        } else {
            strings::fill(&s["tries_left"], &[("remaining", &n.to_string())])
        };
        said = format!("{said} {left}");
    }
    if said.contains("{seconds}") {
        countdown(said, a.retry_after_secs.unwrap_or(60).max(1))
    } else {
        Value::from_safe_string(escape(&said))
    }
}

impl Pages {
    fn render(&self, name: &str, ctx: Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }

    /// Rendering was checked at start-up; should it fail anyway, the
    /// shopper gets a plain page rather than nothing.
    fn render_or_plain(&self, name: &str, ctx: Value) -> String {
        self.render(name, ctx).unwrap_or_else(|e| {
            tracing::error!(template = name, error = %e, "page did not render");
            "<!doctype html><title>Error</title><p>Something went wrong. Please try again.</p>"
                .to_string()
        })
    }

    /// Renders every page in every language with sample values and checks
    /// the fields the flow needs are there. Problems name file and line.
    pub(super) fn self_check(&self, dir: &Path) -> Vec<String> {
        let mut problems = Vec::new();
        let overridden = |name: &str| dir.join(name).exists();
        let path = |name: &str| template_path(overridden(name).then_some(dir), name);
        for l in &self.languages {
            let wait = Alert {
                code: "rate_limited",
                retry_after_secs: Some(45),
                remaining: None,
            };
            let wrong = Alert {
                code: "wrong_code",
                retry_after_secs: None,
                remaining: Some(2),
            };
            let pages: [(&str, Result<String, minijinja::Error>, &[&str]); 4] = [
                (
                    "login.html",
                    self.render(
                        "login.html",
                        self.login_ctx(&LoginView {
                            region: "IN",
                            csrf: "c",
                            rd: "/",
                            alert: Some(wait),
                            lang: &l.tag,
                            ..Default::default()
                        }),
                    ),
                    &[
                        "name=\"phone\"",
                        "name=\"csrf\"",
                        "name=\"rd\"",
                        "action=\"/.otpgate/send\"",
                    ],
                ),
                (
                    "verify.html",
                    self.render(
                        "verify.html",
                        self.verify_ctx(&VerifyView {
                            csrf: "c",
                            rd: "/",
                            masked_phone: "+91******5678",
                            code_length: 6,
                            resend_in_secs: 30,
                            alert: Some(wrong),
                            notice_key: Some("new_code_sent"),
                            lang: &l.tag,
                            ..Default::default()
                        }),
                    ),
                    &[
                        "name=\"code\"",
                        "name=\"csrf\"",
                        "action=\"/.otpgate/verify\"",
                        "action=\"/.otpgate/resend\"",
                    ],
                ),
                (
                    "logout.html",
                    self.render(
                        "logout.html",
                        self.logout_ctx(&LogoutView {
                            rd: "/",
                            lang: &l.tag,
                        }),
                    ),
                    &[],
                ),
                (
                    "error.html",
                    self.render(
                        "error.html",
                        self.error_ctx(&l.tag, StatusCode::TOO_MANY_REQUESTS, "x"),
                    ),
                    &[],
                ),
            ];
            for (name, out, needs) in pages {
                match out {
                    Err(e) => {
                        let at = e.name().unwrap_or(name).to_string();
                        problems.push(format!("[{}] {}", l.tag, located(&path(&at), &e)));
                    }
                    Ok(html) => {
                        for field in needs {
                            if !html.contains(field) {
                                problems.push(format!(
                                    "{}: the rendered page lacks {field} (the flow posts it)",
                                    path(name).display()
                                ));
                            }
                        }
                    }
                }
            }
        }
        problems.dedup();
        problems
    }

    fn login_ctx(&self, v: &LoginView) -> Value {
        let l = self.language(v.lang);
        let rd_q = urlencode(v.rd);
        let href = |tag: &str| format!("/.otpgate/login?rd={rd_q}&lang={tag}");
        context! {
            csrf => v.csrf,
            rd => v.rd,
            phone => v.phone,
            dial_code => dial_code(v.region),
            region => v.region,
            alert => alert(l, v.alert.as_ref(), v.error),
            amount => v.amount,
            ..base(self, l, Some(&href))
        }
    }

    fn verify_ctx(&self, v: &VerifyView) -> Value {
        let l = self.language(v.lang);
        let href = |tag: &str| format!("/.otpgate/verify?lang={tag}");
        let notice = v
            .notice_key
            .and_then(|k| l.strings.get(k).cloned())
            .or_else(|| v.notice.map(str::to_owned))
            .unwrap_or_default();
        context! {
            csrf => v.csrf,
            rd => v.rd,
            rd_q => urlencode(v.rd),
            masked_phone => v.masked_phone,
            length => v.code_length,
            resend_in => v.resend_in_secs,
            channels => v
                .channels
                .iter()
                .map(|c| {
                    let label = l.strings.get(&format!("channel_{c}")).cloned();
                    context! { name => c, label => label.unwrap_or_default() }
                })
                .collect::<Vec<_>>(),
            delivery_failed => v.delivery_failed,
            alert => alert(l, v.alert.as_ref(), v.error),
            notice => notice,
            amount => v.amount,
            ..base(self, l, Some(&href))
        }
    }

    fn logout_ctx(&self, v: &LogoutView) -> Value {
        let l = self.language(v.lang);
        context! { rd => v.rd, ..base(self, l, None) }
    }

    fn send_ctx(&self, lang: &str, csrf: &str, rd: &str, refusal: Option<&Alert>) -> Value {
        let l = self.language(lang);
        context! {
            csrf => csrf,
            rd => rd,
            alert => alert(l, refusal, None),
            ..base(self, l, None)
        }
    }

    fn error_ctx(&self, lang: &str, status: StatusCode, message: &str) -> Value {
        let l = self.language(lang);
        context! {
            status => status.as_u16(),
            reason => status.canonical_reason().unwrap_or("Error"),
            message => message,
            ..base(self, l, None)
        }
    }
}

pub(super) fn login(p: &Pages, v: &LoginView) -> String {
    p.render_or_plain("login.html", p.login_ctx(v))
}

pub(super) fn verify(p: &Pages, v: &VerifyView) -> String {
    p.render_or_plain("verify.html", p.verify_ctx(v))
}

pub(super) fn send_registered(
    p: &Pages,
    lang: &str,
    csrf: &str,
    rd: &str,
    alert: Option<&Alert>,
) -> String {
    p.render_or_plain("send.html", p.send_ctx(lang, csrf, rd, alert))
}

pub(super) fn logout(p: &Pages, v: &LogoutView) -> String {
    p.render_or_plain("logout.html", p.logout_ctx(v))
}

pub(super) fn error(p: &Pages, lang: &str, status: StatusCode, message: &str) -> String {
    p.render_or_plain("error.html", p.error_ctx(lang, status, message))
}
