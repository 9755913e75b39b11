//! India's DLT pre-flight (TRAI TCCCPR 2018): `check-config` (the real
//! binary) refuses an SMS text that differs from its registered content
//! template by one character, a `{#var#}` that would hold more than 30
//! characters, a missing brand or header, malformed ids; `dlt-template`
//! prints the text to register, and what it prints passes the check; and
//! the SMS the gateway really sends matches the registered template the
//! way an operator's scrubber matches it.

mod support;

use support::{gateway, upstream, H1, PHONE};

#[path = "support/cli.rs"]
mod cli;

use cli::{otpgate, text};

const EN_ID: &str = "1107161234567890123";
const HI_ID: &str = "1107161234567890124";
/// As a merchant registers them for the texts below (brand as fixed text).
const EN_REGISTERED: &str =
    "{#var#} is your Example Shop code. Valid {#var#} min. Never share it.\n\n@{#var#} #{#var#}";
const HI_REGISTERED: &str = "Example Shop OTP: {#var#}. किसी को न बताएं।\n\n@{#var#} #{#var#}";

/// An Indian MSG91 set-up with English and Hindi texts; `dlt` is the
/// `[sms.dlt]` table's body and `msg91` extra `[sms.msg91]` lines.
fn config(brand: &str, message: &str, msg91: &str, dlt: &str) -> String {
    format!(
        r#"[server]
public_host = "shop.example.com"
[upstream]
url = "http://127.0.0.1:3000"
[brand]
name = "{brand}"
languages = ["en", "hi"]
[otp]
message = {message}
messages = {{ hi = "{{brand}} OTP: {{code}}. किसी को न बताएं।\n\n@{{host}} #{{code}}" }}
[phone]
default_region = "IN"
allowed_regions = ["IN"]
[session]
secret = "${{OTPGATE_SECRET}}"
[sms]
provider = "msg91"
[sms.msg91]
authkey = "test-authkey"
template_id = "64f0c0ffee0000000000abcd"
{msg91}
[sms.dlt]
{dlt}
"#
    )
}

const MESSAGE: &str =
    r#""{code} is your {brand} code. Valid {ttl_minutes} min. Never share it.\n\n@{host} #{code}""#;
const IDS: &str = "sender = \"EXSHOP\"\nentity_id = \"1201161234567890123\"";

fn templates(en: &str, hi: &str) -> String {
    let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
    format!(
        "templates = [\n  {{ id = \"{EN_ID}\", text = {} }},\n  {{ id = \"{HI_ID}\", text = {} }},\n]",
        q(en),
        q(hi)
    )
}

fn check(config: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    assert!(otpgate(dir.path(), &["gen-cert"]).status.success());
    std::fs::write(dir.path().join("otpgate.toml"), config).unwrap();
    let out = otpgate(dir.path(), &["check-config", "-c", "otpgate.toml"]);
    (out.status.success(), text(&out))
}

#[test]
fn registered_texts_that_match_pass() {
    let cfg = config(
        "Example Shop",
        MESSAGE,
        IDS,
        &templates(EN_REGISTERED, HI_REGISTERED),
    );
    let (ok, out) = check(&cfg);
    assert!(ok, "{out}");
    assert!(
        !out.contains("sms.dlt"),
        "no DLT warning once matched: {out}"
    );
}

/// Each variant differs from what otpgate sends by one character: the
/// error names the text's key, the template (index and id), the position,
/// both characters with their code points, and draws a caret.
#[test]
fn one_character_off_is_an_error_at_that_character() {
    let cases: [(&str, String, String, &str, &str); 4] = [
        (
            "missing full stop",
            EN_REGISTERED.replace("min. Never", "min Never"),
            HI_REGISTERED.into(),
            "otp.message",
            "character 53 (line 1, column 53): expected a space (U+0020), found \".\" (U+002E)",
        ),
        (
            "no-break space",
            EN_REGISTERED.replace("is your", "is\u{a0}your"),
            HI_REGISTERED.into(),
            "otp.message",
            "character 11 (line 1, column 11): expected a no-break space (U+00A0), found a space (U+0020)",
        ),
        (
            "Hindi matra",
            EN_REGISTERED.into(),
            HI_REGISTERED.replace("किसी", "किसि"),
            "otp.messages.hi",
            "character 31 (line 1, column 31): expected \"ि\" (U+093F), found \"ी\" (U+0940)",
        ),
        (
            "autofill line",
            EN_REGISTERED.replace("\n\n@", "\n@"),
            HI_REGISTERED.into(),
            "otp.message",
            "character 71 (line 2, column 1): expected \"@\" (U+0040), found a line break (U+000A)",
        ),
    ];
    for (what, en, hi, key, at) in cases {
        let (ok, out) = check(&config("Example Shop", MESSAGE, IDS, &templates(&en, &hi)));
        assert!(!ok, "{what}: accepted\n{out}");
        let line = out
            .lines()
            .find(|l| l.contains(&format!(": {key}: does not match")))
            .unwrap_or_else(|| panic!("{what}: no error for {key}\n{out}"));
        assert!(line.contains("sms.dlt.templates["), "{what}: {line}");
        assert!(line.contains(at), "{what}: wanted {at}\n{out}");
        assert!(
            line.starts_with("  line "),
            "{what}: no line number: {line}"
        );
        assert!(out.contains("      registered: ") && out.contains("      otpgate:    "));
        assert!(
            out.lines().any(|l| l.trim() == "^" || l.ends_with('^')),
            "{out}"
        );
        // The other language still matches: only one error.
        assert_eq!(out.matches("does not match").count(), 1, "{what}: {out}");
    }
}

