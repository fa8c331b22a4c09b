//! What NovelAI accepts: models and their families, aliases, samplers, noise schedules,
//! resolution presets and size limits, as NovelAI documents and the website uses them.

use serde::{Deserialize, Serialize};

pub use super::sizes::{
    MAX_AREA, MAX_SIDE, RESOLUTIONS, SIDE_STEP, grid_center, max_samples, resolve_resolution,
};

/// Request-body family: decides `params_version` and the prompt fields sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Legacy V1/V2 models (no SMEA).
    Legacy,
    /// NAI Diffusion V3 (`sm`/`sm_dyn`).
    V3,
    /// NAI Diffusion V4 (`v4_prompt`).
    V4,
    /// NAI Diffusion V4.5 (`v4_prompt`).
    V45,
    /// NAI Diffusion V5 (since 2026-08): `v4_prompt`, free character positions,
    /// `straight_alpha`, karras only, priced ×1.5, the Opus usage limit.
    V5,
}

pub struct Model {
    pub id: &'static str,
    pub family: Family,
    /// V5 Full's "Effort: Medium" model: fixed steps and sampler, no undesired content,
    /// no CFG rescale (see [`MEDIUM_STEPS`]).
    pub medium: bool,
}

/// Every model id naiq accepts, by family.
pub const MODELS: &[Model] = &[
    Model {
        id: "nai-diffusion",
        family: Family::Legacy,
        medium: false,
    },
    Model {
        id: "safe-diffusion",
        family: Family::Legacy,
        medium: false,
    },
    Model {
        id: "nai-diffusion-furry",
        family: Family::Legacy,
        medium: false,
    },
    Model {
        id: "nai-diffusion-2",
        family: Family::Legacy,
        medium: false,
    },
    Model {
        id: "nai-diffusion-3",
        family: Family::V3,
        medium: false,
    },
    Model {
        id: "nai-diffusion-furry-3",
        family: Family::V3,
        medium: false,
    },
    Model {
        id: "nai-diffusion-4-curated-preview",
        family: Family::V4,
        medium: false,
    },
    Model {
        id: "nai-diffusion-4-full",
        family: Family::V4,
        medium: false,
    },
    Model {
        id: "nai-diffusion-4-5-curated",
        family: Family::V45,
        medium: false,
    },
    Model {
        id: "nai-diffusion-4-5-full",
        family: Family::V45,
        medium: false,
    },
    Model {
        id: "nai-diffusion-5-full",
        family: Family::V5,
        medium: false,
    },
    Model {
        id: "nai-diffusion-5-curated",
        family: Family::V5,
        medium: false,
    },
    Model {
        id: "nai-diffusion-5-full-medium",
        family: Family::V5,
        medium: true,
    },
];

/// The steps V5 Full Medium always runs (the website fixes them).
pub const MEDIUM_STEPS: u32 = 14;

/// The one sampler V5 Full Medium runs.
pub const MEDIUM_SAMPLER: &str = "k_euler_ancestral";

/// Short names clients use, and the model each stands for.
pub const ALIASES: &[(&str, &str)] = &[
    ("nai-v1", "nai-diffusion"),
    ("nai-v2", "nai-diffusion-2"),
    ("nai-v3", "nai-diffusion-3"),
    ("nai-v3-furry", "nai-diffusion-furry-3"),
    ("nai-furry-v3", "nai-diffusion-furry-3"),
    ("nai-v4", "nai-diffusion-4-full"),
    ("nai-v4-full", "nai-diffusion-4-full"),
    ("nai-v4-curated", "nai-diffusion-4-curated-preview"),
    ("nai-v4.5", "nai-diffusion-4-5-full"),
    ("nai-v4-5", "nai-diffusion-4-5-full"),
    ("nai-v4.5-full", "nai-diffusion-4-5-full"),
    ("nai-v4-5-full", "nai-diffusion-4-5-full"),
    ("nai-v4.5-curated", "nai-diffusion-4-5-curated"),
    ("nai-v4-5-curated", "nai-diffusion-4-5-curated"),
    ("nai-v5", "nai-diffusion-5-full"),
    ("nai-v5-full", "nai-diffusion-5-full"),
    ("nai-v5-curated", "nai-diffusion-5-curated"),
    ("nai-v5-medium", "nai-diffusion-5-full-medium"),
    ("nai-v5-full-medium", "nai-diffusion-5-full-medium"),
];

