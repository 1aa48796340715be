//! The lab network as network namespaces: one per node (`packetlab-PID-alice`, …) and one
//! for the two switches (`packetlab-PID-sw`, bridges `lab-lan0` and `lab-wan0`), joined by
//! veths made inside those namespaces — the host's own namespace is never touched. Removed
//! when the run ends (`Drop`), and at the next start when a run was killed (its PID gone).

use std::os::fd::AsRawFd;
use std::process::Command;

use crate::vnet::topology::{self, HostSpec, Port, GW_LAN, GW_WAN};

pub const PREFIX: &str = "packetlab-";
/// The namespaces of a run, after `packetlab-PID-`.
const NODES: [&str; 6] = ["sw", "gw", "alice", "bob", "server", "resolver"];

/// The namespaces of one run; removed on drop.
pub struct Namespaces {
    pub pid: u32,
    made: Vec<String>,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let o = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e} (apt-get install iproute2)"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Every `packetlab-PID-…` namespace whose run is gone, removed; returns their names.
pub fn remove_stale() -> Vec<String> {
    let Ok(o) = Command::new("ip").args(["netns", "list"]).output() else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        // Only names this module makes (`packetlab-PID-NODE`): anything else is not ours.
        let Some((pid, node)) = rest.split_once('-') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if !NODES.contains(&node) {
            continue;
        }
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
        if !alive && ip(&["netns", "del", name]).is_ok() {
            removed.push(name.to_string());
        }
    }
    removed
}

impl Namespaces {
    pub fn name(&self, node: &str) -> String {
        format!("{PREFIX}{}-{node}", self.pid)
    }

    /// Builds the topology: namespaces, bridges, veths, addresses, routes, forwarding.
    pub fn build() -> Result<Namespaces, String> {
        let mut ns = Namespaces {
            pid: std::process::id(),
            made: Vec::new(),
        };
        for node in NODES {
            let n = ns.name(node);
            ip(&["netns", "add", &n])?;
            ns.made.push(n.clone());
            ip(&["-n", &n, "link", "set", "lo", "up"])?;
        }
        let sw = ns.name("sw");
        for seg in topology::Segment::ALL {
            ip(&["-n", &sw, "link", "add", seg.iface(), "type", "bridge"])?;
            // Promiscuous: the bridge's own device then gets a copy of every frame it
            // forwards between ports, which is what its capture shows.
            ip(&["-n", &sw, "link", "set", seg.iface(), "promisc", "on", "up"])?;
        }
        let gw = ns.name("gw");
        for (p, end) in [(GW_LAN, "gw-lan"), (GW_WAN, "gw-wan")] {
            ns.plug(&gw, p, end)?;
        }
        sysctl(&gw, "net.ipv4.ip_forward", "1")?;
        for h in topology::HOSTS.iter() {
            let n = ns.name(h.name);
            ns.plug(&n, h.port, h.name)?;
            ns.host_routes(&n, h)?;
        }
        Ok(ns)
    }

    /// A veth from node namespace `n` (its device `p.dev`) to the switch (`end`, on the
    /// segment's bridge), with the port's MAC and addresses.
    fn plug(&self, n: &str, p: Port, end: &str) -> Result<(), String> {
        let sw = self.name("sw");
        ip(&[
            "-n", &sw, "link", "add", end, "type", "veth", "peer", "name", p.dev, "netns", n,
        ])?;
        ip(&["-n", &sw, "link", "set", end, "master", p.segment.iface()])?;
        ip(&["-n", &sw, "link", "set", end, "up"])?;
        ip(&["-n", n, "link", "set", p.dev, "address", &mac(p.mac)])?;
        // No duplicate address detection: the addresses are usable at once, as in the
        // virtual network.
        let _ = sysctl(n, &format!("net.ipv6.conf.{}.accept_dad", p.dev), "0");
        ip(&[
            "-n",
            n,
            "addr",
            "add",
            &format!("{}/{}", p.v4, p.prefix),
            "dev",
            p.dev,
        ])?;
        ip(&[
            "-n",
            n,
            "addr",
            "add",
            &format!("{}/64", p.v6),
            "dev",
            p.dev,
            "nodad",
        ])?;
        ip(&["-n", n, "link", "set", p.dev, "up"])?;
        // Segmentation and receive offloads off at both ends: every packet is on the wire
        // (and in the capture) as the simulator sees it, not merged into 64 kB ones.
        no_offloads(n, p.dev);
        no_offloads(&sw, end);
        Ok(())
    }

    fn host_routes(&self, n: &str, h: &HostSpec) -> Result<(), String> {
        if let Some(ll) = h.link_local_v4 {
            ip(&[
                "-n",
                n,
                "addr",
                "add",
                &format!("{ll}/16"),
                "dev",
                h.port.dev,
            ])?;
        }
        ip(&[
            "-n",
            n,
            "route",
            "add",
            "default",
            "via",
            &h.gateway.to_string(),
        ])
    }

    /// Loads the ruleset's nft text into every node.
    pub fn load_rules(&self, nft_text: &str) -> Result<(), String> {
        for node in ["gw", "alice", "bob", "server", "resolver"] {
            self.load_into(node, nft_text)?;
        }
        Ok(())
    }

    /// Replaces every node's ruleset with this one (the hosts first, the router last);
    /// returns when the router's load began and ended (ns, the capture's clock): what the
    /// router received in between either ruleset may have judged.
    pub fn replace_rules(&self, nft_text: &str) -> Result<(i64, i64), String> {
        let text = format!("flush ruleset\n{nft_text}");
        for node in ["alice", "bob", "server", "resolver"] {
            self.load_into(node, &text)?;
        }
        let began = crate::capture::Timestamp::now().0;
        self.load_into("gw", &text)?;
        Ok((began, crate::capture::Timestamp::now().0))
    }

    fn load_into(&self, node: &str, nft_text: &str) -> Result<(), String> {
        let n = self.name(node);
        let mut child = Command::new("ip")
            .args(["netns", "exec", &n, "nft", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("nft: {e} (apt-get install nftables)"))?;
        if let Some(mut i) = child.stdin.take() {
            use std::io::Write;
            i.write_all(nft_text.as_bytes())
                .map_err(|e| e.to_string())?;
        }
        let o = child.wait_with_output().map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err(format!(
                "nft -f in {n}: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Ok(())
    }
}

fn no_offloads(n: &str, dev: &str) {
    let ok = Command::new("ip")
        .args([
            "netns", "exec", n, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "packetlab: could not turn off offloads on {dev} in {n} (apt-get install ethtool): \
             large TCP transfers will be captured merged"
        );
    }
}

fn sysctl(n: &str, key: &str, v: &str) -> Result<(), String> {
    let o = Command::new("ip")
        .args(["netns", "exec", n, "sysctl", "-qw", &format!("{key}={v}")])
        .output()
        .map_err(|e| e.to_string())?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "sysctl {key} in {n}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in self.made.drain(..).rev() {
            let _ = ip(&["netns", "del", &n]);
        }
    }
}

/// Moves the calling thread into namespace `name`: sockets it opens from then on are that
/// namespace's.
pub fn enter(name: &str) -> Result<(), String> {
    let f = std::fs::File::open(format!("/run/netns/{name}"))
        .map_err(|e| format!("/run/netns/{name}: {e}"))?;
    // SAFETY: `f` is an open namespace file for the whole call; setns changes only the
    // calling thread's network namespace and touches no memory of ours.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if r == 0 {
        Ok(())
    } else {
        Err(format!("setns {name}: {}", std::io::Error::last_os_error()))
    }
}
