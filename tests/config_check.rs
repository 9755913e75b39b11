//! `check-config`'s gaps from issue 12, each tried through the real binary:
//! type errors named and collected, enum values listed, keys checked
//! together, standards warnings (`--strict` refuses them). Paths and
//! secret files: `config_files.rs`.

#[path = "support/cli.rs"]
mod cli;

use cli::{dir_with, otpgate, text};

/// `check-config` on `config` (plus `extra` arguments): exit code, output.
fn check(config: &str, extra: &[&str]) -> (Option<i32>, String) {
    let dir = dir_with(config);
    let mut args = vec!["check-config", "-c", "otpgate.toml"];
    args.extend_from_slice(extra);
    let out = otpgate(dir.path(), &args);
    (out.status.code(), text(&out))
}

fn assert_has(t: &str, expected: &[&str]) {
    for e in expected {
        assert!(t.contains(e), "missing {e:?} in:\n{t}");
    }
}

const MINIMAL: &str = "[upstream]\nurl = \"http://127.0.0.1:3000\"\n[session]\nsecret = \"${OTPGATE_SECRET}\"\n[sms]\nprovider = \"console\"\n";

#[test]
fn type_errors_name_key_line_and_type_and_are_collected_with_the_rest() {
    let cfg = r#"[server]
max_connections = "100"
[upstream]
url = "ftp://shop"
preserve_host = "yes"
[[route]]
path = "/checkout"
max_age = 900
[[route]]
path = "/account"
methods = "GET"
[otp]
length = "6"
ttl = "5m"
max_attempts = 5.5
[otp.messages]
en = 5
[session]
secret = "${OTPGATE_SECRET}"
[sms]
provider = "console"
max_retries = -1
[log]
audit_required = "true"
[brand]
languages = "en"
"#;
    let (code, t) = check(cfg, &[]);
    assert_eq!(code, Some(1), "{t}");
    assert_has(
        &t,
        &[
            "line 2: server.max_connections: must be an integer, not a string (write 100 without quotes)",
            // A problem that is not a type error is still found.
            "line 4: upstream.url:",
            "line 5: upstream.preserve_host: must be true or false, not a string",
            "line 8: route[0].max_age: must be a duration string such as \"15m\", not an integer (write \"900s\" for 900 seconds)",
            "line 11: route[1].methods: must be a list of strings",
            "line 13: otp.length: must be an integer, not a string (write 6 without quotes)",
            "line 15: otp.max_attempts: must be an integer, not a float",
            "line 17: otp.messages.en: must be a string, not an integer",
            "line 22: sms.max_retries: -1 is out of range",
            "line 24: log.audit_required: must be true or false, not a string (write true without quotes)",
            "line 26: brand.languages: must be a list of strings",
        ],
    );
    assert!(!t.contains("(type)"), "{t}");

    // The wrong shape of a whole table, too.
    let (code, t) = check(
        &format!("{MINIMAL}[route]\npath = \"/checkout\"\n[admin]\nlisten = 9090\n"),
        &[],
    );
    assert_eq!(code, Some(1), "{t}");
    assert_has(
        &t,
        &[
            "line 7: route: write [[route]] (one per rule), not [route]",
            "line 10: admin.listen: must be a string, not an integer",
        ],
    );
    // A mistyped secret is named, its value never repeated.
    let (code, t) = check(
        "[upstream]\nurl = \"http://127.0.0.1:3000\"\n[session]\nsecret = 31415926535897932\n[sms]\nprovider = \"console\"\n",
        &[],
    );
    assert_eq!(code, Some(1), "{t}");
    assert_has(
        &t,
        &["line 4: session.secret: must be a string or a list of strings, not an integer"],
    );
    assert!(!t.contains("31415926535897932"), "{t}");
}

#[test]
fn enum_values_are_refused_with_the_valid_ones() {
    let cfg = format!(
        "{MINIMAL}[log]\nlevel = \"verbose\"\nformat = \"jsn\"\n[store]\nbackend = \"mysql\"\n[[route]]\npath = \"/checkout\"\nrequire = \"yes\"\n"
    );
    let (code, t) = check(&cfg, &[]);
    assert_eq!(code, Some(1), "{t}");
    assert_has(
        &t,
        &[
            "line 8: log.level: `verbose` is not one of \"trace\", \"debug\", \"info\", \"warn\", \"error\", \"off\"",
            "line 9: log.format: `jsn` is not one of \"text\", \"json\" (did you mean \"json\"?)",
            "line 11: store.backend: `mysql` is not one of \"memory\", \"redis\"",
            "line 14: route[0].require: `yes` is not one of \"otp\", \"none\"",
        ],
    );
    // A filter whose every part names a level is fine; one part without
    // a level silences the rest and is refused.
    let ok = format!("{MINIMAL}[log]\nlevel = \"info,otpgate=debug\"\n");
    assert_eq!(check(&ok, &[]).0, Some(0));
    let (code, t) = check(&format!("{MINIMAL}[log]\nlevel = \"info,otpgate\"\n"), &[]);
    assert_eq!(code, Some(1), "{t}");
    assert_has(&t, &["line 8: log.level: `otpgate` is not one of"]);
}

