//! Director tools and upscales over the in-memory adapters: each is a job of the same
//! queue as a generation (one paced slot, one call at a time, its answer stored, its
//! price held and settled), and stores the images its tool gives.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use chrono::Duration;
use naiq_core::api::{ApiError, SubmitResponse, SubmitRoute, Submitted};
use naiq_core::config::Settings;
use naiq_core::domain::account::AccountInfo;
use naiq_core::domain::{KeyLimits, Status};
use naiq_core::ports::{Clock, UpstreamError};
use naiq_testkit::memory::*;
use naiq_testkit::png_of;
use serde_json::{Value, json};
use support::{Given, Stack};

struct Director {
    s: Stack,
    upstream: Arc<MemoryUpstream>,
    images: Arc<MemoryImageStore>,
}

async fn director() -> Director {
    let clock = support::clock();
    let upstream = Arc::new(MemoryUpstream::with_clock(clock.clone()));
    let images = Arc::new(MemoryImageStore::default());
    let s = support::stack(
        clock,
        Given {
            images: images.clone(),
            jobs: Arc::new(MemoryJobStore::default()),
            upstream: upstream.clone(),
            settings: Settings::default(),
        },
    )
    .await;
    Director {
        s,
        upstream,
        images,
    }
}

fn b64_png(w: u32, h: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(png_of(w, h))
}

impl Director {
    async fn submit(&self, route: SubmitRoute, body: Value) -> Result<SubmitResponse, ApiError> {
        match self
            .s
            .api
            .submit_to(route, &self.s.alice, body.to_string().as_bytes())
            .await?
        {
            Submitted::Queued(r) => Ok(*r),
            Submitted::DryRun(_) => panic!("a dry run"),
        }
    }

    /// The sizes of a finished task's stored images, in order.
    fn stored_sizes(&self, keys: usize, task_id: &str) -> Vec<(u32, u32)> {
        (0..keys)
            .map(|i| {
                let png = self
                    .images
                    .get_sync(&format!("images/{task_id}/{i}.png"))
                    .expect("stored");
                naiq_core::novelai::archive::check_png(&png).unwrap()
            })
            .collect()
    }
}

#[tokio::test]
async fn every_tool_and_an_upscale_run_through_the_worker_one_call_at_a_time() {
    let d = director().await;
    let mut submitted = Vec::new();
    for tool in naiq_core::domain::director::DirectorTool::ALL {
        let mut body = json!({"tool": tool.as_str(), "image": b64_png(832, 1216)});
        match tool.as_str() {
            "emotion" => {
                body["emotion"] = json!("happy");
                body["prompt"] = json!("ほほえみ");
            }
            "colorize" => body["prompt"] = json!("blue hair"),
            _ => {}
        }
        let sub = d.submit(SubmitRoute::Augment, body).await.unwrap();
        assert_eq!(sub.status, Status::Pending);
        submitted.push((sub.task_id, tool.images() as usize, (832, 1216)));
    }
    // A generation in the same queue, between them.
    d.s.submit().await;
    let sub = d
        .submit(SubmitRoute::Upscale, json!({"image": b64_png(512, 768)}))
        .await
        .unwrap();
    assert_eq!(sub.queue_info.as_ref().unwrap().total_pending, 9);
    submitted.push((sub.task_id, 1, (1024, 1536)));

    d.s.clock.advance(Duration::seconds(3));
    let report = d.s.drain().await;
    assert_eq!(report.succeeded, 9, "{report:?}");
    assert_eq!(d.s.slots_taken().await, 9, "one paced slot per job");
    assert!(!d.upstream.overlapped.load(Ordering::SeqCst));
    let starts = d.upstream.started_at.lock().unwrap().clone();
    assert_eq!(starts.len(), 9);
    let interval = Duration::milliseconds((d.s.settings.pacing.interval.0 * 1000.0) as i64);
    for pair in starts.windows(2) {
        assert!(pair[1] - pair[0] >= interval, "{pair:?}");
    }

    for (task_id, count, size) in &submitted {
        let status =
            d.s.api
                .task_status(&d.s.alice, task_id.as_str())
                .await
                .unwrap();
        assert_eq!(status.status, Status::Success, "{task_id}");
        assert_eq!(status.image_urls.len(), *count, "{task_id}");
        assert_eq!(
            d.stored_sizes(*count, task_id.as_str()),
            vec![*size; *count],
            "{task_id}"
        );
    }
    let calls = d.upstream.director_calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 8);
    assert_eq!(calls[3]["req_type"], "emotion");
    assert_eq!(calls[3]["prompt"], "happy;;ほほえみ");
    assert_eq!(calls[3]["defry"], 0);
    assert_eq!(calls[2]["prompt"], "blue hair");
    assert!(calls[0].get("prompt").is_none());
    assert_eq!(calls[6]["req_type"], "bg-removal");
    assert_eq!(
        calls[7],
        json!({"path": "/ai/upscale", "model": "nai-diffusion-5-curated",
            "declared_blur_sigma": 0, "image": calls[7]["image"].clone()})
    );
    assert_eq!(d.upstream.call_count(), 1, "the one generation");

    // The list shows their kind.
    let page =
        d.s.api
            .list_tasks(&d.s.alice, &Default::default())
            .await
            .unwrap();
    let kinds: Vec<_> = page.tasks.iter().map(|t| t.kind).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "augment").count(), 7);
    assert_eq!(kinds.iter().filter(|k| **k == "upscale").count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == "generate").count(), 1);
}

