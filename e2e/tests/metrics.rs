//! The functions' metric lines on the local stack: after a job, the functions' log
//! (`localstack/.run/logs/`, where `cargo lambda watch` writes their stdout) holds
//! embedded-metric-format lines in the `naiq` namespace, under the catalogue's names, with
//! the API's `JobsAccepted` and the worker's `JobsSucceeded` among them.

use std::time::{Duration, Instant};

use naiq_core::metrics::{ALL, NAMESPACE};
use naiq_e2e::Stack;
use serde_json::{Value, json};

/// Every EMF document in the logs (a line may carry a prefix before its JSON).
fn emf_documents(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|l| l.find(r#"{"_aws""#).map(|i| &l[i..]))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The names a document declares, after checking its shape against the catalogue.
fn declared(doc: &Value) -> Vec<String> {
    assert!(doc["_aws"]["Timestamp"].as_i64().is_some(), "{doc}");
    let mut names = Vec::new();
    for d in doc["_aws"]["CloudWatchMetrics"]
        .as_array()
        .expect("directives")
    {
        assert_eq!(d["Namespace"], NAMESPACE, "{doc}");
        for set in d["Dimensions"].as_array().expect("dimension sets") {
            for n in set.as_array().expect("a dimension set") {
                assert!(doc[n.as_str().unwrap()].is_string(), "{doc}");
            }
        }
        for m in d["Metrics"].as_array().expect("metrics") {
            let name = m["Name"].as_str().expect("a name");
            assert!(
                ALL.iter().any(|c| c.name == name),
                "{name} is not catalogued"
            );
            assert!(
                doc[name].is_number() || doc[name].is_array(),
                "{name} has no value: {doc}"
            );
            names.push(name.to_string());
        }
    }
    names
}

/// The sum of `name` over the documents without dimensions.
fn total(docs: &[Value], name: &str) -> f64 {
    docs.iter()
        .filter(|d| d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == json!([[]]))
        .filter_map(|d| d[name].as_f64())
        .sum()
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn a_job_leaves_emf_metric_lines_in_the_functions_log() {
    let s = Stack::from_env();
    let before = emf_documents(&s.logs());
    let (accepted, succeeded) = (
        total(&before, "JobsAccepted"),
        total(&before, "JobsSucceeded"),
    );
    let sub = s
        .submit(
            &s.key,
            &json!({"prompt": "metrics, 猫", "model": "nai-v3", "resolution": "portrait"}),
        )
        .await;
    let task_id = sub["task_id"].as_str().expect("a task id").to_string();
    let done = s.wait_done(&s.key, &task_id, Duration::from_secs(90)).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");

    // The worker writes its lines when its drain ends: wait for them.
    let start = Instant::now();
    let docs = loop {
        let docs = emf_documents(&s.logs());
        if total(&docs, "JobsSucceeded") > succeeded && total(&docs, "JobsAccepted") > accepted {
            break docs;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no new JobsSucceeded and JobsAccepted metric lines after the job; found {} documents",
            docs.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let names: Vec<String> = docs.iter().flat_map(declared).collect();
    for name in [
        "JobsAccepted",
        "JobsSucceeded",
        "QueueDepth",
        "UpstreamLatency",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} missing");
    }
    let logs = s.logs();
    for line in logs.lines().filter(|l| l.contains(r#""_aws""#)) {
        for secret in [s.fake_token.as_str(), s.key.as_str()] {
            assert!(!line.contains(secret), "a secret in a metric line");
        }
    }
}
