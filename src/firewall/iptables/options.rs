//! The options of the match modules (`-m tcp --dport`, `-m conntrack --ctstate`, …), one
//! function per family of options, each adding the match it means to the rule.

use crate::firewall::model::*;
use crate::firewall::names;
use crate::firewall::syntax::parse_addr;

use super::icmp::{icmp6_type, icmp6_type_code, icmp_type_code, type_and_code};
use super::module::Module;
use super::values::{
    addr_field, num_or_range, port_or_range, rate_text, tcp_flags, TCP_ACK, TCP_FIN, TCP_RST,
    TCP_SYN,
};
use super::words::{piece_values, pieces, Pe, RuleParser, Word};

/// One option of a match module being read: its words and the rule it adds to.
struct Opt<'a, 'w> {
    p: &'a mut RuleParser<'w>,
    r: &'a mut Rule,
    m: Module,
    w: &'a Word,
    op: Op,
    v6: bool,
    /// The protocol the ports are of: the module's, or multiport's `-p`.
    l4: L4,
}

/// The option `w` of module `m` and its arguments.
pub(super) fn module_option(
    p: &mut RuleParser<'_>,
    r: &mut Rule,
    m: Module,
    w: &Word,
    op: Op,
    proto: Option<(u8, bool, u32)>,
    v6: bool,
) -> Result<(), Pe> {
    let l4 = match (m, proto) {
        (Module::Tcp, _) | (Module::Multiport, Some((6, false, _))) => L4::Tcp,
        (Module::Udp, _) | (Module::Multiport, Some((17, false, _))) => L4::Udp,
        _ => L4::Th,
    };
    let mut o = Opt {
        p,
        r,
        m,
        w,
        op,
        v6,
        l4,
    };
    match w.s.as_str() {
        "--sport" | "--source-port" | "--dport" | "--destination-port" => o.port(),
        "--sports" | "--source-ports" | "--dports" | "--destination-ports" => o.ports(),
        "--ports" => Err((
            w.col,
            "unsupported: '--ports' (source or destination port): use --sports or --dports".into(),
        )),
        "--tcp-flags" => o.tcp_flags(),
        "--syn" => {
            let rhs = Rhs::Masked {
                mask: TCP_FIN | TCP_SYN | TCP_RST | TCP_ACK,
                value: TCP_SYN,
            };
            o.push(Field::TcpFlags, rhs);
            Ok(())
        }
        "--icmp-type" => o.icmp_type(false),
        "--icmpv6-type" => o.icmp_type(true),
        "--ctstate" | "--state" => o.ct_state(),
        "--ctorigsrc" | "--ctorigdst" | "--ctreplsrc" | "--ctrepldst" => o.ct_addr(),
        "--ctorigsrcport" | "--ctorigdstport" | "--ctreplsrcport" | "--ctrepldstport" => {
            o.ct_port()
        }
        "--ctdir" => o.ct_dir(),
        "--mark" => o.mark(),
        "--string" | "--hex-string" => o.string(),
        "--algo" | "--from" | "--to" | "--icase" => o.string_option(),
        "--comment" => o.comment(),
        "--limit" | "--limit-burst" => o.limit(),
        "--src-range" | "--dst-range" => o.ip_range(),
        "--dst-type" => o.addr_type(),
        "--hl-eq" | "--hl-lt" | "--hl-gt" | "--ttl-eq" | "--ttl-lt" | "--ttl-gt" => o.ttl(),
        "--pkt-type" => o.pkt_type(),
        "--mss" | "--length" => o.mss_or_length(),
        "--dscp" | "--dscp-class" => o.dscp(),
        "--ecn-ip-ect" | "--ecn-tcp-cwr" | "--ecn-tcp-ece" => o.ecn(),
        "--timestart" | "--timestop" | "--datestart" | "--datestop" | "--weekdays"
        | "--kerneltz" | "--localtz" | "--utc" | "--contiguous" => o.time(),
        "--fragid" | "--fragfirst" | "--fragmore" | "--fraglast" => o.frag(),
        _ if m == Module::Policy => o.policy(),
        opt => Err((w.col, format!("unsupported: '{opt}' of -m {}", m.name()))),
    }
}

