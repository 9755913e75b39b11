//! Which keys exist and the type of each, so that a typo is an error with a
//! suggestion instead of a silently ignored setting (checked in
//! `typecheck.rs`), and where a key sits in the file, so that every problem
//! can name its line.

use std::ops::Range;

use toml_edit::{ImDocument, Item, Table};

/// What a table holds: a value of one [`Kind`], an `Open` table (any key,
/// values of one kind, such as `[sms.webhook] headers`), a table of known
/// keys, or an array of such tables (`[[route]]`).
pub enum Shape {
    Leaf(Kind),
    Open(Kind),
    Table(&'static [(&'static str, Shape)]),
    Tables(&'static [(&'static str, Shape)]),
}

/// The TOML type a key takes, checked before the typed pass so that a
/// wrong type is one problem among the others, named with its key and line,
/// instead of the end of the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    /// A string humantime reads (`"15m"`).
    Duration,
    /// A string naming a file or folder; a relative one is read from the
    /// configuration file's folder (`paths.rs`).
    Path,
    Int,
    /// A whole number from 0 to 2^32 - 1.
    Count,
    /// An integer or a float.
    Number,
    Bool,
    /// An array of strings.
    Strings,
    /// A string or an array of strings (`session.secret`: rotation).
    StrOrStrings,
    /// A size: a string such as `"64KiB"` or a number of bytes.
    Size,
}

use Shape::{Leaf, Open, Table as T, Tables};

const STR: Shape = Leaf(Kind::Str);
const DURATION: Shape = Leaf(Kind::Duration);
const PATH: Shape = Leaf(Kind::Path);
const INT: Shape = Leaf(Kind::Int);
const COUNT: Shape = Leaf(Kind::Count);
const NUMBER: Shape = Leaf(Kind::Number);
const BOOL: Shape = Leaf(Kind::Bool);
const SIZE: Shape = Leaf(Kind::Size);
const LIST: Shape = Leaf(Kind::Strings);
const STR_OR_LIST: Shape = Leaf(Kind::StrOrStrings);

const LIMIT: Shape = T(&[("max", INT), ("window", DURATION), ("mode", STR)]);

