//! Model ids, their families and their inpainting variants (NovelAI's documented model
//! list). An id not in [`MODELS`] does not exist for the fake, as for NovelAI, which
//! answers 400 `"Validation error: model <id> doesn't exist"`.

/// A model family: what decides the body's shape (prompt fields, `params_version`) and the
/// samplers and limits that apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// V1/V2 (`nai-diffusion`, `safe-diffusion`, `nai-diffusion-furry`,
    /// `nai-diffusion-2`): the prompt in `input`, `params_version` 1 or none.
    Legacy,
    /// NAI Diffusion V3 (anime and furry): the prompt in `input`, SMEA (`sm`, `sm_dyn`),
    /// DDIM named `ddim_v3`.
    V3,
    /// NAI Diffusion V4 (curated preview, full): `v4_prompt`/`v4_negative_prompt`.
    V4,
    /// NAI Diffusion V4.5 (curated, full): as V4.
    V45,
    /// NAI Diffusion V5 (full, curated, full at Medium effort): as V4, up to 32 characters
    /// placed anywhere.
    V5,
}

impl Family {
    /// Whether bodies of this family carry the prompt in `v4_prompt` (V4 and later).
    pub fn has_v4_prompt(self) -> bool {
        matches!(self, Family::V4 | Family::V45 | Family::V5)
    }

    /// The `params_version` values NovelAI takes for the family. The website sends 4 for
    /// every model since the V5 release and 3 is still taken on V4 and later (NovelAI's
    /// documented rule); V1–V3 bodies were captured with 1 or none. Other values are
    /// refused by the fake's own strictness.
    pub fn params_versions(self) -> &'static [u64] {
        match self {
            Family::Legacy | Family::V3 => &[1, 4],
            Family::V4 | Family::V45 | Family::V5 => &[3, 4],
        }
    }

    /// Whether a body may leave `params_version` out: V1–V3 bodies predate it; a V4+ body
    /// without it is refused (the fake's own strictness).
    pub fn params_version_optional(self) -> bool {
        matches!(self, Family::Legacy | Family::V3)
    }

    /// The most character prompts one body may carry: 6 on V4/V4.5, 32 on V5 (the
    /// website's table; its documentation still says 22, the launch figure), none before
    /// V4 (NovelAI's documented rule).
    pub fn max_characters(self) -> usize {
        match self {
            Family::Legacy | Family::V3 => 0,
            Family::V4 | Family::V45 => 6,
            Family::V5 => 32,
        }
    }

    /// The family's name in the PNG `Source` text.
    pub fn label(self) -> &'static str {
        match self {
            Family::Legacy => "NovelAI Diffusion",
            Family::V3 => "Stable Diffusion XL",
            Family::V4 => "NovelAI Diffusion V4",
            Family::V45 => "NovelAI Diffusion V4.5",
            Family::V5 => "NovelAI Diffusion V5",
        }
    }
}

/// One model id NovelAI serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Model {
    pub id: &'static str,
    pub family: Family,
    /// An inpainting model: the only kind `action: "infill"` takes (NovelAI refuses infill
    /// on a base id).
    pub inpainting: bool,
    /// V5 Full at "Effort: Medium": a distilled model with fixed steps and sampler and no
    /// CFG rescale (see the limits).
    pub medium: bool,
}

const fn model(id: &'static str, family: Family) -> Model {
    Model {
        id,
        family,
        inpainting: false,
        medium: false,
    }
}

const fn inpainting(id: &'static str, family: Family) -> Model {
    Model {
        id,
        family,
        inpainting: true,
        medium: false,
    }
}

/// Every model id the fake accepts (NovelAI's documented list, 2024–2026):
///
/// - V1/V2 have no inpainting variant.
/// - V3 and V4.5 inpaint with `<id>-inpainting`; V4's curated preview inpaints with
///   `nai-diffusion-4-curated-inpainting`.
/// - V5 Full inpaints with `nai-diffusion-5-full-inpainting`; V5 Curated borrows
///   `nai-diffusion-4-5-curated-inpainting`: NovelAI answers 400 for
///   `nai-diffusion-5-curated-inpainting`, although the website's code lists it.
/// - V5 Full Medium (`nai-diffusion-5-full-medium`) has its own inpainting id; there is no
///   Curated Medium.
pub const MODELS: &[Model] = &[
    model("nai-diffusion", Family::Legacy),
    model("safe-diffusion", Family::Legacy),
    model("nai-diffusion-furry", Family::Legacy),
    model("nai-diffusion-2", Family::Legacy),
    model("nai-diffusion-3", Family::V3),
    inpainting("nai-diffusion-3-inpainting", Family::V3),
    model("nai-diffusion-furry-3", Family::V3),
    inpainting("nai-diffusion-furry-3-inpainting", Family::V3),
    model("nai-diffusion-4-curated-preview", Family::V4),
    inpainting("nai-diffusion-4-curated-inpainting", Family::V4),
    model("nai-diffusion-4-full", Family::V4),
    inpainting("nai-diffusion-4-full-inpainting", Family::V4),
    model("nai-diffusion-4-5-curated", Family::V45),
    inpainting("nai-diffusion-4-5-curated-inpainting", Family::V45),
    model("nai-diffusion-4-5-full", Family::V45),
    inpainting("nai-diffusion-4-5-full-inpainting", Family::V45),
    model("nai-diffusion-5-full", Family::V5),
    inpainting("nai-diffusion-5-full-inpainting", Family::V5),
    model("nai-diffusion-5-curated", Family::V5),
    Model {
        medium: true,
        ..model("nai-diffusion-5-full-medium", Family::V5)
    },
    Model {
        medium: true,
        ..inpainting("nai-diffusion-5-full-medium-inpainting", Family::V5)
    },
];

