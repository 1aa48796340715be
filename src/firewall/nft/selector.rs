//! The match grammar: what a match reads (`ip saddr`, `tcp dport`, `ct state`, `meta …`), the
//! operator and values it tests, and verdict maps keyed on what it reads.

use crate::firewall::lexer::Tok;
use crate::firewall::model::*;

use super::cursor::{Parser, R};
use super::words;

/// The selectors that are a word and a key (`ip saddr`, `meta l4proto`): the first word, what
/// is expected after it, and each key's spellings and field.
type Keys = &'static [(&'static [&'static str], Field)];
const KEYED: [(&str, &str, Keys); 5] = [
    (
        "ip",
        "saddr, daddr, protocol…",
        &[
            (&["saddr"], Field::IpSaddr),
            (&["daddr"], Field::IpDaddr),
            (&["protocol"], Field::IpProtocol),
            (&["ttl"], Field::IpTtl),
            (&["length"], Field::IpLength),
            (&["version"], Field::Hdr(HdrField::IpVersion)),
            (&["hdrlength"], Field::Hdr(HdrField::IpHdrLength)),
            (&["dscp"], Field::Hdr(HdrField::IpDscp)),
            (&["ecn"], Field::Hdr(HdrField::IpEcn)),
            (&["id"], Field::Hdr(HdrField::IpId)),
            (&["frag-off"], Field::Hdr(HdrField::IpFragOff)),
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
            (&["version"], Field::Hdr(HdrField::Ip6Version)),
            (&["dscp"], Field::Hdr(HdrField::Ip6Dscp)),
            (&["ecn"], Field::Hdr(HdrField::Ip6Ecn)),
            (&["flowlabel"], Field::Hdr(HdrField::Ip6Flowlabel)),
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
            (&["secpath"], Field::Ipsec),
            (&["iiftype"], Field::DevType { out: false }),
            (&["oiftype"], Field::DevType { out: true }),
            (&["iifkind"], Field::Host(HostKey::IifKind)),
            (&["oifkind"], Field::Host(HostKey::OifKind)),
            (&["hour"], Field::Time(TimeKey::Hour)),
            (&["day"], Field::Time(TimeKey::Day)),
            (&["time"], Field::Time(TimeKey::Time)),
        ],
    ),
    (
        "ct",
        "state or status",
        &[
            (&["state"], Field::CtState),
            (&["status"], Field::CtStatus),
            (&["direction"], Field::CtDirection),
        ],
    ),
    (
        "socket",
        "transparent, mark or wildcard",
        &[
            (&["transparent"], Field::Host(HostKey::SocketTransparent)),
            (&["mark"], Field::Host(HostKey::SocketMark)),
            (&["wildcard"], Field::Host(HostKey::SocketWildcard)),
        ],
    ),
];

impl Parser {
    /// The field a match reads, from its first word on (`ip saddr`, `tcp option maxseg size`,
    /// `iif`); an error naming the construct when packetlab does not simulate it.
    pub(super) fn selector(&mut self, first: &str) -> R<Field> {
        if let Some(f) = self.mark_selector(first) {
            return Ok(f);
        }
        if first == "ct" {
            if let Some(f) = self.ct_tuple()? {
                return Ok(f);
            }
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
            "iiftype" => Field::DevType { out: false },
            "oiftype" => Field::DevType { out: true },
            "hour" => Field::Time(TimeKey::Hour),
            "day" => Field::Time(TimeKey::Day),
            "time" => Field::Time(TimeKey::Time),
            "exthdr" => {
                let e = sub(self, "hbh, rt, frag, dst or mh")?;
                match Ext::from_name(&e) {
                    Some(e) if matches!(self.peek_word(), Some("exists" | "missing")) => {
                        Field::ExtHdr(e)
                    }
                    Some(_) => return unsupported(self, format!("exthdr {e}")),
                    None => return unsupported(self, format!("exthdr {e}")),
                }
            }
            "hbh" | "rt" | "frag" | "dst" | "mh" => return self.ext_field(first),
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
            "fib" => return self.fib(),
            other => {
                self.pos -= 1;
                if words::is_keyword_like(other) && !words::FIRST.contains(&other) {
                    return self.err(words::unknown_word(other, words::FIRST.iter().copied()));
                }
                return self.unsupported(&format!("'{other}'"));
            }
        })
    }

    /// `ct original ip saddr`, `ct reply proto-dst` (after `ct`): the connection's tuple in
    /// one direction. `None` (nothing consumed) when `original`/`reply` does not come next.
    fn ct_tuple(&mut self) -> R<Option<Field>> {
        let reply = match self.peek_word() {
            Some("original") => false,
            Some("reply") => true,
            _ => return Ok(None),
        };
        self.pos += 1;
        let fam = match self.peek_word() {
            Some("ip") => 4,
            Some("ip6") => 6,
            _ => 0,
        };
        if fam != 0 {
            self.pos += 1;
        }
        let k = self.word("saddr, daddr, proto-src or proto-dst")?;
        let key = match (k.as_str(), fam) {
            ("saddr", _) => TupleKey::Saddr(fam),
            ("daddr", _) => TupleKey::Daddr(fam),
            ("proto-src", 0) => TupleKey::ProtoSrc,
            ("proto-dst", 0) => TupleKey::ProtoDst,
            _ => {
                self.pos -= 1;
                let dir = if reply { "reply" } else { "original" };
                return self.unsupported(&format!("'ct {dir} {k}'"));
            }
        };
        Ok(Some(Field::CtTuple { reply, key }))
    }

    /// After `fib`: `KEY [. KEY…] RESULT` with keys saddr, daddr, mark, iif, oif and result
    /// `type`, `oif` or `oifname`. `fib daddr type` is told from the host's addresses
    /// (`--local`); every other lookup needs its routes or devices and reads as unknown.
    fn fib(&mut self) -> R<Field> {
        const KEYS: [&str; 5] = ["saddr", "daddr", "mark", "iif", "oif"];
        let mut keys = vec![self.word("saddr or daddr")?];
        while self.eat_word(".") {
            keys.push(self.word("saddr, daddr, mark, iif or oif")?);
        }
        if let Some(k) = keys.iter().find(|k| !KEYS.contains(&k.as_str())) {
            self.pos -= 1;
            return self.err(words::unknown_word(k, KEYS.iter().copied()));
        }
        let result = self.word("type, oif or oifname")?;
        match result.as_str() {
            "type" if keys == ["daddr"] => Ok(Field::FibDaddrType),
            "type" => Ok(Field::Host(HostKey::FibType)),
            "oif" | "oifname" => Ok(Field::FibRpf),
            _ => {
                self.pos -= 1;
                self.err(words::unknown_word(&result, ["type", "oif", "oifname"]))
            }
        }
    }

    /// `rt seg-left`, `frag more-fragments`, `hbh nexthdr`: a field of an IPv6 extension
    /// header (`first` is the header's word, already read).
    fn ext_field(&mut self, first: &str) -> R<Field> {
        let Some(e) = Ext::from_name(first) else {
            return self.unsupported(&format!("'{first}'"));
        };
        let k = self.word(&e.keys().join(", "))?;
        match ExtKey::from_name(&k) {
            Some(key) if e.keys().contains(&k.as_str()) => Ok(Field::ExtField(e, key)),
            _ => {
                self.pos -= 1;
                // `rt mtu`, `rt nexthop`, `rt classid` are the route, not the header: valid nft.
                let route =
                    first == "rt" && matches!(k.as_str(), "mtu" | "nexthop" | "classid" | "ipsec");
                if words::is_keyword_like(&k) && !route && !e.keys().contains(&k.as_str()) {
                    return self.err(words::unknown_word(&k, e.keys().iter().copied()));
                }
                self.unsupported(&format!("'{first} {k}'"))
            }
        }
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
        let presence = matches!(
            field,
            Field::TcpMss | Field::FibRpf | Field::ExtHdr(_) | Field::Ipsec
        );
        if presence && more.is_empty() {
            if self.eat_word("exists") {
                return Ok(build(Op::Eq, Rhs::Exists(true), None));
            }
            if self.eat_word("missing") {
                return Ok(build(Op::Eq, Rhs::Exists(false), None));
            }
        }
        if is_masked_int(field) && more.is_empty() && self.eat_punct("&") {
            // `ip frag-off & 0x1fff != 0`; without an operator, `==`.
            let Value::Int(mask) = self.value(Kind::Int)? else {
                return self.err("expected a number after '&'");
            };
            let op = self.explicit_op().unwrap_or(Op::Eq);
            let Value::Int(value) = self.value(kind)? else {
                return self.err("expected a number");
            };
            return Ok(build(op, Rhs::Masked { mask, value }, None));
        }
        if field == Field::Time(TimeKey::Hour) && more.is_empty() {
            if let Some(m) = self.hour_match()? {
                return Ok(build(m.0, m.1, None));
            }
        }
        if field == Field::TcpFlags && self.eat_punct("&") {
            let mask = self.flag_expr(kind)?;
            if let Some((lo, hi)) = self.masked_order(kind, mask)? {
                return Ok(build(Op::Eq, Rhs::MaskedRange { mask, lo, hi }, None));
            }
            let Some(op) = self.explicit_op() else {
                return self.err("expected '==' or '!=' after a flag mask");
            };
            let value = self.flag_expr(kind)?;
            return Ok(build(op, Rhs::Masked { mask, value }, None));
        }
        if let Some(vals) = self.ordered(kind, Kind::max_of(field))? {
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
    fn ordered(&mut self, kind: Kind, max: u64) -> R<Option<Vec<Value>>> {
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
            let (lo, hi) = match (lt, strict) {
                // `meta hour`: the other end stays open through nft's conversion to UTC.
                (true, strict) if max == OPEN => (OPEN, n.saturating_sub(u64::from(strict))),
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

    /// After `FLAGS & MASK`: `< V`, `<= V`, `> V`, `>= V` compare the masked value as an
    /// integer (nft's `cmp lt` on the masked register); the range of masked values they hold.
    fn masked_order(&mut self, kind: Kind, mask: u64) -> R<Option<(u64, u64)>> {
        for (p, lt, strict) in [
            ("<", true, true),
            ("<=", true, false),
            (">", false, true),
            (">=", false, false),
        ] {
            if !self.eat_punct(p) {
                continue;
            }
            let v = self.flag_expr(kind)?;
            return Ok(Some(match (lt, strict) {
                // `< 0` holds for nothing: an empty range.
                (true, true) if v == 0 => (1, 0),
                (true, true) => (0, v - 1),
                (true, false) => (0, v),
                (false, true) => (v.saturating_add(1), mask),
                (false, false) => (v, mask),
            }));
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

    /// `meta hour` after the field: a value or a range written in order (`"22:00"-"02:00"`
    /// wraps past midnight, so its ends are not sorted), an operator, or a set of those.
    /// `None` when what follows is for the general path (`<`, `>=`, `@set`).
    fn hour_match(&mut self) -> R<Option<(Op, Rhs)>> {
        let at = self.pos;
        let op = self.explicit_op();
        let hour = |p: &mut Self| -> R<Value> {
            let (line, col) = p.here();
            let w = match p.next() {
                Some(Tok::Word(w) | Tok::Str(w)) => w,
                _ => {
                    p.pos -= 1;
                    return p.err("expected a time of day (\"17:00\")");
                }
            };
            let one = |s: &str| crate::firewall::clock::value(Kind::Hour, s);
            let v = if let Some(a) = one(&w) {
                // `"17:00"-"19:00"`: the dash between two strings is a word of its own.
                if p.eat_word("-") {
                    let b = p.word("a time of day")?;
                    match one(&b) {
                        Some(b) => Value::IntRange(a, b),
                        None => return p.err(format!("'{b}' is not a time of day")),
                    }
                } else {
                    Value::Int(a)
                }
            } else if let Some((a, b)) = w
                .split_once('-')
                .and_then(|(a, b)| Some((one(a)?, one(b)?)))
            {
                Value::IntRange(a, b)
            } else {
                return Err(crate::firewall::syntax::ParseError {
                    file: p.file_name(),
                    line,
                    col,
                    msg: format!("'{w}' is not a time of day"),
                });
            };
            Ok(v)
        };
        if self.eat_punct("{") {
            let mut vals = Vec::new();
            loop {
                self.skip_newlines();
                if self.eat_punct("}") {
                    break;
                }
                if self.eat_punct(",") {
                    continue;
                }
                vals.push(hour(self)?);
            }
            return Ok(Some((op.unwrap_or(Op::Eq), Rhs::Values(vals))));
        }
        match self.peek() {
            Some(Tok::Word(_) | Tok::Str(_)) if self.peek_word() != Some("@") => {
                let v = hour(self)?;
                Ok(Some((op.unwrap_or(Op::Eq), Rhs::Values(vec![v]))))
            }
            _ => {
                self.pos = at;
                Ok(None)
            }
        }
    }
}

/// Integer header fields nft masks with `&` (`ip frag-off & 0x1fff != 0`).
fn is_masked_int(f: Field) -> bool {
    matches!(
        f,
        Field::Hdr(_) | Field::ExtField(..) | Field::IpTtl | Field::IpLength | Field::Ip6Length
    )
}
