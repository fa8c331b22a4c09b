//! The zip NovelAI answers a generation with: `image_0.png`, `image_1.png`, … (or
//! `image_<i>.webp` with `image_format: "webp"`; deflated), sent as `binary/octet-stream` with `Content-Disposition: attachment;
//! filename=images.zip`.

use std::io::Write;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A deflated zip of these `(name, bytes)` entries, in order.
pub fn zip_of(entries: &[(String, Vec<u8>)]) -> Result<Vec<u8>, String> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), options)
            .map_err(|e| e.to_string())?;
        zip.write_all(bytes).map_err(|e| e.to_string())?;
    }
    Ok(zip.finish().map_err(|e| e.to_string())?.into_inner())
}

/// The name of sample `i`'s entry, for a file extension (`png`, `webp`).
pub fn entry_name(i: u32, extension: &str) -> String {
    format!("image_{i}.{extension}")
}

/// A 200 answer carrying a zip, with NovelAI's headers.
pub fn zip_response(bytes: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "binary/octet-stream"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=images.zip",
            ),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn entries_come_back_in_order_and_deflated() {
        let entries: Vec<(String, Vec<u8>)> = (0..3)
            .map(|i| (entry_name(i, "png"), vec![i as u8; 1000]))
            .collect();
        let zip = zip_of(&entries).unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        assert_eq!(archive.len(), 3);
        for i in 0..3 {
            let mut file = archive.by_index(i).unwrap();
            assert_eq!(file.name().unwrap(), format!("image_{i}.png"));
            assert_eq!(file.compression(), zip::CompressionMethod::Deflated);
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).unwrap();
            assert_eq!(bytes, vec![i as u8; 1000]);
        }
    }
}
