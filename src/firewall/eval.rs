//! Which chains a packet meets, and what the rules do with it — with a trace of every rule
//! met and why it matched or not, like `nft monitor trace`.

use std::net::IpAddr;

use super::model::*;

/// The parts of a packet rules can look at.
#[derive(Clone, Copy, Debug)]
pub struct PacketView<'a> {
    pub v6: bool,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 protocol / IPv6 final next header.
    pub l4: Option<u8>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    /// The TCP flags byte (the eight classic flags).
    pub tcp_flags: Option<u8>,
    pub icmp_type: Option<u8>,
    pub icmpv6_type: Option<u8>,
    pub iif: Option<&'a str>,
    pub oif: Option<&'a str>,
    /// One `ct` bit.
    pub ct: u8,
    /// Bytes counters add: the IP packet's length, as the kernel counts at these hooks.
    pub len: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Final {
    Accept,
    Drop,
    Reject,
}

impl Final {
    pub fn name(self) -> &'static str {
        match self {
            Final::Accept => "accept",
            Final::Drop => "drop",
            Final::Reject => "reject",
        }
    }
}

/// One step of the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Entering a chain (base chain on a hook, or by jump/goto).
    Chain {
        hook: Option<Hook>,
        table: u16,
        chain: u16,
    },
    /// A rule met: matched, or the first test that failed.
    Rule {
        id: RuleId,
        matched: bool,
        why: String,
    },
    /// The chain's policy decided.
    Policy {
        table: u16,
        chain: u16,
        policy: Policy,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Final,
    /// The rule that decided, or `None` when a chain policy did.
    pub rule: Option<RuleId>,
    /// The base chain in which it was decided (table, chain).
    pub chain: Option<(u16, u16)>,
    /// Every rule that matched (their counters count this packet).
    pub hits: Vec<RuleId>,
    pub trace: Vec<Step>,
}

enum Flow {
    Verdict(Final, Option<RuleId>),
    Fallthrough,
}

/// Evaluates `p` through `hooks` in order (output then input for loopback traffic), testing
/// every rule it meets.
pub fn evaluate(rs: &Ruleset, hooks: &[Hook], p: &PacketView<'_>, trace: bool) -> Outcome {
    walk(rs, hooks, p.v6, Tests::Packet(p), trace)
}

/// The same walk when the rules a packet matches are already known (`matched`: every rule
/// whose tests it passes, enabled or not, sorted). Gives exactly `evaluate`'s outcome.
pub fn evaluate_matched(rs: &Ruleset, hooks: &[Hook], v6: bool, matched: &[RuleId]) -> Outcome {
    walk(rs, hooks, v6, Tests::Known(matched), false)
}

