//! `caltrace demo`: a realistic demo laboratory seeded through the same
//! repository functions the API uses, so a newcomer sees every feature working.

use chrono::NaiveDate;
use serde_json::{json, Value};

use crate::auth::UserRole;
use crate::db::audit::Actor;
use crate::db::{self, DbConnection};
use crate::domain::calibration::CalibrationInput;
use crate::domain::instrument::{validate_instrument, InstrumentInput};
use crate::domain::people::Profile;
use crate::domain::validity::InstrumentStatus;
use crate::error::ApiError;
use crate::workflow;

pub struct DemoSummary {
    pub tokens: Vec<(String, String)>,
    pub instruments: usize,
    pub certificates: Vec<String>,
    /// The subject of the demo signing certificate `keys init` made, None when the database
    /// already had a signing identity (kept, and used).
    pub signing: Option<String>,
}

struct Lab<'a> {
    conn: &'a mut DbConnection,
    technician: Actor,
    approver: Actor,
    admin: Actor,
    today: NaiveDate,
    context: crate::workflow::certificates::IssueContext,
    instruments: usize,
    certificates: Vec<String>,
}

fn bad(error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("demo data is inconsistent: {error}"))
}

impl Lab<'_> {
    fn days_ago(&self, days: u64) -> String {
        (self.today - chrono::Days::new(days)).to_string()
    }

    fn instrument(&mut self, body: Value) -> Result<i64, ApiError> {
        let input: InstrumentInput = serde_json::from_value(body).map_err(bad)?;
        let record = validate_instrument(&input).map_err(|e| bad(format!("{e:?}")))?;
        self.instruments += 1;
        Ok(crate::workflow::instruments::register(self.conn, &self.admin, &record)?.id)
    }

    fn draft(&mut self, body: Value) -> Result<i64, ApiError> {
        let input: CalibrationInput = serde_json::from_value(body).map_err(bad)?;
        Ok(workflow::calibrations::create(
            self.conn,
            &self.technician,
            &input,
            workflow::competence::Competence::Required,
        )?
        .id)
    }

    /// Records, submits and approves a calibration; returns (id, our number).
    /// An external calibration approved, with the issuer's certificate file kept beside it
    /// (DESIGN 9c) — in the demo a one-page stand-in saying whose certificate it replaces.
    fn approved_external(&mut self, body: Value) -> Result<(i64, Option<String>), ApiError> {
        let issuer = &body["issuer"];
        let words = format!(
            "Demo stand-in for certificate {} of {}",
            issuer["certificate_number"].as_str().unwrap_or("?"),
            issuer["name"].as_str().unwrap_or("?"),
        );
        let approved = self.approved(body)?;
        workflow::calibrations::attach_issuer_certificate(
            self.conn,
            &self.technician,
            approved.0,
            crate::domain::issuer_file::IssuerFileFormat::Pdf,
            &stand_in_pdf(&words),
        )?;
        Ok(approved)
    }

    fn approved(&mut self, body: Value) -> Result<(i64, Option<String>), ApiError> {
        let id = self.draft(body)?;
        workflow::calibrations::submit(self.conn, &self.technician, id)?;
        let approved = workflow::calibrations::approve(
            self.conn,
            &self.approver,
            id,
            (self.today, crate::domain::signature::DEFAULT_MEANING),
            &self.context,
        )?;
        if let Some(number) = &approved.certificate_number {
            self.certificates.push(number.clone());
        }
        Ok((id, approved.certificate_number))
    }
}

