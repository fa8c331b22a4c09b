//! The account's subscription as NovelAI describes it (`GET /user/subscription`): tier,
//! Anlas balance and perks, read from its JSON.

use serde_json::Value;

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
    /// Opus's free generations (`perks.unlimitedImageGeneration`).
    pub unlimited_image_generation: bool,
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
        Ok(Subscription {
            tier,
            tier_name: tier_name(tier),
            active: v.get("active").and_then(Value::as_bool).unwrap_or(false),
            anlas: count("fixedTrainingStepsLeft").saturating_add(count("purchasedTrainingSteps")),
            expires_at: v
                .get("expiresAt")
                .and_then(Value::as_i64)
                .filter(|&t| t > 0),
            unlimited_image_generation: v
                .pointer("/perks/unlimitedImageGeneration")
                .and_then(Value::as_bool)
                .unwrap_or(false),
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
                      "unlimitedMaxPriority": true, "voiceGeneration": true, "imageGeneration": true,
                      "unlimitedImageGeneration": true,
                      "unlimitedImageGenerationLimits": [{"resolution": 4194304, "maxPrompts": 0},
                                                          {"resolution": 1048576, "maxPrompts": 1}],
                      "contextTokens": 8192},
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
                unlimited_image_generation: true,
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
    }
}
