//! Saving a finished task's images: one file per image, named after the task, the image's
//! index and the seed it was generated with, so a file says where it came from.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

use super::api::ApiClient;

/// Downloads every image of a successful task into `dir` (created if missing) and returns
/// the paths written.
pub async fn images(
    client: &ApiClient,
    task_id: &str,
    status: &Value,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let seed = status["seed"].as_u64();
    let mut written = Vec::new();
    for (i, url) in status["image_urls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .enumerate()
    {
        let (bytes, content_type) = client.download(url).await?;
        let path = dir.join(file_name(task_id, i, seed, content_type.as_deref(), &bytes));
        std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// `<task>_<index>_s<seed>.<ext>`; the task id is reduced to file-name-safe characters.
fn file_name(
    task_id: &str,
    index: usize,
    seed: Option<u64>,
    content_type: Option<&str>,
    bytes: &[u8],
) -> String {
    let safe: String = task_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    let seed = seed.map(|s| format!("_s{s}")).unwrap_or_default();
    format!("{safe}_{index}{seed}.{}", extension(content_type, bytes))
}

/// From the content type, else from the bytes' signature.
fn extension(content_type: Option<&str>, bytes: &[u8]) -> &'static str {
    match content_type.map(|t| t.split(';').next().unwrap_or("").trim()) {
        Some("image/png") => "png",
        Some("image/webp") => "webp",
        Some("image/jpeg") => "jpg",
        _ if bytes.starts_with(b"\x89PNG") => "png",
        _ if bytes.len() > 12 && &bytes[8..12] == b"WEBP" => "webp",
        _ if bytes.starts_with(&[0xFF, 0xD8]) => "jpg",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_task_index_and_seed() {
        assert_eq!(
            file_name("ab-12", 1, Some(42), Some("image/png"), b""),
            "ab-12_1_s42.png"
        );
        assert_eq!(
            file_name("../etc/x", 0, None, None, b"RIFF\0\0\0\0WEBPVP8 "),
            "etcx_0.webp"
        );
    }
}
