//! Running commands and living in network namespaces, for the tests that build their own hosts
//! (root only): the kernel differential tests.

use std::fs::File;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::process::{Command, Output, Stdio};

pub fn addr_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Moves the calling thread into a namespace (sockets it then opens live there).
pub fn enter_netns(name: &str) {
    let f = File::open(format!("/run/netns/{name}"))
        .unwrap_or_else(|e| panic!("/run/netns/{name}: {e}"));
    // SAFETY: setns with a valid namespace fd; it affects only the calling thread.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(r, 0, "setns {name}: {}", std::io::Error::last_os_error());
}

pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

pub fn in_ns(ns: &str, prog: &str, args: &[&str]) -> String {
    run(Command::new("ip")
        .args(["netns", "exec", ns, prog])
        .args(args))
}

pub fn ip(args: &[&str]) -> String {
    run(Command::new("ip").args(args))
}

pub fn ip_batch(ns: &str, batch: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("batch");
    std::fs::write(&p, batch).unwrap();
    ip(&["-n", ns, "-batch", p.to_str().unwrap()]);
}

pub fn run(cmd: &mut Command) -> String {
    let o = run_out(cmd);
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn run_out(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

pub fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [b] = chunks.remainder() {
        acc += (*b as u32) << 8;
    }
    acc
}

/// Whether a namespace test can run here: root, the tools it names, and network namespaces
/// that can be created. Otherwise it says why (a failure in CI, see `require_or_skip`).
pub fn ready(what: &str, tools: &[&str], packages: &str) -> bool {
    if !super::is_root() {
        super::require_or_skip(&format!("{what} needs root (namespaces, nft)"));
        return false;
    }
    for tool in tools {
        if !super::have_tool(tool) {
            super::require_or_skip(&format!(
                "`{tool}` not found (apt-get install -y {packages})"
            ));
            return false;
        }
    }
    let probe = format!("plk-probe-{}", std::process::id());
    let ok = run_out(Command::new("ip").args(["netns", "add", &probe]))
        .status
        .success();
    let _ = run_out(Command::new("ip").args(["netns", "del", &probe]));
    if !ok {
        super::require_or_skip("cannot create network namespaces here");
    }
    ok
}

/// An IP packet (header onwards) from `src` to `dst` carrying `l4` with correct checksums (TCP,
/// UDP, ICMP, ICMPv6); `key` is the IPv4 identification or the IPv6 flow label.
pub fn ip_packet(src: IpAddr, dst: IpAddr, proto: u8, mut l4: Vec<u8>, key: u32) -> Vec<u8> {
    let ck = match proto {
        6 => Some(16),
        17 => Some(6),
        1 | 58 => Some(2),
        _ => None,
    };
    if let Some(off) = ck.filter(|o| l4.len() >= o + 2) {
        l4[off] = 0;
        l4[off + 1] = 0;
        let mut acc = 0;
        if proto != 1 {
            acc = sum16(&addr_bytes(src), acc);
            acc = sum16(&addr_bytes(dst), acc);
            acc += proto as u32 + l4.len() as u32;
        }
        let mut c = fold(sum16(&l4, acc));
        if proto == 17 && c == 0 {
            c = 0xffff;
        }
        l4[off..off + 2].copy_from_slice(&c.to_be_bytes());
    }
    let mut p = Vec::with_capacity(40 + l4.len());
    if src.is_ipv6() {
        p.extend_from_slice(&((6u32 << 28) | (key & 0xfffff)).to_be_bytes());
        p.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        p.extend_from_slice(&[proto, 64]);
        p.extend_from_slice(&addr_bytes(src));
        p.extend_from_slice(&addr_bytes(dst));
    } else {
        p.extend_from_slice(&[0x45, 0]);
        p.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
        p.extend_from_slice(&(key as u16).to_be_bytes());
        p.extend_from_slice(&[0x40, 0, 64, proto, 0, 0]);
        p.extend_from_slice(&addr_bytes(src));
        p.extend_from_slice(&addr_bytes(dst));
        let c = fold(sum16(&p, 0));
        p[10..12].copy_from_slice(&c.to_be_bytes());
    }
    p.extend_from_slice(&l4);
    p
}

/// A TCP segment without options: ports, sequence and acknowledgement numbers, flags, window.
pub fn tcp_segment(sp: u16, dp: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(20 + payload.len());
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ack.to_be_bytes());
    v.extend_from_slice(&[0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0]);
    v.extend_from_slice(payload);
    v
}

/// A UDP datagram (the checksum is filled in by [`ip_packet`]).
pub fn udp_datagram(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

/// Raw IP sockets (`IPPROTO_RAW`: a packet goes as built, header included) of the calling
/// thread's namespace: through its routing, connection tracking and output hook.
pub struct RawIp {
    v4: std::os::fd::OwnedFd,
    v6: std::os::fd::OwnedFd,
}

impl RawIp {
    pub fn open() -> RawIp {
        use std::os::fd::FromRawFd;
        let open = |domain| {
            // SAFETY: a plain socket call; the fd is owned right away.
            let fd = unsafe { libc::socket(domain, libc::SOCK_RAW, libc::IPPROTO_RAW) };
            assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
            // SAFETY: fd is a fresh, valid descriptor nobody else owns.
            unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
        };
        RawIp {
            v4: open(libc::AF_INET),
            v6: open(libc::AF_INET6),
        }
    }

    /// Sends an IP packet to `dst`; false when the output hook dropped it (EPERM).
    pub fn send(&self, dst: IpAddr, packet: &[u8]) -> bool {
        // SAFETY: zeroed sockaddr structs are valid; the buffers are valid for their lengths.
        let n = unsafe {
            match dst {
                IpAddr::V4(a) => {
                    let mut sa: libc::sockaddr_in = std::mem::zeroed();
                    sa.sin_family = libc::AF_INET as libc::sa_family_t;
                    sa.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
                    libc::sendto(
                        self.v4.as_raw_fd(),
                        packet.as_ptr() as *const libc::c_void,
                        packet.len(),
                        0,
                        &sa as *const libc::sockaddr_in as *const libc::sockaddr,
                        std::mem::size_of::<libc::sockaddr_in>() as u32,
                    )
                }
                IpAddr::V6(a) => {
                    let mut sa: libc::sockaddr_in6 = std::mem::zeroed();
                    sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                    sa.sin6_addr.s6_addr = a.octets();
                    libc::sendto(
                        self.v6.as_raw_fd(),
                        packet.as_ptr() as *const libc::c_void,
                        packet.len(),
                        0,
                        &sa as *const libc::sockaddr_in6 as *const libc::sockaddr,
                        std::mem::size_of::<libc::sockaddr_in6>() as u32,
                    )
                }
            }
        };
        if n == packet.len() as isize {
            return true;
        }
        let e = std::io::Error::last_os_error();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "sendto {dst}: {e}");
        false
    }
}
