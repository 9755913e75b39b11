//! `[tls]`: the certificate and key, and the session-ticket secret shared
//! by every instance behind one load balancer (tls/tickets.rs).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::kit::{duration, Problems};
use crate::config::raw::RawTls;
use crate::config::{TicketKeys, TlsConfig};
use crate::validation::one_secret_file;

const KEY_FILE: &str = "tls.ticket_key_file";
const ROTATION: &str = "tls.ticket_rotation";

pub(super) fn tls(p: &mut Problems, raw: &RawTls) -> TlsConfig {
    // Paths written in the file are resolved already (typecheck.rs).
    let cert = raw
        .cert
        .as_ref()
        .map_or_else(|| p.default_path("certs/cert.pem"), PathBuf::from);
    let key = raw
        .key
        .as_ref()
        .map_or_else(|| p.default_path("certs/key.pem"), PathBuf::from);
    for (name, path) in [("tls.cert", &cert), ("tls.key", &key)] {
        if !path.exists() {
            p.add(
                name,
                format!(
                    "{} does not exist (create one with `otpgate gen-cert`)",
                    path.display()
                ),
            );
        }
    }
    TlsConfig {
        cert,
        key,
        tickets: tickets(p, raw),
    }
}

fn tickets(p: &mut Problems, raw: &RawTls) -> Option<TicketKeys> {
    let rotation = duration(p, ROTATION, raw.ticket_rotation.as_ref(), "12h");
    let Some(path) = &raw.ticket_key_file else {
        if raw.ticket_rotation.is_some() {
            p.add(
                ROTATION,
                "only applies with tls.ticket_key_file (without it each process draws its own ticket keys)",
            );
        }
        return None;
    };
    // Issued in one period, a ticket opens until the next one ends: two
    // periods may not exceed TLS 1.3's 7-day ticket lifetime (RFC 8446 §4.6.1).
    let longest = crate::tls::MAX_TICKET_LIFETIME / 2;
    if rotation < Duration::from_secs(1) || rotation > longest {
        p.add(
            ROTATION,
            "must be between 1s and 84h (a ticket lives two periods, at most 7 days)",
        );
    }
    let path = Path::new(path);
    if let Some(problem) = exposed(path) {
        p.add(KEY_FILE, problem);
        return None;
    }
    let secret = match one_secret_file(path) {
        Ok(s) => s,
        Err(e) => {
            p.add(KEY_FILE, e);
            return None;
        }
    };
    if secret.expose().len() < 32 {
        p.add(
            KEY_FILE,
            "the secret must be at least 32 bytes (`otpgate gen-secret > ticket.key` makes one)",
        );
        return None;
    }
    Some(TicketKeys { secret, rotation })
}

/// Whoever reads the ticket secret decrypts every ticket sealed under it,
/// and so every resumed session's keys: a file other users can read is
/// refused rather than trusted.
#[cfg(unix)]
fn exposed(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o004 != 0).then(|| {
        format!(
            "{} is readable by every user (mode {:o}); `chmod 600` it (or 640 for the service's group)",
            path.display(),
            mode & 0o777
        )
    })
}

#[cfg(not(unix))]
fn exposed(_path: &Path) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use std::time::Duration;

    use crate::config::validate::validate;
    use crate::config::{Config, Problem};

    fn check(dir: &Path, tls_extra: &str) -> Result<Config, Vec<Problem>> {
        crate::tls::write_self_signed(dir, &["localhost".into()]).unwrap();
        let text = format!(
            "[tls]\ncert = \"certs/cert.pem\"\nkey = \"certs/key.pem\"\n{tls_extra}\n\
             [upstream]\nurl = \"http://127.0.0.1:3000\"\n\
             [session]\nsecret = \"0123456789abcdef0123456789abcdef-unit\"\n\
             [sms]\nprovider = \"console\"\n"
        );
        validate(&text, dir.parent())
    }

    fn key(dir: &Path, text: &str, mode: u32) {
        let path = dir.join("ticket.key");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// The problems' keys and messages, for asserting on both.
    fn problems(r: Result<Config, Vec<Problem>>) -> String {
        let list = r.expect_err("accepted");
        list.iter().map(|p| format!("{p}\n")).collect()
    }

    #[test]
    fn the_ticket_key_file_is_read_with_its_rotation() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("certs");
        let off = check(&dir, "").unwrap();
        assert_eq!(off.tls.tickets, None);
        key(&dir, &format!("{}\n", "k".repeat(64)), 0o600);
        let on = check(&dir, "ticket_key_file = \"certs/ticket.key\"").unwrap();
        let t = on.tls.tickets.unwrap();
        assert_eq!(t.rotation, Duration::from_secs(12 * 3600));
        assert_eq!(t.secret.expose(), "k".repeat(64));
        let hourly = check(
            &dir,
            "ticket_key_file = \"certs/ticket.key\"\nticket_rotation = \"1h\"",
        )
        .unwrap();
        assert_eq!(
            hourly.tls.tickets.unwrap().rotation,
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn a_missing_short_exposed_or_misused_key_file_is_refused_by_name() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("certs");
        let file = "ticket_key_file = \"certs/ticket.key\"";
        let missing = problems(check(&dir, file));
        assert!(
            missing.contains("tls.ticket_key_file: cannot read"),
            "{missing}"
        );
        key(&dir, "too-short-31-bytes-of-secret-xx\n", 0o600);
        let short = problems(check(&dir, file));
        assert!(
            short.contains("tls.ticket_key_file: the secret must be at least 32 bytes"),
            "{short}"
        );
        key(&dir, &"k".repeat(64), 0o644);
        let exposed = problems(check(&dir, file));
        assert!(
            exposed.contains("tls.ticket_key_file: ") && exposed.contains("readable by every user"),
            "{exposed}"
        );
        assert!(!exposed.contains(&"k".repeat(64)), "the secret was printed");
        key(&dir, &"k".repeat(64), 0o640);
        assert!(
            check(&dir, file).is_ok(),
            "group-readable (the service's group) is allowed"
        );
        for bad in ["0s", "85h", "soon"] {
            let r = problems(check(&dir, &format!("{file}\nticket_rotation = \"{bad}\"")));
            assert!(r.contains("tls.ticket_rotation"), "{bad}: {r}");
        }
        let alone = problems(check(&dir, "ticket_rotation = \"1h\""));
        assert!(
            alone.contains("tls.ticket_rotation: only applies with tls.ticket_key_file"),
            "{alone}"
        );
    }
}
