//! Test harness: a fresh database per test (a temporary SQLite file, or a new
//! PostgreSQL database when CALTRACE_TEST_DATABASE_URL points at a server), a
//! Rocket local client, and one user with a token per role.

pub mod fixtures;
pub mod import;
pub mod live;

use std::collections::HashMap;

use caltrace::auth::UserRole;
use caltrace::db::audit::Actor;
use caltrace::db::{users, Database, DbConnection};
use diesel::connection::SimpleConnection;
use diesel::Connection;
use rocket::http::{ContentType, Header, Status};
use rocket::local::blocking::Client;
use serde_json::Value;

pub const ROLES: [&str; 5] = ["admin", "technician", "approver", "inspector", "auditor"];

pub struct TestApp {
    pub client: Client,
    pub database_url: String,
    pub tokens: HashMap<String, String>,
    pub database: Database,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TestApp {
    pub fn new() -> TestApp {
        TestApp::configured(|figment| figment)
    }

    /// A TestApp whose configuration a test changes (`lab.require_authorisations`, …).
    pub fn configured(
        configure: impl FnOnce(rocket::figment::Figment) -> rocket::figment::Figment,
    ) -> TestApp {
        let (database_url, dir, postgres) = match std::env::var("CALTRACE_TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let (url, name) = create_postgres_database(&admin_url, "caltrace_test");
                (url, None, Some((admin_url, name)))
            }
            _ => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("caltrace.sqlite3").display());
                (url, Some(dir), None)
            }
        };
        let figment = caltrace::figment()
            .merge(("database_url", database_url.clone()))
            .merge(("database_pool_size", 4))
            .merge(("log_level", "off"));
        let figment = configure(figment);
        let client = Client::tracked(caltrace::rocket(figment)).expect("valid rocket");
        let database = client
            .rocket()
            .state::<Database>()
            .expect("database")
            .clone();
        let mut tokens = HashMap::new();
        {
            let mut conn = database.get().unwrap();
            register_fixture_procedures(&mut conn);
            for role in ROLES {
                let user_role = UserRole::parse(role).unwrap();
                let user =
                    users::create_user(&mut conn, &Actor::command_line(), role, &[user_role])
                        .unwrap();
                grant_competence(&mut conn, user.id, &[user_role]);
                let (_, token) =
                    users::create_token(&mut conn, &Actor::command_line(), role).unwrap();
                tokens.insert(role.to_string(), token);
            }
        }
        TestApp {
            client,
            database_url,
            tokens,
            database,
            _dir: dir,
            postgres,
        }
    }

    /// How this test's service issues certificates (its configured lab and prefix).
    pub fn issue_context(&self) -> caltrace::workflow::certificates::IssueContext {
        let config = self
            .client
            .rocket()
            .state::<caltrace::config::AppConfig>()
            .expect("config");
        caltrace::workflow::certificates::IssueContext::from_config(config)
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// Adds a user with the given roles and returns its token.
    #[allow(dead_code)]
    pub fn add_user(&mut self, name: &str, roles: &[UserRole]) -> String {
        let mut conn = self.database.get().unwrap();
        let user = users::create_user(&mut conn, &Actor::command_line(), name, roles).unwrap();
        grant_competence(&mut conn, user.id, roles);
        let (_, token) = users::create_token(&mut conn, &Actor::command_line(), name).unwrap();
        self.tokens.insert(name.to_string(), token.clone());
        token
    }

    /// Adds a user bound to customers (a `customer`, or a scoped inspector) by code, as
    /// `caltrace user add NAME --role ROLE --customer CODE…` does; returns its token.
    #[allow(dead_code)]
    pub fn add_bound_user(&mut self, name: &str, roles: &[UserRole], codes: &[&str]) -> String {
        let mut conn = self.database.get().unwrap();
        let codes: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
        caltrace::workflow::users::create_user(
            &mut conn,
            &Actor::command_line(),
            name,
            roles,
            &Default::default(),
            &codes,
        )
        .unwrap();
        let (_, token) = users::create_token(&mut conn, &Actor::command_line(), name).unwrap();
        self.tokens.insert(name.to_string(), token.clone());
        token
    }

    pub fn with_conn<T>(&self, work: impl FnOnce(&mut DbConnection) -> T) -> T {
        let mut conn = self.database.get().unwrap();
        work(&mut conn)
    }

    pub fn auth(&self, who: Option<&str>) -> Option<Header<'static>> {
        who.map(|who| {
            let token = self
                .tokens
                .get(who)
                .cloned()
                .unwrap_or_else(|| who.to_string());
            Header::new("Authorization", format!("Bearer {token}"))
        })
    }

    fn finish(response: rocket::local::blocking::LocalResponse<'_>) -> (Status, Value) {
        let status = response.status();
        let text = response.into_string().unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub fn get(&self, path: &str, who: Option<&str>) -> (Status, Value) {
        let mut request = self.client.get(path.to_string());
        if let Some(header) = self.auth(who) {
            request = request.header(header);
        }
        Self::finish(request.dispatch())
    }

    /// A document's bytes (PDF, DCC, CSV), asserting 200.
    pub fn bytes(&self, path: &str, who: Option<&str>) -> Vec<u8> {
        let mut request = self.client.get(path.to_string());
        if let Some(header) = self.auth(who) {
            request = request.header(header);
        }
        let response = request.dispatch();
        assert_eq!(response.status(), Status::Ok, "{path}");
        response.into_bytes().unwrap()
    }

    pub fn send(
        &self,
        method: rocket::http::Method,
        path: &str,
        who: Option<&str>,
        body: &str,
    ) -> (Status, Value) {
        let mut request = self
            .client
            .req(method, path.to_string())
            .header(ContentType::JSON)
            .body(body);
        if let Some(header) = self.auth(who) {
            request = request.header(header);
        }
        Self::finish(request.dispatch())
    }

    /// A POST with this body, Content-Type and Accept; the answer as text.
    pub fn post_as(
        &self,
        path: &str,
        who: Option<&str>,
        content_type: ContentType,
        accept: &str,
        body: &str,
    ) -> (Status, String, Option<String>) {
        let mut request = self
            .client
            .post(path.to_string())
            .header(content_type)
            .header(rocket::http::Header::new("Accept", accept.to_string()))
            .body(body);
        if let Some(header) = self.auth(who) {
            request = request.header(header);
        }
        let response = request.dispatch();
        let status = response.status();
        let kind = response.content_type().map(|kind| kind.to_string());
        (status, response.into_string().unwrap_or_default(), kind)
    }

    pub fn post(&self, path: &str, who: Option<&str>, body: &Value) -> (Status, Value) {
        self.send(rocket::http::Method::Post, path, who, &body.to_string())
    }

    pub fn put(&self, path: &str, who: Option<&str>, body: &Value) -> (Status, Value) {
        self.send(rocket::http::Method::Put, path, who, &body.to_string())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.with_conn(assert_latest_calibrations_current);
            self.with_conn(assert_customer_counts_current);
            self.with_conn(assert_certificate_counts_current);
            self.with_conn(assert_recall_names_current);
        }
        if let Some((admin_url, name)) = &self.postgres {
            drop_postgres_database(admin_url, name);
        }
    }
}

