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
    /// The interface the packet came in on: read by input-side hooks (`None`: not known, so a
    /// rule reading it gets an approximate answer).
    pub iif: Option<&'a str>,
    /// The interface it goes out on: read by output-side hooks.
    pub oif: Option<&'a str>,
    /// One `ct` bit.
    pub ct: u8,
    /// Bytes counters add: the IP packet's length, as the kernel counts at these hooks.
    pub len: u32,
    pub extra: Extra,
}

/// What fewer rules read: kept apart so a packet for a test is written with `..Default`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Extra {
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: Option<u8>,
    /// The next-header field of the fixed IPv6 header.
    pub ip6_nexthdr: Option<u8>,
    /// The TCP MSS option's value, when present.
    pub mss: Option<u16>,
    /// `meta pkttype`: host 0, broadcast 1, multicast 2.
    pub pkttype: u8,
    /// The ICMP or ICMPv6 code.
    pub icmp_code: Option<u8>,
    /// The destination is one of the simulated host's addresses (`fib daddr type local`).
    pub dst_local: bool,
    /// The packet's time, nanoseconds: rate models (`limit`) read it.
    pub ts_ns: u64,
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

/// Which side of the host a hook is on: what `iif`/`oif` read there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// ingress, prerouting, input: the input interface is known, there is no output one.
    In,
    /// output, postrouting, egress: the other way round.
    Out,
    /// forward: the input interface is the capture's; the output one is not known.
    Fwd,
}

impl Class {
    pub fn of(h: Hook) -> Class {
        match h {
            Hook::Ingress | Hook::Prerouting | Hook::Input => Class::In,
            Hook::Output | Hook::Postrouting | Hook::Egress => Class::Out,
            Hook::Forward => Class::Fwd,
        }
    }
}

/// Chains of the first hook before or after connection tracking (priority -200): the ones
/// before see no `ct state` yet (it reads `invalid`) and may `notrack` the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seg {
    All,
    PreCt,
    PostCt,
}

/// The priority of conntrack on prerouting and output.
pub const CONNTRACK_PRIORITY: i32 = -200;

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
    /// False when something not simulated exactly took part: an approximate statement, an
    /// unsupported rule, a field the packet's record cannot tell, a NAT chain that acts on it.
    pub exact: bool,
    /// A `notrack` rule matched (before connection tracking).
    pub notrack: bool,
}

impl Outcome {
    fn new() -> Outcome {
        Outcome {
            verdict: Final::Accept,
            rule: None,
            chain: None,
            hits: Vec::new(),
            trace: Vec::new(),
            exact: true,
            notrack: false,
        }
    }

    /// The outcome of a later part of the walk, after this one let the packet through.
    pub fn then(mut self, later: Outcome) -> Outcome {
        self.hits.extend(later.hits);
        self.trace.extend(later.trace);
        Outcome {
            verdict: later.verdict,
            rule: later.rule,
            chain: later.chain.or(self.chain),
            hits: self.hits,
            trace: self.trace,
            exact: self.exact && later.exact,
            notrack: self.notrack || later.notrack,
        }
    }
}

/// What testing a rule's matches gave (the stateless part; rate models come after).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Res {
    Match,
    /// It matched, and its verdict map chose this entry.
    Entry(u32),
    /// It may match: something it reads is not known or not simulated. Treated as not
    /// matching, and the verdict is approximate.
    Unknown,
}

/// A rule that matched (or may have), as the compiled matcher hands them to the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub id: RuleId,
    pub res: Res,
}

/// The state of the rate models (`limit`, `quota`, meters), per rule, statement and key.
#[derive(Default, Debug)]
pub struct Meters {
    buckets: std::collections::HashMap<(RuleId, u16, u64), Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last_ns: u64,
    used: u64,
}

