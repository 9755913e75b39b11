//! Raw file -> typed [`Config`], collecting every problem before giving up.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::raw::RawConfig;
use super::schema::Locator;
use super::typecheck;
use super::{AdminConfig, Config, LogConfig, LogFormat, OtpConfig, Problem};

mod advice;
mod brand;
mod cross;
mod fingerprint;
mod hold;
mod kit;
mod limits;
mod messages;
mod pow;
mod routes;
mod sections;
mod store;
mod tls;
mod transaction;

use self::kit::{addr, duration, int_in, Problems, DEFAULT_MESSAGE};
use self::limits::{limits, RawAbuse};

/// Whether validation compares the SMS texts with `[sms.dlt]` templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dlt {
    Compare,
    Skip,
}

/// Validates `text`; relative paths are read from `folder` (the config
/// file's), or from the working directory without one.
pub fn validate(text: &str, folder: Option<&Path>) -> Result<Config, Vec<Problem>> {
    validate_with(text, folder, Dlt::Compare)
}

/// [`validate`], choosing whether the SMS texts are compared with the
/// registered DLT templates.
pub fn validate_with(text: &str, folder: Option<&Path>, dlt: Dlt) -> Result<Config, Vec<Problem>> {
    let mut p = Problems {
        locator: Locator::new(text),
        list: Vec::new(),
        advice: Vec::new(),
        folder,
    };
    // Pass 1: syntax.
    if let Err(e) = toml_edit::ImDocument::parse(text) {
        let line = e.span().map(|s| p.locator.line_at(s.start));
        let message = e.message().trim().to_string();
        return Err(vec![Problem {
            key: "(syntax)".into(),
            line,
            message,
        }]);
    }
    let table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => return Err(vec![serde_problem(&p, "(syntax)", &e)]),
    };
    // Pass 2: unknown keys (with suggestions) and types, all of them; the
    // keys in error are left out of the typed pass, which then cannot fail.
    let (table, found) = typecheck::check(table, folder);
    for f in found {
        p.add(&f.key, f.message);
    }
    let root = toml::Value::Table(table);
    // A failure here means schema.rs and raw.rs disagree on a key's type.
    let raw = RawConfig::deserialize(root.clone()).map_err(|e| serde_problem(&p, "(type)", &e));
    let abuse = RawAbuse::deserialize(root).map_err(|e| serde_problem(&p, "(type)", &e));
    let (raw, abuse) = match (raw, abuse) {
        (Ok(raw), Ok(abuse)) => (raw, abuse),
        (Err(e), _) | (_, Err(e)) => {
            p.list.push(e);
            p.list.sort_by_key(|x| x.line.unwrap_or(usize::MAX));
            return Err(p.list);
        }
    };
    // Pass 3: meaning.
    let config = build(raw, &abuse, &mut p).map(|mut config| {
        let found = crate::sms::dlt::preflight(&config.sms, &config.sms_texts());
        if dlt == Dlt::Compare {
            for (key, message) in found.problems {
                p.add(&key, message);
            }
        }
        config.warnings.extend(found.warnings);
        config
    });
    if p.list.is_empty() {
        config.ok_or_else(Vec::new)
    } else {
        p.list.sort_by_key(|x| x.line.unwrap_or(usize::MAX));
        Err(p.list)
    }
}

fn serde_problem(p: &Problems, key: &str, e: &toml::de::Error) -> Problem {
    Problem {
        key: key.into(),
        line: e.span().map(|s| p.locator.line_at(s.start)),
        message: e.message().trim().to_string(),
    }
}