#[test]
fn default_region_must_be_an_allowed_region() {
    let cfg = format!("{MINIMAL}[phone]\ndefault_region = \"US\"\nallowed_regions = [\"IN\"]\n");
    let (code, t) = check(&cfg, &[]);
    assert_eq!(code, Some(1), "{t}");
    assert_has(
        &t,
        &["line 8: phone.default_region: US is not in phone.allowed_regions (IN)"],
    );
    // The default region (IN) left out of the list: named where written.
    let cfg = format!("{MINIMAL}[phone]\nallowed_regions = [\"US\", \"GB\"]\n");
    let (code, t) = check(&cfg, &[]);
    assert_eq!(code, Some(1), "{t}");
    assert_has(
        &t,
        &["line 8: phone.allowed_regions: IN is not in phone.allowed_regions (US, GB)"],
    );
    // Case does not matter; unset allowed_regions means the default only.
    let ok =
        format!("{MINIMAL}[phone]\ndefault_region = \"in\"\nallowed_regions = [\"us\", \"IN\"]\n");
    assert_eq!(check(&ok, &[]).0, Some(0));
    assert_eq!(
        check(&format!("{MINIMAL}[phone]\ndefault_region = \"US\"\n"), &[]).0,
        Some(0)
    );
}

#[test]
fn listeners_on_one_address_are_refused() {
    let cfg = format!(
        "[server]\nlisten = \"127.0.0.1:8443\"\nredirect_http = \"127.0.0.1:8443\"\n[admin]\nlisten = \"127.0.0.1:8443\"\n{MINIMAL}"
    );
    let (code, t) = check(&cfg, &[]);
    assert_eq!(code, Some(1), "{t}");
    assert_has(
        &t,
        &[
            "line 3: server.redirect_http: must differ from server.listen",
            "line 5: admin.listen: must differ from server.listen",
        ],
    );
}

#[test]
fn weaker_than_the_standards_warns_and_strict_refuses() {
    // MINIMAL plus the one setting whose absence is itself a warning.
    const QUIET: &str = "[server]\npublic_host = \"shop.example.com\"\n[upstream]\nurl = \"http://127.0.0.1:3000\"\n[session]\nsecret = \"${OTPGATE_SECRET}\"\n[sms]\nprovider = \"console\"\n";
    let weak = format!(
        "{QUIET}[otp]\nttl = \"2h\"\nmax_attempts = 50\nresend_after = \"30s\"\n[admin]\nlisten = \"0.0.0.0:9090\"\n"
    );
    let expected = [
        "warning: line 10: otp.ttl: 2h is longer than 10 minutes, the most NIST SP 800-63B §5.1.3 allows",
        "warning: line 11: otp.max_attempts: 50 is more than 5, the most failed attempts PSD2 RTS art. 4(3)(b) allows",
        "warning: line 14: admin.listen: 0.0.0.0:9090 is not a loopback address",
        "an [admin] token guards only /api/*",
    ];
    let (code, t) = check(&weak, &[]);
    assert_eq!(code, Some(0), "warnings alone pass: {t}");
    assert_has(&t, &expected);
    assert_has(&t, &["OK"]);

    let (code, t) = check(&weak, &["--strict"]);
    assert_eq!(code, Some(1), "--strict refuses warnings: {t}");
    assert_has(
        &t,
        &[
            "error: line 10: otp.ttl:",
            "error: line 11: otp.max_attempts:",
            "error: line 14: admin.listen:",
            "3 warnings (refused under --strict)",
        ],
    );
    assert!(!t.contains(": OK"), "{t}");

    // Other non-loopback spellings of the admin listener.
    for listen in ["[::]:9090", "10.0.0.5:9090"] {
        let cfg = format!("{QUIET}[admin]\nlisten = \"{listen}\"\n");
        let (code, t) = check(&cfg, &["--strict"]);
        assert_eq!(code, Some(1), "{listen}: {t}");
        assert_has(&t, &["admin.listen:"]);
    }
    // At the limits: nothing to say, --strict passes.
    for listen in ["127.0.0.1:9090", "[::1]:9090", "[::ffff:127.0.0.1]:9090"] {
        let cfg = format!(
            "{QUIET}[otp]\nttl = \"10m\"\nmax_attempts = 5\n[admin]\nlisten = \"{listen}\"\n"
        );
        let (code, t) = check(&cfg, &["--strict"]);
        assert_eq!(code, Some(0), "{listen}: {t}");
        assert!(!t.contains("warning") && !t.contains("error"), "{t}");
    }
    // Just over the limits.
    let cfg = format!("{QUIET}[otp]\nttl = \"10m 1s\"\nmax_attempts = 6\n");
    let (code, t) = check(&cfg, &["--strict"]);
    assert_eq!(code, Some(1), "{t}");
    assert_has(&t, &["otp.ttl:", "otp.max_attempts:"]);
}

