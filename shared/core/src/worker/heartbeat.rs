//! Crash recovery in minutes: the lane queues hide a received message for a short
//! [`VISIBILITY_TIMEOUT_SECONDS`], and while a job runs (its NovelAI call, then storing
//! its answer) a heartbeat keeps its message hidden every [`HEARTBEAT_SECONDS`]. A worker
//! that dies stops beating, and its message is back within the visibility timeout.
//!
//! The drain lease is short-lived the same way ([`LEASE_SECONDS`], renewed by the drain
//! loop and by the heartbeat), so a crashed worker does not keep the next one from
//! draining until its invocation's deadline.
//!
//! The core has no async runtime: the heartbeat and the work are polled together here, the
//! work first, and the heartbeat's waiting is the injected `Sleeper`.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

use chrono::{DateTime, Duration, Utc};

use super::{LEASE_NAME, Worker};
use crate::ports::Delivery;

/// The lane queues' visibility timeout (`template.yaml` and provisioning use it; a test
/// checks): how long a crashed worker's message stays hidden.
pub const VISIBILITY_TIMEOUT_SECONDS: u32 = 120;

/// How often a running job's message is kept hidden again, for another
/// [`VISIBILITY_TIMEOUT_SECONDS`]: a quarter of it, so three beats in a row can fail (a
/// throttled or slow SQS) before the message shows again.
pub const HEARTBEAT_SECONDS: u32 = 30;

/// How long the drain lease lasts past the worker's last sign of life.
pub const LEASE_SECONDS: i64 = 150;

impl Worker {
    /// Extends the drain lease to `until` unless the lease this worker last wrote already
    /// runs to within half a lease of it: no other worker can take a lease that has that
    /// long left, so the write would change nothing. Jobs come every 8–15 s and each turn
    /// asked for a renewal, twice; a write every minute or so is enough.
    pub(super) async fn keep_lease(&self, until: DateTime<Utc>) -> bool {
        let held = *self.lease_held.lock().unwrap_or_else(|e| e.into_inner());
        if held.is_some_and(|held| held >= until - Duration::seconds(LEASE_SECONDS / 2)) {
            return true;
        }
        self.renew_lease(until).await
    }

    /// Records until when this worker's last lease write holds the lease (none: it does
    /// not hold it).
    pub(super) fn lease_written(&self, until: Option<DateTime<Utc>>) {
        *self.lease_held.lock().unwrap_or_else(|e| e.into_inner()) = until;
    }

    /// Extends the drain lease until `until`; false if another worker holds it now (ours
    /// ran out). A failed write is logged and counts as held: the lease is still ours
    /// until it expires.
    pub(super) async fn renew_lease(&self, until: DateTime<Utc>) -> bool {
        match self
            .ports
            .lease
            .acquire_lease(LEASE_NAME, &self.holder, self.clock.now(), until)
            .await
        {
            Ok(held) => {
                self.lease_written(held.then_some(until));
                held
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not renew the drain lease");
                true
            }
        }
    }

    /// Runs `work` while keeping `delivery`'s message hidden; returns the work's output as
    /// soon as it is ready (the heartbeat stops with it).
    pub(super) async fn with_heartbeat<F: Future>(
        &self,
        delivery: &Delivery,
        work: F,
    ) -> F::Output {
        let beat = async {
            loop {
                let next = self.clock.now() + Duration::seconds(HEARTBEAT_SECONDS.into());
                self.sleeper.sleep_until(next).await;
                match self
                    .ports
                    .queue
                    .keep_hidden(delivery, VISIBILITY_TIMEOUT_SECONDS)
                    .await
                {
                    Ok(()) => {
                        tracing::debug!(task_id = %delivery.message.task_id, "heartbeat: message kept hidden")
                    }
                    Err(e) => {
                        tracing::warn!(task_id = %delivery.message.task_id, error = %e, "heartbeat failed; the message may show again")
                    }
                }
                self.renew_lease(self.clock.now() + Duration::seconds(LEASE_SECONDS))
                    .await;
                // Let the work run before the next beat (a sleeper that returns at once,
                // as a test clock's does, must not starve it).
                YieldOnce(false).await;
            }
        };
        let mut work = pin!(work);
        let mut beat = pin!(beat);
        poll_fn(|cx| {
            if let Poll::Ready(out) = work.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            // The beat never ends on its own.
            let _ = beat.as_mut().poll(cx);
            Poll::Pending
        })
        .await
    }
}

/// Pending once, then ready: hands the turn back to the caller.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}
