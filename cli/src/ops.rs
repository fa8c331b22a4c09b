//! `naiq ops status`: an operator's one screen — today's calls against the limit, the
//! windows and the next slot, waiting jobs per lane, recent failures by code, dead
//! letters, and the NovelAI account. It reads the deployment directly (the state table,
//! the queues' attributes, the jobs table), never the API, so it works when the API is
//! down, and it changes nothing.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, Duration, Utc};
use naiq_adapters::aws::AwsClients;
use naiq_adapters::aws::dynamodb::DynamoStateStore;
use naiq_adapters::resources::Resources;
use naiq_core::config::Settings;
use naiq_core::domain::Lane;
use naiq_core::domain::pacing::Decision;
use naiq_core::ports::{AccountCache, PacingStore};
use serde_json::{Value, json};

/// How far back failures are counted.
const FAILURE_WINDOW: Duration = Duration::hours(24);

/// Everything the screen shows, as JSON (`--json` prints it whole).
pub async fn status(clients: &AwsClients) -> Result<Value> {
    let resources = Resources::from_env().context("the deployment's resource names")?;
    let settings = Settings::from_lookup(&|k| std::env::var(k).ok())?;
    let pacing = &settings.pacing;
    let now = Utc::now();
    let state = DynamoStateStore::new(clients.dynamodb.clone(), resources.state_table.clone());
    let (pacing_state, _) = state.load_pacing().await?;
    let used = pacing_state.count_on(pacing.local_day(now));
    let next_slot = match pacing.decide(&pacing_state, now, false) {
        Decision::Now => json!({"at": now.to_rfc3339(), "now": true}),
        Decision::Wait { until, reason } => {
            json!({"at": until.to_rfc3339(), "now": false, "reason": reason.as_str()})
        }
    };
    let mut lanes = serde_json::Map::new();
    for lane in Lane::ALL {
        lanes.insert(
            lane.as_str().to_string(),
            queue_depth(clients, resources.queues.url(lane)).await?,
        );
    }
    let dead_letters = queue_depth(clients, &resources.queues.dead_letter).await?;
    let failures = recent_failures(clients, &resources.jobs_table, now - FAILURE_WINDOW).await?;
    let account = state.load_account().await?.map(|a| {
        json!({
            "tier": a.tier, "tier_name": a.tier_name(), "active": a.active, "anlas": a.anlas,
            "v5_usage": a.v5_usage.map(|u| json!({"percent": u.percent, "is_negative": u.is_negative})),
            "checked_at": a.checked_at.to_rfc3339(),
        })
    });
    Ok(json!({
        "now": now.to_rfc3339(),
        "timezone": pacing.timezone.to_string(),
        "calls_today": used,
        "daily_limit": pacing.daily_limit,
        "windows": pacing.windows.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "in_window": pacing.in_window(now),
        "next_slot": next_slot,
        "lanes": lanes,
        "dead_letters": dead_letters,
        "failures_24h": failures,
        "account": account,
    }))
}

/// The screen, from [`status`]'s JSON.
pub fn render(s: &Value) -> String {
    let mut out = String::new();
    let tz = s["timezone"].as_str().unwrap_or("UTC");
    let local = |t: &Value| -> String {
        let Some(t) = t
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        else {
            return "—".into();
        };
        match tz.parse::<chrono_tz::Tz>() {
            Ok(zone) => t
                .with_timezone(&zone)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            Err(_) => t.to_rfc3339(),
        }
    };
    let _ = writeln!(out, "naiq ops status, {} ({tz})", local(&s["now"]));
    let (used, limit) = (
        s["calls_today"].as_u64().unwrap_or(0),
        s["daily_limit"].as_u64().unwrap_or(0),
    );
    let _ = writeln!(
        out,
        "calls today    {used} of {limit} ({} left)",
        limit.saturating_sub(used)
    );
    let windows: Vec<&str> = s["windows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let _ = writeln!(
        out,
        "windows        {} ({})",
        windows.join(", "),
        if s["in_window"] == true {
            "inside one now"
        } else {
            "outside them now"
        }
    );
    let next = &s["next_slot"];
    let _ = if next["now"] == true {
        writeln!(out, "next slot      now")
    } else {
        writeln!(
            out,
            "next slot      {} ({})",
            local(&next["at"]),
            next["reason"].as_str().unwrap_or("?")
        )
    };
    let lanes: Vec<String> = Lane::ALL
        .iter()
        .map(|l| {
            let d = &s["lanes"][l.as_str()];
            let waiting = d["waiting"].as_u64().unwrap_or(0);
            match d["in_flight"].as_u64().unwrap_or(0) {
                0 => format!("{} {waiting}", l.as_str()),
                n => format!("{} {waiting} (+{n} running)", l.as_str()),
            }
        })
        .collect();
    let _ = writeln!(out, "waiting jobs   {}", lanes.join(" · "));
    let dl = &s["dead_letters"];
    let _ = writeln!(
        out,
        "dead letters   {}",
        dl["waiting"].as_u64().unwrap_or(0) + dl["in_flight"].as_u64().unwrap_or(0)
    );
    let f = &s["failures_24h"];
    let by_code: Vec<String> = f["by_code"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(code, n)| format!("{code} ×{n}"))
        .collect();
    let _ = if by_code.is_empty() {
        writeln!(out, "failures, 24 h none")
    } else {
        writeln!(
            out,
            "failures, 24 h {}: {} (last at {})",
            f["total"],
            by_code.join(", "),
            local(&f["last_at"])
        )
    };
    let a = &s["account"];
    let _ = if a.is_null() {
        writeln!(out, "account        not read yet (naiq credentials check)")
    } else {
        let v5 = match a["v5_usage"]["percent"].as_i64() {
            Some(p) if a["v5_usage"]["is_negative"] == true => {
                format!(", V5 usage exhausted ({p}%)")
            }
            Some(p) => format!(", V5 usage {p}% left"),
            None => String::new(),
        };
        writeln!(
            out,
            "account        {} ({}), {} Anlas{v5}; read {}",
            a["tier_name"].as_str().unwrap_or("?"),
            if a["active"] == true {
                "active"
            } else {
                "inactive"
            },
            a["anlas"],
            local(&a["checked_at"])
        )
    };
    out
}

