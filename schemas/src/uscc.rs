//! Unified social credit codes (统一社会信用代码, GB 32100-2015) of employers and businesses.

/// The 31 characters a code may use, in value order.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of the first 17 characters.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Why a raw string is not a credit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    /// Not 18 characters after trimming.
    #[error("credit code {0:?} is not 18 characters")]
    BadLength(String),
    /// A character outside the code alphabet.
    #[error("credit code {0:?} has a character outside the code alphabet")]
    BadCharacter(String),
    /// The check character does not match.
    #[error("credit code {0:?} fails its checksum")]
    BadChecksum(String),
}

fn value_of(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|a| *a == c).map(|p| p as u32)
}

/// The check character for 17 leading characters, or `None` if one is outside the alphabet.
pub fn check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (b, w) in bytes.iter().zip(WEIGHTS) {
        sum += value_of(*b)? * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(char::from(ALPHABET[check as usize]))
}

/// Trims (including full-width spaces), upper-cases and validates a credit code.
pub fn normalize(raw: &str) -> Result<String, UsccError> {
    let s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{3000}')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if s.len() != 18 || !s.is_ascii() {
        return Err(UsccError::BadLength(s));
    }
    if !s.bytes().all(|b| value_of(b).is_some()) {
        return Err(UsccError::BadCharacter(s));
    }
    match check_char(&s[..17]) {
        Some(c) if s.ends_with(c) => Ok(s),
        _ => Err(UsccError::BadChecksum(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_vector() {
        assert_eq!(
            normalize("91350100M000100Y43").unwrap(),
            "91350100M000100Y43"
        );
        assert_eq!(
            normalize(" 91350100m000100y43\u{3000}").unwrap(),
            "91350100M000100Y43"
        );
        assert!(matches!(
            normalize("91350100M000100Y44"),
            Err(UsccError::BadChecksum(_))
        ));
        assert!(matches!(
            normalize("91350100M000100YI3"),
            Err(UsccError::BadCharacter(_))
        ));
        assert!(matches!(normalize("9135"), Err(UsccError::BadLength(_))));
    }

    proptest! {
        #[test]
        fn generated_codes_validate(body in "[0-9A-HJ-NP-RTUWXY]{17}") {
            let code = format!("{body}{}", check_char(&body).unwrap());
            prop_assert_eq!(normalize(&code), Ok(code.clone()));
        }
    }
}
