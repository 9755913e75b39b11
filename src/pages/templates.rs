//! The page templates (minijinja, autoescaped HTML), compiled in, with a
//! merchant's `templates_dir/*.html` replacing any of them by file name.

use std::path::Path;

use minijinja::value::{Kwargs, Value};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};

pub const BUILT_IN: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("login.html", include_str!("templates/login.html")),
    ("verify.html", include_str!("templates/verify.html")),
    ("send.html", include_str!("templates/send.html")),
    ("pow.html", include_str!("templates/pow.html")),
    ("logout.html", include_str!("templates/logout.html")),
    ("error.html", include_str!("templates/error.html")),
];

/// `"{phone} …" | fill(phone=…)`: a strings-file placeholder filled in.
fn fill(text: String, kwargs: Kwargs) -> Result<String, Error> {
    let mut out = text;
    for name in kwargs.args() {
        let value: Value = kwargs.get(name)?;
        out = out.replace(&format!("{{{name}}}"), &value.to_string());
    }
    Ok(out)
}

/// `countdown(text, seconds)`: the text, escaped, with `{seconds}` as a
/// number the page's script counts down. Without JavaScript it stays as
/// written. `aria-live="off"` so a screen reader announces the message
/// once, not every second.
pub fn countdown(text: String, seconds: u64) -> Value {
    let escaped = super::views::escape(&text);
    let span = format!("<span data-countdown=\"{seconds}\" aria-live=\"off\">{seconds}</span>");
    Value::from_safe_string(escaped.replace("{seconds}", &span))
}

/// The environment with the built-ins, then the overrides from `dir`.
/// Errors name the file and line.
pub fn environment(dir: Option<&Path>) -> Result<Environment<'static>, Vec<String>> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    // A typo in a merchant's template is an error check-config reports,
    // not a blank where the shopper needed a word.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // One escaping everywhere (the same as the hand-built parts): minijinja's
    // own also escapes `/`, which is harmless but makes paths unreadable.
    env.set_formatter(|out, state, value| match value.as_str() {
        Some(s) if state.auto_escape() == AutoEscape::Html && !value.is_safe() => {
            out.write_str(&super::views::escape(s)).map_err(Error::from)
        }
        _ => minijinja::escape_formatter(out, state, value),
    });
    env.add_filter("fill", fill);
    env.add_function("countdown", countdown);
    for (name, text) in BUILT_IN {
        env.add_template(name, text)
            .expect("built-in templates parse");
    }
    let Some(dir) = dir else {
        return Ok(env);
    };
    let mut errors = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            return Err(vec![format!(
                "{}: cannot read: {}",
                dir.display(),
                e.kind()
            )])
        }
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "html"))
        .collect();
    files.sort();
    for path in files {
        let name = path
            .file_name()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("{}: cannot read: {}", path.display(), e.kind()));
                continue;
            }
        };
        if let Err(e) = env.add_template_owned(name, text) {
            errors.push(located(&path, &e));
        }
    }
    if errors.is_empty() {
        Ok(env)
    } else {
        Err(errors)
    }
}

/// `file:line: what` for a template error (parse or render).
pub fn located(path: &Path, e: &Error) -> String {
    let line = e.line().map(|l| format!(":{l}")).unwrap_or_default();
    let detail = match e.kind() {
        ErrorKind::UndefinedError => format!("undefined value ({})", e.detail().unwrap_or("")),
        _ => e.detail().unwrap_or("error").to_string(),
    };
    format!("{}{line}: {} ({detail})", path.display(), e.kind())
}
