//! The operations over real HTTP: Kargo's shapes, a person's promotion to
//! prod, Freight queries and aliases, and errors.

use reqwest::Method;
use serde_json::{Value, json};

use super::*;

/// Waits until dev holds Freight (auto-promoted after discovery) and
/// returns dev's Stage object.
async fn dev_promoted(server: &TestServer) -> Value {
    server
        .wait_for("/v1beta1/projects/demo/stages/dev", Some(ADMIN), |s| {
            s.pointer("/status/lastPromotion/status/phase") == Some(&json!("Succeeded"))
                && s.pointer("/status/freightHistory/0/verificationHistory/0/phase")
                    == Some(&json!("Successful"))
        })
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn stages_and_warehouses_have_kargo_shapes() {
    let world = world();
    let server = TestServer::start(&world, sqlite(&world).await, true).await;
    let dev = dev_promoted(&server).await;
    assert_eq!(dev["apiVersion"], "kargo.akuity.io/v1alpha1");
    assert_eq!(dev["kind"], "Stage");
    assert_eq!(dev["metadata"]["namespace"], "demo");
    assert_eq!(dev["spec"]["requestedFreight"][0]["origin"]["name"], "app");
    let current = &dev["status"]["freightHistory"][0]["items"]["Warehouse/app"];
    let freight = current["name"].as_str().unwrap();
    assert_eq!(current["images"][0]["tag"], "v1.0.0", "{dev:#}");
    assert_eq!(dev["status"]["freightSummary"], freight);
    assert_eq!(dev["status"]["autoPromotionEnabled"], true);
    let ready = dev["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "True");
    assert_eq!(world.deployed("dev"), "v1.0.0");

    let (status, list) = server
        .get("/v1beta1/projects/demo/stages", Some(VIEWER))
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["kind"], "StageList");
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let (_, none) = server
        .get(
            "/v1beta1/projects/demo/stages?freightOrigins=elsewhere",
            Some(VIEWER),
        )
        .await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let (_, all) = server
        .get(
            "/v1beta1/projects/demo/stages?freightOrigins=elsewhere,app",
            Some(VIEWER),
        )
        .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3);

    let (_, warehouse) = server
        .get("/v1beta1/projects/demo/warehouses/app", Some(VIEWER))
        .await;
    assert_eq!(warehouse["kind"], "Warehouse");
    assert!(
        warehouse["status"]["lastFreightID"].is_string(),
        "{warehouse:#}"
    );
    let (_, project) = server.get("/v1beta1/projects/demo", Some(VIEWER)).await;
    assert_eq!(project["kind"], "Project");
    assert_eq!(project["status"]["stats"]["stages"]["count"], 3);
    let (_, version) = server.get("/v1beta1/system/server-version", None).await;
    assert!(version["version"].as_str().unwrap().starts_with('v'));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_approves_and_promotes_to_prod_and_is_the_actor() {
    let world = world();
    let server = TestServer::start(&world, sqlite(&world).await, true).await;
    let dev = dev_promoted(&server).await;
    let freight = dev["status"]["freightSummary"].as_str().unwrap().to_owned();
    let (_, f) = server
        .get(
            &format!("/v1beta1/projects/demo/freight/{freight}"),
            Some(VIEWER),
        )
        .await;
    let alias = f["alias"].as_str().unwrap().to_owned();

    // prod wants an hour of soak in staging: not available yet.
    let (status, refused) = server
        .post(
            "/v1beta1/projects/demo/stages/prod/promotions",
            Some(PROMOTER),
            json!({"freightAlias": alias}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("not available"),
        "{refused}"
    );

    let (status, _) = server
        .post(
            &format!("/v1beta1/projects/demo/freight/{alias}/approve?stage=prod"),
            Some(PROMOTER),
            Value::Null,
        )
        .await;
    assert_eq!(status, 200);
    let (_, f) = server
        .get(
            &format!("/v1beta1/projects/demo/freight/{alias}"),
            Some(VIEWER),
        )
        .await;
    assert!(f["status"]["approvedFor"]["prod"].is_object(), "{f:#}");

    let (status, promotion) = server
        .post(
            "/v1beta1/projects/demo/stages/prod/promotions",
            Some(PROMOTER),
            json!({"freightAlias": alias}),
        )
        .await;
    assert_eq!(status, 201, "{promotion}");
    assert_eq!(promotion["kind"], "Promotion");
    assert_eq!(promotion["spec"]["stage"], "prod");
    assert_eq!(promotion["spec"]["freight"], freight);
    assert_eq!(
        promotion["metadata"]["annotations"]["kargo.akuity.io/create-actor"],
        "ci"
    );
    let name = promotion["metadata"]["name"].as_str().unwrap();
    let done = server
        .wait_for(
            &format!("/v1beta1/projects/demo/promotions/{name}"),
            Some(VIEWER),
            |p| p["status"]["phase"] == "Succeeded",
        )
        .await;
    let steps = done["status"]["stepExecutionMetadata"].as_array().unwrap();
    assert_eq!(steps.len(), 4, "{done:#}");
    assert!(steps.iter().all(|s| s["status"] == "Succeeded"), "{done:#}");
    assert_eq!(world.deployed("prod"), "v1.0.0");
    let (_, prod) = server
        .get("/v1beta1/projects/demo/stages/prod", Some(VIEWER))
        .await;
    assert_eq!(prod["status"]["lastPromotion"]["name"], name);
    let (_, list) = server
        .get("/v1beta1/projects/demo/promotions?stage=prod", Some(VIEWER))
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (_, events) = server
        .get("/v1beta1/projects/demo/events", Some(VIEWER))
        .await;
    let reasons: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(
        reasons.contains(&"PromotionSucceeded") && reasons.contains(&"FreightApproved"),
        "{reasons:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn freight_is_queried_ordered_and_renamed() {
    let world = world();
    let server = TestServer::start(&world, sqlite(&world).await, true).await;
    dev_promoted(&server).await;
    push_v2(&world);
    let (status, _) = server
        .post(
            "/v1beta1/projects/demo/warehouses/app/refresh",
            Some(PROMOTER),
            Value::Null,
        )
        .await;
    assert_eq!(status, 200);
    let list = server
        .wait_for("/v1beta1/projects/demo/freight", Some(VIEWER), |b| {
            b["groups"][""]["items"]
                .as_array()
                .is_some_and(|i| i.len() == 2)
        })
        .await;
    let tags = |b: &Value, group: &str| -> Vec<String> {
        b["groups"][group]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["images"][0]["tag"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(tags(&list, ""), ["v1.0.0", "v2.0.0"]);
    let (_, reversed) = server
        .get(
            "/v1beta1/projects/demo/freight?orderBy=tag&reverse=true",
            Some(VIEWER),
        )
        .await;
    assert_eq!(tags(&reversed, ""), ["v2.0.0", "v1.0.0"]);
    let (_, grouped) = server
        .get(
            "/v1beta1/projects/demo/freight?groupBy=image_repo",
            Some(VIEWER),
        )
        .await;
    assert_eq!(
        grouped["groups"].as_object().unwrap().len(),
        1,
        "{grouped:#}"
    );
    let (_, none) = server
        .get(
            "/v1beta1/projects/demo/freight?origins=elsewhere",
            Some(VIEWER),
        )
        .await;
    assert_eq!(none["groups"][""]["items"].as_array().unwrap().len(), 0);
    let (status, bad) = server
        .get("/v1beta1/projects/demo/freight?orderBy=size", Some(VIEWER))
        .await;
    assert_eq!(status, 400, "{bad}");
    // Available to dev: both (dev takes Freight directly).
    let (_, available) = server
        .get("/v1beta1/projects/demo/freight?stage=dev", Some(VIEWER))
        .await;
    assert_eq!(tags(&available, "").len(), 2);

    let first = list["groups"][""]["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let second_alias = list["groups"][""]["items"][1]["alias"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1beta1/projects/demo/freight/{first}/alias?newAlias=golden");
    let renamed = server
        .request(Method::PATCH, &path, Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    let (status, by_alias) = server
        .get("/v1beta1/projects/demo/freight/golden", Some(VIEWER))
        .await;
    assert_eq!(status, 200);
    assert_eq!(by_alias["metadata"]["name"], first);
    let taken = format!("/v1beta1/projects/demo/freight/{first}/alias?newAlias={second_alias}");
    let conflict = server
        .request(Method::PATCH, &taken, Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(conflict.status(), 409);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_json_errors_naming_what_is_wrong() {
    let world = world();
    let server = TestServer::start(&world, sqlite(&world).await, true).await;
    let (status, body) = server
        .get("/v1beta1/projects/demo/stages/nope", Some(VIEWER))
        .await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("nope"), "{body}");
    let (status, _) = server
        .get("/v1beta1/projects/nope/stages", Some(PROMOTER))
        .await;
    assert_eq!(status, 404);
    let (status, body) = server
        .post(
            "/v1beta1/projects/demo/stages/dev/promotions",
            Some(PROMOTER),
            json!({"freight": "a", "origin": "Warehouse/app"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("exactly one"),
        "{body}"
    );
    let garbage = server
        .request(
            Method::POST,
            "/v1beta1/projects/demo/stages/dev/promotions",
            Some(PROMOTER),
        )
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    let (status, _) = server
        .post(
            "/v1beta1/projects/demo/stages/dev/promotions",
            Some(PROMOTER),
            json!({"freight": "0000"}),
        )
        .await;
    assert_eq!(status, 404);
    // Bodies over 1 MiB are refused.
    let big = server
        .request(
            Method::POST,
            "/v1beta1/projects/demo/stages/dev/promotions",
            Some(PROMOTER),
        )
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    let (status, _) = server.get("/no/such/route", None).await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn health_readiness_metrics_and_openapi_answer() {
    let world = world();
    let server = TestServer::start(&world, sqlite(&world).await, true).await;
    let healthz = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200);
    let readyz = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(readyz.status(), 200);
    dev_promoted(&server).await;
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "kargo_promotions_total{project=\"demo\",stage=\"dev\",phase=\"Succeeded\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("kargo_http_requests_total{route=\"/v1beta1/projects/{project}/stages/{stage}\",method=\"GET\",status=\"200\"}"), "{metrics}");
    assert!(
        metrics.contains("kargo_step_duration_seconds_bucket{"),
        "{metrics}"
    );
    let (status, doc) = server.get("/openapi.json", None).await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1beta1/projects/{project}/stages",
        "/v1beta1/login",
        "/v1beta1/projects/{project}/freight/{freight-name-or-alias}/approve",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    assert_eq!(
        doc["paths"]["/v1beta1/projects/{project}/stages"]["get"]["operationId"],
        "ListStages"
    );
    server.stop().await;
}

/// `GET path` as the viewer, asking for gzip: the status, the
/// `Content-Encoding` and the body as sent.
async fn get_gzip(server: &TestServer, path: &str) -> (u16, Option<String>, bytes::Bytes) {
    let response = server
        .request(Method::GET, path, Some(VIEWER))
        .header("accept-encoding", "gzip, deflate")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let encoding = response
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(response.headers()["vary"], "accept-encoding", "{path}");
    (status, encoding, response.bytes().await.unwrap())
}

fn gunzip(body: &[u8]) -> Value {
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(body), &mut json).unwrap();
    serde_json::from_slice(&json).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_are_gzipped_for_clients_that_take_gzip_and_follow_writes() {
    let world = world();
    let server = TestServer::start(&world, sqlite(&world).await, true).await;
    let dev = dev_promoted(&server).await;
    for list in ["stages", "warehouses", "promotions"] {
        let path = format!("/v1beta1/projects/demo/{list}");
        // Promotions downstream of dev may still move: compare the gzipped
        // answer with plain ones read just before and after it, once those
        // two agree.
        let mut compared = false;
        for _ in 0..100 {
            let (_, before) = server.get(&path, Some(VIEWER)).await;
            let (status, encoding, body) = get_gzip(&server, &path).await;
            let (_, after) = server.get(&path, Some(VIEWER)).await;
            assert_eq!(status, 200);
            assert_eq!(encoding.as_deref(), Some("gzip"), "{path}");
            if before == after {
                assert_eq!(gunzip(&body), before, "{path}");
                compared = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(compared, "{path} never held still for three reads");
    }
    // A filtered list is made for the request: sent plain.
    let (status, encoding, body) =
        get_gzip(&server, "/v1beta1/projects/demo/stages?freightOrigins=app").await;
    assert_eq!((status, encoding), (200, None));
    let filtered: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(filtered["items"].as_array().unwrap().len(), 3);

    // A write is read before it is answered: the next gzipped list holds it.
    let freight = dev["status"]["freightSummary"].as_str().unwrap();
    let (status, _) = server
        .post(
            &format!("/v1beta1/projects/demo/freight/{freight}/approve?stage=prod"),
            Some(PROMOTER),
            Value::Null,
        )
        .await;
    assert_eq!(status, 200);
    let (status, promotion) = server
        .post(
            "/v1beta1/projects/demo/stages/prod/promotions",
            Some(PROMOTER),
            json!({"freight": freight}),
        )
        .await;
    assert_eq!(status, 201, "{promotion}");
    let (_, _, body) = get_gzip(&server, "/v1beta1/projects/demo/promotions").await;
    let listed = gunzip(&body);
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["metadata"]["name"] == promotion["metadata"]["name"]),
        "{listed:#}"
    );
    server.stop().await;
}