/// The Hindi error names the right template among several: the closest
/// one, by id.
#[test]
fn the_error_names_the_closest_template() {
    let hi = HI_REGISTERED.replace("बताएं", "बताएँ");
    let (ok, out) = check(&config(
        "Example Shop",
        MESSAGE,
        IDS,
        &templates(EN_REGISTERED, &hi),
    ));
    assert!(!ok);
    assert!(
        out.contains(&format!(
            "otp.messages.hi: does not match the registered DLT template sms.dlt.templates[1] (id {HI_ID}) (the closest of the 2 registered)"
        )),
        "{out}"
    );
    assert!(out.contains("U+0901") && out.contains("U+0902"), "{out}");
}

/// A 35-character brand fits `brand.name` (1..=40) but not a `{#var#}`.
#[test]
fn a_variable_longer_than_30_characters_is_an_error() {
    let brand = "Example Shop Fashion And Lifestyle";
    assert!(brand.chars().count() > 30);
    let en =
        "{#var#} is your {#var#} code. Valid {#var#} min. Never share it.\n\n@{#var#} #{#var#}";
    let hi = format!("{brand} OTP: {{#var#}}. किसी को न बताएं।\n\n@{{#var#}} #{{#var#}}");
    let (ok, out) = check(&config(brand, MESSAGE, IDS, &templates(en, &hi)));
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!(
            "otp.message: {{brand}} fills a {{#var#}} of sms.dlt.templates[0] (id {EN_ID}) with 34 characters (brand.name); a DLT variable holds at most 30"
        )),
        "{out}"
    );
    // Written out as fixed text it passes.
    let en = format!("{{#var#}} is your {brand} code. Valid {{#var#}} min. Never share it.\n\n@{{#var#}} #{{#var#}}");
    let (ok, out) = check(&config(brand, MESSAGE, IDS, &templates(&en, &hi)));
    assert!(ok, "{out}");
}

#[test]
fn a_text_without_the_brand_is_an_error() {
    let message = r#""{code} is your code. Valid {ttl_minutes} min.\n\n@{host} #{code}""#;
    let en = "{#var#} is your code. Valid {#var#} min.\n\n@{#var#} #{#var#}";
    let (ok, out) = check(&config(
        "Example Shop",
        message,
        IDS,
        &templates(en, HI_REGISTERED),
    ));
    assert!(!ok, "{out}");
    assert!(
        out.contains("otp.message: does not name the brand"),
        "{out}"
    );
}

#[test]
fn headers_and_ids_are_checked() {
    let good = templates(EN_REGISTERED, HI_REGISTERED);
    let cases = [
        ("entity_id = \"1201161234567890123\"", "sms.msg91.sender: missing; DLT requires the 6-letter header"),
        ("sender = \"EXSHOP\"", "sms.msg91.entity_id: missing; DLT requires the principal entity id"),
        ("sender = \"123456\"\nentity_id = \"1201161234567890123\"", "sms.msg91.sender: `123456`: an OTP goes from a transactional or service-implicit header"),
        ("sender = \"EXSHOP\"\nentity_id = \"12011612345678901234\"", "sms.msg91.entity_id: `12011612345678901234`: is not a DLT id"),
    ];
    for (ids, wanted) in cases {
        let (ok, out) = check(&config("Example Shop", MESSAGE, ids, &good));
        assert!(!ok, "{ids}: accepted\n{out}");
        assert!(out.contains(wanted), "{ids}: wanted {wanted}\n{out}");
    }
    for bad in ["1107-1612-3456-7890", "110716123", "ABCD161234567890123"] {
        let dlt = good.replacen(EN_ID, bad, 1);
        let (ok, out) = check(&config("Example Shop", MESSAGE, IDS, &dlt));
        assert!(!ok, "{bad}: accepted\n{out}");
        assert!(
            out.contains(&format!("sms.dlt.templates[0].id: `{bad}` is not a DLT id")),
            "{bad}: {out}"
        );
    }
    let dlt = good.replacen(HI_ID, EN_ID, 1);
    let (ok, out) = check(&config("Example Shop", MESSAGE, IDS, &dlt));
    assert!(
        !ok && out.contains("sms.dlt.templates[1].id: `1107161234567890123` is listed twice"),
        "{out}"
    );
}

