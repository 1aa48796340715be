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
        "--comment" => o.comment(),
        "--limit" | "--limit-burst" => o.limit(),
        "--src-range" | "--dst-range" => o.ip_range(),
        "--dst-type" => o.addr_type(),
        "--hl-eq" | "--hl-lt" | "--hl-gt" | "--ttl-eq" | "--ttl-lt" | "--ttl-gt" => o.ttl(),
        "--pkt-type" => o.pkt_type(),
        "--mss" | "--length" => o.mss_or_length(),
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
}