impl Meters {
    /// Whether statement `k` of rule `id` lets the packet go on, updating its model.
    fn step(&mut self, id: RuleId, k: u16, key: u64, a: &Approx, p: &PacketView<'_>) -> bool {
        match a {
            Approx::Limit {
                over,
                per_s,
                burst,
                bytes,
            } => {
                let cost = if *bytes { p.len as f64 } else { 1.0 };
                let cap = burst.max(cost);
                let now = p.extra.ts_ns;
                let b = self.buckets.entry((id, k, key)).or_insert(Bucket {
                    tokens: cap,
                    last_ns: now,
                    used: 0,
                });
                let dt = now.saturating_sub(b.last_ns) as f64 / 1e9;
                b.last_ns = now.max(b.last_ns);
                b.tokens = (b.tokens + dt * per_s).min(cap);
                let within = b.tokens >= cost;
                if within {
                    b.tokens -= cost;
                }
                within != *over
            }
            Approx::Quota { over, bytes } => {
                let b = self.buckets.entry((id, k, key)).or_insert(Bucket {
                    tokens: 0.0,
                    last_ns: 0,
                    used: 0,
                });
                b.used += p.len as u64;
                (b.used > *bytes) == *over
            }
            Approx::CtCount { over, n } => {
                // Connections are not counted per key: each new one counts once.
                let b = self.buckets.entry((id, k, key)).or_insert(Bucket {
                    tokens: 0.0,
                    last_ns: 0,
                    used: 0,
                });
                if p.ct == ct::NEW {
                    b.used += 1;
                }
                (b.used > *n) == *over
            }
            Approx::PerKey { key: fields, inner } => match inner {
                None => true,
                Some(inner) => {
                    let key = key_hash(fields, p);
                    self.step(id, k, key, inner, p)
                }
            },
        }
    }
}

fn key_hash(fields: &[Field], p: &PacketView<'_>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in fields {
        match read(*f, p, Class::In) {
            Reading::Got(Read::Addr(a)) => a.hash(&mut h),
            Reading::Got(Read::Int(n)) => n.hash(&mut h),
            Reading::Got(Read::Name(n)) => n.hash(&mut h),
            _ => 0u8.hash(&mut h),
        }
    }
    h.finish()
}

/// Evaluates `p` through `hooks` in order (output then input for loopback traffic), testing
/// every rule it meets; rate models count as within their rate.
pub fn evaluate(rs: &Ruleset, hooks: &[Hook], p: &PacketView<'_>, trace: bool) -> Outcome {
    let pre = PacketView {
        ct: if p.ct == ct::UNTRACKED {
            ct::UNTRACKED
        } else {
            ct::INVALID
        },
        ..*p
    };
    let bases = Bases::of(rs);
    let a = walk(rs, &bases, hooks, Seg::PreCt, &pre, None, None, trace);
    if a.verdict != Final::Accept {
        return a;
    }
    let post = PacketView {
        ct: if a.notrack { ct::UNTRACKED } else { p.ct },
        ..*p
    };
    let b = walk(rs, &bases, hooks, Seg::PostCt, &post, None, None, trace);
    a.then(b)
}

/// The walk through `hooks` (the first of them limited to `seg`), with the rules' tests either
/// done here (`known` None) or given per hook class, and the rate models in `meters` (None:
/// each counts as within its rate).
/// The base chains of each hook, in priority order (table order among equals).
#[derive(Debug, Default)]
pub struct Bases {
    by_hook: [Vec<(i32, u16, u16)>; 7],
}

impl Bases {
    pub fn of(rs: &Ruleset) -> Bases {
        let mut b = Bases::default();
        for (ti, t) in rs.tables.iter().enumerate() {
            for (ci, c) in t.chains.iter().enumerate() {
                if let Some(base) = &c.base {
                    b.by_hook[base.hook as usize].push((base.priority, ti as u16, ci as u16));
                }
            }
        }
        for v in &mut b.by_hook {
            v.sort_by_key(|x| x.0);
        }
        b
    }
}