/// How a walk learns whether a rule matches.
#[derive(Clone, Copy)]
enum Tests<'a, 'p> {
    /// Test each rule against the packet.
    Packet(&'a PacketView<'p>),
    /// These rules match; no other does.
    Known(&'a [RuleId]),
}

fn walk(rs: &Ruleset, hooks: &[Hook], v6: bool, tests: Tests<'_, '_>, trace: bool) -> Outcome {
    let mut out = Outcome {
        verdict: Final::Accept,
        rule: None,
        chain: None,
        hits: Vec::new(),
        trace: Vec::new(),
    };
    for &hook in hooks {
        let mut bases: Vec<(i32, u16, u16)> = Vec::new();
        for (ti, t) in rs.tables.iter().enumerate() {
            if !t.family.sees(v6) {
                continue;
            }
            for (ci, c) in t.chains.iter().enumerate() {
                if let Some(b) = &c.base {
                    if b.hook == hook {
                        bases.push((b.priority, ti as u16, ci as u16));
                    }
                }
            }
        }
        bases.sort_by_key(|b| b.0);
        for (_, ti, ci) in bases {
            if trace {
                out.trace.push(Step::Chain {
                    hook: Some(hook),
                    table: ti,
                    chain: ci,
                });
            }
            let flow = run_chain(rs, ti, ci, tests, &mut out, trace, 0);
            out.chain = Some((ti, ci));
            let (v, rule) = match flow {
                Flow::Verdict(v, r) => (v, r),
                Flow::Fallthrough => {
                    let policy = rs.tables[ti as usize].chains[ci as usize]
                        .base
                        .as_ref()
                        .map(|b| b.policy)
                        .unwrap_or(Policy::Accept);
                    if trace {
                        out.trace.push(Step::Policy {
                            table: ti,
                            chain: ci,
                            policy,
                        });
                    }
                    let v = match policy {
                        Policy::Accept => Final::Accept,
                        Policy::Drop => Final::Drop,
                    };
                    (v, None)
                }
            };
            out.verdict = v;
            out.rule = rule;
            // accept ends only this base chain; drop and reject end everything.
            if v != Final::Accept {
                return out;
            }
        }
    }
    out
}

const MAX_DEPTH: usize = 16;

fn run_chain(
    rs: &Ruleset,
    ti: u16,
    ci: u16,
    tests: Tests<'_, '_>,
    out: &mut Outcome,
    trace: bool,
    depth: usize,
) -> Flow {
    let table = &rs.tables[ti as usize];
    let chain = &table.chains[ci as usize];
    // With known matches, only this chain's matching rules are visited.
    let visit: Box<dyn Iterator<Item = usize>> = match tests {
        Tests::Known(all) => {
            let lo = all.partition_point(|r| (r.table, r.chain) < (ti, ci));
            let hi = all.partition_point(|r| (r.table, r.chain) <= (ti, ci));
            Box::new(all[lo..hi].iter().map(|r| r.rule as usize))
        }
        Tests::Packet(_) => Box::new(0..chain.rules.len()),
    };
    for ri in visit {
        let rule = &chain.rules[ri];
        if !rule.enabled {
            continue;
        }
        let id = RuleId {
            table: ti,
            chain: ci,
            rule: ri as u32,
        };
        if let Tests::Packet(p) = tests {
            let failed = rule.matches.iter().find(|m| !matches(table, m, p));
            if trace {
                out.trace.push(Step::Rule {
                    id,
                    matched: failed.is_none(),
                    why: match failed {
                        Some(m) => why_not(m, p),
                        None => "all matched".into(),
                    },
                });
            }
            if failed.is_some() {
                continue;
            }
        }
        out.hits.push(id);
        let target = |name: &str| table.chains.iter().position(|c| c.name == name);
        match &rule.verdict {
            None | Some(Verdict::Continue) => {}
            Some(Verdict::Accept) => return Flow::Verdict(Final::Accept, Some(id)),
            Some(Verdict::Drop) => return Flow::Verdict(Final::Drop, Some(id)),
            Some(Verdict::Reject) => return Flow::Verdict(Final::Reject, Some(id)),
            Some(Verdict::Return) => return Flow::Fallthrough,
            Some(Verdict::Jump(name)) | Some(Verdict::Goto(name)) => {
                let Some(tc) = target(name) else { continue };
                if depth >= MAX_DEPTH {
                    continue;
                }
                if trace {
                    out.trace.push(Step::Chain {
                        hook: None,
                        table: ti,
                        chain: tc as u16,
                    });
                }
                let f = run_chain(rs, ti, tc as u16, tests, out, trace, depth + 1);
                match (f, &rule.verdict) {
                    (Flow::Verdict(v, r), _) => return Flow::Verdict(v, r),
                    // goto does not come back: the end of the target ends this chain too.
                    (Flow::Fallthrough, Some(Verdict::Goto(_))) => return Flow::Fallthrough,
                    (Flow::Fallthrough, _) => {}
                }
            }
        }
    }
    Flow::Fallthrough
}

/// What a field reads from the packet, or `None` when the packet has no such field (then the
/// rule does not match, whatever the operator: nft's implicit protocol dependency).
fn read<'a>(f: Field, p: &PacketView<'a>) -> Option<Read<'a>> {
    let has_ports = matches!(p.l4, Some(6 | 17 | 33 | 132 | 136));
    Some(match f {
        Field::IpSaddr if !p.v6 => Read::Addr(p.src),
        Field::IpDaddr if !p.v6 => Read::Addr(p.dst),
        Field::Ip6Saddr if p.v6 => Read::Addr(p.src),
        Field::Ip6Daddr if p.v6 => Read::Addr(p.dst),
        Field::IpProtocol if !p.v6 => Read::Int(p.l4? as u64),
        Field::L4Proto => Read::Int(p.l4? as u64),
        Field::Sport(L4::Tcp) if p.l4 == Some(6) => Read::Int(p.sport? as u64),
        Field::Dport(L4::Tcp) if p.l4 == Some(6) => Read::Int(p.dport? as u64),
        Field::Sport(L4::Udp) if p.l4 == Some(17) => Read::Int(p.sport? as u64),
        Field::Dport(L4::Udp) if p.l4 == Some(17) => Read::Int(p.dport? as u64),
        Field::Sport(L4::Th) if has_ports => Read::Int(p.sport? as u64),
        Field::Dport(L4::Th) if has_ports => Read::Int(p.dport? as u64),
        Field::TcpFlags if p.l4 == Some(6) => Read::Int(p.tcp_flags? as u64),
        Field::CtState => Read::Int(p.ct as u64),
        Field::IcmpType if !p.v6 && p.l4 == Some(1) => Read::Int(p.icmp_type? as u64),
        Field::Icmpv6Type if p.v6 && p.l4 == Some(58) => Read::Int(p.icmpv6_type? as u64),
        Field::Iifname => Read::Name(p.iif?),
        Field::Oifname => Read::Name(p.oif?),
        _ => return None,
    })
}

