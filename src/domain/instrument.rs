//! The instrument register's rules: what a valid instrument record is.

use serde::{Deserialize, Serialize};

use super::quantity::{check_quantity, Dimension, QuantityJson, QuantityKind};
use super::validity::{InstrumentStatus, Role};
use super::FieldError;

/// Calibration interval used when a working or reference instrument is
/// registered without one: one year, the interval most procedures start from
/// (ILAC-G24 leaves the initial choice to the laboratory).
pub const DEFAULT_INTERVAL_DAYS: i32 = 365;
const MAX_INTERVAL_DAYS: i64 = 36_500;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasuringRange {
    pub min: QuantityJson,
    pub max: QuantityJson,
}

/// Body of `POST /api/v1/instruments` and `PUT /api/v1/instruments/{id}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstrumentInput {
    pub asset_tag: String,
    pub description: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    /// `working`, `reference` or `national`.
    pub role: String,
    /// e.g. `pressure`, `temperature`, `length`, `mass`, `voltage`.
    pub quantity_kind: String,
    pub range: Option<MeasuringRange>,
    pub resolution: Option<QuantityJson>,
    pub customer: Option<String>,
    pub location: Option<String>,
    /// Calibration interval in days (ignored for national standards).
    pub interval_days: Option<i64>,
    /// National standards: the metrology institute holding it (NIM, NIST, PTB, …).
    pub institute: Option<String>,
    /// National standards: ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    pub standard_identifier: Option<String>,
}

/// A validated instrument record, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct InstrumentRecord {
    pub asset_tag: String,
    pub description: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub role: Role,
    pub quantity_kind: QuantityKind,
    pub range: Option<MeasuringRange>,
    pub resolution: Option<QuantityJson>,
    pub customer: Option<String>,
    pub location: Option<String>,
    pub interval_days: Option<i32>,
    pub institute: Option<String>,
    pub country: Option<String>,
    pub standard_identifier: Option<String>,
}

/// An instrument as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Instrument {
    pub id: i64,
    pub asset_tag: String,
    pub description: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    #[schema(value_type = String)]
    pub role: Role,
    #[schema(value_type = String)]
    pub quantity_kind: QuantityKind,
    pub range: Option<MeasuringRange>,
    pub resolution: Option<QuantityJson>,
    pub customer: Option<String>,
    pub location: Option<String>,
    pub interval_days: Option<i32>,
    pub institute: Option<String>,
    pub country: Option<String>,
    pub standard_identifier: Option<String>,
    /// `active`, `suspended` or `retired`.
    #[schema(value_type = String)]
    pub status: InstrumentStatus,
    pub created_at: String,
    pub updated_at: String,
}

fn text(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &Option<String>,
    max_chars: usize,
) -> Option<String> {
    let value = value.as_ref()?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        errors.push(FieldError::new(
            field,
            "must not be blank; omit the field instead",
        ));
        None
    } else if trimmed.chars().count() > max_chars {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
        None
    } else if trimmed.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            "must not contain control characters",
        ));
        None
    } else {
        Some(trimmed.to_string())
    }
}

/// Checks an instrument's fields and returns the record to store. Every check runs, so that
/// all the errors of a submission come back at once.
pub fn validate_instrument(input: &InstrumentInput) -> Result<InstrumentRecord, Vec<FieldError>> {
    let mut errors = Vec::new();

    let asset_tag = if input.asset_tag.trim().is_empty() {
        errors.push(FieldError::new("asset_tag", "must not be empty"));
        String::new()
    } else {
        text(&mut errors, "asset_tag", &Some(input.asset_tag.clone()), 64).unwrap_or_default()
    };
    let description = text(&mut errors, "description", &input.description, 1000);
    let manufacturer = text(&mut errors, "manufacturer", &input.manufacturer, 200);
    let model = text(&mut errors, "model", &input.model, 200);
    let serial_number = text(&mut errors, "serial_number", &input.serial_number, 200);
    let customer = text(&mut errors, "customer", &input.customer, 200);
    let location = text(&mut errors, "location", &input.location, 200);
    let institute = text(&mut errors, "institute", &input.institute, 100);
    let standard_identifier = text(
        &mut errors,
        "standard_identifier",
        &input.standard_identifier,
        200,
    );
    let country = country(&mut errors, input);

    let role = role(&mut errors, input);
    let quantity_kind = quantity_kind(&mut errors, input);
    check_range_and_resolution(
        &mut errors,
        input,
        quantity_kind.map(|kind| kind.dimension()),
    );

    let interval_days = if role != Some(Role::National) {
        interval_days(&mut errors, input)
    } else {
        check_national_root(&mut errors, &institute, &country);
        None
    };

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(InstrumentRecord {
        asset_tag,
        description,
        manufacturer,
        model,
        serial_number,
        role: role.expect("checked above"),
        quantity_kind: quantity_kind.expect("checked above"),
        range: input.range.clone(),
        resolution: input.resolution.clone(),
        customer,
        location,
        interval_days,
        institute,
        country,
        standard_identifier,
    })
}

