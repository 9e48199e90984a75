use rocket::http::Status;
use serde_json::{json, Value};

use crate::common::{fields, pressure_gauge, TestApp};

#[test]
fn instrument_round_trip_keeps_typed_quantities_and_units() {
    let app = TestApp::new();
    let (status, created) = app.post(
        "/api/v1/instruments",
        Some("technician"),
        &pressure_gauge("PG-0042", "A1234"),
    );
    assert_eq!(status, Status::Created, "{created}");
    let id = created["id"].as_i64().unwrap();
    let (status, read) = app.get(&format!("/api/v1/instruments/{id}"), Some("inspector"));
    assert_eq!(status, Status::Ok);
    assert_eq!(read, created);
    assert_eq!(read["asset_tag"], "PG-0042");
    assert_eq!(read["role"], "working");
    assert_eq!(read["quantity_kind"], "pressure");
    assert_eq!(read["status"], "active");
    assert_eq!(read["range"]["max"], json!({"value": 1.0, "unit": "MPa"}));
    assert_eq!(read["resolution"], json!({"value": 0.0001, "unit": "MPa"}));
    assert_eq!(read["interval_days"], 365);
    assert_eq!(read["customer"], "ACME Valves");

    // Unicode unit forms are kept as the client wrote them.
    let mut thermometer = pressure_gauge("TH-0001", "T1");
    thermometer["quantity_kind"] = json!("temperature");
    thermometer["range"] =
        json!({"min": {"value": -40, "unit": "℃"}, "max": {"value": 150, "unit": "°C"}});
    thermometer["resolution"] = json!({"value": 0.01, "unit": "mK"});
    let (status, created) = app.post("/api/v1/instruments", Some("admin"), &thermometer);
    assert_eq!(status, Status::Created, "{created}");
    assert_eq!(
        created["range"]["min"],
        json!({"value": -40.0, "unit": "℃"})
    );
    assert_eq!(created["resolution"]["unit"], "mK");
}

#[test]
fn national_standards_record_their_institute() {
    let app = TestApp::new();
    let body = json!({
        "asset_tag": "NIM-P-01", "description": "Primary pressure balance", "role": "national",
        "quantity_kind": "pressure", "institute": "NIM", "country": "CN",
        "standard_identifier": "NIM-PB-2019", "interval_days": 30
    });
    let (status, created) = app.post("/api/v1/instruments", Some("admin"), &body);
    assert_eq!(status, Status::Created, "{created}");
    assert_eq!(created["institute"], "NIM");
    assert_eq!(created["country"], "CN");
    assert_eq!(created["standard_identifier"], "NIM-PB-2019");
    assert_eq!(created["interval_days"], serde_json::Value::Null);

    let mut missing = body.clone();
    missing["asset_tag"] = json!("NIST-P-01");
    missing.as_object_mut().unwrap().remove("institute");
    let (status, problem) = app.post("/api/v1/instruments", Some("admin"), &missing);
    assert_eq!(status, Status::UnprocessableEntity);
    assert_eq!(fields(&problem), vec!["institute"]);
}

#[test]
fn duplicates_are_409() {
    let app = TestApp::new();
    assert_eq!(
        app.post(
            "/api/v1/instruments",
            Some("admin"),
            &pressure_gauge("PG-1", "S1")
        )
        .0,
        Status::Created
    );
    let (status, problem) = app.post(
        "/api/v1/instruments",
        Some("admin"),
        &pressure_gauge("PG-1", "S2"),
    );
    assert_eq!(status, Status::Conflict);
    assert!(
        problem["detail"].as_str().unwrap().contains("PG-1"),
        "{problem}"
    );
    let (status, problem) = app.post(
        "/api/v1/instruments",
        Some("admin"),
        &pressure_gauge("PG-2", "S1"),
    );
    assert_eq!(status, Status::Conflict);
    assert!(
        problem["detail"].as_str().unwrap().contains("serial"),
        "{problem}"
    );
    // Nothing partial was written: exactly one instrument exists.
    let (_, page) = app.get("/api/v1/instruments", Some("admin"));
    assert_eq!(page["total"], 1);
}

