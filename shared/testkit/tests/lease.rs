//! The drain lease is written about once a minute while jobs run every 8–15 s, and never
//! lapses between writes: each write comes before the last one's expiry.

mod support;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use naiq_core::config::Settings;
use naiq_core::ports::{LeaseStore, PortResult};
use naiq_core::worker::LEASE_NAME;
use naiq_testkit::memory::*;
use support::Given;

/// The state store's lease, with every write of the drain lease recorded: (now, until).
struct Recorded {
    inner: Arc<MemoryStateStore>,
    writes: Mutex<Vec<(DateTime<Utc>, DateTime<Utc>)>>,
}

#[async_trait]
impl LeaseStore for Recorded {
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> PortResult<bool> {
        if name == LEASE_NAME {
            self.writes.lock().unwrap().push((now, until));
        }
        self.inner.acquire_lease(name, holder, now, until).await
    }
    async fn release_lease(&self, name: &str, holder: &str) -> PortResult<()> {
        self.inner.release_lease(name, holder).await
    }
}

#[tokio::test]
async fn a_drain_renews_its_lease_about_once_a_minute_and_never_lets_it_lapse() {
    let s = support::stack(
        support::clock(),
        Given::memory(Arc::default(), Settings::default()),
    )
    .await;
    for _ in 0..30 {
        s.submit().await;
    }
    let lease = Arc::new(Recorded {
        inner: s.state.clone(),
        writes: Mutex::default(),
    });
    let mut ports = s.ports.clone();
    ports.lease = lease.clone();
    let worker = s.worker_over(ports, "leased");
    let started = naiq_core::ports::Clock::now(&*s.clock);
    let report = worker
        .drain(started + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(report.succeeded, 30, "{report:?}");
    let elapsed = naiq_core::ports::Clock::now(&*s.clock) - started;
    let writes = lease.writes.lock().unwrap().clone();
    // 30 jobs 8–15 s apart take several minutes: a write per turn would be 60.
    let minutes = elapsed.num_seconds() as f64 / 60.0;
    assert!(
        (writes.len() as f64) <= minutes + 3.0,
        "{} writes in {minutes:.1} minutes",
        writes.len()
    );
    for pair in writes.windows(2) {
        let ((_, held), (now, _)) = (pair[0], pair[1]);
        assert!(
            now <= held,
            "the lease lapsed: held until {held}, written at {now}"
        );
    }
    // And it held to the end of the drain.
    let (_, last) = *writes.last().unwrap();
    assert!(last >= started + elapsed);
}
