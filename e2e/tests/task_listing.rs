//! `GET /tasks` over HTTP through the stack: one key's 120 tasks, newest first, a page at
//! a time with the opaque cursor, none of another key's; a status filter; bad queries are
//! 400s naming the parameter. The jobs are written straight into the jobs table (with no
//! queue message, so the worker never runs them).

use std::collections::HashSet;

use chrono::{Duration, Utc};
use naiq_adapters::aws::AwsClients;
use naiq_adapters::aws::dynamodb::DynamoJobStore;
use naiq_core::domain::request::{Limits, parse_submit};
use naiq_core::domain::{ApiKey, Job, Lane, TaskId};
use naiq_core::ports::JobStore;
use naiq_e2e::{Stack, new_key};

async fn write_jobs(owner_key: &str, n: usize, tag: &str) -> Vec<String> {
    let clients = AwsClients::from_env().await;
    let store = DynamoJobStore::new(clients.dynamodb, std::env::var("JOBS_TABLE").unwrap());
    let owner = ApiKey::from_client(owner_key).id();
    let params = parse_submit(
        format!(r#"{{"prompt": "listing {tag}"}}"#).as_bytes(),
        &Limits::default(),
    )
    .unwrap()
    .params;
    let t0 = Utc::now() - Duration::hours(1);
    let mut ids = Vec::new();
    for i in 0..n {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&(i as u64).to_le_bytes());
        bytes[8..].copy_from_slice(&u64::from(std::process::id()).to_le_bytes());
        bytes[15] = tag.len() as u8;
        let mut job = Job::new(
            TaskId::from_random_bytes(bytes),
            owner.clone(),
            Lane::Low,
            params.clone(),
            t0 + Duration::seconds(i as i64),
        );
        if i % 3 == 0 {
            job.revoke(job.created_at()).unwrap();
        }
        store.insert(&job).await.unwrap();
        ids.push(job.task_id().to_string());
    }
    ids
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn tasks_pages_through_one_keys_120_tasks_and_no_one_elses() {
    let s = Stack::from_env();
    let mine = new_key("listing-mine").await;
    let theirs = new_key("listing-theirs").await;
    let ids = write_jobs(&mine, 120, "mine").await;
    let others = write_jobs(&theirs, 5, "theirs").await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/tasks?limit=50".to_string(),
            Some(c) => format!("/tasks?limit=50&cursor={c}"),
        };
        let (status, page) = s.call("GET", &path, Some(&mine), None).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        for t in page["tasks"].as_array().unwrap() {
            assert!(
                t["image_urls"].as_array().unwrap().is_empty(),
                "no URLs unless asked"
            );
            seen.push(t["task_id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 10, "paging must end");
    }
    assert_eq!(pages, 3, "120 tasks in pages of 50");
    let expected: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, expected, "newest first, each once");
    let other_ids: HashSet<&String> = others.iter().collect();
    assert!(seen.iter().all(|id| !other_ids.contains(id)));

    let (_, revoked) = s
        .call("GET", "/tasks?status=REVOKED&limit=100", Some(&mine), None)
        .await;
    let n = revoked["tasks"].as_array().unwrap().len();
    assert_eq!(n, 40, "every third of 120: {revoked}");
    assert!(
        revoked["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "REVOKED")
    );

    for (query, field) in [
        ("/tasks?limit=0", "limit"),
        ("/tasks?limit=101", "limit"),
        ("/tasks?status=DONE", "status"),
        ("/tasks?cursor=forged", "cursor"),
        ("/tasks?include_urls=maybe", "include_urls"),
    ] {
        let (status, err) = s.call("GET", query, Some(&mine), None).await;
        assert_eq!(
            (status, err["field"].as_str()),
            (400, Some(field)),
            "{query}: {err}"
        );
    }
    let (status, _) = s.call("GET", "/tasks", None, None).await;
    assert_eq!(status, 401);
}
