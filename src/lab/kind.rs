//! The generators by name: their keys, slugs, one-line descriptions and lessons.

/// The generators, in the order of their keys `1`..`9`, `a`, `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GeneratorKind {
    UdpEcho,
    TcpEchoLong,
    TcpEchoShort,
    TcpClosedPort,
    UdpClosedPort,
    HttpLike,
    Dns,
    UdpLossy,
    TcpLossy,
    SshLike,
    PortScan,
}

impl GeneratorKind {
    pub const ALL: [GeneratorKind; 11] = [
        GeneratorKind::UdpEcho,
        GeneratorKind::TcpEchoLong,
        GeneratorKind::TcpEchoShort,
        GeneratorKind::TcpClosedPort,
        GeneratorKind::UdpClosedPort,
        GeneratorKind::HttpLike,
        GeneratorKind::Dns,
        GeneratorKind::UdpLossy,
        GeneratorKind::TcpLossy,
        GeneratorKind::SshLike,
        GeneratorKind::PortScan,
    ];

    /// A short name for lists and titles.
    pub fn name(self) -> &'static str {
        match self {
            GeneratorKind::UdpEcho => "UDP echo",
            GeneratorKind::TcpEchoLong => "TCP echo, one connection",
            GeneratorKind::TcpEchoShort => "TCP echo, short connections",
            GeneratorKind::TcpClosedPort => "TCP to a closed port",
            GeneratorKind::UdpClosedPort => "UDP to a closed port",
            GeneratorKind::HttpLike => "HTTP request/response",
            GeneratorKind::Dns => "DNS query",
            GeneratorKind::UdpLossy => "UDP over the lossy link",
            GeneratorKind::TcpLossy => "TCP over the lossy link",
            GeneratorKind::SshLike => "SSH-like login",
            GeneratorKind::PortScan => "Port scan",
        }
    }

    /// The key that starts and stops it: `'1'`..`'9'`, `'a'`, `'b'` in [`GeneratorKind::ALL`]
    /// order.
    pub fn key(self) -> char {
        const KEYS: &[u8; 11] = b"123456789ab";
        let i = Self::ALL.iter().position(|k| *k == self).unwrap_or(0);
        char::from(KEYS[i])
    }

    /// The generator whose key is `c`.
    pub fn from_key(c: char) -> Option<GeneratorKind> {
        Self::ALL.into_iter().find(|k| k.key() == c)
    }

    /// A stable lower-case name for files and command lines (the lab scenarios' `start:` line):
    /// `udp-echo tcp-long tcp-short tcp-closed udp-closed http dns udp-lossy tcp-lossy ssh-like
    /// port-scan`.
    pub fn slug(self) -> &'static str {
        match self {
            GeneratorKind::UdpEcho => "udp-echo",
            GeneratorKind::TcpEchoLong => "tcp-long",
            GeneratorKind::TcpEchoShort => "tcp-short",
            GeneratorKind::TcpClosedPort => "tcp-closed",
            GeneratorKind::UdpClosedPort => "udp-closed",
            GeneratorKind::HttpLike => "http",
            GeneratorKind::Dns => "dns",
            GeneratorKind::UdpLossy => "udp-lossy",
            GeneratorKind::TcpLossy => "tcp-lossy",
            GeneratorKind::SshLike => "ssh-like",
            GeneratorKind::PortScan => "port-scan",
        }
    }

    /// The generator whose [`slug`](Self::slug) is `s`.
    pub fn from_slug(s: &str) -> Option<GeneratorKind> {
        Self::ALL.into_iter().find(|k| k.slug() == s)
    }

    /// One line saying what it does.
    pub fn describe(self) -> &'static str {
        match self {
            GeneratorKind::UdpEcho => {
                "numbered datagrams to a UDP echo server; replies counted, lost and out of order"
            }
            GeneratorKind::TcpEchoLong => "one TCP connection carries every message and its echo",
            GeneratorKind::TcpEchoShort => {
                "a new TCP connection per message: handshake, data, FIN, every time"
            }
            GeneratorKind::TcpClosedPort => {
                "SYN to a port nobody listens on: the kernel answers RST, connection refused"
            }
            GeneratorKind::UdpClosedPort => {
                "datagram to a closed port: ICMP port unreachable comes back as ECONNREFUSED"
            }
            GeneratorKind::HttpLike => "GET / to a tiny HTTP/1.1 server, one connection each",
            GeneratorKind::Dns => "A queries for *.lab.test to the lab's DNS responder",
            GeneratorKind::UdpLossy => {
                "datagrams through the lossy link: the app sees every loss and reordering"
            }
            GeneratorKind::TcpLossy => {
                "user-space TCP through the same link: retransmits, delivers every byte in order"
            }
            GeneratorKind::SshLike => {
                "connects to an SSH-like server, swaps version banners and a short login, closes"
            }
            GeneratorKind::PortScan => {
                "one SYN to every port of a range per round: open ports accept, closed ones RST"
            }
        }
    }

    /// A few sentences on the concept the generator shows, for a help or detail view.
    pub fn lesson(self) -> &'static str {
        match self {
            GeneratorKind::UdpEcho => {
                "UDP sends each datagram on its own: no connection, no handshake, no \
                 acknowledgement. The client numbers its messages so it can tell, from the \
                 echoes alone, which ones never came back and which came back out of order. On \
                 loopback nothing is lost; try the same over the lossy link (8)."
            }
            GeneratorKind::TcpEchoLong => {
                "TCP opens a connection once (SYN, SYN-ACK, ACK) and then carries a byte \
                 stream both ways. Message boundaries are the application's business: the \
                 client writes a length-prefixed message and reads back exactly that many bytes."
            }
            GeneratorKind::TcpEchoShort => {
                "Every message pays for a whole connection: three-way handshake, data, then \
                 FIN both ways. The side that closes first keeps the port in TIME_WAIT; watch \
                 the sessions pile up compared with the long connection (2)."
            }
            GeneratorKind::TcpClosedPort => {
                "When no socket listens on a TCP port, the kernel answers the SYN with a RST \
                 and connect() fails with 'connection refused' at once. A firewall that DROPs \
                 instead makes connect() hang until it times out; one that REJECTs sends the \
                 RST (or an ICMP error) itself."
            }
            GeneratorKind::UdpClosedPort => {
                "UDP has no RST: a datagram to a closed port makes the kernel send back an \
                 ICMP 'port unreachable'. Only a connected UDP socket hears about it, as \
                 ECONNREFUSED on its next send or receive."
            }
            GeneratorKind::HttpLike => {
                "HTTP/1.1 is text over a TCP connection: a request line and headers, a blank \
                 line, then a status line, headers, and a body whose length Content-Length \
                 gives. Here each request has its own connection (Connection: close)."
            }
            GeneratorKind::Dns => {
                "A DNS query is one UDP datagram: a 12-byte header, the question (name, type, \
                 class), and the response repeats the question and adds answers. Names outside \
                 lab.test get NXDOMAIN. packetlab decodes DNS on ports 53 and 5353."
            }
            GeneratorKind::UdpLossy => {
                "The lossy link is a relay between client and server that drops, duplicates, \
                 delays and reorders datagrams. UDP hands all of that to the application: the \
                 receiver counts the gaps, the late arrivals and the duplicates."
            }
            GeneratorKind::TcpLossy => {
                "The same link under TCP: a user-space TCP stack whose IP packets ride in the \
                 relay's datagrams. Lost segments and lost ACKs are retransmitted, duplicates \
                 dropped, reordered data put back in order: the receiver gets every byte, in \
                 order, a little later. The retransmission counter shows the price. \
                 packetlab decodes the client's datagrams (UDP port 7781) as the IP packets \
                 they carry, so the sessions show that TCP session (to port 7080); the \
                 server's side (UDP 7782) stays UDP, the link's output."
            }
            GeneratorKind::SshLike => {
                "A server on a fixed, well-known port is what a firewall rule names: SSH \
                 listens on 22, this SSH-like one on 2222. Each login is a new TCP connection \
                 (SYN, SYN-ACK, ACK), then the server's version banner \
                 ('SSH-2.0-packetlab'), the client's, a few lines, and the close."
            }
            GeneratorKind::PortScan => {
                "A port scanner asks every port of a range: a SYN to each. An open port \
                 answers SYN-ACK (the scanner closes at once), a closed one RST, a firewalled \
                 one that DROPs nothing at all. Here 7101, 7105 and 7110 of 7100-7119 listen."
            }
        }
    }

    /// Where its server listens when its fixed port ([`ports`](super::ports)) is free, as the
    /// lab pane shows it before it starts: ":7777".
    pub fn port_label(self) -> String {
        use super::ports as p;
        match self {
            GeneratorKind::UdpEcho => format!(":{}", p::UDP_ECHO),
            GeneratorKind::TcpEchoLong | GeneratorKind::TcpEchoShort => {
                format!(":{}", p::TCP_ECHO)
            }
            GeneratorKind::TcpClosedPort | GeneratorKind::UdpClosedPort => {
                format!(":{}", p::CLOSED)
            }
            GeneratorKind::HttpLike => format!(":{}", p::HTTP),
            GeneratorKind::Dns => format!(":{}", p::DNS[0]),
            GeneratorKind::UdpLossy => {
                format!(":{} via :{}", p::UDP_LOSSY_SERVER, p::UDP_LOSSY_LINK)
            }
            GeneratorKind::TcpLossy => {
                format!(":{} in UDP :{}", p::TCP_LOSSY_TCP, p::TCP_LOSSY_SERVER)
            }
            GeneratorKind::SshLike => format!(":{}", p::SSH_LIKE),
            GeneratorKind::PortScan => format!(":{}-{}", p::SCAN_RANGE.0, p::SCAN_RANGE.1),
        }
    }

    pub(crate) fn index(self) -> u64 {
        Self::ALL.iter().position(|k| *k == self).unwrap_or(0) as u64
    }
}
