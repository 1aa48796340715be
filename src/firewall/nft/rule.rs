//! The rule grammar: a rule and its statements (verdicts, verdict maps, counters, logging,
//! reject, NAT and the other actions kept as written).

use crate::firewall::lexer::Tok;
use crate::firewall::model::*;

use super::cursor::{render, Parser, R};

impl Parser {
    /// One rule. A construct outside what packetlab simulates does not fail it: the rule is
    /// kept with the tests read before it and `unsupported` set, the rest of it skipped.
    pub(super) fn rule(&mut self) -> R<Rule> {
        let (line, col0) = self.here();
        let file = self.toks.get(self.pos).map(|t| t.file).unwrap_or(0);
        let mut r = Rule::new(line, String::new());
        while !self.at_end_of_statement() {
            let (_, col) = self.here();
            let at = self.pos;
            if let Err(e) = self.statement(&mut r) {
                if !e.msg.starts_with("unsupported: ") {
                    return Err(e);
                }
                let what = e.msg["unsupported: ".len()..].to_string();
                r.unsupported = Some((col, what));
                // From where the statement began, so braces it opened are skipped whole.
                self.pos = at;
                self.skip_statement();
                self.unread_marks(&mut r, at);
                break;
            }
        }
        if r.approx.iter().any(|a| a.0 == Approx::Synproxy) && r.verdict.is_none() {
            r.verdict = Some(Verdict::Drop);
        }
        r.origin.full = self.full_text(file, line, col0);
        let src = &self.files[file as usize];
        r.origin.text = src
            .lines
            .get(line as usize - 1)
            .map(|l| {
                let start = l
                    .char_indices()
                    .nth((col0 as usize).saturating_sub(1))
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                let t = l[start..].trim();
                // A `# handle N` comment of `nft -a list ruleset` is not part of the rule.
                let t = match t.find(" # handle ") {
                    Some(i) => &t[..i],
                    None => t,
                };
                t.trim_end_matches('\\')
                    .trim()
                    .trim_end_matches(';')
                    .trim()
                    .to_string()
            })
            .unwrap_or_default();
        if file != 0 {
            r.origin.file = Some(src.name.clone());
        }
        Ok(r)
    }