type LatestRow = (
    i64,
    bool,
    Option<i64>,
    Option<chrono::NaiveDate>,
    Option<chrono::NaiveDate>,
    Option<String>,
    Option<bool>,
    Option<bool>,
);

/// What the triggers of migration 000050 keep in `latest_calibrations` must be what a fresh
/// computation says after whatever a test did (issue 20): checked at the end of every test,
/// on both backends, so no write path can leave the dashboard and recall list stale.
fn assert_latest_calibrations_current(conn: &mut DbConnection) {
    use caltrace::db::schema::{calibrations as c, instruments as i, latest_calibrations as l};
    use diesel::prelude::*;
    let on_record = ["issued", "accepted", "withdrawn"];
    let mut newest: HashMap<i64, LatestRow> = HashMap::new();
    type OnRecord = (
        i64,
        i64,
        chrono::NaiveDate,
        Option<chrono::NaiveDate>,
        String,
        bool,
        bool,
    );
    let rows: Vec<OnRecord> = c::table
        .select((
            c::instrument_id,
            c::id,
            c::performed_on,
            c::due_on,
            c::status,
            c::out_of_tolerance,
            c::chain_broken,
        ))
        .filter(c::status.eq_any(on_record))
        .order((c::performed_on.asc(), c::id.asc()))
        .load(conn)
        .unwrap();
    for (instrument, id, performed_on, due_on, status, out, broken) in rows {
        let due = due_on.unwrap_or(performed_on);
        let row = (instrument, false, Some(id), Some(performed_on), Some(due));
        let (a, b, c, d, e) = row;
        newest.insert(
            instrument,
            (a, b, c, d, e, Some(status), Some(out), Some(broken)),
        );
    }
    let instruments: Vec<(i64, String, String)> = i::table
        .select((i::id, i::status, i::role))
        .order(i::id)
        .load(conn)
        .unwrap();
    let expected: Vec<LatestRow> = instruments
        .into_iter()
        .map(|(id, status, role)| {
            let in_service = status == "active" && role != "national";
            let mut row = newest
                .remove(&id)
                .unwrap_or((id, false, None, None, None, None, None, None));
            row.1 = in_service;
            row
        })
        .collect();
    let kept: Vec<LatestRow> = l::table
        .select((
            l::instrument_id,
            l::in_service,
            l::calibration_id,
            l::performed_on,
            l::due_on,
            l::status,
            l::out_of_tolerance,
            l::chain_broken,
        ))
        .order(l::instrument_id)
        .load(conn)
        .unwrap();
    assert_eq!(
        kept, expected,
        "latest_calibrations is not what the records say"
    );
}