/// The model used when a request names none: the website's default since V5.
pub const DEFAULT_MODEL: &str = "nai-diffusion-5-curated";

/// The inpainting model `infill` goes to, by base model id; `None` for models without one
/// (legacy V1/V2). V5 Curated has no inpainting model of its own (NovelAI answers 400 for
/// `nai-diffusion-5-curated-inpainting`): the website inpaints it with V4.5 Curated's.
pub fn inpainting_model(id: &str) -> Option<&'static str> {
    Some(match id {
        "nai-diffusion-3" => "nai-diffusion-3-inpainting",
        "nai-diffusion-furry-3" => "nai-diffusion-furry-3-inpainting",
        "nai-diffusion-4-curated-preview" => "nai-diffusion-4-curated-inpainting",
        "nai-diffusion-4-full" => "nai-diffusion-4-full-inpainting",
        "nai-diffusion-4-5-curated" => "nai-diffusion-4-5-curated-inpainting",
        "nai-diffusion-4-5-full" => "nai-diffusion-4-5-full-inpainting",
        "nai-diffusion-5-full" => "nai-diffusion-5-full-inpainting",
        "nai-diffusion-5-curated" => "nai-diffusion-4-5-curated-inpainting",
        "nai-diffusion-5-full-medium" => "nai-diffusion-5-full-medium-inpainting",
        _ => return None,
    })
}

/// Resolves a full id or an alias (case-insensitive) to the model.
pub fn resolve_model(name: &str) -> Option<&'static Model> {
    let name = name.trim().to_ascii_lowercase();
    let id = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map(|(_, id)| *id)
        .unwrap_or(name.as_str());
    MODELS.iter().find(|m| m.id == id)
}

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

/// Sampler aliases the website used to offer: `k_euler_ancestral` with SMEA (`sm`), and
/// with SMEA DYN too (`sm` + `sm_dyn`). V3 only.
pub const SMEA_ALIASES: &[&str] = &["nai_smea", "nai_smea_dyn"];

pub const NOISE_SCHEDULES: &[&str] = &["native", "karras", "exponential", "polyexponential"];

/// Noise schedules `k_dpm_2` works with (on every family).
const DPM_2_SCHEDULES: &[&str] = &["exponential", "polyexponential"];

/// Noise schedules of V4 and V4.5 (they dropped `native`).
const V4_SCHEDULES: &[&str] = &["karras", "exponential", "polyexponential"];

/// V5's one noise schedule (the website has no picker for it).
const V5_SCHEDULES: &[&str] = &["karras"];

/// The samplers V5 runs (`ddim` is rewritten to `k_euler_ancestral`, as NovelAI does).
const V5_SAMPLERS: &[&str] = &[
    "k_euler_ancestral",
    "k_euler",
    "k_dpmpp_2s_ancestral",
    "k_dpmpp_2m_sde",
    "k_dpmpp_2m",
    "k_dpmpp_sde",
];

/// A sampler as NovelAI wants it named for one family, with the SMEA flags an alias implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamplerChoice {
    pub sampler: &'static str,
    pub sm: bool,
    pub sm_dyn: bool,
}

