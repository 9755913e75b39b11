//! The pages' text per language: built-in `strings/<tag>.toml` files,
//! compiled in, with a merchant's `templates_dir/strings/<tag>.toml` laid
//! over them key by key. A language otpgate does not ship (say `ta`) can be
//! added from `templates_dir` alone; keys it leaves out are shown in English.

use std::collections::BTreeMap;
use std::path::Path;

/// Built-in languages: adding one is a file and a line here.
const BUILT_IN: &[(&str, &str)] = &[
    ("en", include_str!("strings/en.toml")),
    ("hi", include_str!("strings/hi.toml")),
];

/// Every key a strings file may set (English has them all).
pub type Strings = BTreeMap<String, String>;

pub fn built_in_languages() -> impl Iterator<Item = &'static str> {
    BUILT_IN.iter().map(|(tag, _)| *tag)
}

fn parse(text: &str, name: &str) -> Result<Strings, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start].lines().count().max(1))
            .map(|l| format!(":{l}"))
            .unwrap_or_default();
        format!("{name}{line}: {}", e.message().trim())
    })?;
    let mut out = Strings::new();
    for (key, value) in table {
        match value {
            toml::Value::String(s) => {
                out.insert(key, s);
            }
            _ => return Err(format!("{name}: `{key}` must be a string")),
        }
    }
    Ok(out)
}

fn built_in(tag: &str) -> Option<Strings> {
    BUILT_IN
        .iter()
        .find(|(t, _)| *t == tag)
        .map(|(t, text)| parse(text, &format!("strings/{t}.toml")).expect("built-in strings parse"))
}

/// What loading a language's strings found: the strings (complete, English
/// filling gaps) and advice that is not fatal.
pub struct Loaded {
    pub strings: Strings,
    pub warnings: Vec<String>,
}

/// The strings for `tag`: built-in, then the override file if any.
/// Errors: unreadable or unparsable file, unknown key (a typo would be a
/// silent no-op), a language neither built in nor given in `dir`.
pub fn load(tag: &str, dir: Option<&Path>) -> Result<Loaded, Vec<String>> {
    let english = built_in("en").expect("English ships");
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    let base = built_in(tag);
    let file = dir.map(|d| d.join("strings").join(format!("{tag}.toml")));
    let over = match file.as_deref() {
        Some(path) if path.exists() => {
            let name = path.display().to_string();
            match std::fs::read_to_string(path) {
                Ok(text) => match parse(&text, &name) {
                    Ok(s) => Some((name, s)),
                    Err(e) => return Err(vec![e]),
                },
                Err(e) => return Err(vec![format!("{name}: cannot read: {}", e.kind())]),
            }
        }
        _ => None,
    };
    if base.is_none() && over.is_none() {
        return Err(vec![format!(
            "`{tag}` has no strings: otpgate ships {}; add strings/{tag}.toml to brand.templates_dir for another",
            built_in_languages().collect::<Vec<_>>().join(", ")
        )]);
    }
    let mut strings = english.clone();
    if let Some(b) = base {
        strings.extend(b);
    }
    if let Some((name, over)) = over {
        for key in over.keys().filter(|k| !english.contains_key(*k)) {
            let hint = strsim_nearest(key, english.keys());
            errors.push(format!("{name}: unknown string `{key}`{hint}"));
        }
        if built_in(tag).is_none() {
            let missing = english.keys().filter(|k| !over.contains_key(*k)).count();
            if missing > 0 {
                warnings.push(format!(
                    "{name}: {missing} strings not translated; they are shown in English"
                ));
            }
        }
        strings.extend(over);
    }
    if errors.is_empty() {
        Ok(Loaded { strings, warnings })
    } else {
        Err(errors)
    }
}

fn strsim_nearest<'a>(key: &str, known: impl Iterator<Item = &'a String>) -> String {
    known
        .map(|k| (strsim::jaro_winkler(key, k), k))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

/// Fills `{name}` placeholders; unknown ones stay as written.
pub fn fill(text: &str, args: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_language_has_every_key_and_its_placeholders() {
        let en = built_in("en").unwrap();
        for tag in built_in_languages() {
            let s = built_in(tag).unwrap();
            let missing: Vec<_> = en.keys().filter(|k| !s.contains_key(*k)).collect();
            assert!(missing.is_empty(), "{tag} lacks {missing:?}");
            let extra: Vec<_> = s.keys().filter(|k| !en.contains_key(*k)).collect();
            assert!(extra.is_empty(), "{tag} has unknown {extra:?}");
            for (key, english) in &en {
                for ph in [
                    "{seconds}",
                    "{length}",
                    "{phone}",
                    "{dial_code}",
                    "{remaining}",
                    "{kib}",
                ] {
                    assert_eq!(
                        english.contains(ph),
                        s[key].contains(ph),
                        "{tag}.{key}: placeholder {ph}"
                    );
                }
            }
        }
    }

    #[test]
    fn hindi_says_the_wait_as_a_shopper_would_read_it() {
        let hi = built_in("hi").unwrap();
        let text = fill(&hi["error_rate_limited"], &[("seconds", "45")]);
        assert!(text.contains("कृपया 45 सेकंड बाद फिर कोशिश करें"), "{text}");
    }

    #[test]
    fn overrides_are_per_key_and_typos_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("strings")).unwrap();
        let file = dir.path().join("strings/hi.toml");
        std::fs::write(&file, "send_button = \"कोड भेजें\"\n").unwrap();
        let hi = load("hi", Some(dir.path())).unwrap().strings;
        assert_eq!(hi["send_button"], "कोड भेजें");
        assert_eq!(hi["verify_button"], "पुष्टि करें");

        std::fs::write(&file, "send_buton = \"x\"\n").unwrap();
        let errors = load("hi", Some(dir.path())).err().unwrap();
        assert!(
            errors[0].contains("unknown string `send_buton`"),
            "{errors:?}"
        );
        assert!(
            errors[0].contains("did you mean `send_button`"),
            "{errors:?}"
        );

        std::fs::write(&file, "send_button = \n").unwrap();
        let errors = load("hi", Some(dir.path())).err().unwrap();
        assert!(errors[0].contains("hi.toml:1"), "{errors:?}");
    }

    #[test]
    fn a_new_language_comes_from_one_file() {
        assert!(load("ta", None).is_err());
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("strings")).unwrap();
        std::fs::write(
            dir.path().join("strings/ta.toml"),
            "lang_name = \"தமிழ்\"\nsend_button = \"OTP அனுப்பு\"\n",
        )
        .unwrap();
        let ta = load("ta", Some(dir.path())).unwrap();
        assert_eq!(ta.strings["lang_name"], "தமிழ்");
        assert_eq!(ta.strings["verify_button"], "Verify");
        assert!(
            ta.warnings[0].contains("not translated"),
            "{:?}",
            ta.warnings
        );
    }
}
