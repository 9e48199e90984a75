//! caltrace: a calibration-data service. `rocket(figment)` builds the service;
//! the binary in main.rs wraps it in a command line.

pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod dcc;
pub mod demo;
pub mod domain;
pub mod error;
pub mod http;
pub mod import;
pub mod metrics;
pub mod password;
pub mod pdf;
pub mod signing;
pub mod web;
pub mod workflow;

/// The service's allocator for every binary, test and benchmark built on this crate: mimalloc.
/// A request's answer is many small strings and vectors (a model's checks and answer ~40 of
/// them), and glibc's malloc spent a quarter of a GUM evaluation's time on them and on folding
/// its free lists; with mimalloc's per-thread free lists a model evaluation took 25 % less time
/// and a component budget 20 % less (bench/model_vs_gtc.py, bench/gum_vs_gtc.py). See
/// docs/decisions.md, Performance.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use rocket::fairing::AdHoc;
use rocket::figment::providers::Serialized;
use rocket::figment::Figment;
use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::{catch, catchers, Build, Rocket};

use crate::config::AppConfig;
use crate::db::Database;
use crate::error::ApiError;

/// Rocket's own figment (Rocket.toml, then ROCKET_* variables) over our defaults.
pub fn figment() -> Figment {
    rocket::Config::figment()
        .join(Serialized::defaults(AppConfig::default()))
        // Batch ingestion of a thousand calibrations is a few MiB of JSON.
        .join(("limits.json", "16 MiB"))
        // The verification page takes a certificate's PDF or DCC, at most 16 MiB (DESIGN 8b).
        .join(("limits.data-form", "16 MiB"))
        .join(("limits.file", "16 MiB"))
        // Pages render from the repository's templates/ wherever the binary is started;
        // ROCKET_TEMPLATE_DIR points an installed service elsewhere.
        .join((
            "template_dir",
            concat!(env!("CARGO_MANIFEST_DIR"), "/templates"),
        ))
}

fn problem(status: Status, detail: &str) -> (Status, (ContentType, String)) {
    let mut problem = ApiError::NotFound(String::new()).problem();
    problem.status = status.code;
    problem.title = status.reason_lossy().to_string();
    problem.problem_type = "urn:caltrace:problem:http".to_string();
    problem.detail = detail.to_string();
    let body = serde_json::to_string(&problem).unwrap_or_default();
    (
        status,
        (ContentType::new("application", "problem+json"), body),
    )
}

#[catch(default)]
fn default_catcher(status: Status, request: &Request<'_>) -> (Status, (ContentType, String)) {
    if status.code == 422 {
        if let Some(error) = unreadable_path_id(request) {
            let body = serde_json::to_string(&error.problem()).unwrap_or_default();
            return (
                status,
                (ContentType::new("application", "problem+json"), body),
            );
        }
    }
    let detail = match status.code {
        404 => format!("no route for {} {}", request.method(), request.uri().path()),
        401 => crate::error::BEARER_REQUIRED.to_string(),
        _ => status.reason_lossy().to_string(),
    };
    problem(status, &detail)
}

/// A 422 from routing means a typed path parameter did not parse, and the only
/// typed ones are ids: name the parameter of the route tried and its text.
fn unreadable_path_id(request: &Request<'_>) -> Option<ApiError> {
    let route = request.route()?;
    let template = route.uri.path().split('/');
    let given = request.uri().path().as_str().split('/');
    template.zip(given).find_map(|(part, text)| {
        let name = part.strip_prefix('<')?.strip_suffix('>')?;
        let text = rocket::http::RawStr::new(text).percent_decode_lossy();
        (text.parse::<i64>().is_err()).then(|| {
            ApiError::field(
                name,
                format!(
                    "'{text}' is not an id: ids are whole numbers, as in {}",
                    example_path(route)
                ),
            )
        })
    })
}

fn example_path(route: &rocket::Route) -> String {
    route
        .uri
        .path()
        .split('/')
        .map(|part| if part.starts_with('<') { "42" } else { part })
        .collect::<Vec<_>>()
        .join("/")
}

pub fn rocket(figment: Figment) -> Rocket<Build> {
    rocket::custom(metrics::prepare_logging(figment))
        .attach(metrics::Telemetry::fairing())
        .attach(AdHoc::try_on_ignite("database", |rocket| async move {
            let config = match AppConfig::from_figment(rocket.figment()) {
                Ok(config) => config,
                Err(error) => {
                    rocket::error!("{error}");
                    return Err(rocket);
                }
            };
            // The async workers, as Rocket will start them: the status readers'
            // page cache is shared among them (db::status_reader).
            let workers = rocket
                .figment()
                .extract_inner::<usize>("workers")
                .unwrap_or_else(|_| rocket::Config::default().workers);
            let opened = rocket::tokio::task::spawn_blocking(move || {
                let database =
                    Database::open(&config.database_url, config.database_pool_size, workers)?;
                let key = web::LoginFormKey::load(&database)?;
                Ok::<_, String>((database, config, key))
            })
            .await;
            match opened {
                Ok(Ok((database, config, key))) => {
                    Ok(rocket.manage(database).manage(config).manage(key))
                }
                Ok(Err(error)) => {
                    rocket::error!("{error}");
                    Err(rocket)
                }
                Err(error) => {
                    rocket::error!("database start-up failed: {error}");
                    Err(rocket)
                }
            }
        }))
        .attach(rocket_dyn_templates::Template::fairing())
        .attach(web::page_headers())
        .mount("/", api::routes())
        .mount("/", web::routes())
        .mount("/", metrics::routes())
        .register("/", catchers![default_catcher])
}
