//! Password storage for the web login: PBKDF2-HMAC-SHA256 with a random 128-bit salt and
//! 600 000 iterations (OWASP's 2023 figure for this PRF). The parameters travel with the hash
//! (`pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`) so they can be raised later without
//! invalidating stored passwords.

use crate::domain::audit::hex;

pub const ITERATIONS: u32 = 600_000;
const SCHEME: &str = "pbkdf2-sha256";

fn derive(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, iterations, &mut out);
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Checks a password against a stored hash, or, when there is none (an unknown
/// user, a user without a password), against a hash no password matches, so
/// that every refusal costs the same PBKDF2 work and the answer's timing does
/// not tell which user names exist.
pub fn verify_or_spend(password: &str, stored: Option<&str>) -> bool {
    static NOBODY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        hash("no account has this password; it only spends the same time")
            .unwrap_or_else(|_| format!("{SCHEME}${ITERATIONS}$00$00"))
    });
    match stored {
        Some(stored) => verify(password, stored),
        None => {
            verify(password, &NOBODY);
            false
        }
    }
}

/// A new stored hash of `password`.
pub fn hash(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|error| format!("no randomness: {error}"))?;
    Ok(format!(
        "{SCHEME}${ITERATIONS}${}${}",
        hex(&salt),
        hex(&derive(password, &salt, ITERATIONS))
    ))
}

/// Does `password` match the stored hash? Compared in constant time.
pub fn verify(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some(SCHEME), Some(iterations), Some(salt), Some(expected), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Ok(iterations), Some(salt), Some(expected)) =
        (iterations.parse::<u32>(), unhex(salt), unhex(expected))
    else {
        return false;
    };
    if iterations == 0 || expected.len() != 32 {
        return false;
    }
    let actual = derive(password, &salt, iterations);
    crate::domain::secret::same_secret(&actual, &expected)
}

/// Length and content rules for a new password (NIST SP 800-63B: length, not composition).
pub fn acceptable(password: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < 10 {
        return Err("must be at least 10 characters".to_string());
    }
    if length > 200 {
        return Err("must be at most 200 characters".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7914 section 11 test vector for PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1).
    #[test]
    fn matches_the_rfc_7914_vector() {
        let mut out = [0u8; 64];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"passwd", b"salt", 1, &mut out);
        assert_eq!(
            hex(&out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
             49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
        );
    }

    #[test]
    fn verifies_only_the_right_password() {
        let stored = format!(
            "{SCHEME}$1000${}${}",
            hex(b"0123456789abcdef"),
            hex(&derive("correct horse", b"0123456789abcdef", 1000))
        );
        assert!(verify("correct horse", &stored));
        assert!(!verify("correct horsE", &stored));
        assert!(!verify("correct horse", "plain"));
        assert!(!verify("correct horse", "pbkdf2-sha256$0$00$00"));
        assert!(!verify("correct horse", &format!("{stored}$extra")));
    }

    #[test]
    fn new_hashes_carry_their_parameters_and_differ_by_salt() {
        let first = hash("a long enough password").unwrap();
        let second = hash("a long enough password").unwrap();
        assert!(first.starts_with("pbkdf2-sha256$600000$"));
        assert_ne!(first, second);
        assert!(verify("a long enough password", &first));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(acceptable("short").is_err());
        assert!(acceptable("ten chars!").is_ok());
    }
}
