//! A recursive-descent parser for the documented subset of nftables syntax (see the README).
//! Anything outside it is an error naming the line, the column and the construct: a rule is never
//! silently ignored.

use std::fmt;
use std::net::IpAddr;

use super::lexer::{lex, Tok, Token};
use super::model::*;
use super::names;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub msg: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.msg)
    }
}

impl std::error::Error for ParseError {}

struct Parser<'a> {
    toks: Vec<Token>,
    pos: usize,
    file: &'a str,
    lines: Vec<&'a str>,
}

type R<T> = Result<T, ParseError>;

pub fn parse(src: &str, file: &str) -> R<Ruleset> {
    let toks = lex(src).map_err(|e| ParseError {
        file: file.into(),
        line: e.line,
        col: e.col,
        msg: e.msg,
    })?;
    let mut p = Parser {
        toks,
        pos: 0,
        file,
        lines: src.lines().collect(),
    };
    p.file_body()
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn here(&self) -> (u32, u32) {
        match self.toks.get(self.pos).or(self.toks.last()) {
            Some(t) => (t.line, t.col),
            None => (1, 1),
        }
    }

    fn err<T>(&self, msg: impl Into<String>) -> R<T> {
        let (line, col) = self.here();
        Err(ParseError {
            file: self.file.into(),
            line,
            col,
            msg: msg.into(),
        })
    }

    fn unsupported<T>(&self, what: &str) -> R<T> {
        self.err(format!("unsupported: {what}"))
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.tok.clone());
        self.pos += 1;
        t
    }

    fn word(&mut self, what: &str) -> R<String> {
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

    fn expect_word(&mut self, w: &str) -> R<()> {
        if self.peek_word() == Some(w) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(format!("expected '{w}'"))
        }
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.peek() == Some(&Tok::Punct(p_static(p))) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: &str) -> R<()> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            self.err(format!("expected '{p}'"))
        }
    }

    /// Skips blank statements, and `# disabled:` rules where no rule can be (they are comments
    /// there).
    fn skip_separators(&mut self) {
        loop {
            match self.peek() {
                Some(Tok::Newline) | Some(Tok::Punct(";")) => self.pos += 1,
                Some(Tok::Disabled) => self.skip_line(),
                _ => return,
            }
        }
    }

    /// Skips to the end of the line (not past its newline).
    fn skip_line(&mut self) {
        while !matches!(self.peek(), None | Some(Tok::Newline)) {
            self.pos += 1;
        }
    }

    fn at_end_of_statement(&self) -> bool {
        matches!(
            self.peek(),
            None | Some(Tok::Newline) | Some(Tok::Punct(";")) | Some(Tok::Punct("}"))
        )
    }

    fn file_body(&mut self) -> R<Ruleset> {
        let mut rs = Ruleset::default();
        loop {
            self.skip_separators();
            let Some(w) = self.peek_word().map(str::to_string) else {
                if self.peek().is_none() {
                    return Ok(rs);
                }
                return self.err("expected 'table'");
            };
            match w.as_str() {
                "table" => {
                    self.pos += 1;
                    let t = self.table()?;
                    rs.tables.push(t);
                }
                "flush" => {
                    self.pos += 1;
                    self.expect_word("ruleset")?;
                }
                "add" | "insert" => {
                    self.pos += 1;
                    self.command(&mut rs, w == "insert")?;
                }
                other => return self.unsupported(&format!("top-level statement '{other}'")),
            }
        }
    }

    /// The command form `iptables-restore-translate` writes: `add table ip filter`,
    /// `add chain ip filter INPUT { type filter hook input priority 0; policy drop; }`,
    /// `add rule ip filter INPUT tcp dport 22 accept` (and `insert rule`, which prepends).
    fn command(&mut self, rs: &mut Ruleset, insert: bool) -> R<()> {
        let what = self.word("'table', 'chain' or 'rule'")?;
        match (what.as_str(), insert) {
            ("table", false) => {
                let (family, name) = self.family_and_name()?;
                let ti = match rs
                    .tables
                    .iter()
                    .position(|t| t.family == family && t.name == name)
                {
                    Some(i) => i,
                    None => {
                        rs.tables.push(Table {
                            family,
                            name,
                            chains: Vec::new(),
                            sets: Vec::new(),
                        });
                        rs.tables.len() - 1
                    }
                };
                if self.eat_punct("{") {
                    self.table_body(&mut rs.tables[ti])?;
                }
                Ok(())
            }
            ("chain", false) => {
                let ti = self.existing_table(rs)?;
                let line = self.here().0;
                let name = self.word("a chain name")?;
                let t = &mut rs.tables[ti];
                let ci = match t.chains.iter().position(|c| c.name == name) {
                    Some(i) => i,
                    None => {
                        t.chains.push(Chain {
                            name,
                            base: None,
                            rules: Vec::new(),
                            line,
                        });
                        t.chains.len() - 1
                    }
                };
                if self.eat_punct("{") {
                    self.chain_body(&mut t.chains[ci])?;
                }
                Ok(())
            }
            ("rule", _) => {
                let ti = self.existing_table(rs)?;
                let name = self.word("a chain name")?;
                let Some(ci) = rs.tables[ti].chains.iter().position(|c| c.name == name) else {
                    self.pos -= 1;
                    return self.err(format!("no chain '{name}' in this table"));
                };
                let r = self.rule()?;
                let rules = &mut rs.tables[ti].chains[ci].rules;
                if insert {
                    rules.insert(0, r);
                } else {
                    rules.push(r);
                }
                Ok(())
            }
            (other, _) => {
                self.pos -= 1;
                self.unsupported(&format!(
                    "'{} {other}'",
                    if insert { "insert" } else { "add" }
                ))
            }
        }
    }

    /// A table named by a command (`ip filter`), which must exist already.
    fn existing_table(&mut self, rs: &Ruleset) -> R<usize> {
        let at = self.pos;
        let (family, name) = self.family_and_name()?;
        match rs
            .tables
            .iter()
            .position(|t| t.family == family && t.name == name)
        {
            Some(i) => Ok(i),
            None => {
                self.pos = at;
                self.err(format!("no table '{} {name}'", family.name()))
            }
        }
    }

    /// `[family] name`, the family `ip` when left out.
    fn family_and_name(&mut self) -> R<(Family, String)> {
        let first = self.word("a family or table name")?;
        Ok(match first.as_str() {
            "ip" | "ip6" | "inet" => {
                let fam = match first.as_str() {
                    "ip" => Family::Ip,
                    "ip6" => Family::Ip6,
                    _ => Family::Inet,
                };
                (fam, self.word("a table name")?)
            }
            "arp" | "bridge" | "netdev" => {
                self.pos -= 1;
                return self.unsupported(&format!("table family '{first}'"));
            }
            _ => (Family::Ip, first),
        })
    }

    fn table(&mut self) -> R<Table> {
        let first = self.word("a family or table name")?;
        let (family, name) = match first.as_str() {
            "ip" | "ip6" | "inet" => {
                let fam = match first.as_str() {
                    "ip" => Family::Ip,
                    "ip6" => Family::Ip6,
                    _ => Family::Inet,
                };
                (fam, self.word("a table name")?)
            }
            "arp" | "bridge" | "netdev" => {
                self.pos -= 1;
                return self.unsupported(&format!("table family '{first}'"));
            }
            _ => (Family::Ip, first),
        };
        self.expect_punct("{")?;
        let mut t = Table {
            family,
            name,
            chains: Vec::new(),
            sets: Vec::new(),
        };
        self.table_body(&mut t)?;
        Ok(t)
    }

    /// A table's statements up to its closing `}` (already past the `{`).
    fn table_body(&mut self, t: &mut Table) -> R<()> {
        loop {
            self.skip_separators();
            if self.eat_punct("}") {
                return Ok(());
            }
            let w = self.word("'chain', 'set' or '}'")?;
            match w.as_str() {
                "chain" => {
                    let line = self.here().0;
                    let c = self.chain(line)?;
                    t.chains.push(c);
                }
                "set" => {
                    let s = self.named_set()?;
                    t.sets.push(s);
                }
                other => {
                    self.pos -= 1;
                    return self.unsupported(&format!("table statement '{other}'"));
                }
            }
        }
    }

    fn named_set(&mut self) -> R<NamedSet> {
        let name = self.word("a set name")?;
        self.expect_punct("{")?;
        let mut set = NamedSet {
            name,
            elements: Vec::new(),
        };
        let mut kind = Kind::Addr;
        loop {
            self.skip_separators();
            if self.eat_punct("}") {
                return Ok(set);
            }
            let w = self.word("'type', 'flags', 'elements' or '}'")?;
            match w.as_str() {
                "type" => {
                    let t = self.word("a set type")?;
                    kind = match t.as_str() {
                        "ipv4_addr" | "ipv6_addr" => Kind::Addr,
                        "inet_service" => Kind::Port,
                        "inet_proto" => Kind::Proto,
                        "ifname" => Kind::Name,
                        other => {
                            self.pos -= 1;
                            return self.unsupported(&format!("set type '{other}'"));
                        }
                    };
                }
                "flags" => {
                    // interval, constant: membership is the same for the simulator.
                    loop {
                        self.word("a set flag")?;
                        if !self.eat_punct(",") {
                            break;
                        }
                    }
                }
                "elements" => {
                    self.expect_punct("=")?;
                    self.expect_punct("{")?;
                    set.elements = self.set_elements(kind)?;
                }
                other => {
                    self.pos -= 1;
                    return self.unsupported(&format!("set statement '{other}'"));
                }
            }
        }
    }

    fn chain(&mut self, line: u32) -> R<Chain> {
        let name = self.word("a chain name")?;
        self.expect_punct("{")?;
        let mut c = Chain {
            name,
            base: None,
            rules: Vec::new(),
            line,
        };
        self.chain_body(&mut c)?;
        Ok(c)
    }

    /// A chain's statements up to its closing `}` (already past the `{`).
    fn chain_body(&mut self, c: &mut Chain) -> R<()> {
        loop {
            while matches!(self.peek(), Some(Tok::Newline) | Some(Tok::Punct(";"))) {
                self.pos += 1;
            }
            if self.eat_punct("}") {
                return Ok(());
            }
            if self.peek() == Some(&Tok::Disabled) {
                // `# disabled: RULE`: the rule, toggled off; a comment that merely starts so.
                self.pos += 1;
                let at = self.pos;
                match self.rule() {
                    Ok(mut r) if matches!(self.peek(), None | Some(Tok::Newline)) => {
                        r.enabled = false;
                        c.rules.push(r);
                    }
                    _ => {
                        self.pos = at;
                        self.skip_line();
                    }
                }
                continue;
            }
            match self.peek_word() {
                Some("type") => {
                    self.pos += 1;
                    let ty = self.word("a chain type")?;
                    if ty != "filter" {
                        self.pos -= 1;
                        return self.unsupported(&format!("chain type '{ty}'"));
                    }
                    self.expect_word("hook")?;
                    let h = self.word("a hook")?;
                    let hook = match h.as_str() {
                        "input" => Hook::Input,
                        "output" => Hook::Output,
                        "forward" => Hook::Forward,
                        "prerouting" => Hook::Prerouting,
                        "postrouting" => Hook::Postrouting,
                        other => {
                            self.pos -= 1;
                            return self.unsupported(&format!("hook '{other}'"));
                        }
                    };
                    self.expect_word("priority")?;
                    let pr = self.word("a priority")?;
                    let priority = match pr.parse::<i32>() {
                        Ok(n) => n,
                        Err(_) if pr == "filter" => 0,
                        Err(_) => {
                            self.pos -= 1;
                            return self.unsupported(&format!("priority '{pr}'"));
                        }
                    };
                    c.base = Some(BaseChain {
                        hook,
                        priority,
                        policy: Policy::Accept,
                    });
                }
                Some("policy") => {
                    self.pos += 1;
                    let p = self.word("accept or drop")?;
                    let policy = match p.as_str() {
                        "accept" => Policy::Accept,
                        "drop" => Policy::Drop,
                        _ => {
                            self.pos -= 1;
                            return self.err("expected 'accept' or 'drop'");
                        }
                    };
                    match c.base.as_mut() {
                        Some(b) => b.policy = policy,
                        None => return self.err("a policy needs a base chain ('type … hook …')"),
                    }
                }
                _ => {
                    let r = self.rule()?;
                    c.rules.push(r);
                }
            }
        }
    }

    fn rule(&mut self) -> R<Rule> {
        let (line, col0) = self.here();
        let mut r = Rule {
            origin: Origin {
                line,
                text: String::new(),
            },
            enabled: true,
            matches: Vec::new(),
            counter: false,
            log: None,
            comment: None,
            verdict: None,
        };
        while !self.at_end_of_statement() {
            if r.verdict.is_some() && self.peek_word() != Some("comment") {
                return self.err("nothing but a comment may follow a verdict");
            }
            let w = self.word("a match, statement or verdict")?;
            match w.as_str() {
                "ip" => {
                    let f = self.word("saddr, daddr or protocol")?;
                    let field = match f.as_str() {
                        "saddr" => Field::IpSaddr,
                        "daddr" => Field::IpDaddr,
                        "protocol" => Field::IpProtocol,
                        other => {
                            self.pos -= 1;
                            return self.unsupported(&format!("'ip {other}'"));
                        }
                    };
                    r.matches.push(self.match_rest(field)?);
                }
                "ip6" => {
                    let f = self.word("saddr or daddr")?;
                    let field = match f.as_str() {
                        "saddr" => Field::Ip6Saddr,
                        "daddr" => Field::Ip6Daddr,
                        other => {
                            self.pos -= 1;
                            return self.unsupported(&format!("'ip6 {other}'"));
                        }
                    };
                    r.matches.push(self.match_rest(field)?);
                }
                "meta" => {
                    let f = self.word("a meta key")?;
                    let field = match f.as_str() {
                        "l4proto" => Field::L4Proto,
                        "iifname" => Field::Iifname,
                        "oifname" => Field::Oifname,
                        "iif" => Field::Iifname,
                        "oif" => Field::Oifname,
                        other => {
                            self.pos -= 1;
                            return self.unsupported(&format!("'meta {other}'"));
                        }
                    };
                    r.matches.push(self.match_rest(field)?);
                }
                "tcp" | "udp" | "th" => {
                    let l4 = match w.as_str() {
                        "tcp" => L4::Tcp,
                        "udp" => L4::Udp,
                        _ => L4::Th,
                    };
                    let f = self.word("sport, dport or flags")?;
                    let field = match (f.as_str(), l4) {
                        ("sport", _) => Field::Sport(l4),
                        ("dport", _) => Field::Dport(l4),
                        ("flags", L4::Tcp) => Field::TcpFlags,
                        (other, _) => {
                            self.pos -= 1;
                            return self.unsupported(&format!("'{w} {other}'"));
                        }
                    };
                    r.matches.push(self.match_rest(field)?);
                }
                "ct" => {
                    let f = self.word("state")?;
                    if f != "state" {
                        self.pos -= 1;
                        return self.unsupported(&format!("'ct {f}'"));
                    }
                    r.matches.push(self.match_rest(Field::CtState)?);
                }
                "icmp" | "icmpv6" => {
                    let f = self.word("type")?;
                    if f != "type" {
                        self.pos -= 1;
                        return self.unsupported(&format!("'{w} {f}'"));
                    }
                    let field = if w == "icmp" {
                        Field::IcmpType
                    } else {
                        Field::Icmpv6Type
                    };
                    r.matches.push(self.match_rest(field)?);
                }
                "iifname" | "iif" => r.matches.push(self.match_rest(Field::Iifname)?),
                "oifname" | "oif" => r.matches.push(self.match_rest(Field::Oifname)?),
                "counter" => {
                    r.counter = true;
                    // `nft list ruleset` prints the counts; they are not kept.
                    if self.peek_word() == Some("packets") {
                        self.pos += 1;
                        self.word("a packet count")?;
                        self.expect_word("bytes")?;
                        self.word("a byte count")?;
                    }
                }
                "log" => {
                    let mut prefix = String::new();
                    while let Some(k) = self.peek_word() {
                        match k {
                            "prefix" => {
                                self.pos += 1;
                                prefix = self.word("a log prefix")?;
                            }
                            "level" | "group" | "snaplen" | "queue-threshold" => {
                                self.pos += 1;
                                self.word("a value")?;
                            }
                            // `flags tcp sequence,options`, `flags ip options`, `flags all`…
                            "flags" => {
                                self.pos += 1;
                                let f = self.word("a log flag")?;
                                if matches!(f.as_str(), "tcp" | "ip") {
                                    loop {
                                        self.word("a log flag")?;
                                        if !self.eat_punct(",") {
                                            break;
                                        }
                                    }
                                }
                            }
                            _ => break,
                        }
                    }
                    r.log = Some(prefix);
                }
                "comment" => r.comment = Some(self.word("a comment string")?),
                "accept" => r.verdict = Some(Verdict::Accept),
                "drop" => r.verdict = Some(Verdict::Drop),
                "reject" => {
                    if self.peek_word() == Some("with") {
                        self.pos += 1;
                        // `with icmp type port-unreachable`, `with tcp reset`, `with icmpx …`.
                        let with = self.word("icmp, icmpv6, icmpx or tcp")?;
                        // nft makes the rule match only packets the reply can answer: it adds
                        // `meta l4proto tcp` for a TCP reset, `meta nfproto ipv4` (ipv6) for an
                        // ICMP (ICMPv6) reply (`nft --debug=netlink`). The family is written as
                        // the match that means it here: any source address of that family.
                        let implied = match with.as_str() {
                            "tcp" => Some((Field::L4Proto, Value::Int(6))),
                            "icmp" => Some((
                                Field::IpSaddr,
                                Value::Prefix(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0),
                            )),
                            "icmpv6" => Some((
                                Field::Ip6Saddr,
                                Value::Prefix(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0),
                            )),
                            _ => None,
                        };
                        if let Some((field, v)) = implied {
                            r.matches.push(Match {
                                field,
                                op: Op::Eq,
                                rhs: Rhs::Values(vec![v]),
                            });
                        }
                        self.word("type or reset")?;
                        if !self.at_end_of_statement() && self.peek_word().is_some() {
                            let save = self.pos;
                            let v = self.word("a reject type")?;
                            if matches!(v.as_str(), "comment" | "counter") {
                                self.pos = save;
                            }
                        }
                    }
                    r.verdict = Some(Verdict::Reject);
                }
                "continue" => r.verdict = Some(Verdict::Continue),
                "return" => r.verdict = Some(Verdict::Return),
                "jump" => r.verdict = Some(Verdict::Jump(self.word("a chain name")?)),
                "goto" => r.verdict = Some(Verdict::Goto(self.word("a chain name")?)),
                other => {
                    self.pos -= 1;
                    return self.unsupported(&format!("'{other}'"));
                }
            }
        }
        let text = self
            .lines
            .get(line as usize - 1)
            .map(|l| {
                let start = (col0 as usize).saturating_sub(1).min(l.len());
                l.get(start..)
                    .unwrap_or(l)
                    .trim()
                    .trim_end_matches(';')
                    .trim()
                    .to_string()
            })
            .unwrap_or_default();
        r.origin.text = text;
        Ok(r)
    }

    /// After a field: an optional `==` / `!=`, then what it is compared with.
    fn match_rest(&mut self, field: Field) -> R<Match> {
        let kind = Kind::of(field);
        if field == Field::TcpFlags && self.eat_punct("&") {
            let mask = self.flag_expr(kind)?;
            let op = if self.eat_punct("==") {
                Op::Eq
            } else if self.eat_punct("!=") {
                Op::Ne
            } else {
                return self.err("expected '==' or '!=' after a flag mask");
            };
            let value = self.flag_expr(kind)?;
            return Ok(Match {
                field,
                op,
                rhs: Rhs::Masked { mask, value },
            });
        }
        let explicit = if self.eat_punct("==") {
            Some(Op::Eq)
        } else if self.eat_punct("!=") {
            Some(Op::Ne)
        } else {
            None
        };
        // `!` (as in `ct state ! new`) negates the implicit comparison: for a bit-mask field,
        // none of the bits set.
        let bang = explicit.is_none() && self.eat_punct("!");
        let op = if bang {
            Op::Ne
        } else {
            explicit.unwrap_or(Op::Eq)
        };
        if self.eat_punct("@") {
            return Ok(Match {
                field,
                op,
                rhs: Rhs::Set(self.word("a set name")?),
            });
        }
        if self.eat_punct("{") {
            return Ok(Match {
                field,
                op,
                rhs: Rhs::Values(self.set_elements(kind)?),
            });
        }
        let mut vals = vec![self.value(kind)?];
        while self.eat_punct(",") {
            vals.push(self.value(kind)?);
        }
        // `tcp flags syn / fin,syn,rst,ack`: the flags under the mask are exactly these.
        if field == Field::TcpFlags && self.peek_word() == Some("/") {
            self.pos += 1;
            let mut mask = 0;
            loop {
                match self.value(kind)? {
                    Value::Int(n) => mask |= n,
                    _ => return self.err("expected a flag"),
                }
                if !self.eat_punct(",") {
                    break;
                }
            }
            let value = vals.iter().fold(0, |acc, v| match v {
                Value::Int(n) => acc | n,
                _ => acc,
            });
            return Ok(Match {
                field,
                op,
                rhs: Rhs::Masked { mask, value },
            });
        }
        // With `==` or `!=`, nft ORs a list of flags into one value and compares exactly:
        // `tcp flags != syn,ack` is `flags != 0x12`, `ct state == new,established` never
        // matches (`nft --debug=netlink`: `cmp neq reg 1 0x00000012`).
        if matches!(field, Field::TcpFlags | Field::CtState) && explicit.is_some() && vals.len() > 1
        {
            let bits = vals.iter().fold(0, |acc, v| match v {
                Value::Int(n) => acc | n,
                _ => acc,
            });
            return Ok(Match {
                field,
                op,
                rhs: Rhs::Values(vec![Value::Int(bits)]),
            });
        }
        // A bit-mask field given bare flags means "any of these bits set" (nft's implicit
        // `& flags != 0`); with `==` or `!=` it is an exact comparison.
        if matches!(field, Field::TcpFlags | Field::CtState) && explicit.is_none() {
            let bits = vals.iter().fold(0, |acc, v| match v {
                Value::Int(n) => acc | n,
                _ => acc,
            });
            return Ok(Match {
                field,
                op,
                rhs: Rhs::AnyBits(bits),
            });
        }
        Ok(Match {
            field,
            op,
            rhs: Rhs::Values(vals),
        })
    }

    fn flag_expr(&mut self, kind: Kind) -> R<u64> {
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

    /// Elements up to the closing `}` (already past the `{`).
    fn set_elements(&mut self, kind: Kind) -> R<Vec<Value>> {
        let mut v = Vec::new();
        loop {
            while self.peek() == Some(&Tok::Newline) {
                self.pos += 1;
            }
            if self.eat_punct("}") {
                return Ok(v);
            }
            v.push(self.value(kind)?);
            while self.peek() == Some(&Tok::Newline) {
                self.pos += 1;
            }
            if !self.eat_punct(",") {
                while self.peek() == Some(&Tok::Newline) {
                    self.pos += 1;
                }
                self.expect_punct("}")?;
                return Ok(v);
            }
        }
    }

    fn value(&mut self, kind: Kind) -> R<Value> {
        let (line, col) = self.here();
        let w = match self.next() {
            Some(Tok::Word(w)) => w,
            Some(Tok::Str(s)) if kind == Kind::Name => return Ok(Value::Name(s)),
            _ => {
                self.pos -= 1;
                return self.err(format!("expected {}", kind.what()));
            }
        };
        let bad = |msg: String| ParseError {
            file: self.file.into(),
            line,
            col,
            msg,
        };
        match kind {
            Kind::Name => Ok(Value::Name(w)),
            Kind::Addr => parse_addr(&w)
                .ok_or_else(|| bad(format!("'{w}' is not an address, prefix or range"))),
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

/// What the values of a field are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Addr,
    Port,
    Proto,
    TcpFlag,
    CtState,
    IcmpType,
    Icmpv6Type,
    Name,
}

impl Kind {
    fn of(f: Field) -> Kind {
        match f {
            Field::IpSaddr | Field::IpDaddr | Field::Ip6Saddr | Field::Ip6Daddr => Kind::Addr,
            Field::IpProtocol | Field::L4Proto => Kind::Proto,
            Field::Sport(_) | Field::Dport(_) => Kind::Port,
            Field::TcpFlags => Kind::TcpFlag,
            Field::CtState => Kind::CtState,
            Field::IcmpType => Kind::IcmpType,
            Field::Icmpv6Type => Kind::Icmpv6Type,
            Field::Iifname | Field::Oifname => Kind::Name,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Addr => "an address",
            Kind::Port => "a port or service name",
            Kind::Proto => "a protocol",
            Kind::TcpFlag => "a TCP flag",
            Kind::CtState => "a ct state",
            Kind::IcmpType => "an ICMP type",
            Kind::Icmpv6Type => "an ICMPv6 type",
            Kind::Name => "an interface name",
        }
    }
}

/// An address, `addr/len` prefix or `a-b` range.
pub fn parse_addr(w: &str) -> Option<Value> {
    if let Some((a, l)) = w.split_once('/') {
        let a: IpAddr = a.parse().ok()?;
        let l: u8 = l.parse().ok()?;
        let max = if a.is_ipv4() { 32 } else { 128 };
        return (l <= max).then_some(Value::Prefix(a, l));
    }
    if let Ok(a) = w.parse::<IpAddr>() {
        return Some(Value::Prefix(a, if a.is_ipv4() { 32 } else { 128 }));
    }
    let (a, b) = w.split_once('-')?;
    let (a, b): (IpAddr, IpAddr) = (a.parse().ok()?, b.parse().ok()?);
    (a.is_ipv4() == b.is_ipv4()).then_some(Value::AddrRange(a, b))
}

fn p_static(p: &str) -> &'static str {
    match p {
        "{" => "{",
        "}" => "}",
        "(" => "(",
        ")" => ")",
        ";" => ";",
        "," => ",",
        "|" => "|",
        "&" => "&",
        "@" => "@",
        "$" => "$",
        "=" => "=",
        "==" => "==",
        "!=" => "!=",
        "!" => "!",
        _ => "",
    }
}

/// Parses one rule as typed in the rule editor, checked against `table` (its named sets and
/// chains). The error's column is within `text`.
pub fn parse_rule(text: &str, table: &Table) -> Result<Rule, ParseError> {
    let src = format!("table inet editor {{\nchain c {{\n{text}\n}}\n}}\n");
    let rs = parse(&src, "rule").map_err(|mut e| {
        e.line = 1;
        e
    })?;
    let mut rule = match rs.tables[0].chains[0].rules.as_slice() {
        [r] => r.clone(),
        [] => {
            return Err(ParseError {
                file: "rule".into(),
                line: 1,
                col: 1,
                msg: "empty rule".into(),
            })
        }
        _ => {
            return Err(ParseError {
                file: "rule".into(),
                line: 1,
                col: 1,
                msg: "one rule at a time".into(),
            })
        }
    };
    let missing = |what: String| ParseError {
        file: "rule".into(),
        line: 1,
        col: text.find(&what).map(|i| i as u32 + 1).unwrap_or(1),
        msg: format!("no {what} in table {}", table.name),
    };
    for m in &rule.matches {
        if let Rhs::Set(name) = &m.rhs {
            if table.set(name).is_none() {
                return Err(missing(format!("@{name}")));
            }
        }
    }
    if let Some(Verdict::Jump(c) | Verdict::Goto(c)) = &rule.verdict {
        if table.chain(c).is_none() {
            return Err(missing(c.clone()));
        }
    }
    rule.origin.text = text.trim().to_string();
    Ok(rule)
}
