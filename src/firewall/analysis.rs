//! What can be said of a ruleset without any packet: rules that can never match, rules an
//! earlier rule shadows (it takes every packet they could match, with another verdict) or makes
//! redundant (same verdict), and chains nothing jumps to.
//!
//! Coverage is decided field by field: an earlier rule covers a later one when each of its
//! tests is implied by a test of the later rule (its values a subset, its flag bits within the
//! earlier's, its protocol implied by the later's port match…). That is sound: a rule reported
//! shadowed is shadowed. It is not complete: a rule covered only by several earlier rules
//! together is not reported.

use std::net::IpAddr;

use super::eval::prefix_contains;
use super::model::*;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FindingKind {
    /// An earlier rule with another verdict takes every packet this one could match.
    Shadowed { by: RuleId },
    /// An earlier rule with the same verdict takes every packet this one could match.
    Redundant { by: RuleId },
    /// No packet can satisfy all of this rule's tests.
    NeverMatches(String),
    /// A chain that is neither a base chain nor the target of any jump or goto.
    UnreachableChain,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: Option<RuleId>,
    /// For chain findings: (table, chain).
    pub chain: (u16, u16),
    pub kind: FindingKind,
}

impl Finding {
    /// The findings that are most likely mistakes (a rule that never decides anything). All
    /// findings are warnings to `--check`: only what packetlab cannot read makes it fail.
    pub fn is_error(&self) -> bool {
        matches!(
            self.kind,
            FindingKind::Shadowed { .. } | FindingKind::NeverMatches(_)
        )
    }

    pub fn describe(&self, rs: &Ruleset) -> String {
        let line = |id: RuleId| rs.rule(id).map(|r| r.origin.line).unwrap_or(0);
        let text = |id: RuleId| {
            rs.rule(id)
                .map(|r| r.origin.text.clone())
                .unwrap_or_default()
        };
        match &self.kind {
            FindingKind::Shadowed { by } => format!(
                "warning: shadowed by line {} ({}): it never decides a packet",
                line(*by),
                text(*by)
            ),
            FindingKind::Redundant { by } => format!(
                "warning: redundant: line {} ({}) already gives every packet it could match the same verdict",
                line(*by),
                text(*by)
            ),
            FindingKind::NeverMatches(why) => format!("warning: can never match: {why}"),
            FindingKind::UnreachableChain => "warning: no base chain reaches this chain".into(),
        }
    }
}

/// The protocol a field's test implies (nft adds that dependency itself).
fn implied_l4(f: Field) -> Option<&'static [u64]> {
    match f {
        Field::Sport(L4::Tcp) | Field::Dport(L4::Tcp) | Field::TcpFlags => Some(&[6]),
        Field::Sport(L4::Udp) | Field::Dport(L4::Udp) => Some(&[17]),
        Field::Sport(L4::Th) | Field::Dport(L4::Th) => Some(&[6, 17, 33, 132, 136]),
        Field::IcmpType | Field::IcmpCode => Some(&[1]),
        Field::Icmpv6Type | Field::Icmpv6Code => Some(&[58]),
        _ => None,
    }
}

/// The IP version a field implies: Some(false) IPv4, Some(true) IPv6.
fn implied_v6(f: Field) -> Option<bool> {
    match f {
        Field::IpSaddr | Field::IpDaddr | Field::IpProtocol | Field::IcmpType | Field::IcmpCode => {
            Some(false)
        }
        Field::Ip6Saddr | Field::Ip6Daddr | Field::Icmpv6Type | Field::Icmpv6Code => Some(true),
        _ => None,
    }
}

fn values<'a>(t: &'a Table, rhs: &'a Rhs) -> Option<&'a [Value]> {
    match rhs {
        Rhs::Values(v) => Some(v),
        Rhs::Set(n) => t
            .set(n)
            .filter(|s| !s.dynamic)
            .map(|s| s.elements.as_slice()),
        _ => None,
    }
}

