//! DNS messages (UDP/TCP 53, mDNS 5353): the header and question always, answers for the Info
//! column and the detail tree. Names follow compression pointers with a hop limit, so a pointer
//! loop ("zlip") ends in an error instead of a hang.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{field, layer, Dec, Proto, Sink, Summary};

const MAX_HOPS: usize = 64;
const MAX_NAME: usize = 255;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qd: u16,
    pub an: u16,
    pub ns: u16,
    pub ar: u16,
}

impl Header {
    pub fn parse(m: &[u8]) -> Option<Header> {
        let g = |i: usize| Some(u16::from_be_bytes(m.get(i..i + 2)?.try_into().ok()?));
        Some(Header {
            id: g(0)?,
            flags: g(2)?,
            qd: g(4)?,
            an: g(6)?,
            ns: g(8)?,
            ar: g(10)?,
        })
    }

    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    pub fn opcode(&self) -> u16 {
        (self.flags >> 11) & 0xf
    }

    pub fn rcode(&self) -> u16 {
        self.flags & 0xf
    }
}

/// Reads the name at `at` in message `m`. Returns the name (labels joined by `.`, `<Root>` for
/// the root, bytes outside printable ASCII escaped as `\xNN`) and the offset after it.
pub fn read_name(m: &[u8], at: usize) -> Result<(String, usize), &'static str> {
    let mut name = String::new();
    let after = walk_name(m, at, Some(&mut name))?;
    if name.is_empty() {
        name.push_str("<Root>");
    }
    Ok((name, after))
}

/// The checks of [`read_name`] without building the name: the offset after it, or the same error.
/// The summary path uses this, so a DNS packet costs no allocation.
fn skip_name(m: &[u8], at: usize) -> Result<usize, &'static str> {
    walk_name(m, at, None)
}

/// Follows the name at `at`, writing its text to `out` if given; the length limit applies to the
/// text either way, so both callers fail alike.
fn walk_name(m: &[u8], mut at: usize, mut out: Option<&mut String>) -> Result<usize, &'static str> {
    let mut text_len = 0;
    let mut after = None;
    let mut hops = 0;
    loop {
        let len = *m.get(at).ok_or("DNS name runs past the message")? as usize;
        match len & 0xc0 {
            0xc0 => {
                let lo = *m.get(at + 1).ok_or("DNS pointer truncated")? as usize;
                after.get_or_insert(at + 2);
                hops += 1;
                if hops > MAX_HOPS {
                    return Err("DNS name compression loop");
                }
                at = ((len & 0x3f) << 8) | lo;
            }
            0x00 => {
                if len == 0 {
                    return Ok(after.unwrap_or(at + 1));
                }
                let label = m
                    .get(at + 1..at + 1 + len)
                    .ok_or("DNS label runs past the message")?;
                if text_len > 0 {
                    text_len += 1;
                    if let Some(name) = out.as_deref_mut() {
                        name.push('.');
                    }
                }
                for &c in label {
                    let plain = c.is_ascii_graphic() && c != b'\\';
                    text_len += if plain { 1 } else { 4 };
                    if let Some(name) = out.as_deref_mut() {
                        if plain {
                            name.push(c as char);
                        } else {
                            let _ = write!(name, "\\x{c:02x}");
                        }
                    }
                }
                if text_len > MAX_NAME * 4 {
                    return Err("DNS name too long");
                }
                at += 1 + len;
            }
            _ => return Err("DNS label type not supported"),
        }
    }
}

pub fn type_name(t: u16) -> String {
    match t {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        41 => "OPT".into(),
        43 => "DS".into(),
        46 => "RRSIG".into(),
        47 => "NSEC".into(),
        48 => "DNSKEY".into(),
        64 => "SVCB".into(),
        65 => "HTTPS".into(),
        255 => "ANY".into(),
        _ => format!("TYPE{t}"),
    }
}

fn rcode_name(r: u16) -> &'static str {
    match r {
        0 => "No error",
        1 => "Format error",
        2 => "Server failure",
        3 => "No such name",
        4 => "Not implemented",
        5 => "Refused",
        _ => "Error",
    }
}

/// One resource record, read for display.
pub struct Record {
    pub name: String,
    pub rtype: u16,
    pub ttl: u32,
    pub data: String,
    pub end: usize,
}

