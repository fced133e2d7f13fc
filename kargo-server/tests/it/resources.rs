//! `/v1beta1/resources`: manifests applied through the API, kept in the
//! state store, checked before anything is stored.

use reqwest::Method;
use serde_json::Value;

use super::*;

const QA: &str = r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: qa, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {stages: [dev]}}]
  promotionTemplate:
    spec:
      steps: [{task: {name: set-tag}, vars: [{name: env, value: qa}]}]
"#;

async fn send(
    server: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, Value) {
    let response = server
        .request(method, path, Some(token))
        .header("content-type", "text/plain")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn stage_names(server: &TestServer) -> Vec<String> {
    let (_, list) = server
        .get("/v1beta1/projects/demo/stages", Some(VIEWER))
        .await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_creates_updates_and_deletes_a_stage_through_the_api() {
    let world = world();
    let server = TestServer::start(&world, sqlite(&world).await, true).await;
    let (status, _) = send(&server, Method::POST, "/v1beta1/resources", PROMOTER, QA).await;
    assert_eq!(status, 403, "a promoter may not change resources");

    let (status, created) = send(&server, Method::POST, "/v1beta1/resources", ADMIN, QA).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["results"][0]["createdResourceManifest"]["metadata"]["name"],
        "qa"
    );
    assert!(stage_names(&server).await.contains(&"qa".to_owned()));
    let (status, again) = send(&server, Method::POST, "/v1beta1/resources", ADMIN, QA).await;
    assert_eq!(status, 409, "{again}");

    let updated_yaml = QA.replace("value: qa", "value: staging");
    let (status, updated) = send(
        &server,
        Method::PUT,
        "/v1beta1/resources",
        ADMIN,
        &updated_yaml,
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert!(
        updated["results"][0]["updatedResourceManifest"].is_object(),
        "{updated}"
    );
    let (_, qa) = server
        .get("/v1beta1/projects/demo/stages/qa", Some(VIEWER))
        .await;
    assert_eq!(
        qa["spec"]["promotionTemplate"]["spec"]["steps"][0]["vars"][0]["value"],
        "staging"
    );

    // A document that would break the project changes nothing.
    let broken = QA
        .replace("name: qa,", "name: qa2,")
        .replace("set-tag", "no-such-task");
    let (status, refused) = send(&server, Method::POST, "/v1beta1/resources", ADMIN, &broken).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("no-such-task"),
        "{refused}"
    );
    assert!(!stage_names(&server).await.contains(&"qa2".to_owned()));
    // A resource read from the files is not the API's to change.
    let dev = "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {name: dev, namespace: demo}\nspec: {requestedFreight: []}\n";
    let (status, _) = send(&server, Method::DELETE, "/v1beta1/resources", ADMIN, dev).await;
    assert_eq!(status, 400);
    // Another project is not served here.
    let elsewhere = QA.replace("namespace: demo", "namespace: elsewhere");
    let (status, _) = send(
        &server,
        Method::POST,
        "/v1beta1/resources",
        ADMIN,
        &elsewhere,
    )
    .await;
    assert_eq!(status, 403, "the admin token reaches demo only");

    let (status, deleted) = send(&server, Method::DELETE, "/v1beta1/resources", ADMIN, QA).await;
    assert_eq!(status, 200, "{deleted}");
    assert!(
        deleted["results"][0]["deletedResourceManifest"].is_object(),
        "{deleted}"
    );
    assert!(!stage_names(&server).await.contains(&"qa".to_owned()));
    server.stop().await;
}
