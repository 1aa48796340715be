//! The simulator's verdict beside the kernel's, for every IPv4 packet the kernel's router
//! received: the simulator is the lab network's own router (`vnet::router`), fed the frames
//! the kernel's switches carried; the kernel's verdict is what its router did next — the
//! packet forwarded (seen on the other segment, same IP id and length, one hop less), a reset
//! or ICMP error about it sent back, or nothing (dropped).

use crate::capture::Frame;
use crate::firewall::model::Ruleset;
use crate::vnet::enforce::{Decision, Judged};
use crate::vnet::frame::{self, V4};
use crate::vnet::router::Router;
use crate::vnet::topology::{GW_LAN, GW_WAN};

/// How long after a packet its forwarded copy or answer may come.
const WINDOW_NS: i64 = 300_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Kernel {
    Forwarded,
    Answered,
    Nothing,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Disagreement {
    pub packet: u64,
    pub simulated: String,
    pub kernel: Kernel,
    pub info: String,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Agreement {
    /// Packets the kernel's router received and both judged.
    pub compared: u64,
    pub agree: u64,
    /// For the router itself and accepted there: the kernel's answer is not told apart from a
    /// drop by what the switches carry, so these are not compared.
    pub local: u64,
    pub disagreements: Vec<Disagreement>,
    /// Frames the switches' capture socket lost: then the comparison is not complete.
    pub capture_lost: u64,
}

/// The IP id, protocol and length that follow a packet through forwarding and NAT.
fn key(ip: &[u8]) -> Option<(u16, u8, u16)> {
    let h = V4::parse(ip)?;
    Some((u16::from_be_bytes([ip[4], ip[5]]), h.proto, h.total as u16))
}

fn ports_of(f: &Frame) -> Option<(V4, Vec<u8>)> {
    let (_, _, ty, p) = frame::eth_parts(&f.data)?;
    if ty != frame::ETH_IPV4 {
        return None;
    }
    Some((V4::parse(p)?, p.to_vec()))
}

/// What the kernel's router did with the packet of `frames[i]`, arriving on segment `seg`.
fn kernel_did(frames: &[Frame], i: usize, ip: &[u8]) -> Kernel {
    let f = &frames[i];
    let Some(k) = key(ip) else {
        return Kernel::Nothing;
    };
    let gw = [GW_LAN.mac, GW_WAN.mac];
    for g in &frames[i + 1..] {
        if g.ts.0 - f.ts.0 > WINDOW_NS {
            break;
        }
        let Some((_, src, ty, p)) = frame::eth_parts(&g.data) else {
            continue;
        };
        if ty != frame::ETH_IPV4 || !gw.contains(&src) {
            continue;
        }
        if g.iface != f.iface && key(p) == Some(k) {
            return Kernel::Forwarded;
        }
        if g.iface == f.iface && answers(p, ip) {
            return Kernel::Answered;
        }
    }
    Kernel::Nothing
}

/// Whether `a` (from the router) is a reset or ICMP error about `ip`.
fn answers(a: &[u8], ip: &[u8]) -> bool {
    let (Some(ha), Some(h)) = (V4::parse(a), V4::parse(ip)) else {
        return false;
    };
    if ha.dst != h.src {
        return false;
    }
    match ha.proto {
        1 if a.len() >= ha.hlen + 8 + 20 && matches!(a[ha.hlen], 3 | 11) => {
            let q = &a[ha.hlen + 8..];
            q[4..6] == ip[4..6] && q[12..20] == ip[12..20]
        }
        6 if h.proto == 6 => {
            let (Some(pa), Some(p)) = (ha.ports(a), h.ports(ip)) else {
                return false;
            };
            a.get(ha.hlen + 13).is_some_and(|f| f & 0x04 != 0) && pa == (p.1, p.0)
        }
        _ => false,
    }
}

fn agrees(d: Decision, k: Kernel) -> bool {
    matches!(
        (d, k),
        (Decision::Accept, Kernel::Forwarded)
            | (Decision::Drop, Kernel::Nothing)
            | (Decision::Reject(_), Kernel::Answered)
    )
}

/// Runs the simulated router over the kernel's frames (in time order) and compares; returns
/// the simulator's judgement for each frame (for the packet list) and the tally.
pub fn compare(frames: &[Frame], rs: &Ruleset) -> (Vec<Option<Judged>>, Agreement) {
    let t0 = frames.first().map_or(0, |f| f.ts.0);
    let mut router = Router::new(rs.clone(), t0.max(0) as u64);
    let mut out = Vec::with_capacity(frames.len());
    let mut a = Agreement::default();
    for (i, f) in frames.iter().enumerate() {
        let now = ((f.ts.0 - t0).max(0) / 1000) as u64;
        let pi = f.iface as usize;
        let to_gw = frame::eth_parts(&f.data).is_some_and(|(d, ..)| d == router.mac(pi));
        let judged = if to_gw && pi < 2 {
            router.receive(pi, f.data.clone(), now)
        } else {
            None
        };
        let _ = router.take_output(now);
        if let (Some(j), Some((h, ip))) = (&judged, ports_of(f)) {
            let local = h.dst == GW_LAN.v4 || h.dst == GW_WAN.v4;
            let k = kernel_did(frames, i, &ip);
            if local && j.decision == Decision::Accept && k != Kernel::Forwarded {
                a.local += 1;
            } else {
                a.compared += 1;
                if agrees(j.decision, k) {
                    a.agree += 1;
                } else if a.disagreements.len() < 50 {
                    a.disagreements.push(Disagreement {
                        packet: i as u64 + 1,
                        simulated: format!("{:?}", j.decision),
                        kernel: k,
                        info: crate::decode::info::info(
                            &crate::decode::decode(crate::capture::LinkType::ETHERNET, &f.data),
                            &f.data,
                        ),
                    });
                }
            }
        }
        out.push(judged);
    }
    (out, a)
}