/// The instrument counts the triggers of migration 000051 keep per customer are what counting
/// the register says, after whatever a test did (issue 19).
fn assert_customer_counts_current(conn: &mut DbConnection) {
    use caltrace::db::schema::{customer_instrument_counts as counts, instruments as i};
    use diesel::prelude::*;
    let mut counted: Vec<(Option<i64>, i64)> = i::table
        .group_by(i::customer_id)
        .select((i::customer_id, diesel::dsl::count_star()))
        .load(conn)
        .unwrap();
    counted.retain(|(customer, _)| customer.is_some());
    counted.sort();
    let mut kept: Vec<(i64, i64)> = counts::table.load(conn).unwrap();
    kept.retain(|(_, n)| *n > 0);
    kept.sort();
    let kept: Vec<(Option<i64>, i64)> = kept.into_iter().map(|(c, n)| (Some(c), n)).collect();
    assert_eq!(
        kept, counted,
        "customer_instrument_counts is not what the register says"
    );
}

/// The asset tag and customer the triggers of migration 000054 copy into latest_calibrations
/// are the instrument's own, after whatever a test did (issue 20).
fn assert_recall_names_current(conn: &mut DbConnection) {
    use caltrace::db::schema::{instruments as i, latest_calibrations as l};
    use diesel::prelude::*;
    type Named = (i64, String, Option<String>);
    let kept: Vec<Named> = l::table
        .select((l::instrument_id, l::asset_tag, l::customer))
        .order(l::instrument_id)
        .load(conn)
        .unwrap();
    let register: Vec<Named> = i::table
        .select((i::id, i::asset_tag, i::customer))
        .order(i::id)
        .load(conn)
        .unwrap();
    assert_eq!(
        kept, register,
        "latest_calibrations' tags and customers are not the register's"
    );
}

/// The per-day certificate counts the trigger of migration 000053 keeps are what counting
/// the certificates says, after whatever a test did (issue 20).
fn assert_certificate_counts_current(conn: &mut DbConnection) {
    use caltrace::db::schema::{certificate_counts as counts, certificates as c};
    use diesel::prelude::*;
    let mut counted: Vec<(chrono::NaiveDate, i64)> = c::table
        .group_by(c::issued_on)
        .select((c::issued_on, diesel::dsl::count_star()))
        .load(conn)
        .unwrap();
    counted.sort();
    let mut kept: Vec<(chrono::NaiveDate, i64)> = counts::table.load(conn).unwrap();
    kept.sort();
    assert_eq!(
        kept, counted,
        "certificate_counts is not what the certificates say"
    );
}

/// The procedures the shared fixtures cite, validated long before any test's dates, stored
/// without audit entries (tests count the audit entries of what they do themselves).
pub fn register_fixture_procedures(conn: &mut DbConnection) {
    use caltrace::domain::competence::{ProcedureInput, ProcedureStatus};
    let procedures = [
        ("JJG 52-2013", "pressure"),
        ("JJG 52-2023", "pressure"),
        ("JJG 52", "pressure"),
        ("JJF 1171-2007", "temperature"),
    ];
    for (code, kind) in procedures {
        if !caltrace::db::competence::procedures_with_codes(conn, &[code.to_string()])
            .unwrap()
            .is_empty()
        {
            continue;
        }
        let input = ProcedureInput {
            code: code.to_string(),
            title: format!("{code} fixture procedure"),
            version: "1".to_string(),
            quantity_kind: kind.to_string(),
            status: ProcedureStatus::Validated,
            validated_on: Some("1900-01-01".parse().unwrap()),
            document_url: None,
        };
        caltrace::db::competence::insert_procedure(conn, &input).unwrap();
    }
}

