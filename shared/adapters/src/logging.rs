//! The functions' log subscriber. The Lambda runtime logs each raw event at TRACE (the
//! HTTP request's headers with its `Authorization`, and its body with any per-request
//! password), and the HTTP and AWS stacks trace what they send and receive (a Secrets
//! Manager answer holds the NovelAI credentials). So the level comes from
//! `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`, directives allowed; INFO by default), but the
//! targets in [`QUIET_TARGETS`] never log below INFO, whatever either variable asks. The
//! format is JSON when `AWS_LAMBDA_LOG_FORMAT=JSON` (the template's `LoggingConfig`), as
//! the runtime's own default subscriber does.

use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Filter, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

/// Targets held to INFO and above, because their DEBUG and TRACE lines carry secrets:
/// - `lambda_` (lambda_runtime, lambda_http, lambda_runtime_api_client): each raw event,
///   with its `Authorization` header and its body;
/// - `aws_` (every AWS crate): the SDK's requests and answers (Secrets Manager's hold the
///   NovelAI credentials) and SigV4's canonical requests (the role's session token);
/// - `hyper`, `h2`, `reqwest`, `rustls`: HTTP and TLS internals (a NovelAI call carries
///   the bearer token).
///
/// Each is a prefix of the event targets it holds, as tracing's own target filters match.
pub const QUIET_TARGETS: &[&str] = &["lambda_", "aws_", "hyper", "h2", "reqwest", "rustls"];

/// The filter the functions log through: `spec` (a level or `RUST_LOG` directives), with
/// [`QUIET_TARGETS`] held to INFO on top of it.
pub fn filter<S>(spec: Option<&str>) -> impl Filter<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let asked = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse_lossy(spec.unwrap_or_default());
    let quiet = QUIET_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, target| t.with_target(*target, LevelFilter::INFO),
    );
    asked.and(quiet)
}

/// The subscriber, writing to `writer`.
pub fn subscriber<W>(
    spec: Option<&str>,
    json: bool,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(writer);
    let layer: Box<dyn Layer<Registry> + Send + Sync> = if json {
        // The span list (the invocation's request id, the job's task id) and not the
        // current span again: it is the list's last, and repeating it made a fifth of
        // each line.
        fmt.json()
            .with_current_span(false)
            .with_filter(filter(spec))
            .boxed()
    } else {
        fmt.with_filter(filter(spec)).boxed()
    };
    Registry::default().with(layer)
}

/// Installs the subscriber for this process, from the environment, writing to stdout.
pub fn init() {
    let spec = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // A second call (tests) keeps the first subscriber.
    let _ =
        tracing::subscriber::set_global_default(subscriber(spec.as_deref(), json, std::io::stdout));
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What the subscriber writes for the runtime's raw event and naiq's own lines.
    fn logged(spec: &str, json: bool) -> String {
        let out = Capture::default();
        let writer = {
            let out = out.clone();
            move || out.clone()
        };
        tracing::subscriber::with_default(subscriber(Some(spec), json, writer), || {
            // As lambda_runtime's api_response layer and the SDK log them.
            tracing::trace!(
                target: "lambda_runtime::layers::api_response",
                body = r#"{"headers":{"authorization":"Bearer naiq_SECRET-KEY"},"body":"{\"password\":\"hunter2\"}"}"#,
                "raw JSON event received from Lambda"
            );
            tracing::debug!(target: "lambda_http::request", "Bearer naiq_SECRET-KEY");
            tracing::trace!(
                target: "aws_smithy_runtime::client::orchestrator",
                "response body {{\"SecretString\": \"pst-SECRET-TOKEN\"}}"
            );
            tracing::trace!(
                target: "aws_sigv4::http_request::sign",
                canonical_request = "x-amz-security-token:SESSION-SECRET",
                "signing request"
            );
            tracing::info!(target: "lambda_runtime::runtime", "runtime info kept");
            tracing::trace!(target: "naiq_worker", "naiq trace kept");
            tracing::debug!(target: "naiq_core::worker", "naiq debug kept");
        });
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn runtime_event_lines_are_dropped_at_trace_and_naiq_lines_kept() {
        for spec in [
            "TRACE",
            "trace",
            "lambda_runtime=trace,lambda_http=trace,aws_smithy_runtime=trace,naiq_worker=trace,naiq_core=trace",
            "lambda_runtime::layers::api_response=trace,trace",
        ] {
            for json in [true, false] {
                let out = logged(spec, json);
                for secret in [
                    "SECRET-KEY",
                    "hunter2",
                    "SECRET-TOKEN",
                    "SESSION-SECRET",
                    "raw JSON event",
                ] {
                    assert!(!out.contains(secret), "{spec} json={json}: {out}");
                }
                for kept in ["runtime info kept", "naiq trace kept", "naiq debug kept"] {
                    assert!(
                        out.contains(kept),
                        "{spec} json={json}: {kept} missing in {out}"
                    );
                }
            }
        }
        // The default level is INFO.
        let out = logged("", true);
        assert!(
            out.contains("runtime info kept") && !out.contains("naiq trace kept"),
            "{out}"
        );
    }

    #[test]
    fn a_json_line_in_a_job_names_its_spans_once() {
        let out = Capture::default();
        let writer = {
            let out = out.clone();
            move || out.clone()
        };
        tracing::subscriber::with_default(subscriber(None, true, writer), || {
            let invoke = tracing::info_span!("Lambda runtime invoke", requestId = "req-1");
            let _invoke = invoke.enter();
            let job = tracing::info_span!("job", task_id = "task-1");
            let _job = job.enter();
            tracing::info!("job succeeded");
        });
        let bytes = out.0.lock().unwrap().clone();
        let line: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(line["fields"]["message"], "job succeeded");
        assert_eq!(line["spans"][0]["requestId"], "req-1");
        assert_eq!(
            line["spans"][1]["task_id"], "task-1",
            "the task id on the line"
        );
        assert!(
            line.get("span").is_none(),
            "the current span is not repeated: {line}"
        );
    }
}
