//! The stateful forms of the rule grammar: marks (`meta mark`, `ct mark`, what `… mark set`
//! gives them) and the statements that fill sets at run time (`add @s { ip saddr }`,
//! `update @s { … timeout 10s }`, `delete @s { … }`, the older `set add ip saddr @s`).

use crate::firewall::lexer::Tok;
use crate::firewall::model::*;

use super::cursor::{render, Parser, R};

/// Where a mark is read: `meta mark`, `mark`, `ct mark`.
fn mark_field(first: &str, second: Option<&str>) -> Option<(Field, usize)> {
    match (first, second) {
        ("meta", Some("mark")) => Some((Field::MetaMark, 2)),
        ("ct", Some("mark")) => Some((Field::CtMark, 2)),
        ("mark", _) => Some((Field::MetaMark, 1)),
        _ => None,
    }
}

impl Parser {
    /// A mark selector from its first word on (`meta mark`, `ct mark`, `mark`), when it is one;
    /// the cursor is past `first` and moves past the key.
    pub(super) fn mark_selector(&mut self, first: &str) -> Option<Field> {
        let (f, n) = mark_field(first, self.peek_word())?;
        self.pos += n - 1;
        Some(f)
    }

    /// `meta mark set EXPR`, `mark set EXPR`, `ct mark set EXPR` at the cursor: the effect (and
    /// the statement as written, kept to be shown). False (nothing consumed) when not one.
    pub(super) fn mark_setter(&mut self, r: &mut Rule) -> R<bool> {
        let first = match self.peek_word() {
            Some(w) => w.to_string(),
            None => return Ok(false),
        };
        let second = match self.peek_at(1) {
            Some(Tok::Word(w)) => Some(w.clone()),
            _ => None,
        };
        let Some((field, n)) = mark_field(&first, second.as_deref()) else {
            return Ok(false);
        };
        if !matches!(self.peek_at(n), Some(Tok::Word(w)) if w == "set") {
            return Ok(false);
        }
        let start = self.pos;
        self.pos += n + 1;
        let expr = self.mark_expr()?;
        let pos = r.matches.len() as u16;
        r.effects.push((
            pos,
            Effect::Mark {
                ct: field == Field::CtMark,
                expr,
            },
        ));
        r.actions
            .push(Action::Other(render(&self.toks[start..self.pos])));
        Ok(true)
    }

    /// The marks a rule's unread part (from token `from` to the cursor) may set: each makes
    /// the mark unknown once the tests before it pass.
    pub(super) fn unread_marks(&self, r: &mut Rule, from: usize) {
        let toks = &self.toks[from..self.pos];
        let word =
            |i: usize, w: &str| matches!(toks.get(i), Some(t) if t.tok == Tok::Word(w.into()));
        for i in 0..toks.len() {
            if word(i, "mark") && word(i + 1, "set") {
                let ct = i > 0 && word(i - 1, "ct");
                let expr = MarkExpr {
                    src: MarkSrc::Unknown,
                    ops: Vec::new(),
                };
                r.effects
                    .push((r.matches.len() as u16, Effect::Mark { ct, expr }));
            }
        }
    }

    /// The value after `mark set`: `0x1`, `meta mark`, `ct mark`, with `&`/`and`, `|`/`or`,
    /// `^`/`xor`, `<<`, `>>` and constants, bound as nft binds them (shifts tightest, then and,
    /// xor, or). Anything else is kept and makes the mark unknown.
    fn mark_expr(&mut self) -> R<MarkExpr> {
        let src = match self.peek_word() {
            Some("meta") if self.peek_at(1) == Some(&Tok::Word("mark".into())) => {
                self.pos += 2;
                MarkSrc::Meta
            }
            Some("mark") => {
                self.pos += 1;
                MarkSrc::Meta
            }
            Some("ct") if self.peek_at(1) == Some(&Tok::Word("mark".into())) => {
                self.pos += 2;
                MarkSrc::Ct
            }
            _ => match self.mark_const_at() {
                Some(n) => {
                    self.pos += 1;
                    MarkSrc::Const(n)
                }
                None => {
                    // `numgen inc mod 2`, `tcp dport map { … }`, `jhash …`: passed over.
                    if self.skip_args(1)? == 0 {
                        return self.err("expected a value after 'set'");
                    }
                    return Ok(MarkExpr {
                        src: MarkSrc::Unknown,
                        ops: Vec::new(),
                    });
                }
            },
        };
        // The operators and their constants, applied in order to the running value; a
        // tighter operator after one binds to its constant first (`mark | 0x3 & 0xff` is
        // `mark | (0x3 & 0xff)`).
        let mut ops = Vec::new();
        while let Some((op, n)) = self.mark_op_at() {
            self.pos += n;
            let k = self.mark_const_expr(prec(op) + 1)?;
            ops.push((op, k));
        }
        Ok(MarkExpr { src, ops })
    }

