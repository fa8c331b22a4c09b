//! Samplers and noise schedules per family (NovelAI's documented enumerations).

use super::models::{Family, Model};

/// Every sampler name NovelAI knows. V3 names DDIM `ddim_v3`, older models `ddim`.
pub const SAMPLERS: &[&str] = &[
    "k_euler",
    "k_euler_ancestral",
    "k_dpmpp_2s_ancestral",
    "k_dpmpp_2m",
    "k_dpmpp_2m_sde",
    "k_dpmpp_sde",
    "k_dpm_2",
    "k_dpm_2_ancestral",
    "k_lms",
    "k_dpm_fast",
    "k_dpm_adaptive",
    "k_dpmpp_3m_sde",
    "ddim",
    "ddim_v3",
    "plms",
];

/// The website's SMEA shorthands: `k_euler_ancestral` with `sm` (and `sm_dyn`). SMEA is a
/// V3 feature, so these are V3's only.
pub const SMEA_SAMPLERS: &[&str] = &["nai_smea", "nai_smea_dyn"];

/// The samplers V4, V4.5 and V5 offer. `ddim` sent to them is rewritten to
/// `k_euler_ancestral`, not refused.
pub const V4_SAMPLERS: &[&str] = &[
    "k_euler_ancestral",
    "k_euler",
    "k_dpmpp_2s_ancestral",
    "k_dpmpp_2m_sde",
    "k_dpmpp_2m",
    "k_dpmpp_sde",
];

/// The one sampler of V5 Full at Medium effort.
pub const MEDIUM_SAMPLERS: &[&str] = &["k_euler_ancestral"];

pub const NOISE_SCHEDULES: &[&str] = &["native", "karras", "exponential", "polyexponential"];

/// What `k_dpm_2` runs with: it takes only these two schedules.
pub const DPM_2_SCHEDULES: &[&str] = &["exponential", "polyexponential"];

/// The sampler a model runs for the name a body gives: the name itself, or
/// `k_euler_ancestral` for `ddim` on V4 and later. `Err` names why the sampler is refused.
pub fn sampler_for(model: &Model, name: &str) -> Result<&'static str, String> {
    let offered: &[&str] = match model.family {
        _ if model.medium => MEDIUM_SAMPLERS,
        Family::V4 | Family::V45 | Family::V5 => V4_SAMPLERS,
        Family::V3 | Family::Legacy => SAMPLERS,
    };
    // Legacy models name DDIM `ddim`; `ddim_v3` is V3's.
    let legacy_ddim_v3 = model.family == Family::Legacy && name == "ddim_v3";
    if let Some(known) = offered.iter().find(|s| **s == name)
        && !legacy_ddim_v3
    {
        return Ok(known);
    }
    if model.family.has_v4_prompt() && name == "ddim" {
        return Ok("k_euler_ancestral");
    }
    if model.family == Family::V3
        && let Some(smea) = SMEA_SAMPLERS.iter().find(|s| **s == name)
    {
        return Ok(smea);
    }
    if SAMPLERS.contains(&name) || SMEA_SAMPLERS.contains(&name) {
        Err(format!("sampler {name} is not available for {}", model.id))
    } else {
        Err(format!("unknown sampler {name:?}"))
    }
}

/// Whether a model takes this noise schedule with this (effective) sampler: V4 and later
/// dropped `native`; `k_dpm_2` takes only exponential and polyexponential.
pub fn schedule_allowed(family: Family, sampler: &str, schedule: &str) -> bool {
    if sampler == "k_dpm_2" {
        return DPM_2_SCHEDULES.contains(&schedule);
    }
    NOISE_SCHEDULES.contains(&schedule) && !(family.has_v4_prompt() && schedule == "native")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::models::find;

    fn on(id: &str, sampler: &str) -> Result<&'static str, String> {
        sampler_for(find(id).unwrap(), sampler)
    }

    #[test]
    fn v3_has_everything_with_ddim_v3_and_smea() {
        for s in SAMPLERS.iter().chain(SMEA_SAMPLERS) {
            assert_eq!(on("nai-diffusion-3", s).as_deref(), Ok(*s));
        }
    }

    #[test]
    fn legacy_models_have_ddim_but_not_ddim_v3_or_smea() {
        assert_eq!(on("nai-diffusion-2", "ddim"), Ok("ddim"));
        assert_eq!(on("nai-diffusion-2", "plms"), Ok("plms"));
        assert_eq!(on("nai-diffusion", "k_lms"), Ok("k_lms"));
        for s in ["ddim_v3", "nai_smea", "nai_smea_dyn"] {
            assert!(on("nai-diffusion-2", s).is_err(), "{s}");
        }
    }

    #[test]
    fn v4_and_later_have_six_samplers_and_rewrite_ddim() {
        for id in [
            "nai-diffusion-4-full",
            "nai-diffusion-4-5-curated-inpainting",
            "nai-diffusion-5-full",
        ] {
            for s in V4_SAMPLERS {
                assert_eq!(on(id, s).as_deref(), Ok(*s), "{id}");
            }
            assert_eq!(on(id, "ddim"), Ok("k_euler_ancestral"), "{id}");
            for s in [
                "ddim_v3",
                "k_lms",
                "k_dpm_2",
                "plms",
                "nai_smea",
                "k_dpmpp_3m_sde",
            ] {
                assert!(on(id, s).unwrap_err().contains("not available"), "{id} {s}");
            }
            assert!(on(id, "k_magic").unwrap_err().contains("unknown"));
        }
    }

    #[test]
    fn medium_runs_euler_ancestral_only() {
        for id in [
            "nai-diffusion-5-full-medium",
            "nai-diffusion-5-full-medium-inpainting",
        ] {
            assert_eq!(on(id, "k_euler_ancestral"), Ok("k_euler_ancestral"));
            assert_eq!(on(id, "ddim"), Ok("k_euler_ancestral"));
            assert!(on(id, "k_euler").is_err());
        }
    }

    #[test]
    fn schedules_per_family_and_sampler() {
        assert!(schedule_allowed(Family::V3, "k_euler", "native"));
        assert!(!schedule_allowed(Family::V45, "k_euler", "native"));
        assert!(!schedule_allowed(Family::V5, "k_euler", "native"));
        assert!(schedule_allowed(Family::V5, "k_euler", "karras"));
        assert!(!schedule_allowed(Family::V3, "k_dpm_2", "karras"));
        assert!(!schedule_allowed(Family::V3, "k_dpm_2", "native"));
        assert!(schedule_allowed(Family::V3, "k_dpm_2", "polyexponential"));
        assert!(!schedule_allowed(Family::V3, "k_euler", "linear"));
    }
}
