//! Which process owns which socket (Linux, live capture): `/proc/net/{tcp,tcp6,udp,udp6}` give
//! sockets by inode, `/proc/*/fd` gives inodes by process. Scanned on its own thread, never on the
//! UI's, and published as snapshots.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::sessions::{Endpoint, Owner, SessionProto};

/// A local socket, as `ss -tulpn` lists it.
#[derive(Clone, Debug)]
pub struct SocketInfo {
    pub proto: SessionProto,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// TCP state name (`LISTEN`, `ESTABLISHED`…), `UNCONN` for unconnected UDP.
    pub state: String,
    pub owner: Option<Owner>,
}

impl SocketInfo {
    /// Listening (TCP) or bound and unconnected (UDP): waiting for traffic.
    pub fn is_listening(&self) -> bool {
        self.state == "LISTEN" || (self.proto == SessionProto::Udp && self.remote.port() == 0)
    }
}

#[derive(Default, Debug)]
pub struct SocketOwners {
    by_port: HashMap<(SessionProto, u16), Vec<(IpAddr, Owner)>>,
    pub sockets: Vec<SocketInfo>,
}

impl SocketOwners {
    /// The process whose socket is bound to `ep` (an unspecified bind address matches any).
    pub fn owner(&self, proto: SessionProto, ep: Endpoint) -> Option<&Owner> {
        let v = self.by_port.get(&(proto, ep.port))?;
        v.iter()
            .find(|(a, _)| *a == ep.addr)
            .or_else(|| v.iter().find(|(a, _)| a.is_unspecified()))
            .map(|(_, o)| o)
    }
}

fn tcp_state_name(s: &procfs::net::TcpState) -> String {
    use procfs::net::TcpState::*;
    match s {
        Established => "ESTABLISHED",
        SynSent => "SYN_SENT",
        SynRecv => "SYN_RECV",
        FinWait1 => "FIN_WAIT1",
        FinWait2 => "FIN_WAIT2",
        TimeWait => "TIME_WAIT",
        Close => "CLOSE",
        CloseWait => "CLOSE_WAIT",
        LastAck => "LAST_ACK",
        Listen => "LISTEN",
        Closing => "CLOSING",
        NewSynRecv => "NEW_SYN_RECV",
    }
    .to_string()
}

/// One scan of the machine's sockets and their owners. Processes that vanish or cannot be read
/// (another user's, without privileges) are skipped.
pub fn scan() -> SocketOwners {
    let mut inode_owner: HashMap<u64, Owner> = HashMap::new();
    if let Ok(all) = procfs::process::all_processes() {
        for p in all.flatten() {
            let Ok(fds) = p.fd() else { continue };
            let mut name = None;
            for fd in fds.flatten() {
                if let procfs::process::FDTarget::Socket(inode) = fd.target {
                    let name = name.get_or_insert_with(|| {
                        p.stat().map(|s| s.comm).unwrap_or_else(|_| "?".into())
                    });
                    inode_owner.entry(inode).or_insert_with(|| Owner {
                        pid: p.pid as u32,
                        name: name.clone(),
                    });
                }
            }
        }
    }
    let mut out = SocketOwners::default();
    let mut add = |proto, local: SocketAddr, remote: SocketAddr, state: String, inode: u64| {
        let owner = inode_owner.get(&inode).cloned();
        if let Some(o) = &owner {
            out.by_port
                .entry((proto, local.port()))
                .or_default()
                .push((local.ip(), o.clone()));
        }
        out.sockets.push(SocketInfo {
            proto,
            local,
            remote,
            state,
            owner,
        });
    };
    for e in [procfs::net::tcp(), procfs::net::tcp6()]
        .into_iter()
        .flatten()
        .flatten()
    {
        add(
            SessionProto::Tcp,
            e.local_address,
            e.remote_address,
            tcp_state_name(&e.state),
            e.inode,
        );
    }
    for e in [procfs::net::udp(), procfs::net::udp6()]
        .into_iter()
        .flatten()
        .flatten()
    {
        let state = if e.remote_address.port() == 0 {
            "UNCONN"
        } else {
            "ESTABLISHED"
        };
        add(
            SessionProto::Udp,
            e.local_address,
            e.remote_address,
            state.into(),
            e.inode,
        );
    }
    out
}

/// Scans on a thread every `interval` and keeps the newest snapshot.
pub struct Watcher {
    latest: Arc<Mutex<Option<Arc<SocketOwners>>>>,
    stop: Arc<AtomicBool>,
}

impl Watcher {
    pub fn start(interval: Duration) -> Watcher {
        let latest = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (latest.clone(), stop.clone());
        let _ = std::thread::Builder::new()
            .name("socket-owners".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    let snap = Arc::new(scan());
                    if let Ok(mut g) = l.lock() {
                        *g = Some(snap);
                    }
                    std::thread::sleep(interval);
                }
            });
        Watcher { latest, stop }
    }

    /// The newest snapshot not yet taken.
    pub fn take(&self) -> Option<Arc<SocketOwners>> {
        self.latest.lock().ok()?.take()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
