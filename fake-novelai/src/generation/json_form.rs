//! The JSON form of a generation's answer, which NovelAI sends instead of the zip when the
//! request says `Accept: application/json`: 200 `application/json`
//! `{"images": [{"image": <base64>, "index": i, "seed": seed + i}]}`, the images in the
//! requested format.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::json;

/// Whether the request asks for the JSON form.
pub fn wanted(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("application/json"))
}

/// The answer for these images (sample `i` at `images[i]`) of a generation seeded `seed`.
pub fn response(images: &[Vec<u8>], seed: u64) -> Response {
    let list: Vec<_> = images
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            json!({
                "image": base64::engine::general_purpose::STANDARD.encode(bytes),
                "index": i,
                "seed": seed + i as u64,
            })
        })
        .collect();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"images": list}).to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn json_is_wanted_only_when_accepted() {
        let mut h = HeaderMap::new();
        assert!(!wanted(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(!wanted(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("Application/JSON, */*;q=0.1"),
        );
        assert!(wanted(&h));
    }
}
