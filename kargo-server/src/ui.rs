//! The web UI: a single-page application served at `/`, its assets
//! embedded in the binary.
//!
//! The UI is plain JavaScript modules and CSS (`kargo-server/ui/`), with no
//! build step: `cargo build` embeds the files as they are. It talks to the
//! same `/v1beta1` API and watch streams as any other client, and has no
//! private endpoint.
//!
//! # Routes
//! - The application's pages, which all answer the same HTML document (the
//!   application routes in the browser, with the history API): `/`,
//!   `/login`, and everything under `/project/`, following Kargo's UI
//!   (`/project/{name}`, `/project/{name}/stage/{stage}`,
//!   `/project/{name}/freight/{freight}`, `/project/{name}/promotion/{id}`,
//!   `/project/{name}/warehouse/{warehouse}`,
//!   `/project/{name}/promote/freight/{freight}/stage/{stage}`).
//! - The assets under [`ASSETS_PATH`]`/{version}/`, where `{version}` is a
//!   digest of every asset: their URLs change whenever one changes, so they
//!   are cached for a year as immutable. The document itself is never
//!   cached.
//!
//! Every answer carries a Content-Security-Policy that allows only this
//! origin's scripts, styles and connections, and no framing.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::server::AppState;

/// Where the assets are served, followed by their version.
pub const ASSETS_PATH: &str = "/ui";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("../ui/", $name)),
        }
    };
}

/// Every asset the document loads (the modules import each other by
/// relative paths under the same versioned prefix).
const ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("store.js", "text/javascript; charset=utf-8"),
    asset!("model.js", "text/javascript; charset=utf-8"),
    asset!("actions.js", "text/javascript; charset=utf-8"),
    asset!("graph.js", "text/javascript; charset=utf-8"),
    asset!("views.js", "text/javascript; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// The document; `{{ASSETS}}` stands for the versioned asset prefix.
const INDEX: &str = include_str!("../ui/index.html");

/// The policy every UI answer carries.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; object-src 'none'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The assets' version and the document pointing at it, made once.
struct Built {
    version: String,
    index: String,
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for asset in ASSETS {
            digest.update(asset.name.as_bytes());
            digest.update(&(asset.bytes.len() as u64).to_le_bytes());
            digest.update(asset.bytes);
        }
        let version = hex::encode(&digest.finish().as_ref()[..8]);
        let index = INDEX.replace("{{ASSETS}}", &format!("{ASSETS_PATH}/{version}"));
        Built { version, index }
    })
}

/// The bytes the UI adds to the binary: every asset and the document.
pub fn embedded_size() -> usize {
    ASSETS.iter().map(|a| a.bytes.len()).sum::<usize>() + INDEX.len()
}

/// The UI's routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(document))
        .route("/login", get(document))
        .route("/project", get(document))
        .route("/project/{*rest}", get(document))
        .route(&format!("{ASSETS_PATH}/{{version}}/{{name}}"), get(asset))
}

/// Headers every UI answer carries.
fn guarded(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// The application's document, for every page.
async fn document() -> Response {
    let mut response = built().index.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    guarded(headers);
    response
}

/// An asset: cached for good under the current version; under another
/// one (a page loaded before an upgrade) answered all the same but not
/// cached, so that the page keeps working until it is reloaded.
async fn asset(Path((version, name)): Path<(String, String)>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let cache = if version == built().version {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    guarded(headers);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_every_module_under_the_versioned_prefix() {
        let built = built();
        assert_eq!(built.version.len(), 16);
        assert!(!built.index.contains("{{ASSETS}}"));
        let prefix = format!("{ASSETS_PATH}/{}/", built.version);
        assert!(built.index.contains(&format!("{prefix}app.js")));
        assert!(built.index.contains(&format!("{prefix}app.css")));
    }

    #[test]
    fn every_module_imported_is_embedded() {
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(asset.bytes).expect("modules are UTF-8");
            for (at, _) in text.match_indices(" from '") {
                let rest = &text[at + " from '".len()..];
                let target = rest.split('\'').next().unwrap_or_default();
                let name = target.strip_prefix("./").unwrap_or_else(|| {
                    panic!(
                        "{} imports {target}: only ./ modules are embedded",
                        asset.name
                    )
                });
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{} imports {name}, which is not embedded",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn the_assets_stay_small() {
        assert!(embedded_size() < 1024 * 1024, "{}", embedded_size());
    }
}