/// The first and last address of the prefix `n/l`, in one width for both families.
fn prefix_range(n: IpAddr, l: u8) -> (IpAddr, IpAddr) {
    let (bits, x) = match n {
        IpAddr::V4(a) => (32, u128::from(u32::from(a))),
        IpAddr::V6(a) => (128, u128::from(a)),
    };
    let host = (u128::MAX >> (128 - bits))
        .checked_shr(u32::from(l))
        .unwrap_or(0);
    let (lo, hi) = (x & !host, x | host);
    match n {
        IpAddr::V4(_) => (
            IpAddr::V4((lo as u32).into()),
            IpAddr::V4((hi as u32).into()),
        ),
        IpAddr::V6(_) => (IpAddr::V6(lo.into()), IpAddr::V6(hi.into())),
    }
}

/// Every value `a` stands for is within `b`.
fn value_within(a: &Value, b: &Value) -> bool {
    let range = |v: &Value| -> Option<(IpAddr, IpAddr)> {
        match v {
            Value::Prefix(n, l) => Some(prefix_range(*n, *l)),
            Value::AddrRange(x, y) => Some((*x, *y)),
            _ => None,
        }
    };
    let ints = |v: &Value| match v {
        Value::Int(n) => Some((*n, *n)),
        Value::IntRange(x, y) => Some((*x, *y)),
        _ => None,
    };
    if let (Some((alo, ahi)), Some((blo, bhi))) = (range(a), range(b)) {
        return alo.is_ipv4() == blo.is_ipv4() && blo <= alo && ahi <= bhi;
    }
    if let (Some((alo, ahi)), Some((blo, bhi))) = (ints(a), ints(b)) {
        return blo <= alo && ahi <= bhi;
    }
    match (a, b) {
        (Value::Name(x), Value::Name(y)) => match y.strip_suffix('*') {
            Some(p) => x.trim_end_matches('*').starts_with(p),
            None => x == y,
        },
        (Value::Prefix(a, _), Value::Prefix(n, l)) => prefix_contains(*n, *l, *a),
        _ => false,
    }
}

fn overlaps(a: &Value, b: &Value) -> bool {
    value_within(a, b) || value_within(b, a) || {
        let ints = |v: &Value| match v {
            Value::Int(n) => Some((*n, *n)),
            Value::IntRange(x, y) => Some((*x, *y)),
            _ => None,
        };
        matches!((ints(a), ints(b)), (Some((a0, a1)), Some((b0, b1))) if a0 <= b1 && b0 <= a1)
    }
}

/// Does rule `r`'s test `mr` imply `me` (every packet passing `mr` passes `me`)?
fn implies(tr: &Table, mr: &Match, te: &Table, me: &Match) -> bool {
    if mr.field != me.field || mr.more != me.more {
        return false;
    }
    match (&mr.rhs, &me.rhs, mr.op, me.op) {
        (Rhs::AnyBits(r), Rhs::AnyBits(e), Op::Eq, Op::Eq) => r & !e == 0,
        (
            Rhs::Masked {
                mask: rm,
                value: rv,
            },
            Rhs::Masked {
                mask: em,
                value: ev,
            },
            ro,
            eo,
        ) => rm == em && rv == ev && ro == eo,
        (_, _, Op::Eq, Op::Eq) => match (values(tr, &mr.rhs), values(te, &me.rhs)) {
            (Some(r), Some(e)) => {
                !r.is_empty() && r.iter().all(|a| e.iter().any(|b| value_within(a, b)))
            }
            _ => false,
        },
        (_, _, Op::Eq, Op::Ne) => match (values(tr, &mr.rhs), values(te, &me.rhs)) {
            (Some(r), Some(e)) => r.iter().all(|a| !e.iter().any(|b| overlaps(a, b))),
            _ => false,
        },
        (_, _, Op::Ne, Op::Ne) => match (values(tr, &mr.rhs), values(te, &me.rhs)) {
            (Some(r), Some(e)) => e.iter().all(|b| r.iter().any(|a| value_within(b, a))),
            _ => false,
        },
        _ => false,
    }
}

/// Does `r` imply every test of `e` (so `e` matches whatever `r` matches)?
fn covers(t: &Table, e: &Rule, r: &Rule) -> bool {
    e.matches
        .iter()
        .all(|me| r.matches.iter().any(|mr| implies(t, mr, t, me)) || protocol_implied(me, r))
}