fn read_record(m: &[u8], at: usize) -> Result<Record, &'static str> {
    let (name, p) = read_name(m, at)?;
    let (rtype, ttl, rdata, end) = record_fixed(m, p)?;
    let (rd, rdlen) = (p + 10, rdata.len());
    let data = match (rtype, rdlen) {
        (1, 4) => Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]).to_string(),
        (28, 16) => Ipv6Addr::from(<[u8; 16]>::try_from(rdata).unwrap_or_default()).to_string(),
        (2 | 5 | 12, _) => read_name(m, rd).map(|n| n.0).unwrap_or_default(),
        (15, _) => read_name(m, rd + 2).map(|n| n.0).unwrap_or_default(),
        _ => format!("{rdlen} bytes"),
    };
    Ok(Record {
        name,
        rtype,
        ttl,
        data,
        end,
    })
}

/// The checks of [`read_record`] without reading it for display: the offset after it.
fn skip_record(m: &[u8], at: usize) -> Result<usize, &'static str> {
    let p = skip_name(m, at)?;
    let (_, _, _, end) = record_fixed(m, p)?;
    Ok(end)
}

/// Type, TTL, data and the offset after the record whose name ends at `p`.
fn record_fixed(m: &[u8], p: usize) -> Result<(u16, u32, &[u8], usize), &'static str> {
    let g16 = |i: usize| m.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let rtype = g16(p).ok_or("DNS record truncated")?;
    let ttl = m
        .get(p + 4..p + 8)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or("DNS record truncated")?;
    let rdlen = g16(p + 8).ok_or("DNS record truncated")? as usize;
    let rd = p + 10;
    let rdata = m.get(rd..rd + rdlen).ok_or("DNS record data truncated")?;
    Ok((rtype, ttl, rdata, rd + rdlen))
}

/// The first question's name of a DNS message carried by this packet.
pub fn qname_of(s: &Summary, data: &[u8]) -> Option<String> {
    if !matches!(s.proto, Proto::Dns | Proto::Mdns) {
        return None;
    }
    let p = data.get(s.payload_range())?;
    let m = if s.tcp.is_some() { p.get(2..)? } else { p };
    first_question(m).map(|(n, _)| n)
}

/// The first question's name and type, if the message has one.
pub fn first_question(m: &[u8]) -> Option<(String, u16)> {
    let h = Header::parse(m)?;
    if h.qd == 0 {
        return None;
    }
    let (name, p) = read_name(m, 12).ok()?;
    let qtype = m.get(p..p + 2).map(|b| u16::from_be_bytes([b[0], b[1]]))?;
    Some((name, qtype))
}

/// tshark-like Info text: "Standard query 0x1a2b A example.com" / "... response ... A 1.2.3.4".
pub fn info(m: &[u8]) -> String {
    let Some(h) = Header::parse(m) else {
        return "DNS (truncated header)".into();
    };
    let mut s = String::new();
    let kind = match h.opcode() {
        0 => "Standard query",
        4 => "Zone change notification",
        5 => "Dynamic update",
        _ => "Query",
    };
    let _ = write!(
        s,
        "{kind}{} 0x{:04x}",
        if h.is_response() { " response" } else { "" },
        h.id
    );
    if h.is_response() && h.rcode() != 0 {
        let _ = write!(s, " {}", rcode_name(h.rcode()));
    }
    let mut p = 12;
    for _ in 0..h.qd.min(8) {
        let Ok((name, np)) = read_name(m, p) else {
            s.push_str(" [malformed]");
            return s;
        };
        let Some(qt) = m.get(np..np + 2).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
            let _ = write!(s, " {name}");
            return s;
        };
        let _ = write!(s, " {} {name}", type_name(qt));
        p = np + 4;
    }
    for _ in 0..h.an.min(8) {
        match read_record(m, p) {
            Ok(r) => {
                let _ = write!(s, " {} {}", type_name(r.rtype), r.data);
                p = r.end;
            }
            Err(_) => {
                s.push_str(" [truncated]");
                break;
            }
        }
    }
    s
}