#[test]
fn keys_that_disagree_warn() {
    let cfg = format!(
        "[server]\npublic_host = \"shop.example.com\"\n{MINIMAL}[otp]\nttl = \"1m\"\nresend_after = \"2m\"\n"
    );
    let (code, t) = check(&cfg, &[]);
    assert_eq!(code, Some(0), "{t}");
    assert_has(
        &t,
        &["warning: line 11: otp.resend_after: 2m is not shorter than otp.ttl (1m)"],
    );
    assert_eq!(check(&cfg, &["--strict"]).0, Some(1));
    // A Redis address beside the memory backend is an error, not a
    // warning: every instance would silently keep its own state.
    let cfg = format!("{MINIMAL}[store]\nredis_url = \"redis://127.0.0.1:6379\"\n");
    let (code, t) = check(&cfg, &[]);
    assert_eq!(code, Some(1), "{t}");
    assert_has(
        &t,
        &["store.redis_url: is set but store.backend is \"memory\""],
    );
}

#[test]
fn fraud_rule_modes_are_checked_and_guessing_limits_never_shadowed() {
    let cfg = format!(
        "{MINIMAL}[limits]\nsend_per_ip = {{ max = 10, window = \"1h\", mode = \"log\" }}\n\
         verify_per_ip = {{ max = 30, window = \"5m\", mode = \"shadow\" }}\n\
         verify_fail_per_phone = {{ max = 10, window = \"1h\", mode = \"shadow\" }}\n\
         send_per_fingerprint = {{ max = 400, window = \"1h\", mode = \"shadow\" }}\n\
         [limits.pumping]\nmode = \"enforcing\"\nfingerprint_mode = \"Shadow\"\n"
    );
    let (code, t) = check(&cfg, &[]);
    assert_eq!(code, Some(1), "{t}");
    let guessing = "a guessing limit is always enforced";
    assert_has(
        &t,
        &[
            "limits.send_per_ip.mode: \"log\" must be \"enforce\" or \"shadow\"",
            &format!("limits.verify_per_ip.mode: {guessing}"),
            &format!("limits.verify_fail_per_phone.mode: {guessing}"),
            "limits.pumping.mode: \"enforcing\" must be \"enforce\" or \"shadow\"",
            "limits.pumping.fingerprint_mode: \"Shadow\" must be \"enforce\" or \"shadow\"",
        ],
    );
    // A send limit in shadow is fine.
    assert!(!t.contains("limits.send_per_fingerprint"), "{t}");
    let ok = format!(
        "{MINIMAL}[limits]\nsend_per_ip = {{ max = 10, window = \"1h\", mode = \"shadow\" }}\n\
         [limits.pumping]\nmode = \"shadow\"\nfingerprint_mode = \"enforce\"\n"
    );
    let (code, t) = check(&ok, &[]);
    assert_eq!(code, Some(0), "{t}");
}

#[test]
fn skip_slow_is_checked_key_by_key() {
    let good = format!(
        "{MINIMAL}skip_slow = {{ p95_above = \"30s\", conversion_below = 0.3, window = \"15m\", min_sends = 20 }}\n"
    );
    let (code, t) = check(&good, &[]);
    assert_eq!(code, Some(0), "{t}");
    let bad = format!(
        "{MINIMAL}skip_slow = {{ p95_above = \"soon\", conversion_below = 1.5, min_sends = 0 }}\n"
    );
    let (code, t) = check(&bad, &[]);
    assert_eq!(code, Some(1), "{t}");
    assert_has(
        &t,
        &[
            "sms.skip_slow.p95_above",
            "sms.skip_slow.conversion_below",
            "sms.skip_slow.min_sends",
        ],
    );
    let typo = format!("{MINIMAL}skip_slow = {{ p99_above = \"30s\" }}\n");
    let (code, t) = check(&typo, &[]);
    assert_eq!(code, Some(1), "{t}");
    assert_has(&t, &["p99_above"]);
}
