//! The request log of `GET /_fake/requests`: every call to a NovelAI route (and to any
//! unknown path), with its body, arrival and end times and status. Secrets are never
//! recorded: login keys, and anything secret-looking sent to an unknown path, are redacted.

use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// One logged request, as `GET /_fake/requests` lists it.
#[derive(Serialize, Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// RFC 3339 UTC with milliseconds, e.g. `2026-11-26T04:00:00.000Z`.
    pub received_at: String,
    /// `None` while the request is still being answered (or was never answered).
    pub finished_at: Option<String>,
    /// 0 until answered.
    pub status: u16,
    pub body: Value,
    /// A generation's Anlas charge (0 when free or refused for want of Anlas); absent on
    /// other calls and on generations refused before the charge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anlas_charged: Option<u64>,
    /// The injected fault a generation was answered with (queued or random: `"500"`,
    /// `"hang"`, …); absent when none was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<&'static str>,
}

/// A logged request, to finish it.
#[derive(Clone, Copy, Debug)]
pub struct Entry(u64);

#[derive(Default)]
pub struct RequestLog {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    next: u64,
    list: Vec<(u64, Recorded)>,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl RequestLog {
    /// Logs a request as received: status 0, not finished.
    pub async fn start(&self, method: &str, path: &str, body: Value) -> Entry {
        let mut inner = self.inner.lock().await;
        let id = inner.next;
        inner.next += 1;
        inner.list.push((
            id,
            Recorded {
                method: method.into(),
                path: path.into(),
                received_at: now(),
                finished_at: None,
                status: 0,
                body,
                anlas_charged: None,
                fault: None,
            },
        ));
        Entry(id)
    }

    /// Marks a request answered. An entry cleared from the log meanwhile is left alone.
    pub async fn finish(&self, entry: Entry, status: u16) {
        let mut inner = self.inner.lock().await;
        if let Some((_, e)) = inner.list.iter_mut().rev().find(|(id, _)| *id == entry.0) {
            e.finished_at = Some(now());
            e.status = status;
        }
    }

    /// Notes what a generation was charged.
    pub async fn charged(&self, entry: Entry, anlas: u64) {
        let mut inner = self.inner.lock().await;
        if let Some((_, e)) = inner.list.iter_mut().rev().find(|(id, _)| *id == entry.0) {
            e.anlas_charged = Some(anlas);
        }
    }

    /// Notes the injected fault a generation is answered with.
    pub async fn faulted(&self, entry: Entry, kind: &'static str) {
        let mut inner = self.inner.lock().await;
        if let Some((_, e)) = inner.list.iter_mut().rev().find(|(id, _)| *id == entry.0) {
            e.fault = Some(kind);
        }
    }

    /// Logs a request answered at once.
    pub async fn record(&self, method: &str, path: &str, body: Value, status: u16) {
        let entry = self.start(method, path, body).await;
        self.finish(entry, status).await;
    }

    /// Every entry, oldest first.
    pub async fn snapshot(&self) -> Vec<Recorded> {
        let inner = self.inner.lock().await;
        inner.list.iter().map(|(_, r)| r.clone()).collect()
    }

    pub async fn clear(&self) {
        self.inner.lock().await.list.clear();
    }
}

/// A body as logged: its JSON, or the text it holds when it is not JSON.
pub fn body_value(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Fields that hold secrets in NovelAI's API (and in clients' mistakes).
const SECRET_FIELDS: &[&str] = &["key", "password", "token", "accessToken"];

/// A body that may hold a secret, as logged: a JSON object with its secret fields replaced
/// by `"<redacted>"`; anything else only by its size, since it might be a secret itself.
pub fn redacted_body(body: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut map)) => {
            for field in SECRET_FIELDS {
                if let Some(v) = map.get_mut(*field) {
                    *v = json!("<redacted>");
                }
            }
            Value::Object(map)
        }
        _ if body.is_empty() => Value::Null,
        _ => json!(format!("<{} bytes, not a JSON object>", body.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_other_fields_kept() {
        let body = br#"{"key": "k3y", "email": "a@b.c", "password": "pw", "recaptcha": "r"}"#;
        assert_eq!(
            redacted_body(body),
            json!({"key": "<redacted>", "email": "a@b.c", "password": "<redacted>", "recaptcha": "r"})
        );
        assert_eq!(
            redacted_body(b"key=k3y"),
            json!("<7 bytes, not a JSON object>")
        );
        assert_eq!(
            redacted_body(br#""k3y""#),
            json!("<5 bytes, not a JSON object>")
        );
        assert_eq!(redacted_body(b""), Value::Null);
    }

    #[tokio::test]
    async fn entries_start_unfinished_and_finish_with_a_status() {
        let log = RequestLog::default();
        let e = log
            .start("POST", "/ai/generate-image", json!({"input": "x"}))
            .await;
        let first = &log.snapshot().await[0];
        assert_eq!((first.status, first.finished_at.as_deref()), (0, None));
        assert_eq!(first.received_at.len(), "2026-11-26T04:00:00.000Z".len());
        log.finish(e, 200).await;
        let first = &log.snapshot().await[0];
        assert_eq!(first.status, 200);
        assert!(first.finished_at.as_deref().unwrap().ends_with('Z'));
        // Cleared, then another request: finishing the old entry leaves the new one alone.
        log.clear().await;
        log.start("GET", "/user/subscription", Value::Null).await;
        log.finish(e, 500).await;
        assert_eq!(log.snapshot().await[0].status, 0);
        assert_eq!(body_value(b"not json"), json!("not json"));
    }
}
