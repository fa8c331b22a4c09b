//! The seed service's README examples, as its clients send them (only the key header
//! added, and the placeholder NovelAI credentials replaced by the fake's): each ends in
//! SUCCESS with a PNG, its Chinese prompt unchanged all the way to NovelAI and back. Then
//! each model family the website offers today, V5 first, through the whole stack.

use std::time::Duration;

use naiq_e2e::Stack;
use serde_json::{Value, json};

const PROMPT: &str = "一只可爱的猫咪，高清照片";
const NEGATIVE: &str = "模糊，低质量";

async fn png_at(s: &Stack, url: &str) -> (u32, u32) {
    let bytes = s.http.get(url).send().await.unwrap().bytes().await.unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG: {url}");
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes.to_vec()));
    let info = decoder.read_info().unwrap();
    (info.info().width, info.info().height)
}

async fn run(s: &Stack, body: &Value) -> Value {
    let sub = s.submit(&s.key, body).await;
    let id = sub["task_id"].as_str().expect("a task id").to_string();
    let done = s.wait_done(&s.key, &id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "SUCCESS", "{body} → {done}");
    done
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn the_seed_readmes_example_bodies_succeed_with_their_chinese_prompts() {
    let s = Stack::from_env();
    let examples = [
        // Server-side credentials: the fields as the README shows them (scale 11 is brought
        // into range, with a warning).
        json!({"prompt": PROMPT, "negative_prompt": NEGATIVE, "model": "nai-v3",
               "sampler": "k_euler_ancestral", "steps": 28, "scale": 11,
               "resolution": "portrait"}),
        json!({"auth_type": "token", "token": s.fake_token, "prompt": PROMPT,
               "negative_prompt": NEGATIVE, "model": "nai-v3", "steps": 28}),
        json!({"auth_type": "login", "email": "test@example.com", "password": "password123",
               "prompt": PROMPT, "negative_prompt": NEGATIVE, "model": "nai-v3", "steps": 28}),
    ];
    for body in &examples {
        let done = run(&s, body).await;
        let url = done["image_url"].as_str().expect("an image URL");
        assert_eq!(png_at(&s, url).await, (832, 1216), "{body}");
        assert_eq!(done["model"], "nai-diffusion-3");
    }
    let sent: Vec<Value> = s
        .fake_requests()
        .await
        .into_iter()
        .filter(|r| r["path"] == "/ai/generate-image" && r["body"]["input"] == PROMPT)
        .collect();
    assert!(sent.len() >= 3, "{sent:?}");
    for r in &sent {
        assert_eq!(r["status"], 200, "{r}");
        assert_eq!(r["body"]["parameters"]["negative_prompt"], NEGATIVE);
        assert_eq!(r["body"]["parameters"]["params_version"], 4);
    }
    // The first example's scale went out in range.
    assert!(sent.iter().any(|r| r["body"]["parameters"]["scale"] == 10));
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn every_family_the_website_offers_succeeds_through_the_stack() {
    let s = Stack::from_env();
    for (model, id) in [
        ("nai-v5", "nai-diffusion-5-full"),
        ("nai-v5-curated", "nai-diffusion-5-curated"),
        ("nai-v5-medium", "nai-diffusion-5-full-medium"),
        ("nai-v4.5", "nai-diffusion-4-5-full"),
        ("nai-v3", "nai-diffusion-3"),
    ] {
        let prompt = format!("e2e family {model}, 猫");
        let done = run(
            &s,
            &json!({"prompt": prompt, "model": model, "width": 512, "height": 768}),
        )
        .await;
        assert_eq!(done["model"], id);
        let url = done["image_url"].as_str().unwrap();
        assert_eq!(png_at(&s, url).await, (512, 768), "{model}");
        let sent = s
            .fake_requests()
            .await
            .into_iter()
            .rev()
            .find(|r| r["body"]["input"] == prompt.as_str())
            .expect("sent upstream");
        assert_eq!(sent["body"]["model"], id);
        assert_eq!(sent["body"]["parameters"]["params_version"], 4);
        let v5 = id.starts_with("nai-diffusion-5");
        assert_eq!(
            sent["body"]["parameters"]["straight_alpha"] == true,
            v5,
            "{model}: straight_alpha on V5 only"
        );
    }
    // WebP when a job asks for it: stored and served as WebP.
    let done = run(
        &s,
        &json!({"prompt": "e2e webp", "model": "nai-v5", "image_format": "webp",
                "width": 512, "height": 768}),
    )
    .await;
    let url = done["image_url"].as_str().unwrap();
    assert!(url.contains(".webp"), "{url}");
    let resp = s.http.get(url).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "image/webp");
    let bytes = resp.bytes().await.unwrap();
    assert!(bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP");
    // Without a model: the website's default, V5 Curated.
    let done = run(&s, &json!({"prompt": "e2e default model"})).await;
    assert_eq!(done["model"], "nai-diffusion-5-curated");
}
