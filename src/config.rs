//! Typed configuration, extracted from the same figment Rocket reads
//! (Rocket.toml, then ROCKET_* environment variables).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LabIdentity {
    pub name: String,
    pub address: String,
    pub accreditation_body: String,
    pub accreditation_number: String,
    pub certificate_prefix: String,
    /// ISO 3166-1 alpha-2 code of the laboratory's country (the DCC states it); when unset it
    /// is read from the end of the address.
    pub country: Option<String>,
    /// Recording and approving calibrations need a competence authorisation (ISO/IEC 17025
    /// 6.2.5, DESIGN 9b); false for a lab that keeps its competence records elsewhere.
    pub require_authorisations: bool,
}

impl Default for LabIdentity {
    fn default() -> LabIdentity {
        LabIdentity {
            name: "caltrace calibration laboratory".to_string(),
            address: "".to_string(),
            accreditation_body: "".to_string(),
            accreditation_number: "".to_string(),
            certificate_prefix: "CT".to_string(),
            country: None,
            require_authorisations: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppConfig {
    /// `sqlite://path`, a bare SQLite file path, or `postgres://…`.
    pub database_url: String,
    pub database_pool_size: u32,
    pub public_base_url: String,
    pub lab: LabIdentity,
    /// `rocket` (Rocket's own log) or `json` (one JSON line per request on stdout).
    pub log_format: LogFormat,
    /// `/metrics` answers only with a bearer token (any role) when true.
    pub metrics_require_token: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Rocket,
    Json,
}

impl Default for AppConfig {
    fn default() -> AppConfig {
        AppConfig {
            database_url: "sqlite://data/caltrace.sqlite3".to_string(),
            database_pool_size: 8,
            public_base_url: "http://127.0.0.1:8000".to_string(),
            lab: LabIdentity::default(),
            log_format: LogFormat::Rocket,
            metrics_require_token: false,
        }
    }
}

impl AppConfig {
    pub fn from_figment(figment: &rocket::figment::Figment) -> Result<AppConfig, String> {
        figment
            .extract::<AppConfig>()
            .map_err(|error| format!("invalid configuration: {error}"))
    }
}