/// The model with this exact id (NovelAI's ids are case-sensitive).
pub fn find(id: &str) -> Option<&'static Model> {
    MODELS.iter().find(|m| m.id == id)
}

/// The model hash NovelAI writes after the family's name in an image's `Source` (the
/// hashes seen on NovelAI's images): V3 (anime) C1E1DE52, V5 Full 657484A5, V5 Curated
/// DB276663, V5 Full Medium 93F4BD30. An inpainting id shares its base model's hash (the
/// fake's choice: the inpainting models' own hashes are not known). `None` where no hash
/// is known.
pub fn source_hash(model: &Model) -> Option<&'static str> {
    Some(match model.id.trim_end_matches("-inpainting") {
        "nai-diffusion-3" => "C1E1DE52",
        "nai-diffusion-5-full" => "657484A5",
        "nai-diffusion-5-curated" => "DB276663",
        "nai-diffusion-5-full-medium" => "93F4BD30",
        _ => return None,
    })
}

/// An image's `Source`: the family's name and the model's hash, e.g. "NovelAI Diffusion V5
/// 657484A5"; where the hash is not known, the family's name and `(fake <id>)`.
pub fn source(model: &Model) -> String {
    let label = model.family.label();
    match source_hash(model) {
        Some(hash) => format!("{label} {hash}"),
        None => format!("{label} (fake {})", model.id),
    }
}

/// The inpainting model a base model's `infill` goes to; `None` for V1/V2.
pub fn inpainting_variant(base: &str) -> Option<&'static str> {
    Some(match base {
        "nai-diffusion-3" => "nai-diffusion-3-inpainting",
        "nai-diffusion-furry-3" => "nai-diffusion-furry-3-inpainting",
        "nai-diffusion-4-curated-preview" => "nai-diffusion-4-curated-inpainting",
        "nai-diffusion-4-full" => "nai-diffusion-4-full-inpainting",
        "nai-diffusion-4-5-curated" | "nai-diffusion-5-curated" => {
            "nai-diffusion-4-5-curated-inpainting"
        }
        "nai-diffusion-4-5-full" => "nai-diffusion-4-5-full-inpainting",
        "nai-diffusion-5-full" => "nai-diffusion-5-full-inpainting",
        "nai-diffusion-5-full-medium" => "nai-diffusion-5-full-medium-inpainting",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_found_exactly() {
        for (i, m) in MODELS.iter().enumerate() {
            assert_eq!(find(m.id), Some(m));
            assert!(MODELS[i + 1..].iter().all(|o| o.id != m.id), "{}", m.id);
            assert_eq!(m.inpainting, m.id.ends_with("-inpainting"), "{}", m.id);
        }
        for unknown in [
            "NAI-DIFFUSION-3",
            "nai-diffusion-5-curated-inpainting",
            "nai-diffusion-5-curated-medium",
            "nai-diffusion-2-inpainting",
            "nai-diffusion-4-5",
            "nai-diffusion-9",
            "",
        ] {
            assert_eq!(find(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn every_base_model_but_v1_v2_has_an_existing_inpainting_variant() {
        for m in MODELS.iter().filter(|m| !m.inpainting) {
            match inpainting_variant(m.id) {
                None => assert_eq!(m.family, Family::Legacy, "{}", m.id),
                Some(v) => {
                    let variant = find(v).unwrap_or_else(|| panic!("{v}"));
                    assert!(variant.inpainting, "{v}");
                    assert_eq!(variant.medium, m.medium, "{v}");
                }
            }
        }
        assert_eq!(
            inpainting_variant("nai-diffusion-5-curated"),
            Some("nai-diffusion-4-5-curated-inpainting")
        );
    }

    #[test]
    fn sources_name_the_family_and_hash() {
        let source_of = |id| source(find(id).unwrap());
        assert_eq!(
            source_of("nai-diffusion-5-full"),
            "NovelAI Diffusion V5 657484A5"
        );
        assert_eq!(
            source_of("nai-diffusion-5-full-inpainting"),
            "NovelAI Diffusion V5 657484A5"
        );
        assert_eq!(
            source_of("nai-diffusion-5-curated"),
            "NovelAI Diffusion V5 DB276663"
        );
        assert_eq!(
            source_of("nai-diffusion-5-full-medium-inpainting"),
            "NovelAI Diffusion V5 93F4BD30"
        );
        assert_eq!(source_of("nai-diffusion-3"), "Stable Diffusion XL C1E1DE52");
        assert_eq!(
            source_of("nai-diffusion-4-5-full"),
            "NovelAI Diffusion V4.5 (fake nai-diffusion-4-5-full)"
        );
    }

    #[test]
    fn families_differ_where_the_rules_do() {
        assert!(!Family::V3.has_v4_prompt());
        assert!(Family::V45.has_v4_prompt() && Family::V5.has_v4_prompt());
        assert_eq!(Family::V3.params_versions(), &[1, 4]);
        assert_eq!(Family::V5.params_versions(), &[3, 4]);
        assert!(Family::Legacy.params_version_optional());
        assert!(!Family::V4.params_version_optional());
        assert_eq!(Family::V4.max_characters(), 6);
        assert_eq!(Family::V5.max_characters(), 32);
    }
}