/// A minimal one-page PDF (PDF 1.4, Helvetica) carrying one line of ASCII text; the byte
/// offsets of its cross-reference table are computed, so readers open it without repair.
fn stand_in_pdf(text: &str) -> Vec<u8> {
    let escaped: String = text
        .chars()
        .filter(char::is_ascii)
        .map(|c| match c {
            '(' | ')' | '\\' => format!("\\{c}"),
            c => c.to_string(),
        })
        .collect();
    let content = format!("BT /F1 9 Tf 40 780 Td ({escaped}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

fn q(value: f64, unit: &str) -> Value {
    json!({"value": value, "unit": unit})
}

fn stated(stage: &str, reference: Value, indicated: Value, tolerance: Value, u: Value) -> Value {
    json!({"stage": stage, "reference": reference, "indicated": indicated, "tolerance": tolerance,
           "stated_uncertainty": {"expanded_uncertainty": u, "coverage_factor": 2, "coverage_probability": 0.9545}})
}

/// The expanded U (k = 2, MPa) the pressure standards' certificates state in the gauges'
/// range: written once, for the certificates and for the budgets that use them.
const REF_P_01_U: f64 = 0.000025;
const REF_P_02_U_AT_1_MPA: f64 = 0.00015;
const REF_P_04_U: f64 = 0.00003;

/// A pressure standard as a gauge point's budget names it: its id and its expanded U (k = 2)
/// nearest the gauges' range.
#[derive(Clone, Copy)]
struct PressureStandard {
    id: i64,
    expanded_mpa: f64,
}

/// The budget of a gauge point measured against `standard` (JJG 52 practice): the standard's
/// certificate, the gauge's 0.1 kPa digit, its hysteresis and the temperature effect. A
/// point with repeat readings gets their repeatability (Type A) added by the evaluation.
/// The standard's U is an input, so the point's U is never below it (DESIGN 9c).
fn gauge_budget(standard: PressureStandard) -> Value {
    json!({"components": [
        {"name": "reference standard (its certificate)", "type": "B", "distribution": "normal",
         "expanded_uncertainty": standard.expanded_mpa, "coverage_factor": 2, "unit": "MPa", "standard": standard.id},
        {"name": "resolution of the gauge (0.1 kPa digit)", "type": "B", "distribution": "rectangular", "half_width": 0.05, "unit": "kPa"},
        {"name": "hysteresis", "type": "B", "distribution": "rectangular", "half_width": 0.1, "unit": "kPa"},
        {"name": "temperature effect (20 ± 2 °C)", "type": "B", "distribution": "rectangular", "half_width": 0.05, "unit": "kPa"}
    ]})
}

/// A pressure gauge calibration at three points against `standard`, with the errors given in
/// kPa at 0.2, 0.5 and 0.8 MPa; each point's U is evaluated from its budget, and the
/// mid-range point is read three times (its repeatability enters the budget).
fn gauge_points(errors_kpa: [f64; 3], stage: &str, standard: PressureStandard) -> Vec<Value> {
    [0.2, 0.5, 0.8]
        .iter()
        .zip(errors_kpa)
        .map(|(reference, error)| {
            let indicated = reference + error / 1000.0;
            let mut point = json!({"stage": stage, "reference": q(*reference, "MPa"),
                "indicated": q(indicated, "MPa"), "tolerance": q(0.0016, "MPa"),
                "budget": gauge_budget(standard)});
            if *reference == 0.5 {
                point["readings"] = json!([indicated - 0.00002, indicated, indicated + 0.00002]);
            }
            point
        })
        .collect()
}

fn internal(
    instrument: i64,
    standards: &[i64],
    performed_on: &str,
    rule: &str,
    points: Vec<Value>,
) -> Value {
    json!({"instrument_id": instrument, "kind": "internal", "performed_on": performed_on, "received_on": performed_on,
           "procedure": "JJG 52-2013", "location": "caltrace demo laboratory, pressure room",
           "environment": {"temperature": q(20.3, "°C"), "relative_humidity": q(48.0, "%RH")},
           "standards_used": standards, "decision_rule": rule, "points": points})
}

fn external(
    instrument: i64,
    standards: &[i64],
    performed_on: &str,
    issuer: Value,
    points: Vec<Value>,
) -> Value {
    json!({"instrument_id": instrument, "kind": "external", "performed_on": performed_on, "issuer": issuer,
           "standards_used": standards, "decision_rule": "simple", "points": points})
}

/// The national standards at the top of every chain.
struct Nationals {
    nim: i64,
    nist: i64,
    ptb: i64,
}

/// The laboratory's reference standards.
struct References {
    pressure: i64,
    thermometer: i64,
    voltage: i64,
    accredited: i64,
}

/// The customers' working instruments that get a calibration, each chosen to show one state
/// (valid, expired, failed, withdrawn, replaced, due, pending, suspended).
struct Customers {
    valid_gauge: i64,
    expired_gauge: i64,
    failed_gauge: i64,
    withdrawn_gauge: i64,
    replaced_gauge: i64,
    due_gauge: i64,
    pending_gauge: i64,
    thermometer: i64,
    multimeter: i64,
    suspended_meter: i64,
}

/// Seeds the demo laboratory. The steps run in a fixed order, each using the
/// instruments of the steps before it: a standard must exist (and be calibrated)
/// before anything is calibrated against it.
pub fn seed(
    conn: &mut DbConnection,
    context: &crate::workflow::certificates::IssueContext,
    today: NaiveDate,
) -> Result<DemoSummary, ApiError> {
    if db::instruments::get_by_tag(conn, "NIM-P-001", &crate::domain::people::Scope::Everything)
        .is_ok()
    {
        return Err(ApiError::Conflict(
            "the demo laboratory is already in this database".to_string(),
        ));
    }
    let DemoUsers {
        mut tokens,
        admin,
        technician,
        approver,
    } = demo_users(conn)?;
    // `caltrace keys init`, so that the demo's certificates are signed.
    let signing = match db::signing::public(conn)? {
        Some(_) => None,
        None => {
            let pki =
                workflow::signing::init_demo(conn, &admin, context, false, chrono::Utc::now())
                    .map_err(|e| ApiError::Internal(format!("demo signing identity: {e}")))?;
            Some(pki.identity.summary().subject)
        }
    };
    let mut lab = Lab {
        conn,
        technician,
        approver,
        admin,
        today,
        context: context.clone(),
        instruments: 0,
        certificates: vec![],
    };
    add_cmcs(&mut lab)?;
    add_competence(&mut lab)?;
    let nationals = national_standards(&mut lab)?;
    let references = reference_standards(&mut lab, &nationals)?;
    let transfer = broken_chain(&mut lab, nationals.nim)?;
    let customers = customer_instruments(&mut lab)?;
    calibrate_gauges(&mut lab, &customers, &references)?;
    calibrate_thermometer_and_meters(&mut lab, &customers, &references)?;
    calibrate_on_the_broken_chain(&mut lab, transfer)?;
    tokens.push(demo_customer(lab.conn)?);
    Ok(DemoSummary {
        tokens,
        instruments: lab.instruments,
        certificates: lab.certificates,
        signing,
    })
}

/// The procedures the demo cites (DESIGN 9b), and the technician's and approver's
/// authorisations for the quantities the demo calibrates, from long before its first record.
fn add_competence(lab: &mut Lab) -> Result<(), ApiError> {
    let procedures = [
        (
            "JJG 52-2013",
            "Elastic element pressure gauges",
            "pressure",
            "2013-11-01",
        ),
        (
            "JJF 1171-2007",
            "Temperature indicators",
            "temperature",
            "2007-08-21",
        ),
        ("JJG 315-1983", "DC voltmeters", "voltage", "1983-06-01"),
    ];
    for (code, title, kind, validated_on) in procedures {
        let input = serde_json::from_value(json!({"code": code, "title": title, "version": "1",
            "quantity_kind": kind, "status": "validated", "validated_on": validated_on}))
        .map_err(bad)?;
        // A register kept before the demo was seeded keeps its own versions of these codes.
        if db::competence::procedures_with_codes(lab.conn, &[code.to_string()])?.is_empty() {
            workflow::competence::register_procedure(lab.conn, &lab.admin, &input)?;
        }
        let people = [
            (lab.technician.name.clone(), "calibrate"),
            (lab.approver.name.clone(), "approve"),
        ];
        for (name, activity) in people {
            let input = serde_json::from_value(json!({"activity": activity,
                "quantity_kind": kind, "from": "2000-01-01"}))
            .map_err(bad)?;
            workflow::competence::authorise(lab.conn, &lab.admin, &name, &input, lab.today)?;
        }
    }
    Ok(())
}

/// The demo's users: a token per role (printed for the newcomer), and the three
/// who do the demo's work.
struct DemoUsers {
    tokens: Vec<(String, String)>,
    admin: Actor,
    technician: Actor,
    approver: Actor,
}

/// Who the demo's people are, as their signatures print them.
fn demo_profile(role: UserRole) -> Profile {
    let (full_name, title) = match role {
        UserRole::Approver => ("Dr. Li Wei", "Head of the pressure laboratory"),
        UserRole::Technician => ("Zhang Min", "Calibration technician"),
        UserRole::Admin => ("Chen Jie", "Quality manager"),
        UserRole::Inspector => ("Wang Fang", "Inspector"),
        UserRole::Auditor => ("Liu Yang", "Assessor"),
        UserRole::Customer => ("Zhao Lei", "Quality engineer, customer"),
    };
    Profile {
        full_name: Some(full_name.to_string()),
        title: Some(title.to_string()),
    }
}

/// One user and one API token per role.
fn demo_users(conn: &mut DbConnection) -> Result<DemoUsers, ApiError> {
    let cli = Actor::command_line();
    let mut tokens = Vec::new();
    let mut actors = Vec::new();
    // The lab's people; a customer user needs its customer registered first.
    for role in UserRole::ALL
        .into_iter()
        .filter(|r| *r != UserRole::Customer)
    {
        let name = format!("demo-{}", role.name());
        let user =
            workflow::users::create_user(conn, &cli, &name, &[role], &demo_profile(role), &[])?;
        let (_, token) = db::users::create_token(conn, &cli, &name)?;
        tokens.push((role.name().to_string(), token));
        actors.push(user.actor());
    }
    let [admin, technician, approver, _, _] =
        <[Actor; 5]>::try_from(actors).map_err(|_| bad("roles"))?;
    Ok(DemoUsers {
        tokens,
        admin,
        technician,
        approver,
    })
}

/// A customer user of ACME Valves (DESIGN 9b), whose portal shows that customer's gauges only.
fn demo_customer(conn: &mut DbConnection) -> Result<(String, String), ApiError> {
    let cli = Actor::command_line();
    let code = db::customers::list(conn, &crate::domain::people::Scope::Everything)?
        .into_iter()
        .find(|customer| customer.name == "ACME Valves")
        .map(|customer| customer.code)
        .ok_or_else(|| bad("no customer ACME Valves"))?;
    let role = UserRole::Customer;
    let name = format!("demo-{}", role.name());
    workflow::users::create_user(conn, &cli, &name, &[role], &demo_profile(role), &[code])?;
    let (_, token) = db::users::create_token(conn, &cli, &name)?;
    Ok((role.name().to_string(), token))
}

/// The laboratory's CMCs, one per quantity the demo calibrates, so that the
/// ILAC P14 floor applies to its internal calibrations.
fn add_cmcs(lab: &mut Lab) -> Result<(), ApiError> {
    for cmc in [
        json!({"quantity_kind": "pressure", "range": {"min": q(0.0, "MPa"), "max": q(2.0, "MPa")}, "a": q(0.00005, "MPa"), "b": 0.0001}),
        json!({"quantity_kind": "temperature", "range": {"min": q(-50.0, "°C"), "max": q(300.0, "°C")}, "a": q(0.02, "K"), "b": 0.0}),
        json!({"quantity_kind": "voltage", "range": {"min": q(0.0, "V"), "max": q(1000.0, "V")}, "a": q(5.0, "µV"), "b": 0.000005}),
    ] {
        db::calibrations::insert_cmc(
            lab.conn,
            &lab.admin,
            &serde_json::from_value(cmc).map_err(bad)?,
        )?;
    }
    Ok(())
}

fn national_standards(lab: &mut Lab) -> Result<Nationals, ApiError> {
    // National standards: the roots of traceability.
    let nim = lab.instrument(json!({"asset_tag": "NIM-P-001", "description": "National primary pressure standard (piston gauge)",
        "role": "national", "quantity_kind": "pressure", "institute": "NIM", "country": "CN",
        "standard_identifier": "NIM national pressure standard 0.1–10 MPa",
        "range": {"min": q(0.1, "MPa"), "max": q(10.0, "MPa")}}))?;
    let nist = lab.instrument(
        json!({"asset_tag": "NIST-T-001", "description": "ITS-90 fixed-point cells (Ga, Sn, Zn)",
        "role": "national", "quantity_kind": "temperature", "institute": "NIST", "country": "US",
        "standard_identifier": "NIST ITS-90 realisation"}),
    )?;
    let ptb = lab.instrument(
        json!({"asset_tag": "PTB-V-001", "description": "Josephson voltage standard",
        "role": "national", "quantity_kind": "voltage", "institute": "PTB", "country": "DE",
        "standard_identifier": "PTB programmable Josephson voltage standard"}),
    )?;
    Ok(Nationals { nim, nist, ptb })
}

fn reference_standards(lab: &mut Lab, nationals: &Nationals) -> Result<References, ApiError> {
    let Nationals { nim, nist, ptb } = *nationals;
    // The laboratory's reference standards, with external certificates.
    let ref_pressure = lab.instrument(json!({"asset_tag": "REF-P-01", "description": "Pressure controller 0–2 MPa",
        "manufacturer": "Fluke", "model": "2271A", "serial_number": "4471001", "role": "reference", "quantity_kind": "pressure",
        "range": {"min": q(0.0, "MPa"), "max": q(2.0, "MPa")}, "resolution": q(0.000001, "MPa"), "location": "pressure room",
        "interval_days": 365}))?;
    let ref_thermometer = lab.instrument(json!({"asset_tag": "REF-T-01", "description": "Standard platinum resistance thermometer",
        "manufacturer": "Fluke", "model": "5615", "serial_number": "T-88231", "role": "reference", "quantity_kind": "temperature",
        "range": {"min": q(-50.0, "°C"), "max": q(300.0, "°C")}, "resolution": q(0.001, "°C"), "interval_days": 365}))?;
    let ref_voltage = lab.instrument(json!({"asset_tag": "REF-V-01", "description": "Reference multimeter 8.5 digits",
        "manufacturer": "Fluke", "model": "8508A", "serial_number": "V-10293", "role": "reference", "quantity_kind": "voltage",
        "range": {"min": q(0.0, "V"), "max": q(1000.0, "V")}, "interval_days": 365}))?;
    let ref_accredited = lab.instrument(json!({"asset_tag": "REF-P-02", "description": "Pressure calibrator 0–7 MPa",
        "manufacturer": "Additel", "model": "780", "serial_number": "AD-5521", "role": "reference", "quantity_kind": "pressure",
        "range": {"min": q(0.0, "MPa"), "max": q(7.0, "MPa")}, "interval_days": 365}))?;
    // Each reference standard has this year's certificate and last year's, so
    // older customer calibrations rest on a certificate valid at the time.
    for (days, year_tag) in [(485u64, "25"), (120, "26")] {
        let date = lab.days_ago(days);
        lab.approved_external(external(ref_pressure, &[nim], &date,
            json!({"name": "National Institute of Metrology, China (NIM)", "certificate_number": format!("NIM-20{year_tag}-L-0012")}),
            vec![stated("as_left", q(1.0, "MPa"), q(1.000012, "MPa"), q(0.0002, "MPa"), q(REF_P_01_U, "MPa"))]))?;
        let date = lab.days_ago(days + 80);
        lab.approved_external(external(
            ref_thermometer,
            &[nist],
            &date,
            json!({"name": "NIST", "certificate_number": format!("NIST-685/2912{year_tag}-1")}),
            vec![stated(
                "as_left",
                q(231.928, "°C"),
                q(231.9291, "°C"),
                q(0.01, "K"),
                q(0.002, "K"),
            )],
        ))?;
        let date = lab.days_ago(days - 30);
        lab.approved_external(external(
            ref_voltage,
            &[ptb],
            &date,
            json!({"name": "PTB", "certificate_number": format!("PTB-2.11-40{year_tag}")}),
            vec![stated(
                "as_left",
                q(10.0, "V"),
                q(10.000003, "V"),
                q(0.00002, "V"),
                q(0.0000015, "V"),
            )],
        ))?;
        // An accredited laboratory is a traceability root of its own (ILAC P10).
        let date = lab.days_ago(days - 60);
        lab.approved_external(external(ref_accredited, &[], &date,
            json!({"name": "Shanghai Pressure Calibration Centre", "certificate_number": format!("SPCC-{year_tag}-0815"),
                   "accreditation": {"body": "CNAS", "number": "L1234"}}),
            // Its U at 1 MPa is below the 0.0002 MPa the gauges it calibrates state: a result
            // is never more certain than its standard (DESIGN 9c).
            vec![stated("as_left", q(1.0, "MPa"), q(1.00003, "MPa"), q(0.0035, "MPa"), q(REF_P_02_U_AT_1_MPA, "MPa")),
                 stated("as_left", q(5.0, "MPa"), q(5.0002, "MPa"), q(0.0035, "MPa"), q(0.0005, "MPa"))]))?;
    }
    Ok(References {
        pressure: ref_pressure,
        thermometer: ref_thermometer,
        voltage: ref_voltage,
        accredited: ref_accredited,
    })
}

/// Returns the transfer standard, whose chain is broken, with its U.
fn broken_chain(lab: &mut Lab, nim: i64) -> Result<PressureStandard, ApiError> {
    // A broken chain: an old dead-weight tester whose certificate had expired
    // when it was used to calibrate a transfer standard, which then calibrated
    // a customer's gauge. Both rest on the broken link (not_traceable).
    let old_tester = lab.instrument(json!({"asset_tag": "REF-P-04", "description": "Dead-weight tester (out of use)",
        "manufacturer": "Budenberg", "model": "580", "serial_number": "DW-1977", "role": "reference", "quantity_kind": "pressure",
        "interval_days": 365}))?;
    let transfer = lab.instrument(json!({"asset_tag": "REF-P-03", "description": "Transfer pressure standard 0–1 MPa",
        "manufacturer": "Fluke", "model": "PM200", "serial_number": "TP-3303", "role": "reference", "quantity_kind": "pressure",
        "interval_days": 365}))?;
    let date = lab.days_ago(600);
    lab.approved_external(external(old_tester, &[nim], &date,
        json!({"name": "National Institute of Metrology, China (NIM)", "certificate_number": "NIM-2024-L-0777"}),
        vec![stated("as_left", q(1.0, "MPa"), q(1.00001, "MPa"), q(0.0002, "MPa"), q(REF_P_04_U, "MPa"))]))?;
    let date = lab.days_ago(100);
    let mut on_the_old_tester = internal(
        transfer,
        &[old_tester],
        &date,
        "simple",
        gauge_points(
            [0.1, 0.2, 0.1],
            "as_found",
            PressureStandard {
                id: old_tester,
                expanded_mpa: REF_P_04_U,
            },
        ),
    );
    // Approval of a broken chain needs the deviation stated (DESIGN section 6).
    on_the_old_tester["deviations"] = json!(
        "REF-P-04's certificate NIM-2024-L-0777 had expired when it was used; \
         the transfer standard is to be recalibrated against REF-P-01."
    );
    let (calibration, _) = lab.approved(on_the_old_tester)?;
    // What the gauges calibrated on it carry in their budgets: its own U, as evaluated.
    Ok(PressureStandard {
        id: transfer,
        expanded_mpa: largest_expanded_mpa(lab, calibration)?,
    })
}

fn customer_instruments(lab: &mut Lab) -> Result<Customers, ApiError> {
    // Customers' working instruments.
    let gauge = |tag: &str, serial: &str, customer: &str| {
        json!({"asset_tag": tag, "description": "Pressure gauge 0–1 MPa, class 0.16", "manufacturer": "WIKA", "model": "CPG1500",
               "serial_number": serial, "role": "working", "quantity_kind": "pressure",
               "range": {"min": q(0.0, "MPa"), "max": q(1.0, "MPa")}, "resolution": q(0.0001, "MPa"),
               "customer": customer, "location": "Line 3", "interval_days": 365})
    };
    let valid_gauge = lab.instrument(gauge("PG-0001", "A1001", "ACME Valves"))?;
    let expired_gauge = lab.instrument(gauge("PG-0002", "A1002", "ACME Valves"))?;
    let failed_gauge = lab.instrument(gauge("PG-0003", "A1003", "ACME Valves"))?;
    let withdrawn_gauge = lab.instrument(gauge("PG-0004", "A1004", "ACME Valves"))?;
    let replaced_gauge = lab.instrument(gauge("PG-0005", "A1005", "Beta Pumps"))?;
    let due_gauge = lab.instrument(gauge("PG-0006", "A1006", "Beta Pumps"))?;
    let pending_gauge = lab.instrument(gauge("PG-0007", "A1007", "Beta Pumps"))?;
    let thermometer = lab.instrument(json!({"asset_tag": "TH-0001", "description": "Digital thermometer −50…300 °C",
        "manufacturer": "Testo", "model": "720", "serial_number": "T720-31", "role": "working", "quantity_kind": "temperature",
        "range": {"min": q(-50.0, "°C"), "max": q(300.0, "°C")}, "resolution": q(0.1, "°C"), "customer": "Gamma Foods",
        "location": "Cold store 2", "interval_days": 180}))?;
    lab.instrument(json!({"asset_tag": "TH-0002", "description": "Digital thermometer −50…300 °C (new, not yet calibrated)",
        "manufacturer": "Testo", "model": "720", "serial_number": "T720-32", "role": "working", "quantity_kind": "temperature",
        "customer": "Gamma Foods", "interval_days": 180}))?;
    let multimeter = lab.instrument(json!({"asset_tag": "DMM-0001", "description": "Handheld multimeter",
        "manufacturer": "Fluke", "model": "87V", "serial_number": "F87-5501", "role": "working", "quantity_kind": "voltage",
        "customer": "Gamma Foods", "interval_days": 365}))?;
    let suspended_meter = lab.instrument(json!({"asset_tag": "DMM-0002", "description": "Handheld multimeter (dropped)",
        "manufacturer": "Fluke", "model": "87V", "serial_number": "F87-5502", "role": "working", "quantity_kind": "voltage",
        "customer": "Gamma Foods", "interval_days": 365}))?;
    Ok(Customers {
        valid_gauge,
        expired_gauge,
        failed_gauge,
        withdrawn_gauge,
        replaced_gauge,
        due_gauge,
        pending_gauge,
        thermometer,
        multimeter,
        suspended_meter,
    })
}

/// The pressure gauges' calibrations, one story each: valid, expired, failed
/// under a guard band, withdrawn, amended, found out of tolerance and adjusted,
/// and one still waiting for approval.
fn calibrate_gauges(
    lab: &mut Lab,
    customers: &Customers,
    references: &References,
) -> Result<(), ApiError> {
    let ref_pressure = references.pressure;
    let ref_accredited = references.accredited;
    let p01 = PressureStandard {
        id: ref_pressure,
        expanded_mpa: REF_P_01_U,
    };
    let p02 = PressureStandard {
        id: ref_accredited,
        expanded_mpa: REF_P_02_U_AT_1_MPA,
    };
    let Customers {
        valid_gauge,
        expired_gauge,
        failed_gauge,
        withdrawn_gauge,
        replaced_gauge,
        due_gauge,
        pending_gauge,
        ..
    } = *customers;
    let d = lab.days_ago(30);
    lab.approved(internal(
        valid_gauge,
        &[ref_pressure],
        &d,
        "simple",
        gauge_points([0.3, 0.4, -0.2], "as_found", p01),
    ))?;
    let d = lab.days_ago(400);
    lab.approved(internal(
        expired_gauge,
        &[ref_accredited],
        &d,
        "simple",
        gauge_points([0.2, 0.1, 0.3], "as_found", p02),
    ))?;
    let d = lab.days_ago(20);
    lab.approved(internal(
        failed_gauge,
        &[ref_pressure],
        &d,
        "guard_band",
        gauge_points([0.9, 2.1, 1.2], "as_found", p01),
    ))?;
    withdrawn_and_amended(lab, withdrawn_gauge, replaced_gauge, p01)?;
    let d = lab.days_ago(350);
    // Found out of tolerance, adjusted, and left in tolerance.
    // Measured against both standards: the budget carries the less certain one's U, so no
    // point claims less than either standard's (DESIGN 9c).
    let mut points = gauge_points([1.9, 1.7, 1.4], "as_found", p02);
    points.extend(gauge_points([0.1, 0.0, -0.1], "as_left", p02));
    lab.approved(internal(
        due_gauge,
        &[ref_pressure, ref_accredited],
        &d,
        "simple",
        points,
    ))?;
    let d = lab.days_ago(2);
    let pending = lab.draft(internal(
        pending_gauge,
        &[ref_pressure],
        &d,
        "simple",
        gauge_points([0.2, 0.3, 0.2], "as_found", p01),
    ))?;
    workflow::calibrations::submit(lab.conn, &lab.technician, pending)?;
    Ok(())
}

/// A certificate withdrawn after issue, and one amended by a replacement that names it:
/// the two ways an issued certificate is corrected.
fn withdrawn_and_amended(
    lab: &mut Lab,
    withdrawn_gauge: i64,
    replaced_gauge: i64,
    ref_pressure: PressureStandard,
) -> Result<(), ApiError> {
    let standard = ref_pressure;
    let ref_pressure = standard.id;
    let d = lab.days_ago(200);
    lab.approved(internal(
        withdrawn_gauge,
        &[ref_pressure],
        &d,
        "simple",
        gauge_points([0.1, 0.2, 0.1], "as_found", standard),
    ))?;
    let d = lab.days_ago(15);
    let (_, withdrawn) = lab.approved(internal(
        withdrawn_gauge,
        &[ref_pressure],
        &d,
        "simple",
        gauge_points([0.2, 0.2, 0.1], "as_found", standard),
    ))?;
    if let Some(number) = withdrawn {
        workflow::calibrations::withdraw(
            lab.conn,
            &lab.approver,
            &number,
            "reference standard REF-P-01 was used outside its range",
        )?;
    }
    let d = lab.days_ago(45);
    let mut first = internal(
        replaced_gauge,
        &[ref_pressure],
        &d,
        "simple",
        gauge_points([1.8, 0.4, 0.2], "as_found", standard),
    );
    let (_, old_number) = lab.approved(first.clone())?;
    first["points"] = json!(gauge_points([0.18, 0.4, 0.2], "as_found", standard));
    first["replaces"] = json!({"number": old_number, "type": "amended", "reason": "transcription error: 0.18 kPa was entered as 1.8 kPa at 0.2 MPa"});
    lab.approved(first)?;
    Ok(())
}

/// The other quantities: a thermometer under the non-binary rule, a multimeter,
/// and a multimeter suspended after its calibration.
fn calibrate_thermometer_and_meters(
    lab: &mut Lab,
    customers: &Customers,
    references: &References,
) -> Result<(), ApiError> {
    let (ref_thermometer, ref_voltage) = (references.thermometer, references.voltage);
    let Customers {
        thermometer,
        multimeter,
        suspended_meter,
        ..
    } = *customers;
    let d = lab.days_ago(40);
    lab.approved(json!({"instrument_id": thermometer, "kind": "internal", "performed_on": d, "received_on": d,
        "procedure": "JJF 1171-2007", "location": "caltrace demo laboratory, temperature room",
        "environment": {"temperature": q(21.0, "°C"), "relative_humidity": q(40.0, "%RH")},
        "standards_used": [ref_thermometer], "decision_rule": "non_binary",
        "points": [
            stated("as_found", q(-20.0, "°C"), q(-19.8, "°C"), q(0.5, "°C"), q(0.12, "K")),
            stated("as_found", q(0.0, "°C"), q(0.1, "°C"), q(0.5, "°C"), q(0.12, "K")),
            stated("as_found", q(100.0, "°C"), q(100.42, "°C"), q(0.5, "°C"), q(0.12, "K")),
        ]}))?;
    let d = lab.days_ago(10);
    lab.approved(
        json!({"instrument_id": multimeter, "kind": "internal", "performed_on": d, "received_on": d,
        "procedure": "JJG 315-1983", "location": "caltrace demo laboratory, electrical room",
        "environment": {"temperature": q(23.0, "°C"), "relative_humidity": q(45.0, "%RH")},
        "standards_used": [ref_voltage], "decision_rule": "simple",
        "points": [
            stated("as_found", q(1.0, "V"), q(1.0004, "V"), q(0.0009, "V"), q(0.00012, "V")),
            stated("as_found", q(10.0, "V"), q(10.003, "V"), q(0.007, "V"), q(0.0012, "V")),
        ]}),
    )?;
    let d = lab.days_ago(100);
    let mut on_the_meter = internal(
        suspended_meter,
        &[ref_voltage],
        &d,
        "simple",
        vec![stated(
            "as_found",
            q(10.0, "V"),
            q(10.002, "V"),
            q(0.007, "V"),
            q(0.0012, "V"),
        )],
    );
    on_the_meter["procedure"] = json!("JJG 315-1983");
    on_the_meter["location"] = json!("caltrace demo laboratory, electrical room");
    lab.approved(on_the_meter)?;
    crate::workflow::instruments::change_status(
        lab.conn,
        &lab.admin,
        suspended_meter,
        InstrumentStatus::Suspended,
        Some("dropped on site; awaiting inspection"),
        lab.today,
    )?;
    Ok(())
}

/// The largest expanded U (MPa) among a pressure calibration's points.
fn largest_expanded_mpa(lab: &mut Lab, calibration: i64) -> Result<f64, ApiError> {
    let recorded = db::calibrations::get(lab.conn, calibration)?;
    Ok(recorded
        .points
        .iter()
        .map(|p| p.expanded_uncertainty.value)
        .fold(0.0, f64::max))
}

/// A customer's gauge calibrated against the transfer standard: not traceable,
/// though its own calibration is in order: the link below the transfer is broken.
fn calibrate_on_the_broken_chain(
    lab: &mut Lab,
    transfer: PressureStandard,
) -> Result<(), ApiError> {
    let broken = lab.instrument(json!({"asset_tag": "PG-0008", "description": "Pressure gauge 0–1 MPa, class 0.16",
        "manufacturer": "WIKA", "model": "CPG1500", "serial_number": "A1008", "role": "working", "quantity_kind": "pressure",
        "customer": "Delta Hydraulics", "interval_days": 365}))?;
    let date = lab.days_ago(20);
    let mut on_the_transfer = internal(
        broken,
        &[transfer.id],
        &date,
        "simple",
        gauge_points([0.2, 0.1, 0.0], "as_found", transfer),
    );
    on_the_transfer["condition_on_receipt"] = json!("Received with its connector thread worn");
    on_the_transfer["deviations"] = json!(
        "Calibrated against REF-P-03, whose own calibration rests on an expired \
         certificate (REF-P-04): the results are not traceable until REF-P-03 is recalibrated."
    );
    lab.approved(on_the_transfer)?;
    Ok(())
}
