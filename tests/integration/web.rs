//! The web pages through rocket::local: login sessions, CSRF, roles, escaping, and the
//! approve → certificate → download → verify path a person takes.

use caltrace::auth::UserRole;
use caltrace::db::audit::Actor;
use caltrace::db::users;
use rocket::http::{ContentType, Status};
use serde_json::json;
use sha2::Digest;

use crate::common::fixtures::{calibration, issue, point, register, submitted};
use crate::common::TestApp;

const PASSWORD: &str = "correct horse battery";

struct Page {
    status: Status,
    location: Option<String>,
    body: String,
}

fn get(app: &TestApp, path: &str) -> Page {
    let response = app.client.get(path.to_string()).dispatch();
    Page {
        status: response.status(),
        location: response.headers().get_one("Location").map(str::to_string),
        body: response.into_string().unwrap_or_default(),
    }
}

fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> Page {
    let body = form
        .iter()
        .map(|(key, value)| format!("{key}={}", caltrace::web::url_encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let response = app
        .client
        .post(path.to_string())
        .header(ContentType::Form)
        .body(body)
        .dispatch();
    Page {
        status: response.status(),
        location: response.headers().get_one("Location").map(str::to_string),
        body: response.into_string().unwrap_or_default(),
    }
}

/// The value of a hidden input in a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_string()
}

/// Gives a user a password; the change revokes their tokens (DESIGN section 9), so
/// the test's token for them is issued again.
fn set_password(app: &mut TestApp, name: &str) {
    app.with_conn(|conn| users::set_password(conn, &Actor::command_line(), name, PASSWORD))
        .unwrap();
    let (_, token) = app
        .with_conn(|conn| users::create_token(conn, &Actor::command_line(), name))
        .unwrap();
    app.tokens.insert(name.to_string(), token);
}

/// Logs in through the form (the tracked client keeps the cookie); returns the answer.
fn login(app: &TestApp, name: &str, password: &str, next: &str) -> Page {
    let form = get(app, &format!("/login?next={next}"));
    assert_eq!(form.status, Status::Ok, "{}", form.body);
    let token = hidden(&form.body, "login_token");
    post_form(
        app,
        "/login",
        &[
            ("username", name),
            ("password", password),
            ("login_token", &token),
            ("next", next),
        ],
    )
}

/// A submitted calibration of `gauge` against `standard`, recorded by the technician.
fn pending(app: &TestApp, gauge: i64, standard: i64) -> i64 {
    submitted(
        app,
        &calibration(
            gauge,
            &[standard],
            "2026-05-10",
            vec![point(0.5003, 0.0002)],
        ),
    )
}

/// The login form's token is an HMAC of its cookie under a server secret (issue 21: it was
/// bound to nothing): someone who can plant the login cookie (a sibling subdomain) and post
/// the same value as the token, the classic double-submit bypass, is refused.
#[test]
fn a_planted_login_cookie_with_its_own_value_as_token_is_refused() {
    let mut app = TestApp::new();
    set_password(&mut app, "inspector");
    let planted = "ab".repeat(32);
    let response = app
        .client
        .post("/login")
        .header(ContentType::Form)
        .cookie(rocket::http::Cookie::new("caltrace_login", planted.clone()))
        .body(format!(
            "username=inspector&password={}&login_token={planted}&next=/",
            PASSWORD.replace(' ', "+")
        ))
        .dispatch();
    assert_eq!(response.status(), Status::Forbidden);
    assert!(response.cookies().get("caltrace_session").is_none());
    // The token the page gives is not the cookie's value, and it logs in.
    let form = get(&app, "/login");
    let token = hidden(&form.body, "login_token");
    assert_eq!(token.len(), 64);
    assert_ne!(token, planted);
    let welcomed = login(&app, "inspector", PASSWORD, "/");
    assert_eq!(welcomed.status, Status::SeeOther);
}

#[test]
fn pages_need_a_login_and_a_wrong_password_gets_none() {
    let mut app = TestApp::new();
    set_password(&mut app, "inspector");
    let page = get(&app, "/instruments?q=PG");
    assert_eq!(page.status, Status::SeeOther);
    assert_eq!(
        page.location.as_deref(),
        Some("/login?next=/instruments%3Fq%3DPG")
    );

    let refused = login(&app, "inspector", "wrong password!", "/");
    assert_eq!(refused.status, Status::Unauthorized);
    assert!(refused.body.contains("Unknown user name or wrong password"));
    let refused = login(&app, "nobody", PASSWORD, "/");
    assert_eq!(refused.status, Status::Unauthorized);
    assert_eq!(get(&app, "/").status, Status::SeeOther);

    // A login form posted without the token of the page it came from is refused.
    let forged = post_form(
        &app,
        "/login",
        &[
            ("username", "inspector"),
            ("password", PASSWORD),
            ("login_token", "x"),
        ],
    );
    assert_eq!(forged.status, Status::Forbidden);

    // Only local paths are followed after login.
    let welcomed = login(&app, "inspector", PASSWORD, "//evil.example/");
    assert_eq!(welcomed.status, Status::SeeOther);
    assert_eq!(welcomed.location.as_deref(), Some("/"));
    let dashboard = get(&app, "/");
    assert_eq!(dashboard.status, Status::Ok);
    assert!(dashboard.body.contains("inspector"));
    // No signing identity here: the dashboard says what is issued is not signed (DESIGN 8b).
    assert!(
        dashboard
            .body
            .contains("issued without a digital signature"),
        "{}",
        dashboard.body
    );
    // An inspector does not see the certificate list and is refused it.
    assert!(!dashboard.body.contains("href=\"/certificates\""));
    assert_eq!(get(&app, "/certificates").status, Status::Forbidden);

    // Logging out ends the session on the server, not only in the browser.
    let csrf = hidden(&dashboard.body, "csrf_token");
    assert_eq!(
        post_form(&app, "/logout", &[("csrf_token", &csrf)]).status,
        Status::SeeOther
    );
    assert_eq!(get(&app, "/").status, Status::SeeOther);
    let live: i64 = app.with_conn(|conn| {
        use diesel::prelude::*;
        caltrace::db::schema::web_sessions::table
            .count()
            .get_result(conn)
            .unwrap()
    });
    assert_eq!(live, 0);
}

/// Password guessing is throttled per account: after five failures within 15 minutes the
/// account refuses logins (429, the password not even checked) while other accounts log in; a
/// success forgets earlier failures. Counted in the database, so every instance agrees.
#[test]
fn repeated_wrong_passwords_lock_the_account_for_a_while() {
    let mut app = TestApp::new();
    for name in ["technician", "approver", "auditor"] {
        set_password(&mut app, name);
    }
    for attempt in 1..=users::LOGIN_ATTEMPTS {
        let refused = login(&app, "technician", &format!("guess {attempt}"), "/");
        assert_eq!(refused.status, Status::Unauthorized, "attempt {attempt}");
    }
    let locked = login(&app, "technician", PASSWORD, "/");
    assert_eq!(locked.status, Status::TooManyRequests);
    assert!(
        locked
            .body
            .contains("Too many failed logins for this account. Try again in 15 minutes."),
        "{}",
        locked.body
    );
    assert_eq!(
        get(&app, "/").status,
        Status::SeeOther,
        "no session was opened"
    );
    let other = login(&app, "approver", PASSWORD, "/");
    assert_eq!(other.status, Status::SeeOther);
    assert_eq!(get(&app, "/").status, Status::Ok);

    // A success forgets the failures before it; the count starts again.
    app.with_conn(|conn| -> Result<(), caltrace::error::ApiError> {
        for _ in 1..users::LOGIN_ATTEMPTS {
            assert!(matches!(
                users::attempt_login(conn, "auditor", "guess")?,
                users::LoginOutcome::Refused
            ));
        }
        assert!(matches!(
            users::attempt_login(conn, "auditor", PASSWORD)?,
            users::LoginOutcome::Accepted(user) if user.name == "auditor"
        ));
        let first_failure = std::time::Instant::now();
        for _ in 0..users::LOGIN_ATTEMPTS {
            assert!(matches!(
                users::attempt_login(conn, "auditor", "guess")?,
                users::LoginOutcome::Refused
            ));
        }
        // The lock-out runs 15 minutes from the failures: what remains depends on
        // how long the (deliberately slow) hashing took on this machine.
        let waited = first_failure.elapsed().as_secs() + 1;
        match users::attempt_login(conn, "auditor", PASSWORD)? {
            users::LoginOutcome::Throttled {
                retry_after_seconds,
            } => assert!(
                retry_after_seconds <= 900 && retry_after_seconds + waited as i64 >= 900,
                "{retry_after_seconds} s left after {waited} s"
            ),
            _ => panic!("the sixth attempt after five failures must be throttled"),
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn approving_needs_the_approver_role_and_the_session_csrf_token() {
    let mut app = TestApp::new();
    set_password(&mut app, "technician");
    set_password(&mut app, "approver");
    let national = register(&app, "NIM-P", "national");
    let gauge = register(&app, "PG-1", "working");
    let id = pending(&app, gauge, national);
    let path = format!("/calibrations/{id}");

    assert_eq!(
        login(&app, "technician", PASSWORD, &path).status,
        Status::SeeOther
    );
    let page = get(&app, &path);
    assert_eq!(page.status, Status::Ok, "{}", page.body);
    assert!(page.body.contains("submitted"));
    assert!(
        !page.body.contains("id=\"approve\""),
        "no button for a technician"
    );
    let csrf = hidden(&page.body, "csrf_token");
    let refused = post_form(&app, &format!("{path}/approve"), &[("csrf_token", &csrf)]);
    assert_eq!(refused.status, Status::Forbidden);
    assert!(refused.body.contains("approver"), "{}", refused.body);
    post_form(&app, "/logout", &[("csrf_token", &csrf)]);

    assert_eq!(
        login(&app, "approver", PASSWORD, &path).status,
        Status::SeeOther
    );
    let page = get(&app, &path);
    assert!(page.body.contains("Sign, approve and issue"));
    // Without the session's CSRF token nothing happens.
    for token in ["", "0000", &csrf] {
        let forged = post_form(&app, &format!("{path}/approve"), &[("csrf_token", token)]);
        assert_eq!(forged.status, Status::Forbidden, "token {token:?}");
    }
    let (_, record) = app.get(&format!("/api/v1/calibrations/{id}"), Some("approver"));
    assert_eq!(record["status"], "submitted");

    let csrf = hidden(&page.body, "csrf_token");
    // Approving is an electronic signature (21 CFR 11.50, 11.200): without the approver's own
    // password nothing is signed, and the attempt is audited.
    let approve = |password: &str| {
        post_form(
            &app,
            &format!("{path}/approve"),
            &[
                ("csrf_token", &csrf),
                ("password", password),
                ("meaning", "released for use"),
            ],
        )
    };
    let unsigned = approve("not my password");
    assert_eq!(unsigned.status, Status::Forbidden);
    assert!(
        unsigned.body.contains("password does not match"),
        "{}",
        unsigned.body
    );
    let (_, record) = app.get(&format!("/api/v1/calibrations/{id}"), Some("approver"));
    assert_eq!(record["status"], "submitted");
    let (_, audit) = app.get(
        &format!("/api/v1/audit?entity=calibration&entity_id={id}"),
        Some("auditor"),
    );
    let last = audit["items"].as_array().unwrap().last().unwrap();
    assert_eq!(last["action"], "signature_refused", "{audit}");
    assert_eq!(last["user_name"], "approver");

    let approved = approve(PASSWORD);
    assert_eq!(approved.status, Status::SeeOther, "{}", approved.body);
    assert_eq!(approved.location.as_deref(), Some(path.as_str()));
    let (_, record) = app.get(&format!("/api/v1/calibrations/{id}"), Some("approver"));
    assert_eq!(record["approval_meaning"], "released for use");
    assert!(record["approved_at"].as_str().unwrap().ends_with('Z'));
    let (_, record) = app.get(&format!("/api/v1/calibrations/{id}"), Some("approver"));
    assert_eq!(record["status"], "issued");
    let number = record["certificate_number"].as_str().unwrap().to_string();
    let page = get(&app, &path);
    assert!(page.body.contains(&number) && !page.body.contains("Approve and issue"));

    // The certificate page, its PDF as issued, and the public verification page.
    let certificate = get(&app, &format!("/certificates/{number}"));
    assert_eq!(certificate.status, Status::Ok);
    let (_, listed) = app.get("/api/v1/certificates", Some("auditor"));
    let sha256 = listed["items"][0]["sha256"].as_str().unwrap().to_string();
    assert!(certificate.body.contains(&sha256));
    let response = app
        .client
        .get(format!("/certificates/{number}/pdf"))
        .dispatch();
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::PDF));
    let bytes = response.into_bytes().unwrap();
    assert_eq!(
        caltrace::domain::audit::hex(&sha2::Sha256::digest(&bytes)),
        sha256
    );
    let verify = get(&app, &format!("/verify/{number}?sha256={sha256}"));
    assert_eq!(verify.status, Status::Ok);
    assert!(
        verify.body.contains("Genuine and current"),
        "{}",
        verify.body
    );
    assert!(verify.body.contains("CPG1500"));
}

/// Four eyes on the pages: an admin-approver who submitted a technician's draft
/// sees why they cannot decide, and neither approve nor reject goes through.
#[test]
fn the_pages_refuse_a_decision_by_a_submitter() {
    let mut app = TestApp::new();
    app.add_user(
        "chief",
        &[UserRole::Admin, UserRole::Technician, UserRole::Approver],
    );
    set_password(&mut app, "chief");
    let national = register(&app, "NIM-P", "national");
    let gauge = register(&app, "PG-1", "working");
    let body = calibration(
        gauge,
        &[national],
        "2026-05-10",
        vec![point(0.5003, 0.0002)],
    );
    let (_, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
    let id = created["id"].as_i64().unwrap();
    let (status, _) = app.post(
        &format!("/api/v1/calibrations/{id}/submit"),
        Some("chief"),
        &json!({}),
    );
    assert_eq!(status, Status::Ok);
    let path = format!("/calibrations/{id}");
    login(&app, "chief", PASSWORD, &path);
    let page = get(&app, &path);
    assert!(!page.body.contains("id=\"approve\""), "{}", page.body);
    assert!(page.body.contains("four eyes"), "{}", page.body);
    let csrf = hidden(&page.body, "csrf_token");
    let approved = post_form(&app, &format!("{path}/approve"), &[("csrf_token", &csrf)]);
    assert_eq!(approved.status, Status::Forbidden);
    let rejected = post_form(
        &app,
        &format!("{path}/reject"),
        &[("csrf_token", &csrf), ("reason", "mine")],
    );
    assert_eq!(rejected.status, Status::Forbidden);
    let (_, record) = app.get(&format!("/api/v1/calibrations/{id}"), Some("auditor"));
    assert_eq!(record["status"], "submitted");
}

/// The probe's findings (issue 21): `next` with a tab gave a 500 and left a
/// session row without a cookie; pages were sent without a CSP and could be
/// cached with someone's data in them.
#[test]
fn login_refuses_control_characters_in_next_and_pages_are_never_cached() {
    let mut app = TestApp::new();
    set_password(&mut app, "inspector");
    let form = get(&app, "/login?next=/");
    let token = hidden(&form.body, "login_token");
    let refused = post_form(
        &app,
        "/login",
        &[
            ("username", "inspector"),
            ("password", PASSWORD),
            ("login_token", &token),
            ("next", "/instruments\tx"),
        ],
    );
    assert_eq!(
        refused.status,
        Status::UnprocessableEntity,
        "{}",
        refused.body
    );
    assert!(refused.body.contains("next"), "{}", refused.body);
    let sessions: i64 = app.with_conn(|conn| {
        use caltrace::db::schema::web_sessions;
        use diesel::prelude::*;
        web_sessions::table.count().get_result(conn).unwrap()
    });
    assert_eq!(sessions, 0, "no session for a refused login");
    let response = app.client.get("/login").dispatch();
    let csp = response
        .headers()
        .get_one("Content-Security-Policy")
        .unwrap_or_default();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(
        response.headers().get_one("Cache-Control"),
        Some("no-store")
    );
    let api = app.client.get("/healthz").dispatch();
    assert_eq!(
        api.headers().get_one("Content-Security-Policy"),
        None,
        "JSON is not a page"
    );
}

#[test]
fn reject_from_the_page_records_the_reason() {
    let mut app = TestApp::new();
    set_password(&mut app, "approver");
    let national = register(&app, "NIM-P", "national");
    let gauge = register(&app, "PG-1", "working");
    let id = pending(&app, gauge, national);
    let path = format!("/calibrations/{id}");
    login(&app, "approver", PASSWORD, &path);
    let csrf = hidden(&get(&app, &path).body, "csrf_token");
    let empty = post_form(
        &app,
        &format!("{path}/reject"),
        &[("csrf_token", &csrf), ("reason", "  ")],
    );
    assert_eq!(empty.status, Status::UnprocessableEntity);
    assert!(empty.body.contains("reason"), "{}", empty.body);
    let rejected = post_form(
        &app,
        &format!("{path}/reject"),
        &[("csrf_token", &csrf), ("reason", "point 1 <unreadable>")],
    );
    assert_eq!(rejected.status, Status::SeeOther);
    let page = get(&app, &path);
    assert!(page.body.contains("rejected"));
    assert!(
        page.body.contains("point 1 &lt;unreadable&gt;"),
        "escaped reason"
    );
}

#[test]
fn instrument_pages_search_show_validity_chain_and_escape_text() {
    let mut app = TestApp::new();
    set_password(&mut app, "inspector");
    let national = register(&app, "NIM-P", "national");
    let gauge = register(&app, "PG-1", "working");
    issue(
        &app,
        &calibration(
            gauge,
            &[national],
            "2026-05-10",
            vec![point(0.5003, 0.0002)],
        ),
    );
    let mut hostile = crate::common::pressure_gauge("<script>alert(1)</script>", "SN-X");
    hostile["description"] = json!("\"quoted\" & <b>bold</b>");
    let (status, _) = app.post("/api/v1/instruments", Some("admin"), &hostile);
    assert_eq!(status, Status::Created);

    login(&app, "inspector", PASSWORD, "/");
    let list = get(&app, "/instruments?q=pg-1");
    assert_eq!(list.status, Status::Ok);
    assert!(list
        .body
        .contains(&format!("href=\"/instruments/{gauge}\"")));
    assert!(list.body.contains("1 found"));
    assert!(!list.body.contains("NIM-P"), "the search filters");
    let bad = get(&app, "/instruments?role=wizard");
    assert_eq!(bad.status, Status::UnprocessableEntity);

    let everything = get(&app, "/instruments");
    assert!(!everything.body.contains("<script>alert(1)"), "escaped");
    assert!(everything
        .body
        .contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"));
    assert!(everything.body.contains("&lt;b&gt;bold&lt;&#x2F;b&gt;"));

    let page = get(&app, &format!("/instruments/{gauge}?at=2026-06-01"));
    assert_eq!(page.status, Status::Ok, "{}", page.body);
    assert!(page.body.contains("<strong>Valid</strong>"));
    assert!(page.body.contains("Traceable to NIM"));
    assert!(page.body.contains("<svg") && page.body.contains("role=\"img\""));
    assert!(
        page.body.contains(&format!("/instruments/{national}")),
        "the chain links up"
    );
    // The same chain as a nested list of links, for screen readers and text browsers.
    let list = &page.body[page.body.find("The chain as a list").unwrap()..];
    assert!(
        list.contains(&format!(
            "<a href=\"/instruments/{national}\">NIM-P</a> (national)"
        )),
        "{list}"
    );
    let before = get(&app, &format!("/instruments/{gauge}?at=2026-01-01"));
    assert!(
        before.body.contains("not yet calibrated"),
        "{}",
        before.body
    );
    assert_eq!(get(&app, "/instruments/99999").status, Status::NotFound);
    assert_eq!(
        get(&app, &format!("/instruments/{gauge}?at=someday")).status,
        Status::UnprocessableEntity
    );
}

#[test]
fn dashboard_lists_what_needs_attention() {
    let mut app = TestApp::new();
    set_password(&mut app, "approver");
    let national = register(&app, "NIM-P", "national");
    let overdue = register(&app, "PG-OLD", "working");
    let failed = register(&app, "PG-FAIL", "working");
    let waiting = register(&app, "PG-WAIT", "working");
    issue(
        &app,
        &calibration(
            overdue,
            &[national],
            "2024-01-10",
            vec![point(0.5003, 0.0002)],
        ),
    );
    let today = chrono::Utc::now().date_naive().to_string();
    issue(
        &app,
        &calibration(failed, &[national], &today, vec![point(0.5020, 0.0002)]),
    );
    let waiting_id = pending(&app, waiting, national);
    // Overdue too, but suspended: out of service, so recalled by neither list.
    let parked = register(&app, "PG-PARKED", "working");
    issue(
        &app,
        &calibration(
            parked,
            &[national],
            "2024-01-10",
            vec![point(0.5003, 0.0002)],
        ),
    );
    let (status, _) = app.post(
        &format!("/api/v1/instruments/{parked}/suspend"),
        Some("technician"),
        &json!({"reason": "sent for repair"}),
    );
    assert_eq!(status, Status::Ok);
    let (_, recalls) = app.get("/api/v1/recalls", Some("inspector"));
    let recalled = recalls.to_string();
    assert!(
        recalled.contains("PG-OLD") && !recalled.contains("PG-PARKED"),
        "{recalls}"
    );
    login(&app, "approver", PASSWORD, "/");
    let page = get(&app, "/");
    assert_eq!(page.status, Status::Ok);
    let section = |id: &str| {
        let start = page.body.find(&format!("<section id=\"{id}\">")).unwrap();
        let end = page.body[start..].find("</section>").unwrap() + start;
        page.body[start..end].to_string()
    };
    assert!(section("overdue").contains("PG-OLD"));
    assert!(!section("overdue").contains("PG-FAIL"));
    assert!(
        !section("overdue").contains("PG-PARKED"),
        "{}",
        section("overdue")
    );
    assert!(section("oot").contains("PG-FAIL"));
    assert!(!section("oot").contains("PG-OLD"));
    assert!(section("approval").contains(&format!("/calibrations/{waiting_id}")));
    assert!(!section("approval").contains("PG-OLD"));
}

/// The text of the dashboard's section `id`, and the asset tags it links to, in order.
fn dashboard_group(page: &str, id: &str) -> (String, Vec<String>) {
    let start = page
        .find(&format!("<section id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no section {id}"));
    let end = page[start..].find("</section>").unwrap() + start;
    let section = page[start..end].to_string();
    let tags = section
        .split("<a href=\"/instruments/")
        .skip(1)
        .filter_map(|rest| {
            let text = rest.split_once('>')?.1;
            let tag = text.split('<').next()?;
            (!tag.is_empty()).then(|| tag.to_string())
        })
        .collect();
    (section, tags)
}

/// DESIGN 9c: the dashboard also lists what is withdrawn, not traceable, suspended or never
/// calibrated, each in its own group, counted, with the withdrawal's and the suspension's
/// date and reason; retired instruments and national standards are in none.
#[test]
fn dashboard_groups_withdrawn_untraceable_suspended_and_never_calibrated() {
    let mut app = TestApp::new();
    set_password(&mut app, "approver");
    let today = chrono::Utc::now().date_naive();
    let day = (today - chrono::Duration::days(20)).to_string();
    let national = register(&app, "NIM-P", "national");
    let reference = register(&app, "PG-REF", "reference");
    let downstream = register(&app, "PG-DOWN", "working");
    let orphan = register(&app, "PG-ORPHAN", "working");
    let parked = register(&app, "PG-PARKED", "working");
    let _new = register(&app, "PG-NEW", "working");
    let waiting = register(&app, "PG-WAIT", "working");
    let retired = register(&app, "PG-GONE", "working");
    let ok = |body: &serde_json::Value| issue(&app, body);
    let standard = ok(&calibration(
        reference,
        &[national],
        &day,
        vec![point(0.5001, 0.0001)],
    ));
    ok(&calibration(
        downstream,
        &[reference],
        &day,
        vec![point(0.5001, 0.0002)],
    ));
    // Against nothing: approved with its deviation stated, its chain broken from the start.
    ok(&calibration(orphan, &[], &day, vec![point(0.5001, 0.0002)]));
    ok(&calibration(
        parked,
        &[national],
        &day,
        vec![point(0.5001, 0.0002)],
    ));
    pending(&app, waiting, national);
    let number = standard["certificate_number"].as_str().unwrap().to_string();
    let (status, _) = app.post(
        &format!("/api/v1/certificates/{number}/withdraw"),
        Some("approver"),
        &json!({"reason": "piston damaged in transport"}),
    );
    assert_eq!(status, Status::Ok);
    for (id, action, reason) in [
        (parked, "suspend", "sent for repair"),
        (retired, "retire", "scrapped"),
    ] {
        let (status, body) = app.post(
            &format!("/api/v1/instruments/{id}/{action}"),
            Some("technician"),
            &json!({"reason": reason}),
        );
        assert_eq!(status, Status::Ok, "{body}");
    }
    // The recall list keeps its contract: due and overdue only.
    let (status, recalls) = app.get("/api/v1/recalls", Some("inspector"));
    assert_eq!(status, Status::Ok);
    assert_eq!(recalls["customers"], json!([]), "{recalls}");

    login(&app, "approver", PASSWORD, "/");
    let page = get(&app, "/");
    assert_eq!(page.status, Status::Ok);
    let (withdrawn, tags) = dashboard_group(&page.body, "withdrawn");
    assert_eq!(tags, ["PG-REF"]);
    assert!(withdrawn.contains(&number), "{withdrawn}");
    assert!(withdrawn.contains(&today.to_string()), "{withdrawn}");
    assert!(
        withdrawn.contains("piston damaged in transport"),
        "{withdrawn}"
    );
    // The withdrawal broke the chain of what was calibrated against PG-REF.
    let (_, tags) = dashboard_group(&page.body, "not-traceable");
    assert_eq!(tags, ["PG-ORPHAN", "PG-DOWN"]);
    let (suspended, tags) = dashboard_group(&page.body, "suspended");
    assert_eq!(tags, ["PG-PARKED"]);
    assert!(suspended.contains("sent for repair"), "{suspended}");
    assert!(suspended.contains(&today.to_string()), "{suspended}");
    let (_, tags) = dashboard_group(&page.body, "never-calibrated");
    assert_eq!(tags, ["PG-NEW", "PG-WAIT"]);
    for (card, count) in [
        ("withdrawn", 1),
        ("not traceable", 2),
        ("suspended", 1),
        ("never calibrated", 2),
    ] {
        let text = format!("<span class=\"count\">{count}</span> {card}</a>");
        assert!(page.body.contains(&text), "{text} in {}", page.body);
    }
}

/// Each group counts in full and shows its first rows; a customer's scope filters it in SQL.
#[test]
fn dashboard_groups_are_capped_counted_and_scoped() {
    use caltrace::db::pages::{dashboard, GROUP_ROWS};
    use caltrace::domain::people::Scope;
    let app = TestApp::new();
    let extra = GROUP_ROWS as usize + 3;
    for n in 0..extra {
        register(&app, &format!("PG-N{n:02}"), "working");
    }
    let mut other = crate::common::pressure_gauge("OT-1", "SN-OT-1");
    other["customer"] = json!("Other Works");
    let (status, other) = app.post("/api/v1/instruments", Some("admin"), &other);
    assert_eq!(status, Status::Created, "{other}");
    let today = chrono::Utc::now().date_naive();
    let everything = app
        .with_conn(|conn| dashboard(conn, today, 30, &Scope::Everything))
        .unwrap();
    assert_eq!(everything.never_calibrated.total, extra as i64 + 1);
    let shown: Vec<&str> = everything
        .never_calibrated
        .rows
        .iter()
        .map(|row| row.asset_tag.as_str())
        .collect();
    let expected: Vec<String> = (0..GROUP_ROWS).map(|n| format!("PG-N{n:02}")).collect();
    assert_eq!(shown, expected);
    let customer_id: i64 = app
        .with_conn(|conn| {
            use caltrace::db::schema::instruments;
            use diesel::prelude::*;
            instruments::table
                .select(instruments::customer_id.assume_not_null())
                .filter(instruments::asset_tag.eq("OT-1"))
                .first(conn)
        })
        .unwrap();
    let scope = Scope::Customers {
        user_id: 0,
        customer_ids: vec![customer_id],
    };
    let scoped = app
        .with_conn(|conn| dashboard(conn, today, 30, &scope))
        .unwrap();
    assert_eq!(scoped.never_calibrated.total, 1);
    assert_eq!(scoped.never_calibrated.rows[0].asset_tag, "OT-1");
    assert_eq!(scoped.withdrawn.total, 0);
}

/// A pressure point at `at` MPa indicating `at + 0.0001` with a stated U.
fn point_at(at: f64, u: f64) -> serde_json::Value {
    json!({"stage": "as_found", "reference": {"value": at, "unit": "MPa"},
           "indicated": {"value": at + 0.0001, "unit": "MPa"}, "tolerance": {"value": 0.002, "unit": "MPa"},
           "stated_uncertainty": {"expanded_uncertainty": {"value": u, "unit": "MPa"}, "coverage_factor": 2}})
}

/// DESIGN 9c: a point whose U is smaller than the standard's U at that point is flagged on the
/// record (GET) and the page, naming the standard's asset tag and its U there. The standard's
/// best U (0.0001 MPa at 0.2 MPa) is below every point of the gauge; only the point at 0.8 MPa
/// is below the standard's U at 0.8 MPa (0.0005 MPa), so only it is flagged.
#[test]
fn a_point_below_its_standards_uncertainty_is_flagged_on_the_record_and_the_page() {
    let mut app = TestApp::new();
    set_password(&mut app, "approver");
    let national = register(&app, "NIM-P", "national");
    let standard = register(&app, "REF-U", "reference");
    let gauge = register(&app, "PG-U", "working");
    let mut standards_certificate = calibration(
        standard,
        &[national],
        "2026-04-01",
        vec![point_at(0.2, 0.0001), point_at(0.8, 0.0005)],
    );
    standards_certificate["kind"] = json!("external");
    standards_certificate["issuer"] = json!({"name": "NIM", "certificate_number": "NIM-2026-009"});
    issue(&app, &standards_certificate);
    let mut body = calibration(
        gauge,
        &[standard],
        "2026-05-10",
        vec![point_at(0.2, 0.0002), point_at(0.8, 0.0003)],
    );
    body["deviations"] = serde_json::Value::Null;
    let id = submitted(&app, &body);
    let (status, record) = app.get(&format!("/api/v1/calibrations/{id}"), Some("inspector"));
    assert_eq!(status, Status::Ok, "{record}");
    assert_eq!(
        record["uncertainty_below_standard"],
        json!([{
            "point": 1,
            "reference": {"value": 0.8, "unit": "MPa"},
            "expanded_uncertainty": {"value": 0.0003, "unit": "MPa"},
            "standard_id": standard,
            "standard_asset_tag": "REF-U",
            "standard_certificate_number": "NIM-2026-009",
            "standard_reference": {"value": 0.8, "unit": "MPa"},
            "standard_uncertainty": {"value": 0.0005, "unit": "MPa"},
        }])
    );
    // The record itself is unchanged beside the flag.
    assert_eq!(record["id"], json!(id));
    assert_eq!(record["points"].as_array().unwrap().len(), 2);
    // Approval refuses it without deviations, naming the point, the standard and both U.
    let (status, problem) = app.post(
        &format!("/api/v1/calibrations/{id}/approve"),
        Some("approver"),
        &json!({}),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{problem}");
    assert_eq!(
        problem["errors"][0]["message"].as_str().unwrap(),
        "the point at 0.8 MPa: U = 0.0003 MPa is smaller than the U = 0.0005 MPa of standard \
         REF-U at 0.8 MPa: the standard's uncertainty is part of every result obtained with it; \
         add it to the budget, or state the deviation in `deviations` (it is printed on the \
         certificate)"
    );
    login(&app, "approver", PASSWORD, "/");
    let page = get(&app, &format!("/calibrations/{id}"));
    assert_eq!(page.status, Status::Ok);
    let start = page
        .body
        .find("id=\"uncertainty-below-standard\"")
        .unwrap_or_else(|| panic!("no warning in {}", page.body));
    let warning = &page.body[start..start + page.body[start..].find("</div>").unwrap()];
    assert!(
        warning.contains(
            "Point at 0.8 MPa: U = 0.0003 MPa, below the U = 0.0005 MPa of standard \
             <a href=\"/instruments/"
        ) && warning.contains(">REF-U</a> at 0.8 MPa (certificate NIM-2026-009)"),
        "{warning}"
    );
    assert!(!warning.contains("Point at 0.2 MPa"), "{warning}");
    // A calibration above its standard's U at every point carries an empty list, and no warning.
    let fine = submitted(
        &app,
        &calibration(
            gauge,
            &[standard],
            "2026-05-11",
            vec![point_at(0.8, 0.0006)],
        ),
    );
    let (_, record) = app.get(&format!("/api/v1/calibrations/{fine}"), Some("inspector"));
    assert_eq!(record["uncertainty_below_standard"], json!([]));
    let page = get(&app, &format!("/calibrations/{fine}"));
    assert!(!page.body.contains("uncertainty-below-standard"));
}

/// The calibration page of an external calibration shows its issuer's certificate file
/// (DESIGN 9c) with its hash and links to it; the link serves the bytes to the session.
#[test]
fn the_calibration_page_links_the_issuers_certificate_file() {
    let mut app = TestApp::new();
    set_password(&mut app, "approver");
    let national = register(&app, "NIM-P", "national");
    let standard = register(&app, "TS-1", "reference");
    let accepted = issue(
        &app,
        &crate::common::fixtures::external(standard, &[national], "2026-04-01", "NIM-2026-042"),
    );
    let id = accepted["id"].as_i64().unwrap();
    login(&app, "approver", PASSWORD, "/");
    let page = get(&app, &format!("/calibrations/{id}"));
    assert!(
        page.body
            .contains("<dd id=\"issuer-file\">not uploaded</dd>"),
        "{}",
        page.body
    );
    let pdf = b"%PDF-1.4\n%%EOF\n";
    let response = app
        .client
        .put(format!("/api/v1/calibrations/{id}/issuer-certificate"))
        .header(ContentType::PDF)
        .header(app.auth(Some("technician")).unwrap())
        .body(pdf.as_slice())
        .dispatch();
    assert_eq!(response.status(), Status::Ok);
    let hash: String = sha2::Sha256::digest(pdf)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let page = get(&app, &format!("/calibrations/{id}"));
    assert!(
        page.body.contains(&format!(
            "<a href=\"/calibrations/{id}/issuer-certificate\">PDF, 15 bytes</a>, SHA-256 <code>{hash}</code>"
        )),
        "{}",
        page.body
    );
    let response = app
        .client
        .get(format!("/calibrations/{id}/issuer-certificate"))
        .dispatch();
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.into_bytes().unwrap(), pdf);
}

/// The calibration page shows what an assessor asks first: each point's
/// uncertainty budget, the condition on receipt as recorded, the deviations,
/// and who recorded, submitted and decided, from the audit log.
#[test]
fn the_calibration_page_shows_budgets_condition_and_history() {
    let mut app = TestApp::new();
    set_password(&mut app, "approver");
    let national = register(&app, "NIM-P", "national");
    let gauge = register(&app, "PG-1", "working");
    let mut body = calibration(
        gauge,
        &[national],
        "2026-05-10",
        vec![point(0.5002, 0.0002)],
    );
    body["points"][0]
        .as_object_mut()
        .unwrap()
        .remove("stated_uncertainty");
    body["points"][0]["budget"] = json!({"components": [
        {"name": "repeatability", "type": "A", "readings": [0.5001, 0.5003, 0.5002, 0.5002], "unit": "MPa"},
        {"name": "reference standard", "type": "B", "distribution": "normal", "expanded_uncertainty": 0.0001, "coverage_factor": 2, "unit": "MPa"}]});
    body["condition_on_receipt"] = json!("Pointer bent <reset>");
    let id = submitted(&app, &body);
    let path = format!("/calibrations/{id}");
    login(&app, "approver", PASSWORD, &path);
    let page = get(&app, &path).body;
    for expected in [
        "Uncertainty budget of point 1",
        "repeatability",
        "reference standard",
        // u = 0.0001 / 2 = 5.00e-5 MPa, printed to three significant digits.
        "0.0000500 MPa",
        "Pointer bent &lt;reset&gt;",
        "Chain built by the test as far as it needs",
        "id=\"history\"",
        "<td>create</td><td>technician</td>",
        "<td>submit</td><td>technician</td>",
    ] {
        assert!(page.contains(expected), "{expected} missing:\n{page}");
    }
}

/// A point whose budget is a model shows the model, y and each input's estimate beside the
/// computed sensitivity coefficient (DESIGN 5b).
#[test]
fn the_calibration_page_shows_a_model_budget_with_its_sensitivities() {
    let mut app = TestApp::new();
    set_password(&mut app, "approver");
    let national = register(&app, "NIM-P", "national");
    let gauge = register(&app, "PG-1", "working");
    let mut body = calibration(
        gauge,
        &[national],
        "2026-05-10",
        vec![point(0.5003, 0.0002)],
    );
    body["points"][0]
        .as_object_mut()
        .unwrap()
        .remove("stated_uncertainty");
    body["points"][0]["budget"] = crate::common::fixtures::pressure_balance_budget();
    let id = submitted(&app, &body);
    let path = format!("/calibrations/{id}");
    login(&app, "approver", PASSWORD, &path);
    let page = get(&app, &path).body;
    for expected in [
        "Uncertainty budget of point 1",
        // Tera escapes '/' in text as &#x2F;.
        "<code>p_ind - m * g_l &#x2F; A0</code> = 0.0003 MPa",
        "sensitivity coefficients",
        // x̂ and c = ∂f/∂X at the estimates, three significant digits for c.
        "<td>m</td><td>5 kg</td>",
        "-0.100 MPa&#x2F;kg",
        "<td>98.0665 mm^2</td>",
        "0.00510 MPa&#x2F;(mm^2)",
        // k = t(0.97725, 2) from ν_eff = 2.12.
        "k = 4.53",
    ] {
        assert!(page.contains(expected), "{expected} missing:\n{page}");
    }
}

/// The calculator page (DESIGN 5b): a model and its inputs typed into a form, the GUM and Monte
/// Carlo results side by side, the histogram drawn with the GUM interval on it; bad input is
/// shown with its field and message.
#[test]
fn the_calculator_page_evaluates_a_model_by_both_methods() {
    let mut app = TestApp::new();
    set_password(&mut app, "technician");
    assert_eq!(
        get(&app, "/calculator").status,
        Status::SeeOther,
        "a login first"
    );
    login(&app, "technician", PASSWORD, "/calculator");
    let blank = get(&app, "/calculator");
    assert_eq!(blank.status, Status::Ok);
    assert!(blank
        .body
        .contains(r#"<a href="/calculator" aria-current="page">Calculator</a>"#));
    assert!(
        blank
            .body
            .contains("V^2 &#x2F; R0 &#x2F; (1 + alpha * (t - t0))"),
        "the example"
    );
    let csrf = hidden(&blank.body, "csrf_token");
    // DESIGN 5b's example, 10⁴ trials with seed 7.
    let mut form: Vec<(String, String)> = [
        ("csrf_token", csrf.as_str()),
        ("measurand", "Power dissipated"),
        ("unit", "mW"),
        ("model", "V^2 / R0 / (1 + alpha * (t - t0))"),
        ("correlations", "V t 0.3"),
        ("coverage_probability", "0.9545"),
        ("trials", "10000"),
        ("seed", "7"),
        ("interval", "symmetric"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let rows = [
        ["V", "1.0", "V", "normal_u", "0.002", "", "", ""],
        [
            "R0",
            "",
            "ohm",
            "type_a",
            "",
            "",
            "",
            "100.02 99.98 100.01 100.00 99.99",
        ],
        [
            "alpha",
            "0.0039",
            "1/K",
            "rectangular",
            "0.0001",
            "",
            "",
            "",
        ],
        ["t", "23.0", "degC", "normal_k", "0.2", "2", "", ""],
        ["t0", "20", "degC", "exact", "", "", "", ""],
    ];
    let columns = [
        "name",
        "estimate",
        "unit",
        "distribution",
        "value",
        "coverage_factor",
        "degrees_of_freedom",
        "readings",
    ];
    for (i, row) in rows.iter().enumerate() {
        for (column, value) in columns.iter().zip(row) {
            form.push((format!("inputs[{i}].{column}"), value.to_string()));
        }
    }
    let post = |form: &[(String, String)]| {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        post_form(&app, "/calculator", &pairs)
    };
    let page = post(&form);
    assert_eq!(page.status, Status::Ok, "{}", page.body);
    // GUM (GTC 1.5.1 gives y = 9.884 353 07 mW, u_c = 0.038 609 4 mW with the correlation),
    // printed to the place where u_c has three significant digits; ν_eff is huge, k = 2.000.
    for expected in [
        "<dd>9.8844 mW</dd>",
        "<dd>0.0386 mW</dd>",
        "<dd>2.000</dd>",
        "[9.8071, 9.9616] mW",
        "<td>-0.09884 mW&#x2F;ohm</td>",
        "<dd>10000</dd>",
        "<dd>7 (ChaCha12)</dd>",
        "(JCGM 101 8.2)",
    ] {
        assert!(
            page.body.contains(expected),
            "{expected} missing:\n{}",
            page.body
        );
    }
    // Monte Carlo: the same numbers as the API gives for the same request.
    let (_, api) = app.post(
        "/api/v1/uncertainty/evaluate",
        Some("technician"),
        &json!({
          "measurand": {"name": "Power dissipated", "unit": "mW"},
          "model": "V^2 / R0 / (1 + alpha * (t - t0))",
          "inputs": [
            {"name": "V", "estimate": {"value": 1.0, "unit": "V"}, "type": "B", "distribution": "normal", "standard_uncertainty": 0.002},
            {"name": "R0", "type": "A", "readings": [100.02, 99.98, 100.01, 100.00, 99.99], "unit": "ohm"},
            {"name": "alpha", "estimate": {"value": 0.0039, "unit": "1/K"}, "type": "B", "distribution": "rectangular", "half_width": 0.0001},
            {"name": "t", "estimate": {"value": 23.0, "unit": "degC"}, "type": "B", "distribution": "normal", "expanded_uncertainty": 0.2, "coverage_factor": 2},
            {"name": "t0", "estimate": {"value": 20, "unit": "degC"}}
          ],
          "correlations": [{"inputs": ["V", "t"], "coefficient": 0.3}],
          "method": "both",
          "monte_carlo": {"trials": 10000, "seed": 7}
        }),
    );
    let mc = &api["monte_carlo"];
    let interval = format!(
        "[{:.4}, {:.4}] mW (symmetric)",
        mc["coverage_interval"]["low"].as_f64().unwrap(),
        mc["coverage_interval"]["high"].as_f64().unwrap()
    );
    assert!(page.body.contains(&interval), "{interval} missing");
    // The histogram, with the GUM interval marked (dashed) on it.
    let svg_start = page.body.find("<svg").expect("an SVG histogram");
    let svg = &page.body[svg_start..page.body[svg_start..].find("</svg>").unwrap() + svg_start];
    assert!(svg.contains(r#"role="img""#) && svg.contains("stroke-dasharray=\"6 4\""));
    assert!(svg.contains("GUM interval from 9.807"));
    assert_eq!(
        svg.matches("<rect").count(),
        100 + 1,
        "100 bins and the legend swatch"
    );

    // Bad input: the field as the API names it, and where it is on the form; never a 500.
    // Fields are changed in place: a browser posts them in the order of the form.
    let set = |form: &mut Vec<(String, String)>, key: &str, value: &str| {
        form.iter_mut().find(|(k, _)| k == key).unwrap().1 = value.to_string();
    };
    let mut bad = form.clone();
    set(&mut bad, "inputs[2].value", "-0.0001");
    set(&mut bad, "model", "V^2 / R0 / (1 + alpha * (t - t0)");
    set(&mut bad, "inputs[0].estimate", "1,0");
    let page = post(&bad);
    assert_eq!(page.status, Status::UnprocessableEntity);
    let expected = "<code class=\"field\">inputs[0].estimate.value</code> (row 1, V): &#x27;1,0&#x27; is not a number";
    assert!(
        page.body.contains(expected),
        "{expected} missing:\n{}",
        page.body
    );
    set(&mut bad, "inputs[0].estimate", "1.0");
    let page = post(&bad);
    assert_eq!(page.status, Status::UnprocessableEntity);
    for expected in [
        "<code class=\"field\">inputs[2].half_width</code> (row 3, alpha)",
        "<code class=\"field\">model</code>: at character 33: expected &#x27;)&#x27;",
    ] {
        assert!(
            page.body.contains(expected),
            "{expected} missing:\n{}",
            page.body
        );
    }
    assert!(
        !page.body.contains("<svg"),
        "no answer drawn for refused input"
    );
}

/// DESIGN 9c: the /audit page follows a certificate from draft to issue with who did each
/// step; a filter the log does not know is said on the page, and only auditors and admins
/// read it.
#[test]
fn the_audit_page_shows_a_certificates_history_to_an_auditor_only() {
    let mut app = TestApp::new();
    set_password(&mut app, "auditor");
    set_password(&mut app, "technician");
    let (_, issued) = crate::common::fixtures::traced_certificate(&app);
    let number = issued["certificate_number"].as_str().unwrap();
    let id = issued["id"].as_i64().unwrap();
    let path = format!("/audit?entity=certificate&entity_id={number}");
    login(&app, "auditor", PASSWORD, &path);
    let page = get(&app, &path);
    assert_eq!(page.status, Status::Ok, "{}", page.body);
    for expected in [
        "3 entries",
        "<td>create</td>",
        "<td>submit</td>",
        "<td>approve</td>",
        &format!("<a href=\"/calibrations/{id}\">calibration {id}</a>"),
        &format!("certificate_number: {number}"),
        "Head of the whole log",
    ] {
        assert!(
            page.body.contains(expected),
            "{expected} missing:\n{}",
            page.body
        );
    }
    let certificate = get(&app, &format!("/certificates/{number}")).body;
    assert!(
        certificate.contains(&format!(
            "href=\"/audit?entity=certificate&amp;entity_id={number}\""
        )),
        "{certificate}"
    );
    let unknown = get(&app, "/audit?actor=nobody");
    assert_eq!(unknown.status, Status::UnprocessableEntity);
    assert!(
        unknown.body.contains("no user or actor named"),
        "{}",
        unknown.body
    );

    post_form(
        &app,
        "/logout",
        &[("csrf_token", &hidden(&page.body, "csrf_token"))],
    );
    login(&app, "technician", PASSWORD, "/");
    assert_eq!(get(&app, "/audit").status, Status::Forbidden);
}

/// Approving on the page needs an `approve` authorisation valid today (ISO/IEC 17025 6.2.6,
/// DESIGN 9b), exactly as through the API: a 403 page naming what is missing.
#[test]
fn the_page_refuses_an_approver_without_an_approve_authorisation() {
    let mut app = TestApp::new();
    app.with_conn(|conn| {
        users::create_user(conn, &Actor::command_line(), "abe", &[UserRole::Approver])
    })
    .unwrap();
    set_password(&mut app, "abe");
    let national = register(&app, "NIM-P", "national");
    let gauge = register(&app, "PG-1", "working");
    let id = pending(&app, gauge, national);
    let path = format!("/calibrations/{id}");
    assert_eq!(login(&app, "abe", PASSWORD, &path).status, Status::SeeOther);
    let page = get(&app, &path);
    // The record names the procedure version it resolved to (ISO/IEC 17025 7.2).
    assert!(
        page.body
            .contains("JJG 52-2013 (version 1): JJG 52-2013 fixture procedure"),
        "{}",
        page.body
    );
    let csrf = hidden(&page.body, "csrf_token");
    let refused = post_form(
        &app,
        &format!("{path}/approve"),
        &[
            ("csrf_token", &csrf),
            ("password", PASSWORD),
            ("meaning", "approved"),
        ],
    );
    assert_eq!(refused.status, Status::Forbidden, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("&#x27;approve&#x27; authorisation for quantity kind pressure")
            || refused
                .body
                .contains("'approve' authorisation for quantity kind pressure"),
        "{}",
        refused.body
    );
    // Asked before the password, as four eyes is: a wrong password changes nothing.
    let unsigned = post_form(
        &app,
        &format!("{path}/approve"),
        &[
            ("csrf_token", &csrf),
            ("password", "not mine"),
            ("meaning", "approved"),
        ],
    );
    assert_eq!(unsigned.status, Status::Forbidden);
    assert!(unsigned.body.contains("authorisation"), "{}", unsigned.body);
    let (_, record) = app.get(&format!("/api/v1/calibrations/{id}"), Some("auditor"));
    assert_eq!(record["status"], "submitted");
    let (_, audit) = app.get(
        &format!("/api/v1/audit?entity=calibration&entity_id={id}"),
        Some("auditor"),
    );
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(!actions.contains(&"signature_refused"), "{actions:?}");
}

/// DESIGN 9c: whoever reads validity learns when and why an instrument is out — the
/// withdrawal's date and reason, the suspension's — in the single and bulk answers and on
/// the page; and the page's traceability section does not call the instrument fine while
/// its validity section says it is not.
#[test]
fn withdrawals_and_suspensions_say_when_and_why_wherever_validity_is_shown() {
    let mut app = TestApp::new();
    let nim = register(&app, "NIM-0", "national");
    let gauge = register(&app, "PG-1", "working");
    let spare = register(&app, "PG-2", "working");
    let performed = (chrono::Utc::now().date_naive() - chrono::Duration::days(20)).to_string();
    let issued = issue(
        &app,
        &calibration(gauge, &[nim], &performed, vec![point(0.5003, 0.0002)]),
    );
    issue(
        &app,
        &calibration(spare, &[nim], &performed, vec![point(0.5003, 0.0002)]),
    );
    let number = issued["certificate_number"].as_str().unwrap();
    let (code, body) = app.post(
        &format!("/api/v1/certificates/{number}/withdraw"),
        Some("approver"),
        &json!({"reason": "wrong reference pressure"}),
    );
    assert_eq!(code, Status::Ok, "{body}");
    let (code, body) = app.post(
        &format!("/api/v1/instruments/{spare}/suspend"),
        Some("technician"),
        &json!({"reason": "dropped on the floor"}),
    );
    assert_eq!(code, Status::Ok, "{body}");
    let today = chrono::Utc::now().date_naive().to_string();
    let withdrawn = json!({"on": today, "text": "wrong reference pressure"});
    let suspended = json!({"on": today, "text": "dropped on the floor"});
    let (_, one) = app.get(
        &format!("/api/v1/instruments/{gauge}/status"),
        Some("inspector"),
    );
    assert_eq!(
        (&one["reason"], &one["reason_detail"]),
        (&json!("certificate_withdrawn"), &withdrawn)
    );
    let (_, one) = app.get("/api/v1/instruments/by-tag/pg-2/status", Some("inspector"));
    assert_eq!(
        (&one["reason"], &one["reason_detail"]),
        (&json!("suspended"), &suspended)
    );
    let (_, bulk) = app.post(
        "/api/v1/instruments/status",
        Some("inspector"),
        &json!({"items": [{"id": gauge}, {"asset_tag": "PG-2"}, {"id": nim}]}),
    );
    assert_eq!(bulk["results"][0]["reason_detail"], withdrawn);
    assert_eq!(bulk["results"][1]["reason_detail"], suspended);
    assert!(bulk["results"][2].get("reason_detail").is_none(), "{bulk}");
    // Before the suspension took effect there is nothing to explain.
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Duration::days(1)).to_string();
    let (_, before) = app.get(
        &format!("/api/v1/instruments/{spare}/status?at={yesterday}"),
        Some("inspector"),
    );
    assert_eq!(before["reason"], "valid");
    assert!(before.get("reason_detail").is_none());

    set_password(&mut app, "inspector");
    assert_eq!(
        login(&app, "inspector", PASSWORD, "/").status,
        Status::SeeOther
    );
    let page = get(&app, &format!("/instruments/{gauge}"));
    assert_eq!(page.status, Status::Ok);
    assert!(
        page.body.contains(&format!(
            "(withdrawn on {today}: “wrong reference pressure”)"
        )),
        "{}",
        page.body
    );
    assert!(
        !page
            .body
            .contains("class=\"notice ok\" id=\"chain-verdict\""),
        "the chain must not be shown as all well while the instrument is not valid"
    );
    assert!(page
        .body
        .contains("that does not make the instrument valid on"));
    let page = get(&app, &format!("/instruments/{spare}"));
    assert!(
        page.body.contains(&format!(
            "(suspended since {today}: “dropped on the floor”)"
        )),
        "{}",
        page.body
    );
    let list = get(&app, "/instruments");
    for words in [
        format!("since {today}: wrong reference pressure"),
        format!("since {today}: dropped on the floor"),
    ] {
        assert!(list.body.contains(&words), "{words}: {}", list.body);
    }
}
