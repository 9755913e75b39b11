//! Which keys exist, so that a typo is an error with a suggestion instead of
//! a silently ignored setting, and where a key sits in the file, so that every
//! problem can name its line.

use std::ops::Range;

use toml_edit::{ImDocument, Item, Table};

/// A table's known keys; `Open` tables (such as `[sms.webhook] headers`)
/// take any key.
pub enum Shape {
    Leaf,
    Open,
    Table(&'static [(&'static str, Shape)]),
    Tables(&'static [(&'static str, Shape)]),
}

use Shape::{Leaf, Open, Table as T, Tables};

const LIMIT: Shape = T(&[("max", Leaf), ("window", Leaf)]);

pub const SCHEMA: Shape = T(&[
    (
        "server",
        T(&[
            ("listen", Leaf),
            ("redirect_http", Leaf),
            ("public_host", Leaf),
            ("trusted_proxies", Leaf),
            ("max_connections", Leaf),
            ("workers", Leaf),
            ("handshake_timeout", Leaf),
            ("header_timeout", Leaf),
            ("max_header_bytes", Leaf),
            ("shutdown_grace", Leaf),
            ("idle_timeout", Leaf),
            ("body_timeout", Leaf),
            ("body_min_rate", Leaf),
            ("http2_keepalive_interval", Leaf),
            ("http2_keepalive_timeout", Leaf),
            ("max_connections_per_ip", Leaf),
        ]),
    ),
    ("tls", T(&[("cert", Leaf), ("key", Leaf)])),
    (
        "upstream",
        T(&[
            ("url", Leaf),
            ("connect_timeout", Leaf),
            ("response_timeout", Leaf),
            ("preserve_host", Leaf),
            ("ca_file", Leaf),
            ("pool_idle_timeout", Leaf),
            ("pool_max_idle", Leaf),
        ]),
    ),
    (
        "route",
        Tables(&[
            ("path", Leaf),
            ("require", Leaf),
            ("max_age", Leaf),
            ("methods", Leaf),
        ]),
    ),
    (
        "brand",
        T(&[
            ("name", Leaf),
            ("color", Leaf),
            ("logo_url", Leaf),
            ("languages", Leaf),
            ("templates_dir", Leaf),
        ]),
    ),
    (
        "otp",
        T(&[
            ("length", Leaf),
            ("ttl", Leaf),
            ("max_attempts", Leaf),
            ("resend_after", Leaf),
            ("message", Leaf),
            ("messages", Open),
            ("min_send_time", Leaf),
        ]),
    ),
    (
        "phone",
        T(&[
            ("default_region", Leaf),
            ("allowed_regions", Leaf),
            ("lookup_url", Leaf),
            ("blocked_prefixes", Leaf),
        ]),
    ),
    (
        "session",
        T(&[
            ("secret", Leaf),
            ("secret_file", Leaf),
            ("ttl", Leaf),
            ("cookie_name", Leaf),
        ]),
    ),
    (
        "sms",
        T(&[
            ("provider", Leaf),
            ("fallback", Leaf),
            ("timeout", Leaf),
            ("connect_timeout", Leaf),
            ("budget", Leaf),
            ("max_retries", Leaf),
            (
                "twilio",
                T(&[
                    ("account_sid", Leaf),
                    ("auth_token", Leaf),
                    ("auth_token_file", Leaf),
                    ("api_key_sid", Leaf),
                    ("api_key_secret", Leaf),
                    ("api_key_secret_file", Leaf),
                    ("from", Leaf),
                    ("messaging_service_sid", Leaf),
                    ("api_base", Leaf),
                    ("status_callback", Leaf),
                ]),
            ),
            (
                "msg91",
                T(&[
                    ("authkey", Leaf),
                    ("authkey_file", Leaf),
                    ("template_id", Leaf),
                    ("sender", Leaf),
                    ("entity_id", Leaf),
                    ("code_var", Leaf),
                    ("api_base", Leaf),
                ]),
            ),
            (
                "vonage",
                T(&[
                    ("api_key", Leaf),
                    ("api_secret", Leaf),
                    ("api_secret_file", Leaf),
                    ("from", Leaf),
                    ("entity_id", Leaf),
                    ("content_id", Leaf),
                    ("api_base", Leaf),
                ]),
            ),
            (
                "webhook",
                T(&[
                    ("url", Leaf),
                    ("headers", Open),
                    ("body", Leaf),
                    ("content_type", Leaf),
                    ("success_field", Leaf),
                    ("success_value", Leaf),
                ]),
            ),
            ("file", T(&[("path", Leaf)])),
        ]),
    ),
    ("store", T(&[("backend", Leaf), ("redis_url", Leaf)])),
    ("admin", T(&[("listen", Leaf)])),
    (
        "limits",
        T(&[
            ("send_per_phone", LIMIT),
            ("send_per_ip", LIMIT),
            ("send_per_prefix", LIMIT),
            ("send_per_country", LIMIT),
            ("sms_per_hour", LIMIT),
            ("sms_per_day", LIMIT),
            ("verify_fail_per_phone", LIMIT),
            ("verify_per_ip", LIMIT),
            (
                "pumping",
                T(&[
                    ("enabled", Leaf),
                    ("window", Leaf),
                    ("min_sends", Leaf),
                    ("min_conversion", Leaf),
                    ("min_networks", Leaf),
                    ("block_for", Leaf),
                ]),
            ),
        ]),
    ),
    (
        "log",
        T(&[
            ("format", Leaf),
            ("level", Leaf),
            ("audit_file", Leaf),
            ("audit_required", Leaf),
        ]),
    ),
    ("fingerprint", T(&[("forward", Leaf)])),
    ("hold", T(&[("enabled", Leaf), ("max_body", Leaf)])),
]);