#[test]
fn invalid_input_is_422_naming_the_field() {
    let app = TestApp::new();
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("asset_tag", json!(""), "asset_tag"),
        ("asset_tag", json!("   "), "asset_tag"),
        ("interval_days", json!(-5), "interval_days"),
        ("interval_days", json!(0), "interval_days"),
        ("interval_days", json!(1.5), "interval_days"),
        ("role", json!("master"), "role"),
        ("quantity_kind", json!("smell"), "quantity_kind"),
        (
            "range",
            json!({"min": {"value": 2, "unit": "MPa"}, "max": {"value": 1, "unit": "MPa"}}),
            "range",
        ),
        (
            "range",
            json!({"min": {"value": 0, "unit": "MPa"}, "max": {"value": 1, "unit": "mm"}}),
            "range.max.unit",
        ),
        (
            "range",
            json!({"min": {"value": 0, "unit": "furlong"}, "max": {"value": 1, "unit": "MPa"}}),
            "range.min.unit",
        ),
        (
            "range",
            json!({"min": {"value": 0, "unit": "MPa"}}),
            "range.max",
        ),
        (
            "resolution",
            json!({"value": 0, "unit": "MPa"}),
            "resolution.value",
        ),
        (
            "resolution",
            json!({"value": -1, "unit": "kPa"}),
            "resolution.value",
        ),
        (
            "resolution",
            json!({"value": "tiny", "unit": "kPa"}),
            "resolution.value",
        ),
        ("customer", json!(""), "customer"),
        ("country", json!("China"), "country"),
        ("asset_tag", json!(42), "asset_tag"),
        ("bogus_field", json!(1), "bogus_field"),
    ];
    for (key, value, expected_field) in cases {
        let mut body = pressure_gauge("PG-9", "S9");
        body[key] = value.clone();
        let (status, problem) = app.post("/api/v1/instruments", Some("admin"), &body);
        assert_eq!(
            status,
            Status::UnprocessableEntity,
            "{key}={value}: {problem}"
        );
        assert_eq!(
            fields(&problem),
            vec![expected_field.to_string()],
            "{key}={value}: {problem}"
        );
        assert_eq!(problem["status"], 422);
        assert_eq!(problem["title"], "Unprocessable Entity");
        assert!(problem["type"].is_string() && problem["detail"].is_string());
    }
    let mut missing = pressure_gauge("PG-9", "S9");
    missing.as_object_mut().unwrap().remove("role");
    let (status, problem) = app.post("/api/v1/instruments", Some("admin"), &missing);
    assert_eq!(
        (status, fields(&problem)),
        (Status::UnprocessableEntity, vec!["role".to_string()])
    );

    // A number too large for a double is not a finite value.
    let text = pressure_gauge("PG-9", "S9")
        .to_string()
        .replace("0.0001", "1e999");
    let (status, problem) = app.send(
        rocket::http::Method::Post,
        "/api/v1/instruments",
        Some("admin"),
        &text,
    );
    assert_eq!(
        (status, fields(&problem)),
        (
            Status::UnprocessableEntity,
            vec!["resolution.value".to_string()]
        )
    );

    for malformed in ["{\"asset_tag\": ", "asset_tag=PG", "", "[1,2", "{} {}"] {
        let (status, problem) = app.send(
            rocket::http::Method::Post,
            "/api/v1/instruments",
            Some("admin"),
            malformed,
        );
        assert_eq!(status, Status::BadRequest, "{malformed:?}");
        assert_eq!(problem["status"], 400);
    }
    let (_, page) = app.get("/api/v1/instruments", Some("admin"));
    assert_eq!(page["total"], 0, "no bad request wrote anything");
}

