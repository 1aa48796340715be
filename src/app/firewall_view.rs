//! The firewall pane's state (which rule is selected) and the "explain" of a packet's verdict.

use crate::decode::detail::Node;
use crate::firewall::eval::PacketView;
use crate::firewall::eval::{evaluate, Step};
use crate::firewall::model::{ct, RuleId};
use crate::firewall::{extra_of, view_of, Firewall, Judgement};
use crate::store::Packet;

/// One line of the pane: a chain's header or one of its rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FwRow {
    Chain(u16, u16),
    Rule(RuleId),
}

#[derive(Default)]
pub struct FirewallView {
    /// Row index of the selection (always a rule row when there is one).
    pub selected: usize,
    pub top: usize,
    pub visible_rows: usize,
}

/// The pane's rows, in file order.
pub fn rows(fw: &Firewall) -> Vec<FwRow> {
    let mut v = Vec::new();
    for (ti, t) in fw.ruleset.tables.iter().enumerate() {
        for (ci, c) in t.chains.iter().enumerate() {
            v.push(FwRow::Chain(ti as u16, ci as u16));
            for ri in 0..c.rules.len() {
                v.push(FwRow::Rule(RuleId {
                    table: ti as u16,
                    chain: ci as u16,
                    rule: ri as u32,
                }));
            }
        }
    }
    v
}

impl FirewallView {
    pub fn selected_rule(&self, fw: &Firewall) -> Option<RuleId> {
        match rows(fw).get(self.selected) {
            Some(FwRow::Rule(id)) => Some(*id),
            _ => None,
        }
    }

    /// Moves the selection by `delta` rule rows (chain headers are skipped).
    pub fn move_by(&mut self, fw: &Firewall, delta: i64) {
        let rows = rows(fw);
        let rules: Vec<usize> = (0..rows.len())
            .filter(|&i| matches!(rows[i], FwRow::Rule(_)))
            .collect();
        if rules.is_empty() {
            return;
        }
        let cur = rules.iter().position(|&i| i >= self.selected).unwrap_or(0) as i64;
        let next = (cur + delta).clamp(0, rules.len() as i64 - 1) as usize;
        self.selected = rules[next];
        let n = self.visible_rows.max(1);
        // Keep the chain header above the first rule in view when possible.
        let want_top = self.selected.saturating_sub(1);
        if want_top < self.top {
            self.top = want_top;
        } else if self.selected >= self.top + n {
            self.top = self.selected + 1 - n;
        }
    }
}

/// The trace of the rules a packet met, as detail-tree nodes (a "Firewall" layer), like
/// `nft monitor trace`: each rule matched or not and why, ending in the verdict.
pub fn explain(fw: &Firewall, p: &Packet, iface: Option<&str>) -> Vec<Node> {
    let node = |depth: u8, text: String| Node {
        depth,
        range: 0..0,
        text,
    };
    let Some(j) = p.judgement else {
        return vec![node(
            0,
            "Firewall: this packet meets no IP hook (not judged)".into(),
        )];
    };
    let mut extra = extra_of(&p.summary, p.frame.ts.0.max(0) as u64);
    let Some(view) = view_of(&p.summary, j.ct, iface, p.summary.ip_len, extra) else {
        return Vec::new();
    };
    let hooks = fw.locality.hooks(view.src, view.dst);
    extra.dst_local = hooks.contains(&crate::firewall::model::Hook::Input);
    extra.utc_off = fw.utc_offset(extra.ts_ns);
    let view = PacketView {
        extra,
        raw: crate::firewall::bytes_of(&p.summary, &p.frame.data),
        ..view
    };
    let out = evaluate(&fw.ruleset, hooks, &view, true);
    let mut v = vec![node(0, format!("Firewall: {}", headline(fw, &j)))];
    v.push(node(1, format!("ct state: {}", ct::name(j.ct))));
    for step in &out.trace {
        match step {
            Step::Chain { hook, table, chain } => {
                let name = fw.chain_name((*table, *chain));
                v.push(node(
                    1,
                    match hook {
                        Some(h) => format!("hook {}: chain {name}", h.name()),
                        None => format!("→ chain {name}"),
                    },
                ));
            }
            Step::Rule { id, matched, why } => {
                let r = fw.ruleset.rule(*id);
                let line = r.map(|r| r.origin.line).unwrap_or(0);
                let text = r.map(|r| r.origin.text.as_str()).unwrap_or("");
                v.push(node(
                    2,
                    format!(
                        "{} line {line}: {text}{}",
                        if *matched { "✔" } else { "✘" },
                        if *matched {
                            String::new()
                        } else {
                            format!("  ({why})")
                        }
                    ),
                ));
            }
            Step::Policy {
                table,
                chain,
                policy,
            } => v.push(node(
                2,
                format!(
                    "end of {}: policy {}",
                    fw.chain_name((*table, *chain)),
                    match policy {
                        crate::firewall::model::Policy::Accept => "accept",
                        crate::firewall::model::Policy::Drop => "drop",
                    }
                ),
            )),
        }
    }
    v.push(node(1, format!("verdict: {}", headline(fw, &j))));
    if !j.exact {
        v.push(node(
            2,
            "≈ approximate: a rate model, an unsupported rule, a NAT chain or an unnamed interface took part (see the rules marked ≈ or in red)".into(),
        ));
    }
    v
}

/// "DROP by line 13 (ct state invalid counter drop)" or "DROP by the policy of …".
pub fn headline(fw: &Firewall, j: &Judgement) -> String {
    let v = format!(
        "{}{}",
        if j.exact { "" } else { "≈" },
        j.verdict.name().to_uppercase()
    );
    match j.rule {
        Some(r) => format!(
            "{v} by line {} ({})",
            fw.rule_line(r).unwrap_or(0),
            fw.rule_text(r).unwrap_or("")
        ),
        None => match j.chain {
            Some(c) => format!("{v} by the policy of {}", fw.chain_name(c)),
            None => v,
        },
    }
}
