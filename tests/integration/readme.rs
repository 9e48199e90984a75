//! The README's demo walk, run as written (issue 16): a fresh demo, the real
//! binary serving it, and steps 2 to 8 of "First steps" pasted into bash one
//! after another, as a newcomer would. `cargo run --release -- ARGS` is the
//! binary under test (a shell function), and the README's address is the
//! test server's. Each step must answer what its comments say, and no command
//! may get a problem+json back (a `null` id from a failed lookup included).

use std::process::Command;

use crate::common::live::{LiveDatabase, Server};

const README: &str = include_str!("../../README.md");

/// The ```sh blocks of "First steps", keyed by the number of their step.
fn walk_steps() -> Vec<(u32, String)> {
    let section = README
        .split("## First steps")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has a First steps section");
    let mut steps = Vec::new();
    let mut step = 0;
    let mut block: Option<String> = None;
    for line in section.lines() {
        let trimmed = line.trim_start();
        if block.is_none() {
            if let Some((number, _)) = trimmed.split_once(". **") {
                step = number.parse().unwrap_or(step);
            }
        }
        match (&mut block, trimmed) {
            // A step's own block is indented under its list item.
            (None, "```sh") if line.starts_with("   ") => block = Some(String::new()),
            (Some(text), "```") => {
                steps.push((step, std::mem::take(text)));
                block = None;
            }
            (Some(text), _) => {
                text.push_str(trimmed);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    steps.into_iter().filter(|(step, _)| *step >= 2).collect()
}

/// What each step's output must show, from the README's own comments.
fn expected(step: u32) -> &'static [&'static str] {
    match step {
        2 => &["out_of_tolerance", "not_yet_calibrated", "\"customers\""],
        3 => &[
            "\"broken_link\"",
            "standard_expired_at_use",
            "\"certificates\"",
        ],
        4 => &[
            "\"expanded_uncertainty\"",
            "\"effective_degrees_of_freedom\"",
        ],
        5 => &[
            "\"genuine\":null",
            "\"genuine\":true",
            "\"status\":\"issued\"",
        ],
        6 => &["\"entity\":\"calibration\"", "audit log intact"],
        7 => &["is already in the register", "caltrace_"],
        8 => &[
            "\"status\":\"draft\",",
            "\"kind\":\"external\"",
            "NIM-2026-L-0999",
        ],
        _ => &[],
    }
}

fn tokens(demo_output: &str) -> Vec<(String, String)> {
    demo_output
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (role, token) = (words.next()?, words.next()?);
            token
                .starts_with("ct_")
                .then(|| (role.to_ascii_uppercase(), token.to_string()))
        })
        .collect()
}

#[test]
fn the_demo_walk_runs_as_written() {
    let have = |tool: &str| Command::new(tool).arg("--version").output().is_ok();
    if !(have("jq") && have("curl")) {
        assert!(
            std::env::var_os("CALTRACE_REQUIRE_TOOLS").is_none(),
            "jq and curl are required (scripts/test.sh installs them)"
        );
        eprintln!("NOTE: jq or curl missing; the README walk is skipped");
        return;
    }
    let database = LiveDatabase::new();
    let (ok, demo) = database.cli(&["demo"]);
    assert!(ok, "{demo}");
    let server = Server::start(&database, "readme.log", &[]);
    let work = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests"),
        work.path().join("tests"),
    )
    .unwrap();
    let prelude = "cargo() { [ \"$1 $2\" = 'run --release' ] || return 99; shift 2; \
                   [ \"$1\" = -- ] && shift; \"$CALTRACE\" \"$@\"; }\n";
    // Step 1 on the pages approves the calibration awaiting approval: step 5
    // must still find a certificate to download.
    let step_one = format!(
        "for id in $(curl -s 'http://127.0.0.1:{port}/api/v1/calibrations?status=submitted' \
         -H \"Authorization: Bearer $APPROVER\" | jq '.items[].id'); do \
         curl -sf -X POST \"http://127.0.0.1:{port}/api/v1/calibrations/$id/approve\" \
         -H \"Authorization: Bearer $APPROVER\" >/dev/null || exit 1; done",
        port = server.port
    );
    let approved = Command::new("bash")
        .arg("-c")
        .arg(&step_one)
        .envs(tokens(&demo))
        .status()
        .unwrap();
    assert!(approved.success(), "step 1's approval");
    let mut state = String::new();
    for (step, block) in walk_steps() {
        let block = block.replace("127.0.0.1:8000", &format!("127.0.0.1:{}", server.port));
        // Variables set by one step (H, API, NUMBER) are there for the next.
        let script = format!("{prelude}{state}\n{block}\necho; declare -p H API NUMBER 2>/dev/null | sed 's/^declare -- //' > vars\n");
        let output = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(work.path())
            .env("CALTRACE", env!("CARGO_BIN_EXE_caltrace"))
            .env("ROCKET_DATABASE_URL", &database.url)
            .env("ROCKET_CLI_COLORS", "false")
            .envs(tokens(&demo))
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        for wanted in expected(step) {
            assert!(
                text.contains(wanted),
                "step {step}: {wanted} missing:\n{block}\n---\n{text}"
            );
        }
        assert!(
            !text.contains("urn:caltrace:problem"),
            "step {step} got an error back:\n{block}\n---\n{text}"
        );
        state = std::fs::read_to_string(work.path().join("vars")).unwrap_or_default();
    }
    assert!(state.contains("NUMBER="), "step 5 sets NUMBER: {state}");
}
