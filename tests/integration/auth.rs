use rocket::http::{Method, Status};
use serde_json::{json, Value};

use crate::common::fixtures::{calibration, issue, point, submitted};
use crate::common::{pressure_gauge, TestApp, ROLES};

fn budget() -> Value {
    json!({"measurand": {"name": "length", "unit": "nm"},
           "components": [{"name": "resolution", "type": "B", "distribution": "rectangular", "half_width": 5, "unit": "nm"}]})
}

fn submitted_calibration(app: &TestApp, instrument: i64) -> i64 {
    submitted(
        app,
        &calibration(instrument, &[], "2026-05-10", vec![point(0.5003, 0.0002)]),
    )
}

/// Every route: no token → 401, a wrong role → 403, each right role → 2xx.
/// Each attempt gets fresh state from its `path` function (an instrument, a
/// draft, a submitted calibration, an issued certificate).
#[test]
fn auth_matrix_for_every_route() {
    let app = TestApp::new();
    let serial = std::cell::Cell::new(0);
    let fresh = |app: &TestApp| -> i64 {
        serial.set(serial.get() + 1);
        let n = serial.get();
        let (status, body) = app.post(
            "/api/v1/instruments",
            Some("admin"),
            &pressure_gauge(&format!("PG-{n}"), &format!("S{n}")),
        );
        assert_eq!(status, Status::Created);
        body["id"].as_i64().unwrap()
    };
    type PathFn<'a> = Box<dyn Fn(&TestApp, i64) -> String + 'a>;
    let at = |path: &'static str| -> PathFn {
        Box::new(move |_, id| path.replace("{id}", &id.to_string()))
    };
    let writers = &["admin", "technician"][..];
    let everyone = &ROLES[..];
    let cmc = json!({"quantity_kind": "pressure", "range": {"min": {"value": 0, "unit": "MPa"}, "max": {"value": 1, "unit": "MPa"}},
                     "a": {"value": 0.00001, "unit": "MPa"}, "b": 0});
    let routes: Vec<(Method, PathFn, Value, &[&str])> = vec![
        (
            Method::Get,
            at("/api/v1/instruments"),
            Value::Null,
            everyone,
        ),
        (
            Method::Get,
            at("/api/v1/instruments/{id}"),
            Value::Null,
            everyone,
        ),
        (
            Method::Post,
            at("/api/v1/instruments"),
            json!("new"),
            writers,
        ),
        (
            Method::Put,
            at("/api/v1/instruments/{id}"),
            json!("same"),
            writers,
        ),
        (
            Method::Post,
            at("/api/v1/instruments/{id}/suspend"),
            json!({}),
            writers,
        ),
        (
            Method::Post,
            Box::new(|app: &TestApp, id| {
                assert_eq!(
                    app.post(
                        &format!("/api/v1/instruments/{id}/suspend"),
                        Some("admin"),
                        &json!({})
                    )
                    .0,
                    Status::Ok
                );
                format!("/api/v1/instruments/{id}/reactivate")
            }),
            json!({}),
            writers,
        ),
        (
            Method::Post,
            at("/api/v1/instruments/{id}/retire"),
            json!({"reason": "worn"}),
            writers,
        ),
        (
            Method::Get,
            at("/api/v1/instruments/{id}/interval"),
            Value::Null,
            everyone,
        ),
        (
            Method::Get,
            at("/api/v1/instruments/{id}/status"),
            Value::Null,
            everyone,
        ),
        (
            Method::Get,
            Box::new(|app: &TestApp, id| {
                let (_, instrument) = app.get(&format!("/api/v1/instruments/{id}"), Some("admin"));
                format!(
                    "/api/v1/instruments/by-tag/{}/status",
                    instrument["asset_tag"].as_str().unwrap()
                )
            }),
            Value::Null,
            everyone,
        ),
        (
            Method::Post,
            at("/api/v1/instruments/status"),
            json!({"ids": [1, 2]}),
            everyone,
        ),
        (Method::Get, at("/api/v1/recalls"), Value::Null, everyone),
        (
            Method::Get,
            at("/api/v1/instruments/{id}/traceability"),
            Value::Null,
            everyone,
        ),
        (
            Method::Get,
            at("/api/v1/instruments/{id}/impact?from=2026-01-01&to=2026-12-31"),
            Value::Null,
            &["technician", "approver", "auditor", "admin"][..],
        ),
        (
            Method::Post,
            at("/api/v1/instruments/{id}/impact"),
            json!({"from": "2026-01-01"}),
            &["technician", "approver", "auditor", "admin"][..],
        ),
        (
            Method::Get,
            at("/api/v1/audit"),
            Value::Null,
            &["auditor", "admin"][..],
        ),
        (
            Method::Post,
            at("/api/v1/uncertainty/evaluate"),
            budget(),
            everyone,
        ),
        (Method::Post, at("/api/v1/cmcs"), cmc, &["admin"][..]),
        (Method::Get, at("/api/v1/cmcs"), Value::Null, everyone),
        (
            Method::Post,
            at("/api/v1/users/auditor/authorisations"),
            json!({"activity": "approve", "quantity_kind": "mass", "from": "2026-01-01"}),
            &["admin"][..],
        ),
        (
            Method::Get,
            at("/api/v1/users/auditor/authorisations"),
            Value::Null,
            &["admin"][..],
        ),
        (
            Method::Post,
            at("/api/v1/procedures"),
            json!({"code": "CT-M-01", "title": "Weights", "version": "1",
                   "quantity_kind": "mass", "status": "draft"}),
            &["admin"][..],
        ),
        (Method::Get, at("/api/v1/procedures"), Value::Null, everyone),
        (
            Method::Post,
            at("/api/v1/calibrations"),
            json!("calibration"),
            &["technician"][..],
        ),
        (
            Method::Post,
            at("/api/v1/calibrations/batch"),
            json!("batch"),
            &["technician"][..],
        ),
        (
            Method::Get,
            at("/api/v1/calibrations"),
            Value::Null,
            everyone,
        ),
        (
            Method::Get,
            Box::new(|app: &TestApp, id| {
                format!("/api/v1/calibrations/{}", submitted_calibration(app, id))
            }),
            Value::Null,
            everyone,
        ),
        (
            Method::Put,
            Box::new(|app: &TestApp, id| {
                let body = calibration(id, &[], "2026-05-10", vec![point(0.5003, 0.0002)]);
                let (_, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
                format!("/api/v1/calibrations/{}", created["id"])
            }),
            json!("calibration"),
            &["technician"][..],
        ),
        (
            Method::Delete,
            Box::new(|app: &TestApp, id| {
                let body = calibration(id, &[], "2026-05-10", vec![point(0.5003, 0.0002)]);
                let (_, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
                format!("/api/v1/calibrations/{}", created["id"])
            }),
            Value::Null,
            &["technician", "admin"][..],
        ),
        (
            Method::Post,
            Box::new(|app: &TestApp, id| {
                let body = calibration(id, &[], "2026-05-10", vec![point(0.5003, 0.0002)]);
                let (_, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
                format!("/api/v1/calibrations/{}/submit", created["id"])
            }),
            json!({}),
            &["technician"][..],
        ),
        (
            Method::Post,
            Box::new(|app: &TestApp, id| {
                format!(
                    "/api/v1/calibrations/{}/approve",
                    submitted_calibration(app, id)
                )
            }),
            json!({}),
            &["approver"][..],
        ),
        (
            Method::Post,
            Box::new(|app: &TestApp, id| {
                format!(
                    "/api/v1/calibrations/{}/reject",
                    submitted_calibration(app, id)
                )
            }),
            json!({"reason": "incomplete"}),
            &["approver"][..],
        ),
        (
            Method::Post,
            Box::new(|app: &TestApp, id| {
                let issued = issue(
                    app,
                    &calibration(id, &[], "2026-05-10", vec![point(0.5003, 0.0002)]),
                );
                format!(
                    "/api/v1/certificates/{}/withdraw",
                    issued["certificate_number"].as_str().unwrap()
                )
            }),
            json!({"reason": "wrong standard"}),
            &["approver", "admin"][..],
        ),
    ];
    for (method, path, body, allowed) in &routes {
        for who in [None]
            .into_iter()
            .chain(ROLES.iter().map(|role| Some(*role)))
        {
            let id = fresh(&app);
            let path = path(&app, id);
            let body = match body.as_str() {
                Some("new") => pressure_gauge(&format!("NEW-{id}"), &format!("NEW{id}")),
                Some("same") => pressure_gauge(&format!("PG-{id}-edited"), &format!("EDITED{id}")),
                Some("calibration") => {
                    calibration(id, &[], "2026-05-10", vec![point(0.5003, 0.0002)])
                }
                Some("batch") => {
                    json!({"calibrations": [calibration(id, &[], "2026-05-10", vec![point(0.5003, 0.0002)])]})
                }
                _ => body.clone(),
            };
            let (status, problem) = if *method == Method::Get {
                app.get(&path, who)
            } else {
                app.send(*method, &path, who, &body.to_string())
            };
            let expected = match who {
                None => Status::Unauthorized,
                Some(role) if allowed.contains(&role) => {
                    assert!(
                        status.class().is_success(),
                        "{method} {path} as {role}: {status} {problem}"
                    );
                    continue;
                }
                Some(_) => Status::Forbidden,
            };
            assert_eq!(status, expected, "{method} {path} as {who:?}: {problem}");
            assert_eq!(
                problem["status"], expected.code,
                "problem+json body for {method} {path}"
            );
        }
    }
}

#[test]
fn invalid_and_revoked_tokens_are_401() {
    let app = TestApp::new();
    let (status, problem) = app.get("/api/v1/instruments", Some("ct_not-a-real-token"));
    assert_eq!(status, Status::Unauthorized);
    assert_eq!(problem["type"], "urn:caltrace:problem:unauthorized");

    let mut conn = app.database.get().unwrap();
    let actor = caltrace::db::audit::Actor::command_line();
    let (id, token) = caltrace::db::users::create_token(&mut conn, &actor, "inspector").unwrap();
    drop(conn);
    assert_eq!(app.get("/api/v1/instruments", Some(&token)).0, Status::Ok);
    app.with_conn(|conn| caltrace::db::users::revoke_token(conn, &actor, id))
        .unwrap();
    assert_eq!(
        app.get("/api/v1/instruments", Some(&token)).0,
        Status::Unauthorized
    );
    // The other token of the same user still works.
    assert_eq!(
        app.get("/api/v1/instruments", Some("inspector")).0,
        Status::Ok
    );
}

#[test]
fn authentication_is_judged_before_the_body() {
    let app = TestApp::new();
    let (status, _) = app.send(Method::Post, "/api/v1/instruments", None, "not json");
    assert_eq!(status, Status::Unauthorized);
    let (status, _) = app.send(
        Method::Post,
        "/api/v1/instruments",
        Some("inspector"),
        "not json",
    );
    assert_eq!(status, Status::Forbidden);
}

#[test]
fn tokens_are_stored_only_as_hashes() {
    let app = TestApp::new();
    let token = app.tokens["admin"].clone();
    let stored: Vec<String> = app.with_conn(|conn| {
        use caltrace::db::schema::api_tokens::dsl::*;
        use diesel::prelude::*;
        api_tokens.select(token_hash).load(conn).unwrap()
    });
    assert_eq!(stored.len(), ROLES.len());
    assert!(stored
        .iter()
        .all(|hash| hash.len() == 64 && !hash.contains(&token[3..])));
    assert!(stored.contains(&caltrace::db::users::hash_token(&token)));
}

/// The single status check authenticates inside its own statement: the same
/// refusals, in the same order, as every other route (401, then 422 for a bad
/// date, then 404), and a revoked token is refused on its very next use.
#[test]
fn single_status_refusals_and_revocation() {
    let app = TestApp::new();
    let (_, created) = app.post(
        "/api/v1/instruments",
        Some("technician"),
        &pressure_gauge("PG-AUTH", "S-AUTH"),
    );
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/v1/instruments/{id}/status?at=2026-06-01");
    assert_eq!(app.get(&path, None).0, Status::Unauthorized);
    let (status, problem) = app.get(&path, Some("ct_not-a-real-token"));
    assert_eq!(status, Status::Unauthorized);
    assert_eq!(problem["type"], "urn:caltrace:problem:unauthorized");
    let bad_date = format!("/api/v1/instruments/{id}/status?at=2026-13-01");
    assert_eq!(
        app.get(&bad_date, Some("ct_not-a-real-token")).0,
        Status::Unauthorized
    );
    assert_eq!(
        app.get(&bad_date, Some("inspector")).0,
        Status::UnprocessableEntity
    );
    let (status, problem) = app.get(
        "/api/v1/instruments/999999/status?at=2026-06-01",
        Some("inspector"),
    );
    assert_eq!(status, Status::NotFound, "{problem}");
    assert_eq!(
        app.get(
            "/api/v1/instruments/999999/status?at=2026-06-01",
            Some("ct_not-a-real-token")
        )
        .0,
        Status::Unauthorized
    );

    let actor = caltrace::db::audit::Actor::command_line();
    let (token_id, token) = app
        .with_conn(|conn| caltrace::db::users::create_token(conn, &actor, "inspector"))
        .unwrap();
    let (status, body) = app.get(&path, Some(&token));
    assert_eq!(status, Status::Ok, "{body}");
    assert_eq!(body["reason"], "never_calibrated");
    app.with_conn(|conn| caltrace::db::users::revoke_token(conn, &actor, token_id))
        .unwrap();
    assert_eq!(app.get(&path, Some(&token)).0, Status::Unauthorized);
    let by_tag = "/api/v1/instruments/by-tag/PG-AUTH/status?at=2026-06-01";
    assert_eq!(app.get(by_tag, Some(&token)).0, Status::Unauthorized);
    assert_eq!(app.get(by_tag, Some("inspector")).0, Status::Ok);
}

/// The probe's finding (issue 21): sixty simultaneous web logins (59 wrong and
/// the right one) got 19 password checks and one got in after the fifth
/// failure. The attempt is counted before the password is checked, in one
/// transaction: at most five of the sixty reach the check.
#[test]
fn simultaneous_guesses_get_no_more_than_five_password_checks() {
    use caltrace::db::users::{self, LoginOutcome};
    let app = TestApp::new();
    const PASSWORD: &str = "correct horse battery";
    app.with_conn(|conn| {
        users::set_password(
            conn,
            &caltrace::db::audit::Actor::command_line(),
            "auditor",
            PASSWORD,
        )
    })
    .unwrap();
    let outcomes: Vec<LoginOutcome> = std::thread::scope(|scope| {
        let attempts: Vec<_> = (0..60)
            .map(|i| {
                let database = app.database.clone();
                scope.spawn(move || {
                    let mut conn = database.get().unwrap();
                    let password = if i == 59 {
                        PASSWORD.to_string()
                    } else {
                        format!("guess {i}")
                    };
                    users::attempt_login(&mut conn, "auditor", &password).unwrap()
                })
            })
            .collect();
        attempts.into_iter().map(|a| a.join().unwrap()).collect()
    });
    let checked = outcomes
        .iter()
        .filter(|o| !matches!(o, LoginOutcome::Throttled { .. }))
        .count();
    assert!(
        checked <= users::LOGIN_ATTEMPTS,
        "{checked} password checks"
    );
    let audited: i64 = app.with_conn(|conn| {
        use caltrace::db::schema::audit_log;
        use diesel::prelude::*;
        audit_log::table
            .filter(audit_log::action.eq_any(["login", "login_failed", "login_locked_out"]))
            .count()
            .get_result(conn)
            .unwrap()
    });
    assert_eq!(audited, 60, "every attempt is in the audit log");
}

/// A password change and `caltrace user disable` end the user's sessions and
/// tokens at once (issue 21: sessions survived a password change).
#[test]
fn password_change_and_disable_end_sessions_and_tokens() {
    use caltrace::db::audit::Actor;
    use caltrace::db::users;
    let app = TestApp::new();
    let cli = Actor::command_line();
    app.with_conn(|conn| users::set_password(conn, &cli, "inspector", "a first passphrase"))
        .unwrap();
    assert_eq!(
        app.get("/api/v1/instruments", Some("inspector")).0,
        Status::Ok,
        "a first password changes nobody's access"
    );
    app.with_conn(|conn| users::set_password(conn, &cli, "inspector", "a long passphrase"))
        .unwrap();
    assert_eq!(
        app.get("/api/v1/instruments", Some("inspector")).0,
        Status::Unauthorized,
        "the token given before the change is revoked"
    );
    let session = app.with_conn(|conn| {
        let user = users::find_user(conn, "auditor").unwrap().unwrap();
        users::create_session(conn, user.id, chrono::Duration::hours(1)).unwrap()
    });
    app.with_conn(|conn| users::disable_user(conn, &cli, "auditor"))
        .unwrap();
    assert_eq!(
        app.get("/api/v1/audit", Some("auditor")).0,
        Status::Unauthorized
    );
    let still: Option<_> = app
        .with_conn(|conn| users::user_for_session(conn, &session.cookie))
        .unwrap();
    assert!(still.is_none(), "the session ended");
    let again = app.with_conn(|conn| users::attempt_login(conn, "auditor", "anything at all"));
    assert!(matches!(again, Ok(users::LoginOutcome::Refused)));
    let token = app.with_conn(|conn| users::create_token(conn, &cli, "auditor"));
    assert!(token.is_err(), "no new token for a disabled user");
}
