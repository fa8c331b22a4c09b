//! The gauges a drain leaves behind (`crate::metrics`): waiting jobs in total and per
//! lane, those of them that could start now, and the day's calls against the limit. Read
//! once per invocation, from the queue counters and the pacing state, whatever ended the
//! drain (so a warm container never re-emits an earlier invocation's values). The job
//! outcome counters are touched too, so each drain reports them, 0 included.

use super::Worker;
use crate::domain::Lane;
use crate::domain::pacing::{Decision, PacingState, WaitReason};
use crate::domain::turns::QueueSnapshot;
use crate::metrics::{Gauges, gauges};
use crate::ports::PortError;

impl Worker {
    /// Sets the gauges; a read that fails is logged and leaves them as they were.
    pub(super) async fn record_gauges(&self) {
        let (snapshot, state) = match self.read_counters_and_pacing().await {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the queue gauges");
                crate::metrics::drain_outcomes_reported();
                return;
            }
        };
        self.gauges_from(&snapshot, &state);
    }

    /// The lane counters and the pacing state ([`crate::ports::counters_and_pacing`]):
    /// what the gauges and the schedule's tick (`tick`) are worked out from.
    pub(super) async fn read_counters_and_pacing(
        &self,
    ) -> Result<(QueueSnapshot, PacingState), PortError> {
        crate::ports::counters_and_pacing(&*self.ports.jobs, &*self.ports.pacing).await
    }

    /// Sets the gauges from counters and a pacing state already read.
    pub(super) fn gauges_from(&self, snapshot: &QueueSnapshot, state: &PacingState) {
        crate::metrics::drain_outcomes_reported();
        let now = self.clock.now();
        let pacing = &self.settings.pacing;
        // A wait for the interval (or a cooldown) is a call about to start; a wait for a
        // window or for tomorrow's quota is not.
        let may_call = |is_test| match pacing.decide(state, now, is_test) {
            Decision::Now => true,
            Decision::Wait { reason, .. } => reason == WaitReason::Interval,
        };
        let per_lane: Vec<(Lane, u64)> = Lane::ALL
            .iter()
            .map(|&lane| (lane, snapshot.lane(lane).map_or(0, |t| t.waiting)))
            .collect();
        let waiting = |lanes: &[Lane]| -> u64 {
            per_lane
                .iter()
                .filter(|(l, _)| lanes.contains(l))
                .map(|(_, n)| n)
                .sum()
        };
        let in_window = if may_call(false) {
            waiting(&Lane::ALL)
        } else if may_call(true) {
            waiting(&[Lane::Test])
        } else {
            0
        };
        gauges(&Gauges {
            in_window,
            calls_today: state.count_on(pacing.local_day(now)),
            daily_limit: pacing.daily_limit,
            per_lane,
        });
    }
}
