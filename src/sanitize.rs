//! Text from the wire is made harmless before it reaches a terminal: control characters
//! (ESC above all, which starts terminal escape sequences) become visible escapes.

use std::borrow::Cow;

/// Replaces every control character (C0, DEL, C1) with a visible `\xNN` / `\u{..}` escape.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            if (c as u32) < 0x100 {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_become_visible_text() {
        assert_eq!(sanitize("ok"), "ok");
        assert_eq!(sanitize("\x1b[2Jboom\x07"), "\\x1b[2Jboom\\x07");
        assert_eq!(sanitize("a\u{9b}b"), "a\\x9bb");
        assert_eq!(sanitize("tab\there"), "tab\\x09here");
        assert_eq!(sanitize("rtl\u{202e}x"), "rtl\\u{202e}x");
    }
}
