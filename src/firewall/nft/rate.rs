//! The rate models of the rule grammar: `limit rate`, `quota`, and per-key meters
//! (`meter`/`add @set`/`update @set { key limit … }`).

use crate::firewall::lexer::Tok;
use crate::firewall::model::*;

use super::cursor::{Parser, R};

impl Parser {
    /// `limit rate [over] N/unit [burst M packets]`, `limit rate [over] N kbytes/second
    /// [burst M kbytes]` (after `limit`).
    pub(super) fn limit(&mut self) -> R<Approx> {
        if self.eat_word("name") {
            return self.unsupported("named limit objects");
        }
        self.expect_word("rate")?;
        let over = self.eat_word("over");
        let at = self.pos;
        let w = self.word("a rate")?;
        // `10/second` is one word; `1 mbytes/second` two.
        let (num, unit) = match w.split_once('/') {
            Some((n, u)) => (n.to_string(), u.to_string()),
            None => {
                let u = self.word("a unit")?;
                (w.clone(), u)
            }
        };
        let (bytes, mult, per) = match unit.split_once('/') {
            Some((b, per)) => (true, byte_mult(b), per.to_string()),
            None => (false, Some(1), unit.clone()),
        };
        // Errors point at the rate.
        self.pos = self.pos.max(at + 1);
        let end = self.pos;
        self.pos = at;
        let n: f64 = num
            .parse()
            .or_else(|_| self.err(format!("'{num}' is not a rate")))?;
        let Some(mult) = mult else {
            return self.err(format!("'{unit}' is not a rate unit"));
        };
        let Some(secs) = time_unit(&per) else {
            return self.err(format!("'{per}' is not a time unit"));
        };
        self.pos = end;
        let per_s = n * mult as f64 / secs;
        let mut burst = if bytes { 0.0 } else { 5.0 };
        if self.eat_word("burst") {
            let b: f64 = self.number()? as f64;
            let unit = self.peek_word().map(str::to_string);
            let m = match unit.as_deref() {
                Some("packets") => {
                    self.pos += 1;
                    1
                }
                Some(u) => match byte_mult(u) {
                    Some(m) => {
                        self.pos += 1;
                        m
                    }
                    None => 1,
                },
                None => 1,
            };
            burst = b * m as f64;
        }
        if bytes && burst == 0.0 {
            burst = per_s;
        }
        Ok(Approx::Limit {
            over,
            per_s,
            burst,
            bytes,
        })
    }

    /// `quota [over|until] N unit [used M unit]` (after `quota`).
    pub(super) fn quota(&mut self) -> R<Approx> {
        if self.eat_word("name") {
            return self.unsupported("named quota objects");
        }
        let over = self.eat_word("over");
        self.eat_word("until");
        let n = self.number()?;
        let u = self.word("a byte unit")?;
        let Some(m) = byte_mult(&u) else {
            self.pos -= 1;
            return self.err(format!("'{u}' is not a byte unit"));
        };
        if self.eat_word("used") {
            self.number()?;
            self.word("a byte unit")?;
        }
        Ok(Approx::Quota { over, bytes: n * m })
    }

    /// `{ KEY [timeout T] [STATEMENT] }` of a meter or a set update: the key's own instance of
    /// the statement.
    pub(super) fn keyed_block(&mut self) -> R<Approx> {
        self.expect_punct("{")?;
        let mut key = Vec::new();
        loop {
            let w = self.word("a key")?;
            key.push(self.selector(&w)?);
            if !self.eat_word(".") {
                break;
            }
        }
        let mut inner = None;
        loop {
            match self.peek_word() {
                Some("timeout") => {
                    self.pos += 1;
                    self.word("a time")?;
                }
                Some("counter") => {
                    self.pos += 1;
                }
                Some("limit") => {
                    self.pos += 1;
                    inner = Some(Box::new(self.limit()?));
                }
                Some("quota") => {
                    self.pos += 1;
                    inner = Some(Box::new(self.quota()?));
                }
                Some("ct") if self.peek_at(1) == Some(&Tok::Word("count".into())) => {
                    self.pos += 2;
                    let over = self.eat_word("over");
                    let n = self.number()?;
                    inner = Some(Box::new(Approx::CtCount { over, n }));
                }
                _ => break,
            }
        }
        self.expect_punct("}")?;
        Ok(Approx::PerKey { key, inner })
    }
}

/// Bytes per unit of `bytes`, `kbytes`, `mbytes`.
pub(super) fn byte_mult(u: &str) -> Option<u64> {
    Some(match u {
        "bytes" => 1,
        "kbytes" => 1024,
        "mbytes" => 1024 * 1024,
        "gbytes" => 1024 * 1024 * 1024,
        _ => return None,
    })
}

pub(super) fn time_unit(u: &str) -> Option<f64> {
    Some(match u {
        "second" => 1.0,
        "minute" => 60.0,
        "hour" => 3600.0,
        "day" => 86400.0,
        "week" => 7.0 * 86400.0,
        _ => return None,
    })
}
