//! Value classes of addresses and ports: two values no rule of the ruleset tells apart share a
//! class, so the compiled matcher's signature holds the class, not the value.
//!
//! Every test of an address or a port that packetlab evaluates is membership in values,
//! prefixes and ranges (`value_has`): its result is constant between two consecutive interval
//! ends of all the values the ruleset names for that field. The classes are those elementary
//! intervals; a packet's class is found by a binary search over their starts. A field tested
//! any other way (a mask, `exists`) keeps its exact value.

use std::net::IpAddr;

use super::model::*;

/// How one field enters the signature.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Proj {
    /// No rule reads it.
    #[default]
    Ignore,
    /// The starts of its classes, sorted (class = how many starts are ≤ the value).
    Classes(Vec<u128>),
    /// A port's class for every port, when there are many classes: one load instead of a
    /// binary search that misses the CPU cache (a 10,000-port ruleset: 14 steps over 160 KB).
    Table(Box<[u32]>),
    /// Some rule tests it in a way classes do not capture: the value itself.
    Exact,
}

impl Proj {
    /// The key of `v` in the signature (0 when ignored).
    pub fn key(&self, v: u128) -> u128 {
        match self {
            Proj::Ignore => 0,
            Proj::Classes(starts) => starts.partition_point(|s| *s <= v) as u128,
            Proj::Table(t) => t.get(v as usize).map_or(0, |&c| c as u128),
            Proj::Exact => v,
        }
    }
}

/// More class starts than this, and a port field's classes are a table.
const PORT_TABLE_FROM: usize = 32;

/// An address as one number, ordered as `value_has` compares them: the IPv6 space above the
/// IPv4 one (an IPv4 range never holds an IPv6 address).
pub fn addr_key(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u32::from(v4) as u128,
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// Which kind of field: both families' source (or destination) addresses are one packet
/// field, as are the ports of every transport.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Of {
    Src,
    Dst,
    Sport,
    Dport,
}

fn of(f: Field) -> Option<Of> {
    Some(match f {
        Field::IpSaddr | Field::Ip6Saddr => Of::Src,
        Field::IpDaddr | Field::Ip6Daddr => Of::Dst,
        Field::Sport(_) => Of::Sport,
        Field::Dport(_) => Of::Dport,
        _ => return None,
    })
}

/// The classes of the source and destination addresses and ports, from every rule.
#[derive(Clone, Debug, Default)]
pub struct Atoms {
    pub src: Proj,
    pub dst: Proj,
    pub sport: Proj,
    pub dport: Proj,
}

impl Atoms {
    pub fn of(rs: &Ruleset) -> Atoms {
        let mut c = Collect2::default();
        for t in &rs.tables {
            for ch in &t.chains {
                for r in &ch.rules {
                    for m in &r.matches {
                        let fields: Vec<Field> = m.fields().collect();
                        for f in &fields {
                            c.tuple(*f);
                        }
                        match &m.rhs {
                            Rhs::Values(vs) => c.values(&fields, vs),
                            Rhs::Set(n) => match t.set(n) {
                                // A set the rules fill is tested at the walk, on the packet.
                                Some(s) if s.dynamic => {}
                                Some(s) => c.values(&fields, &s.elements),
                                None => {}
                            },
                            _ => {
                                for f in &fields {
                                    if let Some(k) = of(*f) {
                                        c.exact(k);
                                    }
                                }
                            }
                        }
                    }
                    if let Some(vm) = &r.vmap {
                        let fields: Vec<Field> =
                            std::iter::once(vm.field).chain(vm.more.clone()).collect();
                        for f in &fields {
                            c.tuple(*f);
                        }
                        match &vm.map {
                            MapRef::Inline(e) => {
                                let keys: Vec<Value> = e.iter().map(|e| e.0.clone()).collect();
                                c.values(&fields, &keys);
                            }
                            MapRef::Named(n) => {
                                if let Some(s) = t.set(n) {
                                    c.values(&fields, &s.elements);
                                }
                            }
                        }
                    }
                }
            }
        }
        let proj = |k: Of| c.proj(k);
        Atoms {
            src: proj(Of::Src),
            dst: proj(Of::Dst),
            sport: proj(Of::Sport),
            dport: proj(Of::Dport),
        }
    }
}

