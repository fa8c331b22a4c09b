//! Character prompts (V4/V4.5): up to six, each with its own undesired content and an
//! optional grid cell.

use serde_json::Value;

use super::fields::Fields;
use super::{Character, Limits, ValidationError};
use crate::domain::models::{self, Family};

/// The optional `characters` list: `[{prompt, uc?, position?}]`, V4/V4.5 only. An empty
/// list is the same as none.
pub(super) fn characters(
    f: &Fields<'_>,
    family: Family,
    model_id: &str,
    limits: &Limits,
) -> Result<Vec<Character>, ValidationError> {
    let items = match f.get("characters") {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ValidationError::invalid(
                "characters",
                "characters must be a list of {prompt, uc, position} objects",
            ));
        }
    };
    if items.is_empty() {
        return Ok(Vec::new());
    }
    if !family.supports_characters() {
        return Err(ValidationError::invalid(
            "characters",
            format!("character prompts need a V4 or V4.5 model, not {model_id}"),
        ));
    }
    if items.len() > models::MAX_CHARACTERS {
        return Err(ValidationError::invalid(
            "characters",
            format!("at most {} characters", models::MAX_CHARACTERS),
        ));
    }
    let mut characters = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(ValidationError::invalid(
                &format!("characters[{i}]"),
                format!("characters[{i}] must be an object with a prompt"),
            ));
        };
        let c = Fields {
            map,
            prefix: format!("characters[{i}]."),
        };
        let too_long = |name: &str| {
            let name = c.path(name);
            ValidationError::invalid(
                &name,
                format!(
                    "{name} must be at most {} characters",
                    limits.max_prompt_chars
                ),
            )
        };
        let prompt = c
            .string("prompt")?
            .ok_or_else(|| ValidationError::missing(&c.path("prompt")))?;
        if prompt.trim().is_empty() {
            let name = c.path("prompt");
            return Err(ValidationError::invalid(
                &name,
                format!("{name} must not be empty"),
            ));
        }
        if prompt.chars().count() > limits.max_prompt_chars {
            return Err(too_long("prompt"));
        }
        let uc = c.string("uc")?.unwrap_or("");
        if uc.chars().count() > limits.max_prompt_chars {
            return Err(too_long("uc"));
        }
        let position = match c.string("position")? {
            None => None,
            Some(p) => {
                let cell = p.trim().to_ascii_uppercase();
                if models::grid_center(&cell).is_none() {
                    let name = c.path("position");
                    return Err(ValidationError::invalid(
                        &name,
                        format!("{name} must be a column A-E and a row 1-5, such as C3"),
                    ));
                }
                Some(cell)
            }
        };
        characters.push(Character {
            prompt: prompt.to_string(),
            uc: uc.to_string(),
            position,
        });
    }
    Ok(characters)
}