/// `e` tests only the protocol (`meta l4proto tcp`), which a port or flag test of `r` implies.
fn protocol_implied(me: &Match, r: &Rule) -> bool {
    if !matches!(me.field, Field::L4Proto | Field::IpProtocol) || me.op != Op::Eq {
        return false;
    }
    let Rhs::Values(allowed) = &me.rhs else {
        return false;
    };
    r.matches.iter().any(|mr| {
        implied_l4(mr.field).is_some_and(|ps| {
            ps.iter()
                .all(|p| allowed.iter().any(|v| value_within(&Value::Int(*p), v)))
        }) && (me.field == Field::L4Proto || implied_v6(mr.field) == Some(false))
    })
}

/// Why no packet can pass every test of `r` in a table of `family`, if that is so.
fn never_matches(t: &Table, r: &Rule) -> Option<String> {
    let mut v6: Option<(bool, Field)> = None;
    let mut l4: Option<(Vec<u64>, Field)> = None;
    for m in &r.matches {
        if let Some(want) = implied_v6(m.field) {
            if !t.family.sees(want) {
                return Some(format!(
                    "'{}' needs IPv{}, which a table of family {} never sees",
                    m.field.name(),
                    if want { 6 } else { 4 },
                    t.family.name()
                ));
            }
            match v6 {
                Some((other, f)) if other != want => {
                    return Some(format!(
                        "'{}' and '{}' need different IP versions",
                        f.name(),
                        m.field.name()
                    ))
                }
                _ => v6 = Some((want, m.field)),
            }
        }
        let protos: Option<Vec<u64>> = match (m.field, &m.rhs, m.op) {
            (Field::L4Proto | Field::IpProtocol, Rhs::Values(vs), Op::Eq) => Some(
                vs.iter()
                    .filter_map(|v| match v {
                        Value::Int(n) => Some(*n),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => implied_l4(m.field).map(|p| p.to_vec()),
        };
        if let Some(ps) = protos {
            match &l4 {
                Some((prev, f)) => {
                    let common: Vec<u64> =
                        prev.iter().copied().filter(|p| ps.contains(p)).collect();
                    if common.is_empty() {
                        return Some(format!(
                            "'{}' and '{}' need different protocols",
                            f.name(),
                            m.field.name()
                        ));
                    }
                    l4 = Some((common, *f));
                }
                None => l4 = Some((ps, m.field)),
            }
        }
        if let (Some(vs), Op::Eq) = (values(t, &m.rhs), m.op) {
            if vs.is_empty() {
                return Some(format!(
                    "'{}' is compared with an empty set",
                    m.field.name()
                ));
            }
        }
    }
    None
}

fn terminal(v: &Option<Verdict>) -> bool {
    matches!(v, Some(Verdict::Accept | Verdict::Drop | Verdict::Reject))
}

/// A rule whose effect is only its tests and verdict: one that can stand for later rules.
fn plain(r: &Rule) -> bool {
    r.unsupported.is_none() && r.approx.is_empty() && r.vmap.is_none() && r.actions.is_empty()
}

/// The chains a rule's verdict or verdict map can jump or go to.
fn targets_of<'a>(t: &'a Table, r: &'a Rule) -> Vec<&'a str> {
    let mut v = Vec::new();
    if let Some(Verdict::Jump(n) | Verdict::Goto(n)) = &r.verdict {
        v.push(n.as_str());
    }
    if let Some(vm) = &r.vmap {
        let verdicts: Vec<&Verdict> = match &vm.map {
            MapRef::Inline(e) => e.iter().map(|e| &e.1).collect(),
            MapRef::Named(n) => t
                .set(n)
                .and_then(|s| s.verdicts.as_ref())
                .map(|v| v.iter().collect())
                .unwrap_or_default(),
        };
        for verdict in verdicts {
            if let Verdict::Jump(n) | Verdict::Goto(n) = verdict {
                v.push(n.as_str());
            }
        }
    }
    v
}

pub fn analyze(rs: &Ruleset) -> Vec<Finding> {
    let mut out = Vec::new();
    for (ti, t) in rs.tables.iter().enumerate() {
        let targets: Vec<&str> = t
            .chains
            .iter()
            .flat_map(|c| c.rules.iter())
            .flat_map(|r| targets_of(t, r))
            .collect();
        // Chains packetlab does not simulate are shown as they are, not analysed.
        let simulated = |c: &Chain| {
            t.family.simulated() && c.base.as_ref().is_none_or(|b| b.kind == ChainType::Filter)
        };
        for (ci, c) in t.chains.iter().enumerate() {
            let chain = (ti as u16, ci as u16);
            if c.base.is_none() && !targets.contains(&c.name.as_str()) {
                out.push(Finding {
                    rule: None,
                    chain,
                    kind: FindingKind::UnreachableChain,
                });
            }
            let id = |ri: usize| RuleId {
                table: ti as u16,
                chain: ci as u16,
                rule: ri as u32,
            };
            if !simulated(c) {
                continue;
            }
            for (ri, r) in c.rules.iter().enumerate() {
                if !r.enabled || r.unsupported.is_some() {
                    continue;
                }
                if let Some(why) = never_matches(t, r) {
                    out.push(Finding {
                        rule: Some(id(ri)),
                        chain,
                        kind: FindingKind::NeverMatches(why),
                    });
                    continue;
                }
                let earlier = c.rules[..ri].iter().enumerate().find(|(_, e)| {
                    e.enabled
                        && plain(e)
                        && terminal(&e.verdict)
                        && never_matches(t, e).is_none()
                        && covers(t, e, r)
                });
                if let Some((ei, e)) = earlier {
                    let kind = if e.verdict == r.verdict {
                        FindingKind::Redundant { by: id(ei) }
                    } else {
                        FindingKind::Shadowed { by: id(ei) }
                    };
                    out.push(Finding {
                        rule: Some(id(ri)),
                        chain,
                        kind,
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::nft::parse;

    const PLANTED: &str = r#"
table inet filter {
    chain input {
        type filter hook input priority 0; policy drop;
        ct state established,related accept
        tcp dport { 22, 80, 443 } accept
        tcp dport 80 accept
        ip saddr 10.0.0.0/8 tcp dport 22 drop
        tcp dport 8000-9000 drop
        tcp dport 8080 ct state new counter reject
        udp dport 53 tcp dport 53 accept
        ip6 saddr fe80::/10 icmp type echo-request accept
        ip saddr 192.168.0.0/16 udp dport 53 accept
        ip saddr 192.168.1.0/24 udp dport 53 accept
        udp dport 5353 accept
        meta l4proto udp accept
        udp dport 5353 drop
        tcp dport 22 ip saddr 10.1.0.0/16 accept
    }
    chain orphan {
        accept
    }
}
"#;

    #[test]
    fn planted_findings_and_no_false_ones() {
        let rs = parse(PLANTED, "p.nft").unwrap();
        let f = analyze(&rs);
        let line = |id: Option<RuleId>| {
            id.and_then(|i| rs.rule(i))
                .map(|r| r.origin.line)
                .unwrap_or(0)
        };
        let mut got: Vec<(u32, String)> = f
            .iter()
            .map(|x| {
                let k = match &x.kind {
                    FindingKind::Shadowed { by } => format!("shadowed by {}", line(Some(*by))),
                    FindingKind::Redundant { by } => format!("redundant with {}", line(Some(*by))),
                    FindingKind::NeverMatches(_) => "never".into(),
                    FindingKind::UnreachableChain => "unreachable chain".into(),
                };
                (line(x.rule), k)
            })
            .collect();
        got.sort();
        let want: Vec<(u32, String)> = vec![
            (0, "unreachable chain".into()),
            (7, "redundant with 6".into()),
            (8, "shadowed by 6".into()),
            (10, "shadowed by 9".into()),
            (11, "never".into()),
            (12, "never".into()),
            (14, "redundant with 13".into()),
            (17, "shadowed by 15".into()),
            (18, "redundant with 6".into()),
        ];
        assert_eq!(got, want);
    }
}