    /// The rule that began at `line:col` of `file` and ends at the current token, as one line:
    /// its lines joined, `\` continuations and `#` comments left out.
    pub(super) fn full_text(&self, file: u16, line: u32, col: u32) -> String {
        let lines = &self.files[file as usize].lines;
        let (end_line, end_col) = match self.toks.get(self.pos) {
            Some(t) if t.file == file && t.line >= line => (t.line, t.col),
            _ => (lines.len() as u32, u32::MAX),
        };
        let mut out = String::new();
        for l in line..=end_line {
            let Some(text) = lines.get(l as usize - 1) else {
                break;
            };
            let chars: Vec<char> = text.chars().collect();
            let from = if l == line { col as usize - 1 } else { 0 };
            let to = if l == end_line {
                (end_col as usize).saturating_sub(1).min(chars.len())
            } else {
                chars.len()
            };
            let mut piece = String::new();
            let mut quoted = false;
            for &c in chars.get(from.min(to)..to).unwrap_or(&[]) {
                match c {
                    '"' => quoted = !quoted,
                    '#' if !quoted => break,
                    _ => {}
                }
                piece.push(c);
            }
            let piece = piece.trim().trim_end_matches('\\').trim();
            if !piece.is_empty() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(piece);
            }
        }
        out.trim_end_matches(';').trim().to_string()
    }

    /// One statement of a rule: a match, a verdict map, a statement, a verdict.
    pub(super) fn statement(&mut self, r: &mut Rule) -> R<()> {
        if r.verdict.is_some() && !matches!(self.peek_word(), Some("comment")) {
            return self.err("nothing but a comment may follow a verdict");
        }
        let start = self.pos;
        if self.peek() == Some(&Tok::Punct("@")) {
            return self.raw_payload(r);
        }
        let w = self.word("a match, statement or verdict")?;
        match w.as_str() {
            "counter" => {
                r.counter = true;
                // `nft list ruleset` prints the counts; they are not kept.
                if matches!(self.peek_word(), Some("packets" | "bytes")) {
                    self.counts()?;
                } else if self.eat_word("name") {
                    self.word("a counter name")?;
                }
            }
            "log" => r.log = Some(self.log()?),
            "comment" => r.comment = Some(self.word("a comment string")?),
            "accept" => r.verdict = Some(Verdict::Accept),
            "drop" => r.verdict = Some(Verdict::Drop),
            "reject" => {
                self.reject(r)?;
                r.verdict = Some(Verdict::Reject);
            }
            "continue" => r.verdict = Some(Verdict::Continue),
            "return" => r.verdict = Some(Verdict::Return),
            "jump" => r.verdict = Some(Verdict::Jump(self.word("a chain name")?)),
            "goto" => r.verdict = Some(Verdict::Goto(self.word("a chain name")?)),
            "notrack" => r.actions.push(Action::Notrack),
            "synproxy" => {
                // `synproxy [mss N] [wscale N] [timestamp] [sack-perm]`, `synproxy name X`:
                // on TCP only (`NFT_BREAK` otherwise), and a SYN or ACK goes no further.
                self.skip_args(0)?;
                let text = render(&self.toks[start..self.pos]);
                r.matches.push(Match::new(
                    Field::L4Proto,
                    Op::Eq,
                    Rhs::Values(vec![Value::Int(6)]),
                ));
                r.matches
                    .push(Match::new(Field::TcpFlags, Op::Eq, Rhs::AnyBits(0x12)));
                r.approx.push((Approx::Synproxy, text));
            }
            "tproxy" => {
                // `tproxy [ip|ip6] to ADDR:PORT`: the packet handed to a local socket, a
                // routing change packetlab does not simulate (as NAT).
                self.skip_args(0)?;
                r.actions
                    .push(Action::Nat(render(&self.toks[start..self.pos])));
            }
            "masquerade" | "snat" | "dnat" | "redirect" => {
                self.skip_args(0)?;
                r.actions
                    .push(Action::Nat(render(&self.toks[start..self.pos])));
            }
            "flow" => {
                // `flow add @ft` / `flow offload @ft`: a fast path, the verdicts are the same.
                self.word("add or offload")?;
                self.expect_punct("@")?;
                self.word("a flowtable name")?;
                r.actions
                    .push(Action::Other(render(&self.toks[start..self.pos])));
            }
            "limit" => {
                let a = self.limit()?;
                r.approx.push((a, render(&self.toks[start..self.pos])));
            }
            "quota" => {
                let a = self.quota()?;
                r.approx.push((a, render(&self.toks[start..self.pos])));
            }
            "meter" => {
                self.word("a meter name")?;
                if self.eat_word("size") {
                    self.word("a size")?;
                }
                let a = self.keyed_block()?;
                r.approx.push((a, render(&self.toks[start..self.pos])));
            }
            "add" | "update" | "delete" if self.peek() == Some(&Tok::Punct("@")) => {
                self.set_statement(r, start, &w)?;
            }
            "set" if matches!(self.peek_word(), Some("add" | "update")) => {
                self.old_set_statement(r, start)?;
            }
            "ct" if self.peek_word() == Some("count") => {
                self.pos += 1;
                let over = self.eat_word("over");
                let n = self.number()?;
                r.approx.push((
                    Approx::CtCount { over, n },
                    render(&self.toks[start..self.pos]),
                ));
            }
            _ => {
                self.pos = start;
                self.match_or_setter(r, start)?;
            }
        }
        Ok(())
    }

    /// `reject [with icmp|icmpv6|icmpx type T | with tcp reset]` (after `reject`). nft makes
    /// the rule match only packets the reply can answer: it adds `meta l4proto tcp` for a TCP
    /// reset, `meta nfproto ipv4` (ipv6) for an ICMP (ICMPv6) reply (`nft --debug=netlink`).
    /// A statement that is not a keyword's: a setter (`meta mark set 1`, kept as written), a
    /// verdict map, or a match.
    fn match_or_setter(&mut self, r: &mut Rule, start: usize) -> R<()> {
        if self.mark_setter(r)? {
            return Ok(());
        }
        if self.setter()? {
            r.actions
                .push(Action::Other(render(&self.toks[start..self.pos])));
            return Ok(());
        }
        let first = self.word("a match")?;
        let field = self.selector(&first)?;
        let mut more = Vec::new();
        while self.eat_word(".") {
            let w = self.word("a selector")?;
            more.push(self.selector(&w)?);
        }
        if self.peek_word() == Some("set") && more.is_empty() {
            // `ip daddr set 10.0.0.1`: the packet rewritten; later tests of the field read
            // as unknown.
            self.pos += 1;
            self.payload_value()?;
            r.effects
                .push((r.matches.len() as u16, Effect::Rewrite(field)));
            r.actions
                .push(Action::Other(render(&self.toks[start..self.pos])));
            return Ok(());
        }
        if self.eat_word("vmap") {
            if r.vmap.is_some() {
                return self.unsupported("two verdict maps in one rule");
            }
            r.vmap = Some(self.vmap(field, more)?);
            r.verdict = None;
            return Ok(());
        }
        let m = self.match_rest(field, more)?;
        r.matches.push(m);
        Ok(())
    }

    /// `@th,64,16 == 0x1`: bits of the packet (offset and length in bits from a header).
    fn raw_payload(&mut self, r: &mut Rule) -> R<()> {
        self.expect_punct("@")?;
        let base = match self.word("ll, nh, th or ih")?.as_str() {
            "ll" => RawBase::Ll,
            "nh" => RawBase::Nh,
            "th" => RawBase::Th,
            "ih" => RawBase::Ih,
            other => {
                self.pos -= 1;
                return self.err(super::words::unknown_word(other, ["ll", "nh", "th", "ih"]));
            }
        };
        self.expect_punct(",")?;
        let off = self.number()?;
        self.expect_punct(",")?;
        let len = self.number()?;
        let (Ok(off), Ok(len)) = (u32::try_from(off), u32::try_from(len)) else {
            return self.err("a raw payload's offset and length are 32-bit numbers");
        };
        if len == 0 || len > 64 {
            return self.unsupported("raw payload longer than 64 bits");
        }
        let field = Field::Raw { base, off, len };
        if self.peek_word() == Some("set") {
            self.pos += 1;
            self.payload_value()?;
            r.effects
                .push((r.matches.len() as u16, Effect::Rewrite(field)));
            return Ok(());
        }
        let m = self.match_rest(field, Vec::new())?;
        r.matches.push(m);
        Ok(())
    }

    /// The value after `FIELD set`: one address, number or variable, or a map lookup on one
    /// (`ip daddr set 10.0.0.1`, `tcp dport set tcp dport map { 80 : 8080 }`); what follows
    /// is the rest of the rule.
    fn payload_value(&mut self) -> R<()> {
        self.splice_var()?;
        match self.peek() {
            Some(Tok::Word(_) | Tok::Str(_)) => self.pos += 1,
            _ => return self.err("expected a value after 'set'"),
        }
        // `ip saddr map { … }`: a selector of two words, then the map.
        if matches!(self.peek_at(1), Some(Tok::Word(w)) if w == "map") {
            self.pos += 1;
        }
        if self.eat_word("map") {
            if self.eat_punct("@") {
                self.word("a map name")?;
            } else {
                self.skip_block()?;
            }
        }
        Ok(())
    }

    /// `log`'s options: the prefix is kept; levels, groups and flags change no verdict.
    fn log(&mut self) -> R<String> {
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
        Ok(prefix)
    }

    pub(super) fn reject(&mut self, r: &mut Rule) -> R<()> {
        if !self.eat_word("with") {
            return Ok(());
        }
        let start = self.pos - 1;
        let with = self.word("icmp, icmpv6, icmpx or tcp")?;
        let implied = match with.as_str() {
            "tcp" => Some((Field::L4Proto, 6)),
            "icmp" => Some((Field::Nfproto, 2)),
            "icmpv6" => Some((Field::Nfproto, 10)),
            _ => None,
        };
        let mut at = None;
        if let Some((field, v)) = implied {
            at = Some(r.matches.len());
            r.matches
                .push(Match::new(field, Op::Eq, Rhs::Values(vec![Value::Int(v)])));
        }
        self.word("type or reset")?;
        if !self.at_end_of_statement() && self.peek_word().is_some() {
            let save = self.pos;
            let v = self.word("a reject type")?;
            if matches!(v.as_str(), "comment" | "counter") {
                self.pos = save;
            }
        }
        r.reject_with = Some((render(&self.toks[start..self.pos]), at));
        Ok(())
    }

    /// `KEY … set VALUE` statements that change the packet's metadata, not its verdict
    /// (`meta mark set 1`, `ct mark set meta mark`, `tcp option maxseg size set rt mtu`,
    /// `meta nftrace set 1`): passed over whole. False (nothing consumed) when not one.
    pub(super) fn setter(&mut self) -> R<bool> {
        // Only a key nft can set: anything else before `set` is a match to be read.
        const KEYS: [&[&str]; 22] = [
            &["meta", "mark"],
            &["meta", "priority"],
            &["meta", "nftrace"],
            &["meta", "pkttype"],
            &["meta", "secmark"],
            &["mark"],
            &["priority"],
            &["nftrace"],
            &["ct", "mark"],
            &["ct", "helper"],
            &["ct", "zone"],
            &["ct", "event"],
            &["ct", "label"],
            &["ct", "timeout"],
            &["ct", "expectation"],
            &["ct", "secmark"],
            &["ip", "dscp"],
            &["ip6", "dscp"],
            &["ip", "ttl"],
            &["ip6", "hoplimit"],
            &["tcp", "option", "maxseg", "size"],
            &["ip", "ecn"],
        ];
        let key_at = |p: &Self, key: &[&str]| {
            key.iter()
                .enumerate()
                .all(|(i, w)| matches!(p.peek_at(i), Some(Tok::Word(x)) if x == w))
                && matches!(p.peek_at(key.len()), Some(Tok::Word(x)) if x == "set")
        };
        let Some(k) = KEYS.iter().find(|k| key_at(self, k)).map(|k| k.len()) else {
            return Ok(false);
        };
        self.pos += k + 1;
        if self.skip_args(1)? == 0 {
            return self.err("expected a value after 'set'");
        }
        Ok(true)
    }

    /// Passes over a statement's free-form arguments (a NAT target with its maps, a `set`
    /// value) up to the next statement (after at least `min` tokens) or the end; returns how
    /// many tokens.
    pub(super) fn skip_args(&mut self, min: usize) -> R<usize> {
        let mut n = 0;
        let mut depth = 0usize;
        loop {
            self.splice_var()?;
            match self.peek() {
                None => break,
                Some(Tok::Punct("{")) => depth += 1,
                Some(Tok::Punct("}")) if depth > 0 => depth -= 1,
                Some(Tok::Newline) if depth > 0 => {}
                _ if depth > 0 => {}
                _ if self.at_end_of_statement() => break,
                Some(Tok::Word(w)) if n >= min && starts_statement(w) => break,
                _ => {}
            }
            self.pos += 1;
            n += 1;
        }
        Ok(n)
    }
}

/// The words that end a statement's free-form arguments (a NAT target, a `set` value).
pub(super) fn starts_statement(w: &str) -> bool {
    matches!(
        w,
        "accept"
            | "drop"
            | "reject"
            | "jump"
            | "goto"
            | "return"
            | "continue"
            | "counter"
            | "log"
            | "comment"
            | "limit"
            | "notrack"
            | "queue"
            | "quota"
    )
}
