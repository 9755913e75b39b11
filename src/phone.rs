//! Phone numbers: parsed with libphonenumber's metadata (the `phonenumber`
//! crate) and canonicalized to E.164 before they key any limit or record,
//! so `+91 98123 45678`, `098123 45678` and `+919812345678` are one number.

use phonenumber::country::Id;
use phonenumber::{Mode, Type};

pub mod mask;

pub use mask::mask;

use crate::config::PhoneConfig;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    e164: String,
    region: Id,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("That doesn't look like a phone number. Check the number and try again.")]
    Invalid,
    #[error("That number can't receive text messages. Use a mobile number.")]
    NotMobile,
    #[error("We can't send codes to numbers in that country.")]
    NotAllowed,
}

impl PhoneError {
    pub fn code(self) -> &'static str {
        match self {
            PhoneError::Invalid => "invalid_phone",
            PhoneError::NotMobile => "not_mobile",
            PhoneError::NotAllowed => "region_not_allowed",
        }
    }
}

impl Phone {
    pub fn parse(input: &str, cfg: &PhoneConfig) -> Result<Phone, PhoneError> {
        let input = input.trim();
        if input.is_empty()
            || input.len() > 32
            || !input
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            return Err(PhoneError::Invalid);
        }
        let number =
            phonenumber::parse(Some(cfg.default_region), input).map_err(|_| PhoneError::Invalid)?;
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::Invalid);
        }
        let region = number.country().id().ok_or(PhoneError::Invalid)?;
        if !cfg.allowed_regions.contains(&region) {
            return Err(PhoneError::NotAllowed);
        }
        if matches!(
            number.number_type(&phonenumber::metadata::DATABASE),
            Type::FixedLine
                | Type::TollFree
                | Type::PremiumRate
                | Type::SharedCost
                | Type::Pager
                | Type::Uan
                | Type::Voicemail
        ) {
            return Err(PhoneError::NotMobile);
        }
        let e164 = number.format().mode(Mode::E164).to_string();
        if cfg
            .blocked_prefixes
            .iter()
            .any(|p| e164.starts_with(p.as_str()))
        {
            return Err(PhoneError::NotAllowed);
        }
        Ok(Phone { e164, region })
    }

    /// Rebuilds a phone already canonicalized by [`Phone::parse`].
    pub fn from_e164(e164: &str) -> Option<Phone> {
        let number = phonenumber::parse(None, e164).ok()?;
        Some(Phone {
            e164: e164.to_string(),
            region: number.country().id()?,
        })
    }

    pub fn e164(&self) -> &str {
        &self.e164
    }

    pub fn region_code(&self) -> String {
        format!("{:?}", self.region)
    }

    /// The number without its last four digits: the unit SMS pumpers rent.
    pub fn prefix(&self) -> &str {
        &self.e164[..self.e164.len().saturating_sub(4).max(1)]
    }

    /// `+91******1234`, for logs and pages.
    pub fn masked(&self) -> String {
        mask(&self.e164)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> PhoneConfig {
        PhoneConfig {
            default_region: Id::IN,
            allowed_regions: vec![Id::IN],
            lookup_url: None,
            blocked_prefixes: vec!["+91140".into()],
        }
    }

    #[test]
    fn canonicalizes_spellings() {
        for s in [
            "+91 98123 45678",
            "098123-45678",
            "9812345678",
            "+919812345678",
            "(+91) 98123 45678",
        ] {
            assert_eq!(
                Phone::parse(s, &cfg()).unwrap().e164(),
                "+919812345678",
                "{s}"
            );
        }
    }

    #[test]
    fn refuses_bad_foreign_and_landline() {
        assert_eq!(Phone::parse("12", &cfg()), Err(PhoneError::Invalid));
        assert_eq!(
            Phone::parse("+91 98123 4567x", &cfg()),
            Err(PhoneError::Invalid)
        );
        assert_eq!(
            Phone::parse("+14155552671", &cfg()),
            Err(PhoneError::NotAllowed)
        );
        assert_eq!(
            Phone::parse("+91 11 2345 6789", &cfg()),
            Err(PhoneError::NotMobile)
        );
    }

    #[test]
    fn masks() {
        assert_eq!(mask("+919812345678"), "+91******5678");
        assert_eq!(
            Phone::parse("9812345678", &cfg()).unwrap().prefix(),
            "+91981234"
        );
    }
}
