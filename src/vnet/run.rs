//! A scenario on the lab network, as a source of frames: the network built with the
//! scenario's programs and a ruleset, advanced in virtual time, its captured frames handed
//! out as capture frames (interfaces `lab-lan0`, `lab-wan0`) with the verdict each got.

use std::time::Duration;

use crate::capture::{Frame, Interface, LinkType, Timestamp};
use crate::firewall::model::Ruleset;
use crate::firewall::simulator::Enforced;
use crate::lab::LinkConfig;
use crate::scenario::Scenario;

use super::apps::Report;
use super::net::{as_direction, Network};
use super::router::RouterCounters;
use super::scenarios;
use super::topology::Segment;

pub struct LabRun {
    pub net: Network,
    pub name: String,
}

/// What the lab's programs and nodes counted, for `--print stats` and the lab pane.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LabSummary {
    pub scenario: String,
    pub seconds: f64,
    pub apps: Vec<Report>,
    pub router: RouterCounters,
    /// Per host: its firewall's drops and rejects, its TCP retransmissions.
    pub hosts: Vec<serde_json::Value>,
    pub wan: serde_json::Value,
    /// `--lab-kernel`: the simulator's verdicts beside the kernel's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<crate::kernel_lab::compare::Agreement>,
}

impl LabRun {
    /// The scenario's network, every node running `rs`, its WAN link as the scenario says.
    pub fn new(sc: &Scenario, rs: &Ruleset, seed: u64, start: Timestamp) -> Result<LabRun, String> {
        let mut net = Network::new(rs, seed, start.0.max(0) as u64);
        if !scenarios::install(&sc.name, &mut net) {
            return Err(format!(
                "no lab network programs for scenario {:?}",
                sc.name
            ));
        }
        net.wan = wan_link(sc);
        Ok(LabRun {
            net,
            name: sc.name.clone(),
        })
    }

    /// The capture interfaces, in the order frames' `iface` numbers them.
    pub fn interfaces() -> Vec<Interface> {
        Segment::ALL
            .iter()
            .map(|s| Interface {
                name: Some(s.iface().to_string()),
                link_type: LinkType::ETHERNET,
            })
            .collect()
    }

    /// Runs to `until` microseconds of lab time; the frames captured meanwhile, each with
    /// the judgement of the node that received it.
    pub fn advance(&mut self, until: u64) -> Vec<(Frame, Option<Enforced>)> {
        self.net.run_until(until);
        let epoch = self.net.epoch_ns;
        self.net
            .take_captured()
            .into_iter()
            .map(|c| {
                let len = c.data.len() as u32;
                let f = Frame {
                    ts: Timestamp((epoch + c.at * 1000) as i64),
                    link_type: LinkType::ETHERNET,
                    data: c.data,
                    orig_len: len,
                    iface: c.segment as u16,
                };
                let e = c.judged.map(|j| Enforced {
                    judgement: j.judgement,
                    hits: j.hits,
                });
                (f, e)
            })
            .collect()
    }

    pub fn summary(&self) -> LabSummary {
        let hosts = self
            .net
            .host_counters()
            .into_iter()
            .map(|(name, c)| {
                serde_json::json!({
                    "host": name,
                    "in_dropped": c.in_dropped, "in_rejected": c.in_rejected,
                    "out_dropped": c.out_dropped, "out_rejected": c.out_rejected,
                    "retransmits": c.retransmits,
                })
            })
            .collect();
        let w = as_direction(self.net.wan_stats);
        LabSummary {
            scenario: self.name.clone(),
            seconds: self.net.now() as f64 / 1e6,
            apps: self.net.reports(),
            router: self.net.router_counters(),
            hosts,
            wan: serde_json::json!({
                "offered": w.offered, "lost": w.dropped, "duplicated": w.duplicated,
                "reordered": w.reordered,
            }),
            kernel: None,
        }
    }
}