/// Without `[sms.dlt]` an Indian carrier-bound set-up still starts, and is
/// told what to do.
#[test]
fn without_registered_templates_a_warning_points_at_dlt_template() {
    let cfg = config("Example Shop", MESSAGE, IDS, "").replace("[sms.dlt]\n", "");
    let (ok, out) = check(&cfg);
    assert!(ok, "{out}");
    assert!(
        out.contains("warning: sms.dlt: not set") && out.contains("otpgate dlt-template"),
        "{out}"
    );
}

/// `dlt-template` prints each language's text with its size and
/// variables, even while the registered ones differ; pasted back as
/// printed, they pass.
#[test]
fn dlt_template_prints_what_passes_the_check() {
    let wrong = templates("{#var#} is your code", HI_REGISTERED);
    let dir = tempfile::tempdir().unwrap();
    assert!(otpgate(dir.path(), &["gen-cert"]).status.success());
    let path = dir.path().join("otpgate.toml");
    std::fs::write(&path, config("Example Shop", MESSAGE, IDS, &wrong)).unwrap();
    let out = otpgate(dir.path(), &["check-config", "-c", "otpgate.toml"]);
    assert!(!out.status.success());

    let out = otpgate(dir.path(), &["dlt-template", "-c", "otpgate.toml"]);
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8(out.stdout).unwrap();
    for wanted in [
        "otp.message (en)\n  Text to register (88 characters):\n    | {#var#} is your Example Shop code. Valid {#var#} min. Never share it.\n    |\n    | @{#var#} #{#var#}\n",
        "  As sent, longest case: 89 GSM-7 units, 1 SMS part\n",
        "    1. {code}          at most 6 characters\n    2. {ttl_minutes}   at most 1 character\n    3. {host}          at most 16 characters\n    4. {code}          at most 6 characters\n",
        "otp.messages.hi (hi)\n  Text to register (62 characters):\n    | Example Shop OTP: {#var#}. किसी को न बताएं।\n",
        "  As sent, longest case: 69 UCS-2 (Unicode) units, 1 SMS part\n",
    ] {
        assert!(printed.contains(wanted), "wanted:\n{wanted}\nin:\n{printed}");
    }
    // The block at the end, with the portal's ids filled in, is accepted.
    let block = &printed[printed.find("[sms.dlt]\n").expect("a block")..];
    let block = block
        .replace("<content template id of otp.message>", EN_ID)
        .replace("<content template id of otp.messages.hi>", HI_ID);
    let cfg = config("Example Shop", MESSAGE, IDS, "").replace("[sms.dlt]\n", &block);
    let (ok, out) = check(&cfg);
    assert!(ok, "{block}\n{out}");
}

/// What the gateway really texts matches the registered template the way
/// an operator's scrubber does: fixed text exactly, each `{#var#}` 1 to
/// 30 characters. So the pre-flight checks the SMS that is sent, not a
/// text of its own.
#[tokio::test]
async fn the_sent_sms_matches_the_registered_template() {
    let shop = upstream().await;
    for host in [Some("shop.example.com"), None] {
        let registered = match host {
            Some(_) => "{#var#} is your Test Shop code. Valid {#var#} min. Never share it.\n\n@{#var#} #{#var#}",
            None => "{#var#} is your Test Shop code. Valid {#var#} min. Never share it.",
        };
        let mut builder = gateway(&shop).route("/checkout", "otp").set(
            "sms.dlt.templates",
            &format!(
                "[{{ id = \"{EN_ID}\", text = {} }}]",
                toml::Value::String(registered.into())
            ),
        );
        if let Some(h) = host {
            builder = builder.set("server.public_host", &format!("\"{h}\""));
        }
        let gw = builder.run().await;
        let mut b = gw.browser(H1);
        assert_eq!(b.start(PHONE, "/checkout").await.status, 303);
        let (_, body) = gw.sms().pop().expect("an SMS");
        assert!(
            scrubber_accepts(registered, &body),
            "{registered:?}\n{body:?}"
        );
        assert!(!scrubber_accepts(&registered.replace("min.", "min"), &body));
    }
}

/// A DLT scrubber's match: the fixed parts in order, exactly; between
/// them 1..=30 characters for each `{#var#}`.
fn scrubber_accepts(registered: &str, sms: &str) -> bool {
    fn from(parts: &[&str], text: &str) -> bool {
        let Some((first, rest)) = parts.split_first() else {
            return text.is_empty();
        };
        if rest.is_empty() {
            return text == *first;
        }
        let Some(after) = text.strip_prefix(first) else {
            return false;
        };
        (1..=30)
            .filter_map(|n| {
                after
                    .char_indices()
                    .nth(n)
                    .map(|(i, _)| i)
                    .or((after.chars().count() == n).then_some(after.len()))
            })
            .any(|i| from(rest, &after[i..]))
    }
    let parts: Vec<&str> = registered.split("{#var#}").collect();
    from(&parts, sms)
}
