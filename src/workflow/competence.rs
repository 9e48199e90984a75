//! Authorisations and the procedures register (DESIGN 9b): recording them (audited, all or
//! nothing) and checking, when a calibration is recorded or approved, that the procedure it
//! cites is validated (ISO/IEC 17025 7.2) and that its author or approver is authorised
//! (6.2.5–6.2.6).

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::db::audit::{append, Actor};
use crate::db::{competence as repo, users, write_transaction, DbConnection};
use crate::domain::calibration::{CalibrationInput, CalibrationKind, InstrumentFacts};
use crate::domain::competence::{
    is_authorised, overlapping, resolve_procedure, split_citation, validate_authorisation,
    Activity, Authorisation, AuthorisationInput, CitedProcedure, Needed, Procedure, ProcedureInput,
};
use crate::domain::FieldError;
use crate::error::ApiError;

/// Whether this lab keeps its competence records here (`lab.require_authorisations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Competence {
    /// Recording and approving need an authorisation.
    Required,
    /// The lab keeps competence records elsewhere: nothing is checked.
    NotKept,
}

impl Competence {
    pub fn from_flag(require_authorisations: bool) -> Competence {
        if require_authorisations {
            Competence::Required
        } else {
            Competence::NotKept
        }
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

fn user_id_named(conn: &mut DbConnection, name: &str) -> Result<Option<i64>, ApiError> {
    Ok(users::find_user(conn, name)?.map(|user| user.id))
}

/// Records an authorisation of user `name` (admin, or the command line). An unknown user, an
/// unknown activity or quantity kind, an inverted period or one overlapping an authorisation
/// of the same scope is a 422 naming the field; nothing is stored then.
pub fn authorise(
    conn: &mut DbConnection,
    actor: &Actor,
    name: &str,
    input: &AuthorisationInput,
    today: NaiveDate,
) -> Result<Authorisation, ApiError> {
    write_transaction(conn, |conn| {
        let user_id = user_id_named(conn, name)?;
        let mut errors = Vec::new();
        if user_id.is_none() {
            errors.push(FieldError::new(
                "user",
                format!("no user named '{name}': create the user first (caltrace user add)"),
            ));
        }
        let new = match validate_authorisation(input, today) {
            Ok(new) => Some(new),
            Err(more) => {
                errors.extend(more);
                None
            }
        };
        let (Some(user_id), Some(new)) = (user_id, new) else {
            return Err(ApiError::Validation(errors));
        };
        let existing = repo::authorisations_of(conn, user_id)?;
        if let Some(clash) = overlapping(&existing, &new) {
            return Err(ApiError::Validation(vec![clash]));
        }
        let id = repo::insert_authorisations(conn, user_id, std::slice::from_ref(&new))?[0];
        let stored = repo::authorisations_of(conn, user_id)?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| ApiError::Internal(format!("authorisation {id} was not stored")))?;
        append(
            conn,
            actor,
            "authorise",
            "authorisation",
            &id.to_string(),
            None,
            Some(&to_json(&stored)),
        )?;
        Ok(stored)
    })
}

/// A user's authorisations; 404 for an unknown user.
pub fn authorisations_of(
    conn: &mut DbConnection,
    name: &str,
) -> Result<Vec<Authorisation>, ApiError> {
    let user_id = user_id_named(conn, name)?
        .ok_or_else(|| ApiError::NotFound(format!("no user named '{name}'")))?;
    Ok(repo::authorisations_of(conn, user_id)?)
}

/// Registers a procedure version (a new version is a new record), audited.
pub fn register_procedure(
    conn: &mut DbConnection,
    actor: &Actor,
    input: &ProcedureInput,
) -> Result<Procedure, ApiError> {
    crate::domain::competence::validate_procedure(input).map_err(ApiError::Validation)?;
    write_transaction(conn, |conn| {
        let stored = repo::insert_procedure(conn, input)?;
        append(
            conn,
            actor,
            "create",
            "procedure",
            &stored.id.to_string(),
            None,
            Some(&to_json(&stored)),
        )?;
        Ok(stored)
    })
}

/// What recording needs from the register, loaded once per transaction: the versions of
/// every procedure code cited, and the author's authorisations (none loaded when the lab
/// does not keep them here).
pub struct RecordingChecks {
    procedures: Vec<Procedure>,
    authorisations: Option<Vec<Authorisation>>,
}

impl RecordingChecks {
    pub fn load(
        conn: &mut DbConnection,
        actor: &Actor,
        inputs: &[CalibrationInput],
        competence: Competence,
    ) -> Result<RecordingChecks, ApiError> {
        let mut codes: Vec<String> = inputs
            .iter()
            .filter_map(|input| input.procedure.as_deref())
            .map(|citation| split_citation(citation).0.to_string())
            .collect();
        codes.sort();
        codes.dedup();
        let procedures = repo::procedures_with_codes(conn, &codes)?;
        let authorisations = match (competence, actor.user_id) {
            (Competence::Required, Some(user_id)) => Some(repo::authorisations_of(conn, user_id)?),
            _ => None,
        };
        Ok(RecordingChecks {
            procedures,
            authorisations,
        })
    }

