//! Competence and methods (ISO/IEC 17025 6.2.5–6.2.6 and 7.2, DESIGN section 9b): who is
//! authorised for which activity on which quantity (and procedure) over which period, and
//! which version of a registered procedure a calibration cites. Pure rules: the workflow
//! loads the records and asks these functions.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::dates::out_of_range;
use super::quantity::QuantityKind;
use super::FieldError;

/// What an authorisation lets a person do (6.2.5 b: "authorize personnel to perform specific
/// laboratory activities").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// Record calibration results (6.2.6 a–b: develop and perform the method).
    Calibrate,
    /// Review and approve results, issuing the certificate (6.2.6 c: report, review, authorise).
    Approve,
}

impl Activity {
    pub const ALL: [Activity; 2] = [Activity::Calibrate, Activity::Approve];

    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Calibrate => "calibrate",
            Activity::Approve => "approve",
        }
    }
}

/// Where a procedure version is in its life (7.2.1.1: methods in use are the valid, current
/// ones; 7.2.2: a developed method is validated before use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcedureStatus {
    Draft,
    Validated,
    Withdrawn,
}

impl ProcedureStatus {
    pub const ALL: [ProcedureStatus; 3] = [
        ProcedureStatus::Draft,
        ProcedureStatus::Validated,
        ProcedureStatus::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProcedureStatus::Draft => "draft",
            ProcedureStatus::Validated => "validated",
            ProcedureStatus::Withdrawn => "withdrawn",
        }
    }
}

crate::domain::states::named_states!(Activity, ProcedureStatus);

/// One recorded authorisation of one person.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Authorisation {
    pub id: i64,
    /// The user's login name.
    pub user: String,
    pub activity: Activity,
    pub quantity_kind: String,
    /// Only calibrations citing this procedure code are covered; null: any procedure.
    pub procedure: Option<String>,
    /// First day it is valid.
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    /// Last day it is valid (inclusive); null: until further notice.
    #[schema(value_type = Option<String>, format = Date)]
    pub until: Option<NaiveDate>,
    pub created_at: String,
}

/// Body of `POST /api/v1/users/{name}/authorisations`, and what `caltrace user authorise` reads.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorisationInput {
    /// `calibrate` or `approve`.
    pub activity: String,
    /// A quantity kind of the units catalogue (`pressure`, `temperature`, …).
    pub quantity_kind: String,
    /// A procedure code: the authorisation then covers only that procedure.
    pub procedure: Option<String>,
    /// First valid day (YYYY-MM-DD); today when absent.
    #[schema(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last valid day, inclusive (YYYY-MM-DD); open-ended when absent.
    #[schema(value_type = Option<String>, format = Date)]
    pub until: Option<NaiveDate>,
}

/// An authorisation checked and ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuthorisation {
    pub activity: Activity,
    pub quantity_kind: QuantityKind,
    pub procedure: Option<String>,
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

/// Checks an authorisation's own fields (the period, the names); `today` is the default start.
pub fn validate_authorisation(
    input: &AuthorisationInput,
    today: NaiveDate,
) -> Result<NewAuthorisation, Vec<FieldError>> {
    let mut errors = Vec::new();
    let activity = input
        .activity
        .parse::<Activity>()
        .map_err(|message| errors.push(FieldError::new("activity", message)))
        .ok();
    let kind = QuantityKind::from_name(&input.quantity_kind);
    if kind.is_none() {
        errors.push(FieldError::new(
            "quantity_kind",
            format!(
                "unknown quantity kind '{}': use a kind of the units catalogue, as an instrument's \
                 quantity_kind (pressure, temperature, voltage, …)",
                input.quantity_kind
            ),
        ));
    }
    let procedure = input.procedure.as_deref().map(str::trim);
    if procedure.is_some_and(|code| code.is_empty() || code.len() > 100) {
        errors.push(FieldError::new(
            "procedure",
            "a procedure code is 1 to 100 characters; leave it out to cover every procedure",
        ));
    }
    let from = input.from.unwrap_or(today);
    for (field, date) in [("from", Some(from)), ("until", input.until)] {
        if let Some(message) = date.and_then(out_of_range) {
            errors.push(FieldError::new(field, message));
        }
    }
    if let Some(until) = input.until.filter(|until| *until < from) {
        errors.push(FieldError::new(
            "until",
            format!("{until} is before from ({from}): an authorisation ends on or after it starts"),
        ));
    }
    match (activity, kind) {
        (Some(activity), Some(quantity_kind)) if errors.is_empty() => Ok(NewAuthorisation {
            activity,
            quantity_kind,
            procedure: procedure.map(str::to_string),
            from,
            until: input.until,
        }),
        _ => Err(errors),
    }
}

