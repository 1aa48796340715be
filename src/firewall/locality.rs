//! The simulated host: which addresses are its own, so which hooks a packet meets.

use std::net::IpAddr;

use super::eval;
use super::model::{self, Hook};
use super::syntax;

/// The simulated host's own addresses: which packets are its input, its output, or forwarded.
#[derive(Clone, Debug, Default)]
pub struct Locality {
    pub nets: Vec<(IpAddr, u8)>,
    /// `--iface NAME`: the interface of packets whose capture does not name one (classic
    /// pcap, a pcapng interface without `if_name`).
    pub iface: Option<String>,
    /// `--tz`: the zone `meta hour/day/time` are judged in (none: the machine's).
    pub tz: Option<jiff::tz::TimeZone>,
    /// The packets come from a live capture: their timestamps are the capture's clock, not
    /// the kernel's at the hook, so a verdict that reads the time is approximate.
    pub live: bool,
    /// An end host of the virtual lab network: only its input and output hooks are run (the
    /// lab's router runs the rest), and what is not its own is not forwarded.
    pub end_host: bool,
}

impl Locality {
    /// From `--local` values; an unparsable one is an error naming it.
    pub fn from_args(args: &[String]) -> Result<Self, String> {
        let nets = args
            .iter()
            .map(|a| parse_local(a).ok_or_else(|| format!("--local {a}: not an address or CIDR")))
            .collect::<Result<_, _>>()?;
        Ok(Locality {
            nets,
            ..Locality::default()
        })
    }
}

impl Locality {
    pub fn is_local(&self, a: IpAddr) -> bool {
        a.is_loopback()
            || self
                .nets
                .iter()
                .any(|(n, l)| eval::prefix_contains(*n, *l, a))
    }

    /// Whether a packet to `a` is delivered to the host: its own addresses, the limited
    /// broadcast, and the multicast groups every host is in (all-nodes 224.0.0.1 and ff02::1,
    /// and the solicited-node group of each of its IPv6 addresses, where neighbour discovery
    /// goes). Other groups are the host's only when given with `--local`.
    pub fn receives(&self, a: IpAddr) -> bool {
        if self.is_local(a) {
            return true;
        }
        match a {
            IpAddr::V4(v4) => v4.is_broadcast() || v4 == std::net::Ipv4Addr::new(224, 0, 0, 1),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                if v6 == std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1) {
                    return true;
                }
                // ff02::1:ffXX:XXXX, the low 24 bits of one of the host's addresses.
                let solicited = s[..5] == [0xff02, 0, 0, 0, 0] && s[5] == 1 && s[6] >> 8 == 0xff;
                solicited
                    && self.nets.iter().any(|(n, l)| match n {
                        IpAddr::V6(n) if *l == 128 => {
                            let ns = n.segments();
                            ns[6] & 0xff == s[6] & 0xff && ns[7] == s[7]
                        }
                        _ => false,
                    })
            }
        }
    }

    /// The hooks a packet meets, in the kernel's order: to a local address ingress,
    /// prerouting, input; from one output, postrouting; both (loopback) all of them from
    /// output; neither: ingress, prerouting, forward, postrouting.
    pub fn hooks(&self, src: IpAddr, dst: IpAddr) -> &'static [Hook] {
        use Hook::*;
        if self.nets.is_empty() && !src.is_loopback() {
            // No host given (a capture file without --local): the host is whoever receives.
            return &[Ingress, Prerouting, Input];
        }
        let mine = (self.is_local(src), self.is_local(dst), self.receives(dst));
        if self.end_host {
            return match mine {
                (true, true, _) => &[Output, Input],
                (true, false, _) => &[Output],
                (false, _, true) => &[Input],
                (false, _, false) => &[],
            };
        }
        match mine {
            (true, true, _) => &[Output, Postrouting, Prerouting, Input],
            (true, false, _) => &[Output, Postrouting],
            (false, _, true) => &[Ingress, Prerouting, Input],
            (false, _, false) => &[Ingress, Prerouting, Forward, Postrouting],
        }
    }
}

/// Parses `CIDR` or a bare address for `--local`.
pub fn parse_local(s: &str) -> Option<(IpAddr, u8)> {
    match syntax::parse_addr(s)? {
        model::Value::Prefix(a, l) => Some((a, l)),
        _ => None,
    }
}
