//! NovelAI's hosts: every route on the image host, the api host's refusals, CORS, the
//! website's extra headers, and `/user/data`.

use serde_json::json;

use crate::bodies::small;
use crate::common::{self, Answer, GOOD, log, start};

const MOVED: &str =
    "Please refresh NovelAI.net. If using a third-party tool, update to the image URL.";

async fn get_on(fake: &fake_novelai::RunningFake, host: &str, path: &str) -> Answer {
    let resp = common::http()
        .get(format!("{}{path}", fake.url()))
        .header("host", host)
        .bearer_auth(GOOD)
        .send()
        .await
        .unwrap();
    common::read(resp).await
}

#[tokio::test]
async fn the_api_host_refuses_the_moved_account_routes() {
    let fake = start(0).await;
    for path in ["/user/subscription", "/user/data"] {
        for host in ["api.novelai.net", "api.novelai.net:443"] {
            let answer = get_on(&fake, host, path).await;
            assert_eq!(
                (answer.status, answer.json()),
                (400, json!({"statusCode": 400, "message": MOVED})),
                "{host}{path}"
            );
        }
        // The image host (or any other name for the fake) serves them.
        for host in ["image.novelai.net", "127.0.0.1"] {
            assert_eq!(get_on(&fake, host, path).await.status, 200, "{host}{path}");
        }
    }
    // Everything else answers on the api host name too.
    let answer = common::http()
        .post(format!("{}/ai/generate-image", fake.url()))
        .header("host", "api.novelai.net")
        .bearer_auth(GOOD)
        .body(small().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let statuses: Vec<u64> = log(&fake)
        .await
        .iter()
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [400, 400, 200, 200, 400, 400, 200, 200, 200]);
}

#[tokio::test]
async fn user_data_aggregates_the_account() {
    let fake = start(0).await;
    let data = common::get(&fake, "/user/data", Some(GOOD)).await;
    assert_eq!(data.status, 200);
    let v = data.json();
    let subscription = common::get(&fake, "/user/subscription", Some(GOOD))
        .await
        .json();
    assert_eq!(v["subscription"], subscription);
    assert_eq!(v["subscription"]["tier"], 3);
    for key in ["maxPriorityActions", "nextRefillAt", "taskPriority"] {
        assert!(v["priority"][key].is_i64(), "priority.{key}: {v}");
    }
    for key in ["trialImagesLeft", "trialActionsLeft", "accountCreatedAt"] {
        assert!(v["information"][key].is_i64(), "information.{key}: {v}");
    }
    assert_eq!(v["information"]["emailVerified"], true);
    assert!(
        v["keystore"].is_object() && v["settings"].is_string(),
        "{v}"
    );
    // Its parts on their own routes.
    let priority = common::get(&fake, "/user/priority", Some(GOOD))
        .await
        .json();
    assert_eq!(
        priority["maxPriorityActions"],
        v["priority"]["maxPriorityActions"]
    );
    let information = common::get(&fake, "/user/information", Some(GOOD))
        .await
        .json();
    assert_eq!(information, v["information"]);
    for path in ["/user/data", "/user/priority", "/user/information"] {
        let answer = common::get(&fake, path, Some("pst-wrong")).await;
        assert_eq!(
            (answer.status, answer.message()),
            (401, "Unauthorized".into())
        );
    }
}

#[tokio::test]
async fn answers_carry_cors_headers_and_preflights_pass() {
    let fake = start(0).await;
    let cases = [
        (
            common::get(&fake, "/user/subscription", Some(GOOD)).await,
            200,
            "GET",
        ),
        (
            common::get(&fake, "/user/subscription", None).await,
            401,
            "GET",
        ),
        (common::generate(&fake, GOOD, &small()).await, 200, "POST"),
        (
            common::generate(&fake, "pst-wrong", &small()).await,
            401,
            "POST",
        ),
        (common::get(&fake, "/nowhere", None).await, 404, "GET"),
    ];
    for (answer, status, method) in &cases {
        assert_eq!(answer.status, *status);
        assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
        assert_eq!(
            answer.header("access-control-allow-headers"),
            Some("Authorization, Content-Type")
        );
        assert_eq!(answer.header("access-control-allow-methods"), Some(*method));
    }
    let preflight = common::http()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/ai/generate-image", fake.url()),
        )
        .header("origin", "https://novelai.net")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, x-correlation-id",
        )
        .send()
        .await
        .unwrap();
    let preflight = common::read(preflight).await;
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("POST")
    );
    let allowed = preflight.header("access-control-allow-headers").unwrap();
    assert!(allowed.contains("x-correlation-id") && allowed.contains("x-initiated-at"));
}

#[tokio::test]
async fn the_websites_extra_headers_are_accepted_and_ignored() {
    let fake = start(0).await;
    let answer = common::http()
        .post(format!("{}/ai/generate-image", fake.url()))
        .bearer_auth(GOOD)
        .header("content-type", "application/json")
        .header("x-correlation-id", "AbC1x9")
        .header("x-initiated-at", "2026-10-01T22:35:51.107Z")
        .body(small().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(common::images(&common::read(answer).await).len(), 1);
    let answer = common::http()
        .get(format!("{}/user/subscription", fake.url()))
        .bearer_auth(GOOD)
        .header("x-correlation-id", "not-six-chars-0l")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}
