//! The hooks a packet meets and the base chains on each, in priority order, split at
//! connection tracking; each base chain's verdict, and which one ends the packet.

use crate::firewall::model::*;

use super::chain::{Flow, Tests, Walk};
use super::matching::Hit;
use super::meters::Meters;
use super::outcome::{Final, Outcome};
use super::packet::{Class, PacketView};
use super::trace::Step;

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
    let mut post = PacketView {
        ct: if a.notrack { ct::UNTRACKED } else { p.ct },
        ..*p
    };
    post.extra.mark = a.mark.unwrap_or(0);
    let b = walk(rs, &bases, hooks, Seg::PostCt, &post, None, None, trace);
    a.then(b)
}

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

/// The walk through `hooks` (the first of them limited to `seg`), with the rules' tests either
/// done here (`known` None) or given per hook class, and the rate models in `meters` (None:
/// each counts as within its rate).
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
    out.mark = Some(p.extra.mark);
    // Connection tracking runs on the first of prerouting and output the packet meets; the
    // hooks before it (ingress) come before it too, those after it after.
    let ct_at = hooks
        .iter()
        .position(|h| matches!(h, Hook::Prerouting | Hook::Output))
        .unwrap_or(0);
    for (hi, &hook) in hooks.iter().enumerate() {
        let class = Class::of(hook);
        let Some(seg) = seg.at(hi, ct_at) else {
            continue;
        };
        let tests = match known {
            Some(lists) => match lists.iter().find(|(c, _)| *c == class) {
                Some((_, l)) => Tests::Known(l),
                None => Tests::Packet(p),
            },
            None => Tests::Packet(p),
        };
        for &(priority, ti, ci) in &bases.by_hook[hook as usize] {
            let t = &rs.tables[ti as usize];
            if !seg.keeps(priority) || !t.family.sees(p.v6) || t.dormant {
                continue;
            }
            let base = t.chains[ci as usize].base.as_ref();
            if !on_device(base, hook, p, &mut out) {
                continue;
            }
            let simulated =
                t.family.simulated() && base.is_some_and(|b| b.kind == ChainType::Filter);
            if trace {
                out.trace.push(Step::Chain {
                    hook: Some(hook),
                    table: ti,
                    chain: ci,
                });
            }
            // NAT chains see only a connection's first packet.
            if !simulated && base.is_some_and(|b| b.kind == ChainType::Nat) && p.ct != ct::NEW {
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
                acts: simulated,
            };
            let flow = w.run_chain(ti, ci, 0);
            if !simulated {
                continue;
            }
            out.chain = Some((ti, ci));
            out.hook = Some(hook);
            let (v, rule) = match flow {
                Flow::Verdict(v, r) => (v, r),
                Flow::Fallthrough => (policy_verdict(base, ti, ci, &mut out, trace), None),
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

impl Seg {
    /// The segment the hook at `hi` is in, `ct_at` being where conntrack runs; `None` when
    /// that hook is outside this segment.
    fn at(self, hi: usize, ct_at: usize) -> Option<Seg> {
        use std::cmp::Ordering::*;
        Some(match (self, hi.cmp(&ct_at)) {
            (Seg::All, _) | (Seg::PreCt, Less) | (Seg::PostCt, Greater) => Seg::All,
            (Seg::PreCt, Equal) => Seg::PreCt,
            (Seg::PostCt, Equal) => Seg::PostCt,
            (Seg::PreCt, Greater) | (Seg::PostCt, Less) => return None,
        })
    }

    /// Whether a base chain of this priority runs in the segment.
    fn keeps(self, priority: i32) -> bool {
        match self {
            Seg::All => true,
            Seg::PreCt => priority < CONNTRACK_PRIORITY,
            Seg::PostCt => priority >= CONNTRACK_PRIORITY,
        }
    }
}

/// Whether the packet meets a base chain that hooks one device (or a list of them), as
/// ingress and egress chains do; chains of other hooks meet every packet. When the capture
/// does not name the interface it may be that device: not met, and the verdict approximate.
fn on_device(base: Option<&BaseChain>, hook: Hook, p: &PacketView<'_>, out: &mut Outcome) -> bool {
    let Some(dev) = base.and_then(|b| b.device.as_deref()) else {
        return true;
    };
    let on = if hook == Hook::Egress { p.oif } else { p.iif };
    match on {
        Some(name) => device_has(dev, name),
        None => {
            out.exact = false;
            false
        }
    }
}

/// The verdict of a base chain whose rules fell through: its policy.
fn policy_verdict(
    base: Option<&BaseChain>,
    ti: u16,
    ci: u16,
    out: &mut Outcome,
    trace: bool,
) -> Final {
    let policy = base.map(|b| b.policy).unwrap_or(Policy::Accept);
    if trace {
        out.trace.push(Step::Policy {
            table: ti,
            chain: ci,
            policy,
        });
    }
    match policy {
        Policy::Accept => Final::Accept,
        Policy::Drop => Final::Drop,
    }
}

/// Whether a chain's `device "eth0"` or `devices = { eth0, eth1 }` holds `name`.
fn device_has(dev: &str, name: &str) -> bool {
    dev.split(',')
        .map(|d| d.trim().trim_matches(['"', '{', '}', ' ']))
        .any(|d| d == name)
}
