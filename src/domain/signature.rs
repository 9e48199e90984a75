//! The approver's electronic signature (21 CFR 11.50 and 11.200, DESIGN 8b): who signed, when,
//! and what the signature means. On the web the approver gives their password again; through
//! the API the bearer token is the signature's second component.

use super::FieldError;

/// What an approval means unless the approver says otherwise.
pub const DEFAULT_MEANING: &str = "approved";

/// The longest meaning accepted: a phrase ("approved", "reviewed and approved for release"),
/// not a document.
const MEANING_MAX: usize = 200;

/// The meaning the approver gave, or the default; refused (naming `meaning`) when blank,
/// longer than a phrase, or holding control characters that would not print.
pub fn signature_meaning(given: Option<&str>) -> Result<String, FieldError> {
    let Some(given) = given else {
        return Ok(DEFAULT_MEANING.to_string());
    };
    let meaning = given.trim();
    if meaning.is_empty() {
        return Err(FieldError::new(
            "meaning",
            "is blank: leave it out for \"approved\", or say what the signature means",
        ));
    }
    if meaning.chars().count() > MEANING_MAX {
        return Err(FieldError::new(
            "meaning",
            format!("is longer than {MEANING_MAX} characters: a signature's meaning is a phrase"),
        ));
    }
    if meaning.chars().any(char::is_control) {
        return Err(FieldError::new(
            "meaning",
            "holds control characters (a tab or a line break): write it on one line",
        ));
    }
    Ok(meaning.to_string())
}

/// An approver's signature as the certificate prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ElectronicSignature {
    /// The signer's printed name (full name and title when on record).
    pub signer: String,
    /// When they signed, UTC, `YYYY-MM-DDTHH:MM:SS`.
    pub signed_at: String,
    pub meaning: String,
}

impl ElectronicSignature {
    /// "Signed electronically by … on 2026-12-05 01:40 UTC; meaning: approved", in English
    /// and Chinese.
    pub fn words(&self) -> (String, String) {
        let at = self
            .signed_at
            .get(..16)
            .unwrap_or(&self.signed_at)
            .replace('T', " ");
        (
            format!(
                "Signed electronically by {} on {at} UTC; meaning of the signature: {}",
                self.signer, self.meaning
            ),
            format!(
                "{} 于 {at} UTC 电子签名；签名含义：{}",
                self.signer, self.meaning
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meaning_defaults_to_approved_and_must_be_one_printable_phrase() {
        assert_eq!(signature_meaning(None).unwrap(), "approved");
        assert_eq!(
            signature_meaning(Some("  reviewed and approved ")).unwrap(),
            "reviewed and approved"
        );
        for bad in ["", "   ", "approved\nby me", &"x".repeat(201)] {
            assert_eq!(signature_meaning(Some(bad)).unwrap_err().field, "meaning");
        }
        let signature = ElectronicSignature {
            signer: "Dr. Li Wei, Technical Manager".to_string(),
            signed_at: "2026-12-05T01:40:33".to_string(),
            meaning: "approved".to_string(),
        };
        assert_eq!(
            signature.words().0,
            "Signed electronically by Dr. Li Wei, Technical Manager on 2026-12-05 01:40 UTC; \
             meaning of the signature: approved"
        );
    }
}
