use std::path::Path;

use super::*;

fn brand(languages: &[&str], dir: Option<&Path>) -> Brand {
    Brand {
        name: "<b>Shop</b>".into(),
        color: "#0f766e".into(),
        logo_url: None,
        languages: languages.iter().map(|s| s.to_string()).collect(),
        templates_dir: dir.map(Path::to_path_buf),
    }
}

fn pages(languages: &[&str]) -> Pages {
    Pages::load(&brand(languages, None)).unwrap().0
}

fn verify_view(lang: &str) -> VerifyView<'_> {
    VerifyView {
        csrf: "\"x",
        rd: "/a?b=1&c=2",
        masked_phone: "+91******5678",
        code_length: 6,
        resend_in_secs: 30,
        error: Some("<script>"),
        lang,
        ..Default::default()
    }
}

/// The inline `<style>` and `<script>` a page carries.
fn inline<'a>(html: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = html.find(&open).unwrap() + open.len();
    let end = start + html[start..].find(&format!("</{tag}>")).unwrap();
    &html[start..end]
}

#[test]
fn escapes_and_code_field_is_right() {
    let html = pages(&["en"]).verify(&verify_view("en"));
    assert!(html.contains("&lt;b&gt;Shop"));
    assert!(html.contains("&lt;script&gt;"));
    assert!(html.contains("value=\"&quot;x\""));
    assert!(html.contains(r#"inputmode="numeric" autocomplete="one-time-code""#));
    assert!(!html.contains("type=\"number\""));
    assert!(
        html.contains("href=\"/.otpgate/login?rd=%2Fa%3Fb%3D1%26c%3D2\""),
        "{html}"
    );
}

/// The CSP allows exactly the inline style and script each page carries,
/// in every language and with any brand colour.
#[test]
fn csp_hashes_match_the_inline_style_and_script_in_both_languages() {
    for color in ["#0f766e", "#ffd700"] {
        let p = Pages::load(&Brand {
            color: color.into(),
            ..brand(&["en", "hi"], None)
        })
        .unwrap()
        .0;
        let csp = p.csp.to_str().unwrap().to_string();
        for lang in ["en", "hi"] {
            let login = p.login(&LoginView {
                region: "IN",
                lang,
                ..Default::default()
            });
            let pages = [
                login,
                p.verify(&verify_view(lang)),
                p.logout(&LogoutView { rd: "/", lang }),
            ];
            for html in &pages {
                for tag in ["style", "script"] {
                    let hash = sha256_b64(inline(html, tag));
                    assert!(
                        csp.contains(&format!("'sha256-{hash}'")),
                        "{lang} <{tag}> not in {csp}"
                    );
                }
            }
        }
    }
    let err = pages(&["en"]).error_in("en", StatusCode::FORBIDDEN, "no");
    let csp = ERROR_CSP.to_str().unwrap();
    assert!(csp.contains(&sha256_b64(inline(&err, "style"))));
}

#[test]
fn hindi_pages_say_html_lang_and_show_the_dial_code() {
    let p = pages(&["en", "hi"]);
    let html = p.login(&LoginView {
        region: "IN",
        csrf: "c",
        rd: "/checkout",
        lang: "hi",
        ..Default::default()
    });
    assert!(html.contains("<html lang=\"hi\" dir=\"ltr\">"), "{html}");
    assert!(html.contains("अपना मोबाइल नंबर डालें"));
    assert!(
        html.contains("<span class=\"prefix\" id=\"dial-code\">+91</span>"),
        "{html}"
    );
    assert!(html.contains("+91 के बिना"));
    // The switch: a link to the other language that keeps rd.
    assert!(
        html.contains("<a href=\"/.otpgate/login?rd=%2Fcheckout&amp;lang=en\" lang=\"en\" hreflang=\"en\">English</a>"),
        "{html}"
    );
    assert!(html.contains("<span lang=\"hi\" aria-current=\"true\">हिन्दी</span>"));
    // Unknown or empty language: the first offered.
    let en = p.login(&LoginView {
        region: "US",
        lang: "",
        ..Default::default()
    });
    assert!(en.contains("<html lang=\"en\""), "{en}");
    assert!(en.contains(">+1</span>"));
    // One language: no switch.
    let only = pages(&["hi"]).login(&LoginView {
        region: "IN",
        ..Default::default()
    });
    assert!(!only.contains("class=\"langs\""));
    assert!(only.contains("<html lang=\"hi\""));
}

#[test]
fn a_rate_limit_says_how_long_in_the_shoppers_language_and_counts_down() {
    let p = pages(&["en", "hi"]);
    let wait = Alert {
        code: "rate_limited",
        retry_after_secs: Some(45),
        remaining: None,
    };
    let hi = p.login(&LoginView {
        region: "IN",
        alert: Some(wait),
        lang: "hi",
        ..Default::default()
    });
    let span = "<span data-countdown=\"45\" aria-live=\"off\">45</span>";
    assert!(
        hi.contains(&format!("कृपया {span} सेकंड बाद फिर कोशिश करें")),
        "{hi}"
    );
    assert!(hi.contains("role=\"alert\" aria-live=\"assertive\""));
    assert!(hi.contains("aria-invalid=\"true\""));
    let en = p.login(&LoginView {
        alert: Some(wait),
        lang: "en",
        ..Default::default()
    });
    assert!(
        en.contains(&format!("Please try again in {span} seconds.")),
        "{en}"
    );
    // Wrong code: tries left, singular and plural.
    let wrong = |n| {
        p.verify(&VerifyView {
            alert: Some(Alert {
                code: "wrong_code",
                retry_after_secs: None,
                remaining: Some(n),
            }),
            lang: "hi",
            ..verify_view("hi")
        })
    };
    assert!(wrong(2).contains("यह OTP सही नहीं है। कृपया जाँचकर फिर से डालें। 2 कोशिशें बाकी हैं।"));
    assert!(wrong(1).contains("1 कोशिश बाकी है।"));
    // Resend delay: static text without JS, a countdown with it.
    let v = p.verify(&verify_view("hi"));
    assert!(
        v.contains(
            "आप <span data-countdown=\"30\" aria-live=\"off\">30</span> सेकंड बाद नया OTP माँग सकते हैं।"
        ),
        "{v}"
    );
    let ready = p.verify(&VerifyView {
        resend_in_secs: 0,
        ..verify_view("en")
    });
    assert!(ready.contains("<p id=\"countdown\" class=\"hint\"></p>"));
}

#[test]
fn logout_says_so() {
    let p = pages(&["en", "hi"]);
    let html = p.logout(&LogoutView {
        rd: "/cart",
        lang: "hi",
    });
    assert!(html.contains("आप लॉग आउट हो गए हैं"));
    assert!(html.contains("<a href=\"/cart\">शॉप पर वापस जाएँ</a>"));
    assert!(p
        .logout(&LogoutView {
            rd: "/",
            lang: "en"
        })
        .contains("You are signed out"));
}

/// Every page that can carry an error announces it (WCAG 4.1.3): the
/// phone page, the code page, the registered-number send page.
#[test]
fn every_page_with_an_error_announces_it_to_screen_readers() {
    let p = pages(&["en", "hi"]);
    let refused = Alert {
        code: "not_signed_in",
        ..Default::default()
    };
    let region = "<div id=\"error\" class=\"alert\" role=\"alert\" aria-live=\"assertive\">";
    for lang in ["en", "hi"] {
        let send = p.send_registered(lang, "c", "/", Some(refused), None);
        let login = p.login(&LoginView {
            region: "IN",
            alert: Some(refused),
            lang,
            ..Default::default()
        });
        let verify = p.verify(&VerifyView {
            alert: Some(refused),
            ..verify_view(lang)
        });
        for html in [&send, &login, &verify] {
            let at = html.find(region).unwrap_or_else(|| panic!("{html}"));
            let said = &html[at + region.len()..];
            let want = if lang == "hi" {
                "कृपया पहले"
            } else {
                "Please sign in"
            };
            assert!(said.starts_with(want), "{lang}: {said}");
        }
    }
    let notice = p.verify(&VerifyView {
        notice_key: Some("code_already_sent"),
        ..verify_view("hi")
    });
    assert!(notice.contains("<div class=\"alert notice\" role=\"status\">इस नंबर पर OTP पहले ही"));
}

#[test]
fn text_on_the_brand_colour_is_chosen_for_contrast() {
    let p = Pages::load(&Brand {
        color: "#ffd700".into(),
        ..brand(&["en"], None)
    })
    .unwrap()
    .0;
    assert!(
        p.style
            .starts_with(":root{--brand:#ffd700;--on-brand:#1f2328}"),
        "{}",
        &p.style[..60]
    );
    assert!(pages(&["en"])
        .style
        .starts_with(":root{--brand:#0f766e;--on-brand:#ffffff}"));
}

fn overrides(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("strings")).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn overrides_change_one_template_and_one_string() {
    let dir = overrides(&[
        ("strings/hi.toml", "send_button = \"कोड भेजो\"\n"),
        (
            "logout.html",
            "{% extends \"base.html\" %}{% block content %}<h1>{{ t.logout_title }}</h1><p>Bye from {{ brand.name }}</p>{% endblock %}",
        ),
    ]);
    let (p, warnings) = Pages::load(&brand(&["en", "hi"], Some(dir.path()))).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let login = p.login(&LoginView {
        region: "IN",
        lang: "hi",
        ..Default::default()
    });
    assert!(login.contains(">कोड भेजो</button>"));
    assert!(p
        .login(&LoginView {
            region: "IN",
            lang: "en",
            ..Default::default()
        })
        .contains(">Send code</button>"));
    let out = p.logout(&LogoutView {
        rd: "/",
        lang: "en",
    });
    assert!(
        out.contains("<p>Bye from &lt;b&gt;Shop&lt;/b&gt;</p>"),
        "{out}"
    );
}

#[test]
fn a_template_that_does_not_parse_is_an_error_with_file_and_line() {
    let dir = overrides(&[(
        "login.html",
        "{% extends \"base.html\" %}\n{% block content %}\n{{ t.login_title | }}\n{% endblock %}",
    )]);
    let errors = Pages::load(&brand(&["en"], Some(dir.path())))
        .err()
        .unwrap();
    let want = format!("{}:3", dir.path().join("login.html").display());
    assert!(errors.iter().any(|e| e.starts_with(&want)), "{errors:?}");
}

#[test]
fn a_code_page_without_the_code_field_is_an_error() {
    let dir = overrides(&[(
        "verify.html",
        "{% extends \"base.html\" %}{% block content %}<form method=\"post\" action=\"/.otpgate/verify\"><input name=\"csrf\"><input name=\"otp\"></form><form action=\"/.otpgate/resend\"></form>{% endblock %}",
    )]);
    let errors = Pages::load(&brand(&["en"], Some(dir.path())))
        .err()
        .unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("verify.html") && e.contains("name=\"code\"")),
        "{errors:?}"
    );
}

