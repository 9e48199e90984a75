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
        let client = Client::tracked(caltrace::rocket(figment)).expect("valid rocket");
        let database = client
            .rocket()
            .state::<Database>()
            .expect("database")
            .clone();
        let mut tokens = HashMap::new();
        {
            let mut conn = database.get().unwrap();
            for role in ROLES {
                let user_role = UserRole::parse(role).unwrap();
                users::create_user(&mut conn, &Actor::command_line(), role, &[user_role]).unwrap();
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
        users::create_user(&mut conn, &Actor::command_line(), name, roles).unwrap();
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

    pub fn post(&self, path: &str, who: Option<&str>, body: &Value) -> (Status, Value) {
        self.send(rocket::http::Method::Post, path, who, &body.to_string())
    }

    pub fn put(&self, path: &str, who: Option<&str>, body: &Value) -> (Status, Value) {
        self.send(rocket::http::Method::Put, path, who, &body.to_string())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.postgres {
            drop_postgres_database(admin_url, name);
        }
    }
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
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_caltrace"))
        .args(args)
        .env("ROCKET_DATABASE_URL", database_url)
        .env("ROCKET_CLI_COLORS", "false")
        .output()
        .expect("run caltrace");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
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