/// Resolves a sampler name (case-insensitive) for a family: V3 names DDIM `ddim_v3` (and
/// `ddim` is mapped to it), legacy models call it `ddim`, V4 and later have no DDIM;
/// `nai_smea`/`nai_smea_dyn` stand for `k_euler_ancestral` with SMEA on, which only V3
/// has. The error is a message about the `sampler` field.
pub fn resolve_sampler(family: Family, name: &str) -> Result<SamplerChoice, String> {
    let name = name.trim().to_ascii_lowercase();
    let plain = |sampler| SamplerChoice {
        sampler,
        sm: false,
        sm_dyn: false,
    };
    if SMEA_ALIASES.contains(&name.as_str()) {
        if family != Family::V3 {
            return Err(format!(
                "{name} (k_euler_ancestral with SMEA) is only available for V3 models"
            ));
        }
        return Ok(SamplerChoice {
            sampler: "k_euler_ancestral",
            sm: true,
            sm_dyn: name == "nai_smea_dyn",
        });
    }
    let Some(&known) = SAMPLERS.iter().find(|s| **s == name) else {
        return Err(format!(
            "unknown sampler {name:?}; one of {}, {}",
            SAMPLERS.join(", "),
            SMEA_ALIASES.join(", ")
        ));
    };
    match (known, family) {
        ("ddim" | "ddim_v3", Family::V5) => Ok(plain("k_euler_ancestral")),
        (other, Family::V5) if !V5_SAMPLERS.contains(&other) => Err(format!(
            "{other} is not available for V5 models; one of {}",
            V5_SAMPLERS.join(", ")
        )),
        ("ddim" | "ddim_v3", Family::V4 | Family::V45) => {
            Err(format!("{known} is not available for V4 and later models"))
        }
        ("ddim" | "ddim_v3", Family::V3) => Ok(plain("ddim_v3")),
        ("ddim" | "ddim_v3", Family::Legacy) => Ok(plain("ddim")),
        _ => Ok(plain(known)),
    }
}

/// Per-family defaults (the website's presets).
pub struct Defaults {
    pub steps: u32,
    pub scale: f64,
    pub sampler: &'static str,
    pub noise_schedule: &'static str,
}

impl Family {
    pub fn defaults(self) -> Defaults {
        match self {
            Family::Legacy | Family::V3 => Defaults {
                steps: 28,
                scale: 5.0,
                sampler: "k_euler",
                noise_schedule: "native",
            },
            Family::V4 => Defaults {
                steps: 23,
                scale: 6.0,
                sampler: "k_euler_ancestral",
                noise_schedule: "karras",
            },
            Family::V45 => Defaults {
                steps: 23,
                scale: 5.0,
                sampler: "k_euler_ancestral",
                noise_schedule: "karras",
            },
            Family::V5 => Defaults {
                steps: 23,
                scale: 7.0,
                sampler: "k_euler_ancestral",
                noise_schedule: "karras",
            },
        }
    }

    /// V4 and later (V4, V4.5, V5): `v4_prompt`, character prompts, no `native` schedule.
    pub fn is_v4(self) -> bool {
        matches!(self, Family::V4 | Family::V45 | Family::V5)
    }

    /// Whether this family's images are priced ×1.5 and its free Opus image draws on the
    /// account's V5 usage limit.
    pub fn is_v5(self) -> bool {
        self == Family::V5
    }

    /// Most character prompts one request may carry: the website's limits (V5's model
    /// table says 32; its announcement said 22 and was raised since).
    pub fn max_characters(self) -> usize {
        match self {
            Family::V5 => MAX_V5_CHARACTERS,
            _ => MAX_CHARACTERS,
        }
    }

    /// Whether characters may sit anywhere (`x`, `y` in 0–1) rather than on the 5×5 grid.
    pub fn free_positions(self) -> bool {
        self == Family::V5
    }

    /// Whether the family accepts this noise schedule (V4+ dropped `native`).
    pub fn accepts_noise_schedule(self, schedule: &str) -> bool {
        NOISE_SCHEDULES.contains(&schedule) && !(self.is_v4() && schedule == "native")
    }