#[tokio::test]
async fn prices_are_held_at_submit_and_settled_by_the_worker() {
    let d = director().await;
    d.s.ports
        .account
        .save_account(&AccountInfo {
            tier: 3,
            active: true,
            anlas: 1_000,
            v5_usage: None,
            checked_at: d.s.clock.now(),
        })
        .await
        .unwrap();
    let bg = d
        .submit(
            SubmitRoute::Augment,
            json!({"tool": "bg-removal", "image": b64_png(832, 1216)}),
        )
        .await
        .unwrap();
    assert_eq!(
        (bg.cost.total, bg.cost.per_image, bg.cost.surcharges),
        (65, 20, 5)
    );
    let sketch = d
        .submit(
            SubmitRoute::Augment,
            json!({"tool": "sketch", "image": b64_png(832, 1216)}),
        )
        .await
        .unwrap();
    assert_eq!((sketch.cost.total, sketch.cost.opus_free), (0, true));
    let up = d
        .submit(SubmitRoute::Upscale, json!({"image": b64_png(1024, 1088)}))
        .await
        .unwrap();
    assert_eq!((up.cost.total, up.cost.opus_free), (2, false));

    let day = d.s.settings.pacing.local_day(d.s.clock.now());
    let key = d.s.alice.key_id.clone();
    let held = d.s.ports.ledger.day(&key, day).await.unwrap();
    assert_eq!((held.held, held.spent, held.jobs), (67, 0, 3));

    d.s.clock.advance(Duration::seconds(3));
    assert_eq!(d.s.drain().await.succeeded, 3);
    let settled = d.s.ports.ledger.day(&key, day).await.unwrap();
    assert_eq!((settled.held, settled.spent), (0, 67));
}

#[tokio::test]
async fn a_failed_call_retries_in_the_queue_and_a_refused_one_fails_with_its_code() {
    let d = director().await;
    d.upstream.fail_next(UpstreamError::Status {
        status: 500,
        message: "Internal Server Error".into(),
    });
    let sub = d
        .submit(
            SubmitRoute::Augment,
            json!({"tool": "declutter", "image": b64_png(256, 256)}),
        )
        .await
        .unwrap();
    d.s.clock.advance(Duration::seconds(3));
    let mut succeeded = 0;
    for _ in 0..5 {
        succeeded += d.s.drain().await.succeeded;
        d.s.clock.advance(Duration::seconds(30));
    }
    assert_eq!(succeeded, 1);
    let status =
        d.s.api
            .task_status(&d.s.alice, sub.task_id.as_str())
            .await
            .unwrap();
    assert_eq!((status.status, status.attempts), (Status::Success, 2));
    assert_eq!(status.attempt_errors[0].code, "upstream_error");

    d.upstream.fail_next(UpstreamError::Status {
        status: 402,
        message: "Not enough Anlas".into(),
    });
    let sub = d
        .submit(SubmitRoute::Upscale, json!({"image": b64_png(64, 64)}))
        .await
        .unwrap();
    d.s.clock.advance(Duration::seconds(30));
    d.s.drain().await;
    let status =
        d.s.api
            .task_status(&d.s.alice, sub.task_id.as_str())
            .await
            .unwrap();
    assert_eq!(status.status, Status::Failure);
    assert_eq!(status.error_code.as_deref(), Some("insufficient_anlas"));
}

