//! What a reload (`SIGHUP`) may change. Most of the configuration is read
//! per request from the gateway's snapshot and takes effect for the next
//! request; a few keys are fixed when the process starts (sockets already
//! bound, the store connection, worker threads, the connection caps, the
//! log subscriber). For those the running value is kept and the key is
//! named, so an operator knows a restart is due instead of believing the
//! file is in force.

use crate::config::Config;

/// Copies every restart-only value of `running` into `next` and returns the
/// keys whose value in `next` differed.
pub fn keep_restart_only(running: &Config, next: &mut Config) -> Vec<&'static str> {
    let mut kept = Vec::new();
    macro_rules! keep {
        ($key:literal, $($field:ident).+) => {
            if running.$($field).+ != next.$($field).+ {
                kept.push($key);
                next.$($field).+ = running.$($field).+.clone();
            }
        };
    }
    keep!("server.listen", server.listen);
    keep!("server.redirect_http", server.redirect_http);
    keep!("server.workers", server.workers);
    keep!("server.max_connections", server.max_connections);
    keep!(
        "server.max_connections_per_ip",
        server.max_connections_per_ip
    );
    keep!("admin.listen", admin.listen);
    // The ticketer is part of the TLS configuration built at start.
    keep!("tls.ticket_key_file", tls.tickets);
    // Backend and URL: the connection (and the memory store's contents)
    // belong to the process, not to the file.
    keep!("store", store);
    keep!("log.format", log.format);
    keep!("log.level", log.level);
    keep!("log.audit_file", log.audit_file);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> Config {
        let dir = std::env::temp_dir().join("otpgate-reload-unit");
        crate::tls::write_self_signed(&dir, &["localhost".into()]).unwrap();
        let text = format!(
            r#"
[server]
listen = "127.0.0.1:8443"
[tls]
cert = "{0}/cert.pem"
key = "{0}/key.pem"
[upstream]
url = "http://127.0.0.1:3000"
[session]
secret = "0123456789abcdef0123456789abcdef-unit"
[sms]
provider = "console"
{extra}
"#,
            dir.display()
        );
        Config::parse(&text, "unit").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn restart_only_keys_keep_their_running_value_and_are_named() {
        let running = cfg("");
        let mut next = cfg(
            "[admin]\nlisten = \"127.0.0.1:9999\"\n[store]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:1\"\n[otp]\nlength = 8\n",
        );
        next.server.listen = "127.0.0.1:9443".parse().unwrap();
        next.server.workers += 1;
        let kept = keep_restart_only(&running, &mut next);
        assert_eq!(
            kept,
            ["server.listen", "server.workers", "admin.listen", "store"]
        );
        assert_eq!(next.server.listen, running.server.listen);
        assert_eq!(next.server.workers, running.server.workers);
        assert_eq!(next.admin.listen, running.admin.listen);
        assert!(next.store == running.store);
        assert_eq!(next.otp.length, 8, "reloadable keys take the new value");
    }

    #[test]
    fn an_unchanged_file_names_nothing() {
        let running = cfg("");
        let mut next = cfg("");
        assert!(keep_restart_only(&running, &mut next).is_empty());
    }
}