#[derive(Default)]
struct Collect2 {
    ends: [Vec<u128>; 4],
    read: [bool; 4],
    exact: [bool; 4],
}

impl Collect2 {
    /// A connection's tuple (`ct original saddr`) reads the source or the destination as the
    /// packet's direction says: both are kept whole.
    fn tuple(&mut self, f: Field) {
        if let Field::CtTuple { key, .. } = f {
            let both = match key {
                TupleKey::Saddr(_) | TupleKey::Daddr(_) => [Of::Src, Of::Dst],
                TupleKey::ProtoSrc | TupleKey::ProtoDst => [Of::Sport, Of::Dport],
            };
            for k in both {
                self.exact(k);
            }
        }
    }

    fn exact(&mut self, k: Of) {
        self.read[k as usize] = true;
        self.exact[k as usize] = true;
    }

    /// The values of a test of `fields` (a concatenation's elements hold a part per field).
    fn values(&mut self, fields: &[Field], vs: &[Value]) {
        for (i, f) in fields.iter().enumerate() {
            let Some(k) = of(*f) else { continue };
            self.read[k as usize] = true;
            for v in vs {
                let part = match v {
                    Value::Concat(parts) if fields.len() > 1 => parts.get(i),
                    v if fields.len() == 1 => Some(v),
                    _ => None,
                };
                if let Some(p) = part {
                    self.value(k, p);
                }
            }
        }
    }

    fn value(&mut self, k: Of, v: &Value) {
        let (lo, hi) = match (k, v) {
            (Of::Src | Of::Dst, Value::Prefix(net, len)) => {
                let (n, bits) = match net {
                    IpAddr::V4(a) => (u32::from(*a) as u128, 32u32),
                    IpAddr::V6(a) => (u128::from(*a), 128u32),
                };
                let host = bits.saturating_sub(u32::from(*len).min(bits));
                let mask = if host >= 128 {
                    u128::MAX
                } else {
                    (1u128 << host) - 1
                };
                let lo = n & !mask;
                let lo = if bits == 32 { lo & 0xffff_ffff } else { lo };
                (lo, lo | mask)
            }
            (Of::Src | Of::Dst, Value::AddrRange(a, b)) => {
                if a.is_ipv4() != b.is_ipv4() {
                    return;
                }
                (addr_key(*a), addr_key(*b))
            }
            (Of::Sport | Of::Dport, Value::Int(n)) => (*n as u128, *n as u128),
            (Of::Sport | Of::Dport, Value::IntRange(a, b)) => (*a as u128, *b as u128),
            // A value of another kind never matches this field: it makes no class.
            _ => return,
        };
        let e = &mut self.ends[k as usize];
        e.push(lo);
        if let Some(n) = hi.checked_add(1) {
            e.push(n);
        }
    }

    fn proj(&self, k: Of) -> Proj {
        let i = k as usize;
        if !self.read[i] {
            return Proj::Ignore;
        }
        if self.exact[i] {
            return Proj::Exact;
        }
        let mut e = self.ends[i].clone();
        e.sort_unstable();
        e.dedup();
        if matches!(k, Of::Sport | Of::Dport) && e.len() > PORT_TABLE_FROM {
            // The same classes, looked up: class of p = how many starts are ≤ p.
            let mut t = vec![0u32; 65536];
            let mut n = 0usize;
            for (p, c) in t.iter_mut().enumerate() {
                while n < e.len() && e[n] <= p as u128 {
                    n += 1;
                }
                *c = n as u32;
            }
            return Proj::Table(t.into_boxed_slice());
        }
        Proj::Classes(e)
    }
}