    /// The procedure version a calibration cites, or the errors that make it unrecordable:
    /// an unknown, unvalidated or withdrawn procedure, one for another quantity kind, or a
    /// free-text `method` on internal work. `at` names the fields.
    pub fn procedure(
        &self,
        input: &CalibrationInput,
        kind: CalibrationKind,
        known: &HashMap<i64, InstrumentFacts>,
        at: &dyn Fn(&str) -> String,
    ) -> Result<Option<CitedProcedure>, Vec<FieldError>> {
        if input.method.is_some() && kind == CalibrationKind::Internal {
            return Err(vec![FieldError::new(
                at("method"),
                "internal work cites a registered procedure in `procedure`; `method` is the \
                 free-text method of an external calibration",
            )]);
        }
        let Some(citation) = &input.procedure else {
            return Ok(None);
        };
        let found = resolve_procedure(&self.procedures, citation, input.performed_on)
            .map_err(|message| vec![FieldError::new(at("procedure"), message)])?;
        let instrument_kind = known
            .get(&input.instrument_id)
            .map(|facts| facts.quantity_kind.name());
        if instrument_kind.is_some_and(|kind| kind != found.quantity_kind) {
            return Err(vec![FieldError::new(
                at("procedure"),
                format!(
                    "procedure {}@{} is for {}, the instrument measures {}: cite a procedure \
                     for its quantity kind",
                    found.code,
                    found.version,
                    found.quantity_kind,
                    instrument_kind.unwrap_or_default()
                ),
            )]);
        }
        Ok(Some(CitedProcedure::from(found)))
    }

    /// 403 unless the author holds a `calibrate` authorisation for the instrument's quantity
    /// kind (and the cited procedure, when the authorisation is restricted to one) valid on
    /// the day the work was performed.
    pub fn authorised(
        &self,
        actor: &Actor,
        input: &CalibrationInput,
        known: &HashMap<i64, InstrumentFacts>,
    ) -> Result<(), ApiError> {
        let Some(held) = &self.authorisations else {
            return Ok(());
        };
        let Some(facts) = known.get(&input.instrument_id) else {
            return Ok(()); // an unregistered instrument is already a 422
        };
        let needed = Needed {
            activity: Activity::Calibrate,
            quantity_kind: facts.quantity_kind.name(),
            procedure: input
                .procedure
                .as_deref()
                .map(|citation| split_citation(citation).0),
            on: input.performed_on,
        };
        match is_authorised(held, &needed) {
            true => Ok(()),
            false => Err(ApiError::Forbidden(needed.missing(&actor.name))),
        }
    }
}

/// 403 unless the approver holds an `approve` authorisation for the quantity kind (and the
/// cited procedure, when restricted to one) valid on the day of approval (6.2.6 c).
pub fn check_approval(
    conn: &mut DbConnection,
    actor: &Actor,
    quantity_kind: &str,
    procedure_code: Option<&str>,
    on: NaiveDate,
) -> Result<(), ApiError> {
    let Some(user_id) = actor.user_id else {
        return Ok(());
    };
    let held = repo::authorisations_of(conn, user_id)?;
    let needed = Needed {
        activity: Activity::Approve,
        quantity_kind,
        procedure: procedure_code,
        on,
    };
    match is_authorised(&held, &needed) {
        true => Ok(()),
        false => Err(ApiError::Forbidden(needed.missing(&actor.name))),
    }
}

/// The laboratory's accreditation as the public scope states it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Accreditation {
    pub laboratory: String,
    pub address: String,
    /// Empty when the laboratory states no accreditation.
    pub body: String,
    pub number: String,
    pub accredited: bool,
}

/// The public accreditation scope (DESIGN 9b; ILAC P14: the CMCs are published with the
/// accreditation): who accredited the lab, and its CMC table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Scope {
    pub accreditation: Accreditation,
    pub cmcs: Vec<crate::domain::calibration::Cmc>,
}

pub fn scope(conn: &mut DbConnection, lab: &crate::config::LabIdentity) -> Result<Scope, ApiError> {
    let accredited =
        !lab.accreditation_body.trim().is_empty() && !lab.accreditation_number.trim().is_empty();
    Ok(Scope {
        accreditation: Accreditation {
            laboratory: lab.name.clone(),
            address: lab.address.clone(),
            body: lab.accreditation_body.clone(),
            number: lab.accreditation_number.clone(),
            accredited,
        },
        cmcs: crate::db::calibrations::list_cmcs(conn)?,
    })
}
