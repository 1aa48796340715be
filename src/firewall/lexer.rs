//! Tokens of nft syntax, each with the line and column it starts at.

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// A bare word: keywords, names, numbers, addresses, prefixes, ranges (`a-b`).
    Word(String),
    /// A quoted string, without its quotes.
    Str(String),
    /// One of `{ } ( ) ; , | & @ $ = ! < > +` and the two-character `==`, `!=`, `<=`, `>=`.
    Punct(&'static str),
    Newline,
    /// A line `# disabled: RULE` (as packetlab saves a rule toggled off): the rule's tokens
    /// follow, up to the end of the line.
    Disabled,
}

/// How a saved ruleset marks a rule that was toggled off.
pub const DISABLED_PREFIX: &str = "# disabled: ";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub line: u32,
    pub col: u32,
    /// Which file it comes from: 0 the ruleset's own, others its includes.
    pub file: u16,
}

#[derive(Debug, PartialEq, Eq)]
pub struct LexError {
    pub line: u32,
    pub col: u32,
    pub msg: String,
}

fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '/' | '-' | '_' | '*' | '[' | ']')
}

pub fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let mut out = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let (mut i, mut line, mut col) = (0, 1u32, 1u32);
    while i < chars.len() {
        let c = chars[i];
        let (l0, c0) = (line, col);
        let push = |out: &mut Vec<Token>, tok| {
            out.push(Token {
                tok,
                line: l0,
                col: c0,
                file: 0,
            })
        };
        match c {
            '\n' => {
                push(&mut out, Tok::Newline);
                i += 1;
                line += 1;
                col = 1;
                continue;
            }
            ' ' | '\t' | '\r' => {}
            '\\' if chars.get(i + 1) == Some(&'\n') => {
                // A continued line: the newline does not end the rule.
                i += 2;
                line += 1;
                col = 1;
                continue;
            }
            '#' => {
                let start = i;
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                let first_on_line = out.last().is_none_or(|t: &Token| t.line != line);
                let comment: String = chars[start..i].iter().collect();
                if let Some(rule) = comment
                    .strip_prefix(DISABLED_PREFIX)
                    .filter(|_| first_on_line)
                {
                    // A disabled rule is lexed as a rule; if it does not lex, it is a comment.
                    let skip = DISABLED_PREFIX.chars().count() as u32;
                    if let Ok(toks) = lex(rule) {
                        push(&mut out, Tok::Disabled);
                        out.extend(toks.into_iter().map(|t| Token {
                            col: t.col + c0 - 1 + skip,
                            line: l0,
                            ..t
                        }));
                    }
                }
                col += (i - start) as u32;
                continue;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                col += 1;
                loop {
                    match chars.get(i) {
                        None | Some('\n') => {
                            return Err(LexError {
                                line: l0,
                                col: c0,
                                msg: "unterminated string".into(),
                            })
                        }
                        Some('"') => break,
                        Some(&ch) => s.push(ch),
                    }
                    i += 1;
                    col += 1;
                }
                push(&mut out, Tok::Str(s));
            }
            '=' | '!' | '<' | '>' if chars.get(i + 1) == Some(&'=') => {
                let p = match c {
                    '=' => "==",
                    '!' => "!=",
                    '<' => "<=",
                    _ => ">=",
                };
                push(&mut out, Tok::Punct(p));
                i += 2;
                col += 2;
                continue;
            }
            '{' | '}' | '(' | ')' | ';' | ',' | '|' | '&' | '^' | '@' | '$' | '=' | '!' | '<'
            | '>' | '+' => {
                let p = match c {
                    '{' => "{",
                    '}' => "}",
                    '(' => "(",
                    ')' => ")",
                    ';' => ";",
                    ',' => ",",
                    '|' => "|",
                    '&' => "&",
                    '^' => "^",
                    '@' => "@",
                    '$' => "$",
                    '!' => "!",
                    '<' => "<",
                    '>' => ">",
                    '+' => "+",
                    _ => "=",
                };
                push(&mut out, Tok::Punct(p));
            }
            c if word_char(c) => {
                let mut s = String::new();
                while i < chars.len() && word_char(chars[i]) {
                    s.push(chars[i]);
                    i += 1;
                    col += 1;
                }
                push(&mut out, Tok::Word(s));
                continue;
            }
            other => {
                return Err(LexError {
                    line,
                    col,
                    msg: format!("unexpected character {other:?}"),
                })
            }
        }
        i += 1;
        col += 1;
    }
    Ok(out)
}
