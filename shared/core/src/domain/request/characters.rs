//! Character prompts (V4/V4.5): up to six, each with its own undesired content and an
//! optional grid cell.

use serde_json::Value;

use super::fields::{Fields, MAX_WORD_BYTES};
use super::prompts::prompt_text;
use super::{Center, Character, Limits, ValidationError};
use crate::domain::models::{self, Model};

/// The optional `characters` list: `[{prompt, uc?, position?}]`, V4 and later. An empty
/// list is the same as none. `position` is a grid cell (`C3`) on every family; V5 also
/// takes free coordinates (`{"x": 0.3, "y": 0.5}`, each 0–1, kept to 0.001).
pub(super) fn characters(
    f: &Fields<'_>,
    model: &Model,
    limits: &Limits,
) -> Result<Vec<Character>, ValidationError> {
    let items = f.list("characters", "{prompt, uc, position}")?;
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let family = model.family;
    if !family.supports_characters() {
        return Err(ValidationError::invalid(
            "characters",
            format!(
                "character prompts need a V4 or later model, not {}",
                model.id
            ),
        ));
    }
    if items.len() > family.max_characters() {
        return Err(ValidationError::invalid(
            "characters",
            format!(
                "at most {} characters with {}",
                family.max_characters(),
                model.id
            ),
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
        let prompt = prompt_text(&c, "prompt", limits)?
            .ok_or_else(|| ValidationError::missing(&c.path("prompt")))?;
        if prompt.trim().is_empty() {
            let name = c.path("prompt");
            return Err(ValidationError::invalid(
                &name,
                format!("{name} must not be empty"),
            ));
        }
        let uc = prompt_text(&c, "uc", limits)?.unwrap_or("");
        if model.medium && !uc.is_empty() {
            let name = c.path("uc");
            return Err(ValidationError::invalid(
                &name,
                format!("{} takes no undesired content; leave {name} out", model.id),
            ));
        }
        let (position, center) = placement(&c, family.free_positions())?;
        characters.push(Character {
            prompt: prompt.to_string(),
            uc: uc.to_string(),
            position,
            center,
        });
    }
    Ok(characters)
}

/// A character's `position`: a grid cell, or (with free positions) `{x, y}` in 0–1.
fn placement(
    c: &Fields<'_>,
    free: bool,
) -> Result<(Option<String>, Option<Center>), ValidationError> {
    let name = c.path("position");
    let cell_error = || {
        let also = if free {
            ", or {\"x\": 0-1, \"y\": 0-1}"
        } else {
            ""
        };
        ValidationError::invalid(
            &name,
            format!("{name} must be a column A-E and a row 1-5, such as C3{also}"),
        )
    };
    match c.get("position") {
        None => Ok((None, None)),
        Some(Value::String(p)) => {
            if p.len() > MAX_WORD_BYTES {
                return Err(cell_error());
            }
            let cell = p.trim().to_ascii_uppercase();
            if models::grid_center(&cell).is_none() {
                return Err(cell_error());
            }
            Ok((Some(cell), None))
        }
        Some(Value::Object(map)) if free => {
            let point = Fields {
                map,
                prefix: format!("{name}."),
            };
            let coordinate = |axis: &str| -> Result<f64, ValidationError> {
                let v = point
                    .number(axis, 0.0, 1.0)?
                    .ok_or_else(|| ValidationError::missing(&point.path(axis)))?;
                Ok((v * 1000.0).round() / 1000.0)
            };
            Ok((
                None,
                Some(Center {
                    x: coordinate("x")?,
                    y: coordinate("y")?,
                }),
            ))
        }
        Some(_) => Err(cell_error()),
    }
}