fn overlaps(a: (NaiveDate, Option<NaiveDate>), b: (NaiveDate, Option<NaiveDate>)) -> bool {
    let ends_before = |end: Option<NaiveDate>, start: NaiveDate| end.is_some_and(|e| e < start);
    !ends_before(a.1, b.0) && !ends_before(b.1, a.0)
}

/// A new authorisation may not overlap one of the same scope (activity, quantity kind,
/// procedure): two records for one day would leave the competence record ambiguous when one
/// is ended early. Returns the error naming the period, or None.
pub fn overlapping(existing: &[Authorisation], new: &NewAuthorisation) -> Option<FieldError> {
    let clash = existing.iter().find(|old| {
        old.activity == new.activity
            && old.quantity_kind == new.quantity_kind.name()
            && old.procedure == new.procedure
            && overlaps((old.from, old.until), (new.from, new.until))
    })?;
    let until = clash
        .until
        .map_or("further notice".to_string(), |d| d.to_string());
    Some(FieldError::new(
        "from",
        format!(
            "overlaps authorisation {} ({} {} from {} until {until}): choose a period after it \
             ends, or record the other scope",
            clash.id, clash.activity, clash.quantity_kind, clash.from
        ),
    ))
}

/// What one piece of work needs from its author (6.2.5: the person performing it is
/// authorised for that activity, on that kind of quantity, on the day it is done).
#[derive(Debug, Clone, PartialEq)]
pub struct Needed<'a> {
    pub activity: Activity,
    pub quantity_kind: &'a str,
    /// The procedure code the work cites, if any.
    pub procedure: Option<&'a str>,
    pub on: NaiveDate,
}

impl Needed<'_> {
    /// Whether one authorisation covers this work: same activity and quantity kind, a procedure
    /// restriction that matches the cited code, and a period containing the date.
    pub fn covered_by(&self, authorisation: &Authorisation) -> bool {
        authorisation.activity == self.activity
            && authorisation.quantity_kind == self.quantity_kind
            && authorisation
                .procedure
                .as_deref()
                .is_none_or(|code| Some(code) == self.procedure)
            && authorisation.from <= self.on
            && authorisation.until.is_none_or(|until| self.on <= until)
    }

    /// The 403's detail: what is missing, so an admin knows what to record.
    pub fn missing(&self, user: &str) -> String {
        let procedure = self
            .procedure
            .map(|code| format!(" under procedure {code}"))
            .unwrap_or_default();
        format!(
            "{user} holds no '{}' authorisation for quantity kind {}{procedure} valid on {} \
             (ISO/IEC 17025 6.2.5): an admin records one with `caltrace user authorise {user} \
             --activity {} --quantity-kind {}` or POST /api/v1/users/{user}/authorisations",
            self.activity, self.quantity_kind, self.on, self.activity, self.quantity_kind
        )
    }
}

/// Whether any of a person's authorisations covers the work.
pub fn is_authorised(authorisations: &[Authorisation], needed: &Needed) -> bool {
    authorisations.iter().any(|a| needed.covered_by(a))
}

/// One version of a registered procedure.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Procedure {
    pub id: i64,
    pub code: String,
    pub title: String,
    pub version: String,
    pub quantity_kind: String,
    pub status: ProcedureStatus,
    /// The day this version was validated (required once validated).
    #[schema(value_type = Option<String>, format = Date)]
    pub validated_on: Option<NaiveDate>,
    pub document_url: Option<String>,
    pub created_at: String,
}

