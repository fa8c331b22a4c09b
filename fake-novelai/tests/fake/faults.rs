//! Injected faults: every kind, as a client sees it; the queue's order; clearing it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::bodies::{small, v3};
use crate::common::{self, GOOD, generate, images, inject, log, queued, start};

#[tokio::test]
async fn every_fault_kind_answers_as_documented() {
    let fake = start(0).await;
    let b = small();
    for (kind, status, message) in [
        ("500", 500, "Internal server error"),
        ("429", 429, "Concurrent generation is locked"),
        ("402", 402, "Insufficient Anlas"),
    ] {
        let queue = inject(&fake, kind, 1).await;
        assert_eq!(queue.json(), json!([{"kind": kind, "count": 1}]));
        let answer = generate(&fake, GOOD, &b).await;
        assert_eq!(
            (answer.status, answer.message()),
            (status, message.to_string()),
            "{kind}"
        );
        // Then the next generation is normal again.
        assert_eq!(images(&generate(&fake, GOOD, &b).await).len(), 1, "{kind}");
    }

    // A zip without a central directory: 200, NovelAI's headers, unreadable.
    inject(&fake, "corrupt_zip", 1).await;
    let answer = generate(&fake, GOOD, &b).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("binary/octet-stream"));
    assert!(answer.bytes.starts_with(b"PK\x03\x04"));
    assert!(common::unzip(&answer.bytes).is_err());

    // A readable zip with no image in it.
    inject(&fake, "missing_image", 1).await;
    let answer = generate(&fake, GOOD, &b).await;
    assert_eq!(answer.status, 200);
    let entries = common::unzip(&answer.bytes).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0, "notes.txt");
    assert!(String::from_utf8_lossy(&entries[0].2).contains("1girl, cat ears"));

    // "401" answers whatever the token and the body.
    inject(&fake, "401", 1).await;
    let answer = common::generate_raw(&fake, "pst-wrong", r#"{"input": "x"}"#).await;
    assert_eq!(
        (answer.status, answer.message()),
        (401, "Unauthorized".to_string())
    );

    // "hang": no answer; the client's timeout ends the call, and the lock stays free.
    inject(&fake, "hang", 1).await;
    let started = Instant::now();
    let hung = reqwest::Client::new()
        .post(format!("{}/ai/generate-image", fake.url()))
        .bearer_auth(GOOD)
        .body(b.to_string())
        .timeout(Duration::from_secs(1))
        .send()
        .await;
    assert!(hung.unwrap_err().is_timeout());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(generate(&fake, GOOD, &b).await.status, 200);

    let log = log(&fake).await;
    let statuses: Vec<u64> = log.iter().map(|e| e["status"].as_u64().unwrap()).collect();
    assert_eq!(
        statuses,
        [500, 200, 429, 200, 402, 200, 200, 200, 401, 0, 200]
    );
    let hung = &log[9];
    assert_eq!(hung["finished_at"], Value::Null);
    assert_eq!(hung["body"]["input"], "1girl, cat ears");
    assert_eq!(queued(&fake).await, json!([]));
}

