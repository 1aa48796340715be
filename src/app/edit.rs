//! The one-line editor behind the display-filter bar, the rule editor and the sessions filter:
//! typing and Backspace change the text; Enter and Esc, and any other key, go back to the caller
//! to decide.

use crossterm::event::KeyCode;

/// What a key did to the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKey {
    /// The text changed (a character typed or one erased).
    Changed,
    Submit,
    Cancel,
    /// Not an editing key: the caller's to handle (history, …) or to ignore.
    Other(KeyCode),
}

pub fn line_key(text: &mut String, code: KeyCode) -> LineKey {
    match code {
        KeyCode::Char(c) => {
            text.push(c);
            LineKey::Changed
        }
        KeyCode::Backspace => {
            text.pop();
            LineKey::Changed
        }
        KeyCode::Enter => LineKey::Submit,
        KeyCode::Esc => LineKey::Cancel,
        other => LineKey::Other(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_erasing_and_the_keys_left_to_the_caller() {
        let mut t = String::new();
        for c in "ab".chars() {
            assert_eq!(line_key(&mut t, KeyCode::Char(c)), LineKey::Changed);
        }
        assert_eq!(line_key(&mut t, KeyCode::Backspace), LineKey::Changed);
        assert_eq!(t, "a");
        assert_eq!(line_key(&mut t, KeyCode::Enter), LineKey::Submit);
        assert_eq!(line_key(&mut t, KeyCode::Esc), LineKey::Cancel);
        assert_eq!(line_key(&mut t, KeyCode::Up), LineKey::Other(KeyCode::Up));
        assert_eq!(t, "a", "only typing and Backspace change the text");
    }
}
