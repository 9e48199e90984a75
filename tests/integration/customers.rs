//! Customers as records, the `customer` role and scoped inspectors (DESIGN 9b): every read
//! route answered for a customer of A, a customer of B, an inspector scoped to A and an
//! unscoped inspector, with the exact ids each sees; renaming; the migration from the
//! free-text customers of the previous release.

use std::collections::BTreeSet;

use caltrace::auth::UserRole;
use rocket::http::Status;
use serde_json::{json, Value};

use crate::common::fixtures::{calibration, issue, point, submitted};
use crate::common::{fields, pressure_gauge, run_cli, TestApp};

/// A: ACME Valves (code A) owns gauges A-1 (issued certificate) and A-2 (a submitted
/// calibration); B: Beta Instruments (code B) owns B-1 (issued certificate); the lab's national
/// standard NIM-P belongs to no customer. Users: cust-a, cust-b, insp-a (inspector scoped to
/// A) and the unscoped `inspector`.
struct World {
    app: TestApp,
    national: i64,
    a1: i64,
    a2: i64,
    b1: i64,
    cal_a1: i64,
    cal_a2: i64,
    cal_b1: i64,
    cert_a1: String,
    cert_b1: String,
}

fn days_ago(days: u64) -> String {
    (chrono::Utc::now().date_naive() - chrono::Days::new(days)).to_string()
}

fn gauge(app: &TestApp, tag: &str, customer: Option<&str>) -> i64 {
    let mut body = pressure_gauge(tag, &format!("SN-{tag}"));
    body["customer"] = json!(customer);
    if customer.is_none() {
        body["role"] = json!("national");
        body["institute"] = json!("NIM");
        body["country"] = json!("CN");
    }
    let (status, created) = app.post("/api/v1/instruments", Some("admin"), &body);
    assert_eq!(status, Status::Created, "{created}");
    created["id"].as_i64().unwrap()
}

fn world() -> World {
    let mut app = TestApp::new();
    for (name, code) in [("ACME Valves", "A"), ("Beta Instruments", "B")] {
        let (status, body) = app.post(
            "/api/v1/customers",
            Some("technician"),
            &json!({"name": name, "code": code, "contact_email": "qa@example.com"}),
        );
        assert_eq!(status, Status::Created, "{body}");
    }
    let national = gauge(&app, "NIM-P", None);
    let a1 = gauge(&app, "A-1", Some("ACME Valves"));
    let a2 = gauge(&app, "A-2", Some("ACME Valves"));
    let b1 = gauge(&app, "B-1", Some("Beta Instruments"));
    // Performed 350 days ago with a 365-day interval: due in 15 days, so both are recalled.
    let performed = days_ago(350);
    let body = |id| calibration(id, &[national], &performed, vec![point(0.5003, 0.0002)]);
    let issued_a1 = issue(&app, &body(a1));
    let issued_b1 = issue(&app, &body(b1));
    let cal_a2 = submitted(&app, &body(a2));
    app.add_bound_user("cust-a", &[UserRole::Customer], &["A"]);
    app.add_bound_user("cust-b", &[UserRole::Customer], &["b"]);
    app.add_bound_user("insp-a", &[UserRole::Inspector], &["A"]);
    let number = |v: &Value| v["certificate_number"].as_str().unwrap().to_string();
    World {
        national,
        a1,
        a2,
        b1,
        cal_a1: issued_a1["id"].as_i64().unwrap(),
        cal_a2,
        cal_b1: issued_b1["id"].as_i64().unwrap(),
        cert_a1: number(&issued_a1),
        cert_b1: number(&issued_b1),
        app,
    }
}

fn ids(list: &Value, key: &str) -> BTreeSet<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|item| item[key].as_i64().unwrap())
        .collect()
}

const WHO: [&str; 4] = ["cust-a", "cust-b", "insp-a", "inspector"];