impl<S: Sink> Dec<'_, '_, S> {
    /// A DNS message in `at..end` of the frame.
    pub(crate) fn dns(&mut self, at: usize, end: usize, mdns: bool) {
        let data = self.b.0;
        let m = &data[at..end];
        let Some(h) = Header::parse(m) else {
            self.s.fail("DNS header truncated");
            return;
        };
        self.s.proto = if mdns { Proto::Mdns } else { Proto::Dns };
        layer!(
            self,
            at..end,
            "{} ({})",
            if mdns {
                "Multicast Domain Name System"
            } else {
                "Domain Name System"
            },
            if h.is_response() { "response" } else { "query" }
        );
        field!(self, 1, at..at + 2, "Transaction ID: 0x{:04x}", h.id);
        field!(
            self,
            1,
            at + 2..at + 4,
            "Flags: 0x{:04x} ({}{})",
            h.flags,
            if h.is_response() {
                "response, "
            } else {
                "query, "
            },
            rcode_name(h.rcode())
        );
        field!(
            self,
            1,
            at + 4..at + 12,
            "Questions: {}, Answers: {}, Authority: {}, Additional: {}",
            h.qd,
            h.an,
            h.ns,
            h.ar
        );
        let mut p = 12;
        for _ in 0..h.qd.min(64) {
            // The summary path only checks the names; the detail view reads them.
            let name = if S::ACTIVE {
                read_name(m, p)
            } else {
                skip_name(m, p).map(|np| (String::new(), np))
            };
            match name {
                Ok((name, np)) => {
                    let qt = m.get(np..np + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
                    field!(
                        self,
                        1,
                        at + p..(at + np + 4).min(end),
                        "Query: {name} {}",
                        qt.map(type_name).unwrap_or_default()
                    );
                    if np + 4 > m.len() {
                        self.s.fail("DNS question truncated");
                        return;
                    }
                    p = np + 4;
                }
                Err(e) => {
                    self.s.fail(e);
                    return;
                }
            }
        }
        let records = h.an as usize + h.ns as usize + h.ar as usize;
        for i in 0..records.min(256) {
            let record = if S::ACTIVE {
                read_record(m, p)
            } else {
                skip_record(m, p).map(|end| Record {
                    name: String::new(),
                    rtype: 0,
                    ttl: 0,
                    data: String::new(),
                    end,
                })
            };
            match record {
                Ok(r) => {
                    let sect = if i < h.an as usize {
                        "Answer"
                    } else if i < (h.an + h.ns) as usize {
                        "Authority"
                    } else {
                        "Additional"
                    };
                    field!(
                        self,
                        1,
                        at + p..at + r.end,
                        "{sect}: {} {} {} (TTL {})",
                        r.name,
                        type_name(r.rtype),
                        r.data,
                        r.ttl
                    );
                    p = r.end;
                }
                Err(e) => {
                    self.s.fail(e);
                    return;
                }
            }
        }
    }
}

/// The (address, name) pairs of a response's A and AAAA answers.
pub fn address_answers(m: &[u8]) -> Vec<(std::net::IpAddr, String)> {
    let mut out = Vec::new();
    let Some(h) = Header::parse(m) else {
        return out;
    };
    let mut p = 12;
    for _ in 0..h.qd.min(8) {
        match read_name(m, p) {
            Ok((_, np)) => p = np + 4,
            Err(_) => return out,
        }
    }
    for _ in 0..h.an.min(32) {
        let Ok(r) = read_record(m, p) else { break };
        if matches!(r.rtype, 1 | 28) {
            if let Ok(a) = r.data.parse() {
                out.push((a, r.name.clone()));
            }
        }
        p = r.end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `skip_name` (the summary path) must end where `read_name` ends and fail where it fails.
    #[test]
    fn skip_name_agrees_with_read_name() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut long = vec![0u8; 12];
        for _ in 0..7 {
            long.push(63);
            long.extend((0..63).map(|i| if i % 2 == 0 { b'a' } else { 0x01 }));
        }
        long.push(0);
        assert_eq!(read_name(&long, 12), Err("DNS name too long"));
        let mut seeds = vec![long];
        let mut m = vec![0u8; 12];
        m.extend_from_slice(b"\x07ex\\mple\x03org\x00\xc0\x0c\x03www\xc0\x0c\xc0\x1a");
        seeds.push(m);
        for i in 0..200_000 {
            let mut m = seeds[i % seeds.len()].clone();
            for _ in 0..(rnd() % 4) {
                let at = 12 + rnd() as usize % (m.len() - 12);
                m[at] = rnd() as u8;
            }
            let cut = 12 + rnd() as usize % (m.len() - 11);
            let m = &m[..cut];
            for at in [12, 12 + rnd() as usize % (m.len() - 11)] {
                assert_eq!(skip_name(m, at), read_name(m, at).map(|(_, end)| end));
                assert_eq!(
                    skip_record(m, at),
                    read_record(m, at).map(|r| r.end),
                    "{m:02x?} at {at}"
                );
            }
        }
    }
}