#[test]
fn list_filters_searches_and_paginates_in_id_order() {
    let app = TestApp::new();
    for i in 0..7 {
        let mut body = pressure_gauge(&format!("PG-{i:03}"), &format!("SN{i}"));
        if i % 2 == 1 {
            body["customer"] = json!("Beta Pumps");
        }
        if i == 5 {
            body["role"] = json!("reference");
            body["manufacturer"] = json!("Fluke 50%");
        }
        assert_eq!(
            app.post("/api/v1/instruments", Some("admin"), &body).0,
            Status::Created
        );
    }
    let (_, page) = app.get("/api/v1/instruments?per_page=3&page=2", Some("auditor"));
    assert_eq!(page["total"], 7);
    assert_eq!(page["page"], 2);
    assert_eq!(page["per_page"], 3);
    let tags: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["asset_tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, vec!["PG-003", "PG-004", "PG-005"]);
    assert_eq!(page["next_after"], page["items"][2]["id"]);

    // Keyset pagination: from the previous page's next_after, the same pages as by offset,
    // filters and total kept; the last page (short) has no next_after.
    let after = page["next_after"].as_i64().unwrap();
    let (_, next) = app.get(
        &format!("/api/v1/instruments?per_page=3&after={after}"),
        Some("auditor"),
    );
    let (_, by_offset) = app.get("/api/v1/instruments?per_page=3&page=3", Some("auditor"));
    assert_eq!(next["items"], by_offset["items"]);
    assert_eq!(next["items"][0]["asset_tag"], "PG-006");
    assert_eq!(
        (&next["total"], &next["next_after"]),
        (&json!(7), &Value::Null)
    );
    let pg_003 = page["items"][0]["id"].as_i64().unwrap();
    let (_, beta) = app.get(
        &format!("/api/v1/instruments?customer=Beta%20Pumps&per_page=1&after={pg_003}"),
        Some("auditor"),
    );
    assert_eq!(beta["items"][0]["asset_tag"], "PG-005");
    assert_eq!(beta["total"], 3);

    let (_, page) = app.get(
        "/api/v1/instruments?customer=Beta%20Pumps",
        Some("inspector"),
    );
    assert_eq!(page["total"], 3);
    let (_, page) = app.get("/api/v1/instruments?role=reference", Some("inspector"));
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["asset_tag"], "PG-005");
    let (_, page) = app.get("/api/v1/instruments?q=sn4", Some("inspector"));
    assert_eq!(page["total"], 1);
    let (_, page) = app.get("/api/v1/instruments?q=fluke", Some("inspector"));
    assert_eq!(page["total"], 1);
    // LIKE wildcards in the search text are literal.
    let (_, page) = app.get("/api/v1/instruments?q=50%25", Some("inspector"));
    assert_eq!(page["total"], 1);
    let (_, page) = app.get("/api/v1/instruments?q=%25", Some("inspector"));
    assert_eq!(page["total"], 1);
    let (_, page) = app.get("/api/v1/instruments?q=_", Some("inspector"));
    assert_eq!(page["total"], 0);

    for (query, field) in [
        ("page=0", "page"),
        ("per_page=5000", "per_page"),
        ("page=x", "page"),
        ("role=boss", "role"),
        ("status=broken", "status"),
        ("after=PG-003", "after"),
        ("page=2&after=4", "after"),
    ] {
        let (status, problem) = app.get(&format!("/api/v1/instruments?{query}"), Some("inspector"));
        assert_eq!(
            (status, fields(&problem)),
            (Status::UnprocessableEntity, vec![field.to_string()]),
            "{query}"
        );
    }
}

#[test]
fn update_replaces_register_data_but_not_status() {
    let app = TestApp::new();
    let (_, created) = app.post(
        "/api/v1/instruments",
        Some("technician"),
        &pressure_gauge("PG-1", "S1"),
    );
    let id = created["id"].as_i64().unwrap();
    let mut changed = pressure_gauge("PG-1", "S1");
    changed["location"] = json!("Line 4");
    changed["interval_days"] = json!(180);
    let (status, updated) = app.put(
        &format!("/api/v1/instruments/{id}"),
        Some("technician"),
        &changed,
    );
    assert_eq!(status, Status::Ok, "{updated}");
    assert_eq!(updated["location"], "Line 4");
    assert_eq!(updated["interval_days"], 180);
    assert_eq!(updated["created_at"], created["created_at"]);
    let (status, _) = app.put("/api/v1/instruments/9999", Some("technician"), &changed);
    assert_eq!(status, Status::NotFound);
    app.post(
        "/api/v1/instruments",
        Some("technician"),
        &pressure_gauge("PG-2", "S2"),
    );
    let (status, _) = app.put(
        &format!("/api/v1/instruments/{id}"),
        Some("technician"),
        &pressure_gauge("PG-2", "S1"),
    );
    assert_eq!(status, Status::Conflict);
}