fn build(raw: RawConfig, abuse: &RawAbuse, p: &mut Problems) -> Option<Config> {
    let server = sections::server(p, &raw);

    let tls = tls::tls(p, &raw.tls);

    let upstream = sections::upstream(p, &raw);

    let session = sections::session(p, &raw);

    let routes = routes::routes(p, &raw, session.ttl);

    let (brand, brand_warnings) = brand::brand(p, &raw);

    let otp = {
        let o = &raw.otp;
        let message = o.message.clone().unwrap_or_else(|| DEFAULT_MESSAGE.into());
        messages::check_template(p, "otp.message", &message);
        let messages = messages::messages(p, &raw, &brand.languages);
        OtpConfig {
            length: int_in(p, "otp.length", o.length, 6, 4, 10) as u32,
            ttl: duration(p, "otp.ttl", o.ttl.as_ref(), "5m"),
            max_attempts: int_in(p, "otp.max_attempts", o.max_attempts, 5, 1, 100) as u32,
            resend_after: duration(p, "otp.resend_after", o.resend_after.as_ref(), "30s"),
            message,
            messages,
            min_send_time: match &abuse.otp.min_send_time {
                Some(v) => duration(p, "otp.min_send_time", Some(v), "1s"),
                None => Duration::ZERO,
            },
        }
    };

    let phone = sections::phone(p, &raw);

    // Unknown and mistyped `[sms]` keys were reported and left out above.
    let raw_sms = crate::sms::RawSmsConfig::deserialize(toml::Value::Table(raw.sms.clone()));
    let sms = match raw_sms
        .map_err(|e| vec![("sms".to_string(), e.message().to_string())])
        .and_then(|r| crate::sms::validate(&r))
    {
        Ok(c) => Some(c),
        Err(list) => {
            for (key, message) in list {
                p.add(&key, message);
            }
            None
        }
    };

    let channels = channels(p, &raw);

    let store = store::store(p, &raw.store);

    let admin = AdminConfig {
        listen: addr(
            p,
            "admin.listen",
            raw.admin.listen.as_deref().unwrap_or("127.0.0.1:9090"),
        ),
        token: admin_token(p, &raw.admin),
    };
    if admin.listen == Some(server.listen) && server.listen.port() != 0 {
        p.add(
            "admin.listen",
            "must differ from server.listen: metrics never go on the public port",
        );
    }

    let limits = limits(p, &raw.limits.by_name, abuse.limits.pumping.as_ref());

    let log = LogConfig {
        format: match p.choice(
            "log.format",
            raw.log.format.as_deref().unwrap_or("text"),
            &["text", "json"],
        ) {
            Some("json") => LogFormat::Json,
            _ => LogFormat::Text,
        },
        level: raw.log.level.clone().unwrap_or_else(|| "info".into()),
        audit_file: raw.log.audit_file.as_ref().map(PathBuf::from),
        audit_required: raw.log.audit_required.unwrap_or(false),
    };
    if let Err(e) = cross::log_level(&log.level) {
        p.add("log.level", e);
    }

    cross::check(p, &raw, &server, &phone, &otp, &admin);
    advice::check(p, &otp, &admin);

    let hold = hold::hold(p, &raw.hold);
    let transaction_warnings = transaction::check(p, &routes, &hold, &otp);

    let sms = sms?;
    let regions: Vec<String> = phone
        .allowed_regions
        .iter()
        .map(|r| format!("{r:?}"))
        .collect();
    let mut warnings = crate::sms::warnings(&sms, &regions, &otp.message, &brand.name);
    warnings.extend(brand_warnings);
    warnings.extend(messages::segment_warnings(
        &otp,
        &brand.name,
        server.public_host.as_deref(),
    ));
    if server.public_host.is_none() && otp.message.contains("{host}") {
        warnings.push(
            "server.public_host is not set: SMS messages leave out the `@host #code` autofill line"
                .into(),
        );
    }
    warnings.extend(transaction_warnings);
    warnings.extend(p.advice.iter().map(Problem::to_string));
    Some(Config {
        server,
        tls,
        upstream,
        routes,
        brand,
        otp,
        phone,
        session,
        sms,
        channels: channels?,
        store,
        admin,
        limits,
        log,
        fingerprint: fingerprint::fingerprint(&raw.fingerprint),
        hold,
        pow: pow::pow(p, &raw.pow),
        warnings,
    })
}

/// `[channels]`, `[whatsapp]`, `[voice]` (sms/channel.rs); unknown and
/// mistyped keys were reported by the schema pass.
fn channels(p: &mut Problems, raw: &super::raw::RawConfig) -> Option<crate::sms::ChannelsConfig> {
    fn table<T: serde::de::DeserializeOwned>(
        p: &mut Problems,
        key: &str,
        t: &toml::Table,
    ) -> Option<T> {
        T::deserialize(toml::Value::Table(t.clone()))
            .map_err(|e| p.add(key, e.message().to_string()))
            .ok()
    }
    let ch: crate::sms::RawChannels = table(p, "channels", &raw.channels)?;
    let wa: Option<crate::sms::whatsapp::RawWhatsapp> = match raw.whatsapp.is_empty() {
        true => None,
        false => Some(table(p, "whatsapp", &raw.whatsapp)?),
    };
    let voice: Option<crate::sms::voice::RawVoice> = match raw.voice.is_empty() {
        true => None,
        false => Some(table(p, "voice", &raw.voice)?),
    };
    match crate::sms::channel::validate(&ch, wa.as_ref(), voice.as_ref()) {
        Ok(c) => Some(c),
        Err(list) => {
            for (key, message) in list {
                p.add(&key, message);
            }
            None
        }
    }
}

/// `[admin] token` (literal or `${ENV}`) or `token_file` (the file's
/// content), read like every other secret (validation.rs), at least 32
/// bytes: it ends every session of any phone.
fn admin_token(p: &mut Problems, a: &super::raw::RawAdmin) -> Option<crate::secret::Secret> {
    let mut found = crate::validation::Problems::default();
    let inline = a.token.clone().map(crate::secret::Secret::new);
    let token = crate::validation::secret(
        &mut found,
        "admin.token",
        inline.as_ref(),
        a.token_file.as_ref(),
    );
    for (key, message) in found.0 {
        p.add(&key, message);
    }
    let token = token?;
    let key = if a.token.is_some() {
        "admin.token"
    } else {
        "admin.token_file"
    };
    if token.expose().len() < 32 {
        p.add(key, "must be at least 32 bytes (use `otpgate gen-secret`)");
        return None;
    }
    Some(token)
}

/// A minimal valid configuration with `extra` appended, parsed (for the
/// sections' unit tests).
#[cfg(test)]
fn parse_for_test(extra: &str) -> Result<Config, String> {
    let dir = tempfile::tempdir().unwrap();
    crate::tls::write_self_signed(dir.path(), &["localhost".into()]).unwrap();
    let text = format!(
        "[tls]\ncert = \"{d}/cert.pem\"\nkey = \"{d}/key.pem\"\n[upstream]\nurl = \"http://127.0.0.1:3000\"\n\
         [session]\nsecret = \"0123456789abcdef0123456789abcdef-x\"\n[sms]\nprovider = \"console\"\n{extra}",
        d = dir.path().display()
    );
    Config::parse(&text, "test").map_err(|e| e.to_string())
}
