//! The HTTP webhook transport against receivers on 127.0.0.1: it connects to the address
//! it is given for a name it never resolves (the pin that defeats DNS rebinding), keeps the
//! name as the `Host`, sends the headers, gives up on a receiver that hangs after its
//! timeout, and does not follow redirects. Its resolver feeds the core's address check.

use std::time::{Duration, Instant};

use naiq_adapters::webhook_transport::HttpWebhookTransport;
use naiq_core::ports::{TransportError, WebhookRequest, WebhookTransport};
use naiq_core::webhooks::{AddressClass, WebhookUrl, allowed};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

/// A one-request receiver on its own thread: answers `answer` (or nothing when `None`)
/// and hands back what it received.
fn receiver(answer: Option<&'static str>) -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = vec![0u8; 16 * 1024];
        let mut got = Vec::new();
        // Headers and the short body arrive together or in a few reads.
        while !String::from_utf8_lossy(&got).contains("\"probe\"") {
            let n = sock.read(&mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        let _ = tx.send(String::from_utf8_lossy(&got).into_owned());
        match answer {
            Some(a) => {
                let _ = sock.write_all(a.as_bytes());
            }
            None => std::thread::sleep(Duration::from_secs(10)),
        }
    });
    (port, rx)
}

fn request<'a>(url: &'a WebhookUrl, port: u16, timeout_ms: u64) -> WebhookRequest<'a> {
    WebhookRequest {
        url,
        address: ([127, 0, 0, 1], port).into(),
        headers: vec![
            ("content-type", "application/json".into()),
            ("webhook-id", "msg_probe".into()),
            ("webhook-timestamp", "1700000000".into()),
            ("webhook-signature", "v1,c2lnbmF0dXJl".into()),
        ],
        body: br#"{"type":"probe"}"#,
        timeout_ms,
    }
}

#[tokio::test]
async fn posts_to_the_pinned_address_for_a_name_that_never_resolves() {
    let (port, got) = receiver(Some("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"));
    // `.invalid` never resolves (RFC 2606): only the pin can reach the receiver.
    let url = WebhookUrl::parse(&format!("http://receiver.invalid:{port}/hook"), true).unwrap();
    let status = HttpWebhookTransport
        .post(request(&url, port, 5_000))
        .await
        .unwrap();
    assert_eq!(status, 204);
    let text = got
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .to_ascii_lowercase();
    assert!(text.starts_with("post /hook http/1.1"), "{text}");
    assert!(
        text.contains(&format!("host: receiver.invalid:{port}")),
        "{text}"
    );
    assert!(text.contains("webhook-id: msg_probe"), "{text}");
    assert!(
        text.contains("webhook-signature: v1,c2lnbmf0dxjl"),
        "{text}"
    );
}

#[tokio::test]
async fn a_hanging_receiver_is_given_up_on_after_the_timeout() {
    let (port, _got) = receiver(None);
    let url = WebhookUrl::parse(&format!("http://127.0.0.1:{port}/hook"), true).unwrap();
    let started = Instant::now();
    let err = HttpWebhookTransport
        .post(request(&url, port, 500))
        .await
        .unwrap_err();
    assert_eq!(err, TransportError::Timeout(500));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (port, _got) = receiver(Some(
        "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ));
    let url = WebhookUrl::parse(&format!("http://127.0.0.1:{port}/hook"), true).unwrap();
    let status = HttpWebhookTransport
        .post(request(&url, port, 5_000))
        .await
        .unwrap();
    assert_eq!(status, 302);
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = WebhookUrl::parse(&format!("http://127.0.0.1:{port}/hook"), true).unwrap();
    let err = HttpWebhookTransport
        .post(request(&url, port, 2_000))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Connect(_)), "{err:?}");
}

#[tokio::test]
async fn localhost_resolves_to_loopback_which_the_core_refuses() {
    let ips = HttpWebhookTransport
        .resolve("localhost", 443)
        .await
        .unwrap();
    assert!(!ips.is_empty());
    for ip in ips {
        assert_eq!(allowed(ip, false), Err(AddressClass::Loopback), "{ip}");
        assert_eq!(allowed(ip, true), Ok(()));
    }
}
