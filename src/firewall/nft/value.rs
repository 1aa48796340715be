//! The value vocabulary: one value of a kind (an address, a port or service name, a flag, a
//! state), flag expressions, set elements and verdict-map entries, and the kinds of set types.

use crate::firewall::lexer::{Tok, Token};
use crate::firewall::model::*;
use crate::firewall::names;
use crate::firewall::syntax::{parse_addr, ParseError};

use super::cursor::{Parser, R};

impl Parser {
    pub(super) fn number(&mut self) -> R<u64> {
        let w = self.word("a number")?;
        w.parse().or_else(|_| {
            self.pos -= 1;
            self.err(format!("'{w}' is not a number"))
        })
    }

    /// The counts after `counter` as `nft list` prints them and people copy them:
    /// `packets N bytes M`, either alone, in either order, or none. They are not kept.
    pub(super) fn counts(&mut self) -> R<()> {
        while self.eat_word("packets") || self.eat_word("bytes") {
            self.number()?;
        }
        Ok(())
    }

    /// Set elements up to the closing `}` (already past the `{`), each `key [: verdict]`, with
    /// the per-element options (`timeout`, `expires`, `comment`, `counter …`) passed over.
    /// A `$var` holding a set is spliced in flat.
    #[allow(clippy::type_complexity)]
    pub(super) fn elements(
        &mut self,
        kinds: &[Kind],
        map: bool,
    ) -> R<(Vec<Value>, Option<Vec<Verdict>>)> {
        self.elements_of(kinds, map, false)
    }

    /// `elements`, where a map's verdicts may be left out (`delete element … { 22 }`).
    #[allow(clippy::type_complexity)]
    pub(super) fn elements_of(
        &mut self,
        kinds: &[Kind],
        map: bool,
        keys_only: bool,
    ) -> R<(Vec<Value>, Option<Vec<Verdict>>)> {
        let mut els = Vec::new();
        let mut verdicts = map.then(Vec::new);
        self.element_comments.clear();
        let mut depth = 0usize;
        loop {
            self.skip_newlines();
            self.splice_var()?;
            if self.eat_punct("{") {
                depth += 1;
                continue;
            }
            if self.eat_punct("}") {
                if depth == 0 {
                    return Ok((els, verdicts));
                }
                depth -= 1;
                self.skip_newlines();
                self.eat_punct(",");
                continue;
            }
            if self.eat_punct(",") {
                continue;
            }
            els.push(self.element(kinds, map)?);
            loop {
                match self.peek_word() {
                    Some("timeout" | "expires") => {
                        self.pos += 1;
                        self.word("a time")?;
                    }
                    Some("comment") => {
                        self.pos += 1;
                        let c = self.word("a comment")?;
                        if let Some(v) = els.last() {
                            self.element_comments.push((Value::clone(v), c));
                        }
                    }
                    Some("counter") => {
                        self.pos += 1;
                        self.counts()?;
                    }
                    _ => break,
                }
            }
            if let Some(v) = verdicts.as_mut() {
                if self.eat_word(":") {
                    v.push(self.verdict_word()?);
                } else if keys_only {
                    v.push(Verdict::Continue);
                } else {
                    return self.err("expected ':' and a verdict");
                }
            }
            self.skip_newlines();
            if !self.eat_punct(",") {
                self.skip_newlines();
                if !matches!(self.peek(), Some(Tok::Punct("}"))) {
                    return self.err("expected ',' or '}'");
                }
            }
        }
    }

    /// `established: accept` and `22:accept` in a map: the colon glued to a word (which the
    /// lexer keeps whole, for IPv6 addresses) is taken apart.
    pub(super) fn split_colon(&mut self) {
        let Some(Tok::Word(w)) = self.peek().cloned() else {
            return;
        };
        let Some(i) = w.rfind(':') else { return };
        let (key, rest) = (&w[..i], &w[i + 1..]);
        let verdict = |v: &str| {
            matches!(
                v,
                "accept" | "drop" | "continue" | "return" | "jump" | "goto"
            )
        };
        if key.is_empty() || key.ends_with(':') || !(rest.is_empty() || verdict(rest)) {
            return;
        }
        let at = self.toks[self.pos].clone();
        let mut parts = vec![
            Token {
                tok: Tok::Word(key.to_string()),
                ..at.clone()
            },
            Token {
                tok: Tok::Word(":".into()),
                ..at.clone()
            },
        ];
        if !rest.is_empty() {
            parts.push(Token {
                tok: Tok::Word(rest.to_string()),
                ..at
            });
        }
        self.toks.splice(self.pos..self.pos + 1, parts);
    }

