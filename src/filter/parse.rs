//! The display-filter text → [`Expr`]: a lexer and a recursive-descent parser, every error
//! placed at the character where the problem is.
//!
//! ```text
//! or      := and (("||" | "or") and)*
//! and     := unary (("&&" | "and") unary)*
//! unary   := ("!" | "not") unary | "(" or ")" | test
//! test    := NAME [cmp value | "contains" value | "in" "{" elem ([","] elem)* "}"]
//! elem    := value [".." value]
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::firewall::model::Value;

use super::expr::{Expr, FilterError, Test};
use super::fields::{self, Kind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn text(self) -> &'static str {
        match self {
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    /// A name or a bare value: letters, digits and `. : / _ -`.
    Word(String),
    Str(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Range,
    And,
    Or,
    Not,
    Cmp(Cmp),
    Contains,
    In,
    End,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    /// Char offset of its first character.
    pos: usize,
}

fn err<T>(pos: usize, msg: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError {
        pos,
        msg: msg.into(),
    })
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | ':' | '/' | '_' | '-')
}

fn lex(text: &str) -> Result<Vec<Token>, FilterError> {
    let cs: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        let next = cs.get(i + 1).copied();
        let pos = i;
        let mut push = |tok, len: usize| {
            out.push(Token { tok, pos });
            len
        };
        i += match (c, next) {
            (c, _) if c.is_whitespace() => 1,
            ('(', _) => push(Tok::LParen, 1),
            (')', _) => push(Tok::RParen, 1),
            ('{', _) => push(Tok::LBrace, 1),
            ('}', _) => push(Tok::RBrace, 1),
            (',', _) => push(Tok::Comma, 1),
            ('&', Some('&')) => push(Tok::And, 2),
            ('|', Some('|')) => push(Tok::Or, 2),
            ('=', Some('=')) => push(Tok::Cmp(Cmp::Eq), 2),
            ('!', Some('=')) => push(Tok::Cmp(Cmp::Ne), 2),
            ('<', Some('=')) => push(Tok::Cmp(Cmp::Le), 2),
            ('>', Some('=')) => push(Tok::Cmp(Cmp::Ge), 2),
            ('<', _) => push(Tok::Cmp(Cmp::Lt), 1),
            ('>', _) => push(Tok::Cmp(Cmp::Gt), 1),
            ('!', _) => push(Tok::Not, 1),
            ('=', _) => return err(pos, "'=' is not an operator: use '=='"),
            ('&', _) => return err(pos, "'&' is not an operator: use '&&'"),
            ('|', _) => return err(pos, "'|' is not an operator: use '||'"),
            ('"', _) => {
                let (s, len) = string(&cs, i)?;
                push(Tok::Str(s), len)
            }
            (c, _) if is_word_char(c) => {
                let mut j = i;
                while j < cs.len() && is_word_char(cs[j]) {
                    j += 1;
                }
                let word: String = cs[i..j].iter().collect();
                words(&mut out, &word, i);
                j - i
            }
            (c, _) => return err(pos, format!("unexpected character '{c}'")),
        };
    }
    out.push(Token {
        tok: Tok::End,
        pos: cs.len(),
    });
    Ok(out)
}

/// A run of word characters: keywords, and values split at `..` (`8000..8080`).
fn words(out: &mut Vec<Token>, word: &str, pos: usize) {
    let mut at = pos;
    for (k, part) in word.split("..").enumerate() {
        if k > 0 {
            out.push(Token {
                tok: Tok::Range,
                pos: at,
            });
            at += 2;
        }
        if !part.is_empty() {
            let tok = match part {
                "and" => Tok::And,
                "or" => Tok::Or,
                "not" => Tok::Not,
                "eq" => Tok::Cmp(Cmp::Eq),
                "ne" => Tok::Cmp(Cmp::Ne),
                "lt" => Tok::Cmp(Cmp::Lt),
                "le" => Tok::Cmp(Cmp::Le),
                "gt" => Tok::Cmp(Cmp::Gt),
                "ge" => Tok::Cmp(Cmp::Ge),
                "contains" => Tok::Contains,
                "in" => Tok::In,
                w => Tok::Word(w.to_string()),
            };
            out.push(Token { tok, pos: at });
        }
        at += part.chars().count();
    }
}