impl Opt<'_, '_> {
    fn opt(&self) -> &str {
        &self.w.s
    }

    fn push(&mut self, field: Field, rhs: Rhs) {
        self.r.matches.push(Match::new(field, self.op, rhs));
    }

    fn port_field(&self, src: bool) -> Field {
        if src {
            Field::Sport(self.l4)
        } else {
            Field::Dport(self.l4)
        }
    }

    fn port(&mut self) -> Result<(), Pe> {
        let v = self.p.next("a port or range")?;
        let val = port_or_range(&v.s)
            .ok_or_else(|| (v.col, format!("'{}' is not a port or range", v.s)))?;
        let field = self.port_field(matches!(self.opt(), "--sport" | "--source-port"));
        self.push(field, Rhs::Values(vec![val]));
        Ok(())
    }

    /// multiport's lists.
    fn ports(&mut self) -> Result<(), Pe> {
        let v = self.p.next("a list of ports")?;
        let vals = piece_values(v, |s| {
            port_or_range(s).ok_or_else(|| format!("'{s}' is not a port or range"))
        })?;
        if vals.len() > 15 {
            return Err((v.col, "multiport takes at most 15 ports".into()));
        }
        let field = self.port_field(matches!(self.opt(), "--sports" | "--source-ports"));
        self.push(field, Rhs::Values(vals));
        Ok(())
    }

    fn tcp_flags(&mut self) -> Result<(), Pe> {
        let mask = self.p.next("a flag mask")?;
        let comp = self.p.next("the flags that must be set")?;
        let mask = tcp_flags(mask)?;
        let value = tcp_flags(comp)?;
        self.push(Field::TcpFlags, Rhs::Masked { mask, value });
        Ok(())
    }

    /// `--icmp-type` and `--icmpv6-type` (`v6`). A type with its code (`3/3`,
    /// `port-unreachable`) is type and code together, as nft's `icmp type . icmp code { 3 . 3 }`.
    fn icmp_type(&mut self, v6: bool) -> Result<(), Pe> {
        let (what, typ, code) = if v6 {
            ("ICMPv6", Field::Icmpv6Type, Field::Icmpv6Code)
        } else {
            ("ICMP", Field::IcmpType, Field::IcmpCode)
        };
        let v = self.p.next(&format!("an {what} type"))?;
        if !v6 && v.s == "any" {
            if self.op == Op::Ne {
                return Err((self.w.col, "'! --icmp-type any' matches nothing".into()));
            }
            return Ok(());
        }
        let with_code = if v6 {
            icmp6_type_code(&v.s)
        } else {
            icmp_type_code(&v.s)
        };
        if let Some((t, c)) = with_code {
            self.r.matches.push(type_and_code(typ, code, self.op, t, c));
            return Ok(());
        }
        let named = |s: &str| {
            if v6 {
                icmp6_type(s)
            } else {
                names::lookup(Kind::IcmpType, s)
            }
        };
        let n =
            v.s.parse::<u8>()
                .ok()
                .map(u64::from)
                .or_else(|| named(&v.s))
                .ok_or_else(|| (v.col, format!("unknown {what} type '{}'", v.s)))?;
        self.push(typ, Rhs::Values(vec![Value::Int(n)]));
        Ok(())
    }

    /// The connection's tuple (`--ctorigdst 10.0.0.1`, `--ctrepldstport 80`): nft's `ct
    /// original|reply …`. Without a connection xt_conntrack's tuple tests fail, negated or not,
    /// as nft's `ct` expression does.
    fn tuple_key(&self) -> (bool, bool) {
        let o = self.opt();
        (o.starts_with("--ctrepl"), o.contains("src"))
    }

