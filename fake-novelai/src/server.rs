//! The fake's state, its routes, and running it on 127.0.0.1.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Router, middleware};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::accounts::Accounts;
use crate::answer::error;
use crate::config::Config;
use crate::faults::FaultQueue;
use crate::faults::random::RandomFaults;
use crate::generation::{self, Locks};
use crate::request_log::{RequestLog, redacted_body};
use crate::{cors, hosts, login, subscription, user_data};

/// Bodies up to this size are read: an image-to-image body at the largest size carries a
/// PNG of up to about 12 MB as base64, plus a mask.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Subscriptions end this long after the fake started.
const SUBSCRIPTION_LENGTH: i64 = 30 * 24 * 3600;

/// Everything one fake knows: accounts, the request log, queued faults, the concurrency
/// locks, the latency. Cheap to clone (shared).
#[derive(Clone)]
pub struct FakeState(Arc<Inner>);

struct Inner {
    accounts: Accounts,
    log: RequestLog,
    faults: FaultQueue,
    random_faults: RandomFaults,
    locks: Locks,
    latency_ms: AtomicU64,
    /// The stream route's time per step (0 at the start).
    step_delay_ms: AtomicU64,
    /// An `f64`'s bits.
    medium_step_factor: AtomicU64,
    /// Director tools and upscales answer noise instead of one colour (`PUT /_fake/config`).
    noisy_tools: AtomicBool,
    started_at: i64,
    expires_at: i64,
    stop: watch::Sender<bool>,
}

impl FakeState {
    /// A fresh fake; derives the accounts' access keys (a few milliseconds each).
    pub fn new(config: &Config) -> Self {
        let latency_ms = u64::try_from(config.latency.as_millis()).unwrap_or(u64::MAX);
        let now = chrono::Utc::now().timestamp();
        FakeState(Arc::new(Inner {
            accounts: Accounts::new(config),
            log: RequestLog::default(),
            faults: FaultQueue::default(),
            random_faults: RandomFaults::default(),
            locks: Locks::default(),
            latency_ms: AtomicU64::new(latency_ms),
            step_delay_ms: AtomicU64::new(0),
            medium_step_factor: AtomicU64::new(config.medium_step_factor.to_bits()),
            noisy_tools: AtomicBool::new(false),
            started_at: now,
            expires_at: now + SUBSCRIPTION_LENGTH,
            stop: watch::Sender::new(false),
        }))
    }

    pub(crate) fn accounts(&self) -> &Accounts {
        &self.0.accounts
    }

    pub(crate) fn log(&self) -> &RequestLog {
        &self.0.log
    }

    pub(crate) fn faults(&self) -> &FaultQueue {
        &self.0.faults
    }

    pub(crate) fn random_faults(&self) -> &RandomFaults {
        &self.0.random_faults
    }

    pub(crate) fn locks(&self) -> &Locks {
        &self.0.locks
    }

    pub(crate) fn latency(&self) -> Duration {
        Duration::from_millis(self.0.latency_ms.load(Ordering::SeqCst))
    }

    pub(crate) fn set_latency_ms(&self, ms: u64) {
        self.0.latency_ms.store(ms, Ordering::SeqCst);
    }

    /// How long the stream route takes per step (after the latency).
    pub(crate) fn step_delay(&self) -> Duration {
        Duration::from_millis(self.0.step_delay_ms.load(Ordering::SeqCst))
    }

    pub(crate) fn set_step_delay_ms(&self, ms: u64) {
        self.0.step_delay_ms.store(ms, Ordering::SeqCst);
    }

    /// The factor on V5 Full Medium's per-step price.
    pub(crate) fn medium_step_factor(&self) -> f64 {
        f64::from_bits(self.0.medium_step_factor.load(Ordering::SeqCst))
    }

    pub(crate) fn set_medium_step_factor(&self, factor: f64) {
        self.0
            .medium_step_factor
            .store(factor.to_bits(), Ordering::SeqCst);
    }

    /// What the Director tools' and upscales' pictures are filled with.
    pub(crate) fn tool_fill(&self) -> crate::director::output::Fill {
        if self.0.noisy_tools.load(Ordering::SeqCst) {
            crate::director::output::Fill::Noise
        } else {
            crate::director::output::Fill::Flat
        }
    }

