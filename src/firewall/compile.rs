//! Making thousands of rules fast without changing a single verdict.
//!
//! Two layers:
//! - an index per chain by destination port: a rule that tests `dport` against a few values is
//!   only tried for packets to those ports; every other rule is tried always. Candidates are
//!   merged in rule order, so the first match is the first match of a linear scan;
//! - a cache of which rules match each distinct "packet signature" (everything a rule can test:
//!   addresses, protocol, ports, flags, ICMP type, interfaces, ct state). Packets of one flow in
//!   one state share a signature, so a flow is matched once, not once per packet. The cache keeps
//!   the matching rules whether or not they are enabled, so toggling a rule recomputes verdicts
//!   from the cache without matching again; moving or editing rules clears it.

use rustc_hash::FxBuildHasher;
use std::collections::HashMap;

use super::atoms::{addr_key, Atoms, Proj};
use super::eval::{self, Class, Extra, Hit, Meters, Outcome, PacketView, Seg};
use super::model::*;

/// Ports a rule may name and still be indexed (beyond, it is tried for every packet).
const MAX_INDEXED_PORTS: u64 = 1024;
/// Signatures kept; the cache is emptied past this.
const MAX_CACHED: usize = 1 << 18;

#[derive(Default, Debug)]
struct ChainIndex {
    by_dport: HashMap<u16, Vec<u32>, FxBuildHasher>,
    always: Vec<u32>,
}

/// The per-chain port index of a ruleset.
#[derive(Default, Debug)]
pub struct Index {
    chains: Vec<Vec<ChainIndex>>,
}

fn dport_values(t: &Table, r: &Rule) -> Option<Vec<u16>> {
    let (at, m) =
        r.matches.iter().enumerate().find(|(_, m)| {
            matches!(m.field, Field::Dport(_)) && m.more.is_empty() && m.op == Op::Eq
        })?;
    // A statement before the port test (`meta mark set 1 tcp dport 22`) acts on every packet
    // that reaches it: the rule is tried for all.
    if r.effects.first().is_some_and(|e| e.0 as usize <= at) {
        return None;
    }
    let vals: &[Value] = match &m.rhs {
        Rhs::Values(v) => v,
        Rhs::Set(n) => &t.set(n).filter(|s| !s.dynamic)?.elements,
        _ => return None,
    };
    let mut total = 0;
    let mut ports = Vec::new();
    for v in vals {
        let (lo, hi) = match v {
            Value::Int(n) => (*n, *n),
            Value::IntRange(a, b) => (*a, *b),
            _ => return None,
        };
        total += hi.saturating_sub(lo) + 1;
        if total > MAX_INDEXED_PORTS || hi > 65535 {
            return None;
        }
        ports.extend((lo..=hi).map(|p| p as u16));
    }
    Some(ports)
}

impl Index {
    pub fn build(rs: &Ruleset) -> Index {
        let chains = rs
            .tables
            .iter()
            .map(|t| {
                t.chains
                    .iter()
                    .map(|c| {
                        let mut ix = ChainIndex::default();
                        for (ri, r) in c.rules.iter().enumerate() {
                            match dport_values(t, r) {
                                Some(ports) => {
                                    for p in ports {
                                        ix.by_dport.entry(p).or_default().push(ri as u32);
                                    }
                                }
                                None => ix.always.push(ri as u32),
                            }
                        }
                        ix
                    })
                    .collect()
            })
            .collect();
        Index { chains }
    }

    /// Rule indices of chain (t, c) worth trying for a packet to `dport`, in rule order.
    pub fn candidates(&self, t: u16, c: u16, dport: Option<u16>, out: &mut Vec<u32>) {
        out.clear();
        let Some(ix) = self.chains.get(t as usize).and_then(|v| v.get(c as usize)) else {
            return;
        };
        let by = dport
            .and_then(|p| ix.by_dport.get(&p))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let (mut i, mut j) = (0, 0);
        while i < by.len() || j < ix.always.len() {
            let take_by = j >= ix.always.len() || (i < by.len() && by[i] < ix.always[j]);
            if take_by {
                out.push(by[i]);
                i += 1;
            } else {
                out.push(ix.always[j]);
                j += 1;
            }
        }
    }
}

/// Everything a rule of the ruleset tests, as one hashable key: the parts no rule reads are
/// left at their default (see `Reads`), so the flows that differ only there share one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Signature {
    v6: bool,
    /// The address's class, or the address itself (`atoms::Proj`).
    src: u128,
    dst: u128,
    l4: Option<u8>,
    /// The port's class or the port; `None` when the packet has none.
    sport: Option<u32>,
    dport: Option<u32>,
    tcp_flags: Option<u8>,
    icmp: Option<u8>,
    icmpv6: Option<u8>,
    iface: u64,
    ct: u8,
    len: u32,
    /// `None` when no rule reads any of it: one word hashed and compared, not ninety bytes.
    extra: Option<Extra>,
    class: Class,
}