#[tokio::test]
async fn queued_faults_are_answered_in_order_and_can_be_cleared() {
    let fake = start(0).await;
    let b = small();

    // Bad requests to the fault API.
    for bad in [
        json!({"kind": "418", "count": 1}),
        json!({"kind": "500", "count": 0}),
        json!({"kind": "500", "count": -1}),
        json!({"kind": "500", "count": "2"}),
        json!({"count": 1}),
        json!("500"),
    ] {
        let answer = common::send(
            &fake,
            reqwest::Method::POST,
            "/_fake/faults",
            &bad.to_string(),
        )
        .await;
        assert_eq!(answer.status, 400, "{bad}");
        assert!(
            answer
                .message()
                .contains("hang, corrupt_zip, missing_image"),
            "{bad}"
        );
    }
    // The count defaults to 1.
    let answer = common::send(
        &fake,
        reqwest::Method::POST,
        "/_fake/faults",
        r#"{"kind": "hang"}"#,
    )
    .await;
    assert_eq!(answer.json(), json!([{"kind": "hang", "count": 1}]));
    common::send(&fake, reqwest::Method::DELETE, "/_fake/faults", "").await;

    inject(&fake, "500", 2).await;
    let answer = inject(&fake, "429", 1).await.json();
    let expected = json!([{"kind": "500", "count": 2}, {"kind": "429", "count": 1}]);
    assert_eq!(answer, expected);
    assert_eq!(queued(&fake).await, expected);

    // A call refused for its token or its body does not use a fault.
    assert_eq!(generate(&fake, "pst-wrong", &b).await.status, 401);
    assert_eq!(
        generate(&fake, GOOD, &v3("nai-diffusion-3", 100, 64, 1))
            .await
            .status,
        400
    );
    assert_eq!(queued(&fake).await, expected);

    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(generate(&fake, GOOD, &b).await.status);
    }
    assert_eq!(codes, [500, 500, 429, 200]);
    assert_eq!(queued(&fake).await, json!([]));

    // A "401" behind another fault waits its turn.
    inject(&fake, "402", 1).await;
    inject(&fake, "401", 1).await;
    let codes = [
        generate(&fake, GOOD, &b).await.status,
        generate(&fake, GOOD, &b).await.status,
        generate(&fake, GOOD, &b).await.status,
    ];
    assert_eq!(codes, [402, 401, 200]);

    inject(&fake, "402", 5).await;
    assert_eq!(queued(&fake).await, json!([{"kind": "402", "count": 5}]));
    let cleared = common::send(&fake, reqwest::Method::DELETE, "/_fake/faults", "").await;
    assert_eq!(cleared.status, 204);
    assert_eq!(queued(&fake).await, json!([]));
    assert_eq!(generate(&fake, GOOD, &b).await.status, 200);
}

#[tokio::test]
async fn random_faults_come_at_the_rate_from_the_kinds_given_and_are_logged() {
    let fake = start(0).await;
    let b = small();
    let put = |body: &'static str| common::send(&fake, reqwest::Method::PUT, "/_fake/config", body);
    let set = put(r#"{"fault_rate": 1, "fault_kinds": ["500", "402"], "fault_seed": 3}"#).await;
    assert_eq!(
        (set.status, set.json()),
        (
            200,
            json!({"fault_rate": 1.0, "fault_kinds": ["500", "402"], "fault_seed": 3})
        )
    );
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(generate(&fake, GOOD, &b).await.status);
    }
    assert!(
        statuses.iter().all(|s| [500, 402].contains(s)),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&500) && statuses.contains(&402),
        "{statuses:?}"
    );
    let logged = log(&fake).await;
    for (entry, status) in logged.iter().zip(&statuses) {
        assert_eq!(entry["fault"], status.to_string(), "{entry}");
    }
    // A random 401 answers whatever the token.
    put(r#"{"fault_kinds": ["401"]}"#).await;
    assert_eq!(generate(&fake, GOOD, &b).await.status, 401);
    // Off again: images, and no fault logged.
    put(r#"{"fault_rate": 0}"#).await;
    assert_eq!(images(&generate(&fake, GOOD, &b).await).len(), 1);
    let last = log(&fake).await.pop().unwrap();
    assert!(last.get("fault").is_none(), "{last}");
    // A queued fault is logged with its kind too.
    inject(&fake, "corrupt_zip", 1).await;
    assert_eq!(generate(&fake, GOOD, &b).await.status, 200);
    assert_eq!(log(&fake).await.pop().unwrap()["fault"], "corrupt_zip");
    // Half the time at 0.5, with the same seed the same sequence.
    let run = |seed: u64| {
        let fake = &fake;
        let b = &b;
        async move {
            let body =
                format!(r#"{{"fault_rate": 0.5, "fault_kinds": ["500"], "fault_seed": {seed}}}"#);
            common::send(fake, reqwest::Method::PUT, "/_fake/config", &body).await;
            let mut seen = Vec::new();
            for _ in 0..40 {
                seen.push(generate(fake, GOOD, b).await.status);
            }
            seen
        }
    };
    let (first, again) = (run(11).await, run(11).await);
    assert_eq!(first, again);
    let failed = first.iter().filter(|s| **s == 500).count();
    assert!((8..=32).contains(&failed), "{failed} of 40");
    for bad in [
        r#"{"fault_rate": 1.5}"#,
        r#"{"fault_rate": "0.5"}"#,
        r#"{"fault_kinds": []}"#,
        r#"{"fault_kinds": ["418"]}"#,
        r#"{"fault_kinds": "500"}"#,
        r#"{"fault_seed": -1}"#,
        r#"{"fault_rate": 0.1, "faults": 2}"#,
    ] {
        assert_eq!(put(bad).await.status, 400, "{bad}");
    }
}
