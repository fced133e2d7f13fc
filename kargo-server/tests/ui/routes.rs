//! The UI's routes over real HTTP: every page answers the application,
//! assets are versioned and cached, nothing else changes.

use super::*;

/// The versioned asset prefix the document names (`/ui/VERSION`).
fn asset_prefix(document: &str) -> String {
    let start = document
        .find("/ui/")
        .expect("the document names its assets");
    let rest = &document[start + "/ui/".len()..];
    let version = rest.split('/').next().expect("a version");
    format!("/ui/{version}")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_of_kargos_ui_answers_the_application_and_assets_are_cached() {
    let world = world();
    let server = ui_server(&world, true).await;
    let client = reqwest::Client::new();
    let mut documents = Vec::new();
    for path in [
        "/",
        "/login",
        "/project/demo",
        "/project/demo/stage/prod",
        "/project/demo/freight/abc",
        "/project/demo/promotion/p-1",
        "/project/demo/promote/freight/abc/stage/prod",
    ] {
        let response = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(
            headers["content-type"], "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        documents.push(response.text().await.unwrap());
    }
    assert!(documents.windows(2).all(|w| w[0] == w[1]));
    let prefix = asset_prefix(&documents[0]);

    for (name, kind) in [
        ("app.js", "text/javascript"),
        ("app.css", "text/css"),
        ("graph.js", "text/javascript"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let response = client
            .get(server.url(&format!("{prefix}/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
        let headers = response.headers();
        assert!(
            headers["content-type"].to_str().unwrap().starts_with(kind),
            "{name}: {:?}",
            headers["content-type"]
        );
        assert_eq!(
            headers["cache-control"], "public, max-age=31536000, immutable",
            "{name}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
    // An older page's version is answered, but not cached.
    let stale = client
        .get(server.url("/ui/0000000000000000/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.headers()["cache-control"], "no-cache");
    let missing = client
        .get(server.url(&format!("{prefix}/nope.js")))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // The API and its errors are as they were.
    let unknown = client.get(server.url("/nope")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let body: serde_json::Value = unknown.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    let api = client
        .get(server.url("/v1beta1/projects"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    let config: serde_json::Value = client
        .get(server.url("/v1beta1/system/public-server-config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["skipAuth"], false);
    server.stop().await;
}