/// The country as an upper-case ISO 3166-1 alpha-2 code ("de" is stored as "DE").
fn country(errors: &mut Vec<FieldError>, input: &InstrumentInput) -> Option<String> {
    let mut country = text(errors, "country", &input.country, 2);
    if let Some(code) = &country {
        if code.len() != 2 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
            errors.push(FieldError::new(
                "country",
                "must be an ISO 3166-1 alpha-2 code such as CN, US or DE",
            ));
        }
        country = Some(code.to_ascii_uppercase());
    }
    country
}

fn role(errors: &mut Vec<FieldError>, input: &InstrumentInput) -> Option<Role> {
    let role: Option<Role> = input.role.parse().ok();
    if role.is_none() {
        errors.push(FieldError::new(
            "role",
            format!(
                "unknown role '{}': must be working, reference or national",
                input.role
            ),
        ));
    }
    role
}

/// The quantity kind; an unknown one is answered with the list of known kinds, so that the
/// caller can correct it without looking them up.
fn quantity_kind(errors: &mut Vec<FieldError>, input: &InstrumentInput) -> Option<QuantityKind> {
    let quantity_kind = QuantityKind::from_name(&input.quantity_kind);
    if quantity_kind.is_none() {
        let known: Vec<&str> = QuantityKind::all().iter().map(|kind| kind.name()).collect();
        errors.push(FieldError::new(
            "quantity_kind",
            format!(
                "unknown quantity kind '{}': must be one of {}",
                input.quantity_kind,
                known.join(", ")
            ),
        ));
    }
    quantity_kind
}

/// The range and the resolution, in the quantity kind's dimension when it is known (when it
/// is not, they are still checked as quantities, so that their own errors show too).
fn check_range_and_resolution(
    errors: &mut Vec<FieldError>,
    input: &InstrumentInput,
    dimension: Option<Dimension>,
) {
    if let Some(range) = &input.range {
        let min = check_quantity(&range.min, "range.min", dimension);
        let max = check_quantity(&range.max, "range.max", dimension);
        match (min, max) {
            (Ok(min), Ok(max)) => {
                // Compared as points: a range of −40 °C to 0 °F is −40 °C to −17.8 °C.
                if min.point_si() > max.point_si() {
                    errors.push(FieldError::new(
                        "range",
                        "range.min must not exceed range.max",
                    ));
                }
            }
            (min, max) => errors.extend(min.err().into_iter().chain(max.err())),
        }
    }
    if let Some(resolution) = &input.resolution {
        match check_quantity(resolution, "resolution", dimension) {
            Ok(quantity) if quantity.value <= 0.0 => {
                errors.push(FieldError::new(
                    "resolution.value",
                    "must be greater than zero",
                ));
            }
            Ok(_) => {}
            Err(error) => errors.push(error),
        }
    }
}

/// A working or reference instrument's calibration interval, [`DEFAULT_INTERVAL_DAYS`] when
/// not given.
fn interval_days(errors: &mut Vec<FieldError>, input: &InstrumentInput) -> Option<i32> {
    match input.interval_days {
        None => Some(DEFAULT_INTERVAL_DAYS),
        Some(days) if !(1..=MAX_INTERVAL_DAYS).contains(&days) => {
            errors.push(FieldError::new(
                "interval_days",
                format!("must be a whole number of days from 1 to {MAX_INTERVAL_DAYS}"),
            ));
            None
        }
        Some(days) => Some(days as i32),
    }
}

/// A national standard is a traceability root: it has no calibration interval of ours, but
/// it must say which institute realises it, and where. A field already in error is not
/// reported twice.
fn check_national_root(
    errors: &mut Vec<FieldError>,
    institute: &Option<String>,
    country: &Option<String>,
) {
    if institute.is_none() && !errors.iter().any(|e| e.field == "institute") {
        errors.push(FieldError::new(
            "institute",
            "is required for a national standard (e.g. NIM, NIST, PTB)",
        ));
    }
    if country.is_none() && !errors.iter().any(|e| e.field == "country") {
        errors.push(FieldError::new(
            "country",
            "is required for a national standard (ISO 3166-1 alpha-2)",
        ));
    }
}

