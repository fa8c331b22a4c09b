//! `naiq keys …`: the API keys' lifecycle. A key is named by its id (`naiq keys list`);
//! the secret is printed once, on standard output, by `create` and `rotate`, and neither
//! the secret nor its hash is ever printed otherwise.

use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Result, bail};
use chrono::{DateTime, Duration, Utc};
use clap::{Args, Subcommand};
use naiq_core::admin::{KeyAdmin, KeyChange};
use naiq_core::domain::models::resolve_model;
use naiq_core::domain::{ApiKeyRecord, Lane};
use rand::RngExt;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Creates a key and prints it once; only its hash is stored.
    Create {
        /// Who the key is for.
        #[arg(long)]
        name: String,
        /// Priorities the key may use (comma-separated: high,normal,low).
        #[arg(long, value_delimiter = ',', default_value = "high,normal,low")]
        lanes: Vec<String>,
        /// Lets the key send test requests (they also need ALLOW_TEST_REQUESTS).
        #[arg(long)]
        allow_test: bool,
        /// Where the key's jobs send webhook events when a request names no webhook_url.
        #[arg(long)]
        webhook_url: Option<String>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Lists every key: id, name, state, expiry and limits.
    List,
    /// Shows one key (never its secret or hash).
    Show { id: String },
    /// Revokes a key for good: it answers 401 at once, and its waiting jobs are cancelled
    /// (REVOKED, with the reason).
    Revoke {
        id: String,
        #[arg(long, default_value = "revoked by the operator")]
        reason: String,
    },
    /// Gives a key a new secret and prints it once; the old one stops working. The id,
    /// the limits and the jobs stay.
    Rotate { id: String },
    /// Changes a key's name, lanes, expiry or limits (`none` clears a limit).
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_delimiter = ',')]
        lanes: Option<Vec<String>>,
        #[arg(long)]
        allow_test: Option<bool>,
        /// Removes the expiry.
        #[arg(long, conflicts_with_all = ["expires_in", "expires_at"])]
        no_expiry: bool,
        /// The key's default webhook URL (`none` removes it).
        #[arg(long)]
        webhook_url: Option<String>,
        #[command(flatten)]
        limits: LimitArgs,
    },
}

/// A limit given on the command line: a number, or `none` for no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit<T>(pub Option<T>);

impl<T: FromStr> FromStr for Limit<T> {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "none" | "off" | "unlimited" => Ok(Limit(None)),
            v => v
                .parse()
                .map(|n| Limit(Some(n)))
                .map_err(|_| format!("{v:?} is not a whole number or `none`")),
        }
    }
}

/// The per-key limits and expiry, as `create` and `update` take them.
#[derive(Args, Debug, Default)]
pub struct LimitArgs {
    /// The key expires this long from now: `90d`, `12h`, `30m`, `45s`.
    #[arg(long, value_parser = parse_span)]
    pub expires_in: Option<Duration>,
    /// The key expires at this instant (RFC 3339: `2027-01-01T00:00:00Z`).
    #[arg(long, conflicts_with = "expires_in")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Most of the key's jobs waiting at once.
    #[arg(long)]
    pub max_waiting: Option<Limit<u32>>,
    /// Most jobs per local day (PACING_TIMEZONE).
    #[arg(long)]
    pub jobs_per_day: Option<Limit<u32>>,
    /// Anlas the key may spend per local day (held and settled).
    #[arg(long)]
    pub anlas_per_day: Option<Limit<u32>>,
    /// The largest image area (width × height) in pixels.
    #[arg(long)]
    pub max_area: Option<Limit<u64>>,
    /// The most n_samples per job.
    #[arg(long)]
    pub max_samples: Option<Limit<u32>>,
    /// The models the key may use (comma-separated ids or aliases: nai-v3,nai-v4.5), or
    /// `none` for every model.
    #[arg(long)]
    pub models: Option<String>,
}

/// `90d`, `12h`, `30m`, `45s`.
fn parse_span(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = number
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{s:?} is not a span such as 90d, 12h, 30m or 45s"))?;
    match unit {
        "d" => Ok(Duration::days(n)),
        "h" => Ok(Duration::hours(n)),
        "m" => Ok(Duration::minutes(n)),
        "s" => Ok(Duration::seconds(n)),
        _ => Err(format!("{s:?} is not a span such as 90d, 12h, 30m or 45s")),
    }
}

pub fn parse_lanes(lanes: &[String]) -> Result<Vec<Lane>> {
    lanes
        .iter()
        .map(|l| match l.trim().parse::<Lane>() {
            Ok(Lane::Test) | Err(_) => {
                bail!("unknown lane {l:?}: use high, normal or low (test lane: --allow-test)")
            }
            Ok(lane) => Ok(lane),
        })
        .collect()
}