/// Authorisations for what a user's roles do (ISO/IEC 17025 6.2.5): technicians calibrate
/// and approvers approve every quantity kind, from 1900 on, so tests that are not about
/// authorisations record and approve as before. Stored without audit entries.
pub fn grant_competence(conn: &mut DbConnection, user_id: i64, roles: &[UserRole]) {
    use caltrace::domain::competence::{Activity, NewAuthorisation};
    use caltrace::domain::quantity::QuantityKind;
    let mut grants = Vec::new();
    for (role, activity) in [
        (UserRole::Technician, Activity::Calibrate),
        (UserRole::Approver, Activity::Approve),
    ] {
        if !roles.contains(&role) {
            continue;
        }
        grants.extend(QuantityKind::all().iter().map(|kind| NewAuthorisation {
            activity,
            quantity_kind: *kind,
            procedure: None,
            from: "1900-01-01".parse().unwrap(),
            until: None,
        }));
    }
    caltrace::db::write_transaction(conn, |conn| {
        caltrace::db::competence::insert_authorisations(conn, user_id, &grants)
    })
    .unwrap();
}

/// A new, empty PostgreSQL database on the server of `admin_url`: (its URL, its name).
pub fn create_postgres_database(admin_url: &str, prefix: &str) -> (String, String) {
    let name = format!("{prefix}_{}", random_suffix());
    let mut admin = diesel::pg::PgConnection::establish(admin_url).expect("connect to PostgreSQL");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let base = admin_url.rsplit_once('/').map(|(base, _)| base).unwrap();
    (format!("{base}/{name}"), name)
}

pub fn drop_postgres_database(admin_url: &str, name: &str) {
    if let Ok(mut admin) = diesel::pg::PgConnection::establish(admin_url) {
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}

/// Runs the real `caltrace ARGS` on a database; (success, stdout + stderr).
pub fn run_cli(database_url: &str, args: &[&str]) -> (bool, String) {
    run_cli_with_input(database_url, args, "")
}

/// `run_cli` with `input` on standard input (a password, as a lab would pipe it).
pub fn run_cli_with_input(database_url: &str, args: &[&str], input: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_caltrace"))
        .args(args)
        .env("ROCKET_DATABASE_URL", database_url)
        .env("ROCKET_CLI_COLORS", "false")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run caltrace");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().expect("caltrace ends");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// A calibration as `GET /api/v1/calibrations/{id}` answers it, without the flags only that
/// answer carries (`uncertainty_below_standard`, `issuer_certificate`): what create, replace
/// and approve answer, for comparing one with the other.
pub fn the_record(mut calibration: Value) -> Value {
    if let Some(fields) = calibration.as_object_mut() {
        fields.remove("uncertainty_below_standard");
        fields.remove("issuer_certificate");
    }
    calibration
}

/// The field names of a 422 problem+json body.
pub fn fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

pub fn pressure_gauge(tag: &str, serial: &str) -> Value {
    serde_json::json!({
        "asset_tag": tag, "description": "Pressure gauge 0–1 MPa", "manufacturer": "WIKA",
        "model": "CPG1500", "serial_number": serial, "role": "working", "quantity_kind": "pressure",
        "range": {"min": {"value": 0, "unit": "MPa"}, "max": {"value": 1, "unit": "MPa"}},
        "resolution": {"value": 0.0001, "unit": "MPa"}, "customer": "ACME Valves", "location": "Line 3",
        "interval_days": 365
    })
}

/// The text of a PDF by poppler's pdftotext (-layout); None when poppler is not
/// installed, which CALTRACE_REQUIRE_TOOLS (scripts/test.sh) turns into a failure.
pub fn pdf_text(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("certificate.pdf");
    std::fs::write(&path, pdf).unwrap();
    match std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
    {
        Ok(output) => Some(String::from_utf8_lossy(&output.stdout).into_owned()),
        Err(_) => {
            assert!(
                std::env::var_os("CALTRACE_REQUIRE_TOOLS").is_none(),
                "pdftotext (poppler-utils) is required"
            );
            None
        }
    }
}
