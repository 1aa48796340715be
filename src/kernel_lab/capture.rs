//! The kernel switches' capture: one packet socket in the switches' namespace, bound to no
//! interface, keeping what the two bridges receive. One socket, so the frames of both
//! segments come in the order the kernel handled them — two sockets (one per bridge) would
//! each be in order, but not with each other, and the comparison follows a packet across.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::capture::{Frame, LinkType, Timestamp};

/// How often the socket's loss counter is read while capturing.
const LOSS_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Captures on the bridges named `names` (the frame's `iface` is the index in it) until
/// `stop`, giving each frame to `each`; the calling thread must be in the namespace already.
/// `lost` counts the frames the socket lost (its queue full), as it goes.
pub fn stream(
    names: &[&str],
    stop: &AtomicBool,
    lost: &AtomicU64,
    each: &mut dyn FnMut(Frame),
) -> Result<(), String> {
    let mut index = Vec::new();
    for n in names {
        let c = std::ffi::CString::new(*n).map_err(|e| e.to_string())?;
        // SAFETY: `c` is a valid NUL-terminated string for the call.
        let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
        if i == 0 {
            return Err(format!("no interface {n} in the lab's switches"));
        }
        index.push(i as i32);
    }
    let proto = (libc::ETH_P_ALL as u16).to_be() as i32;
    // SAFETY: socket(2) with constant arguments; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, proto) };
    if fd < 0 {
        return Err(format!(
            "packet socket: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `fd` is a socket this function just opened and owns from here on.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 100_000,
    };
    let buf_size: libc::c_int = 8 << 20;
    // SAFETY: setsockopt reads `size_of` bytes from the given, live values.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        );
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&buf_size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        );
    }
    let mut buf = vec![0u8; 65_536];
    let mut read_loss = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if read_loss.elapsed() >= LOSS_EVERY {
            read_loss = std::time::Instant::now();
            lost.fetch_add(drops(&sock), Ordering::Relaxed);
        }
        // SAFETY: an all-zero sockaddr_ll is a valid value to be overwritten by recvfrom.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `buf` and `from` are live and as large as the lengths passed.
        let n = unsafe {
            libc::recvfrom(
                sock.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&mut from as *mut libc::sockaddr_ll).cast(),
                &mut len,
            )
        };
        if n < 0 {
            continue; // the timeout: look at `stop`
        }
        // What a bridge sends out is also seen: only what it receives counts.
        if from.sll_pkttype == libc::PACKET_OUTGOING {
            continue;
        }
        let Some(iface) = index.iter().position(|i| *i == from.sll_ifindex) else {
            continue;
        };
        let n = n as usize;
        each(Frame {
            ts: Timestamp::now(),
            link_type: LinkType::ETHERNET,
            data: buf[..n].to_vec(),
            orig_len: n as u32,
            iface: iface as u16,
        });
    }
    lost.fetch_add(drops(&sock), Ordering::Relaxed);
    Ok(())
}

/// Captures until `stop` and returns the frames, and how many the socket lost.
pub fn run(names: &[&str], stop: Arc<AtomicBool>) -> Result<(Vec<Frame>, u64), String> {
    let lost = AtomicU64::new(0);
    let mut frames = Vec::new();
    stream(names, &stop, &lost, &mut |f| frames.push(f))?;
    Ok((frames, lost.load(Ordering::Relaxed)))
}

/// The frames the socket lost since the last call (the kernel resets its count on reading).
fn drops(sock: &OwnedFd) -> u64 {
    // SAFETY: an all-zero tpacket_stats is valid; getsockopt writes at most `len` bytes.
    let mut st: libc::tpacket_stats = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: `st` and `len` are live and sized for the call.
    unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut st as *mut libc::tpacket_stats).cast(),
            &mut len,
        );
    }
    u64::from(st.tp_drops)
}
