//! `/openapi.json`: the API's own OpenAPI document, made from the
//! handlers' and types' declarations. Its paths, parameters and shapes
//! follow Kargo's API.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::api;

#[derive(OpenApi)]
#[openapi(
    info(title = "kargo-rs API", description = "Kargo's REST API, served by kargo-rs", contact(name = "kargo-rs", url = "https://github.com/kargo-rs/kargo-rs"), license(name = "Apache-2.0")),
    paths(
        api::system::version, api::system::public_config, api::system::login,
        api::projects::list_projects, api::projects::get_project, api::projects::get_project_config,
        api::projects::list_events,
        api::warehouses::list, api::warehouses::get, api::warehouses::refresh,
        api::stages::list, api::stages::get, api::stages::promote, api::stages::promote_downstream,
        api::stages::refresh, api::stages::reverify, api::stages::abort_verification,
        api::freight::query, api::freight::get, api::freight::alias, api::freight::approve,
        api::promotions::list, api::promotions::get, api::promotions::abort, api::promotions::refresh,
        api::definitions::list_tasks, api::definitions::get_task,
        api::definitions::list_analysis_templates, api::definitions::get_analysis_template,
        api::resources::create, api::resources::update, api::resources::delete
    ),
    modifiers(&BearerAuth)
)]
struct Document;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "BearerAuth",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document.
pub(crate) fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Document::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}