/// Every read route × (customer of A, customer of B, inspector scoped to A, unscoped
/// inspector): the exact records each is given, 404 for the others', lists and counts
/// without them, bulk validity `unknown_instrument` for them.
#[test]
fn customer_scope_matrix_for_every_read_route() {
    let w = world();
    let app = &w.app;
    let every = BTreeSet::from([w.national, w.a1, w.a2, w.b1]);
    let sees = |who: &str| -> BTreeSet<i64> {
        match who {
            "cust-a" | "insp-a" => BTreeSet::from([w.a1, w.a2]),
            "cust-b" => BTreeSet::from([w.b1]),
            _ => every.clone(),
        }
    };
    for who in WHO {
        let visible = sees(who);
        // The register: exactly these rows, and a total that counts only them.
        let (status, page) = app.get("/api/v1/instruments?per_page=100", Some(who));
        assert_eq!(status, Status::Ok, "{who}");
        assert_eq!(ids(&page["items"], "id"), visible, "{who}");
        assert_eq!(page["total"], json!(visible.len()), "{who}");
        let (_, by_customer) =
            app.get("/api/v1/instruments?customer=Beta%20Instruments", Some(who));
        assert_eq!(
            by_customer["total"],
            json!(visible.contains(&w.b1) as usize),
            "{who}"
        );
        for id in &every {
            let expected = if visible.contains(id) {
                Status::Ok
            } else {
                Status::NotFound
            };
            for template in [
                "/api/v1/instruments/{id}",
                "/api/v1/instruments/{id}/status",
                "/api/v1/instruments/{id}/traceability",
                "/api/v1/instruments/{id}/interval",
            ] {
                let path = template.replace("{id}", &id.to_string());
                let (status, body) = app.get(&path, Some(who));
                assert_eq!(status, expected, "{who} {path} {body}");
                if status == Status::NotFound {
                    // Worded exactly as for an id that was never registered.
                    let (_, never) = app.get(&template.replace("{id}", "999999"), Some(who));
                    assert_eq!(
                        body["detail"]
                            .as_str()
                            .unwrap()
                            .replace(&id.to_string(), "N"),
                        never["detail"].as_str().unwrap().replace("999999", "N"),
                        "{path}"
                    );
                }
            }
        }
        for tag in ["NIM-P", "A-1", "A-2", "B-1"] {
            let (status, _) = app.get(
                &format!("/api/v1/instruments/by-tag/{tag}/status"),
                Some(who),
            );
            let id = match tag {
                "NIM-P" => w.national,
                "A-1" => w.a1,
                "A-2" => w.a2,
                _ => w.b1,
            };
            let expected = if visible.contains(&id) {
                Status::Ok
            } else {
                Status::NotFound
            };
            assert_eq!(status, expected, "{who} {tag}");
        }
        // Bulk validity: the others' are unknown instruments, in the order asked.
        let asked = [w.b1, w.a1, w.national, w.a2];
        let (status, bulk) = app.post(
            "/api/v1/instruments/status",
            Some(who),
            &json!({"ids": asked}),
        );
        assert_eq!(status, Status::Ok);
        let reasons: Vec<(i64, bool)> = bulk["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["id"].as_i64().unwrap(),
                    r["reason"] == "unknown_instrument",
                )
            })
            .collect();
        let expected: Vec<(i64, bool)> = asked
            .iter()
            .map(|id| (*id, !visible.contains(id)))
            .collect();
        assert_eq!(reasons, expected, "{who}");
        let (_, by_tags) = app.post(
            "/api/v1/instruments/status",
            Some(who),
            &json!({"asset_tags": ["B-1", "A-1"]}),
        );
        let unknown: Vec<bool> = by_tags["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["reason"] == "unknown_instrument")
            .collect();
        assert_eq!(
            unknown,
            vec![!visible.contains(&w.b1), !visible.contains(&w.a1)],
            "{who}"
        );
        // Calibrations: list and one by one.
        let (_, cals) = app.get("/api/v1/calibrations?per_page=100", Some(who));
        let cal_visible: BTreeSet<i64> = [(w.cal_a1, w.a1), (w.cal_a2, w.a2), (w.cal_b1, w.b1)]
            .into_iter()
            .filter(|(_, instrument)| visible.contains(instrument))
            .map(|(cal, _)| cal)
            .collect();
        assert_eq!(ids(&cals["items"], "id"), cal_visible, "{who}");
        assert_eq!(cals["total"], json!(cal_visible.len()), "{who}");
        for cal in [w.cal_a1, w.cal_a2, w.cal_b1] {
            let (status, _) = app.get(&format!("/api/v1/calibrations/{cal}"), Some(who));
            let expected = if cal_visible.contains(&cal) {
                Status::Ok
            } else {
                Status::NotFound
            };
            assert_eq!(status, expected, "{who} calibration {cal}");
        }
        // Certificates: one by one and both documents.
        for (number, instrument) in [(&w.cert_a1, w.a1), (&w.cert_b1, w.b1)] {
            let expected = if visible.contains(&instrument) {
                Status::Ok
            } else {
                Status::NotFound
            };
            for suffix in ["", "/pdf", "/dcc"] {
                let (status, _) =
                    app.get(&format!("/api/v1/certificates/{number}{suffix}"), Some(who));
                assert_eq!(status, expected, "{who} {number}{suffix}");
            }
        }
        // Recalls: both gauges are due in 15 days; each sees only its own.
        let (status, recalls) = app.get("/api/v1/recalls", Some(who));
        assert_eq!(status, Status::Ok);
        let recalled: BTreeSet<i64> = recalls["customers"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| ids(&c["instruments"], "id"))
            .collect();
        let due: BTreeSet<i64> = [w.a1, w.b1]
            .into_iter()
            .filter(|id| visible.contains(id))
            .collect();
        assert_eq!(recalled, due, "{who}");
    }
    // Pages of a scoped list hold the scope's rows in id order, counted alike.
    for (who, page, expected) in [("cust-a", 2, w.a2), ("insp-a", 1, w.a1)] {
        let (_, one) = app.get(
            &format!("/api/v1/instruments?per_page=1&page={page}"),
            Some(who),
        );
        assert_eq!(
            ids(&one["items"], "id"),
            BTreeSet::from([expected]),
            "{who}"
        );
        assert_eq!(one["total"], json!(2), "{who}");
    }
    // The traceability a customer sees shows the lab's standard, as the certificate does.
    let (_, chain) = app.get(
        &format!("/api/v1/instruments/{}/traceability", w.a1),
        Some("cust-a"),
    );
    assert_eq!(chain["traceable"], json!(true));
    assert_eq!(
        chain["chain"]["standards"][0]["instrument"]["id"],
        json!(w.national)
    );
    assert_eq!(chain["chain"]["certificate_number"], json!(w.cert_a1));
}

