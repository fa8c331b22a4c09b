//! `GET /user/subscription`: the token's account, shaped as NovelAI answers it today:
//!
//! `{tier, active, expiresAt, perks: {maxPriorityActions, startPriority, contextTokens,
//! unlimitedMaxPriority, moduleTrainingSteps}, paymentProcessorData, trainingStepsLeft:
//! {fixedTrainingStepsLeft, purchasedTrainingSteps}, accountType, isGracePeriod, isPaypal}`,
//! plus `usage: {percent, isNegative, timeUntilNextPercent}` for an active Opus (see
//! [`crate::billing::usage`]).
//!
//! The Anlas balance is `fixedTrainingStepsLeft + purchasedTrainingSteps` and goes down
//! as generations are charged (see [`crate::billing`]). Since 2026 NovelAI no longer
//! sends `perks.imageGeneration`, `perks.unlimitedImageGeneration` or
//! `perks.unlimitedImageGenerationLimits`: Opus's free generations follow from the tier,
//! `active` and the usage gauge.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::accounts::Plan;
use crate::answer::{bearer, unauthorized};
use crate::billing::balance::monthly_allowance;
use crate::server::FakeState;

pub const PATH: &str = "/user/subscription";

pub async fn handler(State(state): State<FakeState>, headers: HeaderMap) -> Response {
    let entry = state.log().start("GET", PATH, Value::Null).await;
    let response = match bearer(&headers).and_then(|t| state.accounts().by_token(t)) {
        None => unauthorized(),
        Some(account) => {
            let plan = state.accounts().plan(account);
            axum::Json(subscription_json(plan, state.expires_at())).into_response()
        }
    };
    state.log().finish(entry, response.status().as_u16()).await;
    response
}

/// The subscription JSON of a plan; a paid plan ends at `expires_at` (unix seconds).
pub fn subscription_json(plan: Plan, expires_at: i64) -> Value {
    let paid = plan.active();
    let mut v = json!({
        "tier": plan.tier,
        "active": paid,
        "expiresAt": if paid { expires_at } else { 0 },
        "perks": {
            "maxPriorityActions": if paid { 1000 } else { 0 },
            "startPriority": if paid { 10 } else { 1 },
            "contextTokens": if plan.tier >= 2 { 8192 } else { 4096 },
            "unlimitedMaxPriority": plan.tier == 3,
            "moduleTrainingSteps": monthly_allowance(plan.tier),
        },
        "paymentProcessorData": null,
        "trainingStepsLeft": {
            "fixedTrainingStepsLeft": plan.balance.fixed,
            "purchasedTrainingSteps": plan.balance.purchased,
        },
        "accountType": 0,
        "isGracePeriod": false,
        "isPaypal": false,
    });
    if paid && let Some(usage) = plan.usage {
        v["usage"] = json!(usage);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::{Balance, UsageStatus};

    fn plan(tier: u8, anlas: u64) -> Plan {
        Plan {
            tier,
            balance: Balance::of_total(tier, anlas),
            usage: (tier == 3).then_some(UsageStatus {
                percent: 100,
                is_negative: false,
                time_until_next_percent: 0,
            }),
        }
    }

    #[test]
    fn anlas_split_into_fixed_and_purchased() {
        let v = subscription_json(plan(2, 1500), 99);
        assert_eq!(v["trainingStepsLeft"]["fixedTrainingStepsLeft"], 1000);
        assert_eq!(v["trainingStepsLeft"]["purchasedTrainingSteps"], 500);
        assert_eq!(
            (v["active"].as_bool(), v["expiresAt"].as_i64()),
            (Some(true), Some(99))
        );
        assert!(v.get("usage").is_none(), "usage is an Opus gauge");
        let paper = subscription_json(plan(0, 0), 99);
        assert_eq!(
            (paper["active"].as_bool(), paper["expiresAt"].as_i64()),
            (Some(false), Some(0))
        );
    }

    #[test]
    fn opus_has_the_usage_gauge_and_no_image_generation_perks() {
        let v = subscription_json(plan(3, 10_000), 99);
        assert_eq!(
            v["usage"],
            json!({"percent": 100, "isNegative": false, "timeUntilNextPercent": 0})
        );
        assert_eq!(v["perks"]["unlimitedMaxPriority"], true);
        for gone in [
            "imageGeneration",
            "unlimitedImageGeneration",
            "unlimitedImageGenerationLimits",
        ] {
            assert!(v["perks"].get(gone).is_none(), "{gone}");
        }
    }
}
