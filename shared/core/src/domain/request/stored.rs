//! What a job stores of its request, its settings as JSON, must fit one DynamoDB item
//! (400 KB) with the rest of the job. Each text field has its own byte limit, but a V5
//! request has up to 66 of them, and JSON escapes a control character in six bytes: the
//! sum is checked here, at submit, and the field that takes it over the limit is named.

use super::{GenerationParams, ValidationError};

/// DynamoDB's largest item: 400 KB, names and values together.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// Room left in a job's item for everything but its settings: ids, owner, times, the keys
/// of up to eight images and two inputs, the cost, the index keys, an error (a few
/// kilobytes at most).
pub const ITEM_RESERVE_BYTES: usize = 16 * 1024;

/// Most bytes a job's settings may take as stored (their JSON).
pub const MAX_STORED_PARAMS_BYTES: usize = MAX_ITEM_BYTES - ITEM_RESERVE_BYTES;

/// The settings' size as the job stores them.
pub fn stored_bytes(params: &GenerationParams) -> usize {
    serde_json::to_vec(params)
        .expect("settings serialise")
        .len()
}

/// A string's bytes in JSON, without its quotes.
fn json_bytes(s: &str) -> usize {
    serde_json::to_string(s).expect("a string serialises").len() - 2
}

/// Refuses settings too large to store, naming the prompt text field at which the running
/// total (in the order of the request) passes the limit.
pub(super) fn check(params: &GenerationParams) -> Result<(), ValidationError> {
    let total = stored_bytes(params);
    if total <= MAX_STORED_PARAMS_BYTES {
        return Ok(());
    }
    let mut texts = vec![
        ("prompt".to_string(), params.prompt.as_str()),
        (
            "negative_prompt".to_string(),
            params.negative_prompt.as_str(),
        ),
    ];
    for (i, c) in params.characters.iter().enumerate() {
        texts.push((format!("characters[{i}].prompt"), c.prompt.as_str()));
        texts.push((format!("characters[{i}].uc"), c.uc.as_str()));
    }
    let mut running = total - texts.iter().map(|(_, t)| json_bytes(t)).sum::<usize>();
    let mut culprit = "prompt".to_string();
    for (name, text) in texts {
        running += json_bytes(text);
        if running > MAX_STORED_PARAMS_BYTES {
            culprit = name;
            break;
        }
    }
    Err(ValidationError::invalid(
        &culprit,
        format!(
            "the job's settings would take {total} bytes to store, over the \
             {MAX_STORED_PARAMS_BYTES} a job may; {culprit} takes them past it (shorten the \
             prompts)"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::{Limits, parse_submit};
    use super::*;

    fn parse(v: Value) -> Result<super::super::SubmitRequest, ValidationError> {
        parse_submit(v.to_string().as_bytes(), &Limits::default())
    }

    /// A V4.5 body with 14 prompt texts (prompt, negative prompt, six characters' prompt
    /// and uc), each `text`.
    fn fourteen(text: &str) -> Value {
        let characters: Vec<Value> = (0..6)
            .map(|_| json!({"prompt": text, "uc": text}))
            .collect();
        json!({"prompt": text, "negative_prompt": text, "model": "nai-v4.5",
            "characters": characters})
    }

    #[test]
    fn fourteen_fields_of_8000_four_byte_characters_are_refused_by_their_bytes() {
        let e = parse(fourteen(&"😀".repeat(8_000))).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("invalid_parameter", Some("prompt")),
            "{e:?}"
        );
        assert!(e.message.contains("24000 bytes"), "{}", e.message);
        // At the byte limit, all fourteen fit one item.
        let r = parse(fourteen(&"😀".repeat(6_000))).unwrap();
        assert!(stored_bytes(&r.params) <= MAX_STORED_PARAMS_BYTES);
    }

    #[test]
    fn settings_too_large_to_store_are_refused_naming_the_field_that_passes_the_limit() {
        // Within every field's limits (8,000 characters, 8,000 bytes), but JSON stores
        // each control character in six bytes: 14 x 48,000.
        let e = parse(fourteen(&"\u{1}".repeat(8_000))).unwrap_err();
        assert_eq!(e.code, "invalid_parameter");
        // 8 fields are 384,000 bytes with the rest; the ninth passes 393,216.
        assert_eq!(e.field.as_deref(), Some("characters[3].prompt"), "{e:?}");
        assert!(e.message.contains("393216"), "{}", e.message);

        // V5 takes 32 characters: 66 texts of 8,000 CJK characters (24,000 bytes) each.
        let text = "猫".repeat(8_000);
        let characters: Vec<Value> = (0..32)
            .map(|_| json!({"prompt": text, "uc": text}))
            .collect();
        let e = parse(
            json!({"prompt": text, "negative_prompt": text, "model": "nai-v5",
            "characters": characters}),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("characters[7].prompt"), "{e:?}");

        // Two full texts are stored.
        let r = parse(json!({"prompt": text, "negative_prompt": text})).unwrap();
        assert!(stored_bytes(&r.params) < MAX_STORED_PARAMS_BYTES);
    }
}
