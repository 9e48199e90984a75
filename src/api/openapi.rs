//! The OpenAPI document (`/api/openapi.json`) and the API docs page (`/api/docs/`).

use rocket::Route;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{
    audit, calibrations, certificates, cmcs, health, instruments, traceability, uncertainty,
    validity,
};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
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
        audit::list,
        uncertainty::evaluate,
        calibrations::create, calibrations::batch, calibrations::read, calibrations::list, calibrations::replace,
        calibrations::submit, calibrations::approve, calibrations::reject, calibrations::withdraw,
        cmcs::create, cmcs::list,
        certificates::list, certificates::read, certificates::pdf, certificates::dcc, certificates::verify,
        validity::status, validity::status_by_tag, validity::bulk_status, validity::recalls,
        traceability::chain, traceability::impact, traceability::impact_with_correction,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

pub fn routes() -> Vec<Route> {
    SwaggerUi::new("/api/docs/<_..>")
        .url("/api/openapi.json", ApiDoc::openapi())
        .into()
}
