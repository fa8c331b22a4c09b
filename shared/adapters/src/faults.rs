//! A test-only fault layer for the AWS adapters, off unless `NAIQ_FAULTS` is set: each call
//! to DynamoDB, SQS, S3 or Secrets Manager fails at random with a chosen probability, the
//! way a throttled or timed-out SDK call fails (a [`PortError::Backend`] naming the
//! service), so the chaos run (`localstack/chaos.sh`) can check that naiq keeps its
//! promises when its backends misbehave.
//!
//! `NAIQ_FAULTS=dynamodb=0.05,sqs=0.05,s3=0.05,secrets=0,timeout_ms=800,seed=7,until=1764640000,scope=worker`
//! - `dynamodb`, `sqs`, `s3`, `secrets`: the probability (0–1) that one call fails;
//! - an injected fault is a throttle (refused at once, the call never made) or a timeout
//!   (`timeout_ms` of waiting, 0–60000, default 1000), with even odds; half the timeouts
//!   lose the answer of a call that was made (a write that happened but reads as failed);
//! - `seed`: the draws' seed (mixed with the function's name), default 0;
//! - `until`: unix seconds after which nothing more is injected (the run's calm end);
//! - `scope`: `worker`, `api` or `all` (the default): which functions inject.
//!
//! It refuses to start (a [`ConfigError`] naming `NAIQ_FAULTS`) unless `AWS_ENDPOINT_URL`
//! points at a loopback emulator: it can never be on against AWS. Each fault injected is
//! logged at WARN with `injected_fault`, the service, the operation and the kind.
//!
//! [`PortError::Backend`]: naiq_core::ports::PortError::Backend

mod ports;

use std::sync::Mutex;
use std::time::Duration;

use naiq_core::config::ConfigError;
use naiq_core::ports::PortError;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use ports::Faulty;

/// The variable that turns the layer on.
pub const VARIABLE: &str = "NAIQ_FAULTS";
/// The longest injected timeout.
pub const MAX_TIMEOUT_MS: u64 = 60_000;

/// A backend the layer can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    DynamoDb,
    Sqs,
    S3,
    Secrets,
}

impl Service {
    /// The name the AWS adapters give the service in [`PortError::Backend`].
    pub fn name(self) -> &'static str {
        match self {
            Service::DynamoDb => "DynamoDB",
            Service::Sqs => "SQS",
            Service::S3 => "S3",
            Service::Secrets => "Secrets Manager",
        }
    }
}

/// Which function the ports are for (a plan's `scope` picks which inject).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Api,
    Worker,
}

/// What `NAIQ_FAULTS` asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    pub dynamodb: f64,
    pub sqs: f64,
    pub s3: f64,
    pub secrets: f64,
    pub timeout_ms: u64,
    pub seed: u64,
    /// Unix seconds after which nothing is injected.
    pub until: Option<i64>,
    /// `None`: both functions.
    pub scope: Option<Function>,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            dynamodb: 0.0,
            sqs: 0.0,
            s3: 0.0,
            secrets: 0.0,
            timeout_ms: 1000,
            seed: 0,
            until: None,
            scope: None,
        }
    }
}

fn refused(message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: VARIABLE,
        message: message.into(),
    }
}