#[test]
fn an_unknown_variable_or_string_is_an_error_not_a_blank() {
    let dir = overrides(&[(
        "logout.html",
        "{% extends \"base.html\" %}{% block content %}\n<p>{{ t.logout_titel }}</p>{% endblock %}",
    )]);
    let errors = Pages::load(&brand(&["en"], Some(dir.path())))
        .err()
        .unwrap();
    let want = format!("[en] {}:2", dir.path().join("logout.html").display());
    assert!(errors.iter().any(|e| e.starts_with(&want)), "{errors:?}");

    let dir = overrides(&[("strings/en.toml", "sned_button = \"Go\"\n")]);
    let errors = Pages::load(&brand(&["en"], Some(dir.path())))
        .err()
        .unwrap();
    assert!(
        errors[0].contains("unknown string `sned_button`"),
        "{errors:?}"
    );

    assert!(Pages::load(&brand(&["en", "ta"], None)).is_err());
}

/// A page asking for a proof-of-work carries the challenge, the fields
/// the script fills, the no-JavaScript text, and only scripts the CSP
/// allows; a page without one carries none of it.
#[test]
fn a_proof_of_work_page_has_its_fields_and_every_script_is_allowed() {
    let p = pages(&["en", "hi"]);
    let csp = p.csp.to_str().unwrap().to_string();
    let pow = Some(crate::pages::PowView {
        challenge: "p1.abc",
        difficulty: 12,
    });
    for lang in ["en", "hi"] {
        let login = p.login(&LoginView {
            region: "IN",
            lang,
            pow,
            ..Default::default()
        });
        let send = p.send_registered(lang, "c", "/", None, pow);
        for html in [&login, &send] {
            for needle in [
                r#"data-pow="p1.abc" data-pow-bits="12""#,
                r#"name="pow_challenge" value="p1.abc""#,
                r#"name="pow_nonce""#,
                "<noscript>",
                r#"id="pow-status""#,
            ] {
                assert!(html.contains(needle), "{lang}: {needle} in {html}");
            }
            let scripts: Vec<&str> = html.split("<script>").skip(1).collect();
            assert_eq!(scripts.len(), 2, "{html}");
            for s in scripts {
                let hash = sha256_b64(&s[..s.find("</script>").unwrap()]);
                assert!(csp.contains(&format!("'sha256-{hash}'")), "{lang}");
            }
        }
    }
    let plain = p.login(&LoginView {
        region: "IN",
        lang: "en",
        ..Default::default()
    });
    assert!(!plain.contains("pow_nonce") && !plain.contains("<noscript>"));
    assert_eq!(plain.matches("<script>").count(), 1);
}