/// A double-quoted string starting at `cs[start]`: its value and its length in chars.
fn string(cs: &[char], start: usize) -> Result<(String, usize), FilterError> {
    let mut s = String::new();
    let mut i = start + 1;
    loop {
        match cs.get(i) {
            None => return err(start, "unterminated string"),
            Some('"') => return Ok((s, i + 1 - start)),
            Some('\\') => {
                let c = match cs.get(i + 1) {
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some('r') => '\r',
                    Some('0') => '\0',
                    Some(c @ ('\\' | '"')) => *c,
                    Some('x') => {
                        let hex: String = cs.iter().skip(i + 2).take(2).collect();
                        match u8::from_str_radix(&hex, 16) {
                            Ok(b) if hex.len() == 2 => {
                                i += 2;
                                b as char
                            }
                            _ => return err(i, "'\\x' needs two hex digits"),
                        }
                    }
                    Some(c) => return err(i, format!("unknown escape '\\{c}'")),
                    None => return err(start, "unterminated string"),
                };
                s.push(c);
                i += 2;
            }
            Some(c) => {
                s.push(*c);
                i += 1;
            }
        }
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("'{w}'"),
        Tok::Str(s) => format!("\"{s}\""),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::LBrace => "'{'".into(),
        Tok::RBrace => "'}'".into(),
        Tok::Comma => "','".into(),
        Tok::Range => "'..'".into(),
        Tok::And => "'&&'".into(),
        Tok::Or => "'||'".into(),
        Tok::Not => "'!'".into(),
        Tok::Cmp(c) => format!("'{}'", c.text()),
        Tok::Contains => "'contains'".into(),
        Tok::In => "'in'".into(),
        Tok::End => "the end".into(),
    }
}

struct Parser {
    toks: Vec<Token>,
    at: usize,
}