    fn ct_addr(&mut self) -> Result<(), Pe> {
        let v = self.p.next("an address")?;
        let v6 = self.v6;
        let val = if v6 {
            super::values::address6(&v.s)
        } else {
            super::values::address(&v.s)
        }
        .ok_or_else(|| (v.col, format!("'{}' is not an address or network", v.s)))?;
        let (reply, src) = self.tuple_key();
        let fam = if v6 { 6 } else { 4 };
        let key = if src {
            TupleKey::Saddr(fam)
        } else {
            TupleKey::Daddr(fam)
        };
        self.push(Field::CtTuple { reply, key }, Rhs::Values(vec![val]));
        Ok(())
    }

    fn ct_port(&mut self) -> Result<(), Pe> {
        let v = self.p.next("a port or range")?;
        let val = port_or_range(&v.s)
            .ok_or_else(|| (v.col, format!("'{}' is not a port or range", v.s)))?;
        let (reply, src) = self.tuple_key();
        let key = if src {
            TupleKey::ProtoSrc
        } else {
            TupleKey::ProtoDst
        };
        self.push(Field::CtTuple { reply, key }, Rhs::Values(vec![val]));
        Ok(())
    }

    /// `--ctdir ORIGINAL|REPLY`: nft's `ct direction`.
    fn ct_dir(&mut self) -> Result<(), Pe> {
        let v = self.p.next("ORIGINAL or REPLY")?;
        let d = match v.s.as_str() {
            "ORIGINAL" => 0,
            "REPLY" => 1,
            _ => return Err((v.col, format!("'{}' is not ORIGINAL or REPLY", v.s))),
        };
        self.push(Field::CtDirection, Rhs::Values(vec![Value::Int(d)]));
        Ok(())
    }

    /// `-m string --string S` / `--hex-string "|0d0a|GET"`: the packet's bytes searched
    /// (xt_string: from byte 0 to 65535 unless `--from`/`--to` say, the whole string inside).
    fn string(&mut self) -> Result<(), Pe> {
        let v = self.p.next("a string")?;
        let hex = self.opt() == "--hex-string";
        let value = if hex {
            hex_string(&v.s).ok_or_else(|| (v.col, format!("'{}' is not a hex string", v.s)))?
        } else {
            v.s.clone()
        };
        if value.is_empty() {
            return Err((v.col, "the string is empty".into()));
        }
        let field = Field::Raw {
            base: RawBase::XtString { hex, icase: false },
            off: 0,
            len: 65535,
        };
        self.push(field, Rhs::Values(vec![Value::Name(value)]));
        Ok(())
    }

    /// `--from N`, `--to N`, `--icase`, `--algo bm|kmp` (the search's method: the same
    /// result), amending the rule's string match (iptables-save writes them after it).
    fn string_option(&mut self) -> Result<(), Pe> {
        let opt = self.opt().to_string();
        let n = match opt.as_str() {
            "--icase" => None,
            "--algo" => {
                let v = self.p.next("bm or kmp")?;
                if !matches!(v.s.as_str(), "bm" | "kmp") {
                    return Err((v.col, format!("'{}' is not bm or kmp", v.s)));
                }
                return Ok(());
            }
            _ => {
                let v = self.p.next("an offset")?;
                Some(
                    v.s.parse::<u32>()
                        .map_err(|_| (v.col, format!("'{}' is not an offset", v.s)))?,
                )
            }
        };
        let col = self.w.col;
        let Some(Match {
            field: Field::Raw { base, off, len },
            ..
        }) = self.r.matches.last_mut()
        else {
            return Err((col, format!("'{opt}' comes after --string")));
        };
        match (opt.as_str(), n) {
            ("--from", Some(n)) => *off = n,
            ("--to", Some(n)) => *len = n,
            _ => {
                if let RawBase::XtString { icase, .. } = base {
                    *icase = true;
                }
            }
        }
        Ok(())
    }

    /// `-m mark --mark V[/M]`, `-m connmark --mark V[/M]`: the packet's or the connection's
    /// mark under the mask.
    fn mark(&mut self) -> Result<(), Pe> {
        let v = self.p.next("a mark (VALUE[/MASK])")?;
        let (value, mask) = super::target::mark_mask(&v.s)
            .ok_or_else(|| (v.col, format!("'{}' is not a mark (VALUE[/MASK])", v.s)))?;
        let field = if self.m == Module::Connmark {
            Field::CtMark
        } else {
            Field::MetaMark
        };
        let rhs = if mask == u32::MAX {
            Rhs::Values(vec![Value::Int(value as u64)])
        } else {
            Rhs::Masked {
                mask: mask as u64,
                value: (value & mask) as u64,
            }
        };
        self.push(field, rhs);
        Ok(())
    }

