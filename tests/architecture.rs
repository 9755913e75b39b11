//! The shape of the code, checked: imports between `src/` files go one way
//! (no cycle, including a child reaching back to its parent through
//! `super::`), and only the entry points (`server.rs`, `admin.rs`, `cli.rs`)
//! name the whole `Gateway`. Inline `#[cfg(test)]` modules are ignored: a
//! file's own tests may use anything.
//!
//! The parser is written by hand (a few dozen lines): what it needs is the
//! set of `crate::`, `super::` and `self::` paths in a file, which no
//! well-kept crate extracts without pulling in a full Rust parser.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`["flow", "forms"]`) of each file under `src/`.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts == ["lib"] || parts == ["main"] {
                parts.clear();
            }
            if parts.last().map(String::as_str) == Some("mod") {
                parts.pop();
            }
            if parts.is_empty() && path.ends_with("main.rs") {
                continue; // the binary is its own crate
            }
            out.insert(parts, path);
        }
    }
    out
}

/// The code of a file without its inline test module, comments and the
/// contents of string literals (which may look like paths or `use` lines).
fn code_of(text: &str) -> String {
    let cut = text.find("#[cfg(test)]").unwrap_or(text.len());
    let code: String = text[..cut]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::with_capacity(code.len());
    let mut chars = code.chars().peekable();
    let mut prev = ' ';
    while let Some(c) = chars.next() {
        if c == '\'' && chars.peek() == Some(&'"') {
            out.push_str("'\"");
            chars.next();
        } else if c == '"' {
            // Raw strings: r#"..."# end at `"` followed by as many `#`.
            let hashes = if prev == '#' || prev == 'r' {
                out.chars().rev().take_while(|&h| h == '#').count()
            } else {
                0
            };
            out.push('"');
            let mut escaped = false;
            while let Some(d) = chars.next() {
                if hashes == 0 && d == '\\' && !escaped {
                    escaped = true;
                    continue;
                }
                if d == '"' && !escaped {
                    let mut n = 0;
                    while n < hashes && chars.peek() == Some(&'#') {
                        chars.next();
                        n += 1;
                    }
                    if n == hashes {
                        break;
                    }
                }
                escaped = false;
            }
            out.push('"');
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

/// Every absolute module path a file's code names, before resolution.
/// `children` are the file's own submodules, which it may name without
/// `self::` (`use memory::MemoryStore`).
fn paths_named(code: &str, here: &[String], children: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    // `use` trees with braces, expanded.
    for stmt in code.split(';') {
        let s = stmt.trim_start();
        let s = s
            .strip_prefix("pub(crate) ")
            .or_else(|| s.strip_prefix("pub "))
            .unwrap_or(s);
        if let Some(tree) = s.strip_prefix("use ") {
            let mut tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
            if children.iter().any(|c| tree.starts_with(&format!("{c}::"))) {
                tree = format!("self::{tree}");
            }
            expand(&tree, &mut Vec::new(), &mut found);
        }
    }
    // Inline paths such as `crate::otp::derive_key(..)`.
    let bytes = code.as_bytes();
    let child_roots: Vec<String> = children.iter().map(|c| format!("{c}::")).collect();
    let roots = ["crate::", "super::", "self::"]
        .into_iter()
        .map(str::to_string)
        .chain(child_roots);
    for root in roots {
        let mut from = 0;
        while let Some(at) = code[from..].find(root.as_str()) {
            let start = from + at;
            from = start + root.len();
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                continue;
            }
            let end = code[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| start + e);
            let prefix = if root.starts_with("crate") || root.starts_with("s") {
                ""
            } else {
                "self::"
            };
            let path: Vec<String> = format!("{prefix}{}", &code[start..end])
                .split("::")
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect();
            found.push(path);
        }
    }
    found
        .into_iter()
        .filter_map(|p| absolute(&p, here))
        .collect()
}

fn expand(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Some(open) = tree.find('{') {
        let head: Vec<String> = tree[..open]
            .split("::")
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        let Some(close) = matching_brace(tree, open) else {
            return;
        };
        let inner = &tree[open + 1..close];
        let mut depth = 0;
        let mut last = 0;
        let mut items = Vec::new();
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&inner[last..i]);
                    last = i + 1;
                }
                _ => {}
            }
        }
        items.push(&inner[last..]);
        let n = prefix.len();
        prefix.extend(head);
        for item in items.into_iter().filter(|i| !i.is_empty()) {
            expand(item, prefix, out);
        }
        prefix.truncate(n);
    } else {
        let mut p = prefix.clone();
        p.extend(
            tree.split(" as ")
                .next()
                .unwrap_or("")
                .split("::")
                .filter(|s| !s.is_empty() && *s != "self")
                .map(str::to_string),
        );
        out.push(p);
    }
}

