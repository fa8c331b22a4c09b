//! Scrubbing of upstream texts: whatever NovelAI (or a proxy in front of it) answers may
//! quote the request back, and a job's error is stored, logged and returned to clients. A
//! word that looks like a credential becomes `<redacted>`: a persistent token (`pst-…`),
//! a naiq API key (`naiq_…`), a JWT (`eyJ…`), the word after `Bearer`, and any long run
//! of token characters that mixes letters and digits (access keys, hex or base64 secrets).

/// Shortest run of token characters, with letters and digits, taken for a secret.
const MIN_SECRET_LEN: usize = 24;

const REDACTED: &str = "<redacted>";

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_+/=.~".contains(c)
}

fn looks_secret(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    let prefixed = (lower.starts_with("pst-") || lower.starts_with("naiq_")) && word.len() > 5;
    let jwt = word.starts_with("eyJ") && word.len() >= 16;
    let long_mixed = word.len() >= MIN_SECRET_LEN
        && word.chars().any(|c| c.is_ascii_digit())
        && word.chars().any(|c| c.is_ascii_alphabetic());
    prefixed || jwt || long_mixed
}

/// `text` with every credential-like word replaced by `<redacted>`.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_bearer = false;
    let mut rest = text;
    while let Some(start) = rest.find(is_token_char) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail.find(|c| !is_token_char(c)).unwrap_or(tail.len());
        let word = &tail[..end];
        // A sentence's full stop is not part of the word.
        let word = word.trim_end_matches('.');
        if after_bearer || looks_secret(word) {
            out.push_str(REDACTED);
        } else {
            out.push_str(word);
        }
        after_bearer = word.eq_ignore_ascii_case("bearer");
        rest = &tail[word.len()..];
        if word.is_empty() {
            // Only dots: keep them.
            out.push_str(&tail[..end]);
            rest = &tail[end..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_like_words_are_redacted_and_the_rest_is_kept() {
        let token = "pst-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijklmnopqrstuvwxyzAB";
        let access_key = "vtQmbCKY3JMbibT54ctxmAaAL-nZOK5BLVMSmF4M75yasKIKKPconLnx_L0ybh3P";
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        for (given, expected) in [
            (
                format!("Invalid token {token}."),
                "Invalid token <redacted>.".to_string(),
            ),
            (
                format!("Authorization: Bearer abc and key {access_key}"),
                "Authorization: Bearer <redacted> and key <redacted>".into(),
            ),
            (format!("jwt={jwt}"), "<redacted>".into()),
            (
                "key naiq_0123456789abcdef refused".into(),
                "key <redacted> refused".into(),
            ),
            (
                "Concurrent generation is locked".into(),
                "Concurrent generation is locked".into(),
            ),
            (
                "steps must be 1-50 at 832x1216 (image.novelai.net/ai/generate-image)...".into(),
                "steps must be 1-50 at 832x1216 (image.novelai.net/ai/generate-image)...".into(),
            ),
            (
                "模糊 is not allowed: 500".into(),
                "模糊 is not allowed: 500".into(),
            ),
        ] {
            assert_eq!(scrub(&given), expected, "{given}");
        }
    }
}