    /// Constants joined by operators binding at least as tightly as `min`, folded.
    fn mark_const_expr(&mut self, min: u8) -> R<u32> {
        let Some(mut v) = self.mark_const_at() else {
            return self.err("the right side of a mark operation must be a constant");
        };
        self.pos += 1;
        while let Some((op, n)) = self.mark_op_at().filter(|(op, _)| prec(*op) >= min) {
            self.pos += n;
            let k = self.mark_const_expr(prec(op) + 1)?;
            v = apply(op, v, k);
        }
        Ok(v)
    }

    /// A mark operator at the cursor and how many tokens it is, not taken.
    fn mark_op_at(&self) -> Option<(MarkOp, usize)> {
        Some(match self.peek()? {
            Tok::Punct("&") => (MarkOp::And, 1),
            Tok::Punct("|") => (MarkOp::Or, 1),
            Tok::Punct("^") => (MarkOp::Xor, 1),
            Tok::Word(w) if w == "and" => (MarkOp::And, 1),
            Tok::Word(w) if w == "or" => (MarkOp::Or, 1),
            Tok::Word(w) if w == "xor" => (MarkOp::Xor, 1),
            Tok::Punct("<") if self.peek_at(1) == Some(&Tok::Punct("<")) => (MarkOp::Shl, 2),
            Tok::Punct(">") if self.peek_at(1) == Some(&Tok::Punct(">")) => (MarkOp::Shr, 2),
            _ => return None,
        })
    }

