//! Per-key limits: what one key may ask of the shared NovelAI account. Each is optional
//! (none: only the server-wide bounds apply). The request-shape limits (models, image
//! area, `n_samples`) are checked here, purely; the counting ones (waiting jobs, jobs and
//! Anlas per day) need the stores and are checked by the API's submit (`api::limits`).

use serde::{Deserialize, Serialize};

use crate::domain::GenerationParams;
use crate::domain::models;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLimits {
    /// Most of the key's jobs waiting (`PENDING` or `RETRY`) at once.
    #[serde(default)]
    pub max_waiting: Option<u32>,
    /// Most jobs the key may submit per local day (pacing timezone).
    #[serde(default)]
    pub jobs_per_day: Option<u32>,
    /// The NovelAI model ids the key may use (full ids); none: every model.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// The largest `width * height` the key may ask for.
    #[serde(default)]
    pub max_area: Option<u64>,
    /// The most `n_samples` per job.
    #[serde(default)]
    pub max_samples: Option<u32>,
    /// Anlas the key may spend (held and settled) per local day.
    #[serde(default)]
    pub anlas_per_day: Option<u32>,
}

/// A request the key's limits refuse: the machine code, the field and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitRefusal {
    pub code: &'static str,
    pub field: &'static str,
    pub message: String,
}

impl KeyLimits {
    /// Checks the shape of a job against the key's limits.
    pub fn check_params(&self, params: &GenerationParams) -> Result<(), LimitRefusal> {
        // The allowed models are generation models; a Director tool or an upscale names
        // none the key chose, and is bounded by the area (its source's) and the budget.
        if let Some(allowed) = self.models.as_ref().filter(|_| params.kind.is_generate()) {
            let id = models::resolve_model(&params.model).map_or(params.model.as_str(), |m| m.id);
            if !allowed.iter().any(|m| m == id || m == &params.model) {
                return Err(LimitRefusal {
                    code: "model_not_allowed",
                    field: "model",
                    message: format!(
                        "this API key may not use model {id} (allowed: {})",
                        allowed.join(", ")
                    ),
                });
            }
        }
        let area = u64::from(params.width) * u64::from(params.height);
        if let Some(max) = self.max_area
            && area > max
        {
            return Err(LimitRefusal {
                code: "area_not_allowed",
                // A Director tool's or an upscale's size is its image's.
                field: if params.kind.is_generate() {
                    "width"
                } else {
                    "image"
                },
                message: format!(
                    "{}x{} is {area} pixels; this API key may ask for at most {max}",
                    params.width, params.height
                ),
            });
        }
        // The images of a Director tool are the tool's, not asked for.
        if let Some(max) = self.max_samples
            && params.kind.is_generate()
            && params.n_samples > max
        {
            return Err(LimitRefusal {
                code: "n_samples_not_allowed",
                field: "n_samples",
                message: format!(
                    "n_samples {} is more than this API key's {max}",
                    params.n_samples
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::{Limits, parse_submit};

    fn params(body: &str) -> GenerationParams {
        parse_submit(body.as_bytes(), &Limits::default())
            .unwrap()
            .params
    }

    #[test]
    fn each_shape_limit_refuses_only_past_its_bound() {
        let p = params(
            r#"{"prompt": "x", "model": "nai-v3", "width": 512, "height": 512, "n_samples": 2}"#,
        );
        assert_eq!(KeyLimits::default().check_params(&p), Ok(()));
        let models = KeyLimits {
            models: Some(vec!["nai-diffusion-3".into()]),
            ..Default::default()
        };
        assert_eq!(models.check_params(&p), Ok(()));
        let other = KeyLimits {
            models: Some(vec!["nai-diffusion-4-5-full".into()]),
            ..Default::default()
        };
        assert_eq!(other.check_params(&p).unwrap_err().field, "model");
        let area = |max| KeyLimits {
            max_area: Some(max),
            ..Default::default()
        };
        assert_eq!(area(512 * 512).check_params(&p), Ok(()));
        assert_eq!(
            area(512 * 512 - 1).check_params(&p).unwrap_err().code,
            "area_not_allowed"
        );
        let samples = |max| KeyLimits {
            max_samples: Some(max),
            ..Default::default()
        };
        assert_eq!(samples(2).check_params(&p), Ok(()));
        assert_eq!(samples(1).check_params(&p).unwrap_err().field, "n_samples");
    }
}