/// An inspector scoped to several customers pages through their instruments in id
/// order across customers (the rows come out of the customer index a customer at a
/// time), every page cut from the scope alone and counted alike.
#[test]
fn a_list_across_several_customers_is_in_id_order() {
    let w = world();
    let a3 = gauge(&w.app, "A-3", Some("ACME Valves"));
    let mut app = w.app;
    app.add_bound_user("insp-ab", &[UserRole::Inspector], &["A", "B"]);
    let order = |list: &Value| -> Vec<i64> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_i64().unwrap())
            .collect()
    };
    let (_, all) = app.get("/api/v1/instruments?per_page=10", Some("insp-ab"));
    assert_eq!(order(&all["items"]), vec![w.a1, w.a2, w.b1, a3]);
    assert_eq!(all["total"], json!(4));
    for (page, expected) in [(1, vec![w.a1, w.a2]), (2, vec![w.b1, a3]), (3, vec![])] {
        let (_, one) = app.get(
            &format!("/api/v1/instruments?per_page=2&page={page}"),
            Some("insp-ab"),
        );
        assert_eq!(order(&one["items"]), expected, "page {page}");
        assert_eq!(one["total"], json!(4), "page {page}");
    }
    // Keyset: each page from the previous page's next_after, the same pages in scope.
    let mut after = String::new();
    for expected in [vec![w.a1, w.a2], vec![w.b1, a3]] {
        let (_, one) = app.get(
            &format!("/api/v1/instruments?per_page=2{after}"),
            Some("insp-ab"),
        );
        assert_eq!(order(&one["items"]), expected, "after '{after}'");
        assert_eq!(one["next_after"], json!(expected[1]));
        after = format!("&after={}", expected[1]);
    }
    let (_, last) = app.get(
        &format!("/api/v1/instruments?per_page=2{after}"),
        Some("insp-ab"),
    );
    assert_eq!(
        (order(&last["items"]), &last["next_after"]),
        (vec![], &Value::Null)
    );
}

