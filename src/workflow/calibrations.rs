//! A calibration's way from draft to certificate (DESIGN section 6): recording
//! and evaluating it against the register and the CMCs, four eyes, approval
//! (numbering, issuing the certificate, recomputing chains), rejection and
//! withdrawal. Each operation is one transaction: all of it or nothing.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};

use super::certificates::{issue_certificate, Issue, IssueContext};
use super::competence::{check_approval, Competence, RecordingChecks};
use crate::db::audit::{append, append_many, Actor, Change};
use crate::db::calibrations::{self as repo, Calibration};
use crate::db::issuer_certificates::{self, IssuerFile};
use crate::db::{traceability, write_transaction, DbConnection};
use crate::domain::calibration::{
    evaluate_calibration, CalibrationInput, CalibrationKind, EvaluatedCalibration, InstrumentFacts,
    RecordContext,
};
use crate::domain::dates::{out_of_range, today};
use crate::domain::four_eyes::{may_change, may_decide, FourEyes};
use crate::domain::issuer_file::IssuerFileFormat;
use crate::domain::people::Scope;
use crate::domain::signature::ElectronicSignature;
use crate::domain::states::CalibrationStatus::{
    self, Accepted, Draft, Issued, Rejected, Submitted, Withdrawn,
};
use crate::domain::traceability::{
    broken_link_words, point_uncertainties, points_below_standard,
    uncertainty_below_standard_words, PointBelowStandard, TraceabilityGraph,
};
use crate::domain::FieldError;
use crate::error::ApiError;

/// A calibration as `scope` may read it, with its points whose U is smaller than the U of a
/// standard they used at that point (DESIGN 9c: flagged on the record and the page, whatever
/// its status, so the technician sees it before submitting). The standards' calibrations are
/// read in the fixed number of queries of `facts_of`, not the whole chain.
pub fn read(
    conn: &mut DbConnection,
    id: i64,
    scope: &Scope,
) -> Result<(Calibration, Vec<PointBelowStandard>), ApiError> {
    let calibration = repo::get_scoped(conn, id, scope)?;
    let standards = traceability::facts_of(conn, &calibration.standards_used)?;
    let flags = points_below_standard(
        &standards,
        &point_uncertainties(&calibration.points),
        &calibration.standards_used,
        calibration.performed_on,
    );
    Ok((calibration, flags))
}

/// Keeps `bytes` as the issuer's certificate of external calibration `id` (DESIGN 9c),
/// replacing an earlier one; audited on the calibration. This laboratory's own work has no
/// issuer's certificate: its certificate is issued on approval.
pub fn attach_issuer_certificate(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    format: IssuerFileFormat,
    bytes: &[u8],
) -> Result<IssuerFile, ApiError> {
    write_transaction(conn, |conn| {
        let calibration = repo::get(conn, id)?;
        if calibration.kind != CalibrationKind::External {
            return Err(ApiError::Conflict(format!(
                "calibration {id} is this laboratory's own (internal): only an external \
                 calibration carries its issuer's certificate; ours is issued on approval"
            )));
        }
        Ok(issuer_certificates::store(conn, actor, id, format, bytes)?)
    })
}

/// The issuer's certificate of calibration `id` as `scope` may read it: another customer's
/// calibration is not found, like one without a file.
pub fn issuer_certificate(
    conn: &mut DbConnection,
    id: i64,
    scope: &Scope,
) -> Result<(IssuerFile, Vec<u8>), ApiError> {
    repo::get_scoped(conn, id, scope)?;
    let file = issuer_certificates::find(conn, id)?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "calibration {id} has no issuer's certificate file (PUT one to \
             /api/v1/calibrations/{id}/issuer-certificate)"
        ))
    })?;
    let bytes = issuer_certificates::bytes_of(conn, &file)?;
    Ok((file, bytes))
}

/// The register's facts of the instruments a set of calibrations names (the
/// calibrated instruments and their standards), in one query.
fn known_instruments(
    conn: &mut DbConnection,
    inputs: &[CalibrationInput],
) -> Result<HashMap<i64, InstrumentFacts>, ApiError> {
    let mut wanted: Vec<i64> = inputs
        .iter()
        .flat_map(|input| {
            std::iter::once(input.instrument_id).chain(input.standards_used.iter().copied())
        })
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    Ok(repo::facts_of(conn, &wanted)?)
}

