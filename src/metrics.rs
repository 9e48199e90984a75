//! Operations: `GET /metrics` in the Prometheus text exposition format, and
//! one JSON log line per request (`log_format = "json"`).
//!
//! One fairing times every request and counts it by method, route template
//! (`/api/v1/instruments/<id>`, never the raw path, so the series stay few) and
//! status class, with atomics only; the route's counters are found by the
//! address of its `Route` in Rocket's router, which lives as long as the server.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Method};
use rocket::{get, routes, Build, Data, Request, Response, Rocket, Route, State};

use crate::auth::{roles, BearerToken};
use crate::config::{AppConfig, LogFormat};
use crate::db::Database;
use crate::error::ApiError;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The user a request was authenticated as, when a guard found out; read by
/// the JSON request log.
pub struct RequestUser(pub Option<String>);

struct RequestStart(Instant);

struct RouteStats {
    method: String,
    route: String,
    /// Responses by status class: 1xx … 5xx.
    by_class: [AtomicU64; 5],
    /// Non-cumulative bucket counts; the last one is +Inf.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl RouteStats {
    fn new(method: String, route: String) -> RouteStats {
        RouteStats {
            method,
            route,
            by_class: Default::default(),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn record(&self, status: u16, seconds: f64) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum RouteKey {
    /// The address of the matched route in the router.
    Route(usize),
    /// No route matched (404 from the catcher), per method.
    Unmatched(Method),
}

/// The service's counters, kept in managed state for the `/metrics` route.
pub struct Metrics {
    started: SystemTime,
    in_flight: AtomicI64,
    routes: RwLock<HashMap<RouteKey, Arc<RouteStats>>>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            started: SystemTime::now(),
            in_flight: AtomicI64::new(0),
            routes: RwLock::new(HashMap::new()),
        }
    }
}

impl Metrics {
    fn stats(&self, key: RouteKey, labels: impl FnOnce() -> (String, String)) -> Arc<RouteStats> {
        if let Some(stats) = self.routes.read().ok().and_then(|m| m.get(&key).cloned()) {
            return stats;
        }
        let mut map = match self.routes.write() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(key)
            .or_insert_with(|| {
                let (method, route) = labels();
                Arc::new(RouteStats::new(method, route))
            })
            .clone()
    }

    /// The exposition text (Prometheus text format 0.0.4).
    pub fn render(&self, database: &Database, pool_max: u32) -> String {
        let mut out = String::with_capacity(8192);
        let all = self.routes_sorted();
        write_request_counts(&mut out, &all);
        write_durations(&mut out, &all);
        let in_flight = self.in_flight.load(Ordering::Relaxed);
        gauge(
            &mut out,
            "caltrace_http_requests_in_flight",
            "Requests being handled (this scrape included).",
            in_flight as f64,
        );
        write_database(&mut out, database, pool_max);
        self.write_process(&mut out);
        out
    }

    /// A snapshot of the routes seen so far, sorted so that a scrape's output is stable from
    /// one scrape to the next (easier to diff). A poisoned lock only means a writer panicked;
    /// the counters it guards are still sound, so they are rendered.
    fn routes_sorted(&self) -> Vec<Arc<RouteStats>> {
        let mut all: Vec<Arc<RouteStats>> = match self.routes.read() {
            Ok(map) => map.values().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().values().cloned().collect(),
        };
        all.sort_by(|a, b| (&a.route, &a.method).cmp(&(&b.route, &b.method)));
        all
    }