#[test]
fn suspend_reactivate_retire_follow_the_status_rules() {
    let app = TestApp::new();
    let (_, created) = app.post(
        "/api/v1/instruments",
        Some("technician"),
        &pressure_gauge("PG-1", "S1"),
    );
    let id = created["id"].as_i64().unwrap();
    let path = |action: &str| format!("/api/v1/instruments/{id}/{action}");
    let (status, body) = app.post(
        &path("suspend"),
        Some("technician"),
        &json!({"reason": "dropped on the floor"}),
    );
    assert_eq!(
        (status, body["status"].as_str()),
        (Status::Ok, Some("suspended"))
    );
    assert_eq!(
        app.post(&path("suspend"), Some("technician"), &json!({})).0,
        Status::Conflict
    );
    // An empty body is fine: the reason is optional.
    let (status, body) = app.send(
        rocket::http::Method::Post,
        &path("reactivate"),
        Some("admin"),
        "",
    );
    assert_eq!(
        (status, body["status"].as_str()),
        (Status::Ok, Some("active"))
    );
    let (_, page) = app.get("/api/v1/instruments?status=active", Some("admin"));
    assert_eq!(page["total"], 1);
    let (status, body) = app.post(
        &path("retire"),
        Some("admin"),
        &json!({"reason": "end of life"}),
    );
    assert_eq!(
        (status, body["status"].as_str()),
        (Status::Ok, Some("retired"))
    );
    assert_eq!(
        app.post(&path("reactivate"), Some("admin"), &json!({})).0,
        Status::Conflict
    );
    assert_eq!(
        app.post(&path("suspend"), Some("admin"), &json!({})).0,
        Status::Conflict
    );
    assert_eq!(
        app.post("/api/v1/instruments/999/suspend", Some("admin"), &json!({}))
            .0,
        Status::NotFound
    );
    let (status, problem) = app.post(&path("suspend"), Some("admin"), &json!({"reason": 5}));
    assert_eq!(
        (status, fields(&problem)),
        (Status::UnprocessableEntity, vec!["reason".to_string()])
    );
}

/// Asset tags are unique regardless of case (issue 21: `pg-0001` was registered
/// beside `PG-0001`), and a register that already holds such a pair is named
/// by the migration instead of failing on an anonymous index error.
#[test]
fn asset_tags_are_unique_regardless_of_case() {
    let app = TestApp::new();
    let (status, _) = app.post(
        "/api/v1/instruments",
        Some("admin"),
        &pressure_gauge("PG-0001", "SN-1"),
    );
    assert_eq!(status, Status::Created);
    let (status, problem) = app.post(
        "/api/v1/instruments",
        Some("admin"),
        &pressure_gauge("pg-0001", "SN-2"),
    );
    assert_eq!(status, Status::Conflict, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("pg-0001"),
        "{problem}"
    );
    let report = app.with_conn(|conn| {
        use caltrace::db::schema::instruments;
        use diesel::connection::SimpleConnection;
        use diesel::prelude::*;
        // The register as it was before migration 000012.
        conn.batch_execute(
            "DROP INDEX instruments_asset_tag_nocase; \
             DELETE FROM __diesel_schema_migrations WHERE version = '20261204000012'",
        )
        .unwrap();
        diesel::update(instruments::table.filter(instruments::asset_tag.eq("PG-0001")))
            .set(instruments::asset_tag.eq("pg-0001"))
            .execute(conn)
            .unwrap();
        diesel::insert_into(instruments::table)
            .values((
                instruments::asset_tag.eq("PG-0001"),
                instruments::role.eq("working"),
                instruments::quantity_kind.eq("pressure"),
                instruments::status.eq("active"),
                instruments::created_at.eq("2026-12-04T00:00:00Z"),
                instruments::updated_at.eq("2026-12-04T00:00:00Z"),
            ))
            .execute(conn)
            .unwrap();
        let report = caltrace::db::run_migrations(conn).unwrap_err();
        // Once they are renamed, the index is built and start-up stops looking.
        diesel::update(instruments::table.filter(instruments::asset_tag.eq("PG-0001")))
            .set(instruments::asset_tag.eq("PG-0001-B"))
            .execute(conn)
            .unwrap();
        caltrace::db::run_migrations(conn).unwrap();
        report
    });
    assert!(
        report.contains("PG-0001") && report.contains("pg-0001"),
        "{report}"
    );
    assert!(report.contains("rename"), "{report}");
}
