//! The amount a held request names, on a transaction route with
//! `amount_field` (SPEC "Checkout integrity"): one form field, top-level
//! JSON field or multipart form field, read as a plain decimal in the
//! route's currency (money.rs `Amount::parse`).
//!
//! What the shopper is shown must be what the storefront charges, so
//! anything two parsers could read differently is refused, not guessed
//! (parser differentials, as in HTTP parameter pollution, OWASP WSTG
//! INPV-04): a second field of the same name (first-wins in one framework,
//! last-wins in another), one that differs only in case (ASP.NET binds
//! case-insensitively) or is the field as an array (`amount[]`, PHP,
//! Rails), the field in the query string as well (frameworks merge query
//! and body parameters), a file part of that name, a body that is not
//! the type it says.

use crate::money::{Amount, AmountProblem};

/// The amount `field` of a body of type `content_type`; `query` is the
/// target's query string (which must not name the field too).
pub fn amount_of(
    content_type: Option<&str>,
    body: &[u8],
    query: Option<&str>,
    field: &str,
    currency: &str,
) -> Result<Amount, AmountProblem> {
    if let Some(q) = query {
        if form_pairs(q.as_bytes()).any(|(k, _)| same_name(&k, field)) {
            return Err(AmountProblem::Ambiguous);
        }
    }
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or("").trim();
    let value = match essence {
        "application/x-www-form-urlencoded" => one(form_pairs(body)
            .filter(|(k, _)| same_name(k, field))
            .map(|(k, v)| (k == field, v)))?,
        "application/json" => json_field(body, field)?,
        "multipart/form-data" => multipart_field(&ct, content_type.unwrap_or(""), body, field)?,
        _ => return Err(AmountProblem::Unreadable),
    };
    Amount::parse(&value, currency).map_err(|_| AmountProblem::Malformed)
}

fn form_pairs(bytes: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(bytes).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

/// `name` would reach the storefront as `field`: the same, another case,
/// or the field as an array or map (`amount[]`, `amount[x]`).
fn same_name(name: &str, field: &str) -> bool {
    let base = name.split('[').next().unwrap_or(name);
    base.eq_ignore_ascii_case(field)
}

/// Exactly one candidate, and that one exactly the field.
fn one(mut found: impl Iterator<Item = (bool, String)>) -> Result<String, AmountProblem> {
    match (found.next(), found.next()) {
        (None, _) => Err(AmountProblem::Missing),
        (Some((true, v)), None) => Ok(v),
        _ => Err(AmountProblem::Ambiguous),
    }
}

/// A top-level JSON field: a string or a number, its text as written
/// (`1299.50` stays `1299.50`; never through a float).
fn json_field(body: &[u8], field: &str) -> Result<String, AmountProblem> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    struct Top<'f>(&'f str);
    impl<'de> Visitor<'de> for Top<'_> {
        type Value = Vec<(bool, Box<serde_json::value::RawValue>)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                if same_name(&key, self.0) {
                    found.push((key == self.0, map.next_value()?));
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let found = de
        .deserialize_map(Top(field))
        .and_then(|f| de.end().map(|_| f))
        .map_err(|_| AmountProblem::Unreadable)?;
    let raw = one(found
        .into_iter()
        .map(|(exact, raw)| (exact, raw.get().to_string())))?;
    if raw.starts_with('"') {
        return serde_json::from_str::<String>(&raw).map_err(|_| AmountProblem::Malformed);
    }
    // A number as written; `true`, `null`, objects and arrays are not one.
    match raw.bytes().next() {
        Some(b'0'..=b'9' | b'-') => Ok(raw),
        _ => Err(AmountProblem::Malformed),
    }
}

/// A multipart form field (RFC 7578): its part's `name`, not a file.
fn multipart_field(
    lower_ct: &str,
    ct: &str,
    body: &[u8],
    field: &str,
) -> Result<String, AmountProblem> {
    let at = lower_ct
        .find("boundary=")
        .ok_or(AmountProblem::Unreadable)?;
    let boundary = ct[at + 9..].split(';').next().unwrap_or("").trim();
    let boundary = boundary.trim_matches('"');
    if boundary.is_empty() {
        return Err(AmountProblem::Unreadable);
    }
    let delimiter = format!("--{boundary}");
    let mut found = Vec::new();
    let parts = split(body, delimiter.as_bytes());
    // Before the first delimiter is the preamble; after the last, `--`.
    for part in parts.iter().skip(1) {
        if part.starts_with(b"--") {
            break;
        }
        let part = part
            .strip_prefix(b"\r\n")
            .ok_or(AmountProblem::Unreadable)?;
        let end = find(part, b"\r\n\r\n").ok_or(AmountProblem::Unreadable)?;
        let head = std::str::from_utf8(&part[..end]).map_err(|_| AmountProblem::Unreadable)?;
        let value = part[end + 4..]
            .strip_suffix(b"\r\n")
            .ok_or(AmountProblem::Unreadable)?;
        let Some((name, file)) = disposition(head) else {
            continue;
        };
        if same_name(&name, field) {
            if file {
                return Err(AmountProblem::Ambiguous);
            }
            let text = String::from_utf8(value.to_vec()).map_err(|_| AmountProblem::Malformed)?;
            found.push((name == field, text));
        }
    }
    one(found.into_iter())
}