    /// `--ctstate`/`--state`: states, and conntrack's NAT pseudo-states as `ct status`.
    fn ct_state(&mut self) -> Result<(), Pe> {
        let v = self.p.next("a list of states")?;
        let mut bits = 0u64;
        let mut status = 0u64;
        for (s, col) in pieces(v) {
            let b = match s {
                "NEW" => ct::NEW,
                "ESTABLISHED" => ct::ESTABLISHED,
                "RELATED" => ct::RELATED,
                "INVALID" => ct::INVALID,
                "UNTRACKED" => ct::UNTRACKED,
                // Pseudo-states of NATed connections: nft's `ct status snat/dnat`.
                "SNAT" | "DNAT" if self.m == Module::Conntrack => {
                    status |= if s == "SNAT" { 16 } else { 32 };
                    continue;
                }
                _ => return Err((col, format!("unknown state '{s}'"))),
            };
            bits |= b as u64;
        }
        match (bits, status) {
            (0, st) => self.push(Field::CtStatus, Rhs::AnyBits(st)),
            (b, 0) => self.push(Field::CtState, Rhs::AnyBits(b)),
            // Negated, the two lists are each negated: neither a state nor a status.
            (b, st) if self.op == Op::Ne => {
                self.push(Field::CtState, Rhs::AnyBits(b));
                self.push(Field::CtStatus, Rhs::AnyBits(st));
            }
            _ => {
                return Err((
                    v.col,
                    "unsupported: states mixed with SNAT/DNAT in one --ctstate".into(),
                ))
            }
        }
        Ok(())
    }

    fn comment(&mut self) -> Result<(), Pe> {
        if self.op == Op::Ne {
            return Err((self.w.col, "'--comment' cannot be negated".into()));
        }
        let v = self.p.next("a comment")?;
        self.r.comment = Some(v.s.clone());
        Ok(())
    }

    /// `--limit` and `--limit-burst`: each amends the one limit of the rule.
    fn limit(&mut self) -> Result<(), Pe> {
        let v = self.p.next("a rate")?;
        if self.op == Op::Ne {
            return Err((self.w.col, format!("'{}' cannot be negated", self.opt())));
        }
        let (mut per_s, mut burst) = (3.0 / 3600.0, 5.0);
        if let Some((
            Approx::Limit {
                per_s: r0,
                burst: b0,
                ..
            },
            _,
        )) = self.r.approx.last()
        {
            (per_s, burst) = (*r0, *b0);
        }
        if self.opt() == "--limit" {
            let (n, unit) = v.s.split_once('/').unwrap_or((v.s.as_str(), "second"));
            let n: f64 = n
                .parse()
                .map_err(|_| (v.col, format!("'{}' is not a rate", v.s)))?;
            let secs = match unit {
                "s" | "sec" | "second" => 1.0,
                "m" | "min" | "minute" => 60.0,
                "h" | "hour" => 3600.0,
                "d" | "day" => 86400.0,
                _ => return Err((v.col, format!("'{unit}' is not a time unit"))),
            };
            per_s = n / secs;
        } else {
            burst =
                v.s.parse()
                    .map_err(|_| (v.col, format!("'{}' is not a burst", v.s)))?;
        }
        if matches!(self.r.approx.last(), Some((Approx::Limit { .. }, _))) {
            self.r.approx.pop();
        }
        let text = format!(
            "limit rate {} burst {} packets",
            rate_text(per_s),
            burst as u64
        );
        self.r.approx.push((
            Approx::Limit {
                over: false,
                per_s,
                burst,
                bytes: false,
            },
            text,
        ));
        Ok(())
    }