pub(super) fn parse(text: &str) -> Result<Expr, FilterError> {
    let toks = lex(text)?;
    if toks.len() == 1 {
        return Ok(Expr::All);
    }
    let mut p = Parser { toks, at: 0 };
    let e = p.or()?;
    let t = p.peek();
    match t.tok {
        Tok::End => Ok(e),
        Tok::RParen => err(t.pos, "unmatched ')'"),
        ref other => err(
            t.pos,
            format!("expected '&&', '||' or the end, found {}", describe(other)),
        ),
    }
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.toks[self.at]
    }

    fn next(&mut self) -> Token {
        let t = self.toks[self.at].clone();
        if t.tok != Tok::End {
            self.at += 1;
        }
        t
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut e = self.and()?;
        while self.peek().tok == Tok::Or {
            self.next();
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut e = self.unary()?;
        while self.peek().tok == Tok::And {
            self.next();
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        let t = self.next();
        match t.tok {
            Tok::Not => Ok(Expr::Not(Box::new(self.unary()?))),
            Tok::LParen => {
                let e = self.or()?;
                let close = self.next();
                match close.tok {
                    Tok::RParen => Ok(e),
                    other => err(
                        close.pos,
                        format!(
                            "expected ')' to close the '(' at col {}, found {}",
                            t.pos + 1,
                            describe(&other)
                        ),
                    ),
                }
            }
            Tok::Word(name) => self.test(&name, t.pos),
            Tok::End => err(t.pos, "expected a field, a protocol or '('"),
            other => err(
                t.pos,
                format!(
                    "expected a field, a protocol or '(', found {}",
                    describe(&other)
                ),
            ),
        }
    }

    fn test(&mut self, name: &str, pos: usize) -> Result<Expr, FilterError> {
        let op = self.peek().clone();
        let is_op = matches!(op.tok, Tok::Cmp(_) | Tok::Contains | Tok::In);
        if let Some(layer) = fields::layer(name) {
            if !is_op {
                return Ok(Expr::Layer(layer));
            }
            if name == "frame" && op.tok == Tok::Contains {
                self.next();
                return Ok(Expr::FrameContains(self.bytes()?));
            }
            return err(
                op.pos,
                format!("'{name}' is a protocol: it can only be tested for presence"),
            );
        }
        let Some((field, kind)) = fields::field(name) else {
            return err(pos, format!("unknown field '{name}'"));
        };
        if !is_op {
            return Ok(Expr::Present(field));
        }
        self.next();
        let test = match op.tok {
            Tok::Contains => {
                if kind != Kind::Str {
                    return err(
                        op.pos,
                        format!("'contains' needs a text field; '{name}' is not one"),
                    );
                }
                Test::StrContains(self.text_value()?)
            }
            Tok::In => self.set(name, kind)?,
            Tok::Cmp(c) => self.compare(name, kind, c, op.pos)?,
            _ => unreachable!("is_op"),
        };
        Ok(Expr::Test(field, test))
    }

    /// `field <cmp> value`.
    fn compare(&mut self, name: &str, kind: Kind, c: Cmp, at: usize) -> Result<Test, FilterError> {
        if kind == Kind::Str {
            let v = self.text_value()?;
            return match c {
                Cmp::Eq => Ok(Test::StrAny(vec![v])),
                Cmp::Ne => Ok(Test::StrNone(vec![v])),
                _ => err(
                    at,
                    format!("'{name}' is text: use '==', '!=', 'contains' or 'in'"),
                ),
            };
        }
        let vpos = self.peek().pos;
        let v = self.value(kind)?;
        match c {
            Cmp::Eq => Ok(Test::Any(vec![v])),
            Cmp::Ne => Ok(Test::NoneOf(vec![v])),
            _ if matches!(kind, Kind::Verdict) => {
                err(at, "verdicts have no order: use '==', '!=' or 'in'")
            }
            _ => ordered(c, v, vpos).map(|v| Test::Any(v.into_iter().collect())),
        }
    }

    /// `field in { a, b, lo..hi }`.
    fn set(&mut self, name: &str, kind: Kind) -> Result<Test, FilterError> {
        let open = self.next();
        if open.tok != Tok::LBrace {
            return err(
                open.pos,
                format!("expected '{{' after 'in', found {}", describe(&open.tok)),
            );
        }
        let mut values = Vec::new();
        let mut texts = Vec::new();
        loop {
            let t = self.peek().clone();
            match t.tok {
                Tok::RBrace if !values.is_empty() || !texts.is_empty() => {
                    self.next();
                    break;
                }
                Tok::RBrace => return err(t.pos, "an empty set matches nothing"),
                Tok::Comma if !values.is_empty() || !texts.is_empty() => {
                    self.next();
                    continue;
                }
                Tok::End => return err(t.pos, "expected a value or '}'"),
                _ => {}
            }
            if kind == Kind::Str {
                texts.push(self.text_value()?);
                continue;
            }
            let lo = self.value(kind)?;
            if self.peek().tok != Tok::Range {
                values.push(lo);
                continue;
            }
            let dots = self.next();
            let hpos = self.peek().pos;
            let hi = self.value(kind)?;
            values.push(match (lo, hi) {
                (Value::Int(a), Value::Int(b)) if kind != Kind::Verdict => {
                    if a > b {
                        return err(hpos, "a range's end must not be below its start");
                    }
                    Value::IntRange(a, b)
                }
                (Value::Prefix(a, la), Value::Prefix(b, lb)) if la == full(a) && lb == full(b) => {
                    if a > b {
                        return err(hpos, "a range's end must not be below its start");
                    }
                    Value::AddrRange(a, b)
                }
                _ => return err(dots.pos, format!("'{name}' values cannot form a range")),
            });
        }
        Ok(if kind == Kind::Str {
            Test::StrAny(texts)
        } else {
            Test::Any(values)
        })
    }

    /// A string value: a quoted string, or a bare word taken as text.
    fn text_value(&mut self) -> Result<String, FilterError> {
        let t = self.next();
        match t.tok {
            Tok::Str(s) | Tok::Word(s) => Ok(s),
            Tok::End => err(t.pos, "expected a value"),
            other => err(
                t.pos,
                format!("expected a quoted string, found {}", describe(&other)),
            ),
        }
    }

    /// `frame contains "text"` or `frame contains 47:45:54`.
    fn bytes(&mut self) -> Result<Vec<u8>, FilterError> {
        let t = self.next();
        match t.tok {
            Tok::Str(s) => Ok(s.chars().map(|c| c as u32 as u8).collect()),
            Tok::Word(w) => hex_bytes(&w).ok_or(()).or_else(|_| {
                err(
                    t.pos,
                    format!("expected a string or bytes like 47:45:54, found '{w}'"),
                )
            }),
            Tok::End => err(t.pos, "expected a value"),
            other => err(
                t.pos,
                format!("expected a string or bytes, found {}", describe(&other)),
            ),
        }
    }

    /// One value of the field's kind, as a firewall match value.
    fn value(&mut self, kind: Kind) -> Result<Value, FilterError> {
        let t = self.next();
        let text = match t.tok {
            Tok::Word(w) | Tok::Str(w) => w,
            Tok::End => return err(t.pos, "expected a value"),
            other => {
                return err(
                    t.pos,
                    format!("expected a value, found {}", describe(&other)),
                )
            }
        };
        let bad = |what: &str| err(t.pos, format!("expected {what}, found '{text}'"));
        match kind {
            Kind::Int(max) => match int(&text) {
                Some(n) if n <= max => Ok(Value::Int(n)),
                Some(n) => err(t.pos, format!("{n} is too big (at most {max})")),
                None => bad("a number"),
            },
            Kind::Bool => match text.as_str() {
                "1" | "True" | "true" => Ok(Value::Int(1)),
                "0" | "False" | "false" => Ok(Value::Int(0)),
                _ => bad("1 or 0 (True or False)"),
            },
            Kind::Ipv4 => match prefix(&text) {
                Some((a @ IpAddr::V4(_), l)) => Ok(Value::Prefix(a, l)),
                _ => bad("an IPv4 address or CIDR"),
            },
            Kind::Ipv6 => match prefix(&text) {
                Some((a @ IpAddr::V6(_), l)) => Ok(Value::Prefix(a, l)),
                _ => bad("an IPv6 address or CIDR"),
            },
            Kind::Mac => match hex_bytes(&text) {
                Some(b) if b.len() == 6 => {
                    Ok(Value::Int(b.iter().fold(0, |acc, x| acc << 8 | *x as u64)))
                }
                _ => bad("a MAC address like 00:11:22:33:44:55"),
            },
            Kind::Verdict => match fields::verdict_of_name(&text) {
                Some(n) => Ok(Value::Int(n)),
                None => bad("accept, drop or reject"),
            },
            Kind::Str => unreachable!("strings are read by text_value"),
        }
    }
}

fn full(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        32
    } else {
        128
    }
}

