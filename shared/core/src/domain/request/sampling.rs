//! The model and how it samples: steps, guidance scale, CFG rescale, the sampler (with
//! V3's SMEA variants), the noise schedule, each checked against the model's family.

use super::fields::Fields;
use super::{ValidationError, Warning};
use crate::domain::models::{self, Family, Model};

/// The validated sampling settings of a request.
pub(super) struct Sampling {
    pub model: &'static Model,
    pub steps: u32,
    pub scale: f64,
    pub cfg_rescale: f64,
    pub sampler: &'static str,
    pub noise_schedule: String,
    pub sm: bool,
    pub sm_dyn: bool,
}

pub(super) fn sampling(
    f: &Fields<'_>,
    warnings: &mut Vec<Warning>,
) -> Result<Sampling, ValidationError> {
    let model = match f.string("model")? {
        None => models::resolve_model(models::DEFAULT_MODEL).expect("default model is known"),
        Some(name) => models::resolve_model(name).ok_or_else(|| {
            ValidationError::invalid(
                "model",
                format!("unknown model {name:?}; use a NovelAI model id or an alias such as nai-v3, nai-v4, nai-v4.5"),
            )
        })?,
    };
    let family = model.family;
    let defaults = family.defaults();

    let steps = f
        .integer("steps", 1, 50)?
        .map_or(defaults.steps, |n| n as u32);
    // The seed service passed any scale on; the website's range is 0-10.
    let scale = f
        .number_in_range("scale", 0.0, 10.0, warnings)?
        .unwrap_or(defaults.scale);
    let cfg_rescale = f.number("cfg_rescale", 0.0, 1.0)?.unwrap_or(0.0);

    // Per family: V3 names DDIM ddim_v3, V4+ has none, nai_smea(_dyn) is V3's
    // k_euler_ancestral with SMEA.
    let choice = match f.string("sampler")? {
        None => models::SamplerChoice {
            sampler: defaults.sampler,
            sm: false,
            sm_dyn: false,
        },
        Some(s) => models::resolve_sampler(family, s).map_err(|message| {
            ValidationError::invalid("sampler", format!("{message} (model {})", model.id))
        })?,
    };
    let sampler = choice.sampler;
    if model.medium {
        medium_rules(model, steps, sampler, cfg_rescale, f)?;
    }
    let steps = if model.medium {
        models::MEDIUM_STEPS
    } else {
        steps
    };
    let noise_schedule = match f.string("noise_schedule")? {
        None => family.default_noise_schedule(sampler).to_string(),
        Some(s) => {
            let s = s.trim().to_ascii_lowercase();
            let allowed = family.noise_schedules(sampler);
            if !allowed.contains(&s.as_str()) {
                return Err(ValidationError::invalid(
                    "noise_schedule",
                    format!(
                        "noise_schedule {s:?} is not available for {} with {sampler}; one of {}",
                        model.id,
                        allowed.join(", ")
                    ),
                ));
            }
            s
        }
    };

    let sm_given = f.boolean("sm")?;
    let sm_dyn_given = f.boolean("sm_dyn")?;
    if choice.sm && sm_given == Some(false) {
        return Err(ValidationError::invalid(
            "sm",
            "the nai_smea samplers turn SMEA on; leave sm out or set it true",
        ));
    }
    if choice.sm_dyn && sm_dyn_given == Some(false) {
        return Err(ValidationError::invalid(
            "sm_dyn",
            "nai_smea_dyn turns SMEA DYN on; leave sm_dyn out or set it true",
        ));
    }
    let sm = choice.sm || sm_given.unwrap_or(false);
    let sm_dyn = choice.sm_dyn || sm_dyn_given.unwrap_or(false);
    if (sm || sm_dyn) && family != Family::V3 {
        return Err(ValidationError::invalid(
            if sm { "sm" } else { "sm_dyn" },
            "SMEA is only available for V3 models",
        ));
    }
    if sm_dyn && !sm {
        return Err(ValidationError::invalid(
            "sm_dyn",
            "sm_dyn (SMEA DYN) needs sm (SMEA) on as well",
        ));
    }
    if sm && sampler == "ddim_v3" {
        return Err(ValidationError::invalid(
            "sm",
            "SMEA does not work with the DDIM sampler",
        ));
    }

    Ok(Sampling {
        model,
        steps,
        scale,
        cfg_rescale,
        sampler,
        noise_schedule,
        sm,
        sm_dyn,
    })
}

/// V5 Full Medium runs fixed steps with one sampler and no CFG rescale (the website fixes
/// them); a request that asks for anything else is told so rather than silently changed.
fn medium_rules(
    model: &Model,
    steps: u32,
    sampler: &str,
    cfg_rescale: f64,
    f: &Fields<'_>,
) -> Result<(), ValidationError> {
    if f.get("steps").is_some() && steps != models::MEDIUM_STEPS {
        return Err(ValidationError::invalid(
            "steps",
            format!("{} always runs {} steps", model.id, models::MEDIUM_STEPS),
        ));
    }
    if sampler != models::MEDIUM_SAMPLER {
        return Err(ValidationError::invalid(
            "sampler",
            format!("{} only runs {}", model.id, models::MEDIUM_SAMPLER),
        ));
    }
    if cfg_rescale != 0.0 {
        return Err(ValidationError::invalid(
            "cfg_rescale",
            format!("{} has no CFG rescale", model.id),
        ));
    }
    Ok(())
}
