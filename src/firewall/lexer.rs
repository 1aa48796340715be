//! Tokens of nft syntax, each with the line and column it starts at.

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// A bare word: keywords, names, numbers, addresses, prefixes, ranges (`a-b`).
    Word(String),
    /// A quoted string, without its quotes.
    Str(String),
    /// One of `{ } ( ) ; , | & @ $ =` and the two-character `==`, `!=`.
    Punct(&'static str),
    Newline,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub line: u32,
    pub col: u32,
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
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
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
            '=' | '!' if chars.get(i + 1) == Some(&'=') => {
                push(&mut out, Tok::Punct(if c == '=' { "==" } else { "!=" }));
                i += 2;
                col += 2;
                continue;
            }
            '{' | '}' | '(' | ')' | ';' | ',' | '|' | '&' | '@' | '$' | '=' => {
                let p = match c {
                    '{' => "{",
                    '}' => "}",
                    '(' => "(",
                    ')' => ")",
                    ';' => ";",
                    ',' => ",",
                    '|' => "|",
                    '&' => "&",
                    '@' => "@",
                    '$' => "$",
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
