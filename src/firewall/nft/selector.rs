//! The match grammar: what a match reads (`ip saddr`, `tcp dport`, `ct state`, `meta …`), the
//! operator and values it tests, and verdict maps keyed on what it reads.

use crate::firewall::lexer::Tok;
use crate::firewall::model::*;

use super::cursor::{Parser, R};
use super::words;

/// The selectors that are a word and a key (`ip saddr`, `meta l4proto`): the first word, what
/// is expected after it, and each key's spellings and field.
type Keys = &'static [(&'static [&'static str], Field)];
const KEYED: [(&str, &str, Keys); 4] = [
    (
        "ip",
        "saddr, daddr, protocol…",
        &[
            (&["saddr"], Field::IpSaddr),
            (&["daddr"], Field::IpDaddr),
            (&["protocol"], Field::IpProtocol),
            (&["ttl"], Field::IpTtl),
            (&["length"], Field::IpLength),
        ],
    ),
    (
        "ip6",
        "saddr, daddr, nexthdr…",
        &[
            (&["saddr"], Field::Ip6Saddr),
            (&["daddr"], Field::Ip6Daddr),
            (&["nexthdr"], Field::Ip6Nexthdr),
            (&["hoplimit"], Field::Ip6Hoplimit),
            (&["length"], Field::Ip6Length),
        ],
    ),
    (
        "meta",
        "a meta key",
        &[
            (&["l4proto"], Field::L4Proto),
            (&["iifname", "iif"], Field::Iifname),
            (&["oifname", "oif"], Field::Oifname),
            (&["nfproto"], Field::Nfproto),
            (&["protocol"], Field::EtherProto),
            (&["pkttype"], Field::Pkttype),
        ],
    ),
    (
        "ct",
        "state or status",
        &[(&["state"], Field::CtState), (&["status"], Field::CtStatus)],
    ),
];

impl Parser {
    /// The field a match reads, from its first word on (`ip saddr`, `tcp option maxseg size`,
    /// `iif`); an error naming the construct when packetlab does not simulate it.
    pub(super) fn selector(&mut self, first: &str) -> R<Field> {
        if let Some(f) = self.mark_selector(first) {
            return Ok(f);
        }
        let sub = |p: &mut Self, what: &str| -> R<String> { p.word(what) };
        // `what` is "FIRST KEY": a key nft does not know after FIRST is a syntax error.
        let unsupported = |p: &mut Self, what: String| -> R<Field> {
            p.pos -= 1;
            let key = what.rsplit(' ').next().unwrap_or_default();
            let parent = if what.starts_with("tcp option ") {
                None
            } else {
                words::keys(first)
            };
            match parent {
                Some(known) if words::is_keyword_like(key) && !known.contains(&key) => {
                    p.err(words::unknown_word(key, known.iter().copied()))
                }
                _ => p.unsupported(&format!("'{what}'")),
            }
        };
        if let Some((_, what, keys)) = KEYED.iter().find(|k| k.0 == first) {
            let f = sub(self, what)?;
            return match keys.iter().find(|k| k.0.contains(&f.as_str())) {
                Some((_, field)) => Ok(*field),
                None => unsupported(self, format!("{first} {f}")),
            };
        }
        Ok(match first {
            "iifname" | "iif" => Field::Iifname,
            "oifname" | "oif" => Field::Oifname,
            "pkttype" => Field::Pkttype,
            "tcp" | "udp" | "th" => {
                let l4 = match first {
                    "tcp" => L4::Tcp,
                    "udp" => L4::Udp,
                    _ => L4::Th,
                };
                let f = sub(self, "sport, dport, flags or option")?;
                match (f.as_str(), l4) {
                    ("sport", _) => Field::Sport(l4),
                    ("dport", _) => Field::Dport(l4),
                    ("flags", L4::Tcp) => Field::TcpFlags,
                    ("option", L4::Tcp) => {
                        let o = sub(self, "an option")?;
                        if o != "maxseg" {
                            return unsupported(self, format!("tcp option {o}"));
                        }
                        // `tcp option maxseg size …`; bare, with `exists`/`missing`.
                        self.eat_word("size");
                        Field::TcpMss
                    }
                    (other, _) => return unsupported(self, format!("{first} {other}")),
                }
            }
            "icmp" | "icmpv6" => {
                let f = sub(self, "type or code")?;
                match (f.as_str(), first) {
                    ("type", "icmp") => Field::IcmpType,
                    ("type", _) => Field::Icmpv6Type,
                    ("code", "icmp") => Field::IcmpCode,
                    ("code", _) => Field::Icmpv6Code,
                    (other, _) => return unsupported(self, format!("{first} {other}")),
                }
            }
            "fib" => {
                let a = sub(self, "daddr")?;
                if a == "daddr" && self.eat_word("type") {
                    Field::FibDaddrType
                } else if a == "saddr" {
                    // `fib saddr . iif oif`: the reverse-path lookup, in the host's routes.
                    let at = self.pos;
                    let ok = self.eat_word(".")
                        && self.eat_word("iif")
                        && self.eat_word("oif")
                        && matches!(self.peek_word(), Some("missing" | "exists"));
                    if !ok {
                        self.pos = at;
                        return unsupported(self, "fib saddr".into());
                    }
                    Field::FibRpf
                } else {
                    return unsupported(self, format!("fib {a}"));
                }
            }
            other => {
                self.pos -= 1;
                if words::is_keyword_like(other) && !words::FIRST.contains(&other) {
                    return self.err(words::unknown_word(other, words::FIRST.iter().copied()));
                }
                return self.unsupported(&format!("'{other}'"));
            }
        })
    }

    /// After `FIELD vmap`: the verdict map, named (`@m`) or inline (`{ 22 : accept, … }`).
    pub(super) fn vmap(&mut self, field: Field, more: Vec<Field>) -> R<Vmap> {
        let var = self.splice_var()?;
        let map = if self.eat_punct("@") {
            MapRef::Named(self.word("a map name")?)
        } else {
            self.expect_punct("{")?;
            let kinds: Vec<Kind> = std::iter::once(field)
                .chain(more.iter().copied())
                .map(Kind::of)
                .collect();
            let (els, verdicts) = self.elements(&kinds, true)?;
            MapRef::Inline(els.into_iter().zip(verdicts.unwrap_or_default()).collect())
        };
        Ok(Vmap {
            field,
            more,
            map,
            var,
        })
    }

    /// After a field (or concatenation): an optional operator, then what it is compared with.
    pub(super) fn match_rest(&mut self, field: Field, more: Vec<Field>) -> R<Match> {
        if let Some(m) = self.mark_match(field, &more)? {
            return Ok(m);
        }
        let kind = Kind::of(field);
        let kinds: Vec<Kind> = std::iter::once(field)
            .chain(more.iter().copied())
            .map(Kind::of)
            .collect();
        let build = |op, rhs, var| Match {
            field,
            more: more.clone(),
            op,
            rhs,
            var,
        };
        if matches!(field, Field::TcpMss | Field::FibRpf) && more.is_empty() {
            if self.eat_word("exists") {
                return Ok(build(Op::Eq, Rhs::Exists(true), None));
            }
            if self.eat_word("missing") {
                return Ok(build(Op::Eq, Rhs::Exists(false), None));
            }
        }
        if field == Field::TcpFlags && self.eat_punct("&") {
            let mask = self.flag_expr(kind)?;
            let Some(op) = self.explicit_op() else {
                return self.err("expected '==' or '!=' after a flag mask");
            };
            let value = self.flag_expr(kind)?;
            return Ok(build(op, Rhs::Masked { mask, value }, None));
        }
        if let Some(vals) = self.ordered(kind)? {
            return Ok(build(Op::Eq, Rhs::Values(vals), None));
        }
        let explicit = self.explicit_op();
        // `!` (as in `ct state ! new`) negates the implicit comparison: for a bit-mask field,
        // none of the bits set.
        let bang = explicit.is_none() && self.eat_punct("!");
        let op = if bang {
            Op::Ne
        } else {
            explicit.unwrap_or(Op::Eq)
        };
        let var = self.splice_var()?;
        if self.eat_punct("@") {
            return Ok(build(op, Rhs::Set(self.word("a set name")?), None));
        }
        if self.eat_punct("{") {
            let (vals, _) = self.elements(&kinds, false)?;
            return Ok(build(op, Rhs::Values(vals), var));
        }
        let is_bit_field =
            matches!(field, Field::TcpFlags | Field::CtState | Field::CtStatus) && more.is_empty();
        if is_bit_field && matches!(self.peek(), Some(Tok::Punct("("))) {
            // `tcp flags == (fin|syn|rst)`: the flags ORed, compared exactly.
            let b = self.flag_expr(kind)?;
            let rhs = if explicit.is_some() {
                Rhs::Values(vec![Value::Int(b)])
            } else {
                Rhs::AnyBits(b)
            };
            return Ok(build(op, rhs, var));
        }
        let mut vals = vec![self.element(&kinds, false)?];
        while self.eat_punct(",") || (is_bit_field && self.eat_punct("|")) {
            vals.push(self.element(&kinds, false)?);
        }
        let bits = || {
            vals.iter().fold(0, |acc, v| match v {
                Value::Int(n) => acc | n,
                _ => acc,
            })
        };
        // `tcp flags syn / fin,syn,rst,ack`: the flags under the mask are exactly these.
        if field == Field::TcpFlags && self.peek_word() == Some("/") {
            self.pos += 1;
            let mask = self.flag_list(kind)?;
            let value = bits();
            return Ok(build(op, Rhs::Masked { mask, value }, var));
        }
        // With `==` or `!=`, nft ORs a list of flags into one value and compares exactly:
        // `tcp flags != syn,ack` is `flags != 0x12`, `ct state == new,established` never
        // matches (`nft --debug=netlink`: `cmp neq reg 1 0x00000012`).
        if is_bit_field && explicit.is_some() && vals.len() > 1 {
            let b = bits();
            return Ok(build(op, Rhs::Values(vec![Value::Int(b)]), var));
        }
        // A bit-mask field given bare flags means "any of these bits set" (nft's implicit
        // `& flags != 0`); with `==` or `!=` it is an exact comparison.
        if is_bit_field && explicit.is_none() {
            let b = bits();
            return Ok(build(op, Rhs::AnyBits(b), var));
        }
        Ok(build(op, Rhs::Values(vals), var))
    }

    /// `==` or `!=`, when one comes next.
    fn explicit_op(&mut self) -> Option<Op> {
        if self.eat_punct("==") {
            Some(Op::Eq)
        } else if self.eat_punct("!=") {
            Some(Op::Ne)
        } else {
            None
        }
    }

    /// `< N`, `<= N`, `> N`, `>= N`: the range of the field's values they mean (none for
    /// `< 0`); `None` when no such operator comes next.
    fn ordered(&mut self, kind: Kind) -> R<Option<Vec<Value>>> {
        for (p, lt, strict) in [
            ("<", true, true),
            ("<=", true, false),
            (">", false, true),
            (">=", false, false),
        ] {
            if !self.eat_punct(p) {
                continue;
            }
            let Value::Int(n) = self.value(kind)? else {
                return self.err("expected a number");
            };
            let max = kind.max();
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
            return Ok(Some(vals));
        }
        Ok(None)
    }

    /// `fin,syn,rst`: the flags ORed.
    fn flag_list(&mut self, kind: Kind) -> R<u64> {
        let mut mask = 0;
        loop {
            match self.value(kind)? {
                Value::Int(n) => mask |= n,
                _ => return self.err("expected a flag"),
            }
            if !self.eat_punct(",") {
                return Ok(mask);
            }
        }
    }
}
