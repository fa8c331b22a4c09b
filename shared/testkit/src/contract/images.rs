//! The image store's contract.

use naiq_core::ports::*;

pub async fn image_store(images: &dyn ImageStore) {
    assert_eq!(images.get("images/none/0.png").await.unwrap(), None);
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
    let url = images.url("images/t/0.png", 60).await.unwrap();
    assert!(url.contains("images/t/0.png"), "{url}");
}
