//! System and auth: `GetVersionInfo`, `GetPublicConfig`, `AdminLogin`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, ApiResult};
use crate::auth::{LoginError, bearer};
use crate::server::AppState;

/// The server's version (Kargo's `VersionInfo`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VersionInfo {
    /// The version.
    version: String,
    /// The commit it was built from, when known.
    git_commit: String,
    /// Whether the tree had uncommitted changes.
    git_tree_dirty: bool,
    /// When it was built, when known.
    build_date: String,
    /// Kargo reports its Go version here; kargo-rs is built with Rust.
    go_version: String,
    /// The compiler.
    compiler: String,
    /// `os/arch`.
    platform: String,
}

/// `GET /v1beta1/system/server-version` (no token needed).
#[utoipa::path(get, path = "/v1beta1/system/server-version", operation_id = "GetVersionInfo",
    tag = "System", responses((status = 200, body = VersionInfo)))]
pub(crate) async fn version() -> Json<VersionInfo> {
    Json(VersionInfo {
        version: format!("v{}", env!("CARGO_PKG_VERSION")),
        git_commit: option_env!("KARGO_GIT_COMMIT")
            .unwrap_or_default()
            .to_owned(),
        git_tree_dirty: false,
        build_date: String::new(),
        go_version: String::new(),
        compiler: "rustc".to_owned(),
        platform: format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}

/// What a client needs to know before logging in (Kargo's `PublicConfig`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PublicConfig {
    /// Whether the admin may log in with a password.
    admin_account_enabled: bool,
    /// Whether the API is open (no token needed).
    skip_auth: bool,
    /// Single sign-on is not offered.
    #[schema(value_type = Option<Object>)]
    oidc_config: Option<()>,
}

/// `GET /v1beta1/system/public-server-config` (no token needed).
#[utoipa::path(get, path = "/v1beta1/system/public-server-config", operation_id = "GetPublicConfig",
    tag = "System", responses((status = 200, body = PublicConfig)))]
pub(crate) async fn public_config(State(state): State<Arc<AppState>>) -> Json<PublicConfig> {
    Json(PublicConfig {
        admin_account_enabled: state.auth.as_ref().is_some_and(|a| a.admin_enabled()),
        skip_auth: state.auth.is_none(),
        oidc_config: None,
    })
}

/// A login's answer (Kargo's `AdminLoginResponse`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AdminLoginResponse {
    /// A signed token for `Authorization: Bearer`.
    id_token: String,
}

/// `POST /v1beta1/login` with `Authorization: Bearer PASSWORD`: a login
/// token for the admin; 403 for a wrong password or when no admin password
/// is set, 401 without the header (Kargo answers 400; its document, like
/// ours, declares the bearer scheme, whose absence is a 401).
#[utoipa::path(post, path = "/v1beta1/login", operation_id = "AdminLogin", tag = "System",
    security(("BearerAuth" = [])),
    responses((status = 200, body = AdminLoginResponse), (status = 400), (status = 401), (status = 403)))]
pub(crate) async fn login(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> ApiResult<Json<AdminLoginResponse>> {
    let Some(auth) = &state.auth else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            LoginError::Disabled.to_string(),
        ));
    };
    let header = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::new(StatusCode::UNAUTHORIZED, "Authorization header is required")
    })?;
    let password = header
        .to_str()
        .ok()
        .and_then(bearer)
        .ok_or_else(|| {
            ApiError::bad_request("Authorization header must be in format 'Bearer <password>'")
        })?
        .to_owned();
    let auth = auth.clone();
    // bcrypt is slow on purpose: keep it off the async workers.
    let token = tokio::task::spawn_blocking(move || auth.login(&password))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, e.to_string()))?;
    Ok(Json(AdminLoginResponse { id_token: token }))
}