#[tokio::test]
async fn a_waiting_director_job_can_be_cancelled_and_idempotency_keys_replay() {
    let d = director().await;
    let body = json!({"tool": "lineart", "image": b64_png(128, 128)}).to_string();
    let first =
        d.s.api
            .submit_idempotent_to(
                SubmitRoute::Augment,
                &d.s.alice,
                body.as_bytes(),
                Some("k-1"),
            )
            .await
            .unwrap();
    let again =
        d.s.api
            .submit_idempotent_to(
                SubmitRoute::Augment,
                &d.s.alice,
                body.as_bytes(),
                Some("k-1"),
            )
            .await
            .unwrap();
    let naiq_core::api::Idempotent::Fresh(Submitted::Queued(first)) = first else {
        panic!("a fresh answer")
    };
    let naiq_core::api::Idempotent::Replayed(replayed) = again else {
        panic!("the first answer again")
    };
    assert_eq!(replayed["task_id"], first.task_id.as_str());
    // The same key on another route is another request.
    let e =
        d.s.api
            .submit_idempotent_to(
                SubmitRoute::Upscale,
                &d.s.alice,
                body.as_bytes(),
                Some("k-1"),
            )
            .await
            .unwrap_err();
    assert!(matches!(e, ApiError::IdempotencyKeyReused), "{e:?}");

    d.s.api
        .cancel(&d.s.alice, first.task_id.as_str())
        .await
        .unwrap();
    d.s.clock.advance(Duration::seconds(3));
    assert_eq!(d.s.drain().await.succeeded, 0);
    assert!(d.upstream.director_calls.lock().unwrap().is_empty());
    let status =
        d.s.api
            .task_status(&d.s.alice, first.task_id.as_str())
            .await
            .unwrap();
    assert_eq!(status.status, Status::Revoked);
}

#[tokio::test]
async fn key_limits_apply_with_the_image_named() {
    let d = director().await;
    let mut alice = d.s.alice.clone();
    alice.limits = KeyLimits {
        max_area: Some(512 * 512),
        models: Some(vec!["nai-diffusion-4-5-full".into()]),
        max_samples: Some(1),
        ..KeyLimits::default()
    };
    d.s.ports.keys.update(&alice).await.unwrap();
    // Background removal's three images and a model list do not refuse it; its area does.
    let small = json!({"tool": "bg-removal", "image": b64_png(512, 512)});
    d.s.api
        .submit_to(SubmitRoute::Augment, &alice, small.to_string().as_bytes())
        .await
        .unwrap();
    let large = json!({"image": b64_png(640, 512)});
    let e =
        d.s.api
            .submit_to(SubmitRoute::Upscale, &alice, large.to_string().as_bytes())
            .await
            .unwrap_err();
    assert!(
        matches!(
            &e,
            ApiError::Forbidden {
                code: "area_not_allowed",
                field: Some("image"),
                ..
            }
        ),
        "{e:?}"
    );
    // Test requests need the setting, as a generation's do.
    let test = json!({"image": b64_png(64, 64), "is_test_request": true});
    let e =
        d.s.api
            .submit_to(SubmitRoute::Upscale, &alice, test.to_string().as_bytes())
            .await
            .unwrap_err();
    assert!(
        matches!(
            &e,
            ApiError::Forbidden {
                field: Some("is_test_request"),
                ..
            }
        ),
        "{e:?}"
    );
}