/// The `name` of a part's `Content-Disposition: form-data`, and whether
/// it is a file (has a `filename`).
fn disposition(head: &str) -> Option<(String, bool)> {
    let line = head.split("\r\n").find(|l| {
        l.split(':')
            .next()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case("content-disposition"))
    })?;
    let mut name = None;
    let mut file = false;
    for param in line.split(';').skip(1) {
        let (k, v) = param.split_once('=')?;
        let v = v.trim().trim_matches('"').to_string();
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(v),
            "filename" | "filename*" => file = true,
            _ => {}
        }
    }
    Some((name?, file))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn split<'b>(mut body: &'b [u8], delimiter: &[u8]) -> Vec<&'b [u8]> {
    let mut out = Vec::new();
    while let Some(i) = find(body, delimiter) {
        out.push(&body[..i]);
        body = &body[i + delimiter.len()..];
    }
    out.push(body);
    out
}

#[cfg(test)]
mod tests {
    use super::{amount_of, AmountProblem};

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
    const JSON: Option<&str> = Some("application/json");
    const MP: Option<&str> = Some("multipart/form-data; boundary=XyZ");

    fn shown(ct: Option<&str>, body: &str, query: Option<&str>) -> Result<String, AmountProblem> {
        amount_of(ct, body.as_bytes(), query, "amount", "INR").map(|a| a.to_string())
    }

    fn part(name: &str, value: &str) -> String {
        format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
    }

    #[test]
    fn reads_the_amount_of_each_body_type() {
        assert_eq!(
            shown(FORM, "sku=1&amount=1299.00", None).unwrap(),
            "₹1,299.00"
        );
        assert_eq!(
            shown(FORM, "amount=129999", Some("from=cart")).unwrap(),
            "₹1,29,999.00"
        );
        assert_eq!(
            shown(JSON, r#"{"amount":"1299.5","items":[{"amount":1}]}"#, None).unwrap(),
            "₹1,299.50"
        );
        assert_eq!(
            shown(JSON, r#"{"amount": 1299.50}"#, None).unwrap(),
            "₹1,299.50"
        );
        let mp = format!("{}{}--XyZ--\r\n", part("sku", "1"), part("amount", "1299"));
        assert_eq!(shown(MP, &mp, None).unwrap(), "₹1,299.00");
        let quoted = Some("multipart/form-data; boundary=\"XyZ\"; charset=utf-8");
        assert_eq!(shown(quoted, &mp, None).unwrap(), "₹1,299.00");
    }

    #[test]
    fn refuses_what_two_parsers_could_read_differently() {
        use AmountProblem::*;
        let cases: &[(Option<&str>, &str, Option<&str>, AmountProblem)] = &[
            (FORM, "sku=1", None, Missing),
            (FORM, "amount=", None, Malformed),
            (FORM, "amount=-1299", None, Malformed),
            (FORM, "amount=1e3", None, Malformed),
            (FORM, "amount=1299.005", None, Malformed),
            (FORM, "amount=99999999999999999999", None, Malformed),
            (FORM, "amount=1%2C299", None, Malformed),
            (FORM, "amount=+1299", None, Malformed),
            (FORM, "amount=1299&amount=9999", None, Ambiguous),
            (FORM, "amount=1299&AMOUNT=9999", None, Ambiguous),
            (FORM, "amount=1299&amount[]=9999", None, Ambiguous),
            (FORM, "amount[]=9999", None, Ambiguous),
            (FORM, "amount=1299", Some("amount=9999"), Ambiguous),
            (
                JSON,
                r#"{"amount":"1299","amount":"9999"}"#,
                None,
                Ambiguous,
            ),
            (
                JSON,
                r#"{"amount":"1299","am\u006funt":"9999"}"#,
                None,
                Ambiguous,
            ),
            (
                JSON,
                r#"{"amount":"1299","Amount":"9999"}"#,
                None,
                Ambiguous,
            ),
            (JSON, r#"{"amount":1e3}"#, None, Malformed),
            (JSON, r#"{"amount":-5}"#, None, Malformed),
            (JSON, r#"{"amount":true}"#, None, Malformed),
            (JSON, r#"{"amount":null}"#, None, Malformed),
            (JSON, r#"{"amount":{"value":1}}"#, None, Malformed),
            (JSON, r#"{"total":1}"#, None, Missing),
            (JSON, r#"[{"amount":1}]"#, None, Unreadable),
            (JSON, r#"{"amount":1} {"amount":2}"#, None, Unreadable),
            (JSON, "amount=1", None, Unreadable),
            (None, "amount=1", None, Unreadable),
            (Some("text/plain"), "amount=1", None, Unreadable),
        ];
        for (ct, body, query, want) in cases {
            assert_eq!(
                shown(*ct, body, *query),
                Err(*want),
                "{ct:?} {body} {query:?}"
            );
        }
        let twice = format!(
            "{}{}--XyZ--\r\n",
            part("amount", "1299"),
            part("amount", "9999")
        );
        assert_eq!(shown(MP, &twice, None), Err(Ambiguous));
        let file = "--XyZ\r\nContent-Disposition: form-data; name=\"amount\"; filename=\"a\"\r\n\r\n1\r\n--XyZ--\r\n";
        assert_eq!(shown(MP, file, None), Err(Ambiguous));
        assert_eq!(
            shown(MP, &format!("{}--XyZ--\r\n", part("sku", "1")), None),
            Err(Missing)
        );
        assert_eq!(
            shown(Some("multipart/form-data"), "x", None),
            Err(Unreadable)
        );
    }
}
