//! The OpenAPI document (`/api/openapi.json`) and the API docs page (`/api/docs/`).

use rocket::Route;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, Schema};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{
    audit, calibrations, certificates, cmcs, competence, customers, export, health, instruments,
    lab, statements, traceability, uncertainty, validity,
};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some(
            "An API token (caltrace token create NAME). Its user's roles: admin, technician, \
             approver, inspector, auditor, or customer. A customer user (bound to one customer) \
             and an inspector scoped to customers read only those customers' instruments, \
             calibrations, certificates, validity, traceability and recalls: anything else is \
             404 as if it did not exist, and unknown_instrument in bulk validity (DESIGN 9b)."
                .to_string(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

const PROBLEM_JSON: &str = "application/problem+json";

fn is_problem(content: &RefOr<Content>) -> bool {
    matches!(content, RefOr::T(Content { schema: Some(RefOr::Ref(r)), .. })
        if r.ref_location.ends_with("/Problem"))
}

fn problem_response(description: &str) -> RefOr<Response> {
    let mut response = Response::new(description);
    response.content.insert(
        PROBLEM_JSON.to_string(),
        RefOr::T(Content::new(Some(Ref::from_schema_name("Problem")))),
    );
    RefOr::T(response)
}

fn is_integer(schema: &Option<RefOr<Schema>>) -> bool {
    serde_json::to_value(schema)
        .ok()
        .and_then(|value| value.get("type").cloned())
        .is_some_and(|t| {
            t == "integer" || t.as_array().is_some_and(|a| a.contains(&"integer".into()))
        })
}

/// Operation ids unique across modules (`instruments_create`, `calibrations_create`):
/// OpenAPI requires it, and links name operations by id.
fn unique_operation_id(operation: &mut Operation) {
    if let (Some(id), Some(tag)) = (
        &operation.operation_id,
        operation.tags.as_ref().and_then(|t| t.first()),
    ) {
        if !id.starts_with(&format!("{tag}_")) {
            operation.operation_id = Some(format!("{tag}_{id}"));
        }
    }
}

/// Links from what a write returns to what can be done with it next, so clients (and
/// schemathesis' stateful phase) can follow an id from one call into the next.
const LINKS: &[(&str, &str, &str, &[&str])] = &[
    (
        "/api/v1/instruments",
        "post",
        "201",
        &[
            "instruments_read",
            "instruments_update",
            "instruments_suspend",
            "instruments_reactivate",
            "instruments_retire",
            "instruments_interval",
            "validity_status",
            "traceability_chain",
            "traceability_impact",
        ],
    ),
    (
        "/api/v1/calibrations",
        "post",
        "201",
        &[
            "calibrations_read",
            "calibrations_replace",
            "calibrations_submit",
            "calibrations_reject",
            "calibrations_approve",
        ],
    ),
    (
        "/api/v1/calibrations/{id}/submit",
        "post",
        "200",
        &["calibrations_approve", "calibrations_reject"],
    ),
];

fn add_links(openapi: &mut utoipa::openapi::OpenApi) {
    for (path, method, status, targets) in LINKS {
        let Some(item) = openapi.paths.paths.get_mut(*path) else {
            continue;
        };
        let operation = match *method {
            "post" => item.post.as_mut(),
            _ => item.get.as_mut(),
        };
        let Some(RefOr::T(response)) =
            operation.and_then(|o| o.responses.responses.get_mut(*status))
        else {
            continue;
        };
        for target in *targets {
            let link = serde_json::json!({
                "operationId": target,
                "parameters": {"id": "$response.body#/id"}
            });
            if let Ok(link) = serde_json::from_value(link) {
                response.links.insert(target.to_string(), RefOr::T(link));
            }
        }
    }
}

/// Routes that are not JSON handlers but are part of the public surface.
fn add_plain_routes(openapi: &mut utoipa::openapi::OpenApi) {
    let routes = serde_json::json!({
        "/verify/{number}": {"get": {
            "tags": ["certificates"],
            "operationId": "certificates_verify_page",
            "summary": "Public page the certificate's (or validity statement's) QR code opens (HTML)",
            "parameters": [
                {"name": "number", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "sha256", "in": "query", "required": false,
                 "schema": {"type": "string", "pattern": "^[0-9A-Fa-f]{64}$"},
                 "description": "SHA-256 of the PDF or the DCC in hand (64 hex digits)"}
            ],
            "responses": {
                "200": {"description": "issued and in force, withdrawn or superseded (genuine only with a matching sha256), not genuine or unknown, as a page",
                        "content": {"text/html": {"schema": {"type": "string"}}}},
                "422": {"description": "sha256 is not 64 hexadecimal digits, as a page",
                        "content": {"text/html": {"schema": {"type": "string"}}}}
            }
        }},
        "/metrics": {"get": {
            "tags": ["service"],
            "operationId": "service_metrics",
            "summary": "Prometheus metrics: requests, latencies, database pool, memory (public unless metrics_require_token)",
            "responses": {
                "200": {"description": "Prometheus text exposition format 0.0.4",
                        "content": {"text/plain": {"schema": {"type": "string"}}}},
                "401": {"description": "metrics_require_token is set and no valid bearer token was given",
                        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            }
        }},
        "/api/openapi.json": {"get": {
            "tags": ["service"],
            "operationId": "service_openapi",
            "summary": "This OpenAPI document",
            "responses": {"200": {"description": "OpenAPI 3.1",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}}
        }}
    });
    if let Ok(routes) = serde_json::from_value::<
        std::collections::BTreeMap<String, utoipa::openapi::PathItem>,
    >(routes)
    {
        openapi.paths.paths.extend(routes);
    }
}

/// Makes the document say what the service does on every route, in one place
/// (found with schemathesis, scripts/schemathesis.sh):
/// - errors are served as `application/problem+json` (error.rs), not `application/json`;
/// - every route with a bearer token can answer 401; every route with a body 400 (not
///   JSON), 413 (over the limit) and 422 (wrong shape); every route with an integer path
///   parameter 422 (Rocket refuses a value that is not a 64-bit integer) and 404.
struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        add_plain_routes(openapi);
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                unique_operation_id(operation);
                complete_operation(operation);
            }
        }
        add_links(openapi);
    }
}

