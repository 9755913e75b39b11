//! How many SMS parts a text costs (3GPP TS 23.038 alphabets, TS 23.040
//! concatenation): GSM-7 fits 160 septets in one part and 153 per part
//! once split (the 7-septet user-data header); anything outside GSM-7 goes
//! as UCS-2, 70 UTF-16 units in one part and 67 per part when split.

/// The alphabet a text travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// A text's size on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    pub encoding: Encoding,
    /// Septets (GSM-7, extension characters count two) or UTF-16 units.
    pub units: usize,
    /// SMS parts the operator bills.
    pub parts: usize,
}

const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
    ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Reached through the escape character: two septets each.
const EXTENSION: &str = "\x0c^{}\\[~]|€";

/// Whether `text` fits the GSM 03.38 default alphabet (with its extension
/// table), i.e. can be sent as plain text. Anything else needs UCS-2.
pub fn is_gsm7(text: &str) -> bool {
    text.chars()
        .all(|c| BASIC.contains(c) || EXTENSION.contains(c))
}

pub fn count(text: &str) -> Segments {
    let (encoding, units, single, multi) = if is_gsm7(text) {
        let septets = text
            .chars()
            .map(|c| if EXTENSION.contains(c) { 2 } else { 1 })
            .sum();
        (Encoding::Gsm7, septets, 160, 153)
    } else {
        // UCS-2 on the wire is UTF-16 in practice: a character outside the
        // BMP (an emoji) takes two units.
        (Encoding::Ucs2, text.encode_utf16().count(), 70, 67)
    };
    let parts = match units {
        0 => 1,
        n if n <= single => 1,
        n => n.div_ceil(multi),
    };
    Segments {
        encoding,
        units,
        parts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_covers_latin_and_extension_but_not_hindi_or_emoji() {
        assert!(is_gsm7(
            "123456 is your Example Shop code.\n\n@shop.example #123456"
        ));
        assert!(is_gsm7("Preis: 5€ [ok] {x} ~ ^ | \\ äöü ß"));
        assert!(!is_gsm7("आपका कोड 123456 है"));
        assert!(!is_gsm7("code 123456 🙂"));
        assert!(!is_gsm7("naïve `tick`"));
    }

    #[test]
    fn part_boundaries_are_160_153_and_70_67() {
        let gsm = |n| count(&"a".repeat(n));
        assert_eq!(gsm(160).parts, 1);
        assert_eq!(gsm(161).parts, 2);
        assert_eq!(gsm(306).parts, 2);
        assert_eq!(gsm(307).parts, 3);
        // Extension characters take two septets: 80 of them fill one part.
        assert_eq!(
            count(&"€".repeat(80)),
            Segments {
                encoding: Encoding::Gsm7,
                units: 160,
                parts: 1
            }
        );
        assert_eq!(count(&"€".repeat(81)).parts, 2);
        let hindi = |n| count(&"क".repeat(n));
        assert_eq!(hindi(70).encoding, Encoding::Ucs2);
        assert_eq!(hindi(70).parts, 1);
        assert_eq!(hindi(71).parts, 2);
        assert_eq!(hindi(134).parts, 2);
        assert_eq!(hindi(135).parts, 3);
        // One emoji turns a Latin text into UCS-2 and counts two units.
        let e = count(&format!("{}🙂", "a".repeat(68)));
        assert_eq!((e.encoding, e.units, e.parts), (Encoding::Ucs2, 70, 1));
        assert_eq!(count("").parts, 1);
    }
}