/// Certificate and customer lists: a customer lists its own certificates; inspectors list
/// none (as before); customers are listed to staff, a scoped inspector sees its own, a
/// customer user none (403).
#[test]
fn customer_lists_of_certificates_and_customers() {
    let w = world();
    let app = &w.app;
    let numbers = |who: &str| -> (Status, Vec<String>, Value) {
        let (status, page) = app.get("/api/v1/certificates", Some(who));
        let numbers = page["items"].as_array().map(|items| {
            items
                .iter()
                .map(|i| i["number"].as_str().unwrap().to_string())
                .collect()
        });
        (status, numbers.unwrap_or_default(), page["total"].clone())
    };
    assert_eq!(
        numbers("cust-a"),
        (Status::Ok, vec![w.cert_a1.clone()], json!(1))
    );
    assert_eq!(
        numbers("cust-b"),
        (Status::Ok, vec![w.cert_b1.clone()], json!(1))
    );
    assert_eq!(numbers("auditor").2, json!(2));
    assert_eq!(numbers("insp-a").0, Status::Forbidden);
    assert_eq!(numbers("inspector").0, Status::Forbidden);
    let (_, filtered) = app.get(
        "/api/v1/certificates?customer=Beta%20Instruments",
        Some("cust-a"),
    );
    assert_eq!(filtered["total"], json!(0));

    let codes = |who: &str| -> (Status, Vec<String>) {
        let (status, list) = app.get("/api/v1/customers", Some(who));
        let codes = list.as_array().map(|l| {
            l.iter()
                .map(|c| c["code"].as_str().unwrap().to_string())
                .collect()
        });
        (status, codes.unwrap_or_default())
    };
    assert_eq!(
        codes("inspector"),
        (Status::Ok, vec!["A".to_string(), "B".to_string()])
    );
    assert_eq!(codes("insp-a"), (Status::Ok, vec!["A".to_string()]));
    assert_eq!(codes("cust-a").0, Status::Forbidden);
    let (status, own) = app.get("/api/v1/customers/a", Some("cust-a"));
    assert_eq!((status, own["instruments"].clone()), (Status::Ok, json!(2)));
    assert_eq!(
        app.get("/api/v1/customers/B", Some("cust-a")).0,
        Status::NotFound
    );
}

/// Customers and scoped inspectors are read-only: every write is 403, and nothing is stored.
#[test]
fn customer_users_cannot_write() {
    let w = world();
    let app = &w.app;
    for who in ["cust-a", "insp-a"] {
        let writes: Vec<(String, Value)> = vec![
            ("/api/v1/instruments".into(), pressure_gauge("X-1", "SX1")),
            (format!("/api/v1/instruments/{}/suspend", w.a1), json!({})),
            (
                "/api/v1/calibrations".into(),
                calibration(w.a1, &[w.national], &days_ago(1), vec![point(0.5, 0.0002)]),
            ),
            (
                format!("/api/v1/calibrations/{}/approve", w.cal_a2),
                json!({}),
            ),
            (
                format!("/api/v1/certificates/{}/withdraw", w.cert_a1),
                json!({"reason": "x"}),
            ),
            (
                "/api/v1/customers".into(),
                json!({"name": "Mine", "code": "MINE"}),
            ),
        ];
        for (path, body) in writes {
            let (status, problem) = app.post(&path, Some(who), &body);
            assert_eq!(status, Status::Forbidden, "{who} {path} {problem}");
        }
        let (status, _) = app.send(
            rocket::http::Method::Patch,
            "/api/v1/customers/A",
            Some(who),
            r#"{"name": "Renamed"}"#,
        );
        assert_eq!(status, Status::Forbidden);
    }
    let (_, page) = app.get("/api/v1/instruments", Some("admin"));
    assert_eq!(page["total"], json!(4));
}