/// The WAN link a scenario asks for (5 ms and no impairment by default).
pub fn wan_link(sc: &Scenario) -> LinkConfig {
    LinkConfig {
        loss_pct: sc.loss.unwrap_or(0.0),
        dup_pct: sc.dup.unwrap_or(0.0),
        reorder_pct: sc.reorder.unwrap_or(0.0),
        delay: Duration::from_millis(sc.delay_ms.unwrap_or(5)),
    }
}

impl LabSummary {
    /// Text lines: one per program, the router's and hosts' counters, the WAN link's.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!("lab {} after {:.1} s", self.scenario, self.seconds)];
        if let Some(k) = &self.kernel {
            out.push(format!(
                "  kernel    the router's verdicts: {} of {} packets agree with the simulator ({} for the router itself, not compared)",
                k.agree, k.compared, k.local
            ));
            if k.capture_lost > 0 {
                out.push(format!(
                    "  kernel    the capture lost {} frames: the comparison is incomplete",
                    k.capture_lost
                ));
            }
            for d in &k.disagreements {
                out.push(format!(
                    "  DIFFERS   packet {}: simulated {}, kernel {:?}: {}",
                    d.packet, d.simulated, d.kernel, d.info
                ));
            }
            if !k.counters.is_empty() {
                let alike = k
                    .counters
                    .iter()
                    .filter(|c| c.kernel == c.simulated)
                    .count();
                let packets: u64 = k.counters.iter().map(|c| c.kernel).sum();
                out.push(format!(
                    "  kernel    every node's rule counters: {alike} of {} agree with the simulator's ({packets} packets counted by the kernel)",
                    k.counters.len()
                ));
            }
            if !k.counters_unsettled.is_empty() {
                out.push(format!(
                    "  kernel    not compared: the counters of {} (a packet of theirs came while they were read)",
                    k.counters_unsettled.join(", ")
                ));
            }
            for c in k.counters.iter().filter(|c| c.kernel != c.simulated) {
                out.push(format!(
                    "  DIFFERS   {} line {}: the kernel counted {}, the simulator {}: {}",
                    c.node, c.line, c.kernel, c.simulated, c.rule
                ));
            }
            out.extend(self.apps.iter().map(app_line));
            return out;
        }
        out.extend(self.apps.iter().map(app_line));
        let r = self.router;
        out.push(format!(
            "  gw        forwarded {}, dropped {}, rejected {}, to itself {}, NAT {}, no route {}, TTL expired {}",
            r.forwarded, r.dropped, r.rejected, r.local, r.nat_translated, r.no_route, r.ttl_expired
        ));
        if r.nat_ignored > 0 {
            out.push(format!(
                "  gw        {} packets met a NAT rule the lab does not carry out (redirect, IPv6)",
                r.nat_ignored
            ));
        }
        for h in &self.hosts {
            let n = |k: &str| h[k].as_u64().unwrap_or(0);
            let total = n("in_dropped")
                + n("in_rejected")
                + n("out_dropped")
                + n("out_rejected")
                + n("retransmits");
            if total > 0 {
                out.push(format!(
                    "  {:<9} firewall: in dropped {}, in rejected {}, out dropped {}, out rejected {}; TCP segments sent again {}",
                    h["host"].as_str().unwrap_or(""),
                    n("in_dropped"), n("in_rejected"), n("out_dropped"), n("out_rejected"), n("retransmits")
                ));
            }
        }
        let w = &self.wan;
        out.push(format!(
            "  WAN link  {} frames, {} lost, {} duplicated, {} reordered",
            w["offered"], w["lost"], w["duplicated"], w["reordered"]
        ));
        out
    }
}

/// A program's line: its host, what it is, its counters that are not zero, its detail.
fn app_line(r: &Report) -> String {
    let c: Vec<String> = r
        .counters
        .iter()
        .filter(|(_, v)| *v > 0)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let d = r
        .detail
        .as_ref()
        .map(|d| format!(" [{d}]"))
        .unwrap_or_default();
    format!("  {:<9} {}: {}{d}", r.host, r.app, c.join(", "))
}