fn parse_models(v: &str) -> Result<Option<Vec<String>>> {
    if matches!(v.trim(), "none" | "all") {
        return Ok(None);
    }
    let models = v
        .split(',')
        .map(|m| match resolve_model(m.trim()) {
            Some(model) => Ok(model.id.to_string()),
            None => bail!("unknown model {m:?}"),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(models))
}

impl LimitArgs {
    /// The change these flags ask for, at `now` (for `--expires-in`).
    pub fn change(&self, now: DateTime<Utc>) -> Result<KeyChange> {
        let expires_at = match (self.expires_in, self.expires_at) {
            (Some(span), _) => Some(Some(now + span)),
            (None, Some(t)) if t <= now => bail!("--expires-at {t} is in the past"),
            (None, Some(t)) => Some(Some(t)),
            (None, None) => None,
        };
        Ok(KeyChange {
            expires_at,
            max_waiting: self.max_waiting.map(|l| l.0),
            jobs_per_day: self.jobs_per_day.map(|l| l.0),
            anlas_per_day: self.anlas_per_day.map(|l| l.0),
            max_area: self.max_area.map(|l| l.0),
            max_samples: self.max_samples.map(|l| l.0),
            models: self.models.as_deref().map(parse_models).transpose()?,
            ..KeyChange::default()
        })
    }
}

fn or_none<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// The limits in one line: `max_waiting=3 anlas_per_day=500` (`-` for none).
pub fn limits_line(k: &ApiKeyRecord) -> String {
    let l = &k.limits;
    let mut parts = Vec::new();
    let mut add = |name: &str, v: Option<String>| {
        if let Some(v) = v {
            parts.push(format!("{name}={v}"));
        }
    };
    add("max_waiting", l.max_waiting.map(|v| v.to_string()));
    add("jobs_per_day", l.jobs_per_day.map(|v| v.to_string()));
    add("anlas_per_day", l.anlas_per_day.map(|v| v.to_string()));
    add("max_area", l.max_area.map(|v| v.to_string()));
    add("max_samples", l.max_samples.map(|v| v.to_string()));
    add("models", l.models.as_ref().map(|m| m.join(",")));
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" ")
    }
}

/// One key, every field but the secret and the hash.
pub fn describe(k: &ApiKeyRecord, now: DateTime<Utc>) -> String {
    let lanes: Vec<&str> = k.lanes.iter().map(|l| l.as_str()).collect();
    format!(
        "id: {}\nname: {}\nstate: {}\ncreated_at: {}\nexpires_at: {}\nrevoked_at: {}\n\
         revoked_reason: {}\nlanes: {}\nallow_test: {}\nlimits: {}",
        k.key_id,
        k.name,
        k.state_at(now),
        k.created_at.to_rfc3339(),
        or_none(k.expires_at.map(|t| t.to_rfc3339())),
        or_none(k.revoked_at.map(|t| t.to_rfc3339())),
        or_none(k.revoked_reason.as_deref()),
        lanes.join(","),
        k.allow_test,
        limits_line(k),
    )
}

/// Runs one `naiq keys` command. `issue_webhook_secret` draws, stores and prints a new
/// webhook signing secret for a key id (on `create` and `rotate`).
pub async fn run<F, Fut>(
    admin: KeyAdmin,
    command: KeysCommand,
    issue_webhook_secret: F,
) -> Result<()>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let now = Utc::now();
    let random = || -> [u8; 32] { rand::rng().random() };
    match command {
        KeysCommand::Create {
            name,
            lanes,
            allow_test,
            webhook_url,
            limits,
        } => {
            let mut change = limits.change(now)?;
            change.lanes = Some(parse_lanes(&lanes)?);
            change.allow_test = Some(allow_test);
            change.webhook_url = webhook_url
                .as_deref()
                .map(crate::webhook_secret::check_url)
                .transpose()?
                .map(Some);
            let (key, record) = admin.create(&name, random(), change).await?;
            eprintln!(
                "Created API key {} for {name:?}. It is shown once; store it now.",
                record.key_id
            );
            println!("{}", key.expose());
            issue_webhook_secret(record.key_id.clone()).await?;
        }
        KeysCommand::List => {
            println!(
                "{:<16}  {:<8}  {:<20}  {:<25}  limits",
                "id", "state", "name", "expires_at"
            );
            for k in admin.list().await? {
                println!(
                    "{:<16}  {:<8}  {:<20}  {:<25}  {}",
                    k.key_id,
                    k.state_at(now),
                    k.name,
                    or_none(k.expires_at.map(|t| t.to_rfc3339())),
                    limits_line(&k)
                );
            }
        }
        KeysCommand::Show { id } => println!("{}", describe(&admin.show(&id).await?, now)),
        KeysCommand::Revoke { id, reason } => {
            let done = admin.revoke(&id, &reason).await?;
            println!(
                "Revoked API key {} ({}); cancelled {} waiting job(s).",
                done.key.key_id,
                done.key.name,
                done.cancelled.len()
            );
            for task in done.cancelled {
                println!("  {task}");
            }
        }
        KeysCommand::Rotate { id } => {
            let (key, record) = admin.rotate(&id, random()).await?;
            eprintln!(
                "Rotated API key {}: the old secret no longer works. The new one is shown once.",
                record.key_id
            );
            println!("{}", key.expose());
            issue_webhook_secret(record.key_id.clone()).await?;
        }
        KeysCommand::Update {
            id,
            name,
            lanes,
            allow_test,
            no_expiry,
            webhook_url,
            limits,
        } => {
            let mut change = limits.change(now)?;
            change.webhook_url = match webhook_url.as_deref() {
                None => None,
                Some("none") => Some(None),
                Some(url) => Some(Some(crate::webhook_secret::check_url(url)?)),
            };
            change.name = name;
            change.lanes = lanes.as_deref().map(parse_lanes).transpose()?;
            change.allow_test = allow_test;
            if no_expiry {
                change.expires_at = Some(None);
            }
            let record = admin.update(&id, change).await?;
            println!("{}", describe(&record, now));
        }
    }
    Ok(())
}

/// The admin use cases over the given stores.
pub fn admin(
    ports: naiq_core::admin::KeyPorts,
    pacing: naiq_core::domain::pacing::PacingConfig,
) -> KeyAdmin {
    KeyAdmin::new(ports, Arc::new(naiq_adapters::runtime::SystemClock), pacing)
}

#[cfg(test)]
mod tests;