/// An unknown key: its dotted path and, when one is close, the key meant.
pub struct UnknownKey {
    pub path: String,
    pub suggestion: Option<&'static str>,
}

/// Every key of `doc` that `SCHEMA` does not know, in file order.
pub fn unknown_keys(doc: &Table) -> Vec<UnknownKey> {
    let mut out = Vec::new();
    walk(doc, &SCHEMA, "", &mut out);
    out
}

fn walk(table: &Table, shape: &Shape, prefix: &str, out: &mut Vec<UnknownKey>) {
    let known = match shape {
        Shape::Table(k) | Shape::Tables(k) => *k,
        Shape::Leaf | Shape::Open => return,
    };
    for (key, item) in table.iter() {
        let path = join(prefix, key);
        let Some((_, sub)) = known.iter().find(|(name, _)| *name == key) else {
            out.push(UnknownKey {
                suggestion: closest(key, known),
                path,
            });
            continue;
        };
        match (sub, item) {
            (Shape::Table(_), Item::Table(t)) => walk(t, sub, &path, out),
            (Shape::Table(_), Item::Value(toml_edit::Value::InlineTable(t))) => {
                walk(&t.clone().into_table(), sub, &path, out)
            }
            (Shape::Tables(_), Item::ArrayOfTables(arr)) => {
                for (i, t) in arr.iter().enumerate() {
                    walk(t, sub, &format!("{path}[{i}]"), out);
                }
            }
            // Wrong kinds (a string where a table belongs) are reported by
            // the typed pass with a clearer message.
            _ => {}
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn closest(key: &str, known: &[(&'static str, Shape)]) -> Option<&'static str> {
    known
        .iter()
        .map(|(name, _)| (*name, strsim::damerau_levenshtein(key, name)))
        .filter(|(name, d)| *d <= 2.max(name.len() / 4))
        .min_by_key(|(_, d)| *d)
        .map(|(name, _)| name)
}

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
                    Shape::Leaf | Shape::Open => out.push(path),
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
