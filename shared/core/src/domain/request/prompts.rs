//! The prompt (required, not blank) and the negative prompt, within the length limit.

use super::fields::Fields;
use super::{Limits, ValidationError};

/// `prompt` and `negative_prompt` (empty when absent).
pub(super) fn prompts<'a>(
    f: &Fields<'a>,
    limits: &Limits,
) -> Result<(&'a str, &'a str), ValidationError> {
    let prompt = f
        .string("prompt")?
        .ok_or_else(|| ValidationError::missing("prompt"))?;
    if prompt.trim().is_empty() {
        return Err(ValidationError::invalid(
            "prompt",
            "prompt must not be empty",
        ));
    }
    let too_long = |field: &str| {
        ValidationError::invalid(
            field,
            format!(
                "{field} must be at most {} characters",
                limits.max_prompt_chars
            ),
        )
    };
    if prompt.chars().count() > limits.max_prompt_chars {
        return Err(too_long("prompt"));
    }
    let negative_prompt = f.string("negative_prompt")?.unwrap_or("");
    if negative_prompt.chars().count() > limits.max_prompt_chars {
        return Err(too_long("negative_prompt"));
    }

    Ok((prompt, negative_prompt))
}
