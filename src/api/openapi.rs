//! The OpenAPI document (`/api/openapi.json`) and the API docs page (`/api/docs/`).

use rocket::Route;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{audit, health, instruments};

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
        instruments::suspend, instruments::reactivate, instruments::retire,
        audit::list,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

pub fn routes() -> Vec<Route> {
    SwaggerUi::new("/api/docs/<_..>")
        .url("/api/openapi.json", ApiDoc::openapi())
        .into()
}