fn complete_operation(operation: &mut Operation) {
    let responses = &mut operation.responses.responses;
    for response in responses.values_mut() {
        if let RefOr::T(response) = response {
            if response
                .content
                .get("application/json")
                .is_some_and(is_problem)
            {
                let content = response.content.shift_remove("application/json").unwrap();
                response.content.insert(PROBLEM_JSON.to_string(), content);
            }
        }
    }
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_string())
            .or_insert_with(|| problem_response(description));
    };
    if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
        add("401", "No valid bearer token: missing, unknown or revoked");
    }
    if operation.request_body.is_some() {
        add("400", "The body is not JSON");
        add("413", "The body is larger than the service accepts");
        add(
            "422",
            "JSON of the wrong shape or with invalid values; errors name each field",
        );
    }
    let integer_path = operation.parameters.iter().flatten().any(|parameter| {
        matches!(parameter, RefOr::T(p) if p.parameter_in == ParameterIn::Path && is_integer(&p.schema))
    });
    if integer_path {
        add("404", "No such record");
        // Rocket refuses such an id before the handler runs: a 422 of its own, or one more
        // reason for the 422 the annotation already describes.
        match responses.get_mut("422") {
            Some(RefOr::T(response)) if !response.description.contains("id in the path") => {
                response.description = format!(
                    "{}; or the id in the path is not a 64-bit integer",
                    response.description
                );
            }
            Some(_) => {}
            None => {
                responses.insert(
                    "422".to_string(),
                    problem_response("The id in the path is not a 64-bit integer"),
                );
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "caltrace",
        description = "Calibration-data service: instrument register, GUM uncertainty, validity and traceability, certificates."
    ),
    paths(
        health::healthz,
        instruments::create, instruments::read, instruments::list, instruments::update,
        instruments::suspend, instruments::reactivate, instruments::retire, instruments::interval,
        customers::create, customers::list, customers::read, customers::replace, customers::amend,
        audit::list,
        uncertainty::evaluate,
        calibrations::create, calibrations::batch, calibrations::read, calibrations::list, calibrations::replace, calibrations::delete,
        calibrations::submit, calibrations::approve, calibrations::reject, calibrations::withdraw,
        calibrations::upload_issuer_certificate, calibrations::issuer_certificate,
        cmcs::create, cmcs::list,
        competence::authorise, competence::authorisations, competence::register_procedure, competence::procedures, competence::scope,
        certificates::list, certificates::read, certificates::pdf, certificates::dcc, certificates::verify, export::export,
        lab::trust,
        validity::status, validity::status_by_tag, validity::bulk_status, validity::recalls,
        statements::create, statements::read, statements::pdf,
        traceability::chain, traceability::impact, traceability::impact_with_correction,
    ),
    modifiers(&BearerAuth, &ProblemResponses)
)]
pub struct ApiDoc;

