//! The token cursor every part of the grammar reads through: looking ahead, taking words and
//! punctuation, skipping what is not simulated, `$VAR` splicing, and errors at the cursor.

use std::collections::HashMap;

use crate::firewall::lexer::{Tok, Token};
use crate::firewall::model::Value;
use crate::firewall::syntax::{ParseError, Source};

pub(super) struct Parser {
    pub(super) toks: Vec<Token>,
    pub(super) pos: usize,
    pub(super) files: Vec<Source>,
    pub(super) defines: HashMap<String, Vec<Token>>,
    /// `define`s in file order, as written: kept in the ruleset for saving.
    pub(super) define_texts: Vec<(String, String)>,
    /// A variable was given another value or undefined: `$NAME` no longer names one value.
    pub(super) redefined: bool,
    /// The `comment`s of the elements the last `elements` read, by element (kept by named
    /// sets, so `--save` writes them back).
    pub(super) element_comments: Vec<(Value, String)>,
}

pub(super) type R<T> = Result<T, ParseError>;

/// Tokens back to text: for defines and the statements kept as written.
pub(super) fn render(toks: &[Token]) -> String {
    let mut out = String::new();
    for (i, t) in toks.iter().enumerate() {
        let piece = match &t.tok {
            Tok::Word(w) => w.clone(),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::Punct(p) => p.to_string(),
            // A line break separates declarations: `;` on one line (not inside a list).
            Tok::Newline => {
                let next = toks[i + 1..].iter().find(|t| t.tok != Tok::Newline);
                let closes = next.is_none_or(|t| matches!(t.tok, Tok::Punct("}" | ",")));
                if out.is_empty() || out.ends_with(['{', ',', ';']) || closes {
                    continue;
                }
                ";".to_string()
            }
            Tok::Disabled => continue,
        };
        let glue = out.is_empty()
            || out.ends_with(['@', '$', '('])
            || matches!(piece.as_str(), "," | ")" | ";");
        if !glue {
            out.push(' ');
        }
        out.push_str(&piece);
    }
    out
}

impl Parser {
    pub(super) fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    pub(super) fn peek_at(&self, k: usize) -> Option<&Tok> {
        self.toks.get(self.pos + k).map(|t| &t.tok)
    }

    pub(super) fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }

    pub(super) fn here(&self) -> (u32, u32) {
        match self.toks.get(self.pos).or(self.toks.last()) {
            Some(t) => (t.line, t.col),
            None => (1, 1),
        }
    }

    pub(super) fn file_name(&self) -> String {
        let f = self
            .toks
            .get(self.pos)
            .or(self.toks.last())
            .map(|t| t.file)
            .unwrap_or(0);
        self.files[f as usize].name.clone()
    }

    pub(super) fn err<T>(&self, msg: impl Into<String>) -> R<T> {
        let (line, col) = self.here();
        Err(ParseError {
            file: self.file_name(),
            line,
            col,
            msg: msg.into(),
        })
    }

    pub(super) fn unsupported<T>(&self, what: &str) -> R<T> {
        self.err(format!("unsupported: {what}"))
    }

    pub(super) fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.tok.clone());
        self.pos += 1;
        t
    }

    /// Replaces `$NAME` at the current position by the define's tokens. Returns the name.
    pub(super) fn splice_var(&mut self) -> R<Option<String>> {
        if self.peek() != Some(&Tok::Punct("$")) {
            return Ok(None);
        }
        let Some(Tok::Word(name)) = self.peek_at(1).cloned() else {
            return self.err("expected a variable name after '$'");
        };
        if let Some(value) = self.defines.get(&name).cloned() {
            self.toks.splice(self.pos..self.pos + 2, value);
            return Ok(Some(name));
        }
        // `$ADDR:22` (as in `dnat to $ADDR:22`): the lexer keeps `:` inside words for IPv6
        // addresses, so the name ends at the first `:`; a one-word value is joined to the rest.
        if let Some((head, rest)) = name.split_once(':') {
            if let Some([t]) = self.defines.get(head).map(Vec::as_slice) {
                if let Tok::Word(v) = &t.tok {
                    // Placed where the `$` is, so an error in it points there.
                    let at = &self.toks[self.pos];
                    let joined = Token {
                        tok: Tok::Word(format!("{v}:{rest}")),
                        line: at.line,
                        col: at.col,
                        file: at.file,
                    };
                    self.toks.splice(self.pos..self.pos + 2, [joined]);
                    return Ok(Some(head.to_string()));
                }
            }
        }
        self.err(format!("undefined variable '${name}'"))
    }

    pub(super) fn word(&mut self, what: &str) -> R<String> {
        self.splice_var()?;
        match self.peek() {
            Some(Tok::Word(w)) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            Some(Tok::Str(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => self.err(format!("expected {what}")),
        }
    }

    pub(super) fn expect_word(&mut self, w: &str) -> R<()> {
        if self.peek_word() == Some(w) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(format!("expected '{w}'"))
        }
    }

    pub(super) fn eat_word(&mut self, w: &str) -> bool {
        if self.peek_word() == Some(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn eat_punct(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(q)) if *q == p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn expect_punct(&mut self, p: &str) -> R<()> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            self.err(format!("expected '{p}'"))
        }
    }

    pub(super) fn skip_newlines(&mut self) {
        while self.peek() == Some(&Tok::Newline) {
            self.pos += 1;
        }
    }

    /// Skips blank statements, and `# disabled:` rules where no rule can be (they are comments
    /// there).
    pub(super) fn skip_separators(&mut self) {
        loop {
            match self.peek() {
                Some(Tok::Newline) | Some(Tok::Punct(";")) => self.pos += 1,
                Some(Tok::Disabled) => self.skip_line(),
                _ => return,
            }
        }
    }

    /// Skips to the end of the line (not past its newline).
    pub(super) fn skip_line(&mut self) {
        while !matches!(self.peek(), None | Some(Tok::Newline)) {
            self.pos += 1;
        }
    }

    /// Skips the rest of a statement: to its newline, `;` or the `}` closing its block,
    /// passing over `{ … }` groups whole.
    pub(super) fn skip_statement(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return,
                Some(Tok::Newline | Tok::Punct(";")) if depth == 0 => return,
                Some(Tok::Punct("}")) if depth == 0 => return,
                Some(Tok::Punct("{")) => depth += 1,
                Some(Tok::Punct("}")) => depth -= 1,
                _ => {}
            }
            self.pos += 1;
        }
    }

    /// Skips a `{ … }` block (at its `{`), returning its tokens.
    pub(super) fn skip_block(&mut self) -> R<Vec<Token>> {
        let start = self.pos;
        self.expect_punct("{")?;
        let mut depth = 1usize;
        while depth > 0 {
            match self.next() {
                None => return self.err("missing '}'"),
                Some(Tok::Punct("{")) => depth += 1,
                Some(Tok::Punct("}")) => depth -= 1,
                _ => {}
            }
        }
        Ok(self.toks[start..self.pos].to_vec())
    }

    /// Moves to the end of the statement (not past it), over tokens kept as written.
    pub(super) fn skip_rest(&mut self) {
        while !self.at_end_of_statement() {
            self.pos += 1;
        }
    }

    pub(super) fn at_end_of_statement(&self) -> bool {
        matches!(
            self.peek(),
            None | Some(Tok::Newline) | Some(Tok::Punct(";")) | Some(Tok::Punct("}"))
        )
    }
}