    pub(crate) fn set_noisy_tools(&self, noisy: bool) {
        self.0.noisy_tools.store(noisy, Ordering::SeqCst);
    }

    /// When the fake started (unix seconds): its accounts' creation time.
    pub(crate) fn started_at(&self) -> i64 {
        self.0.started_at
    }

    pub(crate) fn expires_at(&self) -> i64 {
        self.0.expires_at
    }

    /// Ends pending "hang" faults and the server started by [`spawn`].
    pub fn stop(&self) {
        self.0.stop.send_replace(true);
    }

    /// Resolves once [`FakeState::stop`] was called.
    pub(crate) fn stopping(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.stop.subscribe();
        async move {
            // An error means the state is gone, which is a stop too.
            let _ = rx.wait_for(|stopped| *stopped).await;
        }
    }
}

/// Every route of the fake, for a server or for driving in-process (`tower`'s `oneshot`).
/// All of them answer on any `Host` (the fake is NovelAI's image host), but for the api
/// host's refusals ([`hosts`]); every answer carries NovelAI's CORS headers ([`cors`]).
pub fn router(state: FakeState) -> Router {
    Router::new()
        .route(generation::PATH, post(generation::handler))
        .route(crate::stream::PATH, post(crate::stream::handler))
        .route(
            crate::vibes::encode::PATH,
            post(crate::vibes::encode::handler),
        )
        .route(
            crate::director::augment::PATH,
            post(crate::director::augment::handler),
        )
        .route(
            crate::director::upscale::PATH,
            post(crate::director::upscale::handler),
        )
        .route(login::PATH, post(login::handler))
        .route(subscription::PATH, get(subscription::handler))
        .route(user_data::DATA_PATH, get(user_data::data))
        .route(user_data::PRIORITY_PATH, get(user_data::priority))
        .route(user_data::INFORMATION_PATH, get(user_data::information))
        .merge(crate::controls::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            hosts::refuse_moved,
        ))
        .layer(middleware::from_fn(cors::cors))
        .with_state(state)
}

/// Any other path: 404, logged (with secret-looking fields redacted).
async fn not_found(
    State(state): State<FakeState>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    state
        .log()
        .record(method.as_str(), uri.path(), redacted_body(&body), 404)
        .await;
    error(StatusCode::NOT_FOUND, "Not Found")
}

/// A fake serving on 127.0.0.1 in a background task; it stops when dropped (or with
/// [`RunningFake::stop`]).
pub struct RunningFake {
    addr: SocketAddr,
    url: String,
    state: FakeState,
    task: Option<JoinHandle<io::Result<()>>>,
}

/// Starts a fake on `127.0.0.1:<config.port>` (port 0, the default, picks a free one) and
/// serves it in a background task of the current tokio runtime.
///
/// ```no_run
/// # async fn example() -> std::io::Result<()> {
/// use fake_novelai::{Account, Config};
/// let fake = fake_novelai::spawn(
///     Config::default()
///         .with_tokens(["pst-test"])
///         .with_account(Account::new("test@example.com", "password123"))
///         .with_latency(std::time::Duration::ZERO),
/// )
/// .await?;
/// let log = reqwest::get(format!("{}/_fake/requests", fake.url())).await;
/// # Ok(()) }
/// ```
///
/// Fails only if the port cannot be bound. Must run inside a tokio runtime.
pub async fn spawn(config: Config) -> io::Result<RunningFake> {
    let state = FakeState::new(&config);
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).await?;
    let addr = listener.local_addr()?;
    let stopping = state.stopping();
    let app = router(state.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stopping)
            .await
    });
    Ok(RunningFake {
        addr,
        url: format!("http://{addr}"),
        state,
        task: Some(task),
    })
}

impl RunningFake {
    /// `http://127.0.0.1:<port>`, without a trailing slash: the base URL for both of
    /// NovelAI's hosts.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits until the server is down.
    pub async fn stop(mut self) -> io::Result<()> {
        self.state.stop();
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningFake {
    fn drop(&mut self) {
        // Graceful: no new connections, pending "hang" faults end, open ones finish.
        self.state.stop();
    }
}

impl std::fmt::Debug for RunningFake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningFake")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}
