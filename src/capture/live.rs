//! Live capture with pnet's datalink channel, one receiver thread per interface.
//!
//! Each thread batches frames (up to [`BATCH_FRAMES`] or [`BATCH_AGE`]) and `try_send`s the batch
//! into the bounded channel shared with the engine: when the engine falls behind, the batch is
//! dropped and counted, never queued without bound. The socket is made here (not by pnet) so that
//! it can ignore loopback's outgoing copies (each packet on `lo` would otherwise be seen twice,
//! which libpcap avoids the same way) and so its kernel drop counter can be read.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pnet::datalink::{self, Channel, NetworkInterface};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::Sender;

use super::channel::{SourceMsg, SourceStats};
use super::{Frame, Interface, LinkType, Timestamp};

const BATCH_FRAMES: usize = 256;
const BATCH_AGE: Duration = Duration::from_millis(5);
const SNAP: usize = 262_144;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("no interface named {0:?} (packetlab -D lists them)")]
    NoSuchInterface(String),
    #[error(
        "live capture on {iface} is not permitted: {source}. Grant it with \
         `sudo setcap cap_net_raw,cap_net_admin=eip {exe}` or run packetlab with sudo"
    )]
    NotPermitted {
        iface: String,
        exe: String,
        source: io::Error,
    },
    #[error("cannot capture on {iface}: {source}")]
    Other { iface: String, source: io::Error },
}

impl LiveError {
    pub fn is_permission(&self) -> bool {
        matches!(self, LiveError::NotPermitted { .. })
    }
}

pub fn interfaces() -> Vec<NetworkInterface> {
    datalink::interfaces()
}

/// The interface live capture uses without `-i`: the default route's, else the first up
/// non-loopback one, else `lo`.
pub fn default_interface() -> Option<String> {
    if let Ok(routes) = std::fs::read_to_string("/proc/net/route") {
        for line in routes.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 2 && cols[1] == "00000000" {
                return Some(cols[0].to_string());
            }
        }
    }
    let all = interfaces();
    all.iter()
        .find(|i| i.is_up() && !i.is_loopback())
        .or_else(|| all.iter().find(|i| i.is_loopback()))
        .map(|i| i.name.clone())
}

fn exe_path() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "packetlab".into())
}

/// An AF_PACKET socket, its fd owned by the pnet channel once opened.
struct RawSocket(i32);

impl RawSocket {
    fn open(loopback: bool) -> io::Result<RawSocket> {
        // Protocol 0: the socket receives nothing until pnet binds it to the interface with
        // ETH_P_ALL. Opened with ETH_P_ALL it would start queueing every interface's packets at
        // once, and those that arrive before the bind would show up as if captured on this one
        // (libpcap opens its sockets the same way for this reason).
        // SAFETY: socket(2) takes plain integers and returns a new fd or -1; no memory is shared.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let s = RawSocket(fd);
        // A big receive buffer absorbs bursts while the thread is busy. Best effort: the
        // FORCE variant needs CAP_NET_ADMIN, the plain one is capped by rmem_max.
        let size: libc::c_int = 32 << 20;
        for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
            if s.setsockopt(libc::SOL_SOCKET, opt, &size) {
                break;
            }
        }
        if loopback {
            // On lo every packet is delivered to packet sockets twice, once as outgoing and once
            // as incoming; keep only the incoming copy, as tcpdump shows it.
            // PACKET_IGNORE_OUTGOING needs Linux ≥ 4.20; older kernels get a classic BPF
            // filter that rejects outgoing packets instead.
            const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
            let one: libc::c_int = 1;
            if !s.setsockopt(libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, &one) {
                s.attach_drop_outgoing_filter();
            }
        }
        Ok(s)
    }

    /// `ld pkttype; jeq #PACKET_OUTGOING, drop, keep`.
    fn attach_drop_outgoing_filter(&self) -> bool {
        const SO_ATTACH_FILTER: libc::c_int = 26; // the same number on every Linux arch
        const PACKET_OUTGOING: u32 = 4;
        let op = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
            code: code as u16,
            jt,
            jf,
            k,
        };
        let mut prog = [
            op(
                libc::BPF_LD | libc::BPF_W | libc::BPF_ABS,
                0,
                0,
                (libc::SKF_AD_OFF + libc::SKF_AD_PKTTYPE) as u32,
            ),
            op(
                libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
                0,
                1,
                PACKET_OUTGOING,
            ),
            op(libc::BPF_RET | libc::BPF_K, 0, 0, 0),
            op(libc::BPF_RET | libc::BPF_K, 0, 0, u32::MAX),
        ];
        let fprog = libc::sock_fprog {
            len: prog.len() as libc::c_ushort,
            filter: prog.as_mut_ptr(),
        };
        // The kernel copies the program during the call; `prog` outlives it.
        self.setsockopt(libc::SOL_SOCKET, SO_ATTACH_FILTER, &fprog)
    }

    fn setsockopt<T>(&self, level: libc::c_int, opt: libc::c_int, v: &T) -> bool {
        // SAFETY: `v` points to a live T and the length passed is exactly its size; the kernel
        // only reads it (and what it points to) during the call.
        unsafe {
            libc::setsockopt(
                self.0,
                level,
                opt,
                (v as *const T).cast(),
                std::mem::size_of::<T>() as libc::socklen_t,
            ) == 0
        }
    }
}

