//! The V4+ prompt fields: `v4_prompt`, `v4_negative_prompt` and their character captions,
//! mirrored in `characterPrompts`.
//!
//! - `v4_prompt` with a string `caption.base_caption` is required; without it NovelAI
//!   answers 500 (NovelAI's documented answer).
//! - `v4_negative_prompt` must be an object (the fake's own strictness: every capture has
//!   one).
//! - `char_captions` are `[{char_caption, centers: [{x, y}]}]`, as many and in the same
//!   order in both prompts, and `characterPrompts` has one entry per caption. An empty
//!   `centers` or uneven lists make NovelAI answer 500 (its documented answer); fields of
//!   the wrong type, centres outside [0, 1] and more characters than the family takes are
//!   refused with 400 (the fake's own strictness).

use serde_json::Value;

use super::refusal::Refusal;
use crate::rules::Family;
use crate::rules::limits::CENTER;

/// Checks one prompt's `char_captions`; returns how many there are.
fn captions(which: &str, prompt: &Value) -> Result<usize, Refusal> {
    let list = match prompt["caption"].get("char_captions") {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(Refusal::invalid(format!(
                "{which}.caption.char_captions must be an array"
            )));
        }
    };
    for (i, c) in list.iter().enumerate() {
        let at = format!("{which}.caption.char_captions[{i}]");
        if !c["char_caption"].is_string() {
            return Err(Refusal::invalid(format!(
                "{at}.char_caption must be a string"
            )));
        }
        let Some(centers) = c["centers"].as_array() else {
            return Err(Refusal::invalid(format!("{at}.centers must be an array")));
        };
        if centers.is_empty() {
            return Err(Refusal::broken(format!("{at}.centers is empty")));
        }
        let in_square = |xy: &Value| {
            ["x", "y"]
                .iter()
                .all(|k| xy[k].as_f64().is_some_and(|f| CENTER.contains(&f)))
        };
        if !centers.iter().all(in_square) {
            return Err(Refusal::invalid(format!(
                "{at}.centers must be [{{x, y}}] with x and y in [0, 1]"
            )));
        }
    }
    Ok(list.len())
}

/// Checks the V4+ prompt fields of `parameters`.
pub fn check(family: Family, parameters: &Value) -> Result<(), Refusal> {
    let positive = &parameters["v4_prompt"];
    if !positive.is_object() || !positive["caption"]["base_caption"].is_string() {
        return Err(Refusal::broken(
            "v4_prompt with a caption.base_caption string is required on V4+",
        ));
    }
    let negative = &parameters["v4_negative_prompt"];
    if !negative.is_object() {
        return Err(Refusal::invalid("v4_negative_prompt must be an object"));
    }
    let n_pos = captions("v4_prompt", positive)?;
    let n_neg = captions("v4_negative_prompt", negative)?;
    let max = family.max_characters();
    if n_pos > max {
        return Err(Refusal::invalid(format!(
            "at most {max} characters on this model, not {n_pos}"
        )));
    }
    if n_pos != n_neg {
        return Err(Refusal::broken(format!(
            "char_captions: {n_pos} in v4_prompt but {n_neg} in v4_negative_prompt"
        )));
    }
    match parameters.get("characterPrompts") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) if list.len() == n_pos => {}
        Some(Value::Array(list)) => {
            return Err(Refusal::broken(format!(
                "characterPrompts: {} entries for {n_pos} char_captions",
                list.len()
            )));
        }
        Some(_) => return Err(Refusal::invalid("characterPrompts must be an array")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn caption(n: usize) -> Vec<Value> {
        vec![json!({"char_caption": "girl", "centers": [{"x": 0.5, "y": 0.5}]}); n]
    }

    fn params(pos: Vec<Value>, neg: Vec<Value>) -> Value {
        json!({
            "v4_prompt": {"caption": {"base_caption": "2girls", "char_captions": pos},
                          "use_coords": false, "use_order": true},
            "v4_negative_prompt": {"caption": {"base_caption": "", "char_captions": neg},
                                   "legacy_uc": false},
        })
    }

    #[test]
    fn well_formed_captions_pass_up_to_the_family_limit() {
        assert_eq!(check(Family::V45, &params(caption(6), caption(6))), Ok(()));
        assert_eq!(check(Family::V5, &params(caption(32), caption(32))), Ok(()));
        assert!(matches!(
            check(Family::V45, &params(caption(7), caption(7))),
            Err(Refusal::Invalid(_))
        ));
        let mut p = params(caption(2), caption(2));
        p["characterPrompts"] = json!([{}, {}]);
        assert_eq!(check(Family::V4, &p), Ok(()));
    }

    #[test]
    fn what_novelai_answers_500_for() {
        let broken = |p: &Value| matches!(check(Family::V45, p), Err(Refusal::Broken(_)));
        assert!(broken(&json!({"v4_negative_prompt": {}})));
        assert!(broken(
            &json!({"v4_prompt": {"caption": {}}, "v4_negative_prompt": {}})
        ));
        assert!(broken(&params(caption(1), caption(0))));
        let empty = vec![json!({"char_caption": "girl", "centers": []})];
        assert!(broken(&params(empty.clone(), empty)));
        let mut p = params(caption(1), caption(1));
        p["characterPrompts"] = json!([]);
        assert!(broken(&p));
    }

    #[test]
    fn what_the_fake_refuses_with_400() {
        let invalid = |p: &Value| matches!(check(Family::V45, p), Err(Refusal::Invalid(_)));
        let mut p = params(caption(0), caption(0));
        p["v4_negative_prompt"] = json!("lowres");
        assert!(invalid(&p));
        let off = vec![json!({"char_caption": "girl", "centers": [{"x": 1.5, "y": 0.5}]})];
        assert!(invalid(&params(off.clone(), off)));
        let untyped = vec![json!({"char_caption": 5, "centers": [{"x": 0.5, "y": 0.5}]})];
        assert!(invalid(&params(untyped.clone(), untyped)));
        let mut p = params(caption(0), caption(0));
        p["v4_prompt"]["caption"]["char_captions"] = json!("girl");
        assert!(invalid(&p));
    }
}