    /// Resident memory (where the platform tells it) and the start time: the standard
    /// `process_*` names, so that stock dashboards find them.
    fn write_process(&self, out: &mut String) {
        if let Some(rss) = resident_memory_bytes() {
            gauge(
                out,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                rss as f64,
            );
        }
        let started = self
            .started
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        gauge(
            out,
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds.",
            started,
        );
    }
}

/// Requests by method, route template and status class. A class with no request yet is
/// left out rather than written as a zero.
fn write_request_counts(out: &mut String, all: &[Arc<RouteStats>]) {
    out.push_str("# HELP caltrace_http_requests_total HTTP requests answered, by method, route template and status class.\n");
    out.push_str("# TYPE caltrace_http_requests_total counter\n");
    for stats in all {
        for (i, count) in stats.by_class.iter().enumerate() {
            let count = count.load(Ordering::Relaxed);
            if count > 0 {
                let _ = writeln!(
                    out,
                    "caltrace_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}xx\"}} {count}",
                    escape(&stats.method),
                    escape(&stats.route),
                    i + 1
                );
            }
        }
    }
}

/// The duration histogram per route. Buckets are stored per bucket and summed here, because
/// the exposition format wants them cumulative; the `+Inf` bucket's total is the count.
fn write_durations(out: &mut String, all: &[Arc<RouteStats>]) {
    out.push_str("# HELP caltrace_http_request_duration_seconds Time from request to response, by method and route template.\n");
    out.push_str("# TYPE caltrace_http_request_duration_seconds histogram\n");
    for stats in all {
        let labels = format!(
            "method=\"{}\",route=\"{}\"",
            escape(&stats.method),
            escape(&stats.route)
        );
        let mut cumulative = 0u64;
        for (i, count) in stats.buckets.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(
                out,
                "caltrace_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = stats.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "caltrace_http_request_duration_seconds_sum{{{labels}}} {sum}"
        );
        let _ = writeln!(
            out,
            "caltrace_http_request_duration_seconds_count{{{labels}}} {cumulative}"
        );
    }
}

/// The pool's state next to its configured size, so that a full pool shows as such; and the
/// build info, naming the backend this instance runs on.
fn write_database(out: &mut String, database: &Database, pool_max: u32) {
    let state = database.pool_state();
    gauge(
        out,
        "caltrace_db_pool_connections",
        "Connections open in the database pool (idle and in use).",
        f64::from(state.connections),
    );
    gauge(
        out,
        "caltrace_db_pool_idle_connections",
        "Idle connections in the database pool.",
        f64::from(state.idle_connections),
    );
    gauge(
        out,
        "caltrace_db_pool_max_connections",
        "Configured size of the database pool (database_pool_size).",
        f64::from(pool_max.max(1)),
    );
    let _ = writeln!(
        out,
        "# HELP caltrace_build_info Version and database backend of this instance.\n\
         # TYPE caltrace_build_info gauge\n\
         caltrace_build_info{{version=\"{}\",backend=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        database.backend().name()
    );
}

fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

/// Label values escape backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// VmRSS from /proc/self/status (Linux); None elsewhere.
fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The fairing: times and counts every request, and writes the JSON request
/// log when `log_format = "json"`.
pub struct Telemetry {
    metrics: Arc<Metrics>,
    json_log: AtomicBool,
}

impl Telemetry {
    pub fn fairing() -> Telemetry {
        Telemetry {
            metrics: Arc::new(Metrics::default()),
            json_log: AtomicBool::new(false),
        }
    }
}

#[rocket::async_trait]
impl Fairing for Telemetry {
    fn info(&self) -> Info {
        Info {
            name: "metrics and request log",
            kind: Kind::Ignite | Kind::Request | Kind::Response,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> rocket::fairing::Result {
        let json = AppConfig::from_figment(rocket.figment())
            .map(|config| config.log_format == LogFormat::Json)
            .unwrap_or(false);
        self.json_log.store(json, Ordering::Relaxed);
        Ok(rocket.manage(self.metrics.clone()))
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        request.local_cache(|| RequestStart(Instant::now()));
        self.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        self.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
        let started = request.local_cache(|| RequestStart(Instant::now())).0;
        let elapsed = started.elapsed();
        let status = response.status().code;
        let key = match request.route() {
            Some(route) => RouteKey::Route(route as *const Route as usize),
            None => RouteKey::Unmatched(request.method()),
        };
        let stats = self.metrics.stats(key, || match request.route() {
            Some(route) => (
                route.method.as_str().to_string(),
                route.uri.path().to_string(),
            ),
            None => (
                request.method().as_str().to_string(),
                "unmatched".to_string(),
            ),
        });
        stats.record(status, elapsed.as_secs_f64());

        if self.json_log.load(Ordering::Relaxed) {
            let user = request.local_cache(|| RequestUser(None)).0.as_deref();
            // The path only: query strings can carry search terms and tokens.
            let line = serde_json::json!({
                "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "method": request.method().as_str(),
                "path": request.uri().path().as_str(),
                "route": stats.route,
                "status": status,
                "duration_ms": (elapsed.as_secs_f64() * 1e6).round() / 1e3,
                "user": user,
            });
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{line}");
        }
    }
}

/// Prepares logging for `log_format = "json"`: Rocket's per-request lines give
/// way to ours, and what Rocket still logs (the launch address, warnings,
/// errors) is written as JSON lines too, so stdout is one JSON object per line.
/// Rocket installs its own logger only when none is set, so ours is set first.
pub fn prepare_logging(figment: rocket::figment::Figment) -> rocket::figment::Figment {
    let Ok(config) = AppConfig::from_figment(&figment) else {
        return figment;
    };
    if config.log_format != LogFormat::Json {
        return figment;
    }
    let level = figment
        .extract_inner::<rocket::config::LogLevel>("log_level")
        .unwrap_or(rocket::config::LogLevel::Normal);
    if level == rocket::config::LogLevel::Off {
        return figment;
    }
    if log::set_boxed_logger(Box::new(JsonLogger)).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
    figment.merge(("log_level", "critical"))
}

/// Warnings and errors as JSON lines on stdout.
struct JsonLogger;

impl log::Log for JsonLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = strip_ansi(&record.args().to_string());
        let message = message.trim();
        if message.is_empty() {
            return;
        }
        let line = serde_json::json!({
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "level": record.level().as_str().to_ascii_lowercase(),
            "target": record.target(),
            "message": message,
        });
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }

    fn flush(&self) {
        let _ = std::io::stdout().flush();
    }
}

/// Removes terminal colour codes (ESC [ … letter) Rocket adds on a terminal.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Prometheus metrics: public unless `metrics_require_token = true`, then any
/// staff role (a customer user is no operator of the lab's service).
#[get("/metrics")]
pub async fn metrics(
    token: Result<BearerToken, ApiError>,
    metrics: &State<Arc<Metrics>>,
    database: &State<Database>,
    config: &State<AppConfig>,
) -> Result<(ContentType, String), ApiError> {
    if config.metrics_require_token {
        let token = token?;
        let user = database.run(move |conn| token.authenticate(conn)).await?;
        user.require(roles::STAFF)?;
    }
    let content_type =
        ContentType::new("text", "plain").with_params([("version", "0.0.4"), ("charset", "utf-8")]);
    Ok((
        content_type,
        metrics.render(database, config.database_pool_size),
    ))
}

pub fn routes() -> Vec<Route> {
    routes![metrics]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_colour_codes_are_cleaned() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(
            strip_ansi("\u{1b}[1;34mRocket\u{1b}[0m has launched"),
            "Rocket has launched"
        );
    }

    #[test]
    fn a_request_lands_in_one_bucket_and_its_class() {
        let stats = RouteStats::new("GET".into(), "/x".into());
        stats.record(204, 0.003);
        stats.record(503, 20.0);
        assert_eq!(stats.by_class[1].load(Ordering::Relaxed), 1);
        assert_eq!(stats.by_class[4].load(Ordering::Relaxed), 1);
        assert_eq!(stats.buckets[2].load(Ordering::Relaxed), 1);
        assert_eq!(stats.buckets[BUCKETS.len()].load(Ordering::Relaxed), 1);
    }
}