/// Reads PACKET_STATISTICS: (packets, drops) since the last call (the kernel resets them).
fn packet_stats(fd: i32) -> Option<(u32, u32)> {
    let mut st = libc::tpacket_stats {
        tp_packets: 0,
        tp_drops: 0,
    };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: `st` and `len` are live locals sized for tpacket_stats, which is what the kernel
    // writes for PACKET_STATISTICS; it writes at most `len` bytes.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut st as *mut libc::tpacket_stats).cast(),
            &mut len,
        )
    };
    (r == 0).then_some((st.tp_packets, st.tp_drops))
}

/// Opens every interface first (so a permission error surfaces before anything starts), then
/// spawns one receiver thread each.
pub fn start(
    names: &[String],
    stats: Arc<SourceStats>,
    tx: Sender<SourceMsg>,
) -> Result<(Vec<Interface>, Vec<JoinHandle<()>>), LiveError> {
    let all = interfaces();
    let mut opened = Vec::new();
    for name in names {
        let iface = all
            .iter()
            .find(|i| &i.name == name)
            .ok_or_else(|| LiveError::NoSuchInterface(name.clone()))?
            .clone();
        let sock = RawSocket::open(iface.is_loopback()).map_err(|e| classify(name, e))?;
        let fd = sock.0;
        let config = datalink::Config {
            read_buffer_size: SNAP,
            read_timeout: Some(Duration::from_millis(50)),
            socket_fd: Some(fd),
            promiscuous: false,
            ..Default::default()
        };
        let rx = match datalink::channel(&iface, config) {
            Ok(Channel::Ethernet(_tx, rx)) => rx,
            Ok(_) => {
                return Err(LiveError::Other {
                    iface: name.clone(),
                    source: io::Error::other("unknown channel type"),
                })
            }
            Err(e) => return Err(classify(name, e)),
        };
        opened.push((iface, rx, fd));
    }
    let ifaces = opened
        .iter()
        .map(|(i, _, _)| Interface {
            name: Some(i.name.clone()),
            link_type: LinkType::ETHERNET,
        })
        .collect();
    let mut handles = Vec::new();
    for (idx, (iface, mut rx, fd)) in opened.into_iter().enumerate() {
        let stats = stats.clone();
        let tx = tx.clone();
        let iface_name = iface.name.clone();
        let h = std::thread::Builder::new()
            .name(format!("capture-{}", iface.name))
            .spawn(move || {
                let mut batch = Vec::with_capacity(BATCH_FRAMES);
                let mut since = Instant::now();
                let mut last_stats = Instant::now();
                while !stats.stop.load(Ordering::Relaxed) {
                    match rx.next() {
                        Ok(data) => {
                            if stats.paused.load(Ordering::Relaxed) {
                                stats.paused_skipped.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            batch.push(Frame {
                                ts: Timestamp::now(),
                                link_type: LinkType::ETHERNET,
                                data: data.to_vec(),
                                orig_len: data.len() as u32,
                                iface: idx as u16,
                            });
                        }
                        Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let _ = tx.blocking_send(SourceMsg::Error(format!(
                                "capture on {} stopped: {e}",
                                iface.name
                            )));
                            break;
                        }
                    }
                    if batch.len() >= BATCH_FRAMES
                        || (!batch.is_empty() && since.elapsed() >= BATCH_AGE)
                    {
                        send_batch(&tx, &stats, &mut batch);
                        since = Instant::now();
                    }
                    if last_stats.elapsed() >= Duration::from_millis(500) {
                        if let Some((_, drops)) = packet_stats(fd) {
                            stats
                                .kernel_drops
                                .fetch_add(drops as u64, Ordering::Relaxed);
                        }
                        last_stats = Instant::now();
                    }
                }
                send_batch(&tx, &stats, &mut batch);
                if let Some((_, drops)) = packet_stats(fd) {
                    stats
                        .kernel_drops
                        .fetch_add(drops as u64, Ordering::Relaxed);
                }
            })
            .map_err(|e| LiveError::Other {
                iface: iface_name,
                source: e,
            })?;
        handles.push(h);
    }
    Ok((ifaces, handles))
}

fn send_batch(tx: &Sender<SourceMsg>, stats: &SourceStats, batch: &mut Vec<Frame>) {
    if batch.is_empty() {
        return;
    }
    let frames = std::mem::replace(batch, Vec::with_capacity(BATCH_FRAMES));
    let n = frames.len() as u64;
    match tx.try_send(SourceMsg::Frames(frames)) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            stats.channel_drops.fetch_add(n, Ordering::Relaxed);
        }
        Err(TrySendError::Closed(_)) => stats.stop.store(true, Ordering::Relaxed),
    }
}

fn classify(iface: &str, e: io::Error) -> LiveError {
    if e.kind() == io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(libc::EPERM) {
        LiveError::NotPermitted {
            iface: iface.to_string(),
            exe: exe_path(),
            source: e,
        }
    } else {
        LiveError::Other {
            iface: iface.to_string(),
            source: e,
        }
    }
}

/// Whether this process may capture at all (tries to open a packet socket).
pub fn permitted() -> bool {
    RawSocket::open(false).map(|s| s.close()).is_ok()
}

impl RawSocket {
    fn close(self) {
        // SAFETY: the fd was returned by socket(2) above and is closed exactly once here.
        unsafe {
            libc::close(self.0);
        }
    }
}

/// A flag the receiver threads poll, for tests and shutdown.
pub fn stop_all(stats: &SourceStats) {
    stats.stop.store(true, Ordering::Relaxed);
}