    /// iprange's `--src-range`/`--dst-range`.
    fn ip_range(&mut self) -> Result<(), Pe> {
        let v = self.p.next("an address range")?;
        let v6 = self.v6;
        let range = parse_addr(&v.s)
            .filter(|a| matches!(a, Value::AddrRange(x, _) if x.is_ipv6() == v6))
            .ok_or_else(|| (v.col, format!("'{}' is not an address range", v.s)))?;
        let field = addr_field(self.opt() == "--src-range", v6);
        self.push(field, Rhs::Values(vec![range]));
        Ok(())
    }

    /// addrtype's `--dst-type`.
    fn addr_type(&mut self) -> Result<(), Pe> {
        let v = self.p.next("an address type")?;
        let vals = piece_values(v, |t| {
            names::lookup(Kind::FibType, &t.to_ascii_lowercase())
                .map(Value::Int)
                .ok_or_else(|| format!("unknown address type '{t}'"))
        })?;
        self.push(Field::FibDaddrType, Rhs::Values(vals));
        Ok(())
    }

    /// `--ttl-eq|lt|gt` and ip6tables' `--hl-…`.
    fn ttl(&mut self) -> Result<(), Pe> {
        let v = self.p.next("a number")?;
        let n: u64 =
            v.s.parse()
                .map_err(|_| (v.col, format!("'{}' is not a number", v.s)))?;
        let opt = self.opt();
        let val = match &opt[opt.len() - 2..] {
            "eq" => Value::Int(n),
            "lt" if n == 0 => return Err((v.col, "nothing is below 0".into())),
            "lt" => Value::IntRange(0, n - 1),
            _ => Value::IntRange(n + 1, 255),
        };
        let field = if opt.starts_with("--hl") {
            Field::Ip6Hoplimit
        } else {
            Field::IpTtl
        };
        self.push(field, Rhs::Values(vec![val]));
        Ok(())
    }

    fn pkt_type(&mut self) -> Result<(), Pe> {
        let v = self.p.next("a packet type")?;
        let n = names::lookup(Kind::Pkttype, &v.s)
            .ok_or_else(|| (v.col, format!("unknown packet type '{}'", v.s)))?;
        self.push(Field::Pkttype, Rhs::Values(vec![Value::Int(n)]));
        Ok(())
    }

    /// tcpmss's `--mss` and length's `--length`: a number or range.
    fn mss_or_length(&mut self) -> Result<(), Pe> {
        let v = self.p.next("a number or range")?;
        let val = num_or_range(&v.s)
            .ok_or_else(|| (v.col, format!("'{}' is not a number or range", v.s)))?;
        let field = if self.opt() == "--mss" {
            Field::TcpMss
        } else if self.v6 {
            return Err((self.w.col, "unsupported: ip6tables' -m length".into()));
        } else {
            Field::IpLength
        };
        self.push(field, Rhs::Values(vec![val]));
        Ok(())
    }

