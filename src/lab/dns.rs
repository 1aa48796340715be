//! The lab's DNS: a responder on 127.0.0.1 that answers for names under `lab.test` (A →
//! 127.0.0.1, AAAA → ::1) and says NXDOMAIN to anything else, and a client that asks it in
//! turn for `lab.test` A, `www.lab.test` AAAA and `nothing.invalid` A.
//!
//! The wire format is written by hand (RFC 1035: header, question, answer with a compression
//! pointer to the question's name); the project's own decoder reads it back in the tests.
//! packetlab decodes DNS on ports 53 and 5353 only, so the responder takes 127.0.0.1:5353 when
//! free, else 127.0.0.1:53 (root), else an ephemeral port, and says which in the note.

use std::borrow::Cow;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::timeout;

use super::kit::{bind_udp, io_err, udp_client, Client, GenCtx, Group, Started, UdpAnswerer};
use super::ports;
use super::stats::{record_error, update};
use crate::decode::dns::{read_name, type_name, Header};

/// The zone the responder answers for.
pub const ZONE: &str = "lab.test";
pub const TYPE_A: u16 = 1;
pub const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
const TTL: u32 = 60;
pub const RCODE_NOERROR: u16 = 0;
pub const RCODE_FORMERR: u16 = 1;
pub const RCODE_NXDOMAIN: u16 = 3;

/// What the client asks, in turn.
pub const QUESTIONS: [(&str, u16); 3] = [
    ("lab.test", TYPE_A),
    ("www.lab.test", TYPE_AAAA),
    ("nothing.invalid", TYPE_A),
];

/// A standard query (recursion desired) for `name` of type `qtype`.
pub fn build_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(12 + name.len() + 6);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    m.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    m.extend_from_slice(&[0; 6]); // AN, NS, AR
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let l = &label.as_bytes()[..label.len().min(63)];
        m.push(l.len() as u8);
        m.extend_from_slice(l);
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&CLASS_IN.to_be_bytes());
    m
}

fn in_zone(name: &str) -> bool {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    n == ZONE || n.ends_with(&format!(".{ZONE}"))
}

/// The responder's answer to `query`, or `None` for something it does not answer at all (a
/// response, or less than a header).
pub fn respond(query: &[u8]) -> Option<Vec<u8>> {
    respond_with(query, |name, qtype| {
        in_zone(name).then(|| match qtype {
            TYPE_A => Some(Ipv4Addr::LOCALHOST.octets().to_vec()),
            TYPE_AAAA => Some(Ipv6Addr::LOCALHOST.octets().to_vec()),
            _ => None,
        })
    })
}

/// `respond` with the zone given by `lookup`: for a name and type, `None` when the name does
/// not exist (NXDOMAIN), `Some(None)` when it has no record of that type, else the record.
pub fn respond_with(
    query: &[u8],
    lookup: impl Fn(&str, u16) -> Option<Option<Vec<u8>>>,
) -> Option<Vec<u8>> {
    let h = Header::parse(query)?;
    if h.is_response() {
        return None;
    }
    let flags = |rcode: u16| 0x8000 | 0x0400 | (h.flags & 0x0100) | rcode; // QR AA RD
    let mut r = Vec::with_capacity(64);
    r.extend_from_slice(&h.id.to_be_bytes());
    let parsed = if h.opcode() == 0 && h.qd == 1 {
        read_name(query, 12).ok().and_then(|(name, p)| {
            let q = query.get(p..p + 4)?;
            let qtype = u16::from_be_bytes([q[0], q[1]]);
            let qclass = u16::from_be_bytes([q[2], q[3]]);
            Some((name, qtype, qclass, &query[12..p + 4]))
        })
    } else {
        None
    };
    let Some((name, qtype, qclass, question)) = parsed else {
        r.extend_from_slice(&flags(RCODE_FORMERR).to_be_bytes());
        r.extend_from_slice(&[0; 8]);
        return Some(r);
    };
    let found = lookup(&name, qtype);
    let known = found.is_some();
    let answer = found.flatten().filter(|_| qclass == CLASS_IN);
    let rcode = if known { RCODE_NOERROR } else { RCODE_NXDOMAIN };
    r.extend_from_slice(&flags(rcode).to_be_bytes());
    r.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    r.extend_from_slice(&(answer.is_some() as u16).to_be_bytes()); // ANCOUNT
    r.extend_from_slice(&[0; 4]); // NS, AR
    r.extend_from_slice(question);
    if let Some(rd) = answer {
        r.extend_from_slice(&0xc00cu16.to_be_bytes()); // the question's name, at offset 12
        r.extend_from_slice(&qtype.to_be_bytes());
        r.extend_from_slice(&CLASS_IN.to_be_bytes());
        r.extend_from_slice(&TTL.to_be_bytes());
        r.extend_from_slice(&(rd.len() as u16).to_be_bytes());
        r.extend_from_slice(&rd);
    }
    Some(r)
}