    /// The noise schedules this family accepts with this (resolved) sampler: `k_dpm_2`
    /// only takes exponential and polyexponential; V4 and later dropped `native`.
    pub fn noise_schedules(self, sampler: &str) -> &'static [&'static str] {
        if self == Family::V5 {
            V5_SCHEDULES
        } else if sampler == "k_dpm_2" {
            DPM_2_SCHEDULES
        } else if self.is_v4() {
            V4_SCHEDULES
        } else {
            NOISE_SCHEDULES
        }
    }

    /// The noise schedule used when a request names none: the family's default, or the
    /// first one the sampler takes when it does not take that (`k_dpm_2` → exponential).
    pub fn default_noise_schedule(self, sampler: &str) -> &'static str {
        let allowed = self.noise_schedules(sampler);
        let default = self.defaults().noise_schedule;
        if allowed.contains(&default) {
            default
        } else {
            allowed[0]
        }
    }

    /// Whether the family takes character prompts (`characterPrompts`, V4 and V4.5).
    pub fn supports_characters(self) -> bool {
        self.is_v4()
    }
}

/// Most character prompts one V4/V4.5 request may carry (the website's limit).
pub const MAX_CHARACTERS: usize = 6;

/// Most character prompts one V5 request may carry.
pub const MAX_V5_CHARACTERS: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_full_ids_resolve() {
        assert_eq!(resolve_model("nai-v3").unwrap().id, "nai-diffusion-3");
        assert_eq!(resolve_model("NAI-V4.5").unwrap().family, Family::V45);
        assert_eq!(
            resolve_model("nai-diffusion-4-full").unwrap().family,
            Family::V4
        );
        assert!(resolve_model("dall-e").is_none());
        for (alias, id) in ALIASES {
            assert_eq!(resolve_model(alias).unwrap().id, *id, "{alias}");
        }
    }

    #[test]
    fn every_v3_and_v4_model_has_an_inpainting_variant() {
        for m in MODELS {
            let variant = inpainting_model(m.id);
            assert_eq!(variant.is_some(), m.family != Family::Legacy, "{}", m.id);
            if let Some(v) = variant {
                assert!(v.ends_with("-inpainting"), "{v}");
            }
        }
        assert_eq!(
            inpainting_model("nai-diffusion-4-curated-preview"),
            Some("nai-diffusion-4-curated-inpainting")
        );
    }

    #[test]
    fn v5_models_their_aliases_and_rules() {
        for (alias, id, medium) in [
            ("nai-v5", "nai-diffusion-5-full", false),
            ("nai-v5-curated", "nai-diffusion-5-curated", false),
            ("nai-v5-medium", "nai-diffusion-5-full-medium", true),
        ] {
            let m = resolve_model(alias).unwrap();
            assert_eq!((m.id, m.family, m.medium), (id, Family::V5, medium));
        }
        assert_eq!(DEFAULT_MODEL, "nai-diffusion-5-curated");
        assert!(resolve_model("nai-diffusion-5-curated-inpainting").is_none());
        assert_eq!(
            inpainting_model("nai-diffusion-5-curated"),
            Some("nai-diffusion-4-5-curated-inpainting"),
            "V5 Curated inpaints with V4.5 Curated's model"
        );
        assert_eq!(
            inpainting_model("nai-diffusion-5-full"),
            Some("nai-diffusion-5-full-inpainting")
        );
        let v5 = Family::V5;
        assert_eq!(v5.noise_schedules("k_euler"), ["karras"]);
        assert_eq!(v5.default_noise_schedule("k_dpm_2"), "karras");
        assert_eq!(v5.defaults().scale, 7.0);
        assert_eq!(
            resolve_sampler(v5, "ddim").unwrap().sampler,
            "k_euler_ancestral"
        );
        assert!(resolve_sampler(v5, "k_lms").is_err());
        assert!(resolve_sampler(v5, "nai_smea").is_err());
        assert_eq!((v5.max_characters(), Family::V45.max_characters()), (32, 6));
        assert!(v5.free_positions() && !Family::V45.free_positions());
        assert!(v5.is_v4() && v5.is_v5() && !Family::V45.is_v5());
    }

    #[test]
    fn resolution_names() {
        assert_eq!(resolve_resolution("portrait"), Some((832, 1216)));
        assert_eq!(resolve_resolution("landscape"), Some((1216, 832)));
        assert_eq!(resolve_resolution("square"), Some((1024, 1024)));
        assert_eq!(resolve_resolution("large_portrait"), Some((1024, 1536)));
        assert_eq!(resolve_resolution("portrait_large"), Some((1024, 1536)));
        assert_eq!(
            resolve_resolution("wallpaper-landscape"),
            Some((1920, 1088))
        );
        assert_eq!(resolve_resolution("wallpaper_square"), None);
        assert_eq!(resolve_resolution("huge"), None);
    }

    #[test]
    fn samplers_per_family() {
        let v = |family, name| resolve_sampler(family, name).map(|c| (c.sampler, c.sm, c.sm_dyn));
        assert_eq!(v(Family::V3, "ddim"), Ok(("ddim_v3", false, false)));
        assert_eq!(v(Family::V3, "DDIM_V3"), Ok(("ddim_v3", false, false)));
        assert_eq!(v(Family::Legacy, "ddim_v3"), Ok(("ddim", false, false)));
        assert!(v(Family::V4, "ddim").is_err());
        assert!(v(Family::V45, "ddim_v3").is_err());
        assert_eq!(
            v(Family::V3, "nai_smea"),
            Ok(("k_euler_ancestral", true, false))
        );
        assert_eq!(
            v(Family::V3, "nai_smea_dyn"),
            Ok(("k_euler_ancestral", true, true))
        );
        for family in [Family::Legacy, Family::V4, Family::V45] {
            assert!(v(family, "nai_smea").is_err());
            assert!(v(family, "nai_smea_dyn").is_err());
        }
        assert_eq!(v(Family::V45, " K_Euler "), Ok(("k_euler", false, false)));
        assert!(v(Family::V3, "euler_magic").is_err());
    }

    #[test]
    fn noise_schedules_per_family_and_sampler() {
        assert!(Family::V3.noise_schedules("k_euler").contains(&"native"));
        assert!(!Family::V4.noise_schedules("k_euler").contains(&"native"));
        assert!(Family::V45.noise_schedules("k_euler").contains(&"karras"));
        for family in [Family::Legacy, Family::V3, Family::V4, Family::V45] {
            assert_eq!(
                family.noise_schedules("k_dpm_2"),
                &["exponential", "polyexponential"]
            );
            assert_eq!(family.default_noise_schedule("k_dpm_2"), "exponential");
        }
        assert_eq!(Family::V3.default_noise_schedule("k_euler"), "native");
        assert_eq!(Family::V4.default_noise_schedule("k_euler"), "karras");
    }

    #[test]
    fn grid_cells_map_to_centres() {
        assert_eq!(grid_center("C3"), Some((0.5, 0.5)));
        assert_eq!(grid_center("A1"), Some((0.1, 0.1)));
        assert_eq!(grid_center("E5"), Some((0.9, 0.9)));
        assert_eq!(grid_center("B4"), Some((0.3, 0.7)));
        assert_eq!(grid_center("D2"), Some((0.7, 0.3)));
        for bad in ["", "C", "F3", "C0", "C6", "c3", "C33", "3C", "É3"] {
            assert_eq!(grid_center(bad), None, "{bad}");
        }
    }

    #[test]
    fn sample_limits_shrink_with_area() {
        assert_eq!(max_samples(512, 640), 8);
        assert_eq!(max_samples(640, 640), 6);
        assert_eq!(max_samples(832, 1216), 4);
        assert_eq!(max_samples(1024, 1536), 2);
        assert_eq!(max_samples(1472, 1472), 1);
    }
}
