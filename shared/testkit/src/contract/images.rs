//! The image store's contract.

use naiq_core::ports::*;

pub async fn image_store(images: &dyn ImageStore) {
    assert_eq!(images.get("images/none/0.png").await.unwrap(), None);
    assert!(!images.exists("images/t/0.png").await.unwrap());
    images
        .put("images/t/0.png", b"\x89PNG-0".to_vec().into(), "image/png")
        .await
        .unwrap();
    images
        .put("images/t/1.png", b"\x89PNG-1".to_vec().into(), "image/png")
        .await
        .unwrap();
    assert_eq!(
        images.get("images/t/1.png").await.unwrap().as_deref(),
        Some(&b"\x89PNG-1"[..])
    );
    assert!(images.exists("images/t/0.png").await.unwrap());
    assert!(!images.exists("images/t/2.png").await.unwrap());
    // An object written from parts is their bytes in order, whatever their sizes: an
    // empty part, and one larger than a single frame of the S3 body.
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i| (i % 251) as u8).collect();
    let parts = vec![
        bytes::Bytes::from_static(b"naiq-answer 1\n{}\n"),
        bytes::Bytes::new(),
        bytes::Bytes::from(big.clone()),
        bytes::Bytes::from_static(b"tail"),
    ];
    let expected: Vec<u8> = parts.concat();
    images
        .put_parts("answers/t/1", parts, "application/octet-stream")
        .await
        .unwrap();
    let stored = images.get("answers/t/1").await.unwrap().unwrap();
    assert_eq!(stored.len(), expected.len());
    assert!(stored == expected, "the parts come back in order");
    let url = images.url("images/t/0.png", 60).await.unwrap();
    assert!(url.contains("images/t/0.png"), "{url}");
}