/// What the client makes of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsAnswer {
    pub id: u16,
    pub rcode: u16,
    pub name: String,
    pub qtype: u16,
    /// The addresses in the answer section (A and AAAA records).
    pub addrs: Vec<std::net::IpAddr>,
}

impl DnsAnswer {
    /// "lab.test A → 127.0.0.1" / "nothing.invalid A → NXDOMAIN".
    pub fn describe(&self) -> String {
        let what = match (self.rcode, self.addrs.is_empty()) {
            (RCODE_NXDOMAIN, _) => "NXDOMAIN (no such name)".to_string(),
            (RCODE_NOERROR, true) => "no records".to_string(),
            (RCODE_NOERROR, false) => self
                .addrs
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            (r, _) => format!("rcode {r}"),
        };
        format!("{} {} → {what}", self.name, type_name(self.qtype))
    }
}

fn u16_at(m: &[u8], p: usize) -> Result<u16, String> {
    m.get(p..p + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| "DNS response truncated".to_string())
}

/// Reads a response: header, the question, and the address records of the answer section.
pub fn parse_response(m: &[u8]) -> Result<DnsAnswer, String> {
    let h = Header::parse(m).ok_or("DNS response shorter than a header")?;
    if !h.is_response() {
        return Err("not a DNS response".into());
    }
    if h.qd != 1 {
        return Err(format!("{} questions in the response", h.qd));
    }
    let (name, p) = read_name(m, 12).map_err(String::from)?;
    let qtype = u16_at(m, p)?;
    let mut p = p + 4;
    let mut addrs = Vec::new();
    for _ in 0..h.an {
        let (_, np) = read_name(m, p).map_err(String::from)?;
        let rtype = u16_at(m, np)?;
        let rdlen = u16_at(m, np + 8)? as usize;
        let rdata = m
            .get(np + 10..np + 10 + rdlen)
            .ok_or("DNS record runs past the message")?;
        match (rtype, rdata.len()) {
            (TYPE_A, 4) => addrs.push(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]).into()),
            (TYPE_AAAA, 16) => {
                let b: [u8; 16] = rdata.try_into().map_err(|_| "bad AAAA")?;
                addrs.push(Ipv6Addr::from(b).into());
            }
            _ => {}
        }
        p = np + 10 + rdlen;
    }
    Ok(DnsAnswer {
        id: h.id,
        rcode: h.rcode(),
        name,
        qtype,
        addrs,
    })
}

/// Binds the responder: 127.0.0.1:5353, else :53, else an ephemeral port. Returns the socket
/// and a sentence saying where it is and whether packetlab will decode its traffic as DNS.
pub fn bind_responder() -> io::Result<(StdUdpSocket, String)> {
    for port in ports::DNS {
        if let Ok(s) = bind_udp(&format!("127.0.0.1:{port}")) {
            let why = if port == 53 {
                "the DNS port"
            } else {
                "the mDNS port"
            };
            return Ok((
                s,
                format!("DNS responder on 127.0.0.1:{port} ({why}: shown decoded as DNS)"),
            ));
        }
    }
    let s = bind_udp("127.0.0.1:0")?;
    let port = s.local_addr()?.port();
    Ok((
        s,
        format!(
            "DNS responder on 127.0.0.1:{port}: 5353 is taken and 53 needs root, so packetlab \
             shows this traffic as plain UDP"
        ),
    ))
}

pub(crate) fn start(ctx: GenCtx) -> Result<Started, String> {
    let (server, where_) = bind_responder().map_err(io_err("bind DNS responder"))?;
    let saddr = server.local_addr().map_err(io_err("DNS responder"))?;
    let (sock, local) = udp_client(saddr, "DNS client")?;
    let server = UdpSocket::from_std(server).map_err(io_err("DNS responder"))?;
    update(&ctx.stats, |s| {
        s.local = local;
        s.remote = Some(saddr);
        s.server = if ports::DNS.contains(&saddr.port()) {
            format!(":{}", saddr.port())
        } else {
            format!(":{} (5353 is taken, 53 needs root)", saddr.port())
        };
        s.note = where_;
    });
    let mut g = Group::new(&ctx);
    g.serve(UdpAnswerer::new(server, 4096, answer));
    Ok(g.client(Resolver {
        sock,
        server: saddr,
        buf: vec![0u8; 4096],
        n_query: 0,
    }))
}