pub fn routes() -> Vec<Route> {
    SwaggerUi::new("/api/docs/<_..>")
        .url("/api/openapi.json", ApiDoc::openapi())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/api/v1/instruments/<id>/status?<at>` as OpenAPI writes it: `/api/v1/instruments/{id}/status`.
    fn openapi_path(rocket_uri: &str) -> String {
        let path = rocket_uri.split('?').next().unwrap_or_default();
        path.split('/')
            .map(
                |segment| match segment.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
                    Some(name) => format!("{{{name}}}"),
                    None => segment.to_string(),
                },
            )
            .collect::<Vec<_>>()
            .join("/")
    }

    #[test]
    fn every_route_is_documented_with_unique_ids_described_responses_and_problem_errors() {
        let document = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let paths = document["paths"].as_object().unwrap();
        for route in crate::api::routes() {
            let path = openapi_path(&route.uri.to_string());
            if path.starts_with("/api/docs") {
                continue; // the Swagger UI's own files
            }
            let method = route.method.as_str().to_ascii_lowercase();
            assert!(
                paths
                    .get(&path)
                    .and_then(|item| item.get(&method))
                    .is_some(),
                "{method} {path} is not in the OpenAPI document"
            );
        }
        let mut ids = std::collections::HashSet::new();
        for (path, item) in paths {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
                let responses = operation["responses"].as_object().unwrap();
                for (status, response) in responses {
                    // Required by OpenAPI; what a client reads to know what happened.
                    assert!(
                        response["description"]
                            .as_str()
                            .is_some_and(|d| !d.trim().is_empty()),
                        "{method} {path} {status} has no description"
                    );
                    // A page (the verify page) answers its errors as a page.
                    let page = response["content"].get("text/html").is_some();
                    if status.starts_with('4') && !page {
                        assert!(
                            response["content"].get(PROBLEM_JSON).is_some(),
                            "{method} {path} {status} is not problem+json"
                        );
                    }
                }
                if operation.get("security").is_some() {
                    assert!(responses.contains_key("401"), "{method} {path} lacks 401");
                }
                if operation.get("requestBody").is_some() {
                    for status in ["400", "413", "422"] {
                        assert!(
                            responses.contains_key(status),
                            "{method} {path} lacks {status}"
                        );
                    }
                }
            }
        }
        let link = &paths["/api/v1/calibrations"]["post"]["responses"]["201"]["links"]
            ["calibrations_submit"];
        assert_eq!(link["operationId"], "calibrations_submit");
        assert_eq!(link["parameters"]["id"], "$response.body#/id");
    }
}
