//! What a walk decides: the final verdict, the rule and chain that gave it, the rules that
//! counted the packet, and the trace.

use crate::firewall::model::*;

use smallvec::SmallVec;

use super::trace::Step;

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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Final,
    /// The rule that decided, or `None` when a chain policy did.
    pub rule: Option<RuleId>,
    /// The base chain in which it was decided (table, chain).
    pub chain: Option<(u16, u16)>,
    /// The hook of that chain: whether a drop came before or after conntrack confirmed the
    /// packet's connection (on loopback, confirmed at postrouting, before input).
    pub hook: Option<Hook>,
    /// Every rule that matched (their counters count this packet). Inline for the few a
    /// packet usually has: no allocation per packet (smallvec: a `Vec` that keeps its first
    /// elements in place).
    pub hits: SmallVec<[RuleId; 6]>,
    pub trace: Vec<Step>,
    /// False when something not simulated exactly took part: an approximate statement, an
    /// unsupported rule, a field the packet's record cannot tell, a NAT chain that acts on it.
    pub exact: bool,
    /// A `notrack` rule matched (before connection tracking).
    pub notrack: bool,
    /// `meta mark` where the walk ended, as its statements set it (`None`: set to what
    /// packetlab does not compute).
    pub mark: Option<u32>,
}

impl Outcome {
    pub(super) fn new() -> Outcome {
        Outcome {
            verdict: Final::Accept,
            rule: None,
            chain: None,
            hook: None,
            hits: SmallVec::new(),
            trace: Vec::new(),
            exact: true,
            notrack: false,
            mark: Some(0),
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
            hook: later.hook.or(self.hook),
            hits: self.hits,
            trace: self.trace,
            exact: self.exact && later.exact,
            notrack: self.notrack || later.notrack,
            mark: later.mark,
        }
    }
}
