//! The trace of a walk, like `nft monitor trace`: the chains entered, each rule met with why it
//! matched or not, and the policies that decided.

use crate::firewall::model::*;

use super::matching::{match_tri, read_live, Live, Read, Reading, Res, Tri};
use super::packet::{Class, PacketView};

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

pub(super) fn unknown_why(rule: &Rule) -> String {
    match &rule.unsupported {
        Some((_, why)) => format!("may match: {why} is not simulated"),
        None => "may match: it reads what the capture cannot tell".into(),
    }
}

/// The first test of `rule` that `p` fails, said for the trace.
pub(super) fn why_rule(
    table: &Table,
    rule: &Rule,
    p: &PacketView<'_>,
    class: Class,
    live: Option<&Live<'_>>,
) -> String {
    match rule
        .matches
        .iter()
        .find(|m| match_tri(table, m, p, class, live) == Tri::No)
    {
        Some(m) => why_not(m, p, class, live),
        None if rule.vmap.is_some() => "no element of its verdict map holds the packet".into(),
        None => "did not match".into(),
    }
}

pub(super) fn why_not(
    m: &Match,
    p: &PacketView<'_>,
    class: Class,
    live: Option<&Live<'_>>,
) -> String {
    let mut got = Vec::new();
    for f in m.fields() {
        match read_live(f, p, class, live) {
            Reading::Got(r) => got.push(match r {
                Read::Addr(a) => a.to_string(),
                Read::Int(x) if f == Field::CtState => ct::name(x as u8).to_string(),
                Read::Int(x) if f == Field::TcpFlags => format!("0x{x:02x}"),
                Read::Int(x) if matches!(f, Field::MetaMark | Field::CtMark) => {
                    format!("0x{x:08x}")
                }
                Read::Int(x) => x.to_string(),
                Read::Name(n) => n.to_string(),
            }),
            _ => return format!("{}: the packet has none", f.name()),
        }
    }
    let names: Vec<&str> = m.fields().map(Field::name).collect();
    match &m.rhs {
        Rhs::Set(s) if m.op == Op::Eq => {
            format!("{} {} is not in @{s}", names.join(" . "), got.join(" . "))
        }
        _ => format!("{} is {}", names.join(" . "), got.join(" . ")),
    }
}

/// The trace's step for one rule met: whether it matched and why. In a chain that does not act
/// (`acts` false) a rule that may match counts as matched.
#[allow(clippy::too_many_arguments)]
pub(super) fn rule_step(
    id: RuleId,
    table: &Table,
    rule: &Rule,
    res: Option<Res>,
    p: &PacketView<'_>,
    class: Class,
    acts: bool,
    live: Option<&Live<'_>>,
) -> Step {
    let (matched, why) = match res {
        None => (false, why_rule(table, rule, p, class, live)),
        Some(_) if !acts => (true, "matched (this chain is not simulated)".into()),
        Some(Res::Unknown) => (false, unknown_why(rule)),
        Some(_) => (true, "all matched".into()),
    };
    Step::Rule { id, matched, why }
}