fn matching_brace(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in s[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `crate::a::b`, `super::x`, `self::y` as a path from the crate root.
fn absolute(path: &[String], here: &[String]) -> Option<Vec<String>> {
    let (first, rest) = path.split_first()?;
    match first.as_str() {
        "crate" => Some(rest.to_vec()),
        "self" => Some(here.iter().chain(rest).cloned().collect()),
        "super" => {
            let mut base = here.to_vec();
            base.pop()?;
            let mut rest = rest;
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
            Some(base.into_iter().chain(rest.iter().cloned()).collect())
        }
        _ => None,
    }
}

/// The deepest file a module path lands in.
fn resolve<'a>(
    path: &[String],
    files: &'a BTreeMap<Vec<String>, PathBuf>,
) -> Option<&'a Vec<String>> {
    (1..=path.len())
        .rev()
        .find_map(|n| files.get_key_value(&path[..n]).map(|(k, _)| k))
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "lib".into()
    } else {
        m.join("/")
    }
}

struct Graph {
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    gateway_users: BTreeSet<String>,
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = modules(&src);
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut gateway_users = BTreeSet::new();
    for (module, path) in &files {
        if module.is_empty() {
            continue; // lib.rs only declares modules
        }
        let code = code_of(&std::fs::read_to_string(path).unwrap());
        let children: Vec<String> = files
            .keys()
            .filter(|k| k.len() == module.len() + 1 && k.starts_with(module))
            .map(|k| k[module.len()].clone())
            .collect();
        for named in paths_named(&code, module, &children) {
            if named.first().map(String::as_str) == Some("gateway")
                && named.get(1).map(String::as_str) == Some("Gateway")
            {
                gateway_users.insert(name(module));
            }
            if let Some(target) = resolve(&named, &files) {
                if target != module && !target.is_empty() {
                    edges
                        .entry(module.clone())
                        .or_default()
                        .insert(target.clone());
                }
            }
        }
    }
    Graph {
        edges,
        gateway_users,
    }
}

/// Strongly connected components with more than one file (Tarjan).
fn cycles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on: BTreeSet<&'a Vec<String>>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Vec<String>) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on.insert(v);
        if let Some(next) = s.edges.get(v) {
            for w in next {
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if s.on.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(name(w));
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_import_cycle_among_src_files() {
    let g = graph();
    let found = cycles(&g.edges);
    assert!(
        found.is_empty(),
        "files that import each other in a circle (each group is one cycle):\n{}",
        found
            .iter()
            .map(|c| format!("  {}", c.join(" <-> ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn only_the_entry_points_name_the_gateway() {
    // An entry point's own child files (`server/connection.rs`,
    // `gateway/forward.rs`) are that entry point split for size.
    let allowed = ["server", "admin", "cli", "gateway"];
    let g = graph();
    let extra: Vec<_> = g
        .gateway_users
        .iter()
        .filter(|m| {
            let top = m.split('/').next().unwrap_or_default();
            !allowed.contains(&top)
        })
        .collect();
    assert!(
        extra.is_empty(),
        "these files take the whole Gateway: {extra:?}"
    );
}

#[test]
fn the_checker_sees_a_cycle_when_there_is_one() {
    // The checker itself must be able to fail: a two-file cycle through
    // `super::` and a `use` tree with braces.
    let mut files = BTreeMap::new();
    files.insert(vec!["a".to_string()], PathBuf::new());
    files.insert(vec!["a".to_string(), "b".to_string()], PathBuf::new());
    let from_child = paths_named("use super::{X, y::Z};", &["a".into(), "b".into()], &[]);
    let from_parent = paths_named("pub use b::Thing;", &["a".into()], &["b".into()]);
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (from, named) in [
        (vec!["a".into(), "b".into()], from_child),
        (vec!["a".into()], from_parent),
    ] {
        for n in named {
            let t = resolve(&n, &files).unwrap().clone();
            if t != from {
                edges.entry(from.clone()).or_default().insert(t);
            }
        }
    }
    assert_eq!(
        cycles(&edges),
        vec![vec!["a".to_string(), "a/b".to_string()]]
    );
}
