//! otpgate's own pages: server-rendered from minijinja templates (compiled
//! in; a merchant's `[brand] templates_dir` overrides any template or
//! string), in the shopper's language, no external assets, usable without
//! JavaScript. A little inline script (allowed by hash in the CSP) counts
//! down waits and asks for WebOTP autofill.

pub mod contrast;
pub mod lang;
mod render;
pub mod strings;
mod templates;
mod views;

use std::sync::LazyLock;

use base64::Engine;
use http::header::{ACCEPT_LANGUAGE, COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

use crate::config::Brand;
pub use lang::{Choice, COOKIE as LANG_COOKIE};
pub use views::{escape, Alert, LoginView, LogoutView, Pages, PowView, VerifyView};
use views::{Language, POW_SCRIPT, SCRIPT};

/// Devanagari (and other Indian scripts) render from the system fonts of a
/// bare Debian (fonts-noto-core) or Android (Noto): no font is downloaded.
const CSS: &str = r#"*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Devanagari","Nirmala UI",sans-serif;background:#f4f5f7;color:#1f2328}
main{max-width:420px;margin:0 auto;padding:16px}.card{background:#fff;border-radius:12px;padding:24px 20px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.35rem;margin:0 0 8px}p{margin:0 0 16px}.brand{font-weight:600;margin:0 0 16px;display:flex;align-items:center;gap:8px}.brand img{height:28px}
label{display:block;font-weight:600;margin:0 0 6px}input[type=tel],input[type=text]{width:100%;min-width:0;font-size:1.25rem;padding:12px;border:2px solid #8c959f;border-radius:8px}
.tel{display:flex;align-items:stretch;gap:8px}.prefix{display:flex;align-items:center;padding:0 12px;font-size:1.25rem;border:2px solid #8c959f;border-radius:8px;background:#f4f5f7}
input:focus{outline:3px solid #1f2328;outline-offset:1px}#code{letter-spacing:.3em;font-variant-numeric:tabular-nums}
button{width:100%;min-height:48px;margin-top:16px;font:inherit;font-size:1.05rem;font-weight:600;border:0;border-radius:8px;background:var(--brand);color:var(--on-brand);cursor:pointer}
button.link{background:none;color:#1f2328;text-decoration:underline;min-height:44px;margin-top:8px}button:disabled{opacity:.55;cursor:default}
.hint{color:#57606a;font-size:.9rem;margin:6px 0 0}.alert{border-radius:8px;padding:10px 12px;margin:0 0 16px;background:#ffebe9;color:#82071e}.alert:empty{display:none}
.notice{background:#dafbe1;color:#116329}a{color:#0550ae}.small{font-size:.9rem;text-align:center;margin-top:16px}.small a{display:inline-block;padding:12px 8px}
.langs{display:flex;justify-content:flex-end;gap:4px;margin:0 0 8px}.langs a,.langs span{display:inline-block;padding:10px 12px;min-height:44px;font-size:.95rem}.langs span{font-weight:600}"#;

fn sha256_b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()))
}

fn csp_for(style: &str) -> String {
    format!(
        "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}' 'sha256-{}'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        sha256_b64(style),
        sha256_b64(SCRIPT),
        sha256_b64(POW_SCRIPT)
    )
}

/// `--brand` and the text colour that reads on it (see [`contrast`]).
fn style_for(color: &str) -> String {
    let on = contrast::parse_hex(color)
        .and_then(|rgb| contrast::text_on(rgb).ok())
        .map_or(contrast::WHITE, |(text, _)| text);
    format!(":root{{--brand:{color};--on-brand:{on}}}{CSS}")
}

/// The error pages' CSP (their style has the default brand colour).
pub static ERROR_CSP: LazyLock<HeaderValue> =
    LazyLock::new(|| HeaderValue::from_str(&csp_for(&style_for(DEFAULT_COLOR))).expect("ascii"));

const DEFAULT_COLOR: &str = "#0f766e";

fn built_in_brand() -> Brand {
    Brand {
        name: String::new(),
        color: DEFAULT_COLOR.into(),
        logo_url: None,
        languages: vec!["en".into()],
        templates_dir: None,
    }
}

impl Pages {
    /// The pages for a validated brand. Should the override files have
    /// changed since validation into something broken, the built-ins serve
    /// and the problem is logged: a shopper still gets a working page.
    pub fn new(brand: &Brand) -> Self {
        match Pages::load(brand) {
            Ok((pages, _)) => pages,
            Err(errors) => {
                tracing::error!(?errors, "brand.templates_dir: using the built-in pages");
                Pages::load(&Brand {
                    templates_dir: None,
                    ..brand.clone()
                })
                .map(|(p, _)| p)
                .unwrap_or_else(|_| Pages::load(&built_in_brand()).expect("built-ins").0)
            }
        }
    }

    /// Loads and checks templates and strings; `Ok` carries warnings.
    pub fn load(brand: &Brand) -> Result<(Pages, Vec<String>), Vec<String>> {
        let dir = brand.templates_dir.as_deref();
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let env = templates::environment(dir)
            .map_err(|e| errors.extend(e))
            .ok();
        let mut languages = Vec::new();
        for tag in &brand.languages {
            match strings::load(tag, dir) {
                Ok(l) => {
                    warnings.extend(l.warnings);
                    languages.push(Language {
                        tag: tag.clone(),
                        strings: l.strings,
                    });
                }
                Err(e) => errors.extend(e),
            }
        }
        let (Some(env), true) = (env, errors.is_empty()) else {
            return Err(errors);
        };
        let style = style_for(&brand.color);
        let pages = Pages {
            env,
            languages,
            offered: brand.languages.clone(),
            csp: HeaderValue::from_str(&csp_for(&style)).expect("ascii"),
            style,
            brand_name: brand.name.clone(),
            logo_url: brand.logo_url.clone(),
        };
        let problems = pages.self_check(dir.unwrap_or(std::path::Path::new(".")));
        if problems.is_empty() {
            Ok((pages, warnings))
        } else {
            Err(problems)
        }
    }

    /// The language for this request (see [`lang`]).
    pub fn choose_language(&self, headers: &HeaderMap, query: Option<&str>) -> Choice {
        let param = query.and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .map(|(_, v)| v.into_owned())
        });
        let accept = headers
            .get(http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        lang::choose(
            &self.offered,
            param.as_deref(),
            crate::headers::cookie(headers, LANG_COOKIE),
            accept,
        )
    }

    /// The language for a refusal page from what [`LangHint`] kept of the
    /// request: the language cookie, then `Accept-Language`.
    pub fn language_for(&self, hint: &LangHint) -> String {
        let mut headers = HeaderMap::new();
        for (name, v) in [(COOKIE, &hint.cookie), (ACCEPT_LANGUAGE, &hint.accept)] {
            if let Some(v) = v {
                headers.insert(name, v.clone());
            }
        }
        self.language_of(&headers, None)
    }

    /// The language for an answer that is not a page (the JSON API's SMS):
    /// `explicit` (its `lang` field), else the cookie, else
    /// `Accept-Language`, else the default. Nothing is remembered.
    pub fn language_of(&self, headers: &HeaderMap, explicit: Option<&str>) -> String {
        let accept = headers
            .get(http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        lang::choose(
            &self.offered,
            explicit,
            crate::headers::cookie(headers, LANG_COOKIE),
            accept,
        )
        .lang
    }

    pub fn languages(&self) -> &[String] {
        &self.offered
    }

    fn language(&self, tag: &str) -> &Language {
        self.languages
            .iter()
            .find(|l| l.tag == tag)
            .unwrap_or(&self.languages[0])
    }

    /// A string in a language, placeholders filled (for the flow's own
    /// texts, e.g. a JSON answer's message).
    pub fn text(&self, lang: &str, key: &str, args: &[(&str, &str)]) -> String {
        let s = &self.language(lang).strings;
        strings::fill(s.get(key).map_or(key, String::as_str), args)
    }

    pub fn login(&self, v: &LoginView) -> String {
        render::login(self, v)
    }

    /// Registered-number mode, when the request may not send by itself
    /// (cross-site, `HEAD`, no fetch metadata): one button that posts the
    /// CSRF token, so only the shopper's own click texts them.
    pub fn send_registered(
        &self,
        lang: &str,
        csrf: &str,
        rd: &str,
        alert: Option<Alert>,
        pow: Option<PowView>,
    ) -> String {
        render::send_registered(self, lang, csrf, rd, alert.as_ref(), pow)
    }

    pub fn verify(&self, v: &VerifyView) -> String {
        render::verify(self, v)
    }

    pub fn logout(&self, v: &LogoutView) -> String {
        render::logout(self, v)
    }

    /// A refusal page in the shopper's language, with the brand's style.
    pub fn error_in(&self, lang: &str, status: StatusCode, message: &str) -> String {
        render::error(self, lang, status, message)
    }
}

/// What a refusal page needs of a request that is gone by then (it was
/// forwarded or consumed): its `Accept-Language` and the `Cookie` field
/// that names the language cookie, kept by reference count, so every
/// request pays two header lookups and no allocation.
#[derive(Debug, Clone, Default)]
pub struct LangHint {
    accept: Option<HeaderValue>,
    cookie: Option<HeaderValue>,
}

impl LangHint {
    pub fn of(headers: &HeaderMap) -> LangHint {
        let names_it =
            |v: &&HeaderValue| crate::headers::memchr_str(v.as_bytes(), LANG_COOKIE.as_bytes());
        LangHint {
            accept: headers.get(ACCEPT_LANGUAGE).cloned(),
            cookie: headers.get_all(COOKIE).iter().find(names_it).cloned(),
        }
    }
}

#[cfg(test)]
mod tests;