/// Which status changes an instrument may go through. Retirement is final: a
/// retired instrument is out of the register's active life for good, so bringing
/// it back is a new registration, not a reactivation.
pub fn status_transition(
    current: InstrumentStatus,
    wanted: InstrumentStatus,
) -> Result<(), String> {
    use InstrumentStatus::*;
    match (current, wanted) {
        (Retired, _) => Err("the instrument is retired; retirement is final".to_string()),
        (a, b) if a == b => Err(format!("the instrument is already {}", a.as_str())),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> InstrumentInput {
        InstrumentInput {
            asset_tag: "PG-0042".into(),
            description: Some("Pressure gauge 0–1 MPa".into()),
            manufacturer: Some("WIKA".into()),
            model: Some("CPG1500".into()),
            serial_number: Some("A1234".into()),
            role: "working".into(),
            quantity_kind: "pressure".into(),
            range: Some(MeasuringRange {
                min: QuantityJson {
                    value: 0.0,
                    unit: "MPa".into(),
                },
                max: QuantityJson {
                    value: 1.0,
                    unit: "MPa".into(),
                },
            }),
            resolution: Some(QuantityJson {
                value: 0.0001,
                unit: "MPa".into(),
            }),
            customer: Some("ACME Valves".into()),
            location: None,
            interval_days: Some(365),
            institute: None,
            country: None,
            standard_identifier: None,
        }
    }

    fn fields(result: Result<InstrumentRecord, Vec<FieldError>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_complete_working_instrument_is_accepted() {
        let record = validate_instrument(&input()).unwrap();
        assert_eq!(record.role, Role::Working);
        assert_eq!(record.quantity_kind, QuantityKind::Pressure);
        assert_eq!(record.interval_days, Some(365));
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut bad = input();
        bad.asset_tag = "  ".into();
        bad.role = "master".into();
        bad.interval_days = Some(-5);
        assert_eq!(
            fields(validate_instrument(&bad)),
            vec!["asset_tag", "role", "interval_days"]
        );
    }

    #[test]
    fn range_must_be_ordered_and_of_the_right_dimension() {
        let mut bad = input();
        bad.range = Some(MeasuringRange {
            min: QuantityJson {
                value: 2.0,
                unit: "MPa".into(),
            },
            max: QuantityJson {
                value: 1.0,
                unit: "bar".into(),
            },
        });
        assert_eq!(fields(validate_instrument(&bad)), vec!["range"]);
        bad.range = Some(MeasuringRange {
            min: QuantityJson {
                value: 0.0,
                unit: "MPa".into(),
            },
            max: QuantityJson {
                value: 1.0,
                unit: "mm".into(),
            },
        });
        assert_eq!(fields(validate_instrument(&bad)), vec!["range.max.unit"]);
    }

    #[test]
    fn temperature_ranges_compare_as_points() {
        let mut thermometer = input();
        thermometer.quantity_kind = "temperature".into();
        thermometer.resolution = Some(QuantityJson {
            value: 0.01,
            unit: "degC".into(),
        });
        thermometer.range = Some(MeasuringRange {
            min: QuantityJson {
                value: -40.0,
                unit: "°C".into(),
            },
            max: QuantityJson {
                value: 0.0,
                unit: "°F".into(),
            },
        });
        assert!(validate_instrument(&thermometer).is_ok());
        thermometer.range = Some(MeasuringRange {
            min: QuantityJson {
                value: 0.0,
                unit: "°C".into(),
            },
            max: QuantityJson {
                value: 0.0,
                unit: "°F".into(),
            },
        });
        assert_eq!(fields(validate_instrument(&thermometer)), vec!["range"]);
    }

    #[test]
    fn national_standards_need_an_institute_and_ignore_the_interval() {
        let mut national = input();
        national.role = "national".into();
        assert_eq!(
            fields(validate_instrument(&national)),
            vec!["institute", "country"]
        );
        national.institute = Some("NIM".into());
        national.country = Some("cn".into());
        let record = validate_instrument(&national).unwrap();
        assert_eq!(record.interval_days, None);
        assert_eq!(record.country.as_deref(), Some("CN"));
    }

    #[test]
    fn retirement_is_final() {
        use InstrumentStatus::*;
        assert!(status_transition(Active, Suspended).is_ok());
        assert!(status_transition(Suspended, Active).is_ok());
        assert!(status_transition(Suspended, Retired).is_ok());
        assert!(status_transition(Retired, Active).is_err());
        assert!(status_transition(Active, Active).is_err());
    }
}