#[allow(clippy::too_many_arguments)]
pub fn walk(
    rs: &Ruleset,
    bases: &Bases,
    hooks: &[Hook],
    seg: Seg,
    p: &PacketView<'_>,
    known: Option<&[(Class, &[Hit])]>,
    mut meters: Option<&mut Meters>,
    trace: bool,
) -> Outcome {
    let mut out = Outcome::new();
    // Connection tracking runs on the first of prerouting and output the packet meets; the
    // hooks before it (ingress) come before it too, those after it after.
    let ct_at = hooks
        .iter()
        .position(|h| matches!(h, Hook::Prerouting | Hook::Output))
        .unwrap_or(0);
    for (hi, &hook) in hooks.iter().enumerate() {
        let class = Class::of(hook);
        let seg = match (seg, hi.cmp(&ct_at)) {
            (Seg::All, _) => Seg::All,
            (Seg::PreCt, std::cmp::Ordering::Less) => Seg::All,
            (Seg::PreCt, std::cmp::Ordering::Equal) => Seg::PreCt,
            (Seg::PreCt, std::cmp::Ordering::Greater) => break,
            (Seg::PostCt, std::cmp::Ordering::Less) => continue,
            (Seg::PostCt, std::cmp::Ordering::Equal) => Seg::PostCt,
            (Seg::PostCt, std::cmp::Ordering::Greater) => Seg::All,
        };
        let tests = match known {
            Some(lists) => match lists.iter().find(|(c, _)| *c == class) {
                Some((_, l)) => Tests::Known(l),
                None => Tests::Packet(p),
            },
            None => Tests::Packet(p),
        };
        for &(priority, ti, ci) in &bases.by_hook[hook as usize] {
            let keep = match seg {
                Seg::All => true,
                Seg::PreCt => priority < CONNTRACK_PRIORITY,
                Seg::PostCt => priority >= CONNTRACK_PRIORITY,
            };
            let t = &rs.tables[ti as usize];
            if !keep || !t.family.sees(p.v6) || t.dormant {
                continue;
            }
            // An ingress or egress chain hooks one device (or a list of them).
            if let Some(dev) = t.chains[ci as usize]
                .base
                .as_ref()
                .and_then(|b| b.device.as_deref())
            {
                let on = if hook == Hook::Egress { p.oif } else { p.iif };
                match on {
                    Some(name) if device_has(dev, name) => {}
                    Some(_) => continue,
                    None => {
                        // The capture does not name the interface: it may be that device.
                        out.exact = false;
                        continue;
                    }
                }
            }
            let table = &rs.tables[ti as usize];
            let base = table.chains[ci as usize].base.as_ref();
            let simulated =
                table.family.simulated() && base.is_some_and(|b| b.kind == ChainType::Filter);
            if trace {
                out.trace.push(Step::Chain {
                    hook: Some(hook),
                    table: ti,
                    chain: ci,
                });
            }
            if !simulated {
                // NAT chains see only a connection's first packet.
                if base.is_some_and(|b| b.kind == ChainType::Nat) && p.ct != ct::NEW {
                    continue;
                }
                shadow_chain(rs, ti, ci, class, tests, p, &mut out, trace);
                continue;
            }
            let mut w = Walk {
                rs,
                class,
                tests,
                p,
                meters: meters.as_deref_mut(),
                out: &mut out,
                trace,
            };
            let flow = w.run_chain(ti, ci, 0);
            out.chain = Some((ti, ci));
            let (v, rule) = match flow {
                Flow::Verdict(v, r) => (v, r),
                Flow::Fallthrough => {
                    let policy = base.map(|b| b.policy).unwrap_or(Policy::Accept);
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

/// Whether a chain's `device "eth0"` or `devices = { eth0, eth1 }` holds `name`.
fn device_has(dev: &str, name: &str) -> bool {
    dev.split(',')
        .map(|d| d.trim().trim_matches(['"', '{', '}', ' ']))
        .any(|d| d == name)
}

/// A chain packetlab does not simulate (NAT, route, netdev): its rules are tested and counted;
/// one that matches and would act makes the verdict approximate.
#[allow(clippy::too_many_arguments)]
fn shadow_chain(
    rs: &Ruleset,
    ti: u16,
    ci: u16,
    class: Class,
    tests: Tests<'_, '_>,
    p: &PacketView<'_>,
    out: &mut Outcome,
    trace: bool,
) {
    let table = &rs.tables[ti as usize];
    for (ri, rule) in table.chains[ci as usize].rules.iter().enumerate() {
        if !rule.enabled {
            continue;
        }
        let id = RuleId {
            table: ti,
            chain: ci,
            rule: ri as u32,
        };
        let res = match tests {
            Tests::Packet(p) => test_rule(table, rule, p, class),
            Tests::Known(all) => known_res(all, id),
        };
        if trace {
            out.trace.push(Step::Rule {
                id,
                matched: res.is_some(),
                why: match res {
                    Some(_) => "matched (this chain is not simulated)".into(),
                    None => why_rule(table, rule, p, class),
                },
            });
        }
        let Some(res) = res else { continue };
        out.exact = false;
        if res != Res::Unknown {
            out.hits.push(id);
        }
    }
}

fn known_res(all: &[Hit], id: RuleId) -> Option<Res> {
    all.binary_search_by(|h| h.id.cmp(&id))
        .ok()
        .map(|i| all[i].res)
}

enum Flow {
    Verdict(Final, Option<RuleId>),
    Fallthrough,
}

/// How a walk learns whether a rule matches.
#[derive(Clone, Copy)]
enum Tests<'a, 'p> {
    /// Test each rule against the packet.
    Packet(&'a PacketView<'p>),
    /// These rules match (or may); no other does.
    Known(&'a [Hit]),
}

const MAX_DEPTH: usize = 16;

struct Walk<'r, 'a, 'p, 'm> {
    rs: &'r Ruleset,
    class: Class,
    tests: Tests<'a, 'p>,
    p: &'a PacketView<'p>,
    meters: Option<&'m mut Meters>,
    out: &'a mut Outcome,
    trace: bool,
}

impl Walk<'_, '_, '_, '_> {
    fn run_chain(&mut self, ti: u16, ci: u16, depth: usize) -> Flow {
        let rs = self.rs;
        let table = &rs.tables[ti as usize];
        let chain = &table.chains[ci as usize];
        // With known matches, only this chain's matching rules are visited.
        let (lo, hi) = match self.tests {
            Tests::Known(all) => (
                all.partition_point(|h| (h.id.table, h.id.chain) < (ti, ci)),
                all.partition_point(|h| (h.id.table, h.id.chain) <= (ti, ci)),
            ),
            Tests::Packet(_) => (0, chain.rules.len()),
        };
        for k in lo..hi {
            let (ri, known) = match self.tests {
                Tests::Known(all) => (all[k].id.rule as usize, Some(all[k].res)),
                Tests::Packet(_) => (k, None),
            };
            let rule = &chain.rules[ri];
            if !rule.enabled {
                continue;
            }
            let id = RuleId {
                table: ti,
                chain: ci,
                rule: ri as u32,
            };
            let res = match (known, self.tests) {
                (Some(r), _) => Some(r),
                (None, Tests::Packet(p)) => {
                    let r = test_rule(table, rule, p, self.class);
                    if self.trace {
                        self.out.trace.push(Step::Rule {
                            id,
                            matched: matches!(r, Some(Res::Match | Res::Entry(_))),
                            why: match r {
                                Some(Res::Unknown) => unknown_why(rule),
                                Some(_) => "all matched".into(),
                                None => why_rule(table, rule, p, self.class),
                            },
                        });
                    }
                    r
                }
                _ => None,
            };
            let Some(res) = res else { continue };
            if res == Res::Unknown {
                self.out.exact = false;
                continue;
            }
            if rule.is_approx() {
                self.out.exact = false;
                let mut goes_on = true;
                if let Some(m) = self.meters.as_deref_mut() {
                    for (k, (a, _)) in rule.approx.iter().enumerate() {
                        if !m.step(id, k as u16, 0, a, self.p) {
                            goes_on = false;
                            break;
                        }
                    }
                }
                if !goes_on {
                    continue;
                }
            }
            self.out.hits.push(id);
            if rule.actions.contains(&Action::Notrack) {
                self.out.notrack = true;
            }
            let verdict = match (&rule.vmap, res) {
                (Some(vm), Res::Entry(i)) => map_verdict(table, vm, i as usize),
                _ => rule.verdict.as_ref(),
            };
            match verdict {
                None | Some(Verdict::Continue) => {}
                Some(Verdict::Accept) => return Flow::Verdict(Final::Accept, Some(id)),
                Some(Verdict::Drop) => return Flow::Verdict(Final::Drop, Some(id)),
                Some(Verdict::Reject) => return Flow::Verdict(Final::Reject, Some(id)),
                Some(Verdict::Return) => return Flow::Fallthrough,
                Some(v @ (Verdict::Jump(name) | Verdict::Goto(name))) => {
                    let Some(tc) = table.chains.iter().position(|c| &c.name == name) else {
                        continue;
                    };
                    if depth >= MAX_DEPTH {
                        continue;
                    }
                    if self.trace {
                        self.out.trace.push(Step::Chain {
                            hook: None,
                            table: ti,
                            chain: tc as u16,
                        });
                    }
                    let f = self.run_chain(ti, tc as u16, depth + 1);
                    match (f, v) {
                        (Flow::Verdict(v, r), _) => return Flow::Verdict(v, r),
                        // goto does not come back: the end of the target ends this chain too.
                        (Flow::Fallthrough, Verdict::Goto(_)) => return Flow::Fallthrough,
                        (Flow::Fallthrough, _) => {}
                    }
                }
            }
        }
        Flow::Fallthrough
    }
}

fn map_verdict<'t>(table: &'t Table, vm: &'t Vmap, i: usize) -> Option<&'t Verdict> {
    match &vm.map {
        MapRef::Inline(entries) => entries.get(i).map(|e| &e.1),
        MapRef::Named(n) => table.set(n)?.verdicts.as_ref()?.get(i),
    }
}

fn unknown_why(rule: &Rule) -> String {
    match &rule.unsupported {
        Some((_, why)) => format!("may match: {why} is not simulated"),
        None => "may match: it reads what the capture cannot tell".into(),
    }
}

/// Three-valued result of one test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    Maybe,
}

/// Whether `rule`'s tests pass for `p` at a hook of `class` (`None`: they do not). The
/// stateless part only: rate models are applied by the walk.
pub fn test_rule(table: &Table, rule: &Rule, p: &PacketView<'_>, class: Class) -> Option<Res> {
    let mut maybe = false;
    for m in &rule.matches {
        match match_tri(table, m, p, class) {
            Tri::No => return None,
            Tri::Maybe => maybe = true,
            Tri::Yes => {}
        }
    }
    if rule.unsupported.is_some() || maybe {
        return Some(Res::Unknown);
    }
    let Some(vm) = &rule.vmap else {
        return Some(Res::Match);
    };
    let entries: Vec<&Value> = match &vm.map {
        MapRef::Inline(e) => e.iter().map(|e| &e.0).collect(),
        MapRef::Named(n) => match table.set(n) {
            Some(s) => s.elements.iter().collect(),
            None => return None,
        },
    };
    let fields: Vec<Field> = std::iter::once(vm.field)
        .chain(vm.more.iter().copied())
        .collect();
    let mut reads = Vec::with_capacity(fields.len());
    for f in &fields {
        match read(*f, p, class) {
            Reading::Got(r) => reads.push(r),
            Reading::Absent => return None,
            Reading::Unknown => return Some(Res::Unknown),
        }
    }
    entries
        .iter()
        .position(|v| element_has(v, &reads))
        .map(|i| Res::Entry(i as u32))
}

/// Whether a set element holds the values read (one per part of a concatenation).
fn element_has(v: &Value, reads: &[Read<'_>]) -> bool {
    match (v, reads) {
        (Value::Concat(parts), _) => {
            parts.len() == reads.len() && parts.iter().zip(reads).all(|(v, r)| value_has(v, r))
        }
        (v, [r]) => value_has(v, r),
        _ => false,
    }
}

/// What a field reads from the packet at a hook of `class`.
enum Reading<'a> {
    Got(Read<'a>),
    /// The packet has no such field: the rule does not match, whatever the operator (nft's
    /// implicit protocol dependency).
    Absent,
    /// It has one, but the record does not tell its value.
    Unknown,
}

fn read<'a>(f: Field, p: &PacketView<'a>, class: Class) -> Reading<'a> {
    use Reading::*;
    let has_ports = matches!(p.l4, Some(6 | 17 | 33 | 132 | 136));
    let opt = |v: Option<u64>| v.map(|n| Got(Read::Int(n))).unwrap_or(Absent);
    let name = |n: Option<&'a str>| n.map(|n| Got(Read::Name(n))).unwrap_or(Unknown);
    match f {
        Field::IpSaddr if !p.v6 => Got(Read::Addr(p.src)),
        Field::IpDaddr if !p.v6 => Got(Read::Addr(p.dst)),
        Field::Ip6Saddr if p.v6 => Got(Read::Addr(p.src)),
        Field::Ip6Daddr if p.v6 => Got(Read::Addr(p.dst)),
        Field::IpProtocol if !p.v6 => opt(p.l4.map(u64::from)),
        Field::L4Proto => opt(p.l4.map(u64::from)),
        Field::Sport(L4::Tcp) if p.l4 == Some(6) => opt(p.sport.map(u64::from)),
        Field::Dport(L4::Tcp) if p.l4 == Some(6) => opt(p.dport.map(u64::from)),
        Field::Sport(L4::Udp) if p.l4 == Some(17) => opt(p.sport.map(u64::from)),
        Field::Dport(L4::Udp) if p.l4 == Some(17) => opt(p.dport.map(u64::from)),
        Field::Sport(L4::Th) if has_ports => opt(p.sport.map(u64::from)),
        Field::Dport(L4::Th) if has_ports => opt(p.dport.map(u64::from)),
        Field::TcpFlags if p.l4 == Some(6) => opt(p.tcp_flags.map(u64::from)),
        Field::CtState => Got(Read::Int(p.ct as u64)),
        Field::IcmpType if !p.v6 && p.l4 == Some(1) => opt(p.icmp_type.map(u64::from)),
        Field::Icmpv6Type if p.v6 && p.l4 == Some(58) => opt(p.icmpv6_type.map(u64::from)),
        Field::IcmpCode if !p.v6 && p.l4 == Some(1) => opt(p.extra.icmp_code.map(u64::from)),
        Field::Icmpv6Code if p.v6 && p.l4 == Some(58) => opt(p.extra.icmp_code.map(u64::from)),
        // The side of a hook with no device reads as the empty name, as the kernel stores it
        // (`oifname != "lo"` holds on input).
        Field::Iifname => match class {
            Class::In | Class::Fwd => name(p.iif),
            Class::Out => Got(Read::Name("")),
        },
        Field::Oifname => match class {
            Class::Out => name(p.oif),
            Class::In => Got(Read::Name("")),
            // A forwarded packet's output interface, when the record names it.
            Class::Fwd => name(p.oif),
        },
        Field::Nfproto => Got(Read::Int(if p.v6 { 10 } else { 2 })),
        Field::EtherProto => Got(Read::Int(if p.v6 { 0x86dd } else { 0x0800 })),
        Field::Pkttype => Got(Read::Int(p.extra.pkttype as u64)),
        Field::IpTtl if !p.v6 => opt(p.extra.ttl.map(u64::from)),
        Field::Ip6Hoplimit if p.v6 => opt(p.extra.ttl.map(u64::from)),
        Field::IpLength if !p.v6 => Got(Read::Int(p.len as u64)),
        Field::Ip6Length if p.v6 => Got(Read::Int(p.len.saturating_sub(40) as u64)),
        Field::Ip6Nexthdr if p.v6 => opt(p.extra.ip6_nexthdr.map(u64::from)),
        Field::TcpMss if p.l4 == Some(6) => opt(p.extra.mss.map(u64::from)),
        Field::CtStatus | Field::FibRpf => Unknown,
        Field::FibDaddrType => Got(Read::Int(fib_type(p))),
        _ => Absent,
    }
}

/// `fib daddr type`: local (2) for the host's addresses, multicast (5), broadcast (3), else
/// unicast (1).
fn fib_type(p: &PacketView<'_>) -> u64 {
    if p.extra.dst_local {
        return 2;
    }
    match p.dst {
        IpAddr::V4(a) if a.is_broadcast() => 3,
        a if a.is_multicast() => 5,
        _ => 1,
    }
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

fn match_tri(table: &Table, m: &Match, p: &PacketView<'_>, class: Class) -> Tri {
    let mut reads = Vec::with_capacity(1 + m.more.len());
    for f in m.fields() {
        match read(f, p, class) {
            Reading::Got(r) => reads.push(r),
            Reading::Absent => {
                // `tcp option maxseg missing` holds exactly when the option is absent.
                if let (Field::TcpMss, Rhs::Exists(false)) = (f, &m.rhs) {
                    if p.l4 == Some(6) {
                        return tri(m.op == Op::Eq);
                    }
                }
                return Tri::No;
            }
            Reading::Unknown => return Tri::Maybe,
        }
    }
    let hit = match &m.rhs {
        Rhs::Values(vs) => vs.iter().any(|v| element_has(v, &reads)),
        Rhs::Set(name) => match table.set(name) {
            Some(s) => {
                let found = s.elements.iter().any(|v| element_has(v, &reads));
                if !found && s.dynamic {
                    // Filled at run time: the packet's key may be there.
                    return Tri::Maybe;
                }
                found
            }
            None => false,
        },
        Rhs::Masked { mask, value } => match reads[0] {
            Read::Int(x) => x & mask == *value,
            _ => false,
        },
        Rhs::AnyBits(bits) => match reads[0] {
            Read::Int(x) => x & bits != 0,
            _ => false,
        },
        Rhs::Exists(e) => *e,
    };
    tri(match m.op {
        Op::Eq => hit,
        Op::Ne => !hit,
    })
}

fn tri(b: bool) -> Tri {
    if b {
        Tri::Yes
    } else {
        Tri::No
    }
}

/// The first test of `rule` that `p` fails, said for the trace.
fn why_rule(table: &Table, rule: &Rule, p: &PacketView<'_>, class: Class) -> String {
    match rule
        .matches
        .iter()
        .find(|m| match_tri(table, m, p, class) == Tri::No)
    {
        Some(m) => why_not(m, p, class),
        None if rule.vmap.is_some() => "no element of its verdict map holds the packet".into(),
        None => "did not match".into(),
    }
}

fn why_not(m: &Match, p: &PacketView<'_>, class: Class) -> String {
    let mut got = Vec::new();
    for f in m.fields() {
        match read(f, p, class) {
            Reading::Got(r) => got.push(match r {
                Read::Addr(a) => a.to_string(),
                Read::Int(x) if f == Field::CtState => super::model::ct::name(x as u8).to_string(),
                Read::Int(x) if f == Field::TcpFlags => format!("0x{x:02x}"),
                Read::Int(x) => x.to_string(),
                Read::Name(n) => n.to_string(),
            }),
            _ => return format!("{}: the packet has none", f.name()),
        }
    }
    let names: Vec<&str> = m.fields().map(Field::name).collect();
    format!("{} is {}", names.join(" . "), got.join(" . "))
}
