//! The real binary over real HTTP: a database of its own (a temporary SQLite
//! file, or a fresh PostgreSQL database when CALTRACE_TEST_DATABASE_URL is set),
//! users and tokens made with the command line, `caltrace serve` as a child
//! process on a free port, and a tiny HTTP/1.1 client over std::net::TcpStream.
//! Used by the crash-safety and concurrency tests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{create_postgres_database, drop_postgres_database, run_cli};

/// A database for one test, removed when dropped.
pub struct LiveDatabase {
    pub url: String,
    pub dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl LiveDatabase {
    pub fn new() -> LiveDatabase {
        let dir = tempfile::tempdir().unwrap();
        match std::env::var("CALTRACE_TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let (url, name) = create_postgres_database(&admin_url, "caltrace_live");
                LiveDatabase {
                    url,
                    dir,
                    postgres: Some((admin_url, name)),
                }
            }
            _ => {
                let url = format!("sqlite://{}", dir.path().join("caltrace.sqlite3").display());
                LiveDatabase {
                    url,
                    dir,
                    postgres: None,
                }
            }
        }
    }

    pub fn backend(&self) -> &'static str {
        if self.postgres.is_some() {
            "postgresql"
        } else {
            "sqlite"
        }
    }

    /// Runs `caltrace ARGS` on this database; (success, stdout + stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String) {
        run_cli(&self.url, args)
    }

    /// `caltrace user add NAME --role …` then `caltrace token create NAME`; the token.
    pub fn user_with_token(&self, name: &str, roles: &[&str]) -> String {
        let mut args = vec!["user", "add", name];
        for role in roles {
            args.push("--role");
            args.push(role);
        }
        let (ok, output) = self.cli(&args);
        assert!(ok, "user add {name}: {output}");
        self.grant_fixture_competence(name, roles);
        let (ok, output) = self.cli(&["token", "create", name]);
        assert!(ok, "token create {name}: {output}");
        let token = output.lines().last().unwrap_or_default().trim().to_string();
        assert!(token.starts_with("ct_"), "{output}");
        token
    }

    /// The shared fixtures' procedures and the user's authorisations (DESIGN 9b), written
    /// straight into this database as TestApp does.
    fn grant_fixture_competence(&self, name: &str, roles: &[&str]) {
        let database = caltrace::db::Database::open(&self.url, 1, 1).unwrap();
        let mut conn = database.get().unwrap();
        super::register_fixture_procedures(&mut conn);
        let user = caltrace::db::users::find_user(&mut conn, name)
            .unwrap()
            .expect("the user just added");
        let roles: Vec<caltrace::auth::UserRole> = roles
            .iter()
            .filter_map(|role| caltrace::auth::UserRole::parse(role))
            .collect();
        super::grant_competence(&mut conn, user.id, &roles);
    }

    /// `caltrace audit verify` must pass.
    pub fn assert_audit_intact(&self) -> String {
        let (ok, output) = self.cli(&["audit", "verify"]);
        assert!(ok && output.contains("audit log intact"), "{output}");
        output
    }
}

impl Drop for LiveDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.postgres {
            drop_postgres_database(admin_url, name);
        }
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `caltrace serve` as a child process; killed (SIGKILL) when dropped.
pub struct Server {
    pub port: u16,
    child: Child,
    pub log: PathBuf,
}

impl Server {
    /// Starts the service on the database and waits (generously: the machine
    /// may be busy compiling) until /healthz answers 200.
    pub fn start(database: &LiveDatabase, log_name: &str, env: &[(&str, &str)]) -> Server {
        let log = database.dir.path().join(log_name);
        // A port can be taken between probing and binding; try a few.
        for _attempt in 0..5 {
            let port = free_port();
            let log_file = std::fs::File::create(&log).unwrap();
            let mut command = Command::new(env!("CARGO_BIN_EXE_caltrace"));
            command
                .arg("serve")
                .env("ROCKET_DATABASE_URL", &database.url)
                .env("ROCKET_ADDRESS", "127.0.0.1")
                .env("ROCKET_PORT", port.to_string())
                .env("ROCKET_CLI_COLORS", "false")
                .env("ROCKET_LOG_LEVEL", "normal")
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().unwrap())
                .stderr(log_file);
            for (key, value) in env {
                command.env(key, value);
            }
            let child = command.spawn().expect("spawn caltrace serve");
            let mut server = Server {
                port,
                child,
                log: log.clone(),
            };
            if server.wait_ready(Duration::from_secs(120)) {
                return server;
            }
            drop(server);
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if !text.contains("in use") {
                panic!("caltrace serve did not become ready:\n{text}");
            }
        }
        panic!("caltrace serve found no free port");
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(response) = request(self.port, "GET", "/healthz", None, None) {
                if response.status == 200 {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// SIGKILL: no shutdown hooks, no flushing, like a power cut of the process.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().unwrap();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Response {
        request(self.port, "GET", path, token, None)
            .unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &serde_json::Value) -> Response {
        request(self.port, "POST", path, token, Some(&body.to_string()))
            .unwrap_or_else(|error| panic!("POST {path}: {error}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    // Generous: a loaded 2-core machine serving 200 clients in a debug build.
    stream.set_read_timeout(Some(Duration::from_secs(180)))?;
    stream.set_write_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nAccept: */*\r\n"
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method != "GET" {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn invalid(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_string())
}

fn parse_response(raw: &[u8]) -> std::io::Result<Response> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("incomplete response head"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if name == "content-length" {
                length = value.parse::<usize>().ok();
            }
        }
    }
    if chunked {
        body = dechunk(&body)?;
    } else if let Some(length) = length {
        if body.len() < length {
            return Err(invalid("response body cut short"));
        }
        body.truncate(length);
    }
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

fn dechunk(mut data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| invalid("bad chunk"))?;
        let size_text = String::from_utf8_lossy(&data[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .map_err(|_| invalid("bad chunk size"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(invalid("chunk cut short"));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[test]
fn the_http_client_reads_sized_and_chunked_bodies() {
    let sized = parse_response(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}").unwrap();
    assert_eq!((sized.status, sized.body.as_str()), (201, "{}"));
    let chunked = parse_response(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    )
    .unwrap();
    assert_eq!((chunked.status, chunked.body.as_str()), (200, "abcde"));
    assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab").is_err());
}