/// `< <= > >=` as the range of values that satisfy it (none: nothing does).
fn ordered(c: Cmp, v: Value, pos: usize) -> Result<Option<Value>, FilterError> {
    match v {
        Value::Int(n) => Ok(match c {
            Cmp::Lt => n.checked_sub(1).map(|m| Value::IntRange(0, m)),
            Cmp::Le => Some(Value::IntRange(0, n)),
            Cmp::Gt => n.checked_add(1).map(|m| Value::IntRange(m, u64::MAX)),
            Cmp::Ge => Some(Value::IntRange(n, u64::MAX)),
            Cmp::Eq | Cmp::Ne => unreachable!("not an ordering"),
        }),
        Value::Prefix(a, l) if l == full(a) => {
            let (lo, hi, n) = match a {
                IpAddr::V4(x) => (0u128, u32::MAX as u128, u32::from(x) as u128),
                IpAddr::V6(x) => (0u128, u128::MAX, u128::from(x)),
            };
            let mk = |x: u128| match a {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(x as u32)),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(x)),
            };
            Ok(match c {
                Cmp::Lt => n.checked_sub(1).map(|m| Value::AddrRange(mk(lo), mk(m))),
                Cmp::Le => Some(Value::AddrRange(mk(lo), mk(n))),
                Cmp::Gt => (n < hi).then(|| Value::AddrRange(mk(n + 1), mk(hi))),
                Cmp::Ge => Some(Value::AddrRange(mk(n), mk(hi))),
                Cmp::Eq | Cmp::Ne => unreachable!("not an ordering"),
            })
        }
        _ => err(pos, "a prefix has no order: compare with a single address"),
    }
}

/// A number: decimal, `0x` hex, `0b` binary, or octal with a leading 0 (as Wireshark reads them).
fn int(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if let Some(b) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        u64::from_str_radix(b, 2).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else if s.chars().all(|c| c.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// An address with an optional `/len`.
fn prefix(s: &str) -> Option<(IpAddr, u8)> {
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let a: IpAddr = a.parse().ok()?;
    let len = match l {
        Some(l) => l.parse::<u8>().ok().filter(|l| *l <= full(a))?,
        None => full(a),
    };
    Some((a, len))
}

/// Bytes written as hex pairs separated by `:`, `-` or `.` (`ff:ff:ff:ff:ff:ff`), or as
/// `ffff.ffff.ffff`.
fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let groups: Vec<&str> = s.split([':', '-', '.']).collect();
    let mut out = Vec::new();
    for g in &groups {
        if g.is_empty() || g.len() % 2 != 0 || !g.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        if groups.len() > 1 && g.len() != 2 && g.len() != 4 {
            return None;
        }
        for k in (0..g.len()).step_by(2) {
            out.push(u8::from_str_radix(&g[k..k + 2], 16).ok()?);
        }
    }
    Some(out)
}