/// The small fields packed into words, so a probe hashes six words instead of writing each
/// field and `Option` tag (a tenth of the 10,000-rule bench). Equality stays field by field.
impl std::hash::Hash for Signature {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let opt8 = |v: Option<u8>| v.map_or(0u64, |x| 0x100 | x as u64);
        let opt32 = |v: Option<u32>| v.map_or(0u64, |x| (1 << 32) | x as u64);
        let small = self.v6 as u64
            | opt8(self.l4) << 1
            | opt8(self.tcp_flags) << 10
            | opt8(self.icmp) << 19
            | opt8(self.icmpv6) << 28
            | (self.ct as u64) << 37
            | (self.class as u64) << 45;
        h.write_u64(small);
        h.write_u128(self.src);
        h.write_u128(self.dst);
        h.write_u64(opt32(self.sport) ^ opt32(self.dport).rotate_left(29));
        h.write_u64(self.iface ^ (self.len as u64) << 7);
        if let Some(e) = &self.extra {
            e.hash(h);
        }
    }
}

fn name_hash(n: Option<&str>) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = FxBuildHasher.build_hasher();
    if let Some(n) = n {
        h.write(n.as_bytes());
        h.write_u8(1);
    }
    h.finish()
}

/// Which parts of a packet some rule of the ruleset reads. A signature holds only those: with
/// every address and port in it, the cache held one signature per flow and state (a probe
/// missing the CPU cache, and a table growing to its bound on a busy capture); a ruleset that
/// reads the protocol, ports and interfaces has a few hundred.
#[derive(Clone, Copy, Debug, Default)]
struct Reads {
    flags: bool,
    icmp: bool,
    icmpv6: bool,
    iface: bool,
    len: bool,
    extra: bool,
}

impl Reads {
    fn of(rs: &Ruleset) -> Reads {
        let mut r = Reads::default();
        for f in rule_fields(rs) {
            r.add(f);
        }
        r
    }

    /// What `eval::matching::read` looks at for `f`, besides the protocol, the family, the
    /// ct state and the hook's side, which every signature keeps. A field not named here
    /// reads anything (the whole packet is kept), so a new field is right before it is fast.
    fn add(&mut self, f: Field) {
        match f {
            // Addresses and ports enter the signature by their classes (`atoms`).
            Field::IpSaddr
            | Field::Ip6Saddr
            | Field::IpDaddr
            | Field::Ip6Daddr
            | Field::Sport(_)
            | Field::Dport(_) => {}
            Field::TcpFlags => self.flags = true,
            Field::IcmpType => self.icmp = true,
            Field::Icmpv6Type => self.icmpv6 = true,
            Field::Iifname | Field::Oifname => self.iface = true,
            Field::IpLength | Field::Ip6Length => self.len = true,
            Field::IpProtocol
            | Field::L4Proto
            | Field::CtState
            | Field::Nfproto
            | Field::EtherProto
            | Field::CtStatus
            | Field::FibRpf
            | Field::Host(_)
            | Field::Raw { .. }
            | Field::Ipsec => {}
            Field::DevType { .. } => self.iface = true,
            // `Extra::ct_dir`, and for a tuple the addresses and ports (kept whole by `atoms`).
            Field::CtDirection | Field::CtTuple { .. } => self.extra = true,
            // Marks are read at the walk, never from the cache.
            Field::MetaMark | Field::CtMark => {}
            // `Extra::dst_local` and the address's kind (broadcast, multicast): the address
            // itself is kept by `fib_dst`.
            Field::FibDaddrType => self.extra = true,
            Field::IcmpCode
            | Field::Icmpv6Code
            | Field::Pkttype
            | Field::IpTtl
            | Field::Ip6Hoplimit
            | Field::Ip6Nexthdr
            | Field::TcpMss
            | Field::Hdr(_)
            | Field::ExtHdr(_)
            | Field::ExtField(..)
            | Field::Time(_) => self.extra = true,
            #[allow(unreachable_patterns)]
            _ => *self = Reads::all(),
        }
    }

    fn all() -> Reads {
        Reads {
            flags: true,
            icmp: true,
            icmpv6: true,
            iface: true,
            len: true,
            extra: true,
        }
    }
}

