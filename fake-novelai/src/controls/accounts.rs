//! `GET /_fake/accounts` and `PUT /_fake/accounts`: the accounts' tiers, Anlas and usage
//! gauges, for tests to read and set. Never a secret: tokens show as a masked prefix,
//! passwords and access keys not at all.
//!
//! `GET` answers `[{account, tokens, email, logins, tier, active, anlas, fixed_anlas,
//! purchased_anlas, usage, usage_exact_percent}]`: account 0 is the configured tokens'
//! (`tokens` their masked prefixes, `email` null), then the login accounts in the order
//! configured (`logins`: the tokens handed out for it); `usage` is
//! `{percent, isNegative, timeUntilNextPercent}` as `/user/subscription` shows it, or null
//! below Opus.
//!
//! `PUT` sets, for one account or all of them, and answers the `GET` listing:
//!
//! ```json
//! {"usage_percent": -1}
//! {"token": "pst-fake-token", "usage_percent": 0.1, "anlas": 26}
//! {"email": "test@example.com", "fixed_anlas": 0, "purchased_anlas": 30}
//! {"account": 1, "anlas": 0}
//! ```
//!
//! The account is chosen by at most one of `token` (a configured or logged-in token),
//! `email` (a login account's) or `account` (its number); without one, every account
//! (for `usage_percent`, every Opus account). `usage_percent` sets the gauge (any number;
//! ≤ 0 is exhausted); `anlas` sets the balance, up to the tier's monthly allowance as
//! fixed and the rest as purchased; `fixed_anlas` / `purchased_anlas` set one part
//! each. 404 for an account that does not exist; 400 for anything else amiss (unknown
//! fields too, so a typo does not pass silently), with nothing changed.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::accounts::AccountId;
use crate::answer::error;
use crate::billing::Balance;
use crate::server::FakeState;

/// The fields `PUT` takes.
const FIELDS: &[&str] = &[
    "token",
    "email",
    "account",
    "usage_percent",
    "anlas",
    "fixed_anlas",
    "purchased_anlas",
];

pub const USAGE: &str = "expected {\"usage_percent\": P, \"anlas\": N, \"fixed_anlas\": N, \
    \"purchased_anlas\": N} (at least one; anlas or the two parts), optionally for one \
    \"token\", \"email\" or \"account\"";

pub async fn list(State(state): State<FakeState>) -> Response {
    axum::Json(state.accounts().views()).into_response()
}

/// What a `PUT` asks.
struct Change {
    /// `None`: every account.
    only: Option<AccountId>,
    usage_percent: Option<f64>,
    anlas: Option<u64>,
    fixed: Option<u64>,
    purchased: Option<u64>,
}

/// An optional field of a type; `Err` when present with another.
fn field<T>(
    o: &Map<String, Value>,
    name: &str,
    read: impl Fn(&Value) -> Option<T>,
) -> Result<Option<T>, ()> {
    o.get(name).map(|v| read(v).ok_or(())).transpose()
}

/// Why a `PUT` is refused: its status and message.
type Refused = (StatusCode, String);

fn parse(state: &FakeState, body: &[u8]) -> Result<Change, Refused> {
    let bad = || (StatusCode::BAD_REQUEST, USAGE.to_string());
    let v: Value = serde_json::from_slice(body).map_err(|_| bad())?;
    let o = v.as_object().ok_or_else(bad)?;
    if o.keys().any(|k| !FIELDS.contains(&k.as_str())) {
        return Err(bad());
    }
    let token = field(o, "token", |v| v.as_str().map(str::to_string)).map_err(|()| bad())?;
    let email = field(o, "email", |v| v.as_str().map(str::to_string)).map_err(|()| bad())?;
    let index = field(o, "account", Value::as_u64).map_err(|()| bad())?;
    let usage_percent =
        field(o, "usage_percent", |v| v.as_f64().filter(|p| p.is_finite())).map_err(|()| bad())?;
    let anlas = field(o, "anlas", Value::as_u64).map_err(|()| bad())?;
    let fixed = field(o, "fixed_anlas", Value::as_u64).map_err(|()| bad())?;
    let purchased = field(o, "purchased_anlas", Value::as_u64).map_err(|()| bad())?;
    let selectors = [token.is_some(), email.is_some(), index.is_some()];
    let nothing =
        usage_percent.is_none() && anlas.is_none() && fixed.is_none() && purchased.is_none();
    let both = anlas.is_some() && (fixed.is_some() || purchased.is_some());
    if selectors.iter().filter(|s| **s).count() > 1 || nothing || both {
        return Err(bad());
    }
    let accounts = state.accounts();
    let only = match (token, email, index) {
        (Some(t), _, _) => Some(accounts.by_token(&t)),
        (_, Some(e), _) => Some(accounts.by_email(&e)),
        (_, _, Some(i)) => Some(usize::try_from(i).ok().and_then(|i| accounts.by_index(i))),
        _ => None,
    };
    let only = match only {
        Some(None) => return Err((StatusCode::NOT_FOUND, "no such account".into())),
        Some(Some(id)) => Some(id),
        None => None,
    };
    if let (Some(id), Some(_)) = (only, usage_percent)
        && accounts.plan(id).usage.is_none()
    {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("account {} is not Opus: it has no usage gauge", id.index()),
        ));
    }
    Ok(Change {
        only,
        usage_percent,
        anlas,
        fixed,
        purchased,
    })
}

pub async fn update(State(state): State<FakeState>, body: Bytes) -> Response {
    let change = match parse(&state, &body) {
        Ok(change) => change,
        Err((status, message)) => return error(status, &message),
    };
    let accounts = state.accounts();
    let ids = change.only.map_or_else(|| accounts.all(), |id| vec![id]);
    for id in ids {
        if let Some(percent) = change.usage_percent {
            // Below Opus there is no gauge: "every account" means every Opus one.
            accounts.set_usage(id, percent);
        }
        if change.anlas.is_none() && change.fixed.is_none() && change.purchased.is_none() {
            continue;
        }
        let old = accounts.plan(id).balance;
        let balance = match change.anlas {
            Some(total) => Balance::of_total(accounts.tier(id), total),
            None => Balance {
                fixed: change.fixed.unwrap_or(old.fixed),
                purchased: change.purchased.unwrap_or(old.purchased),
            },
        };
        accounts.set_balance(id, balance);
    }
    axum::Json(accounts.views()).into_response()
}
