//! The webhook transport over HTTP (reqwest + rustls). Names are resolved by the system
//! resolver when the core asks; the POST then goes to the one address the core checked
//! (the client's resolver is overridden for that host, so nothing resolves the name again
//! and a DNS answer that changes meanwhile cannot move the connection). Redirects are not
//! followed (a redirect could point anywhere), and each attempt has its own timeout.

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use naiq_core::ports::{TransportError, WebhookRequest, WebhookTransport};
use naiq_core::webhooks::Target;

#[derive(Default)]
pub struct HttpWebhookTransport;

#[async_trait]
impl WebhookTransport for HttpWebhookTransport {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, TransportError> {
        // The system resolver blocks: it runs on the blocking pool, bounded in time.
        let name = host.to_string();
        let lookup = tokio::task::spawn_blocking(move || {
            use std::net::ToSocketAddrs;
            (name.as_str(), port)
                .to_socket_addrs()
                .map(|a| a.map(|a| a.ip()).collect::<Vec<_>>())
        });
        let found = tokio::time::timeout(Duration::from_secs(5), lookup)
            .await
            .map_err(|_| TransportError::Resolve(format!("{host}: no answer within 5 s")))?
            .map_err(|e| TransportError::Resolve(format!("{host}: {e}")))?
            .map_err(|e| TransportError::Resolve(format!("{host}: {e}")))?;
        let mut ips = found;
        ips.dedup();
        Ok(ips)
    }

    async fn post(&self, request: WebhookRequest<'_>) -> Result<u16, TransportError> {
        let timeout = Duration::from_millis(request.timeout_ms);
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .no_proxy()
            .user_agent(concat!("naiq-webhooks/", env!("CARGO_PKG_VERSION")));
        if let Target::Name(host) = request.url.target() {
            // Pinned: this host is the checked address and nothing else.
            builder = builder.resolve(&host, request.address);
        }
        let client = builder
            .build()
            .map_err(|e| TransportError::Other(format!("HTTP client: {e}")))?;
        let mut post = client
            .post(request.url.as_str())
            .body(request.body.to_vec());
        for (name, value) in &request.headers {
            post = post.header(*name, value);
        }
        match post.send().await {
            Ok(resp) => Ok(resp.status().as_u16()),
            Err(e) if e.is_timeout() => Err(TransportError::Timeout(request.timeout_ms)),
            Err(e) if e.is_connect() => Err(TransportError::Connect(error_chain(&e))),
            Err(e) => Err(TransportError::Other(error_chain(&e))),
        }
    }
}

/// The error and its causes, as one line (reqwest's own text hides the cause).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
