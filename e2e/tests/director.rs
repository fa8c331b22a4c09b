//! Director tools and upscaling through the whole stack (API → SQS → worker → the fake
//! NovelAI → S3): a job of each of the seven tools and an upscale succeed with images of
//! the right size and count, and the fake saw their calls one at a time. One sequential
//! test: it reads the fake's request log, which tests running beside it would disturb.

use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use naiq_e2e::{Stack, new_key, single_flight_and_paced};
use serde_json::{Value, json};

/// A small PNG of one colour.
fn png(width: u32, height: u32, rgb: [u8; 3]) -> String {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        let mut w = enc.write_header().unwrap();
        let data: Vec<u8> = (0..width * height).flat_map(|_| rgb).collect();
        w.write_image_data(&data).unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// Submits to `path` and returns the answer (a 200, as `POST /generate` answers).
async fn submit(s: &Stack, key: &str, path: &str, body: &Value) -> Value {
    let (status, answer) = s
        .call("POST", path, Some(key), Some(body.to_string()))
        .await;
    assert_eq!(status, 200, "{path}: {answer}");
    for field in [
        "task_id",
        "status_url",
        "queue_info",
        "rate_limit_info",
        "cost",
    ] {
        assert!(
            answer.get(field).is_some(),
            "{path} answers {field}: {answer}"
        );
    }
    answer
}

/// The sizes of a finished task's images, fetched from their URLs.
async fn image_sizes(s: &Stack, done: &Value) -> Vec<(u32, u32)> {
    let mut sizes = Vec::new();
    for url in done["image_urls"].as_array().unwrap() {
        let resp = s.http.get(url.as_str().unwrap()).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let bytes = resp.bytes().await.unwrap();
        let reader = png::Decoder::new(std::io::Cursor::new(bytes.to_vec()))
            .read_info()
            .expect("a PNG");
        sizes.push((reader.info().width, reader.info().height));
    }
    sizes
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn every_director_tool_and_an_upscale_through_the_stack() {
    let s = Stack::from_env();
    let key = new_key("director").await;
    let since = Utc::now();
    let wait = Duration::from_secs(180);

    let tools = [
        ("lineart", json!({})),
        ("sketch", json!({})),
        (
            "colorize",
            json!({"prompt": "blue hair, 青い目", "defry": 2}),
        ),
        ("emotion", json!({"emotion": "happy", "prompt": "smiling"})),
        ("declutter", json!({})),
        ("declutter-keep-bubbles", json!({})),
        ("bg-removal", json!({})),
    ];
    // Submitted together, so they wait in the queue together and the worker paces them.
    let mut tasks = Vec::new();
    for (i, (tool, extra)) in tools.iter().enumerate() {
        let mut body = json!({"tool": tool, "image": png(320, 448, [40 * i as u8, 90, 160])});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let answer = submit(&s, &key, "/augment", &body).await;
        let count = if *tool == "bg-removal" { 3 } else { 1 };
        if *tool == "bg-removal" {
            // 320x448 @28 as V3 is 3 Anlas: three images and 5 more, never free.
            assert_eq!(answer["cost"]["total"], 3 * 3 + 5, "{answer}");
        }
        tasks.push((tool.to_string(), answer, count, (320, 448)));
    }
    let answer = submit(
        &s,
        &key,
        "/upscale",
        &json!({"image": png(384, 256, [9, 9, 9])}),
    )
    .await;
    assert_eq!(answer["cost"]["total"], 1, "{answer}");
    tasks.push(("upscale".into(), answer, 1, (768, 512)));

    for (name, answer, count, size) in &tasks {
        let id = answer["task_id"].as_str().unwrap();
        let done = s.wait_done(&key, id, wait).await;
        assert_eq!(done["status"], "SUCCESS", "{name}: {done}");
        assert_eq!(
            done["kind"],
            if name == "upscale" {
                "upscale"
            } else {
                "augment"
            }
        );
        let sizes = image_sizes(&s, &done).await;
        assert_eq!(sizes, vec![*size; *count], "{name}");
        println!("{name}: {count} image(s) of {}x{}", size.0, size.1);
    }

    // The fake saw each request as the handbook describes it, one call at a time.
    let calls = single_flight_and_paced(&s, since).await;
    let augments: Vec<&Value> = calls
        .iter()
        .filter(|r| r["path"] == "/ai/augment-image")
        .collect();
    let upscales: Vec<&Value> = calls
        .iter()
        .filter(|r| r["path"] == "/ai/upscale")
        .collect();
    assert_eq!((augments.len(), upscales.len()), (7, 1), "{calls:#?}");
    for r in &augments {
        assert_eq!(r["status"], 200, "{r}");
        assert_eq!(
            (r["body"]["width"].as_u64(), r["body"]["height"].as_u64()),
            (Some(320), Some(448))
        );
    }
    let emotion = augments
        .iter()
        .find(|r| r["body"]["req_type"] == "emotion")
        .unwrap();
    assert_eq!(emotion["body"]["prompt"], "happy;;smiling");
    assert_eq!(emotion["body"]["defry"], 0);
    let up = &upscales[0]["body"];
    assert_eq!(
        (up["model"].as_str(), up["declared_blur_sigma"].as_u64()),
        (Some("nai-diffusion-5-curated"), Some(0))
    );

    // Refusals name their field, through API Gateway's emulation too.
    let (status, refused) = s
        .call(
            "POST",
            "/augment",
            Some(&key),
            Some(json!({"tool": "emotion", "image": png(64, 64, [1, 2, 3])}).to_string()),
        )
        .await;
    assert_eq!(
        (status, refused["field"].as_str()),
        (400, Some("emotion")),
        "{refused}"
    );
}
