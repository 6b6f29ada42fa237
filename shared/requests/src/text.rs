//! Message text: what a customer or an agent may write.

use crate::{FieldError, err};

/// Longest message, in characters (after trimming).
pub const MESSAGE_MAX_CHARS: usize = 4000;
/// Longest request body, in bytes (a 4000-character message of 4-byte characters, with room for the fields).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The trimmed text, or what is wrong with it. Newlines and tabs are kept; other control characters
/// (including CR: `\r\n` becomes `\n`) and Unicode direction overrides are refused, not silently dropped.
pub fn message(field: &str, raw: &str) -> Result<String, FieldError> {
    let normalised = raw.replace("\r\n", "\n");
    let t = normalised.trim();
    if t.is_empty() {
        return Err(err(field, format!("{field}: write a message")));
    }
    let n = t.chars().count();
    if n > MESSAGE_MAX_CHARS {
        return Err(err(field, format!("{field}: at most {MESSAGE_MAX_CHARS} characters ({n} sent)")));
    }
    if let Some(c) = t.chars().find(|c| (c.is_control() && *c != '\n' && *c != '\t') || is_bidi_override(*c)) {
        return Err(err(field, format!("{field}: contains a control character (U+{:04X}); text only", c as u32)));
    }
    Ok(t.to_string())
}

/// Bidirectional overrides and isolates (Trojan Source): they make shown text differ from what was sent.
fn is_bidi_override(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A short one-line text (an agent id, a withdrawal reason's first line...): trimmed, 1..=`max` characters,
/// no control characters.
pub fn short(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(|c| c.is_control() || is_bidi_override(c)) {
        return Err(err(field, format!("{field}: 1 to {max} characters on one line")));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_capped_and_control_free() {
        assert_eq!(message("body", "  Hi\r\nthere\t!  ").unwrap(), "Hi\nthere\t!");
        assert!(message("body", " \n ").unwrap_err().detail.contains("write a message"));
        assert!(message("body", &"é".repeat(MESSAGE_MAX_CHARS)).is_ok(), "characters, not bytes");
        assert!(message("body", &"x".repeat(MESSAGE_MAX_CHARS + 1)).unwrap_err().detail.contains("4001 sent"));
        assert!(message("body", "a\u{0}b").unwrap_err().detail.contains("U+0000"));
        assert!(message("body", "abc\u{202E}cba").is_err(), "direction override");
        assert_eq!(
            message("body", "<script>alert(1)</script>").unwrap(),
            "<script>alert(1)</script>",
            "stored as sent, escaped when shown"
        );
        assert!(short("agent", "a\nb", 40).is_err());
        assert_eq!(short("agent", " ada ", 40).unwrap(), "ada");
    }
}