/// Whether an endpoint URL is an emulator on this machine (`http://127.0.0.1:…`,
/// `http://localhost:…`, `http://[::1]:…`).
pub fn is_loopback_endpoint(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl FaultPlan {
    /// The plan from `NAIQ_FAULTS`: none when it is unset or empty; an error naming the
    /// variable when it is malformed, or set while `AWS_ENDPOINT_URL` is not a loopback
    /// emulator.
    pub fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(spec) = lookup(VARIABLE).filter(|s| !s.trim().is_empty()) else {
            return Ok(None);
        };
        let endpoint = lookup("AWS_ENDPOINT_URL").unwrap_or_default();
        if !is_loopback_endpoint(&endpoint) {
            return Err(refused(
                "is test-only: it needs AWS_ENDPOINT_URL on a loopback emulator (http://127.0.0.1:…)",
            ));
        }
        Self::parse(&spec).map(Some).map_err(refused)
    }

    /// Parses `key=value,…` (see the module's documentation).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut plan = FaultPlan::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, got {part:?}"))?;
            let (key, value) = (key.trim(), value.trim());
            let probability = || -> Result<f64, String> {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=1.0).contains(p))
                    .ok_or_else(|| {
                        format!("{key} must be a probability from 0 to 1, got {value:?}")
                    })
            };
            let whole = || -> Result<u64, String> {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("{key} must be a whole number, got {value:?}"))
            };
            match key {
                "dynamodb" => plan.dynamodb = probability()?,
                "sqs" => plan.sqs = probability()?,
                "s3" => plan.s3 = probability()?,
                "secrets" => plan.secrets = probability()?,
                "timeout_ms" => {
                    plan.timeout_ms = whole()?;
                    if plan.timeout_ms > MAX_TIMEOUT_MS {
                        return Err(format!("timeout_ms must be at most {MAX_TIMEOUT_MS}"));
                    }
                }
                "seed" => plan.seed = whole()?,
                "until" => {
                    plan.until = Some(
                        i64::try_from(whole()?).map_err(|_| "until is too large".to_string())?,
                    )
                }
                "scope" => {
                    plan.scope = match value {
                        "all" => None,
                        "api" => Some(Function::Api),
                        "worker" => Some(Function::Worker),
                        _ => {
                            return Err(format!("scope must be worker, api or all, got {value:?}"));
                        }
                    }
                }
                _ => {
                    return Err(format!(
                        "unknown key {key:?} (dynamodb, sqs, s3, secrets, timeout_ms, seed, until, scope)"
                    ));
                }
            }
        }
        Ok(plan)
    }

    fn probability(&self, service: Service) -> f64 {
        match service {
            Service::DynamoDb => self.dynamodb,
            Service::Sqs => self.sqs,
            Service::S3 => self.s3,
            Service::Secrets => self.secrets,
        }
    }
}

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// Refused at once; the call is not made.
    Throttle,
    /// The wait, then an error; the call is not made.
    TimeoutBefore,
    /// The call is made, then the wait, then an error instead of its answer.
    TimeoutAfter,
}

impl Injected {
    pub fn name(self) -> &'static str {
        match self {
            Injected::Throttle => "throttle",
            Injected::TimeoutBefore => "timeout",
            Injected::TimeoutAfter => "timeout_after_call",
        }
    }

    /// The error the caller sees: what the AWS adapters make of a throttled or timed-out
    /// SDK call.
    pub fn error(self, service: Service, timeout_ms: u64) -> PortError {
        let message = match self {
            Injected::Throttle => {
                "service error: ThrottlingException: Rate exceeded (injected by NAIQ_FAULTS)"
                    .to_string()
            }
            Injected::TimeoutBefore | Injected::TimeoutAfter => format!(
                "dispatch failure: timeout: the operation did not complete within {timeout_ms} ms (injected by NAIQ_FAULTS)"
            ),
        };
        PortError::Backend {
            service: service.name(),
            message,
        }
    }
}

/// Draws the faults of one function's ports from a seeded RNG.
pub struct Injector {
    plan: FaultPlan,
    rng: Mutex<ChaCha8Rng>,
}

impl Injector {
    /// The injector of `function` under `plan`; none when the plan's scope leaves it out.
    pub fn new(plan: &FaultPlan, function: Function) -> Option<Self> {
        if plan.scope.is_some_and(|s| s != function) {
            return None;
        }
        let salt = match function {
            Function::Api => 0x6170_6900,
            Function::Worker => 0x776f_726b,
        };
        Some(Self {
            plan: plan.clone(),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(plan.seed ^ salt)),
        })
    }

    /// The fault for the next call to `service` at `now_unix` (seconds), if any.
    pub fn draw(&self, service: Service, now_unix: i64) -> Option<Injected> {
        let p = self.plan.probability(service);
        if p <= 0.0 || self.plan.until.is_some_and(|until| now_unix >= until) {
            return None;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        if rng.random::<f64>() >= p {
            return None;
        }
        Some(match rng.random_range(0..4u8) {
            0 | 1 => Injected::Throttle,
            2 => Injected::TimeoutBefore,
            _ => Injected::TimeoutAfter,
        })
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.plan.timeout_ms)
    }

    pub fn timeout_ms(&self) -> u64 {
        self.plan.timeout_ms
    }
}

#[cfg(test)]
mod tests;
