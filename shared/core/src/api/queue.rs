//! `GET /queue_status` and `GET /rate_limit_status`: where the caller's jobs stand, and
//! the pacing as it is now.

use super::responses::{
    AccountStatus, LocalTime, QueueStatus, QueueStatusResponse, RateLimitStatus, V5UsageStatus,
};
use super::{ApiError, ApiService, rfc3339};
use crate::domain::{ApiKeyRecord, Lane, Status};
use crate::novelai::request::JsNumber;

impl ApiService {
    /// `GET /queue_status`: totals, and the positions of the caller's own waiting tasks.
    /// One read of the queue counters, then arithmetic per job: a job's own jobs ahead are
    /// counted in the list of the caller's jobs already read.
    pub async fn queue_status(
        &self,
        caller: &ApiKeyRecord,
    ) -> Result<QueueStatusResponse, ApiError> {
        let mine = self.ports.jobs.active_for_owner(&caller.key_id).await?;
        let snapshot = self.ports.jobs.queue_snapshot().await?;
        let mut waiting: Vec<(Lane, String, &str)> = Vec::new();
        let mut active = Vec::new();
        for job in &mine {
            if job.status().is_waiting() {
                waiting.push((job.lane(), job.queue_order(), job.task_id().as_str()));
            } else if job.status() == Status::Started {
                active.push(job.task_id().to_string());
            }
        }
        // Lane, then age: each job's own jobs ahead are those before it in its lane.
        waiting.sort();
        let mut positions = std::collections::BTreeMap::new();
        let mut own_ahead = 0u64;
        for (i, (lane, _, task_id)) in waiting.iter().enumerate() {
            if i > 0 && waiting[i - 1].0 != *lane {
                own_ahead = 0;
            }
            let pos = snapshot.position(*lane, &caller.key_id, own_ahead);
            positions.insert(task_id.to_string(), pos.position);
            own_ahead += 1;
        }
        let now = self.clock.now();
        let local = now.with_timezone(&self.settings.pacing.timezone);
        Ok(QueueStatusResponse {
            success: true,
            queue_status: QueueStatus {
                total_pending: snapshot.total_pending(),
                queue_positions: positions,
                last_updated: now.timestamp_millis() as f64 / 1000.0,
            },
            active_tasks: active.len() as u64,
            active_task_ids: active,
            last_updated: local.format("%Y-%m-%d %H:%M:%S").to_string(),
            last_updated_at: rfc3339(now),
        })
    }

    /// `GET /rate_limit_status`.
    pub async fn rate_limit_status(&self) -> Result<RateLimitStatus, ApiError> {
        let pacing = &self.settings.pacing;
        let now = self.clock.now();
        let (state, _) = self.ports.pacing.load_pacing().await?;
        let used = state.count_on(pacing.local_day(now));
        let local = now.with_timezone(&pacing.timezone);
        let windows: Vec<String> = pacing.windows.iter().map(ToString::to_string).collect();
        let in_window = pacing.in_window(now);
        let next_window = pacing.next_window_start(now);
        let description = if in_window {
            format!(
                "inside an allowed window ({} {})",
                windows.join(", "),
                pacing.timezone
            )
        } else {
            format!(
                "outside the allowed windows ({} {}); the next opens at {}",
                windows.join(", "),
                pacing.timezone,
                next_window
                    .with_timezone(&pacing.timezone)
                    .format("%Y-%m-%d %H:%M")
            )
        };
        Ok(RateLimitStatus {
            daily_limit: pacing.daily_limit,
            requests_today: used,
            remaining: pacing.daily_limit.saturating_sub(used),
            singapore_time: LocalTime {
                date: local.format("%Y-%m-%d").to_string(),
                hour: chrono::Timelike::hour(&local),
                time: local.format("%H:%M:%S").to_string(),
            },
            timezone: pacing.timezone.to_string(),
            allowed_windows: pacing.windows.iter().map(hour_pair).collect(),
            window_description: pacing
                .windows
                .iter()
                .map(seed_window)
                .collect::<Vec<_>>()
                .join(", "),
            windows,
            in_allowed_window: in_window,
            window_status: description,
            next_window_start: rfc3339(next_window),
            next_call_at: rfc3339(pacing.earliest_start(&state, now, false)),
            interval_seconds: pacing.interval,
            cooldown_seconds: pacing.cooldown,
            account: self
                .ports
                .account
                .load_account()
                .await?
                .map(|a| AccountStatus {
                    tier: a.tier,
                    tier_name: a.tier_name(),
                    active: a.active,
                    anlas: a.anlas,
                    v5_usage: a.v5_usage.map(|u| V5UsageStatus {
                        percent: u.percent,
                        is_negative: u.is_negative,
                        seconds_to_next_percent: u.seconds_to_next_percent,
                        free_v5_images: a.free_image_for(crate::domain::models::Family::V5),
                    }),
                    checked_at: rfc3339(a.checked_at),
                }),
        })
    }
}

/// A time of day as hours (`6.0`, `6.5` for 06:30); a window ending at midnight ends at 24.
fn hours(t: chrono::NaiveTime, is_end: bool) -> f64 {
    use chrono::Timelike;
    let h = f64::from(t.hour()) + f64::from(t.minute()) / 60.0 + f64::from(t.second()) / 3600.0;
    if is_end && h == 0.0 { 24.0 } else { h }
}

fn hour_pair(w: &crate::domain::pacing::Window) -> [JsNumber; 2] {
    [
        JsNumber(hours(w.start, false)),
        JsNumber(hours(w.end, true)),
    ]
}

/// `6:00-9:00`: the seed's way of writing a window.
fn seed_window(w: &crate::domain::pacing::Window) -> String {
    let t = |t: chrono::NaiveTime, is_end: bool| {
        use chrono::Timelike;
        let h = if is_end && t == chrono::NaiveTime::MIN {
            24
        } else {
            t.hour()
        };
        format!("{h}:{:02}", t.minute())
    };
    format!("{}-{}", t(w.start, false), t(w.end, true))
}