/// What is wrong with the certificate a calibration says it replaces.
fn check_replaced(
    conn: &mut DbConnection,
    input: &CalibrationInput,
    field: String,
) -> Result<Option<FieldError>, ApiError> {
    let Some(replaces) = &input.replaces else {
        return Ok(None);
    };
    let problem = match repo::certificate_holder(conn, &replaces.number)? {
        None => format!("no certificate numbered {}", replaces.number),
        Some((instrument_id, _)) if instrument_id != input.instrument_id => {
            "the replaced certificate is for another instrument".to_string()
        }
        Some((_, status)) if status != Issued => format!(
            "certificate {} is {status}; only an issued certificate can be replaced",
            replaces.number
        ),
        Some(_) => return Ok(None),
    };
    Ok(Some(FieldError::new(field, problem)))
}

/// Validates a calibration against the register and the CMCs and computes its
/// results; `path` prefixes field names (batch ingestion: `calibrations[3]`).
fn evaluate(
    conn: &mut DbConnection,
    input: &CalibrationInput,
    known: &HashMap<i64, InstrumentFacts>,
    (cmc_table, checks): (&[crate::domain::calibration::Cmc], &RecordingChecks),
    path: &str,
) -> Result<EvaluatedCalibration, ApiError> {
    let at = |field: &str| {
        if path.is_empty() {
            field.to_string()
        } else {
            format!("{path}.{field}")
        }
    };
    let mut errors = limits(input, &at);
    errors.extend(check_replaced(conn, input, at("replaces.number"))?);
    let kind = input.kind.as_deref().and_then(|k| k.parse().ok());
    let kind = kind.unwrap_or(CalibrationKind::Internal);
    let procedure = checks
        .procedure(input, kind, known, &at)
        .unwrap_or_else(|more| {
            errors.extend(more);
            None
        });
    let context = RecordContext {
        register: known,
        today: today(),
    };
    match evaluate_calibration(input, &context, cmc_table) {
        Ok(mut evaluated) if errors.is_empty() => {
            let overflowing = overflowing_points(&evaluated, &at);
            evaluated.procedure = procedure;
            match overflowing.is_empty() {
                true => Ok(evaluated),
                false => Err(ApiError::Validation(overflowing)),
            }
        }
        Ok(_) => Err(ApiError::Validation(errors)),
        Err(more) => {
            errors.extend(
                more.into_iter()
                    .map(|e| FieldError::new(at(&e.field), e.message)),
            );
            Err(ApiError::Validation(errors))
        }
    }
}

/// Most points one calibration may carry (DESIGN section 9): a certificate of
/// a thousand points is already forty pages; more is a mistake or an attack.
pub const MAX_POINTS: usize = 1000;

/// The limits a calibration must keep before it is evaluated: the number of
/// points and the range of its dates.
fn limits(input: &CalibrationInput, at: &dyn Fn(&str) -> String) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if input.points.len() > MAX_POINTS {
        errors.push(FieldError::new(
            at("points"),
            format!(
                "holds {} points; at most {MAX_POINTS} per calibration: split the work into several calibrations",
                input.points.len()
            ),
        ));
    }
    let dates = [
        ("performed_on", Some(input.performed_on)),
        ("received_on", input.received_on),
    ];
    for (field, date) in dates {
        if let Some(message) = date.and_then(out_of_range) {
            errors.push(FieldError::new(at(field), message));
        }
    }
    errors
}

/// Points whose results cannot be stored: a value so large that the error, its
/// uncertainty or the TUR overflows to infinity (1e308 in a reading). Stored,
/// they would read back as corrupt; they are refused instead, naming the point.
fn overflowing_points(
    evaluated: &EvaluatedCalibration,
    at: &dyn Fn(&str) -> String,
) -> Vec<FieldError> {
    evaluated
        .points
        .iter()
        .enumerate()
        .filter(|(_, point)| !point.is_finite())
        .map(|(i, _)| {
            FieldError::new(
                at(&format!("points[{i}]")),
                "the values are too large: the error or its uncertainty overflows; \
                 check the value and its unit",
            )
        })
        .collect()
}

fn forbid(rule: Result<(), FourEyes>, action: &str) -> Result<(), ApiError> {
    rule.map_err(|broken| ApiError::Forbidden(broken.explain(action)))
}

