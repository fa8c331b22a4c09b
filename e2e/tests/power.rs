//! The power users' features through the whole stack (API → SQS → worker → the fake
//! NovelAI → S3): vibe transfer with the encoding cache, Precise Reference. One sequential test: it counts
//! the fake's requests per route, which tests running beside it would disturb.

use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use naiq_e2e::{Stack, new_key, single_flight_and_paced};
use serde_json::{Value, json};

/// A small PNG of one colour (a different colour is a different vibe).
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

async fn counts(s: &Stack) -> Value {
    s.http
        .get(format!("{}/_fake/requests/counts", s.fake))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn count(counts: &Value, path: &str) -> u64 {
    counts[path].as_u64().unwrap_or(0)
}

/// The generation routes: plain, and the stream V4/V4.5/V5 text-to-image jobs use.
const GENERATION_PATHS: [&str; 2] = ["/ai/generate-image", "/ai/generate-image-stream"];

fn is_generation(path: &Value) -> bool {
    GENERATION_PATHS.iter().any(|p| path == p)
}

fn generations(counts: &Value) -> u64 {
    GENERATION_PATHS.iter().map(|p| count(counts, p)).sum()
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn vibes_and_references_through_the_stack() {
    let s = Stack::from_env();
    let key = new_key("power").await;
    let since = Utc::now();
    let wait = Duration::from_secs(120);

    // Vibe transfer: two new images on V4.5, two encodes.
    let vibes = json!([
        {"image": png(96, 64, [200, 30, 30]), "strength": 0.6, "information_extracted": 1.0},
        {"image": png(64, 96, [30, 30, 200]), "strength": 0.4, "information_extracted": 0.5},
    ]);
    let body = json!({"prompt": "power vibes", "model": "nai-v4.5", "resolution": "small_square",
                      "vibes": vibes});
    let before = counts(&s).await;
    let first = s.submit(&key, &body).await;
    assert_eq!(first["cost"]["vibe_encodes"], 2, "{first}");
    assert_eq!(first["cost"]["surcharges"], 4, "{first}");
    let id = first["task_id"].as_str().unwrap();
    let done = s.wait_done(&key, id, wait).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let after = counts(&s).await;
    assert_eq!(
        count(&after, "/ai/encode-vibe") - count(&before, "/ai/encode-vibe"),
        2,
        "{after}"
    );
    // The generation carried both encodings.
    let generation = s
        .fake_requests()
        .await
        .into_iter()
        .rev()
        .find(|r| is_generation(&r["path"]) && r["body"]["input"] == "power vibes")
        .expect("the vibe generation");
    let p = &generation["body"]["parameters"];
    assert_eq!(p["reference_image_multiple"].as_array().unwrap().len(), 2);
    assert_eq!(p["reference_strength_multiple"], json!([0.6, 0.4]));

    // The same vibes again: nothing to encode, no encode made.
    let again = s.submit(&key, &body).await;
    assert_eq!(again["cost"]["vibe_encodes"], 0, "{again}");
    assert_eq!(again["cost"]["surcharges"], 0, "{again}");
    let id = again["task_id"].as_str().unwrap();
    let done = s.wait_done(&key, id, wait).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let later = counts(&s).await;
    assert_eq!(
        count(&later, "/ai/encode-vibe"),
        count(&after, "/ai/encode-vibe"),
        "a cache hit makes no call: {later}"
    );
    assert_eq!(generations(&later), generations(&after) + 1, "{later}");

    // Refused where the model does not take vibes, and with a mask.
    let (status, v5) = s
        .call(
            "POST",
            "/generate",
            Some(&key),
            Some(json!({"prompt": "x", "model": "nai-v5", "vibes": vibes}).to_string()),
        )
        .await;
    assert_eq!((status, v5["field"].as_str()), (400, Some("vibes")), "{v5}");

    // A character reference: sent letter-boxed at an allowed size, priced 5 more.
    let body = json!({"prompt": "power reference", "model": "nai-v4.5",
                      "resolution": "small_square",
                      "references": [{"image": png(300, 200, [10, 200, 10]), "type": "character"}]});
    let sub = s.submit(&key, &body).await;
    assert_eq!(sub["cost"]["surcharges"], 5, "{sub}");
    let id = sub["task_id"].as_str().unwrap();
    let done = s.wait_done(&key, id, wait).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let generation = s
        .fake_requests()
        .await
        .into_iter()
        .rev()
        .find(|r| is_generation(&r["path"]) && r["body"]["input"] == "power reference")
        .expect("the reference generation");
    let p = &generation["body"]["parameters"];
    let sent = base64::engine::general_purpose::STANDARD
        .decode(p["director_reference_images"][0].as_str().unwrap())
        .unwrap();
    let info = png::Decoder::new(std::io::Cursor::new(sent))
        .read_info()
        .unwrap()
        .info()
        .clone();
    assert_eq!((info.width, info.height), (1536, 1024));
    assert_eq!(
        p["director_reference_descriptions"][0]["caption"]["base_caption"],
        "character"
    );

    let calls = single_flight_and_paced(&s, since).await;
    assert!(calls.len() >= 4, "{} upstream calls", calls.len());
}