pub const SCHEMA: Shape = T(&[
    (
        "server",
        T(&[
            ("listen", STR),
            ("redirect_http", STR),
            ("public_host", STR),
            ("trusted_proxies", LIST),
            ("max_connections", INT),
            ("workers", INT),
            ("handshake_timeout", DURATION),
            ("header_timeout", DURATION),
            ("max_header_bytes", INT),
            ("shutdown_grace", DURATION),
            ("idle_timeout", DURATION),
            ("body_timeout", DURATION),
            ("body_min_rate", INT),
            ("http2_keepalive_interval", DURATION),
            ("http2_keepalive_timeout", DURATION),
            ("max_connections_per_ip", INT),
        ]),
    ),
    (
        "tls",
        T(&[
            ("cert", PATH),
            ("key", PATH),
            ("ticket_key_file", PATH),
            ("ticket_rotation", DURATION),
        ]),
    ),
    (
        "upstream",
        T(&[
            ("url", STR),
            ("connect_timeout", DURATION),
            ("response_timeout", DURATION),
            ("preserve_host", BOOL),
            ("ca_file", PATH),
            ("pool_idle_timeout", DURATION),
            ("pool_max_idle", INT),
        ]),
    ),
    (
        "route",
        Tables(&[
            ("path", STR),
            ("require", STR),
            ("max_age", DURATION),
            ("methods", LIST),
            ("confirm", STR),
            ("amount_field", STR),
            ("currency", STR),
        ]),
    ),
    (
        "brand",
        T(&[
            ("name", STR),
            ("color", STR),
            ("logo_url", STR),
            ("languages", LIST),
            ("templates_dir", PATH),
        ]),
    ),
    (
        "otp",
        T(&[
            ("length", INT),
            ("ttl", DURATION),
            ("max_attempts", INT),
            ("resend_after", DURATION),
            ("message", STR),
            ("messages", Open(Kind::Str)),
            ("min_send_time", DURATION),
        ]),
    ),
    (
        "phone",
        T(&[
            ("default_region", STR),
            ("allowed_regions", LIST),
            ("lookup_url", STR),
            ("blocked_prefixes", LIST),
        ]),
    ),
    (
        "session",
        T(&[
            ("secret", STR_OR_LIST),
            ("secret_file", PATH),
            ("ttl", DURATION),
            ("cookie_name", STR),
        ]),
    ),
    (
        "sms",
        T(&[
            ("provider", STR),
            ("fallback", LIST),
            ("timeout", DURATION),
            ("connect_timeout", DURATION),
            ("budget", DURATION),
            ("max_retries", COUNT),
            (
                "skip_slow",
                T(&[
                    ("p95_above", DURATION),
                    ("conversion_below", NUMBER),
                    ("window", DURATION),
                    ("min_sends", COUNT),
                ]),
            ),
            (
                "twilio",
                T(&[
                    ("account_sid", STR),
                    ("auth_token", STR),
                    ("auth_token_file", PATH),
                    ("api_key_sid", STR),
                    ("api_key_secret", STR),
                    ("api_key_secret_file", PATH),
                    ("from", STR),
                    ("messaging_service_sid", STR),
                    ("api_base", STR),
                    ("status_callback", STR),
                ]),
            ),
            (
                "msg91",
                T(&[
                    ("authkey", STR),
                    ("authkey_file", PATH),
                    ("template_id", STR),
                    ("sender", STR),
                    ("entity_id", STR),
                    ("code_var", STR),
                    ("api_base", STR),
                    ("dlr_token", STR),
                    ("dlr_token_file", PATH),
                ]),
            ),
            (
                "vonage",
                T(&[
                    ("api_key", STR),
                    ("api_secret", STR),
                    ("api_secret_file", PATH),
                    ("from", STR),
                    ("entity_id", STR),
                    ("content_id", STR),
                    ("api_base", STR),
                    ("signature_secret", STR),
                    ("signature_secret_file", PATH),
                    ("signature_method", STR),
                ]),
            ),
            (
                "webhook",
                T(&[
                    ("url", STR),
                    ("headers", Open(Kind::Str)),
                    ("body", STR),
                    ("content_type", STR),
                    ("success_field", STR),
                    ("success_value", STR),
                ]),
            ),
            ("file", T(&[("path", PATH)])),
            (
                "dlt",
                T(&[("templates", Tables(&[("id", STR), ("text", STR)]))]),
            ),
        ]),
    ),
    (
        "channels",
        T(&[
            ("order", LIST),
            ("regions", Open(Kind::Strings)),
            ("fallback_after", DURATION),
            ("auto_fallback", BOOL),
        ]),
    ),
    (
        "whatsapp",
        T(&[
            ("provider", STR),
            ("fallback", LIST),
            ("timeout", DURATION),
            ("connect_timeout", DURATION),
            ("budget", DURATION),
            ("max_retries", COUNT),
            (
                "meta",
                T(&[
                    ("access_token", STR),
                    ("access_token_file", PATH),
                    ("phone_number_id", STR),
                    ("template", STR),
                    ("languages", Open(Kind::Str)),
                    ("api_version", STR),
                    ("api_base", STR),
                ]),
            ),
            (
                "twilio",
                T(&[
                    ("account_sid", STR),
                    ("auth_token", STR),
                    ("auth_token_file", PATH),
                    ("from", STR),
                    ("content_sid", STR),
                    ("status_callback", STR),
                    ("api_base", STR),
                ]),
            ),
            (
                "msg91",
                T(&[
                    ("authkey", STR),
                    ("authkey_file", PATH),
                    ("integrated_number", STR),
                    ("template", STR),
                    ("namespace", STR),
                    ("languages", Open(Kind::Str)),
                    ("api_base", STR),
                ]),
            ),
        ]),
    ),
    (
        "voice",
        T(&[
            ("provider", STR),
            ("fallback", LIST),
            ("timeout", DURATION),
            ("connect_timeout", DURATION),
            ("budget", DURATION),
            ("max_retries", COUNT),
            (
                "twilio",
                T(&[
                    ("account_sid", STR),
                    ("auth_token", STR),
                    ("auth_token_file", PATH),
                    ("from", STR),
                    ("voice", STR),
                    ("status_callback", STR),
                    ("api_base", STR),
                ]),
            ),
            (
                "msg91",
                T(&[
                    ("authkey", STR),
                    ("authkey_file", PATH),
                    ("template", STR),
                    ("caller_id", STR),
                    ("code_var", STR),
                    ("api_base", STR),
                ]),
            ),
        ]),
    ),
    (
        "store",
        T(&[
            ("backend", STR),
            ("redis_url", STR),
            ("redis_cluster_urls", LIST),
        ]),
    ),
    (
        "admin",
        T(&[("listen", STR), ("token", STR), ("token_file", PATH)]),
    ),
    (
        "limits",
        T(&[
            ("send_per_phone", LIMIT),
            ("send_per_ip", LIMIT),
            ("send_per_prefix", LIMIT),
            ("send_per_country", LIMIT),
            ("send_per_fingerprint", LIMIT),
            ("sms_per_hour", LIMIT),
            ("sms_per_day", LIMIT),
            ("whatsapp_per_hour", LIMIT),
            ("voice_per_hour", LIMIT),
            ("verify_fail_per_phone", LIMIT),
            ("verify_per_ip", LIMIT),
            (
                "pumping",
                T(&[
                    ("enabled", BOOL),
                    ("window", DURATION),
                    ("min_sends", INT),
                    ("min_conversion", NUMBER),
                    ("min_networks", INT),
                    ("block_for", DURATION),
                    ("mode", STR),
                    ("fingerprints", BOOL),
                    ("fingerprint_min_sends", INT),
                    ("fingerprint_mode", STR),
                ]),
            ),
        ]),
    ),
    (
        "log",
        T(&[
            ("format", STR),
            ("level", STR),
            ("audit_file", PATH),
            ("audit_required", BOOL),
        ]),
    ),
    ("fingerprint", T(&[("forward", BOOL)])),
    ("hold", T(&[("enabled", BOOL), ("max_body", SIZE)])),
    (
        "pow",
        T(&[
            ("enabled", BOOL),
            ("mode", STR),
            ("base_difficulty", INT),
            ("max_difficulty", INT),
            ("step", INT),
            ("threshold", INT),
            ("ttl", DURATION),
            ("window", DURATION),
            ("fingerprint_sends", INT),
            ("ip_sends", INT),
            ("low_conversion", NUMBER),
            ("min_prefix_sends", INT),
        ]),
    ),
]);

