//! Pure metrology and record-keeping logic: no web framework, no database, no I/O.

pub mod audit;
pub mod calibration;
pub mod certificate;
pub mod competence;
pub mod conformity;
pub mod customer;
pub mod dates;
pub mod four_eyes;
pub mod instrument;
pub mod interval;
pub mod issuer_file;
pub mod model;
pub mod people;
pub mod quantity;
pub mod secret;
pub mod signature;
pub mod statement;
pub mod states;
pub mod text;
pub mod traceability;
pub mod uncertainty;
pub mod validity;

/// One invalid input, named by its JSON path (`points[3].budget.components[0].unit`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}