#[test]
fn customers_are_records_with_unique_names_and_codes() {
    let app = TestApp::new();
    let post = |body: Value| app.post("/api/v1/customers", Some("admin"), &body);
    let (status, created) = post(json!({"name": " ACME Valves ", "code": "ACME",
        "address": "1 Harbour Rd\nNingbo", "contact_email": "qa@acme.example"}));
    assert_eq!(status, Status::Created, "{created}");
    assert_eq!(created["name"], "ACME Valves");
    assert_eq!(created["address"], "1 Harbour Rd\nNingbo");
    assert_eq!(created["instruments"], 0);
    let (status, problem) = post(json!({"name": "ACME Valves", "code": "OTHER"}));
    assert_eq!(
        (status, problem["detail"].as_str().unwrap()),
        (
            Status::Conflict,
            "a customer named 'ACME Valves' already exists"
        )
    );
    let (status, problem) = post(json!({"name": "Other", "code": "acme"}));
    assert_eq!(
        (status, problem["detail"].as_str().unwrap()),
        (
            Status::Conflict,
            "a customer with code 'acme' already exists"
        )
    );
    let (status, problem) = post(json!({"name": "", "code": "A B", "contact_email": "nobody"}));
    assert_eq!(status, Status::UnprocessableEntity);
    assert_eq!(fields(&problem), ["name", "code", "contact_email"]);
    let (status, problem) = post(json!({"code": "X", "phone": "1"}));
    assert_eq!(status, Status::UnprocessableEntity, "{problem}");
    let (status, _) = app.send(
        rocket::http::Method::Post,
        "/api/v1/customers",
        Some("admin"),
        "{not json",
    );
    assert_eq!(status, Status::BadRequest);
    let (status, _) = app.post(
        "/api/v1/customers",
        Some("auditor"),
        &json!({"name": "Y", "code": "Y"}),
    );
    assert_eq!(status, Status::Forbidden);
    // Nothing of the refused attempts was stored.
    let (_, list) = app.get("/api/v1/customers", Some("auditor"));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        app.get("/api/v1/customers/nope", Some("auditor")).0,
        Status::NotFound
    );
}