    /// dscp's `--dscp N` (decimal or hex) and `--dscp-class` (`EF`, `AF41`, `CS1`, `BE`).
    fn dscp(&mut self) -> Result<(), Pe> {
        let v = self.p.next("a DSCP value")?;
        let n = if self.opt() == "--dscp-class" {
            let l = v.s.to_ascii_lowercase();
            if l == "be" {
                Some(0)
            } else {
                names::lookup(Kind::Dscp, &l)
            }
        } else {
            match v.s.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16).ok(),
                None => v.s.parse().ok(),
            }
        };
        let n = n
            .filter(|n| *n < 64)
            .ok_or_else(|| (v.col, format!("'{}' is not a DSCP value", v.s)))?;
        let field = Field::Hdr(if self.v6 {
            HdrField::Ip6Dscp
        } else {
            HdrField::IpDscp
        });
        self.push(field, Rhs::Values(vec![Value::Int(n)]));
        Ok(())
    }

    /// ecn's `--ecn-ip-ect 0..3` (the IP header's ECN bits), `--ecn-tcp-cwr`, `--ecn-tcp-ece`
    /// (the TCP flag set).
    fn ecn(&mut self) -> Result<(), Pe> {
        match self.opt() {
            "--ecn-ip-ect" => {
                let v = self.p.next("0, 1, 2 or 3")?;
                let n =
                    v.s.parse::<u64>()
                        .ok()
                        .filter(|n| *n < 4)
                        .ok_or_else(|| (v.col, format!("'{}' is not 0, 1, 2 or 3", v.s)))?;
                let field = Field::Hdr(if self.v6 {
                    HdrField::Ip6Ecn
                } else {
                    HdrField::IpEcn
                });
                self.push(field, Rhs::Values(vec![Value::Int(n)]));
            }
            opt => {
                let bit = if opt == "--ecn-tcp-cwr" { 0x80 } else { 0x40 };
                self.push(Field::TcpFlags, Rhs::AnyBits(bit));
            }
        }
        Ok(())
    }

    /// time's options (`xt_time`): UTC unless `--kerneltz` (iptables-save writes it last, so
    /// it turns the rule's time matches local).
    fn time(&mut self) -> Result<(), Pe> {
        let local = self.r.matches.iter().any(|m| {
            matches!(
                m.field,
                Field::Time(
                    TimeKey::XtHour(true) | TimeKey::XtWeekday(true) | TimeKey::XtDate(true)
                )
            )
        });
        let col = self.w.col;
        let opt = self.opt().to_string();
        let bad = |v: &Word, what: &str| (v.col, format!("'{}' is not {what}", v.s));
        match opt.as_str() {
            "--kerneltz" | "--localtz" | "--utc" => {
                let to_local = opt != "--utc";
                for m in &mut self.r.matches {
                    m.field = match m.field {
                        Field::Time(TimeKey::XtHour(_)) => Field::Time(TimeKey::XtHour(to_local)),
                        Field::Time(TimeKey::XtWeekday(_)) => {
                            Field::Time(TimeKey::XtWeekday(to_local))
                        }
                        Field::Time(TimeKey::XtDate(_)) => Field::Time(TimeKey::XtDate(to_local)),
                        f => f,
                    };
                }
            }
            "--contiguous" => {
                if self
                    .r
                    .matches
                    .iter()
                    .any(|m| matches!(m.field, Field::Time(TimeKey::XtWeekday(_))))
                {
                    return Err((col, "unsupported: '--contiguous' with '--weekdays'".into()));
                }
            }
            "--timestart" | "--timestop" | "--datestart" | "--datestop" => {
                let v = self.p.next("a time")?;
                let hour = opt.starts_with("--time");
                let n = if hour {
                    clock_hour(&v.s).ok_or_else(|| bad(v, "a time (hh:mm[:ss])"))?
                } else {
                    xt_date(&v.s).ok_or_else(|| bad(v, "a date (YYYY[-MM[-DD[Thh[:mm[:ss]]]]])"))?
                };
                let key = if hour {
                    TimeKey::XtHour(local)
                } else {
                    TimeKey::XtDate(local)
                };
                let start = opt.ends_with("start");
                let full = if hour { 86_399 } else { i32::MAX as u64 };
                let existing = self
                    .r
                    .matches
                    .iter_mut()
                    .find(|m| m.field == Field::Time(key));
                match existing.map(|m| &mut m.rhs) {
                    Some(Rhs::Values(vs)) if vs.len() == 1 => {
                        if let Value::IntRange(a, b) = &mut vs[0] {
                            *(if start { a } else { b }) = n;
                        }
                    }
                    _ => {
                        let (a, b) = if start { (n, full) } else { (0, n) };
                        self.push(Field::Time(key), Rhs::Values(vec![Value::IntRange(a, b)]));
                    }
                }
            }
            _ => {
                // --weekdays Mon,Tue or 1,2 (Monday 1 … Sunday 7).
                let v = self.p.next("days of the week")?;
                let vals = piece_values(v, |d| {
                    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
                    let l = d.to_ascii_lowercase();
                    DAYS.iter()
                        .position(|x| l.starts_with(x))
                        .map(|i| i as u64 + 1)
                        .or_else(|| l.parse().ok().filter(|n| (1..=7).contains(n)))
                        .map(Value::Int)
                        .ok_or_else(|| format!("'{d}' is not a day of the week"))
                })?;
                self.push(Field::Time(TimeKey::XtWeekday(local)), Rhs::Values(vals));
            }
        }
        Ok(())
    }

    /// frag's options (ip6tables; `xt_frag`): the fragment header's id, first, more, last.
    fn frag(&mut self) -> Result<(), Pe> {
        let f = |k| Field::ExtField(Ext::Frag, k);
        let one = |n| Rhs::Values(vec![Value::Int(n)]);
        match self.opt() {
            "--fragid" => {
                let v = self.p.next("an id or range")?;
                let val = num_or_range(&v.s)
                    .ok_or_else(|| (v.col, format!("'{}' is not an id or range", v.s)))?;
                self.push(f(ExtKey::Id), Rhs::Values(vec![val]));
            }
            "--fragfirst" => self.push(f(ExtKey::FragOff), one(0)),
            "--fragmore" => self.push(f(ExtKey::More), one(1)),
            _ => {
                // Last: an offset and no more fragments.
                self.r
                    .matches
                    .push(Match::new(f(ExtKey::FragOff), Op::Ne, one(0)));
                self.push(f(ExtKey::More), one(0));
            }
        }
        Ok(())
    }
}

