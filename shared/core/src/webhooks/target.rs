//! A webhook URL as a client may give it (`webhook_url` on `POST /generate`, or a key's
//! default): bounded, absolute, https, with a host name. An IP literal is refused outright
//! (outside the local stack): whether a name is public is known only once it is resolved,
//! which `deliver` does before each attempt.

use std::net::IpAddr;

use url::{Host, Url};

/// The longest webhook URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadUrl(pub String);

/// A checked webhook URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    url: Url,
}

/// Where a URL's host points before resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Name(String),
    Ip(IpAddr),
}

impl WebhookUrl {
    /// Checks `s`. With `allow_private` (the local stack) http and IP literals pass too,
    /// so a receiver on 127.0.0.1 can be used.
    pub fn parse(s: &str, allow_private: bool) -> Result<Self, BadUrl> {
        if s.len() > MAX_URL_BYTES {
            return Err(BadUrl(format!(
                "webhook_url must be at most {MAX_URL_BYTES} bytes"
            )));
        }
        let url = Url::parse(s.trim())
            .map_err(|e| BadUrl(format!("webhook_url is not an absolute URL: {e}")))?;
        match url.scheme() {
            "https" => {}
            "http" if allow_private => {}
            _ => {
                return Err(BadUrl("webhook_url must be an https:// URL".to_string()));
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(BadUrl(
                "webhook_url must not carry a user name or password".into(),
            ));
        }
        match url.host() {
            None => return Err(BadUrl("webhook_url needs a host".into())),
            Some(Host::Domain(d)) => {
                // `localhost.` is `localhost` too (a trailing dot is the root).
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if (d == "localhost" || d.ends_with(".localhost")) && !allow_private {
                    return Err(BadUrl("webhook_url must not point at localhost".into()));
                }
            }
            Some(Host::Ipv4(_)) | Some(Host::Ipv6(_)) if !allow_private => {
                return Err(BadUrl(
                    "webhook_url must name a host, not an IP address".into(),
                ));
            }
            Some(_) => {}
        }
        Ok(Self { url })
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    pub fn port(&self) -> u16 {
        self.url.port_or_known_default().unwrap_or(443)
    }

    pub fn target(&self) -> Target {
        match self.url.host() {
            Some(Host::Ipv4(v4)) => Target::Ip(IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => Target::Ip(IpAddr::V6(v6)),
            Some(Host::Domain(d)) => Target::Name(d.to_string()),
            None => Target::Name(String::new()),
        }
    }

    /// The host as the URL spells it (for the TLS name and the `Host` header).
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_https_urls_with_a_name_pass() {
        let u = WebhookUrl::parse("https://hooks.example.com/naiq?x=1", false).unwrap();
        assert_eq!(u.port(), 443);
        assert_eq!(u.target(), Target::Name("hooks.example.com".into()));
        assert_eq!(u.as_str(), "https://hooks.example.com/naiq?x=1");
    }

    #[test]
    fn ip_literals_http_and_odd_urls_are_refused() {
        for bad in [
            "http://hooks.example.com/",
            "https://127.0.0.1/",
            "https://10.0.0.5:8443/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://0x7f000001/",
            "https://2130706433/",
            "https://localhost/",
            "https://a.localhost/",
            "https://localhost./",
            "https://LOCALHOST/",
            "https://user:pw@hooks.example.com/",
            "ftp://hooks.example.com/",
            "/relative",
            "",
        ] {
            assert!(WebhookUrl::parse(bad, false).is_err(), "{bad}");
        }
        let long = format!("https://hooks.example.com/{}", "a".repeat(MAX_URL_BYTES));
        assert!(
            WebhookUrl::parse(&long, false)
                .unwrap_err()
                .0
                .contains("2048")
        );
    }

    #[test]
    fn the_local_stack_may_use_loopback_over_http() {
        let u = WebhookUrl::parse("http://127.0.0.1:9123/hook", true).unwrap();
        assert_eq!(u.target(), Target::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(u.port(), 9123);
        assert!(WebhookUrl::parse("ftp://127.0.0.1/", true).is_err());
    }
}
