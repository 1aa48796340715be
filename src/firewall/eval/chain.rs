//! The chain walker: a chain's rules in order, their verdicts, jumps and gotos, rate models and
//! counters — one walker for the chains packetlab simulates and for those it only counts.

use crate::firewall::model::*;

use super::matching::{
    key_of, match_tri, needs_live, read_live, test_rule, vmap_res, Hit, Live, Reading, Res, Tri,
};
use super::meters::Meters;
use super::outcome::{Final, Outcome};
use super::packet::{Class, PacketView};
use super::state::Put;
use super::trace::{rule_step, Step};

pub(super) enum Flow {
    Verdict(Final, Option<RuleId>),
    Fallthrough,
}

/// How a walk learns whether a rule matches.
#[derive(Clone, Copy)]
pub(super) enum Tests<'a, 'p> {
    /// Test each rule against the packet.
    Packet(&'a PacketView<'p>),
    /// These rules match (or may); no other does.
    Known(&'a [Hit]),
}

const MAX_DEPTH: usize = 16;

pub(super) struct Walk<'r, 'a, 'p, 'm> {
    pub(super) rs: &'r Ruleset,
    pub(super) class: Class,
    pub(super) tests: Tests<'a, 'p>,
    pub(super) p: &'a PacketView<'p>,
    pub(super) meters: Option<&'m mut Meters>,
    pub(super) out: &'a mut Outcome,
    pub(super) trace: bool,
    /// False in a chain packetlab does not simulate (NAT, route, netdev): its rules are tested
    /// and counted, and one that matches makes the verdict approximate instead of acting. One
    /// walker for both keeps what is tested and counted the same in either kind of chain.
    pub(super) acts: bool,
}

impl Walk<'_, '_, '_, '_> {
    pub(super) fn run_chain(&mut self, ti: u16, ci: u16, depth: usize) -> Flow {
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
            let mut res = match (known, self.tests) {
                (Some(r), _) => Some(r),
                (None, Tests::Packet(p)) => test_rule(table, rule, p, self.class),
                (None, Tests::Known(_)) => None,
            };
            if res.is_some() && needs_live(table, rule) {
                res = self.test_live(ti, rule);
            }
            if self.trace {
                let live = self.live(ti);
                let step = rule_step(
                    id,
                    table,
                    rule,
                    res,
                    self.p,
                    self.class,
                    self.acts,
                    Some(&live),
                );
                self.out.trace.push(step);
            }
            let Some(res) = res else { continue };
            if !self.acts {
                self.out.exact = false;
                if res != Res::Unknown {
                    self.out.hits.push(id);
                }
                continue;
            }
            if res == Res::Unknown {
                self.out.exact = false;
                continue;
            }
            if rule.is_approx() && !self.within_rates(id, rule) {
                continue;
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
                    let goto = matches!(v, Verdict::Goto(_));
                    if let Some(f) = self.jump(ti, name, goto, depth) {
                        return f;
                    }
                }
            }
        }
        Flow::Fallthrough
    }

    /// What the walk holds for a rule of table `ti`: the packet's mark so far, and what is
    /// kept across packets.
    fn live(&self, ti: u16) -> Live<'_> {
        Live {
            table: ti,
            mark: self.out.mark,
            state: self.meters.as_deref().map(|m| &m.state),
        }
    }

    /// A rule that reads or changes marks or sets rules fill, tested in order with what the
    /// walk holds: its statements applied where they stand, as the kernel runs a rule's
    /// expressions one after the other (a test that fails stops the rule, the statements
    /// before it stay done).
    fn test_live(&mut self, ti: u16, rule: &Rule) -> Option<Res> {
        let table = &self.rs.tables[ti as usize];
        let (p, class) = (self.p, self.class);
        let mut maybe = false;
        let mut next = 0;
        // Fields a statement before rewrote (`ip daddr set …`): not simulated, unknown after.
        let mut rewritten: Vec<Field> = Vec::new();
        for (i, m) in rule.matches.iter().enumerate() {
            while let Some((_, e)) = rule.effects.get(next).filter(|e| e.0 as usize <= i) {
                if let Effect::Rewrite(f) = e {
                    rewritten.push(*f);
                }
                if !self.apply(ti, e, maybe) {
                    return None;
                }
                next += 1;
            }
            if m.fields().any(|f| rewritten.contains(&f)) {
                maybe = true;
                continue;
            }
            let live = self.live(ti);
            match match_tri(table, m, p, class, Some(&live)) {
                Tri::No => return None,
                Tri::Maybe => maybe = true,
                Tri::Yes => {}
            }
        }
        for (_, e) in &rule.effects[next..] {
            if !self.apply(ti, e, maybe) {
                return None;
            }
        }
        if rule.unsupported.is_some() || maybe {
            return Some(Res::Unknown);
        }
        let live = self.live(ti);
        vmap_res(table, rule, p, class, Some(&live))
    }

    /// Carries out one statement that changes marks or a set; false when it stops the rule
    /// (a full set, a key the packet does not have, `ct mark` read without a connection).
    /// After a test that may or may not have passed (`maybe`), what it would change becomes
    /// unknown.
    fn apply(&mut self, ti: u16, e: &Effect, maybe: bool) -> bool {
        let p = self.p;
        let no_conn = p.ct & (ct::INVALID | ct::UNTRACKED) != 0;
        let ct_mark = match (no_conn, p.extra.conn, self.meters.as_deref()) {
            (false, Some(c), Some(m)) => m.state.ct_mark(c),
            _ => None,
        };
        match e {
            Effect::Mark { ct: false, expr } => {
                if expr.src == MarkSrc::Ct && no_conn {
                    return false;
                }
                if expr.src == MarkSrc::XtCt && no_conn {
                    return true;
                }
                let v = expr.eval(self.out.mark, ct_mark);
                if maybe && v != self.out.mark {
                    self.out.mark = None;
                } else {
                    self.out.mark = v;
                }
            }
            Effect::Mark { ct: true, expr } => {
                // Without a connection the kernel's `ct mark set` does nothing.
                if no_conn {
                    return true;
                }
                let v = expr.eval(self.out.mark, ct_mark);
                let conn = p.extra.conn;
                match (conn, self.meters.as_deref_mut()) {
                    (Some(c), Some(m)) => {
                        let old = m.state.ct_mark(c);
                        m.state
                            .set_ct_mark(c, if maybe && v != old { None } else { v });
                    }
                    _ => self.out.exact = false,
                }
            }
            Effect::Set(op) => return self.apply_set(ti, op, maybe),
            Effect::Rewrite(_) => self.out.exact = false,
        }
        true
    }

    /// `add`, `update` or `delete` of the packet's key in a set rules fill.
    fn apply_set(&mut self, ti: u16, op: &SetOp, maybe: bool) -> bool {
        let table = &self.rs.tables[ti as usize];
        let (p, class) = (self.p, self.class);
        let live = self.live(ti);
        let mut reads = Vec::with_capacity(op.key.len());
        for f in &op.key {
            match read_live(*f, p, class, Some(&live)) {
                Reading::Got(r) => reads.push(r),
                Reading::Absent => return false,
                Reading::Unknown => {
                    self.out.exact = false;
                    return true;
                }
            }
        }
        let key = key_of(&reads);
        let Some(set) = table.set(&op.set) else {
            return true;
        };
        let Some(m) = self.meters.as_deref_mut() else {
            return true;
        };
        if maybe {
            self.out.exact = false;
            return true;
        }
        let now = p.extra.ts_ns;
        let timeout_ns = op.timeout_ms.or(set.timeout_ms).map(|t| t * 1_000_000);
        let size = set.size.unwrap_or(65535) as usize;
        match op.op {
            SetOpKind::Delete => {
                m.state.delete(ti, &op.set, &key);
                true
            }
            kind => {
                let refresh = kind == SetOpKind::Update;
                m.state
                    .put(ti, &op.set, key, now, timeout_ns, refresh, size)
                    == Put::In
            }
        }
    }

    /// A rule with rate models matched: whether each of them lets the packet go on (all do
    /// without meters). The verdict is approximate either way.
    fn within_rates(&mut self, id: RuleId, rule: &Rule) -> bool {
        self.out.exact = false;
        let p = self.p;
        let Some(m) = self.meters.as_deref_mut() else {
            return true;
        };
        rule.approx
            .iter()
            .enumerate()
            .all(|(k, (a, _))| m.step(id, k as u16, 0, a, p))
    }

    /// Runs the chain a jump or goto names: `Some` when that ends this chain too (a verdict, or
    /// the end of a goto's target). A chain not in the table, or past the depth limit, is
    /// passed over.
    fn jump(&mut self, ti: u16, name: &str, goto: bool, depth: usize) -> Option<Flow> {
        let table = &self.rs.tables[ti as usize];
        let tc = table.chains.iter().position(|c| c.name == name)? as u16;
        if depth >= MAX_DEPTH {
            return None;
        }
        if self.trace {
            self.out.trace.push(Step::Chain {
                hook: None,
                table: ti,
                chain: tc,
            });
        }
        match self.run_chain(ti, tc, depth + 1) {
            f @ Flow::Verdict(..) => Some(f),
            // goto does not come back: the end of the target ends this chain too.
            Flow::Fallthrough if goto => Some(Flow::Fallthrough),
            Flow::Fallthrough => None,
        }
    }
}

fn map_verdict<'t>(table: &'t Table, vm: &'t Vmap, i: usize) -> Option<&'t Verdict> {
    match &vm.map {
        MapRef::Inline(entries) => entries.get(i).map(|e| &e.1),
        MapRef::Named(n) => table.set(n)?.verdicts.as_ref()?.get(i),
    }
}