/// Every field a rule's tests and verdict map read.
fn rule_fields(rs: &Ruleset) -> impl Iterator<Item = Field> + '_ {
    rs.rules().flat_map(|(_, r)| {
        r.matches
            .iter()
            .flat_map(|m| m.fields().collect::<Vec<_>>())
            .chain(
                r.vmap
                    .iter()
                    .flat_map(|m| std::iter::once(m.field).chain(m.more.clone())),
            )
            .collect::<Vec<_>>()
    })
}

/// Which per-packet fields of `Extra` some rule reads (see `Compiled::volatile`).
#[derive(Clone, Copy, Debug, Default)]
struct Volatile {
    /// Some rule reads an IP header field of `Extra::ip`.
    hdr: bool,
    ip_id: bool,
    flowlabel: bool,
    frag_id: bool,
    time: bool,
    dir: bool,
}

impl Volatile {
    fn of(rs: &Ruleset) -> Volatile {
        let mut v = Volatile::default();
        for f in rule_fields(rs) {
            match f {
                Field::Hdr(HdrField::IpId) => v.ip_id = true,
                Field::Hdr(HdrField::Ip6Flowlabel) => v.flowlabel = true,
                Field::ExtField(Ext::Frag, ExtKey::Id) => v.frag_id = true,
                Field::Time(_) => v.time = true,
                Field::CtDirection | Field::CtTuple { .. } => v.dir = true,
                _ => {}
            }
            if matches!(f, Field::Hdr(_) | Field::ExtHdr(_) | Field::ExtField(..)) {
                v.hdr = true;
            }
        }
        v
    }

    /// `e` with what no rule reads cleared. Time is kept to the second (every bound nft
    /// writes is a whole second), so the packets of one second share a signature.
    fn keep(self, mut e: Extra) -> Extra {
        e.ts_ns = if self.time {
            e.ts_ns - e.ts_ns % 1_000_000_000
        } else {
            0
        };
        if !self.time {
            e.utc_off = 0;
        }
        if !self.dir {
            e.ct_dir = Default::default();
        }
        if !self.hdr {
            e.ip = None;
            e.reassembled = false;
        }
        if let Some(ip) = e.ip.as_mut() {
            if !self.ip_id {
                ip.id = 0;
            }
            if !self.flowlabel {
                ip.flowlabel = 0;
            }
            if !self.frag_id {
                ip.ext.frag_id = 0;
            }
        }
        e
    }
}

/// The compiled form of a ruleset: the index, and the cache of matching rules per signature.
#[derive(Default)]
pub struct Compiled {
    index: Index,
    /// Signature → its place in `matched`: one probe a packet and hook side, not two.
    cache: HashMap<Signature, u32, FxBuildHasher>,
    matched: Vec<Vec<Hit>>,
    scratch: Vec<u32>,
    /// What the rules read: the rest is left out of the signature.
    reads: Reads,
    /// The classes of addresses and ports the rules tell apart.
    atoms: Atoms,
    /// Some base chain runs before connection tracking (`simulator::pre_ct`).
    pre_ct: bool,
    /// Some rule reads `fib daddr type`: the destination address is kept whole.
    fib_dst: bool,
    /// The fields that differ from packet to packet of a flow (IP id, flow label, fragment id,
    /// time) that some rule reads: the others are left out of the signature.
    volatile: Volatile,
    bases: eval::Bases,
    pub cache_hits: u64,
    pub cache_misses: u64,
}

impl Compiled {
    pub fn new(rs: &Ruleset) -> Self {
        Compiled {
            index: Index::build(rs),
            reads: Reads::of(rs),
            atoms: Atoms::of(rs),
            pre_ct: pre_ct(rs),
            fib_dst: rule_fields(rs).any(|f| f == Field::FibDaddrType),
            volatile: Volatile::of(rs),
            bases: eval::Bases::of(rs),
            ..Default::default()
        }
    }

    /// Forgets what was matched: after rules were moved, added, removed or edited.
    pub fn rebuild(&mut self, rs: &Ruleset) {
        *self = Compiled::new(rs);
    }

    /// The verdict for `p` through `hooks`: exactly what `eval::evaluate` gives (the chains
    /// before conntrack see the packet untracked or invalid, and may `notrack` it).
    pub fn evaluate(&mut self, rs: &Ruleset, hooks: &[Hook], p: &PacketView<'_>) -> Outcome {
        if !self.pre_ct {
            // No chain before conntrack: one walk, as the simulator makes it.
            return self.walk(rs, hooks, Seg::All, p, None);
        }
        let untracked = p.ct == super::model::ct::UNTRACKED;
        let pre = PacketView {
            ct: if untracked {
                p.ct
            } else {
                super::model::ct::INVALID
            },
            ..*p
        };
        let a = self.walk(rs, hooks, Seg::PreCt, &pre, None);
        if a.verdict != eval::Final::Accept {
            return a;
        }
        let mut post = PacketView {
            ct: if a.notrack {
                super::model::ct::UNTRACKED
            } else {
                p.ct
            },
            ..*p
        };
        post.extra.mark = a.mark.unwrap_or(0);
        let b = self.walk(rs, hooks, Seg::PostCt, &post, None);
        a.then(b)
    }