/// An instrument naming an unregistered customer registers it (old clients keep working); a
/// rename reaches the instruments but not the certificates already issued; all audited.
#[test]
fn renaming_a_customer_keeps_its_instruments_and_issued_certificates() {
    let app = TestApp::new();
    let national = gauge(&app, "NIM-P", None);
    let a1 = gauge(&app, "A-1", Some("ACME Valves"));
    let (_, list) = app.get("/api/v1/customers", Some("admin"));
    assert_eq!(list[0]["name"], "ACME Valves");
    assert_eq!(list[0]["code"], "C00001");
    assert_eq!(list[0]["instruments"], 1);
    let issued = issue(
        &app,
        &calibration(a1, &[national], &days_ago(3), vec![point(0.5003, 0.0002)]),
    );
    let number = issued["certificate_number"].as_str().unwrap();
    let (status, renamed) = app.send(
        rocket::http::Method::Patch,
        "/api/v1/customers/c00001",
        Some("technician"),
        r#"{"name": "ACME Valves Ltd", "code": "ACME"}"#,
    );
    assert_eq!(status, Status::Ok, "{renamed}");
    assert_eq!(
        (renamed["name"].as_str(), renamed["code"].as_str()),
        (Some("ACME Valves Ltd"), Some("ACME"))
    );
    let (_, instrument) = app.get(&format!("/api/v1/instruments/{a1}"), Some("admin"));
    assert_eq!(instrument["customer"], "ACME Valves Ltd");
    let (_, page) = app.get(
        "/api/v1/instruments?customer=ACME%20Valves%20Ltd",
        Some("admin"),
    );
    assert_eq!(ids(&page["items"], "id"), BTreeSet::from([a1]));
    let (_, certificate) = app.get(&format!("/api/v1/certificates/{number}"), Some("admin"));
    assert_eq!(certificate["customer"], "ACME Valves");
    // Registering under the new name reuses the record; PUT clears what it leaves out.
    let b = gauge(&app, "A-2", Some("ACME Valves Ltd"));
    let (_, list) = app.get("/api/v1/customers", Some("admin"));
    assert_eq!(
        (
            list.as_array().unwrap().len(),
            list[0]["instruments"].clone()
        ),
        (1, json!(2))
    );
    let (status, put) = app.put(
        "/api/v1/customers/ACME",
        Some("admin"),
        &json!({"name": "ACME Valves Ltd", "code": "ACME"}),
    );
    assert_eq!(
        (status, put["contact_email"].clone()),
        (Status::Ok, Value::Null)
    );
    let (status, problem) = app.send(
        rocket::http::Method::Patch,
        "/api/v1/customers/ACME",
        Some("admin"),
        r#"{"contact_email": "not an address"}"#,
    );
    assert_eq!(
        (status, fields(&problem)),
        (
            Status::UnprocessableEntity,
            vec!["contact_email".to_string()]
        )
    );
    let (_, audit) = app.get(
        "/api/v1/audit?entity=customer&per_page=100",
        Some("auditor"),
    );
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "create").count(),
        1,
        "{audit}"
    );
    assert_eq!(
        actions.iter().filter(|a| **a == "update").count(),
        2,
        "{audit}"
    );
    assert!(b > a1);
}

