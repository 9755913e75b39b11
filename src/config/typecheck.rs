//! The file checked against the schema before the typed pass reads it:
//! unknown keys (with the key meant) and values of the wrong TOML type are
//! reported with their dotted keys and dropped, so the typed pass cannot
//! stop at the first of them and every other key is still checked
//! (`length = "6"` is one problem among the rest, issue 12). Relative paths
//! are anchored at the config file's folder here, once for every key the
//! schema calls a path (`paths.rs`).

use std::path::Path;

use toml::{Table, Value};

use super::paths::resolve;
use super::schema::{Kind, Shape, SCHEMA};
use crate::validation::did_you_mean;

/// A problem found here: its dotted key (`route[1].max_age`) and message.
pub struct Found {
    pub key: String,
    pub message: String,
}

/// `table` with every unknown or wrongly typed key removed and every path
/// resolved, and what was wrong, in key order.
pub fn check(mut table: Table, folder: Option<&Path>) -> (Table, Vec<Found>) {
    let mut out = Vec::new();
    if let Shape::Table(known) = &SCHEMA {
        walk(&mut table, known, "", folder, &mut out);
    }
    (table, out)
}

fn walk(
    table: &mut Table,
    known: &[(&'static str, Shape)],
    prefix: &str,
    folder: Option<&Path>,
    out: &mut Vec<Found>,
) {
    let keys: Vec<String> = table.keys().cloned().collect();
    for key in keys {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let keep = match known.iter().find(|(name, _)| *name == key) {
            None => {
                let names: Vec<&str> = known.iter().map(|(n, _)| *n).collect();
                let message = match did_you_mean(&key, &names) {
                    Some(s) => format!("unknown key (did you mean `{s}`?)"),
                    None => "unknown key".to_string(),
                };
                out.push(Found { key: path, message });
                false
            }
            Some((_, shape)) => match table.get_mut(&key) {
                Some(value) => value_fits(value, shape, &path, folder, out),
                None => true,
            },
        };
        if !keep {
            table.remove(&key);
        }
    }
}

/// Whether `value` may be kept; problems are pushed to `out`.
fn value_fits(
    value: &mut Value,
    shape: &Shape,
    path: &str,
    folder: Option<&Path>,
    out: &mut Vec<Found>,
) -> bool {
    let mut refuse = |message: String| {
        out.push(Found {
            key: path.to_string(),
            message,
        });
        false
    };
    match (shape, value) {
        (Shape::Leaf(kind), value) => match wrong_kind(value, *kind) {
            Some(message) => refuse(message),
            None => {
                if let (Kind::Path, Value::String(s), Some(dir)) = (kind, &mut *value, folder) {
                    *s = resolve(Some(dir), s).to_string_lossy().into_owned();
                }
                true
            }
        },
        (Shape::Open(kind), Value::Table(entries)) => {
            let names: Vec<String> = entries.keys().cloned().collect();
            for name in names {
                let entry = format!("{path}.{name}");
                if let Some(message) = entries.get(&name).and_then(|v| wrong_kind(v, *kind)) {
                    out.push(Found {
                        key: entry,
                        message,
                    });
                    entries.remove(&name);
                }
            }
            true
        }
        (Shape::Table(known), Value::Table(t)) => {
            walk(t, known, path, folder, out);
            true
        }
        (Shape::Tables(known), Value::Array(items))
            if items.iter().all(|i| matches!(i, Value::Table(_))) =>
        {
            for (i, item) in items.iter_mut().enumerate() {
                if let Value::Table(t) = item {
                    walk(t, known, &format!("{path}[{i}]"), folder, out);
                }
            }
            true
        }
        (Shape::Tables(_), Value::Table(_)) => {
            refuse(format!("write [[{path}]] (one per rule), not [{path}]"))
        }
        (Shape::Tables(_), other) => refuse(format!(
            "must be a list of tables ([[{path}]]), not {}",
            found(other)
        )),
        (Shape::Open(_) | Shape::Table(_), other) => {
            refuse(format!("must be a table ([{path}]), not {}", found(other)))
        }
    }
}

/// Why `value` is not of `kind`, if it is not. Never repeats a string's
/// text: the key may hold a secret.
fn wrong_kind(value: &Value, kind: Kind) -> Option<String> {
    let fits = match (kind, value) {
        (Kind::Str | Kind::Duration | Kind::Path, Value::String(_)) => true,
        (Kind::Int, Value::Integer(_)) => true,
        (Kind::Count, Value::Integer(n)) if u32::try_from(*n).is_err() => {
            return Some(format!("{n} is out of range 0..={}", u32::MAX));
        }
        (Kind::Count, Value::Integer(_)) => true,
        (Kind::Number, Value::Integer(_) | Value::Float(_)) => true,
        (Kind::Bool, Value::Boolean(_)) => true,
        (Kind::Strings, Value::Array(a)) | (Kind::StrOrStrings, Value::Array(a)) => {
            if let Some((i, v)) = a.iter().enumerate().find(|(_, v)| !v.is_str()) {
                return Some(format!("entry {i} must be a string, not {}", found(v)));
            }
            true
        }
        (Kind::StrOrStrings, Value::String(_)) => true,
        (Kind::Size, Value::String(_) | Value::Integer(_)) => true,
        _ => false,
    };
    if fits {
        return None;
    }
    let expected = match kind {
        Kind::Str => "a string",
        Kind::Duration => "a duration string such as \"15m\"",
        Kind::Path => "a path string",
        Kind::Int => "an integer",
        Kind::Count => "a whole number from 0 to 4294967295",
        Kind::Number => "a number",
        Kind::Bool => "true or false",
        Kind::Strings => "a list of strings such as [\"a\", \"b\"]",
        Kind::StrOrStrings => "a string or a list of strings",
        Kind::Size => "a size such as \"64KiB\" or a number of bytes",
    };
    let hint = match (kind, value) {
        (Kind::Int | Kind::Count | Kind::Number, Value::String(s))
            if s.trim().parse::<f64>().is_ok() =>
        {
            format!(" (write {} without quotes)", s.trim())
        }
        (Kind::Bool, Value::String(s)) if matches!(s.trim(), "true" | "false") => {
            format!(" (write {} without quotes)", s.trim())
        }
        (Kind::Duration, Value::Integer(n)) => format!(" (write \"{n}s\" for {n} seconds)"),
        (Kind::Strings, Value::String(_)) => " (write [\"…\"])".to_string(),
        _ => String::new(),
    };
    Some(format!("must be {expected}, not {}{hint}", found(value)))
}

fn found(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "a list",
        Value::Table(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::{Kind, Shape, SCHEMA};
    use crate::config::Config;

    const MINIMAL: &str = "[upstream]\nurl = \"http://127.0.0.1:3000\"\n[session]\nsecret = \"0123456789abcdef0123456789abcdef\"\n[sms]\nprovider = \"console\"\n";

    /// Every leaf of the schema (table path, key, kind), `[[route]]` as
    /// its first entry and open tables with one entry named `x`.
    fn leaves(shape: &Shape, prefix: &[String], out: &mut Vec<(Vec<String>, Kind)>) {
        if let Shape::Table(keys) | Shape::Tables(keys) = shape {
            for (name, sub) in keys.iter() {
                let mut path = prefix.to_vec();
                path.push(name.to_string());
                match sub {
                    Shape::Leaf(k) => out.push((path, *k)),
                    Shape::Open(k) => {
                        path.push("x".into());
                        out.push((path, *k));
                    }
                    _ => leaves(sub, &path, out),
                }
            }
        }
    }

    fn wrong(kind: Kind) -> toml::Value {
        match kind {
            Kind::Str | Kind::Duration | Kind::Path | Kind::StrOrStrings => 7.into(),
            Kind::Int | Kind::Count | Kind::Number | Kind::Bool => "6".into(),
            Kind::Strings => "IN".into(),
            Kind::Size => true.into(),
        }
    }

    fn right(kind: Kind) -> toml::Value {
        match kind {
            Kind::Str | Kind::StrOrStrings => "x".into(),
            Kind::Duration => "5m".into(),
            Kind::Path => "/nonexistent".into(),
            Kind::Int | Kind::Count => 5.into(),
            Kind::Number => 0.5.into(),
            Kind::Bool => true.into(),
            Kind::Strings => toml::Value::Array(vec!["IN".into()]),
            Kind::Size => "64KiB".into(),
        }
    }

    /// The schema and the raw serde types agree: a wrong type at any key
    /// is a problem named with that key, never the end of the check
    /// ("(type)"), and the other problems are still found; a value of the
    /// schema's type is one the typed pass reads.
    #[test]
    fn every_mistyped_key_is_named_and_the_rest_still_checked() {
        let mut all = Vec::new();
        leaves(&SCHEMA, &[], &mut all);
        for (path, kind) in all {
            for (value, is_wrong) in [(wrong(kind), true), (right(kind), false)] {
                check_one(&path, value, is_wrong);
            }
        }
    }

    fn check_one(path: &[String], value: toml::Value, is_wrong: bool) {
        {
            let mut root: toml::Table = toml::from_str(MINIMAL).unwrap();
            // A second, independent problem that must still be reported.
            root["upstream"]["url"] = "ftp://x".into();
            let mut table = &mut root;
            for part in &path[..path.len() - 1] {
                let next = table
                    .entry(part.clone())
                    .or_insert_with(|| toml::Value::Table(Default::default()));
                // Arrays of tables: `[[route]]`, `[[sms.dlt.templates]]`.
                if (part == "route" || part == "templates") && !next.is_array() {
                    *next = toml::Value::Array(vec![toml::Value::Table(Default::default())]);
                }
                table = match next {
                    toml::Value::Array(a) => a[0].as_table_mut().unwrap(),
                    other => other.as_table_mut().unwrap(),
                };
            }
            table.insert(path.last().unwrap().clone(), value);
            let text = toml::to_string(&root).unwrap();
            let key = path
                .join(".")
                .replace("route.", "route[0].")
                .replace("templates.", "templates[0].");
            let problems = Config::parse(&text, "t").err().unwrap().problems;
            let named = problems.iter().any(|p| {
                p.key == key
                    && p.message.starts_with("must be ")
                    && p.message.contains(", not ")
                    && p.line.is_some()
            });
            assert_eq!(named, is_wrong, "{key}: {problems:?}\n{text}");
            assert!(
                problems.iter().any(|p| p.key == "upstream.url"),
                "{key}: {problems:?}"
            );
            assert!(
                !problems.iter().any(|p| p.key.starts_with('(')),
                "{key}: {problems:?}"
            );
        }
    }

    /// Every key the schema calls a path is anchored at the folder: a
    /// path key added later cannot be forgotten.
    #[test]
    fn every_path_key_is_read_from_the_config_folder() {
        let mut all = Vec::new();
        leaves(&SCHEMA, &[], &mut all);
        let paths: Vec<Vec<String>> = all
            .into_iter()
            .filter(|(_, k)| *k == Kind::Path)
            .map(|(p, _)| p)
            .collect();
        assert!(paths.len() >= 10, "{paths:?}");
        for path in paths {
            let mut root = toml::Table::new();
            let mut table = &mut root;
            for part in &path[..path.len() - 1] {
                table = table
                    .entry(part.clone())
                    .or_insert_with(|| toml::Value::Table(Default::default()))
                    .as_table_mut()
                    .unwrap();
            }
            table.insert(path.last().unwrap().clone(), "rel/x".into());
            let (out, _) = super::check(root, Some(std::path::Path::new("/etc/otpgate")));
            let mut v = &toml::Value::Table(out);
            for part in &path {
                v = &v[part.as_str()];
            }
            assert_eq!(v.as_str(), Some("/etc/otpgate/rel/x"), "{path:?}");
        }
    }

    /// `Config::load` end to end: the paths the running gateway opens.
    #[test]
    fn load_resolves_what_the_gateway_opens() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        std::fs::create_dir_all(etc.join("pages")).unwrap();
        crate::tls::write_self_signed(&etc.join("certs"), &["localhost".into()]).unwrap();
        std::fs::write(etc.join("secret"), "0123456789abcdef0123456789abcdef\n").unwrap();
        let file = etc.join("otpgate.toml");
        std::fs::write(
            &file,
            "[upstream]\nurl = \"http://127.0.0.1:3000\"\n[brand]\ntemplates_dir = \"pages\"\n\
             [session]\nsecret_file = \"secret\"\n[sms]\nprovider = \"file\"\n[sms.file]\npath = \"out/sms.jsonl\"\n\
             [log]\naudit_file = \"audit.jsonl\"\n",
        )
        .unwrap();
        let cfg = Config::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let etc = std::fs::canonicalize(&etc).unwrap();
        assert_eq!(
            cfg.tls.cert,
            etc.join("certs/cert.pem"),
            "a default path too"
        );
        assert_eq!(cfg.brand.templates_dir, Some(etc.join("pages")));
        assert_eq!(cfg.log.audit_file, Some(etc.join("audit.jsonl")));
        assert_eq!(cfg.session.secrets.len(), 1);
        match &cfg.sms.chain[0] {
            crate::sms::config::ProviderConfig::File(f) => {
                assert_eq!(f.path, etc.join("out/sms.jsonl"))
            }
            other => panic!("{}", other.name()),
        }
    }
}