    /// `eval::walk` with the rules' tests taken from the cache.
    pub fn walk(
        &mut self,
        rs: &Ruleset,
        hooks: &[Hook],
        seg: Seg,
        p: &PacketView<'_>,
        meters: Option<&mut Meters>,
    ) -> Outcome {
        // At most three classes of hooks: no allocation per packet. Emptied before, never
        // during, so every signature of this packet stays until the walk.
        if self.cache.len() + 3 > MAX_CACHED {
            self.cache.clear();
            self.matched.clear();
        }
        let mut slots: [Option<(Class, u32)>; 3] = [None; 3];
        for h in hooks {
            let class = Class::of(*h);
            let slot = class as usize;
            if slots[slot].is_some() {
                continue;
            }
            let r = self.reads;
            let a = &self.atoms;
            let port = |proj: &Proj, v: Option<u16>| v.map(|v| proj.key(v as u128) as u32);
            let dst = if self.fib_dst {
                addr_key(p.dst)
            } else {
                a.dst.key(addr_key(p.dst))
            };
            let sig = Signature {
                v6: p.v6,
                src: a.src.key(addr_key(p.src)),
                dst,
                l4: p.l4,
                sport: port(&a.sport, p.sport),
                dport: port(&a.dport, p.dport),
                tcp_flags: p.tcp_flags.filter(|_| r.flags),
                icmp: p.icmp_type.filter(|_| r.icmp),
                icmpv6: p.icmpv6_type.filter(|_| r.icmpv6),
                iface: if r.iface {
                    name_hash(p.iif) ^ name_hash(p.oif).rotate_left(1)
                } else {
                    0
                },
                ct: p.ct,
                len: if r.len { p.len } else { 0 },
                // Marks and the connection are read at the walk, never from the cache.
                extra: r.extra.then(|| Extra {
                    mark: 0,
                    conn: None,
                    ..self.volatile.keep(p.extra)
                }),
                class,
            };
            let at = match self.cache.get(&sig) {
                Some(&at) => {
                    self.cache_hits += 1;
                    at
                }
                None => {
                    self.cache_misses += 1;
                    let matched = self.all_matching(rs, p, class);
                    let at = self.matched.len() as u32;
                    self.matched.push(matched);
                    self.cache.insert(sig, at);
                    at
                }
            };
            slots[slot] = Some((class, at));
        }
        let mut lists: [(Class, &[Hit]); 3] = [(Class::In, &[]); 3];
        let mut n = 0;
        for &(class, at) in slots.iter().flatten() {
            lists[n] = (class, self.matched[at as usize].as_slice());
            n += 1;
        }
        eval::walk(
            rs,
            &self.bases,
            hooks,
            seg,
            p,
            Some(&lists[..n]),
            meters,
            false,
        )
    }

    /// Every rule (enabled or not) whose tests `p` passes (or may), in (table, chain, rule)
    /// order.
    fn all_matching(&mut self, rs: &Ruleset, p: &PacketView<'_>, class: Class) -> Vec<Hit> {
        let mut out = Vec::new();
        for (ti, t) in rs.tables.iter().enumerate() {
            if !t.family.sees(p.v6) {
                continue;
            }
            for ci in 0..t.chains.len() {
                let mut cand = std::mem::take(&mut self.scratch);
                self.index
                    .candidates(ti as u16, ci as u16, p.dport, &mut cand);
                for &ri in &cand {
                    let r = &t.chains[ci].rules[ri as usize];
                    if let Some(res) = eval::test_rule(t, r, p, class) {
                        out.push(Hit {
                            id: RuleId {
                                table: ti as u16,
                                chain: ci as u16,
                                rule: ri,
                            },
                            res,
                        });
                    }
                }
                self.scratch = cand;
            }
        }
        out
    }
}

/// Whether any base chain runs before connection tracking: ingress chains, and prerouting or
/// output chains below priority -200.
pub fn pre_ct(rs: &Ruleset) -> bool {
    rs.tables.iter().flat_map(|t| &t.chains).any(|c| {
        c.base.as_ref().is_some_and(|b| {
            b.hook == Hook::Ingress
                || (b.priority < eval::CONNTRACK_PRIORITY
                    && matches!(b.hook, Hook::Prerouting | Hook::Output))
        })
    })
}