/// One value read from a packet, as a match tests it (the display filter reads into it too).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Read<'a> {
    Addr(IpAddr),
    Int(u64),
    Name(&'a str),
}

/// Whether the match value `v` (an address, prefix, range, number or name) holds `r`: the one
/// containment test of rules and display filters alike.
pub(crate) fn value_has(v: &Value, r: &Read<'_>) -> bool {
    match (v, r) {
        (Value::Prefix(net, len), Read::Addr(a)) => prefix_contains(*net, *len, *a),
        (Value::AddrRange(lo, hi), Read::Addr(a)) => {
            a.is_ipv4() == lo.is_ipv4() && lo <= a && a <= hi
        }
        (Value::Int(n), Read::Int(x)) => n == x,
        (Value::IntRange(lo, hi), Read::Int(x)) => lo <= x && x <= hi,
        (Value::Name(n), Read::Name(x)) => match n.strip_suffix('*') {
            Some(prefix) => x.starts_with(prefix),
            None => n == x,
        },
        _ => false,
    }
}

pub fn prefix_contains(net: IpAddr, len: u8, a: IpAddr) -> bool {
    match (net, a) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - len.min(32))
            };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len.min(128))
            };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

pub(crate) fn matches(table: &Table, m: &Match, p: &PacketView<'_>) -> bool {
    let Some(r) = read(m.field, p) else {
        return false;
    };
    let hit = match &m.rhs {
        Rhs::Values(vs) => vs.iter().any(|v| value_has(v, &r)),
        Rhs::Set(name) => table
            .set(name)
            .is_some_and(|s| s.elements.iter().any(|v| value_has(v, &r))),
        Rhs::Masked { mask, value } => match r {
            Read::Int(x) => x & mask == *value,
            _ => false,
        },
        Rhs::AnyBits(bits) => match r {
            Read::Int(x) => x & bits != 0,
            _ => false,
        },
    };
    match m.op {
        Op::Eq => hit,
        Op::Ne => !hit,
    }
}

fn why_not(m: &Match, p: &PacketView<'_>) -> String {
    match read(m.field, p) {
        None => format!("{}: the packet has none", m.field.name()),
        Some(r) => {
            let got = match r {
                Read::Addr(a) => a.to_string(),
                Read::Int(x) if m.field == Field::CtState => {
                    super::model::ct::name(x as u8).to_string()
                }
                Read::Int(x) if m.field == Field::TcpFlags => format!("0x{x:02x}"),
                Read::Int(x) => x.to_string(),
                Read::Name(n) => n.to_string(),
            };
            format!("{} is {got}", m.field.name())
        }
    }
}