fn answer(query: &[u8]) -> Option<Cow<'_, [u8]>> {
    respond(query).map(Cow::Owned)
}

/// Asks the [`QUESTIONS`] in turn, one at a time, each answer awaited within its tick.
struct Resolver {
    sock: UdpSocket,
    server: SocketAddr,
    buf: Vec<u8>,
    n_query: u64,
}

impl Client for Resolver {
    type Arrival = std::convert::Infallible;

    async fn tick(&mut self, ctx: &GenCtx) {
        let (sock, server, buf) = (&self.sock, self.server, &mut self.buf);
        let (name, qtype) = QUESTIONS[(self.n_query % QUESTIONS.len() as u64) as usize];
        let id = (self.n_query & 0xffff) as u16;
        self.n_query += 1;
        let q = build_query(id, name, qtype);
        if let Err(e) = sock.send(&q).await {
            record_error(&ctx.stats, format!("send query to {server}: {e}"));
            return;
        }
        update(&ctx.stats, |s| {
            s.sent_msgs += 1;
            s.sent_bytes += q.len() as u64;
            s.in_flight = 1;
        });
        // Wait for this query's response; a stale one (an earlier id) is read and skipped.
        let got = timeout(Duration::from_secs(1), async {
            loop {
                let n = sock.recv(buf).await?;
                update(&ctx.stats, |s| s.recv_bytes += n as u64);
                let r = parse_response(&buf[..n]);
                if !matches!(&r, Ok(a) if a.id != id) {
                    // Only this query's answer counts as received: a stale one's query was
                    // counted lost, and sent = received + lost + in flight.
                    update(&ctx.stats, |s| {
                        s.recv_msgs += 1;
                        s.in_flight = 0;
                    });
                    return io::Result::Ok(r);
                }
            }
        })
        .await;
        match got {
            Ok(Ok(Ok(a))) => update(&ctx.stats, |s| {
                s.note = a.describe();
                if !matches!(server.port(), 53 | 5353) {
                    s.note += &format!(" (responder on :{}, shown as plain UDP)", server.port());
                }
            }),
            Ok(Ok(Err(e))) => record_error(&ctx.stats, e),
            Ok(Err(e)) => {
                update(&ctx.stats, |s| {
                    s.lost += 1;
                    s.in_flight = 0;
                });
                record_error(&ctx.stats, format!("receive: {e}"));
            }
            Err(_) => {
                update(&ctx.stats, |s| {
                    s.lost += 1;
                    s.in_flight = 0;
                });
                record_error(&ctx.stats, format!("no answer to {name} within 1 s"));
            }
        }
    }

    async fn finish(self, _ctx: &GenCtx) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::dns::info;

    #[test]
    fn answers_read_back_with_the_project_decoder() {
        let q = build_query(0x1234, "lab.test", TYPE_A);
        assert_eq!(info(&q), "Standard query 0x1234 A lab.test");
        let r = respond(&q).unwrap();
        assert_eq!(
            info(&r),
            "Standard query response 0x1234 A lab.test A 127.0.0.1"
        );
        let a = parse_response(&r).unwrap();
        assert_eq!(a.describe(), "lab.test A → 127.0.0.1");

        let r = respond(&build_query(7, "www.lab.test", TYPE_AAAA)).unwrap();
        assert_eq!(
            parse_response(&r).unwrap().describe(),
            "www.lab.test AAAA → ::1"
        );
        assert!(
            info(&r).ends_with("AAAA www.lab.test AAAA ::1"),
            "{}",
            info(&r)
        );

        let r = respond(&build_query(8, "nothing.invalid", TYPE_A)).unwrap();
        let a = parse_response(&r).unwrap();
        assert_eq!(a.rcode, RCODE_NXDOMAIN);
        assert!(info(&r).contains("No such name"), "{}", info(&r));
    }

    #[test]
    fn junk_gets_formerr_or_nothing() {
        assert_eq!(respond(&[1, 2, 3]), None);
        let mut q = build_query(1, "lab.test", TYPE_A);
        q.truncate(15);
        let r = respond(&q).unwrap();
        assert_eq!(Header::parse(&r).unwrap().rcode(), RCODE_FORMERR);
        let r = respond(&build_query(1, "lab.test", TYPE_A)).unwrap();
        assert_eq!(respond(&r), None, "responses are not answered");
    }
}
