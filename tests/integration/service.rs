use rocket::http::Status;

use crate::common::TestApp;

#[test]
fn healthz_reports_database_reachability() {
    let app = TestApp::new();
    let (status, body) = app.get("/healthz", None);
    assert_eq!(status, Status::Ok);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "reachable");
    assert_eq!(
        body["backend"],
        if app.is_postgres() {
            "postgresql"
        } else {
            "sqlite"
        }
    );
}

#[test]
fn openapi_document_lists_every_route_and_is_public() {
    let app = TestApp::new();
    let (status, doc) = app.get("/api/openapi.json", None);
    assert_eq!(status, Status::Ok);
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/healthz", "get"),
        ("/api/v1/instruments", "post"),
        ("/api/v1/instruments", "get"),
        ("/api/v1/instruments/{id}", "get"),
        ("/api/v1/instruments/{id}", "put"),
        ("/api/v1/instruments/{id}/suspend", "post"),
        ("/api/v1/instruments/{id}/reactivate", "post"),
        ("/api/v1/instruments/{id}/retire", "post"),
        ("/api/v1/audit", "get"),
        ("/api/v1/uncertainty/evaluate", "post"),
        ("/api/v1/calibrations", "post"),
        ("/api/v1/calibrations", "get"),
        ("/api/v1/calibrations/batch", "post"),
        ("/api/v1/calibrations/{id}", "get"),
        ("/api/v1/calibrations/{id}", "put"),
        ("/api/v1/calibrations/{id}/submit", "post"),
        ("/api/v1/calibrations/{id}/approve", "post"),
        ("/api/v1/calibrations/{id}/reject", "post"),
        ("/api/v1/certificates/{number}/withdraw", "post"),
        ("/api/v1/cmcs", "post"),
        ("/api/v1/cmcs", "get"),
        ("/api/v1/instruments/{id}/status", "get"),
        ("/api/v1/instruments/by-tag/{asset_tag}/status", "get"),
        ("/api/v1/instruments/status", "post"),
        ("/api/v1/instruments/{id}/interval", "get"),
        ("/api/v1/recalls", "get"),
        ("/api/v1/instruments/{id}/traceability", "get"),
        ("/api/v1/instruments/{id}/impact", "get"),
        ("/api/v1/instruments/{id}/impact", "post"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from OpenAPI"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let (status, page) = app.get("/api/docs/", None);
    assert_eq!(status, Status::Ok);
    assert!(
        page.as_str().unwrap_or("").contains("swagger"),
        "API docs page served"
    );
}

/// The document served is valid OpenAPI 3.1 by a real validator, openapi-spec-validator
/// (PyPI), which strict client generators agree with: every response described, and so on.
#[test]
fn the_served_openapi_document_passes_openapi_spec_validator() {
    let app = TestApp::new();
    let response = app.client.get("/api/openapi.json").dispatch();
    assert_eq!(response.status(), Status::Ok);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, response.into_bytes().unwrap()).unwrap();
    match crate::checkers::openapi_spec_validator(&file) {
        None => {}
        Some(Ok(report)) => eprint!("{report}"),
        Some(Err(report)) => {
            panic!("openapi-spec-validator rejects /api/openapi.json:\n{report}")
        }
    }
}

#[test]
fn unknown_routes_are_problem_json_404() {
    let app = TestApp::new();
    let (status, problem) = app.get("/api/v1/nothing-here", Some("admin"));
    assert_eq!(status, Status::NotFound);
    assert_eq!(problem["status"], 404);
    let (status, problem) = app.get("/api/v1/instruments/12345", Some("admin"));
    assert_eq!(status, Status::NotFound);
    assert!(problem["detail"].as_str().unwrap().contains("12345"));
}