/// The procedure version a calibration cites, as kept with it and printed on its certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CitedProcedure {
    pub code: String,
    pub version: String,
    pub title: String,
}

impl CitedProcedure {
    /// As the certificate prints it: code, version and title (7.8.2.1 g).
    pub fn printed(&self) -> String {
        format!("{} (version {}): {}", self.code, self.version, self.title)
    }
}

impl From<&Procedure> for CitedProcedure {
    fn from(procedure: &Procedure) -> CitedProcedure {
        CitedProcedure {
            code: procedure.code.clone(),
            version: procedure.version.clone(),
            title: procedure.title.clone(),
        }
    }
}

/// Body of `POST /api/v1/procedures`: a version of a procedure (a new version is a new record).
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcedureInput {
    pub code: String,
    pub title: String,
    pub version: String,
    pub quantity_kind: String,
    pub status: ProcedureStatus,
    #[schema(value_type = Option<String>, format = Date)]
    pub validated_on: Option<NaiveDate>,
    pub document_url: Option<String>,
}

fn text_field(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) {
    if value.trim().is_empty() || value.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("must be 1 to {max} characters, not blank"),
        ));
    }
}

/// Checks a procedure version before it is stored. A code may not contain `@`, which
/// separates code and version when a calibration cites a version.
pub fn validate_procedure(input: &ProcedureInput) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    text_field(&mut errors, "code", &input.code, 100);
    if input.code.contains('@') || input.code.trim() != input.code {
        errors.push(FieldError::new(
            "code",
            "a code has no '@' (it separates code and version, as in JJG 52-2013@3) and no \
             leading or trailing spaces",
        ));
    }
    text_field(&mut errors, "title", &input.title, 300);
    text_field(&mut errors, "version", &input.version, 50);
    if input.version.trim() != input.version {
        errors.push(FieldError::new("version", "no leading or trailing spaces"));
    }
    if QuantityKind::from_name(&input.quantity_kind).is_none() {
        errors.push(FieldError::new(
            "quantity_kind",
            format!(
                "unknown quantity kind '{}': use a kind of the units catalogue (pressure, \
                 temperature, voltage, …)",
                input.quantity_kind
            ),
        ));
    }
    match (input.status, input.validated_on) {
        (ProcedureStatus::Validated, None) => errors.push(FieldError::new(
            "validated_on",
            "a validated procedure states the day it was validated (YYYY-MM-DD)",
        )),
        (_, Some(date)) => {
            if let Some(message) = out_of_range(date) {
                errors.push(FieldError::new("validated_on", message));
            }
        }
        _ => {}
    }
    if let Some(url) = &input.document_url {
        let web = url.starts_with("https://") || url.starts_with("http://");
        if !web || url.len() > 2000 || url.chars().any(char::is_whitespace) {
            errors.push(FieldError::new(
                "document_url",
                "an http(s) URL of the controlled document, without spaces, at most 2000 characters",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Splits a citation into code and, when it names one, version: `JJG 52-2013@3`.
pub fn split_citation(citation: &str) -> (&str, Option<&str>) {
    match citation.rsplit_once('@') {
        Some((code, version)) => (code.trim(), Some(version.trim())),
        None => (citation.trim(), None),
    }
}

/// The procedure version a calibration performed on `on` cites (7.2.1.1: the latest valid
/// version): `code@version` names one, which must be validated by then; a bare code means the
/// latest version validated on or before that day. `versions` are the register's records of
/// that code. The error says why none applies.
pub fn resolve_procedure<'p>(
    versions: &'p [Procedure],
    citation: &str,
    on: NaiveDate,
) -> Result<&'p Procedure, String> {
    let (code, version) = split_citation(citation);
    let of_code: Vec<&Procedure> = versions.iter().filter(|p| p.code == code).collect();
    if of_code.is_empty() {
        return Err(format!(
            "no procedure with code '{code}' is registered: register it (POST /api/v1/procedures) \
             or cite a registered code; an external laboratory's method goes in `method`"
        ));
    }
    let usable = |p: &&Procedure| {
        p.status == ProcedureStatus::Validated && p.validated_on.is_some_and(|d| d <= on)
    };
    if let Some(version) = version {
        let Some(named) = of_code.iter().find(|p| p.version == version) else {
            return Err(format!(
                "procedure {code} has no version '{version}' (registered: {})",
                of_code
                    .iter()
                    .map(|p| p.version.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        return match named.status {
            ProcedureStatus::Validated if usable(named) => Ok(named),
            ProcedureStatus::Validated => Err(format!(
                "procedure {code}@{version} was validated only on {}, after the work ({on})",
                named
                    .validated_on
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            )),
            status => Err(format!(
                "procedure {code}@{version} is {status}: only a validated procedure is used \
                 (ISO/IEC 17025 7.2); cite a validated version"
            )),
        };
    }
    of_code
        .iter()
        .copied()
        .filter(usable)
        .max_by_key(|p| (p.validated_on, p.id))
        .ok_or_else(|| {
            format!(
                "procedure {code} has no version validated on or before {on} (its versions are \
                 draft, withdrawn or validated later): validate it, or cite another procedure"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn procedure(id: i64, version: &str, status: ProcedureStatus, on: &str) -> Procedure {
        Procedure {
            id,
            code: "JJG 52".into(),
            title: "Gauges".into(),
            version: version.into(),
            quantity_kind: "pressure".into(),
            status,
            validated_on: Some(day(on)),
            document_url: None,
            created_at: String::new(),
        }
    }

    #[test]
    fn the_latest_version_validated_by_the_date_is_cited() {
        let register = [
            procedure(1, "1", ProcedureStatus::Validated, "2020-01-01"),
            procedure(2, "2", ProcedureStatus::Validated, "2026-01-01"),
            procedure(3, "3", ProcedureStatus::Draft, "2026-03-01"),
        ];
        let at = |d| resolve_procedure(&register, "JJG 52", day(d)).map(|p| p.version.clone());
        assert_eq!(at("2025-06-01").unwrap(), "1");
        assert_eq!(at("2026-06-01").unwrap(), "2");
        assert!(at("2019-06-01").is_err());
        let named = resolve_procedure(&register, "JJG 52@1", day("2026-06-01")).unwrap();
        assert_eq!(named.id, 1);
        let draft = resolve_procedure(&register, "JJG 52@3", day("2026-06-01")).unwrap_err();
        assert!(draft.contains("is draft"), "{draft}");
        assert!(resolve_procedure(&register, "JJG 99", day("2026-06-01")).is_err());
    }

    fn authorisation(until: Option<&str>) -> Authorisation {
        Authorisation {
            id: 1,
            user: "ann".into(),
            activity: Activity::Approve,
            quantity_kind: "pressure".into(),
            procedure: None,
            from: day("2026-01-01"),
            until: until.map(day),
            created_at: String::new(),
        }
    }

    #[test]
    fn an_authorisation_ending_the_day_before_does_not_cover() {
        let held = [authorisation(Some("2026-05-31"))];
        let needed = |on| Needed {
            activity: Activity::Approve,
            quantity_kind: "pressure",
            procedure: None,
            on: day(on),
        };
        assert!(is_authorised(&held, &needed("2026-05-31")));
        assert!(!is_authorised(&held, &needed("2026-06-01")));
        assert!(!is_authorised(&held, &needed("2025-12-31")));
    }

    #[test]
    fn overlapping_and_inverted_periods_are_refused() {
        let held = [authorisation(Some("2026-05-31"))];
        let input = |from: &str, until: Option<&str>| AuthorisationInput {
            activity: "approve".into(),
            quantity_kind: "pressure".into(),
            procedure: None,
            from: Some(day(from)),
            until: until.map(day),
        };
        let today = day("2026-06-01");
        let later = validate_authorisation(&input("2026-06-01", None), today).unwrap();
        assert!(overlapping(&held, &later).is_none());
        let clash = validate_authorisation(&input("2026-05-31", None), today).unwrap();
        assert_eq!(overlapping(&held, &clash).unwrap().field, "from");
        let inverted = validate_authorisation(&input("2026-06-02", Some("2026-06-01")), today);
        assert_eq!(inverted.unwrap_err()[0].field, "until");
    }
}
