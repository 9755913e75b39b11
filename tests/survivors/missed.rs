//! Mutants the last cargo-mutants run missed (docs/TESTING.md), killed.

use otpgate::normalize::normalize_path;

/// `NormalizedPath` displays as the path that is forwarded, never as the
/// lower-cased match key (a log or a `Location` built with `{}` must name
/// the request as the storefront receives it).
#[test]
fn a_normalized_path_displays_as_its_forwarded_form() {
    for (raw, shown) in [
        ("/Checkout/../Cart/%7euser", "/Cart/~user"),
        ("/a//b/./c/", "/a/b/c/"),
        ("/", "/"),
    ] {
        let p = normalize_path(raw).unwrap();
        assert_eq!(p.to_string(), shown, "{raw}");
        assert_eq!(p.to_string(), p.forward(), "{raw}");
    }
}