/// A queue's messages: waiting (visible or delayed) and in flight (received, not deleted).
async fn queue_depth(clients: &AwsClients, url: &str) -> Result<Value> {
    let out = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .with_context(|| format!("reading the attributes of {url}"))?;
    let attrs = out.attributes().cloned().unwrap_or_default();
    let n = |name: QueueAttributeName| -> u64 {
        attrs.get(&name).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    Ok(json!({
        "waiting": n(QueueAttributeName::ApproximateNumberOfMessages)
            + n(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        "in_flight": n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    }))
}

/// Jobs that failed since `since`, by error code. A filtered scan: the jobs table has no
/// index by status, and an operator's command can afford reading it where a request
/// path could not.
async fn recent_failures(clients: &AwsClients, table: &str, since: DateTime<Utc>) -> Result<Value> {
    let mut by_code: BTreeMap<String, u64> = BTreeMap::new();
    let mut last: Option<String> = None;
    let mut start = None;
    loop {
        let out = clients
            .dynamodb
            .scan()
            .table_name(table)
            .filter_expression("#s = :f AND finished_at >= :since")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":f", AttributeValue::S("FAILURE".into()))
            .expression_attribute_values(
                ":since",
                AttributeValue::S(since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            )
            .projection_expression("error_code, finished_at")
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .context("scanning the jobs table for failures")?;
        for item in out.items() {
            let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
            *by_code
                .entry(text("error_code").unwrap_or_else(|| "unknown".into()))
                .or_default() += 1;
            if let Some(t) = text("finished_at")
                && last.as_ref().is_none_or(|l| &t > l)
            {
                last = Some(t);
            }
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    Ok(json!({
        "total": by_code.values().sum::<u64>(),
        "by_code": by_code,
        "last_at": last,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_screen_shows_every_figure_in_the_pacing_timezone() {
        let s = json!({
            "now": "2026-12-02T01:30:00+00:00", "timezone": "Asia/Singapore",
            "calls_today": 123, "daily_limit": 800,
            "windows": ["06:00-09:00", "12:00-14:00"], "in_window": false,
            "next_slot": {"at": "2026-12-02T04:00:00+00:00", "now": false, "reason": "outside_window"},
            "lanes": {"test": {"waiting": 0, "in_flight": 0}, "high": {"waiting": 2, "in_flight": 1},
                      "normal": {"waiting": 14, "in_flight": 0}, "low": {"waiting": 0, "in_flight": 0}},
            "dead_letters": {"waiting": 1, "in_flight": 0},
            "failures_24h": {"total": 3, "by_code": {"insufficient_anlas": 1, "upstream_error": 2},
                             "last_at": "2026-12-02T01:12:44.000Z"},
            "account": {"tier": 3, "tier_name": "Opus", "active": true, "anlas": 9812,
                        "v5_usage": {"percent": 73, "is_negative": false},
                        "checked_at": "2026-12-02T01:00:00Z"},
        });
        let screen = render(&s);
        for line in [
            "naiq ops status, 2026-12-02 09:30:00 (Asia/Singapore)",
            "calls today    123 of 800 (677 left)",
            "windows        06:00-09:00, 12:00-14:00 (outside them now)",
            "next slot      2026-12-02 12:00:00 (outside_window)",
            "waiting jobs   test 0 · high 2 (+1 running) · normal 14 · low 0",
            "dead letters   1",
            "failures, 24 h 3: insufficient_anlas ×1, upstream_error ×2 (last at 2026-12-02 09:12:44)",
            "account        Opus (active), 9812 Anlas, V5 usage 73% left; read 2026-12-02 09:00:00",
        ] {
            assert!(screen.contains(line), "missing {line:?} in:\n{screen}");
        }
        let quiet =
            render(&json!({"timezone": "UTC", "next_slot": {"now": true}, "account": null}));
        assert!(quiet.contains("next slot      now"), "{quiet}");
        assert!(quiet.contains("failures, 24 h none"), "{quiet}");
        assert!(quiet.contains("account        not read yet"), "{quiet}");
    }
}