/// `caltrace user add NAME --role customer --customer CODE`: the binding is checked before
/// anything is stored, and the token it gets sees only that customer.
#[test]
fn the_cli_binds_customer_users_and_scopes_inspectors() {
    let w = world();
    let url = &w.app.database_url;
    let (ok, out) = run_cli(
        url,
        &[
            "user",
            "add",
            "c-x",
            "--role",
            "customer",
            "--customer",
            "NOPE",
        ],
    );
    assert!(!ok && out.contains("no customer with code 'NOPE'"), "{out}");
    let (ok, out) = run_cli(url, &["user", "add", "c-y", "--role", "customer"]);
    assert!(!ok && out.contains("exactly one customer"), "{out}");
    let (ok, out) = run_cli(
        url,
        &[
            "user",
            "add",
            "c-z",
            "--role",
            "technician",
            "--customer",
            "A",
        ],
    );
    assert!(!ok && out.contains("--customer"), "{out}");
    let (ok, out) = run_cli(
        url,
        &[
            "user",
            "add",
            "i-ab",
            "--role",
            "inspector",
            "--customer",
            "A",
            "--customer",
            "B",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = run_cli(
        url,
        &[
            "user",
            "add",
            "c-b",
            "--role",
            "customer",
            "--customer",
            "B",
        ],
    );
    assert!(ok && out.contains("customers B"), "{out}");
    let (ok, out) = run_cli(url, &["token", "create", "c-b"]);
    assert!(ok, "{out}");
    let token = out.trim().lines().last().unwrap().to_string();
    let (_, page) = w.app.get("/api/v1/instruments", Some(&token));
    assert_eq!(ids(&page["items"], "id"), BTreeSet::from([w.b1]));
    let (ok, out) = run_cli(url, &["token", "create", "i-ab"]);
    assert!(ok, "{out}");
    let token = out.trim().lines().last().unwrap().to_string();
    let (_, page) = w.app.get("/api/v1/instruments", Some(&token));
    assert_eq!(
        ids(&page["items"], "id"),
        BTreeSet::from([w.a1, w.a2, w.b1])
    );
    // None of the refused users exists.
    for name in ["c-x", "c-y", "c-z"] {
        let found = w
            .app
            .with_conn(|conn| caltrace::db::users::find_user(conn, name))
            .unwrap();
        assert!(found.is_none(), "{name}");
    }
}

/// The customer portal: a customer logging in sees its instruments, validity, certificates
/// and what is due, and nothing of the other customer; its pages of another's records 404.
#[test]
fn the_customer_portal_shows_only_its_own_records() {
    let mut w = world();
    let password = "correct horse battery";
    w.app
        .with_conn(|conn| {
            caltrace::db::users::set_password(
                conn,
                &caltrace::db::audit::Actor::command_line(),
                "cust-a",
                password,
            )
        })
        .unwrap();
    let form = w
        .app
        .client
        .get("/login?next=/")
        .dispatch()
        .into_string()
        .unwrap();
    let marker = "name=\"login_token\" value=\"";
    let start = form.find(marker).unwrap() + marker.len();
    let token = form[start..].split('"').next().unwrap().to_string();
    let body = format!(
        "username=cust-a&password={}&login_token={}&next=%2F",
        caltrace::web::url_encode(password),
        caltrace::web::url_encode(&token)
    );
    let response = w
        .app
        .client
        .post("/login")
        .header(rocket::http::ContentType::Form)
        .body(body)
        .dispatch();
    assert_eq!(response.status(), Status::SeeOther);
    let page = w.app.client.get("/").dispatch().into_string().unwrap();
    assert!(page.contains("Your instruments"), "{page}");
    for own in [
        "A-1",
        "A-2",
        w.cert_a1.as_str(),
        &format!("/certificates/{}/pdf", w.cert_a1),
    ] {
        assert!(page.contains(own), "{own} missing");
    }
    for other in ["B-1", w.cert_b1.as_str(), "NIM-P", "Beta Instruments"] {
        assert!(!page.contains(other), "{other} shown to A");
    }
    let status = |path: String| w.app.client.get(path).dispatch().status();
    assert_eq!(status(format!("/instruments/{}", w.b1)), Status::NotFound);
    assert_eq!(status(format!("/instruments/{}", w.a1)), Status::Ok);
    assert_eq!(
        status(format!("/certificates/{}", w.cert_b1)),
        Status::NotFound
    );
    assert_eq!(
        status(format!("/certificates/{}/pdf", w.cert_b1)),
        Status::NotFound
    );
    assert_eq!(
        status(format!("/certificates/{}/pdf", w.cert_a1)),
        Status::Ok
    );
    assert_eq!(
        status(format!("/calibrations/{}", w.cal_b1)),
        Status::NotFound
    );
    let list = w
        .app
        .client
        .get("/instruments")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(list.contains("A-2") && !list.contains("B-1"));
    let certs = w
        .app
        .client
        .get("/certificates")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(certs.contains(&w.cert_a1) && !certs.contains(&w.cert_b1));
    w.app.tokens.clear();
}

/// A database as the previous release left it (migrations up to 000021) with free-text
/// customers, then upgraded: every name is a record (codes C00001… in name order), every
/// instrument linked to its name's record, certificates keep the name they were issued with;
/// the instrument without a customer stays without one.
#[test]
fn the_migration_makes_records_of_free_text_customers() {
    use caltrace::db::{DatabaseLocation, DbConnection, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
    use diesel::connection::SimpleConnection;
    use diesel::migration::MigrationSource;
    use diesel_migrations::MigrationHarness;

    let dir = tempfile::tempdir().unwrap();
    let (url, postgres) = match std::env::var("CALTRACE_TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            let (url, name) = crate::common::create_postgres_database(&admin, "caltrace_migration");
            (url, Some((admin, name)))
        }
        _ => (
            format!("sqlite://{}", dir.path().join("old.sqlite3").display()),
            None,
        ),
    };
    let previous = |name: String| name.as_str() <= "2026-12-05-000021_zzz";
    let mut conn = DatabaseLocation::parse(&url).connect().unwrap();
    match &mut conn {
        DbConnection::Sqlite(c) => {
            diesel::migration::MigrationConnection::setup(c).unwrap();
            for m in
                MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS).unwrap()
            {
                if previous(m.name().to_string()) {
                    c.run_migration(&*m).unwrap();
                }
            }
        }
        DbConnection::Postgresql(c) => {
            diesel::migration::MigrationConnection::setup(c).unwrap();
            for m in MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS).unwrap() {
                if previous(m.name().to_string()) {
                    c.run_migration(&*m).unwrap();
                }
            }
        }
    }
    let now = "'2026-12-01T00:00:00Z'";
    let instrument = |id: i64, customer: &str| {
        format!("INSERT INTO instruments (id, asset_tag, role, quantity_kind, customer, status, created_at, updated_at) \
                 VALUES ({id}, 'T-{id}', 'working', 'pressure', {customer}, 'active', {now}, {now});")
    };
    let sql = [
        format!("INSERT INTO users (id, name, roles, created_at) VALUES (1, 'tech', 'technician', {now});"),
        instrument(1, "'Beta Labs'"),
        instrument(2, "'ACME Valves'"),
        instrument(3, "'ACME Valves'"),
        instrument(4, "NULL"),
        instrument(5, "'上海计量 O''Brien'"),
        format!("INSERT INTO calibrations (id, instrument_id, kind, status, performed_on, decision_rule, body, results, \
                 created_by, created_at, updated_at, certificate_number) VALUES \
                 (1, 2, 'internal', 'issued', '2026-05-10', 'simple', '{{}}', '[]', 1, {now}, {now}, 'CT-2026-000001');"),
        format!("INSERT INTO certificates (number, calibration_id, instrument_id, issued_on, pdf, pdf_sha256, dcc, dcc_sha256, \
                 audit_head, created_at) VALUES ('CT-2026-000001', 1, 2, '2026-05-11', {blob}, 'x', {blob}, 'y', 'h', {now});",
                blob = if postgres.is_some() { "'\\x00'::bytea" } else { "x'00'" }),
    ]
    .join("\n");
    conn.batch_execute(&sql).unwrap();
    if postgres.is_some() {
        conn.batch_execute(
            "SELECT setval('instruments_id_seq', 5); SELECT setval('users_id_seq', 1);",
        )
        .unwrap();
    }
    caltrace::db::run_migrations(&mut conn).unwrap();

    let customers: Vec<(String, String, i64)> =
        caltrace::db::customers::list(&mut conn, &caltrace::domain::people::Scope::Everything)
            .unwrap()
            .into_iter()
            .map(|c| (c.code, c.name, c.instruments))
            .collect();
    assert_eq!(
        customers,
        vec![
            ("C00001".to_string(), "ACME Valves".to_string(), 2),
            ("C00002".to_string(), "Beta Labs".to_string(), 1),
            ("C00003".to_string(), "上海计量 O'Brien".to_string(), 1),
        ]
    );
    use caltrace::db::schema::{certificates, instruments};
    use diesel::prelude::*;
    let links: Vec<(i64, Option<String>, Option<i64>)> = instruments::table
        .select((
            instruments::id,
            instruments::customer,
            instruments::customer_id,
        ))
        .order(instruments::id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        links,
        vec![
            (1, Some("Beta Labs".into()), Some(2)),
            (2, Some("ACME Valves".into()), Some(1)),
            (3, Some("ACME Valves".into()), Some(1)),
            (4, None, None),
            (5, Some("上海计量 O'Brien".into()), Some(3)),
        ]
    );
    let issued: Option<String> = certificates::table
        .select(certificates::customer_name)
        .first(&mut conn)
        .unwrap();
    assert_eq!(issued.as_deref(), Some("ACME Valves"));
    // A customer user can be bound to a migrated record, and sees its instruments only.
    let user = caltrace::workflow::users::create_user(
        &mut conn,
        &caltrace::db::audit::Actor::command_line(),
        "acme",
        &[UserRole::Customer],
        &Default::default(),
        &["c00001".to_string()],
    )
    .unwrap();
    assert_eq!(
        user.scope,
        caltrace::domain::people::Scope::Customers {
            user_id: user.id,
            customer_ids: vec![1]
        }
    );
    drop(conn);
    if let Some((admin, name)) = postgres {
        crate::common::drop_postgres_database(&admin, &name);
    }
}