fn conflict_unless(
    calibration: &Calibration,
    allowed: &[CalibrationStatus],
    action: &str,
) -> Result<(), ApiError> {
    if allowed.contains(&calibration.status) {
        Ok(())
    } else {
        Err(ApiError::Conflict(format!(
            "calibration {} is {}; it cannot be {action}",
            calibration.id, calibration.status
        )))
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// Records a new calibration as a draft.
pub fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    input: &CalibrationInput,
    competence: Competence,
) -> Result<Calibration, ApiError> {
    write_transaction(conn, |conn| {
        let cmc_table = repo::list_cmcs(conn)?;
        let inputs = std::slice::from_ref(input);
        let known = known_instruments(conn, inputs)?;
        let checks = RecordingChecks::load(conn, actor, inputs, competence)?;
        let evaluated = evaluate(conn, input, &known, (&cmc_table, &checks), "")?;
        checks.authorised(actor, input, &known)?;
        let id = repo::insert_evaluated(conn, actor, input, &evaluated, Draft)?;
        let created = repo::get(conn, id)?;
        append(
            conn,
            actor,
            "create",
            "calibration",
            &id.to_string(),
            None,
            Some(&to_json(&created)),
        )?;
        Ok(created)
    })
}

/// Batch ingestion: every calibration or none. Errors name
/// `calibrations[i].…`; all are reported, not only the first.
pub fn create_batch(
    conn: &mut DbConnection,
    actor: &Actor,
    inputs: &[CalibrationInput],
    (submit, competence): (bool, Competence),
) -> Result<Vec<i64>, ApiError> {
    write_transaction(conn, |conn| {
        let cmc_table = repo::list_cmcs(conn)?;
        let known = known_instruments(conn, inputs)?;
        let checks = RecordingChecks::load(conn, actor, inputs, competence)?;
        let mut errors = Vec::new();
        let mut evaluated = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            let path = format!("calibrations[{i}]");
            match evaluate(conn, input, &known, (&cmc_table, &checks), &path) {
                Ok(result) => evaluated.push(result),
                Err(ApiError::Validation(more)) => errors.extend(more),
                Err(other) => return Err(other),
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        for input in inputs {
            checks.authorised(actor, input, &known)?;
        }
        let status = if submit { Submitted } else { Draft };
        let mut ids = Vec::with_capacity(inputs.len());
        for (input, result) in inputs.iter().zip(&evaluated) {
            ids.push(repo::insert_evaluated(conn, actor, input, result, status)?);
        }
        // One audit row per calibration, as a single create writes, so an
        // assessor finds each record's history by its id (not inside a range).
        let changes = repo::get_many(conn, &ids)?
            .into_iter()
            .map(|created| Change {
                entity_id: created.id.to_string(),
                before: None,
                after: Some(to_json(&created).to_string()),
            })
            .collect();
        append_many(conn, actor, "create", "calibration", changes)?;
        Ok(ids)
    })
}

/// Replaces a draft (or rejected work, which goes back to draft). Issued data
/// is never changed in place; drafts belong to their creator (and admins).
pub fn replace_draft(
    conn: &mut DbConnection,
    actor: &Actor,
    (id, input): (i64, &CalibrationInput),
    competence: Competence,
) -> Result<Calibration, ApiError> {
    write_transaction(conn, |conn| {
        let before = repo::get(conn, id)?;
        conflict_unless(&before, &[Draft, Rejected], "changed")?;
        let may = may_change(before.created_by, actor.user_id, actor.is_admin);
        forbid(may, "change")?;
        let cmc_table = repo::list_cmcs(conn)?;
        let inputs = std::slice::from_ref(input);
        let known = known_instruments(conn, inputs)?;
        let checks = RecordingChecks::load(conn, actor, inputs, competence)?;
        let evaluated = evaluate(conn, input, &known, (&cmc_table, &checks), "")?;
        checks.authorised(actor, input, &known)?;
        repo::update_evaluated(conn, actor, id, input, &evaluated)?;
        Ok(repo::audited(conn, actor, "update", &before)?)
    })
}

/// Deletes a draft (a calibration entered by mistake, on the wrong
/// instrument): by its creator or an admin, never once submitted, since then
/// an approver has seen it. The audit log keeps what was deleted.
pub fn delete_draft(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<(), ApiError> {
    write_transaction(conn, |conn| {
        let before = repo::get(conn, id)?;
        conflict_unless(&before, &[Draft], "deleted")?;
        let may = may_change(before.created_by, actor.user_id, actor.is_admin);
        forbid(may, "delete")?;
        repo::delete(conn, id)?;
        let before_json = serde_json::to_value(&before).unwrap_or_default();
        append(
            conn,
            actor,
            "delete",
            "calibration",
            &id.to_string(),
            Some(&before_json),
            None,
        )?;
        Ok(())
    })
}

pub fn submit(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<Calibration, ApiError> {
    write_transaction(conn, |conn| {
        let before = repo::get(conn, id)?;
        conflict_unless(&before, &[Draft], "submitted")?;
        let may = may_change(before.created_by, actor.user_id, actor.is_admin);
        forbid(may, "submit")?;
        repo::record_contributor(conn, id, actor)?;
        Ok(repo::set_status(
            conn, actor, &before, Submitted, None, "submit",
        )?)
    })
}

pub fn reject(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    reason: &str,
) -> Result<Calibration, ApiError> {
    write_transaction(conn, |conn| {
        let before = repo::get(conn, id)?;
        conflict_unless(&before, &[Submitted], "rejected")?;
        forbid(
            may_decide(&repo::contributors(conn, id)?, actor.user_id),
            "rejects",
        )?;
        Ok(repo::set_status(
            conn,
            actor,
            &before,
            Rejected,
            Some(reason),
            "reject",
        )?)
    })
}

/// The certificate a replacement replaces becomes superseded (it must still be issued).
fn supersede_replaced(
    conn: &mut DbConnection,
    actor: &Actor,
    before: &Calibration,
    number: &str,
) -> Result<(), ApiError> {
    let Some(replaces) = &before.replaces else {
        return Ok(());
    };
    let old_number = replaces["number"].as_str().unwrap_or_default();
    let old = repo::get_by_certificate(conn, old_number)?;
    if old.status != Issued {
        return Err(ApiError::Conflict(format!(
            "certificate {old_number} is {}; it can no longer be replaced",
            old.status
        )));
    }
    Ok(repo::supersede(conn, actor, &old, number)?)
}

/// Approves a submitted calibration (never by one of its contributors): issues
/// the certificate of an internal one, accepts an external one.
/// Four eyes (DESIGN section 9): whoever created, changed or submitted a calibration may not
/// approve it. The pages ask it before asking for the approver's password.
pub fn may_approve(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<(), ApiError> {
    forbid(
        may_decide(&repo::contributors(conn, id)?, actor.user_id),
        "approves",
    )
}

/// What the pages ask before the approver's password (DESIGN 9b): four eyes, and, when the lab
/// keeps competence records here, an `approve` authorisation valid on `today`.
pub fn may_approve_on(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    today: NaiveDate,
    competence: Competence,
) -> Result<(), ApiError> {
    may_approve(conn, actor, id)?;
    match competence {
        Competence::Required => {
            let calibration = repo::get(conn, id)?;
            approver_authorised(conn, actor, &calibration, today)
        }
        Competence::NotKept => Ok(()),
    }
}

pub fn approve(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    (today, meaning): (NaiveDate, &str),
    context: &IssueContext,
) -> Result<Calibration, ApiError> {
    write_transaction(conn, |conn| {
        let before = repo::get(conn, id)?;
        may_approve(conn, actor, id)?;
        conflict_unless(&before, &[Submitted], "approved")?;
        if context.require_authorisations {
            approver_authorised(conn, actor, &before, today)?;
        }
        let number = match before.kind {
            CalibrationKind::Internal => Some(repo::next_certificate_number(
                conn,
                today.year(),
                &context.prefix,
            )?),
            CalibrationKind::External => None,
        };
        let status = if number.is_some() { Issued } else { Accepted };
        if let Some(number) = &number {
            supersede_replaced(conn, actor, &before, number)?;
        }
        repo::mark_approved(conn, actor, id, status, number.as_deref(), (today, meaning))?;
        // Its own chain on its date, then everything that used this instrument
        // from that date on: the new calibration may be what they now rest on.
        let mut chains = traceability::refresh_chain_state(conn, &[id])?;
        chains.extend(traceability::refresh_downstream(
            conn,
            before.instrument_id,
            before.performed_on,
        )?);
        let cause = format!("calibration {id} approved");
        super::audit_chain_changes(conn, actor, &cause, &chains)?;
        if let Some(number) = &number {
            let issued = repo::get(conn, id)?;
            // One traceability subgraph, on the day of the work, for the check and the
            // certificate alike.
            let graph = traceability::graph_for(conn, issued.instrument_id, issued.performed_on)?;
            certifiable(&issued, &graph, today)?;
            // The certificate is rendered once, here, and kept byte for byte.
            let signatory = match actor.user_id {
                Some(id) => crate::db::users::profile(conn, id)?.signatory(&actor.name),
                None => actor.name.clone(),
            };
            let signature = ElectronicSignature {
                signer: signatory.clone(),
                signed_at: issued.approved_at.clone().unwrap_or_default(),
                meaning: meaning.to_string(),
            };
            let issue = Issue {
                number,
                issued_on: today,
                signatory: &signatory,
                signature: Some(&signature),
            };
            issue_certificate(conn, &issued, &graph, &issue, context)?;
        }
        Ok(repo::audited(conn, actor, "approve", &before)?)
    })
}

/// The approver holds `approve` for the instrument's quantity kind (and the cited procedure)
/// on the day of approval (ISO/IEC 17025 6.2.6 c).
fn approver_authorised(
    conn: &mut DbConnection,
    actor: &Actor,
    calibration: &Calibration,
    today: NaiveDate,
) -> Result<(), ApiError> {
    let facts = repo::facts_of(conn, &[calibration.instrument_id])?;
    let Some(instrument) = facts.get(&calibration.instrument_id) else {
        return Ok(());
    };
    let code = match (&calibration.procedure_version, &calibration.procedure) {
        (Some(cited), _) => Some(cited.code.as_str()),
        (None, Some(citation)) => Some(crate::domain::competence::split_citation(citation).0),
        (None, None) => None,
    };
    check_approval(conn, actor, instrument.quantity_kind.name(), code, today)
}

/// What no accredited laboratory may certify, checked once more at approval
/// (a draft recorded before these rules, or a standard that lapsed since):
/// work dated after today, and a chain broken on the day of the work
/// (ISO/IEC 17025 6.5) unless the deviation is stated, which the certificate
/// then prints with the link that was not traceable.
fn certifiable(
    calibration: &Calibration,
    graph: &impl TraceabilityGraph,
    today: NaiveDate,
) -> Result<(), ApiError> {
    if calibration.performed_on > today {
        return Err(ApiError::field(
            "performed_on",
            format!(
                "{} is after today ({today}): a certificate cannot report work not yet done; \
                 correct the date",
                calibration.performed_on
            ),
        ));
    }
    if calibration.deviations.is_some() {
        return Ok(());
    }
    if let Some(link) = broken_link_words(graph, calibration.instrument_id, calibration.id) {
        return Err(ApiError::field(
            "deviations",
            format!(
                "the traceability chain was broken on {}: {link}; state the deviation in \
                 `deviations` (it is printed on the certificate), or record the calibration \
                 against a standard that was valid that day",
                calibration.performed_on
            ),
        ));
    }
    // DESIGN 9c: a result cannot be more certain than the standard it was obtained with.
    match uncertainty_below_standard_words(graph, calibration.instrument_id, calibration.id) {
        None => Ok(()),
        Some(words) => Err(ApiError::field(
            "deviations",
            format!(
                "{words}: the standard's uncertainty is part of every result obtained with it; \
                 add it to the budget, or state the deviation in `deviations` (it is printed \
                 on the certificate)"
            ),
        )),
    }
}

/// Withdraws an issued certificate: whatever rested on it now rests on a
/// withdrawn one, so the chains downstream are recomputed.
pub fn withdraw(
    conn: &mut DbConnection,
    actor: &Actor,
    number: &str,
    reason: &str,
) -> Result<Calibration, ApiError> {
    write_transaction(conn, |conn| {
        let before = repo::get_by_certificate(conn, number)?;
        conflict_unless(&before, &[Issued], "withdrawn")?;
        let after = repo::set_status(conn, actor, &before, Withdrawn, Some(reason), "withdraw")?;
        let chains =
            traceability::refresh_downstream(conn, before.instrument_id, before.performed_on)?;
        let cause = format!("certificate {number} withdrawn: {reason}");
        super::audit_chain_changes(conn, actor, &cause, &chains)?;
        Ok(after)
    })
}
