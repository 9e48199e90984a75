//! Customers as records (DESIGN 9b): the party an instrument belongs to and
//! whose confidentiality the lab keeps (ISO/IEC 17025 4.2). Pure: what a
//! customer record is and what makes one valid.

use serde::{Deserialize, Serialize};

use super::FieldError;

/// Body of `POST /api/v1/customers` and `PUT`/`PATCH /api/v1/customers/{code}`.
/// On PATCH every field is optional; on POST and PUT `name` and `code` are required.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    /// The customer's name as printed on certificates; unique.
    pub name: Option<String>,
    /// A short identifier (letters, digits, `.`, `_`, `-`; at most 32), unique regardless of case.
    pub code: Option<String>,
    pub address: Option<String>,
    pub contact_email: Option<String>,
}

/// A validated customer record, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    pub name: String,
    pub code: String,
    pub address: Option<String>,
    pub contact_email: Option<String>,
}

/// A customer as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub code: String,
    pub address: Option<String>,
    pub contact_email: Option<String>,
    /// How many instruments are registered for it.
    pub instruments: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl Customer {
    pub fn record(&self) -> CustomerRecord {
        CustomerRecord {
            name: self.name.clone(),
            code: self.code.clone(),
            address: self.address.clone(),
            contact_email: self.contact_email.clone(),
        }
    }
}

pub const MAX_NAME: usize = 200;
pub const MAX_CODE: usize = 32;

/// A customer name as instruments carry it: trimmed, 1 to 200 printable characters.
pub fn check_name(name: &str) -> Result<String, String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        Err("must not be blank".to_string())
    } else if trimmed.chars().count() > MAX_NAME {
        Err(format!("must be at most {MAX_NAME} characters"))
    } else if trimmed.chars().any(char::is_control) {
        Err("must not contain control characters".to_string())
    } else {
        Ok(trimmed.to_string())
    }
}

/// A code: 1 to 32 of letters, digits, `.`, `_` and `-` (it appears in URLs and on the
/// command line, `caltrace user add … --customer CODE`).
pub fn check_code(code: &str) -> Result<String, String> {
    let trimmed = code.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if trimmed.is_empty() || trimmed.len() > MAX_CODE || !trimmed.chars().all(allowed) {
        Err(format!(
            "must be 1 to {MAX_CODE} letters, digits, '.', '_' or '-' (e.g. ACME-01)"
        ))
    } else {
        Ok(trimmed.to_string())
    }
}

fn check_address(address: &str) -> Result<String, String> {
    let trimmed = address.trim();
    // An address may span lines; other control characters have no place in print.
    let bad = |c: char| c.is_control() && c != '\n' && c != '\r';
    if trimmed.is_empty() {
        Err("must not be blank; omit the field instead".to_string())
    } else if trimmed.chars().count() > 500 {
        Err("must be at most 500 characters".to_string())
    } else if trimmed.chars().any(bad) {
        Err("must not contain control characters other than line breaks".to_string())
    } else {
        Ok(trimmed.to_string())
    }
}

/// A plausible address (one `@`, something before it, a dotted domain after
/// it, no spaces): the lab writes to it, so a typo should be caught now.
fn check_email(email: &str) -> Result<String, String> {
    let trimmed = email.trim();
    let plausible = trimmed.len() <= 254
        && !trimmed.chars().any(|c| c.is_whitespace() || c.is_control())
        && match trimmed.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if plausible {
        Ok(trimmed.to_string())
    } else {
        Err("must be an e-mail address such as quality@example.com".to_string())
    }
}

fn field(
    errors: &mut Vec<FieldError>,
    name: &str,
    value: Option<&str>,
    check: fn(&str) -> Result<String, String>,
) -> Option<String> {
    match check(value?) {
        Ok(value) => Some(value),
        Err(message) => {
            errors.push(FieldError::new(name, message));
            None
        }
    }
}

/// Checks a customer body. `base` is the stored record a PATCH changes (None:
/// POST or PUT, where `name` and `code` are required); every check runs so all
/// errors come back at once.
pub fn validate_customer(
    input: &CustomerInput,
    base: Option<&CustomerRecord>,
) -> Result<CustomerRecord, Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = field(&mut errors, "name", input.name.as_deref(), check_name);
    let code = field(&mut errors, "code", input.code.as_deref(), check_code);
    let address = field(
        &mut errors,
        "address",
        input.address.as_deref(),
        check_address,
    );
    let email = field(
        &mut errors,
        "contact_email",
        input.contact_email.as_deref(),
        check_email,
    );
    for (key, given) in [("name", &input.name), ("code", &input.code)] {
        if given.is_none() && base.is_none() {
            errors.push(FieldError::new(key, "is required"));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let keep = |given: Option<String>, stored: Option<&String>| given.or(stored.cloned());
    Ok(CustomerRecord {
        name: keep(name, base.map(|b| &b.name)).unwrap_or_default(),
        code: keep(code, base.map(|b| &b.code)).unwrap_or_default(),
        address: keep(address, base.and_then(|b| b.address.as_ref())),
        contact_email: keep(email, base.and_then(|b| b.contact_email.as_ref())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(result: Result<CustomerRecord, Vec<FieldError>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_new_customer_needs_a_name_and_a_code() {
        assert_eq!(
            fields(validate_customer(&CustomerInput::default(), None)),
            ["name", "code"]
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let input = CustomerInput {
            name: Some("  ".into()),
            code: Some("ACME 01".into()),
            address: Some("Line\u{1}".into()),
            contact_email: Some("quality@localhost".into()),
        };
        assert_eq!(
            fields(validate_customer(&input, None)),
            ["name", "code", "address", "contact_email"]
        );
    }

    #[test]
    fn a_patch_keeps_what_it_does_not_name() {
        let base = CustomerRecord {
            name: "ACME Valves".into(),
            code: "ACME".into(),
            address: Some("1 Main St\nSpringfield".into()),
            contact_email: None,
        };
        let input = CustomerInput {
            name: Some(" ACME Valves Ltd ".into()),
            contact_email: Some("qa@acme.example".into()),
            ..CustomerInput::default()
        };
        let record = validate_customer(&input, Some(&base)).unwrap();
        assert_eq!(record.name, "ACME Valves Ltd");
        assert_eq!(record.code, "ACME");
        assert_eq!(record.address.as_deref(), Some("1 Main St\nSpringfield"));
        assert_eq!(record.contact_email.as_deref(), Some("qa@acme.example"));
    }
}