/// Finds where a dotted path such as `route[1].max_age` is written.
pub struct Locator<'a> {
    text: &'a str,
    doc: Option<ImDocument<&'a str>>,
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str) -> Self {
        Locator {
            text,
            doc: ImDocument::parse(text).ok(),
        }
    }

    /// 1-based line of the key (or of the nearest table that holds it).
    pub fn line(&self, path: &str) -> Option<usize> {
        let doc = self.doc.as_ref()?;
        let span = span_of(doc.as_table(), path)?;
        Some(self.line_at(span.start))
    }

    pub fn line_at(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text[..offset].bytes().filter(|b| *b == b'\n').count() + 1
    }
}

fn span_of(root: &Table, path: &str) -> Option<Range<usize>> {
    let mut table = root;
    let mut best = root.span();
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let key_span = table.key(name).and_then(|k| k.span());
        best = key_span.clone().or(best);
        let item = table.get(name)?;
        match (item, index) {
            (Item::ArrayOfTables(arr), Some(i)) => {
                let t = arr.get(i)?;
                best = t.span().or(best);
                table = t;
            }
            (Item::Table(t), None) => {
                best = t.span().or(best);
                table = t;
            }
            _ => {
                if parts.peek().is_some() {
                    return best;
                }
                return key_span.or(best);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::{Shape, SCHEMA};

    fn leaves(shape: &Shape, prefix: &str, out: &mut Vec<String>) {
        if let Shape::Table(keys) | Shape::Tables(keys) = shape {
            for (name, sub) in keys.iter() {
                let path = if prefix.is_empty() {
                    name.to_string()
                } else {
                    format!("{prefix}.{name}")
                };
                match sub {
                    Shape::Leaf(_) | Shape::Open(_) => out.push(path),
                    _ => leaves(sub, &path, out),
                }
            }
        }
    }

    /// config/otpgate.toml documents every key otpgate knows (set or
    /// commented out), so the example never falls behind the code.
    #[test]
    fn the_documented_example_mentions_every_key() {
        let example = include_str!("../../config/otpgate.toml");
        let mut all = Vec::new();
        leaves(&SCHEMA, "", &mut all);
        assert!(all.len() > 80, "{} keys", all.len());
        let missing: Vec<&String> = all
            .iter()
            .filter(|path| {
                let leaf = path.rsplit('.').next().unwrap();
                !example.lines().any(|l| {
                    let l = l.trim_start_matches(['#', ' ']);
                    l.starts_with(&format!("{leaf} ="))
                        || l.contains(&format!(" {leaf} = "))
                        || l.contains(&format!("{{ {leaf} ="))
                })
            })
            .collect();
        assert!(
            missing.is_empty(),
            "not documented in config/otpgate.toml: {missing:?}"
        );
    }
}
