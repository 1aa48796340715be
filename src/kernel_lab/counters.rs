//! The kernel's own rule counters beside the simulator's, node by node: every hook of every
//! node (the hosts' input and output as well as the router's), where the packet-by-packet
//! comparison sees only what crossed the router. A rule with `counter` is counted by the
//! kernel of each node that loaded it; the simulator counts the same rule in its copy of
//! that node, fed the frames the switches carried.
//!
//! What the wire cannot show is not counted by the simulator: a packet a host's output
//! drops never reaches the switch, and traffic a node sends itself (`lo`) never leaves it.
//! A counter there reads as a difference, and says so.

use std::collections::HashMap;
use std::process::Command;

use crate::firewall::model::{RuleId, Ruleset};

/// Per chain (family, table, chain): each rule's packet count, `None` for a rule without a
/// counter; in the kernel's order, which is the file's.
pub type Snapshot = HashMap<(String, String, String), Vec<Option<u64>>>;

#[derive(Clone, Debug, serde::Serialize)]
pub struct RuleCount {
    pub node: String,
    /// The rule, as the firewall pane numbers it (its line in the file).
    pub line: u32,
    pub rule: String,
    pub kernel: u64,
    pub simulated: u64,
}

/// Reads namespace `ns`'s counters (`nft -j list ruleset`).
pub fn read(ns: &str) -> Result<Snapshot, String> {
    let o = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-j", "list", "ruleset"])
        .output()
        .map_err(|e| format!("nft: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "nft -j list ruleset in {ns}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    parse(&o.stdout).map_err(|e| format!("nft -j list ruleset in {ns}: {e}"))
}

/// The counters of `nft -j list ruleset`'s output.
pub fn parse(json: &[u8]) -> Result<Snapshot, String> {
    let v: serde_json::Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let items = v["nftables"].as_array().ok_or("no \"nftables\" array")?;
    let mut out = Snapshot::new();
    for r in items.iter().filter_map(|i| i.get("rule")) {
        let name = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        let packets = r["expr"].as_array().and_then(|e| {
            e.iter()
                .find_map(|x| x.get("counter"))
                .map(|c| c["packets"].as_u64().unwrap_or(0))
        });
        out.entry((name("family"), name("table"), name("chain")))
            .or_default()
            .push(packets);
    }
    Ok(out)
}

/// For each rule the kernel counts: its packets from `base` to `end`, beside what the
/// simulator counted for it in that node (`simulated`). The kernel's n-th rule of a chain is
/// the ruleset's n-th enabled one (a rule toggled off is not loaded; one packetlab does not
/// simulate is, when the file's own text was loaded: `as_written`).
pub fn compare(
    node: &str,
    rs: &Ruleset,
    as_written: bool,
    base: &Snapshot,
    end: &Snapshot,
    simulated: &dyn Fn(RuleId) -> u64,
) -> Vec<RuleCount> {
    let mut out = Vec::new();
    for (ti, t) in rs.tables.iter().enumerate() {
        for (ci, c) in t.chains.iter().enumerate() {
            let key = (t.family.name().to_string(), t.name.clone(), c.name.clone());
            let Some(after) = end.get(&key) else { continue };
            let before = base.get(&key);
            let enabled = c
                .rules
                .iter()
                .enumerate()
                .filter(|(_, r)| r.enabled && (as_written || r.unsupported.is_none()));
            for (k, (ri, r)) in enabled.enumerate() {
                let Some(Some(n)) = after.get(k) else {
                    continue;
                };
                // The simulator cannot count what it does not simulate.
                if r.unsupported.is_some() {
                    continue;
                }
                let was = before
                    .and_then(|b| b.get(k).copied().flatten())
                    .unwrap_or(0);
                let id = RuleId {
                    table: ti as u16,
                    chain: ci as u16,
                    rule: ri as u32,
                };
                out.push(RuleCount {
                    node: node.to_string(),
                    line: r.origin.line,
                    rule: r.origin.text.clone(),
                    kernel: n.saturating_sub(was),
                    simulated: simulated(id),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfts_json_counters_are_read_in_chain_order() {
        let j = br#"{"nftables": [{"metainfo": {"json_schema_version": 1}},
          {"table": {"family": "inet", "name": "filter", "handle": 1}},
          {"rule": {"family": "inet", "table": "filter", "chain": "forward", "handle": 3,
            "expr": [{"match": {}}, {"counter": {"packets": 7, "bytes": 420}}, {"accept": null}]}},
          {"rule": {"family": "inet", "table": "filter", "chain": "forward", "handle": 4,
            "expr": [{"drop": null}]}},
          {"rule": {"family": "inet", "table": "filter", "chain": "forward", "handle": 5,
            "expr": [{"counter": {"packets": 2, "bytes": 120}}, {"drop": null}]}}]}"#;
        let s = parse(j).unwrap();
        let k = (
            "inet".to_string(),
            "filter".to_string(),
            "forward".to_string(),
        );
        assert_eq!(s[&k], vec![Some(7), None, Some(2)]);
        assert!(parse(b"{}").is_err());
        assert!(parse(b"not json").is_err());
    }

    #[test]
    fn the_kernels_nth_rule_is_the_nth_enabled_one_and_deltas_are_counted() {
        let mut rs = crate::firewall::nft::parse(
            "table inet filter { chain input { type filter hook input priority 0;\n\
             tcp dport 1 counter accept\n tcp dport 2 counter drop\n tcp dport 3 counter drop\n} }",
            "t.nft",
        )
        .unwrap();
        rs.tables[0].chains[0].rules[1].enabled = false;
        let k = (
            "inet".to_string(),
            "filter".to_string(),
            "input".to_string(),
        );
        let base = Snapshot::from([(k.clone(), vec![Some(1), Some(0)])]);
        let end = Snapshot::from([(k, vec![Some(4), Some(5)])]);
        let sim = |id: RuleId| u64::from(id.rule) * 10;
        let c = compare("server", &rs, false, &base, &end, &sim);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].kernel, c[0].simulated), (3, 0));
        assert!(c[0].rule.contains("dport 1"));
        assert_eq!((c[1].kernel, c[1].simulated), (5, 20));
        assert!(c[1].rule.contains("dport 3"));
    }
}
