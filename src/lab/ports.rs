//! The lab's ports, one per service, so that rules, display filters and the README can name
//! them (`tcp dport 2222 drop`, `udp.port == 7777`). Every server binds its port on 127.0.0.1;
//! when it is taken (another program, or the same generator in a second packetlab), the server
//! takes an ephemeral port instead and its note says so.

use std::io;

use crate::decode::LAB_CARRIER_PORTS;

/// UDP echo server (udp).
pub const UDP_ECHO: u16 = 7777;
/// TCP echo server, for the long and the short connections (tcp); the second of the two to
/// start while the other runs finds it taken.
pub const TCP_ECHO: u16 = 7070;
/// The tiny HTTP/1.1 server (tcp).
pub const HTTP: u16 = 8000;
/// DNS responder (udp), in this order of preference: packetlab decodes DNS on both (53 needs
/// root), and an ephemeral port after them.
pub const DNS: [u16; 2] = [5353, 53];
/// The closed port the closed-port generators knock on, TCP and UDP (the discard service,
/// which nothing runs nowadays); if something listens there, another closed port is used.
pub const CLOSED: u16 = 9;
/// The server of UDP over the lossy link (udp).
pub const UDP_LOSSY_SERVER: u16 = 7778;
/// The lossy link's listening side for UDP over it: where its client sends (udp).
pub const UDP_LOSSY_LINK: u16 = 7779;
/// The TCP port the smoltcp server listens on, inside the tunnel (TCP over the lossy link).
pub const TCP_LOSSY_TCP: u16 = 7080;
/// The UDP port carrying the smoltcp client's IP packets (TCP over the lossy link); the
/// decoder shows the TCP inside datagrams from and to it (`decode::LAB_CARRIER_PORTS`).
pub const TCP_LOSSY_CLIENT: u16 = LAB_CARRIER_PORTS[0];
/// The UDP port carrying the smoltcp server's IP packets; these datagrams (the same packets
/// after the link) stay plain UDP in the decoder, so that no segment is seen twice.
pub const TCP_LOSSY_SERVER: u16 = LAB_CARRIER_PORTS[1];
/// The SSH-like login server (tcp) the `firewall-blocks-ssh` scenario's rules block.
pub const SSH_LIKE: u16 = 2222;
/// The port scan's range, first and last port (tcp).
pub const SCAN_RANGE: (u16, u16) = (7100, 7119);
/// The ports in [`SCAN_RANGE`] the port scan's own listeners open (tcp).
pub const SCAN_OPEN: [u16; 3] = [7101, 7105, 7110];

/// Binds `bind` on 127.0.0.1:`port`, or on an ephemeral port when that fails; the second is
/// " (7777 is taken)", to be said after the address, or "" when the fixed port was had.
pub fn fixed_or_ephemeral<T>(
    port: u16,
    bind: impl Fn(&str) -> io::Result<T>,
) -> io::Result<(T, String)> {
    match bind(&format!("127.0.0.1:{port}")) {
        Ok(s) => Ok((s, String::new())),
        Err(e) => {
            let s = bind("127.0.0.1:0")?;
            let why = if e.kind() == io::ErrorKind::AddrInUse {
                format!(" ({port} is taken)")
            } else {
                format!(" ({port}: {e})")
            };
            Ok((s, why))
        }
    }
}

/// Whether a socket holds `port` on this machine (a TCP listener, or any UDP socket), from
/// `/proc/net` (IPv4 and IPv6): how the closed-port generators check that port 9 is closed
/// without binding it (which needs root). Unreadable (not Linux), it says no.
pub fn in_use(udp: bool, port: u16) -> bool {
    let files: [&str; 2] = if udp {
        ["/proc/net/udp", "/proc/net/udp6"]
    } else {
        ["/proc/net/tcp", "/proc/net/tcp6"]
    };
    let want = format!(":{port:04X}");
    files.iter().any(|f| {
        std::fs::read_to_string(f).is_ok_and(|t| {
            t.lines().skip(1).any(|l| {
                let mut cols = l.split_whitespace();
                let local = cols.nth(1).unwrap_or("");
                let state = cols.nth(1).unwrap_or("");
                // TCP: only a listener (state 0A) makes the port open.
                local.ends_with(&want) && (udp || state == "0A")
            })
        })
    })
}
