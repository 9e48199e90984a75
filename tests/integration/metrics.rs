//! `GET /metrics` (Prometheus text format) and the JSON request log.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rocket::http::{ContentType, Header, Status};
use rocket::local::blocking::Client;

use crate::common::TestApp;

fn scrape(client: &Client, token: Option<&str>) -> (Status, Option<ContentType>, String) {
    let mut request = client.get("/metrics");
    if let Some(token) = token {
        request = request.header(Header::new("Authorization", format!("Bearer {token}")));
    }
    let response = request.dispatch();
    let status = response.status();
    let content_type = response.content_type();
    (
        status,
        content_type,
        response.into_string().unwrap_or_default(),
    )
}

/// The value of the sample whose name-and-labels part is exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok())?
        })
}

#[test]
fn metrics_count_requests_by_route_template_and_expose_the_pool() {
    let app = TestApp::new();
    app.get("/healthz", None);
    app.get("/healthz", None);
    app.get("/api/v1/instruments/999", Some("inspector"));
    app.get("/api/v1/instruments/998", None);
    app.get("/no/such/page", None);

    let (status, content_type, text) = scrape(&app.client, None);
    assert_eq!(status, Status::Ok);
    let content_type = content_type.unwrap();
    assert_eq!(content_type.media_type().sub(), "plain");
    assert_eq!(content_type.param("version"), Some("0.0.4"));

    let requests =
        |labels: &str| sample(&text, &format!("caltrace_http_requests_total{{{labels}}}"));
    assert_eq!(
        requests(r#"method="GET",route="/healthz",status="2xx""#),
        Some(2.0),
        "{text}"
    );
    // Routes are labelled by their template, never by the raw path.
    assert_eq!(
        requests(r#"method="GET",route="/api/v1/instruments/<id>",status="4xx""#),
        Some(2.0),
        "{text}"
    );
    assert!(!text.contains("/api/v1/instruments/999"));
    assert_eq!(
        requests(r#"method="GET",route="unmatched",status="4xx""#),
        Some(1.0),
        "{text}"
    );
    let histogram = r#"method="GET",route="/healthz""#;
    assert_eq!(
        sample(
            &text,
            &format!("caltrace_http_request_duration_seconds_bucket{{{histogram},le=\"+Inf\"}}")
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("caltrace_http_request_duration_seconds_count{{{histogram}}}")
        ),
        Some(2.0)
    );
    assert!(
        sample(
            &text,
            &format!("caltrace_http_request_duration_seconds_sum{{{histogram}}}")
        )
        .unwrap()
            > 0.0
    );
    assert!(text.contains("# TYPE caltrace_http_request_duration_seconds histogram"));

    // The pool: TestApp opens 4 connections at most; some are open, none in use now.
    assert_eq!(sample(&text, "caltrace_db_pool_max_connections"), Some(4.0));
    let open = sample(&text, "caltrace_db_pool_connections").unwrap();
    let idle = sample(&text, "caltrace_db_pool_idle_connections").unwrap();
    assert!((1.0..=4.0).contains(&open), "{text}");
    assert_eq!(idle, open, "{text}");
    let backend = if app.is_postgres() {
        "postgresql"
    } else {
        "sqlite"
    };
    assert!(
        text.contains(&format!("backend=\"{backend}\"}} 1")),
        "{text}"
    );
    assert!(sample(&text, "process_resident_memory_bytes").unwrap() > 1e6);

    // The scrape itself is counted by the next one.
    let (_, _, again) = scrape(&app.client, None);
    assert_eq!(
        sample(
            &again,
            r#"caltrace_http_requests_total{method="GET",route="/metrics",status="2xx"}"#
        ),
        Some(1.0)
    );
}

#[test]
fn metrics_can_require_a_token() {
    let app = TestApp::new();
    let figment = caltrace::figment()
        .merge(("database_url", app.database_url.clone()))
        .merge(("database_pool_size", 2))
        .merge(("log_level", "off"))
        .merge(("metrics_require_token", true));
    let client = Client::tracked(caltrace::rocket(figment)).expect("valid rocket");

    let (status, _, body) = scrape(&client, None);
    assert_eq!(status, Status::Unauthorized);
    assert!(!body.contains("caltrace_http_requests_total"));
    let (status, _, _) = scrape(&client, Some("ct_not_a_token"));
    assert_eq!(status, Status::Unauthorized);
    // Any authenticated role may scrape.
    for role in ["inspector", "auditor", "admin"] {
        let (status, _, body) = scrape(&client, Some(&app.tokens[role]));
        assert_eq!(status, Status::Ok);
        assert!(body.contains("caltrace_db_pool_connections"));
    }
    // Public by default.
    let (status, _, _) = scrape(&app.client, None);
    assert_eq!(status, Status::Ok);
}

fn http_get(port: u16, path: &str, token: Option<&str>) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn json_log_writes_one_line_per_request_without_query_strings() {
    let app = TestApp::new();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_caltrace"))
        .arg("serve")
        .env("ROCKET_DATABASE_URL", &app.database_url)
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_LOG_FORMAT", "json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start caltrace serve");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut up = false;
    while Instant::now() < deadline {
        if http_get(port, "/healthz", None).is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let listed = http_get(
        port,
        "/api/v1/instruments?q=secret-search",
        Some(&app.tokens["inspector"]),
    );
    let refused = http_get(port, "/api/v1/instruments", None);
    server.kill().expect("stop the server");
    let mut output = String::new();
    server
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    let _ = server.wait();
    assert!(up, "the server did not come up: {output}");
    assert!(listed.unwrap().starts_with("HTTP/1.1 200"));
    assert!(refused.unwrap().starts_with("HTTP/1.1 401"));

    let lines: Vec<serde_json::Value> = output
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let listing = lines
        .iter()
        .find(|l| l["path"] == "/api/v1/instruments" && l["status"] == 200)
        .unwrap_or_else(|| panic!("no line for the listing: {output}"));
    assert_eq!(listing["method"], "GET");
    assert_eq!(listing["user"], "inspector");
    assert_eq!(listing["route"], "/api/v1/instruments");
    assert!(listing["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(listing["time"].as_str().unwrap().ends_with('Z'));
    let anonymous = lines
        .iter()
        .find(|l| l["path"] == "/api/v1/instruments" && l["status"] == 401)
        .unwrap();
    assert_eq!(anonymous["user"], serde_json::Value::Null);
    assert!(lines
        .iter()
        .any(|l| l["path"] == "/healthz" && l["status"] == 200));
    assert!(!output.contains("secret-search"));
}