    /// One element: a value, or a concatenation `a . b` when there are several kinds.
    pub(super) fn element(&mut self, kinds: &[Kind], map: bool) -> R<Value> {
        if kinds.len() <= 1 {
            if map {
                self.split_colon();
            }
            return self.value(kinds.first().copied().unwrap_or(Kind::Int));
        }
        let mut parts = Vec::with_capacity(kinds.len());
        for (i, k) in kinds.iter().enumerate() {
            if i > 0 && !self.eat_word(".") {
                return self.err("expected '.' between the parts of a concatenation");
            }
            if map {
                self.split_colon();
            }
            parts.push(self.value(*k)?);
        }
        Ok(Value::Concat(parts))
    }

    pub(super) fn verdict_word(&mut self) -> R<Verdict> {
        let w = self.word("a verdict")?;
        Ok(match w.as_str() {
            "accept" => Verdict::Accept,
            "drop" => Verdict::Drop,
            "continue" => Verdict::Continue,
            "return" => Verdict::Return,
            "jump" => Verdict::Jump(self.word("a chain name")?),
            "goto" => Verdict::Goto(self.word("a chain name")?),
            other => {
                self.pos -= 1;
                const VERDICTS: [&str; 7] = [
                    "accept", "drop", "continue", "return", "jump", "goto", "queue",
                ];
                if super::words::is_keyword_like(other) && !VERDICTS.contains(&other) {
                    return self.err(super::words::unknown_word(other, VERDICTS));
                }
                return self.unsupported(&format!("verdict '{other}' in a map"));
            }
        })
    }

    pub(super) fn flag_expr(&mut self, kind: Kind) -> R<u64> {
        let paren = self.eat_punct("(");
        let mut bits = 0;
        loop {
            match self.value(kind)? {
                Value::Int(n) => bits |= n,
                _ => return self.err("expected a flag"),
            }
            if !(self.eat_punct("|") || self.eat_punct(",")) {
                break;
            }
        }
        if paren {
            self.expect_punct(")")?;
        }
        Ok(bits)
    }

    pub(super) fn value(&mut self, kind: Kind) -> R<Value> {
        self.splice_var()?;
        let (line, col) = self.here();
        let w = match self.next() {
            Some(Tok::Word(w)) => w,
            Some(Tok::Str(s)) if kind == Kind::Name => return Ok(Value::Name(s)),
            // nft reads a quoted value as the word inside (`ip daddr "10.0.0.1"`).
            Some(Tok::Str(s)) => s,
            _ => {
                self.pos -= 1;
                return self.err(format!("expected {}", kind.what()));
            }
        };
        let bad = |msg: String| ParseError {
            file: self.file_name(),
            line,
            col,
            msg,
        };
        match kind {
            Kind::Name => Ok(Value::Name(w)),
            Kind::Addr => parse_addr(&w)
                .ok_or_else(|| bad(format!("'{w}' is not an address, prefix or range"))),
            Kind::Hour | Kind::Day | Kind::Date => crate::firewall::clock::value(kind, &w)
                .map(Value::Int)
                .ok_or_else(|| bad(format!("'{w}' is not {}", kind.what()))),
            _ => {
                let one = |s: &str| -> Option<u64> {
                    match s.strip_prefix("0x") {
                        Some(hex) => u64::from_str_radix(hex, 16).ok(),
                        None => s.parse::<u64>().ok().or_else(|| names::lookup(kind, s)),
                    }
                };
                if let Some(n) = one(&w) {
                    return Ok(Value::Int(n));
                }
                if let Some((a, b)) = w.split_once('-') {
                    if let (Some(a), Some(b)) = (one(a), one(b)) {
                        return Ok(Value::IntRange(a.min(b), a.max(b)));
                    }
                }
                Err(bad(format!("'{w}' is not {}", kind.what())))
            }
        }
    }
}

/// The kind of a set's `type` word.
pub(super) fn kind_of_type(t: &str) -> Kind {
    match t {
        "ipv4_addr" | "ipv6_addr" => Kind::Addr,
        "inet_service" => Kind::Port,
        "inet_proto" => Kind::Proto,
        "ifname" => Kind::Name,
        "mark" | "integer" => Kind::Int,
        "ct_state" => Kind::CtState,
        "icmp_type" => Kind::IcmpType,
        "icmpv6_type" => Kind::Icmpv6Type,
        "icmp_code" => Kind::IcmpCode,
        "icmpv6_code" => Kind::Icmpv6Code,
        "nf_proto" => Kind::Nfproto,
        "pkt_type" => Kind::Pkttype,
        _ => Kind::Other,
    }
}

/// The kinds of a kept set's type text (`type ipv4_addr . inet_service`).
pub(super) fn kinds_of_type(ty: &str) -> Vec<Kind> {
    ty.split_whitespace()
        .skip(1)
        .filter(|w| *w != ".")
        .take_while(|w| *w != ":")
        .map(kind_of_type)
        .collect()
}
