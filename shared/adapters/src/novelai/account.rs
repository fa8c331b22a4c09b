//! NovelAI's account API: logging in with an access key,
//! reading the subscription, and a cache of the access tokens logins give.
//!
//! No secret (password, access key, token) appears in an error, a `Debug` output or a log
//! line of this module.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use blake2::{Blake2b256, Digest};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use naiq_core::domain::Credentials;
use naiq_core::novelai::access_key;
use naiq_core::novelai::subscription::Subscription;
use naiq_core::ports::UpstreamError;

use super::{answer_body, network};

/// How long a login token is reused: NovelAI's JWTs last 30 days; one day of margin.
pub const TOKEN_REUSE: chrono::TimeDelta = chrono::TimeDelta::days(29);

/// The account API of NovelAI's main host (`https://api.novelai.net`, or a fake's address).
pub struct Account {
    http: reqwest::Client,
    base_url: String,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_string()
    } else {
        text.replace(secret, "<redacted>")
    }
}

/// Blanks `secret` out of an error's message.
fn scrub(err: UpstreamError, secret: &str) -> UpstreamError {
    match err {
        UpstreamError::Status { status, message } => UpstreamError::Status {
            status,
            message: redact(&message, secret),
        },
        UpstreamError::Network(m) => UpstreamError::Network(redact(&m, secret)),
        UpstreamError::BadResponse(m) => UpstreamError::BadResponse(redact(&m, secret)),
        UpstreamError::Stream(m) => UpstreamError::Stream(redact(&m, secret)),
        UpstreamError::LoginRefused(m) => UpstreamError::LoginRefused(redact(&m, secret)),
    }
}

impl Account {
    /// The account routes on `base_url` (NovelAI's image host, or a fake's address).
    pub fn new(base_url: &str, timeout: Duration) -> Self {
        Self::with_client(super::http_client(timeout), base_url)
    }

    /// The account routes on `base_url` through `http`, a client built by
    /// [`super::http_client`]: a generation client's, so that one process loads the system's
    /// root certificates once and its logins reuse the generations' connections.
    pub fn with_client(http: reqwest::Client, base_url: &str) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
        }
    }

    /// `POST /user/login {"key": access_key}` → the access token (a JWT valid 30 days).
    pub async fn login(&self, access_key: &str) -> Result<String, UpstreamError> {
        let resp = self
            .http
            .post(format!("{}/user/login", self.base_url))
            .json(&json!({"key": access_key}))
            .send()
            .await
            .map_err(network)?;
        let bytes = answer_body(resp, |status| matches!(status, 200 | 201))
            .await
            .map_err(|e| scrub(e, access_key))?;
        serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("accessToken")?.as_str().map(str::to_string))
            .filter(|t| !t.is_empty())
            // The body is not quoted: it may hold a token.
            .ok_or_else(|| UpstreamError::BadResponse("the login answer has no accessToken".into()))
    }

    /// `GET /user/subscription` with the token.
    pub async fn subscription(&self, token: &str) -> Result<Subscription, UpstreamError> {
        let resp = self
            .http
            .get(format!("{}/user/subscription", self.base_url))
            .bearer_auth(token)
            .send()
            .await
            .map_err(network)?;
        let bytes = answer_body(resp, |status| (200..300).contains(&status))
            .await
            .map_err(|e| scrub(e, token))?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
            UpstreamError::BadResponse(format!("the subscription is not JSON: {e}"))
        })?;
        Subscription::from_json(&v)
            .map_err(|e| UpstreamError::BadResponse(format!("unexpected subscription: {e}")))
    }
}

/// A token obtained by logging in.
struct CachedToken {
    token: String,
    obtained_at: DateTime<Utc>,
}

/// Access tokens obtained for email/password credentials, reused until [`TOKEN_REUSE`] after
/// they were obtained. Keyed by a BLAKE2b hash of the email and password, never by the
/// password itself. Logins are serialised: two callers with the same credentials log in once.
pub struct TokenCache {
    entries: Mutex<HashMap<[u8; 32], CachedToken>>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.entries.try_lock().map(|e| e.len()).ok();
        f.debug_struct("TokenCache")
            .field("entries", &entries)
            .finish()
    }
}