    /// A 32-bit number at the cursor (decimal or `0x…`), not taken.
    fn mark_const_at(&self) -> Option<u32> {
        let Some(Tok::Word(w)) = self.peek() else {
            return None;
        };
        match w.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => w.parse().ok(),
        }
    }

    /// After a mark field: `& MASK == V`, `and MASK != V`, `& MASK V` (a masked comparison), or
    /// `< N`-style comparisons over the 32 bits. `None` (nothing consumed) for the plain forms,
    /// which read as any number does.
    pub(super) fn mark_match(&mut self, field: Field, more: &[Field]) -> R<Option<Match>> {
        if !matches!(field, Field::MetaMark | Field::CtMark) || !more.is_empty() {
            return Ok(None);
        }
        let build = |op, rhs| Some(Match::new(field, op, rhs));
        let masked = self.eat_punct("&") || self.eat_word("and");
        if masked {
            let Some(mask) = self.mark_const_at() else {
                return self.err("expected a mask");
            };
            self.pos += 1;
            let op = if self.eat_punct("!=") {
                Op::Ne
            } else {
                self.eat_punct("==");
                Op::Eq
            };
            if matches!(self.peek(), Some(Tok::Punct("{" | "@"))) {
                return self.unsupported("a masked mark compared with a set");
            }
            let Some(value) = self.mark_const_at() else {
                return self.err("expected a mark value");
            };
            self.pos += 1;
            return Ok(build(
                op,
                Rhs::Masked {
                    mask: mask as u64,
                    value: (value & mask) as u64,
                },
            )
            .map(|mut m| {
                // A value with bits outside the mask never matches `==` (nft says so too).
                if value & !mask != 0 {
                    m.rhs = Rhs::Values(Vec::new());
                }
                m
            }));
        }
        for (p, lt, strict) in [
            ("<", true, true),
            ("<=", true, false),
            (">", false, true),
            (">=", false, false),
        ] {
            if !matches!(self.peek(), Some(Tok::Punct(q)) if *q == p)
                || matches!(self.peek_at(1), Some(Tok::Punct("<" | ">")))
            {
                continue;
            }
            self.pos += 1;
            let Some(n) = self.mark_const_at().map(u64::from) else {
                return self.err("expected a mark value");
            };
            self.pos += 1;
            let max = u32::MAX as u64;
            let (lo, hi) = match (lt, strict) {
                (true, true) if n == 0 => (1, 0),
                (true, true) => (0, n - 1),
                (true, false) => (0, n),
                (false, true) => (n.saturating_add(1), max),
                (false, false) => (n, max),
            };
            let vals = if lo > hi {
                vec![]
            } else {
                vec![Value::IntRange(lo, hi)]
            };
            return Ok(build(Op::Eq, Rhs::Values(vals)));
        }
        Ok(None)
    }

    /// `add @s { … }`, `update @s { … }`, `delete @s { … }` (after the word, at `@`): the
    /// effect, and the element's own statement (`limit`, `quota`, `ct count`) as a rate model.
    pub(super) fn set_statement(&mut self, r: &mut Rule, start: usize, op: &str) -> R<()> {
        self.expect_punct("@")?;
        let set = self.word("a set name")?;
        self.expect_punct("{")?;
        let key = self.set_key_fields()?;
        let mut timeout_ms = None;
        let mut inner = None;
        loop {
            match self.peek_word() {
                Some("timeout") => {
                    self.pos += 1;
                    timeout_ms = Some(self.time_ms()?);
                }
                Some("expires") => {
                    self.pos += 1;
                    self.time_ms()?;
                }
                Some("counter") => {
                    self.pos += 1;
                    self.counts()?;
                }
                Some("limit") => {
                    self.pos += 1;
                    inner = Some(self.limit()?);
                }
                Some("quota") => {
                    self.pos += 1;
                    inner = Some(self.quota()?);
                }
                Some("ct") if self.peek_at(1) == Some(&Tok::Word("count".into())) => {
                    self.pos += 2;
                    let over = self.eat_word("over");
                    let n = self.number()?;
                    inner = Some(Approx::CtCount { over, n });
                }
                _ => break,
            }
        }
        self.expect_punct("}")?;
        let op = match op {
            "add" => SetOpKind::Add,
            "update" => SetOpKind::Update,
            _ => SetOpKind::Delete,
        };
        self.push_set_op(r, start, op, set, key, timeout_ms, inner);
        Ok(())
    }

    /// The older form `set add KEY @s`, `set update KEY [timeout T] @s` (after `set`).
    pub(super) fn old_set_statement(&mut self, r: &mut Rule, start: usize) -> R<()> {
        let op = match self.word("add or update")?.as_str() {
            "add" => SetOpKind::Add,
            _ => SetOpKind::Update,
        };
        let key = self.set_key_fields()?;
        let mut timeout_ms = None;
        if self.eat_word("timeout") {
            timeout_ms = Some(self.time_ms()?);
        }
        self.expect_punct("@")?;
        let set = self.word("a set name")?;
        self.push_set_op(r, start, op, set, key, timeout_ms, None);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn push_set_op(
        &mut self,
        r: &mut Rule,
        start: usize,
        op: SetOpKind,
        set: String,
        key: Vec<Field>,
        timeout_ms: Option<u64>,
        inner: Option<Approx>,
    ) {
        let text = render(&self.toks[start..self.pos]);
        r.effects.push((
            r.matches.len() as u16,
            Effect::Set(SetOp {
                op,
                set,
                key: key.clone(),
                timeout_ms,
            }),
        ));
        match inner {
            // The element's own rate model: per key, as a meter's.
            Some(inner) => r.approx.push((
                Approx::PerKey {
                    key,
                    inner: Some(Box::new(inner)),
                },
                text,
            )),
            None => r.actions.push(Action::Other(text)),
        }
    }

    /// A set statement's key: a selector or a concatenation of them.
    fn set_key_fields(&mut self) -> R<Vec<Field>> {
        let mut key = Vec::new();
        loop {
            let w = self.word("a key")?;
            key.push(self.selector(&w)?);
            if !self.eat_word(".") {
                return Ok(key);
            }
        }
    }

    /// A time as nft writes it (`10s`, `1h30m`, `2d`, `500ms`; a bare number is seconds), in
    /// milliseconds.
    pub(super) fn time_ms(&mut self) -> R<u64> {
        let w = self.word("a time")?;
        match time_ms(&w) {
            Some(ms) => Ok(ms),
            None => {
                self.pos -= 1;
                self.err(format!("'{w}' is not a time"))
            }
        }
    }
}

/// How tightly an operator binds, as in nft's grammar: shifts, then `&`, `^`, `|`.
fn prec(op: MarkOp) -> u8 {
    match op {
        MarkOp::Shl | MarkOp::Shr => 4,
        MarkOp::And => 3,
        MarkOp::Xor => 2,
        MarkOp::Or => 1,
    }
}

fn apply(op: MarkOp, a: u32, b: u32) -> u32 {
    MarkExpr {
        src: MarkSrc::Const(a),
        ops: vec![(op, b)],
    }
    .eval(None, None)
    .unwrap_or(0)
}

/// `10s`, `1h30m`, `2d`, `500ms`, `1m30s`, a bare number (seconds): milliseconds.
pub(super) fn time_ms(s: &str) -> Option<u64> {
    if let Ok(n) = s.parse::<u64>() {
        return n.checked_mul(1000);
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(mult)?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}
