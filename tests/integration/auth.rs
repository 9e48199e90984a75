use rocket::http::{Method, Status};
use serde_json::{json, Value};

use crate::common::{pressure_gauge, TestApp, ROLES};

#[allow(dead_code)]
fn budget() -> Value {
    json!({"measurand": {"name": "length", "unit": "nm"},
           "components": [{"name": "resolution", "type": "B", "distribution": "rectangular", "half_width": 5, "unit": "nm"}]})
}

/// Every route: no token → 401, a wrong role → 403, each right role → 2xx.
#[test]
fn auth_matrix_for_every_route() {
    let app = TestApp::new();
    let mut serial = 0;
    let mut fresh = |app: &TestApp| -> i64 {
        serial += 1;
        let (status, body) = app.post(
            "/api/v1/instruments",
            Some("admin"),
            &pressure_gauge(&format!("PG-{serial}"), &format!("S{serial}")),
        );
        assert_eq!(status, Status::Created);
        body["id"].as_i64().unwrap()
    };
    type Setup<'a> = &'a dyn Fn(&TestApp, i64);
    let suspend_first: Setup = &|app, id| {
        assert_eq!(
            app.post(
                &format!("/api/v1/instruments/{id}/suspend"),
                Some("admin"),
                &json!({})
            )
            .0,
            Status::Ok
        );
    };
    let nothing: Setup = &|_, _| {};
    let writers = &["admin", "technician"][..];
    let everyone = &ROLES[..];
    let routes: Vec<(Method, &str, Value, &[&str], Setup)> = vec![
        (
            Method::Get,
            "/api/v1/instruments",
            Value::Null,
            everyone,
            nothing,
        ),
        (
            Method::Get,
            "/api/v1/instruments/{id}",
            Value::Null,
            everyone,
            nothing,
        ),
        (
            Method::Post,
            "/api/v1/instruments",
            json!("new"),
            writers,
            nothing,
        ),
        (
            Method::Put,
            "/api/v1/instruments/{id}",
            json!("same"),
            writers,
            nothing,
        ),
        (
            Method::Post,
            "/api/v1/instruments/{id}/suspend",
            json!({}),
            writers,
            nothing,
        ),
        (
            Method::Post,
            "/api/v1/instruments/{id}/reactivate",
            json!({}),
            writers,
            suspend_first,
        ),
        (
            Method::Post,
            "/api/v1/instruments/{id}/retire",
            json!({"reason": "worn"}),
            writers,
            nothing,
        ),
        (
            Method::Get,
            "/api/v1/audit",
            Value::Null,
            &["auditor", "admin"][..],
            nothing,
        ),
    ];
    for (method, template, body, allowed, setup) in routes {
        for who in [None]
            .into_iter()
            .chain(ROLES.iter().map(|role| Some(*role)))
        {
            let id = fresh(&app);
            setup(&app, id);
            let path = template.replace("{id}", &id.to_string());
            let body = match body.as_str() {
                Some("new") => pressure_gauge(&format!("NEW-{id}"), &format!("NEW{id}")),
                Some("same") => pressure_gauge(&format!("PG-{id}-edited"), &format!("EDITED{id}")),
                _ => body.clone(),
            };
            let (status, problem) = if method == Method::Get {
                app.get(&path, who)
            } else {
                app.send(method, &path, who, &body.to_string())
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
