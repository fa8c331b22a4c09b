//! The prompt (required, not blank) and the negative prompt, and the limits every prompt
//! text (a character's prompt and undesired content too) is held to.

use super::fields::Fields;
use super::{Limits, ValidationError};

/// `prompt` and `negative_prompt` (empty when absent).
pub(super) fn prompts<'a>(
    f: &Fields<'a>,
    limits: &Limits,
) -> Result<(&'a str, &'a str), ValidationError> {
    let prompt =
        prompt_text(f, "prompt", limits)?.ok_or_else(|| ValidationError::missing("prompt"))?;
    if prompt.trim().is_empty() {
        return Err(ValidationError::invalid(
            "prompt",
            "prompt must not be empty",
        ));
    }
    let negative_prompt = prompt_text(f, "negative_prompt", limits)?.unwrap_or("");
    Ok((prompt, negative_prompt))
}

/// A prompt text field: at most `max_prompt_bytes` bytes and `max_prompt_chars` characters.
pub(super) fn prompt_text<'a>(
    f: &Fields<'a>,
    name: &str,
    limits: &Limits,
) -> Result<Option<&'a str>, ValidationError> {
    let text = f.text(name, limits.max_prompt_bytes)?;
    if text.is_some_and(|t| t.chars().count() > limits.max_prompt_chars) {
        let name = f.path(name);
        return Err(ValidationError::invalid(
            &name,
            format!(
                "{name} must be at most {} characters",
                limits.max_prompt_chars
            ),
        ));
    }
    Ok(text)
}
