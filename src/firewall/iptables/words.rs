//! The words of an iptables-save line, as iptables-restore splits them, and the cursor a rule
//! line is read with.

use crate::firewall::model::Value;

/// An error's column and message, before the file and line are known.
pub(super) type Pe = (u32, String);

/// One word of a line, quotes removed, with the column (1-based, in characters) it starts at.
#[derive(Clone, Debug)]
pub(super) struct Word {
    pub(super) s: String,
    pub(super) col: u32,
}

/// Splits a line into words as iptables-restore does: whitespace separates, `"…"` quotes (with
/// `\"` and `\\` inside).
pub(super) fn split(line: &str) -> Result<Vec<Word>, (u32, String)> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let col = i as u32 + 1;
        let mut s = String::new();
        while i < chars.len() && !chars[i].is_whitespace() {
            if chars[i] == '"' {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err((col, "unterminated quoted string".into())),
                        Some('"') => break,
                        Some('\\') if matches!(chars.get(i + 1), Some('"') | Some('\\')) => {
                            s.push(chars[i + 1]);
                            i += 2;
                            continue;
                        }
                        Some(&c) => s.push(c),
                    }
                    i += 1;
                }
            } else {
                s.push(chars[i]);
            }
            i += 1;
        }
        out.push(Word { s, col });
    }
    Ok(out)
}

/// The comma-separated pieces of a word, each with its column.
pub(super) fn pieces(w: &Word) -> impl Iterator<Item = (&str, u32)> {
    let mut col = w.col;
    w.s.split(',').map(move |s| {
        let c = col;
        col += s.chars().count() as u32 + 1;
        (s, c)
    })
}

pub(super) fn is_counters(s: &str) -> bool {
    s.split_once(':').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    })
}

pub(super) struct RuleParser<'a> {
    pub(super) words: &'a [Word],
    pub(super) pos: usize,
}

impl<'a> RuleParser<'a> {
    pub(super) fn peek(&self) -> Option<&'a Word> {
        self.words.get(self.pos)
    }

    pub(super) fn next(&mut self, what: &str) -> Result<&'a Word, Pe> {
        match self.words.get(self.pos) {
            Some(w) => {
                self.pos += 1;
                Ok(w)
            }
            None => {
                let end = self
                    .words
                    .last()
                    .map(|w| w.col + w.s.chars().count() as u32 + 1)
                    .unwrap_or(1);
                Err((end, format!("expected {what}")))
            }
        }
    }
}

/// Each comma-separated piece of `w` made a value by `each`, or the error at the first piece
/// that is not one.
pub(super) fn piece_values(
    w: &Word,
    each: impl Fn(&str) -> Result<Value, String>,
) -> Result<Vec<Value>, Pe> {
    pieces(w)
        .map(|(s, col)| each(s).map_err(|m| (col, m)))
        .collect()
}
