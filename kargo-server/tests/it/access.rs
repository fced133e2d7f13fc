//! Every route × {no token, viewer, promoter, admin}: 401 without a valid
//! token, 403 when the role does not allow the operation in the project,
//! and otherwise an answer from the operation itself.

use reqwest::Method;
use serde_json::{Value, json};

use super::*;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Needs {
    /// Nothing: public.
    Nothing,
    /// Reading.
    Read,
    /// Promoting (approve, abort, refresh, reverify...).
    Promote,
    /// Changing definitions.
    Admin,
}

/// The routes, with `FREIGHT` and `PROMOTION` standing for real names.
fn routes() -> Vec<(Method, &'static str, Needs, Option<Value>)> {
    use Method as M;
    use Needs::*;
    vec![
        (M::GET, "/v1beta1/system/server-version", Nothing, None),
        (
            M::GET,
            "/v1beta1/system/public-server-config",
            Nothing,
            None,
        ),
        (M::GET, "/v1beta1/projects", Read, None),
        (M::GET, "/v1beta1/projects/demo", Read, None),
        (M::GET, "/v1beta1/projects/demo/config", Read, None),
        (M::GET, "/v1beta1/projects/demo/events", Read, None),
        (M::GET, "/v1beta1/projects/demo/warehouses", Read, None),
        (M::GET, "/v1beta1/projects/demo/warehouses/app", Read, None),
        (
            M::POST,
            "/v1beta1/projects/demo/warehouses/app/refresh",
            Promote,
            None,
        ),
        (M::GET, "/v1beta1/projects/demo/stages", Read, None),
        (M::GET, "/v1beta1/projects/demo/stages/dev", Read, None),
        (
            M::POST,
            "/v1beta1/projects/demo/stages/dev/promotions",
            Promote,
            Some(json!({"freight": "FREIGHT"})),
        ),
        (
            M::POST,
            "/v1beta1/projects/demo/stages/dev/promotions/downstream",
            Promote,
            Some(json!({"freight": "FREIGHT"})),
        ),
        (
            M::POST,
            "/v1beta1/projects/demo/stages/dev/refresh",
            Promote,
            None,
        ),
        (
            M::POST,
            "/v1beta1/projects/demo/stages/dev/verification",
            Promote,
            None,
        ),
        (
            M::POST,
            "/v1beta1/projects/demo/stages/dev/verification/abort",
            Promote,
            None,
        ),
        (M::GET, "/v1beta1/projects/demo/freight", Read, None),
        (M::GET, "/v1beta1/projects/demo/freight/FREIGHT", Read, None),
        (
            M::PATCH,
            "/v1beta1/projects/demo/freight/FREIGHT/alias?newAlias=renamed",
            Admin,
            None,
        ),
        (
            M::POST,
            "/v1beta1/projects/demo/freight/FREIGHT/approve?stage=prod",
            Promote,
            None,
        ),
        (M::GET, "/v1beta1/projects/demo/promotions", Read, None),
        (
            M::GET,
            "/v1beta1/projects/demo/promotions/PROMOTION",
            Read,
            None,
        ),
        (
            M::POST,
            "/v1beta1/projects/demo/promotions/PROMOTION/refresh",
            Promote,
            None,
        ),
        (
            M::POST,
            "/v1beta1/projects/demo/promotions/PROMOTION/abort",
            Promote,
            None,
        ),
        (M::GET, "/v1beta1/projects/demo/promotion-tasks", Read, None),
        (
            M::GET,
            "/v1beta1/projects/demo/promotion-tasks/set-tag",
            Read,
            None,
        ),
        (
            M::GET,
            "/v1beta1/projects/demo/analysis-templates",
            Read,
            None,
        ),
        (
            M::GET,
            "/v1beta1/projects/demo/analysis-templates/smoke",
            Read,
            None,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_checks_its_caller() {
    let world = world();
    let server = TestServer::start(&world, sqlite(&world).await, true).await;
    // Auto-promotion takes the newest Freight into dev once discovered.
    let promotions = server
        .wait_for("/v1beta1/projects/demo/promotions", Some(ADMIN), |b| {
            b["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await;
    let promotion = promotions["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let freight = promotions["items"][0]["spec"]["freight"]
        .as_str()
        .unwrap()
        .to_owned();
    let login = server
        .request(Method::POST, "/v1beta1/login", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let session: Value = login.json().await.unwrap();
    let session = session["idToken"].as_str().unwrap().to_owned();

    let callers: [(&str, Option<&str>); 6] = [
        ("none", None),
        ("garbage", Some("not-a-token")),
        ("viewer", Some(VIEWER)),
        ("promoter", Some(PROMOTER)),
        ("admin", Some(ADMIN)),
        ("admin login", Some(&session)),
    ];
    let mut failures = Vec::new();
    for (method, path, needs, body) in routes() {
        let path = path
            .replace("FREIGHT", &freight)
            .replace("PROMOTION", &promotion);
        let body = body.map(|b| {
            serde_json::from_str::<Value>(&b.to_string().replace("FREIGHT", &freight)).unwrap()
        });
        for (who, token) in &callers {
            let mut request = server.request(method.clone(), &path, *token);
            request = match &body {
                Some(Value::String(text)) => request.body(text.clone()),
                Some(body) => request.json(body),
                None => request,
            };
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            let allowed = match (*who, needs) {
                (_, Needs::Nothing) => true,
                ("none" | "garbage", _) => false,
                ("viewer", need) => need == Needs::Read,
                ("promoter", need) => need != Needs::Admin,
                _ => true,
            };
            let expected_denial = match *who {
                "none" | "garbage" => 401,
                _ => 403,
            };
            let ok = if allowed {
                status != 401 && status != 403 && status < 500
            } else {
                status == expected_denial
            };
            if !ok {
                failures.push(format!("{method} {path} as {who}: {status} {text}"));
            }
            if !(200..300).contains(&status) {
                // Every error is JSON with a message.
                let error: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|_| panic!("{method} {path} as {who}: not JSON: {text}"));
                assert!(
                    error["error"].as_str().is_some_and(|m| !m.is_empty()),
                    "{text}"
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // A promoter of another project is refused in this one.
    for (method, path, _, _) in routes().into_iter().filter(|r| r.2 != Needs::Nothing) {
        let path = path
            .replace("FREIGHT", &freight)
            .replace("PROMOTION", &promotion);
        if path == "/v1beta1/projects" {
            continue;
        }
        let response = server
            .request(method.clone(), &path, Some(STRANGER))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{method} {path}");
    }
    // Each answer says who the caller was taken for.
    let response = server
        .request(Method::GET, "/v1beta1/projects", Some(PROMOTER))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-kargo-subject"], "ci");
    assert_eq!(response.headers()["x-kargo-role"], "promoter");
    // ... and does not see it listed.
    let (_, projects) = server.get("/v1beta1/projects", Some(STRANGER)).await;
    assert_eq!(projects["total"], 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn login_takes_the_admin_password_only() {
    let world = world();
    let server = TestServer::start(&world, sqlite(&world).await, true).await;
    let status = |r: reqwest::Response| r.status().as_u16();
    let wrong = server
        .request(Method::POST, "/v1beta1/login", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(status(wrong), 403);
    let missing = server
        .request(Method::POST, "/v1beta1/login", None)
        .send()
        .await
        .unwrap();
    assert_eq!(status(missing), 401);
    let (_, config) = server
        .get("/v1beta1/system/public-server-config", None)
        .await;
    assert_eq!(config["adminAccountEnabled"], true);
    assert_eq!(config["skipAuth"], false);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_open_server_says_so_and_records_anonymous_actors() {
    let world = world();
    let server = TestServer::start(&world, sqlite(&world).await, false).await;
    let (_, config) = server
        .get("/v1beta1/system/public-server-config", None)
        .await;
    assert_eq!(config["skipAuth"], true);
    let (status, _) = server.get("/v1beta1/projects/demo/stages", None).await;
    assert_eq!(status, 200);
    let login = server
        .request(Method::POST, "/v1beta1/login", Some("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 403);
    server.stop().await;
}
