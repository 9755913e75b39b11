//! The text colour drawn on the brand colour (buttons), chosen so that it
//! reads: WCAG 2.x relative luminance and contrast ratio, AA for normal text
//! is 4.5:1 (WCAG 2.2 SC 1.4.3).

pub const WHITE: &str = "#ffffff";
/// The pages' body text colour; "near-black" on a light brand colour.
pub const DARK: &str = "#1f2328";
pub const AA: f64 = 4.5;

/// `#rgb` or `#rrggbb` as 0..=255 channels.
pub fn parse_hex(color: &str) -> Option<[u8; 3]> {
    let hex = color.strip_prefix('#')?;
    if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let ch = |s: &str| u8::from_str_radix(s, 16).ok();
    match hex.len() {
        3 => {
            let d = |i: usize| ch(&hex[i..i + 1]).map(|v| v * 17);
            Some([d(0)?, d(1)?, d(2)?])
        }
        6 => Some([ch(&hex[0..2])?, ch(&hex[2..4])?, ch(&hex[4..6])?]),
        _ => None,
    }
}

/// WCAG 2.x relative luminance (sRGB linearised, 0.2126/0.7152/0.0722).
pub fn luminance(rgb: [u8; 3]) -> f64 {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2])
}

pub fn ratio(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

/// The text colour for `background` and its contrast ratio: whichever of
/// white and near-black reads better. `Err` carries both ratios when
/// neither reaches AA.
pub fn text_on(background: [u8; 3]) -> Result<(&'static str, f64), (f64, f64)> {
    let white = ratio(background, [255, 255, 255]);
    let dark = ratio(background, parse_hex(DARK).expect("constant"));
    let best = if white >= dark {
        (WHITE, white)
    } else {
        (DARK, dark)
    };
    if best.1 >= AA {
        Ok(best)
    } else {
        Err((white, dark))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luminance_and_ratio_match_wcag_reference_values() {
        assert!((luminance([255, 255, 255]) - 1.0).abs() < 1e-9);
        assert!(luminance([0, 0, 0]).abs() < 1e-9);
        assert!((ratio([0, 0, 0], [255, 255, 255]) - 21.0).abs() < 1e-9);
        // #777 on white is the textbook "just fails" grey: 4.48:1.
        assert!((ratio([0x77; 3], [255; 3]) - 4.48).abs() < 0.01);
    }

    #[test]
    fn yellow_gets_dark_text_teal_gets_white() {
        let gold = parse_hex("#ffd700").unwrap();
        // White on gold is the 1.4:1 the issue saw; dark text passes.
        assert!(ratio(gold, [255; 3]) < 1.6);
        let (text, r) = text_on(gold).unwrap();
        assert_eq!(text, DARK);
        assert!(r >= AA, "{r}");
        let (text, r) = text_on(parse_hex("#0f766e").unwrap()).unwrap();
        assert_eq!(text, WHITE);
        assert!(r >= AA, "{r}");
        assert_eq!(text_on(parse_hex("#000").unwrap()).unwrap().0, WHITE);
        assert_eq!(text_on(parse_hex("#fff").unwrap()).unwrap().0, DARK);
    }

    #[test]
    fn a_mid_grey_fails_with_both_text_colours() {
        // #767676 passes white by a hair (4.54); #808080 fails both.
        let (white, dark) = text_on(parse_hex("#808080").unwrap()).unwrap_err();
        assert!(white < AA && dark < AA, "{white} {dark}");
        let (white, dark) = text_on(parse_hex("#7a7a7a").unwrap()).unwrap_err();
        assert!(white < AA && dark < AA, "{white} {dark}");
        assert!(text_on(parse_hex("#767676").unwrap()).is_ok());
    }

    #[test]
    fn short_and_bad_hex() {
        assert_eq!(parse_hex("#abc"), Some([0xaa, 0xbb, 0xcc]));
        assert_eq!(parse_hex("#0F766E"), Some([0x0f, 0x76, 0x6e]));
        assert_eq!(parse_hex("0f766e"), None);
        assert_eq!(parse_hex("#0f76"), None);
        assert_eq!(parse_hex("#ggg"), None);
        assert_eq!(parse_hex("#+12345"), None);
    }
}
