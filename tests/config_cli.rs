//! The command line: check-config names every problem with key and line,
//! exit codes, gen-secret, gen-cert, and `run` refusing a bad config.

use std::process::Output;

#[path = "support/cli.rs"]
mod cli;

use cli::{dir_with, otpgate, text};

const MINIMAL: &str = "[upstream]\nurl = \"http://127.0.0.1:3000\"\n[session]\nsecret = \"${OTPGATE_SECRET}\"\n[sms]\nprovider = \"console\"\n";

#[test]
fn documented_example_is_valid() {
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/otpgate.toml"))
            .unwrap();
    let dir = dir_with(&example);
    let out = otpgate(dir.path(), &["check-config", "-c", "otpgate.toml"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("OK"));
}

#[test]
fn minimal_config_is_valid_and_default_path_is_used() {
    let dir = dir_with(MINIMAL);
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::copy(
        dir.path().join("otpgate.toml"),
        dir.path().join("config/otpgate.toml"),
    )
    .unwrap();
    // The default `certs/…` is read from the config file's folder.
    let out = otpgate(dir.path(), &["gen-cert", "--dir", "config/certs"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = otpgate(dir.path(), &["check-config"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn every_problem_is_reported_at_once_with_key_and_line() {
    let cfg = r#"[server]
listen = "0.0.0.0:8443"
listn = "x"
handshake_timeout = "soon"
[upstream]
url = "ftp://shop"
[[route]]
path = "/checkout"
require = "maybe"
[otp]
length = 12
[phone]
default_region = "XX"
[session]
secret = "${OTPGATE_SECRET}"
[sms]
provider = "twilo"
[brand]
color = "red;}"
"#;
    let dir = dir_with(cfg);
    let out = otpgate(dir.path(), &["check-config", "-c", "otpgate.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    for expected in [
        "line 3: server.listn: unknown key (did you mean `listen`?)",
        "line 4: server.handshake_timeout:",
        "line 6: upstream.url:",
        "line 9: route[0].require:",
        "line 11: otp.length: 12 is out of range 4..=10",
        "line 13: phone.default_region:",
        "sms.provider",
        "line 19: brand.color:",
    ] {
        assert!(t.contains(expected), "missing {expected:?} in:\n{t}");
    }
}

#[test]
fn syntax_and_type_errors_name_the_line() {
    let dir = dir_with("[server]\nlisten = \"0.0.0.0:8443\"\n[otp\nlength = 6\n");
    let out = otpgate(dir.path(), &["check-config", "-c", "otpgate.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("line 3"), "{}", text(&out));

    let dir = dir_with(&format!("{MINIMAL}[otp]\nlength = \"six\"\n"));
    let out = otpgate(dir.path(), &["check-config", "-c", "otpgate.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("line 8"), "{}", text(&out));
}

#[test]
fn secrets_are_never_echoed() {
    let dir = dir_with("[upstream]\nurl = \"http://127.0.0.1:3000\"\n[session]\nsecret = \"short-but-very-secret\"\n[sms]\nprovider = \"console\"\n");
    let out = otpgate(dir.path(), &["check-config", "-c", "otpgate.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("session.secret"), "{t}");
    assert!(!t.contains("short-but-very-secret"), "{t}");

    let dir = dir_with("[upstream]\nurl = \"http://127.0.0.1:3000\"\n[session]\nsecret = \"${NOT_SET_ANYWHERE}\"\n[sms]\nprovider = \"console\"\n");
    let t = text(&otpgate(
        dir.path(),
        &["check-config", "-c", "otpgate.toml"],
    ));
    assert!(
        t.contains("environment variable NOT_SET_ANYWHERE is not set"),
        "{t}"
    );
}

#[test]
fn missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = otpgate(dir.path(), &["check-config", "-c", "nope.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("cannot read nope.toml"));
}

#[test]
fn run_refuses_a_bad_config_before_binding() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = dir_with(&format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n{MINIMAL}[otp]\nttl = \"0s\"\n"
    ));
    let out = otpgate(dir.path(), &["run", "-c", "otpgate.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("otp.ttl"), "{}", text(&out));
}

#[test]
fn gen_secret_prints_a_fresh_secret_as_last_word() {
    let dir = tempfile::tempdir().unwrap();
    let last = |o: Output| {
        String::from_utf8(o.stdout)
            .unwrap()
            .split_whitespace()
            .last()
            .unwrap()
            .to_string()
    };
    let a = last(otpgate(dir.path(), &["gen-secret"]));
    let b = last(otpgate(dir.path(), &["gen-secret"]));
    assert_eq!(a.len(), 64);
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

#[test]
fn gen_cert_writes_a_usable_pair() {
    let dir = tempfile::tempdir().unwrap();
    let out = otpgate(
        dir.path(),
        &["gen-cert", "--host", "shop.example", "--host", "10.0.0.5"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let certs = dir.path().join("certs");
    otpgate::tls::server_config(&certs.join("cert.pem"), &certs.join("key.pem")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(certs.join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key is private");
    }
}

#[test]
fn help_explains_each_command() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in [
        "demo",
        "run",
        "check-config",
        "dlt-template",
        "gen-secret",
        "gen-cert",
    ] {
        let out = otpgate(dir.path(), &[cmd, "--help"]);
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).len() > 80,
            "{cmd} --help is too thin"
        );
    }
}
