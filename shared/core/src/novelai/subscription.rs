//! The account's subscription as NovelAI describes it (`GET /user/subscription`): tier,
//! Anlas balance and perks, read from its JSON.

use serde_json::Value;

use crate::domain::account::V5Usage;

/// The account's subscription, from `GET /user/subscription`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// 0 Paper, 1 Tablet, 2 Scroll, 3 Opus.
    pub tier: u8,
    pub tier_name: &'static str,
    pub active: bool,
    /// Anlas balance: `fixedTrainingStepsLeft + purchasedTrainingSteps`.
    pub anlas: u64,
    /// When the subscription ends (unix seconds); `None` when NovelAI sends none (or 0).
    pub expires_at: Option<i64>,
    /// The V5 usage limit (`usage`), which NovelAI sends for active Opus accounts only.
    pub v5_usage: Option<V5Usage>,
}

/// The name NovelAI gives a tier.
pub fn tier_name(tier: u8) -> &'static str {
    match tier {
        0 => "Paper",
        1 => "Tablet",
        2 => "Scroll",
        3 => "Opus",
        _ => "Unknown",
    }
}

impl Subscription {
    /// Reads the JSON of `GET /user/subscription`.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let tier = v
            .get("tier")
            .and_then(Value::as_u64)
            .ok_or("no numeric tier")?;
        let tier = u8::try_from(tier).map_err(|_| format!("tier {tier} out of range"))?;
        let steps = v.get("trainingStepsLeft");
        let count = |name: &str| {
            steps
                .and_then(|s| s.get(name))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        let v5_usage = match v.get("usage") {
            None | Some(Value::Null) => None,
            Some(u) => Some(V5Usage {
                percent: u
                    .get("percent")
                    .and_then(Value::as_i64)
                    .ok_or("usage has no numeric percent")?,
                is_negative: u
                    .get("isNegative")
                    .and_then(Value::as_bool)
                    .ok_or("usage has no isNegative")?,
                seconds_to_next_percent: u
                    .get("timeUntilNextPercent")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
            }),
        };
        Ok(Subscription {
            tier,
            tier_name: tier_name(tier),
            active: v.get("active").and_then(Value::as_bool).unwrap_or(false),
            anlas: count("fixedTrainingStepsLeft").saturating_add(count("purchasedTrainingSteps")),
            expires_at: v
                .get("expiresAt")
                .and_then(Value::as_i64)
                .filter(|&t| t > 0),
            v5_usage,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn opus_json() -> Value {
        json!({
            "tier": 3, "active": true, "expiresAt": 1_800_000_000,
            "perks": {"maxPriorityActions": 1000, "startPriority": 10, "moduleTrainingSteps": 10000,
                      "unlimitedMaxPriority": true, "contextTokens": 8192},
            "isGracePeriod": false, "isPaypal": false,
            "usage": {"percent": 100, "isNegative": false, "timeUntilNextPercent": 7888},
            "paymentProcessorData": null,
            "trainingStepsLeft": {"fixedTrainingStepsLeft": 9000, "purchasedTrainingSteps": 1500},
            "accountType": 0
        })
    }

    #[test]
    fn subscription_json_is_read() {
        let s = Subscription::from_json(&opus_json()).unwrap();
        assert_eq!(
            s,
            Subscription {
                tier: 3,
                tier_name: "Opus",
                active: true,
                anlas: 10_500,
                expires_at: Some(1_800_000_000),
                v5_usage: Some(V5Usage {
                    percent: 100,
                    is_negative: false,
                    seconds_to_next_percent: 7888,
                }),
            }
        );
        let paper = Subscription::from_json(&json!({"tier": 0, "active": false, "expiresAt": 0,
            "perks": {"unlimitedImageGeneration": false},
            "trainingStepsLeft": {"fixedTrainingStepsLeft": 0, "purchasedTrainingSteps": 0}}))
        .unwrap();
        assert_eq!(
            (paper.tier_name, paper.active, paper.anlas, paper.expires_at),
            ("Paper", false, 0, None)
        );
        assert_eq!(tier_name(1), "Tablet");
        assert_eq!(tier_name(2), "Scroll");
        assert!(Subscription::from_json(&json!({"active": true})).is_err());
        assert_eq!(
            paper.v5_usage, None,
            "only active Opus accounts have a usage limit"
        );
        let spent = Subscription::from_json(&json!({"tier": 3, "active": true,
            "usage": {"percent": -2, "isNegative": true, "timeUntilNextPercent": 0}}))
        .unwrap();
        assert_eq!(
            spent.v5_usage.map(|u| (u.percent, u.is_negative)),
            Some((-2, true))
        );
        assert!(
            Subscription::from_json(&json!({"tier": 3, "usage": {"percent": 5}})).is_err(),
            "a usage object without isNegative is unreadable"
        );
    }
}