/// The cache key of login credentials: BLAKE2b-256 over the length-prefixed email and
/// password, so ("ab", "c") and ("a", "bc") differ.
fn cache_key(email: &str, password: &str) -> [u8; 32] {
    let mut h = Blake2b256::new();
    h.update(b"naiq token cache v1\0");
    for part in [email, password] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

impl TokenCache {
    pub fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The token to send for these credentials: a `Token` as is; for `Login`, a cached token
    /// younger than [`TOKEN_REUSE`], or a fresh one (access key derived from the email as
    /// given, then `POST /user/login`), which is cached.
    pub async fn token_for(
        &self,
        account: &Account,
        creds: &Credentials,
        now: DateTime<Utc>,
    ) -> Result<String, UpstreamError> {
        let (email, password) = match creds {
            Credentials::Token { token } => return Ok(token.clone()),
            Credentials::Login { email, password } => (email, password),
        };
        let key = cache_key(email, password);
        let mut entries = self.entries.lock().await;
        if let Some(cached) = entries.get(&key) {
            let age = now.signed_duration_since(cached.obtained_at);
            if age >= chrono::TimeDelta::zero() && age < TOKEN_REUSE {
                return Ok(cached.token.clone());
            }
        }
        entries.remove(&key);
        let (e, p) = (email.clone(), password.clone());
        let access_key = tokio::task::spawn_blocking(move || access_key::access_key(&e, &p))
            .await
            .map_err(|_| {
                UpstreamError::Network("the access key derivation did not finish".into())
            })?;
        // NovelAI never echoes the password, but nothing secret may reach an error.
        let token = account
            .login(&access_key)
            .await
            .map_err(|e| scrub(e, password))?;
        entries.insert(
            key,
            CachedToken {
                token: token.clone(),
                obtained_at: now,
            },
        );
        Ok(token)
    }

    /// Forgets the token of these credentials (after a 401: the next call logs in afresh).
    pub async fn invalidate(&self, creds: &Credentials) {
        if let Credentials::Login { email, password } = creds {
            self.entries
                .lock()
                .await
                .remove(&cache_key(email, password));
        }
    }

    /// How many tokens are cached.
    pub async fn len(&self) -> usize {
        self.entries.lock().await.len()
    }

    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex as StdMutex};

    use super::*;

    const EMAIL: &str = "test@example.com";
    const PASSWORD: &str = "password123";
    /// The access key of NovelAI's published test vector 2.
    const KEY: &str = "5TjO-5RT1mNI59hEHZXjBJZpp2yvC4L0LJUeIhRwkZHxgIHEutHp8EgOwvynvwLu";

    #[derive(Debug, Clone)]
    struct Seen {
        request_line: String,
        headers: String,
        body: String,
    }

    /// A tiny HTTP/1.1 server on a blocking thread: answers each connection with the next
    /// canned (status, body) — the last one repeats — and records what it received.
    fn serve(answers: Vec<(u16, String)>) -> (String, Arc<StdMutex<Vec<Seen>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(StdMutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut headers = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap();
                    }
                    headers.push_str(&line);
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                log.lock().unwrap().push(Seen {
                    request_line: request_line.trim().to_string(),
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let (status, text) = &answers[i.min(answers.len() - 1)];
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        (url, seen)
    }

    fn login_creds() -> Credentials {
        Credentials::Login {
            email: EMAIL.into(),
            password: PASSWORD.into(),
        }
    }

    fn opus_json() -> Value {
        json!({
            "tier": 3, "active": true, "expiresAt": 1_800_000_000,
            "perks": {"maxPriorityActions": 1000, "startPriority": 10, "moduleTrainingSteps": 10000,
                      "unlimitedMaxPriority": true, "voiceGeneration": true, "imageGeneration": true,
                      "unlimitedImageGeneration": true,
                      "unlimitedImageGenerationLimits": [{"resolution": 4194304, "maxPrompts": 0},
                                                          {"resolution": 1048576, "maxPrompts": 1}],
                      "contextTokens": 8192},
            "paymentProcessorData": null,
            "trainingStepsLeft": {"fixedTrainingStepsLeft": 9000, "purchasedTrainingSteps": 1500},
            "accountType": 0
        })
    }

    #[tokio::test]
    async fn login_posts_the_key_and_reads_the_token() {
        let (url, seen) = serve(vec![(201, r#"{"accessToken":"eyJtoken"}"#.into())]);
        let account = Account::new(&url, Duration::from_secs(5));
        assert_eq!(account.login(KEY).await.unwrap(), "eyJtoken");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen[0].request_line, "POST /user/login HTTP/1.1");
        let body: Value = serde_json::from_str(&seen[0].body).unwrap();
        assert_eq!(body, json!({"key": KEY}));
        assert!(
            seen[0]
                .headers
                .to_ascii_lowercase()
                .contains(&format!("user-agent: naiq/{}", naiq_core::VERSION)),
            "{}",
            seen[0].headers
        );

        let (url, _) = serve(vec![(200, r#"{"accessToken":"eyJok"}"#.into())]);
        let account = Account::new(&url, Duration::from_secs(5));
        assert_eq!(account.login(KEY).await.unwrap(), "eyJok");
    }

    #[tokio::test]
    async fn login_errors_carry_novelai_s_message_but_no_secret() {
        // A server echoing the key must not get it into the error.
        let (url, _) = serve(vec![(
            401,
            format!(r#"{{"statusCode":401,"message":"Incorrect access key. ({KEY})"}}"#),
        )]);
        let account = Account::new(&url, Duration::from_secs(5));
        let err = account.login(KEY).await.unwrap_err();
        assert_eq!(
            err,
            UpstreamError::Status {
                status: 401,
                message: "Incorrect access key. (<redacted>)".into()
            }
        );
        assert!(!format!("{err} {err:?}").contains(KEY));

        // 201 without a token: the body (which could hold one) is not quoted.
        let (url, _) = serve(vec![(201, r#"{"token":"eyJsecret"}"#.into())]);
        let err = Account::new(&url, Duration::from_secs(5))
            .login(KEY)
            .await
            .unwrap_err();
        assert!(matches!(err, UpstreamError::BadResponse(_)));
        assert!(!format!("{err} {err:?}").contains("eyJsecret"));

        // Nobody listening: a network error without the URL or the key.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = Account::new(&format!("http://127.0.0.1:{port}"), Duration::from_secs(5))
            .login(KEY)
            .await
            .unwrap_err();
        assert!(matches!(err, UpstreamError::Network(_)), "{err:?}");
        assert!(!format!("{err} {err:?}").contains(KEY));
        assert!(!format!("{err}").contains(&port.to_string()), "{err}");
    }

    #[tokio::test]
    async fn subscription_is_fetched_with_the_token() {
        let (url, seen) = serve(vec![
            (200, opus_json().to_string()),
            (
                401,
                r#"{"statusCode":401,"message":"Invalid accessToken."}"#.into(),
            ),
        ]);
        let account = Account::new(&url, Duration::from_secs(5));
        let s = account.subscription("eyJabc").await.unwrap();
        assert_eq!((s.tier, s.anlas), (3, 10_500));
        let err = account.subscription("eyJabc").await.unwrap_err();
        assert_eq!(
            err,
            UpstreamError::Status {
                status: 401,
                message: "Invalid accessToken.".into()
            }
        );
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen[0].request_line, "GET /user/subscription HTTP/1.1");
        assert!(
            seen[0]
                .headers
                .to_ascii_lowercase()
                .contains("authorization: bearer eyjabc")
        );
    }

    #[tokio::test]
    async fn the_cache_logs_in_once_and_again_after_29_days() {
        let (url, seen) = serve(vec![
            (201, r#"{"accessToken":"eyJfirst"}"#.into()),
            (201, r#"{"accessToken":"eyJsecond"}"#.into()),
            (201, r#"{"accessToken":"eyJthird"}"#.into()),
        ]);
        let account = Account::new(&url, Duration::from_secs(5));
        let cache = TokenCache::new();
        let t0 = DateTime::parse_from_rfc3339("2026-11-26T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc);

        // Tokens are passed through without any call.
        let direct = Credentials::Token {
            token: "pst-direct".into(),
        };
        assert_eq!(
            cache.token_for(&account, &direct, t0).await.unwrap(),
            "pst-direct"
        );
        assert!(seen.lock().unwrap().is_empty());

        let creds = login_creds();
        assert_eq!(
            cache.token_for(&account, &creds, t0).await.unwrap(),
            "eyJfirst"
        );
        let almost = t0 + TOKEN_REUSE - chrono::TimeDelta::seconds(1);
        assert_eq!(
            cache.token_for(&account, &creds, almost).await.unwrap(),
            "eyJfirst"
        );
        assert_eq!(seen.lock().unwrap().len(), 1, "reused within 29 days");
        let later = t0 + TOKEN_REUSE;
        assert_eq!(
            cache.token_for(&account, &creds, later).await.unwrap(),
            "eyJsecond"
        );
        cache.invalidate(&creds).await;
        assert!(cache.is_empty().await);
        assert_eq!(
            cache.token_for(&account, &creds, later).await.unwrap(),
            "eyJthird"
        );
        assert_eq!(cache.len().await, 1);

        // The key sent is the §2 vector: derived with the email as given.
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3);
        for s in &seen {
            assert_eq!(
                serde_json::from_str::<Value>(&s.body).unwrap(),
                json!({"key": KEY})
            );
        }
    }

    #[tokio::test]
    async fn secrets_appear_in_no_error_and_no_debug_output() {
        let (url, _) = serve(vec![
            (201, r#"{"accessToken":"eyJsecret-token"}"#.into()),
            (
                401,
                format!(r#"{{"statusCode":401,"message":"bad key {KEY} for {PASSWORD}"}}"#),
            ),
        ]);
        let account = Account::new(&url, Duration::from_secs(5));
        let cache = TokenCache::new();
        let creds = login_creds();
        let now = Utc::now();
        cache.token_for(&account, &creds, now).await.unwrap();
        let debug = format!("{cache:?} {account:?} {creds:?}");
        assert_eq!(
            format!("{cache:?}"),
            "TokenCache { entries: Some(1) }",
            "{debug}"
        );
        cache.invalidate(&creds).await;
        let err = cache.token_for(&account, &creds, now).await.unwrap_err();
        let shown = format!("{err} {err:?} {debug}");
        for secret in [PASSWORD, KEY, "eyJsecret-token"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        // Echoed secrets are blanked; the rest of NovelAI's message is kept.
        assert!(
            shown.contains("bad key <redacted> for <redacted>"),
            "{shown}"
        );
    }
}