impl Opt<'_, '_> {
    /// policy's options: `--pol ipsec` needs IPsec state, `--pol none` its absence; the rest
    /// (`--dir`, `--proto esp`, `--mode`, …) only narrow an IPsec match, which a capture's
    /// packets never make (see `Field::Ipsec`).
    fn policy(&mut self) -> Result<(), Pe> {
        match self.opt() {
            "--strict" | "--next" => {}
            "--pol" => {
                let v = self.p.next("ipsec or none")?;
                let ipsec = match v.s.as_str() {
                    "ipsec" => true,
                    "none" => false,
                    _ => return Err((v.col, format!("'{}' is not ipsec or none", v.s))),
                };
                self.push(Field::Ipsec, Rhs::Exists(ipsec));
            }
            _ => {
                self.p.next("a value")?;
            }
        }
        Ok(())
    }
}

/// `hh:mm[:ss]` as xt_time's userspace reads it: seconds after midnight.
fn clock_hour(s: &str) -> Option<u64> {
    crate::firewall::clock::value(Kind::Hour, s).filter(|_| s.contains(':'))
}

/// `YYYY[-MM[-DD[Thh[:mm[:ss]]]]]` (libxt_time's `time_parse_date`), UTC: seconds since the
/// epoch.
fn xt_date(s: &str) -> Option<u64> {
    let (d, t) = s.split_once('T').unwrap_or((s, ""));
    let mut p = d.split('-');
    let y = p.next()?;
    let m = p.next().unwrap_or("01");
    let day = p.next().unwrap_or("01");
    let mut tp = t.split(':');
    let h = tp.next().filter(|x| !x.is_empty()).unwrap_or("00");
    let mi = tp.next().unwrap_or("00");
    let sec = tp.next().unwrap_or("00");
    let text = format!("{y}-{m:0>2}-{day:0>2} {h:0>2}:{mi:0>2}:{sec:0>2}");
    crate::firewall::clock::value(Kind::Date, &text).map(|ns| ns / 1_000_000_000)
}

/// `|0d 0a|GET`: the bytes between bars in hex, the rest as written; kept as hex digits.
fn hex_string(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut in_hex = false;
    let mut digits = String::new();
    for c in s.chars() {
        match c {
            '|' => {
                if in_hex {
                    if !digits.len().is_multiple_of(2) {
                        return None;
                    }
                    out.push_str(&digits);
                    digits.clear();
                }
                in_hex = !in_hex;
            }
            c if in_hex && c.is_ascii_hexdigit() => digits.push(c.to_ascii_lowercase()),
            ' ' if in_hex => {}
            _ if in_hex => return None,
            c if c.is_ascii() => out.push_str(&format!("{:02x}", c as u8)),
            _ => return None,
        }
    }
    (!in_hex).then_some(out)
}
