//! The values of iptables options: protocols, addresses and networks, ports and ranges, TCP
//! flags, rates.

use std::net::{IpAddr, Ipv4Addr};

use crate::firewall::model::*;
use crate::firewall::names;
use crate::firewall::syntax::parse_addr;

use super::words::{pieces, Pe, Word};

pub(super) const TCP_FIN: u64 = 0x01;

pub(super) const TCP_SYN: u64 = 0x02;

pub(super) const TCP_RST: u64 = 0x04;

pub(super) const TCP_ACK: u64 = 0x10;

/// A protocol name or number; 0 for `all`.
pub(super) fn protocol(s: &str) -> Option<u8> {
    let lower = s.to_ascii_lowercase();
    if lower == "all" {
        return Some(0);
    }
    if let Ok(n) = lower.parse::<u8>() {
        return Some(n);
    }
    let n = names::lookup(Kind::Proto, &lower).or(match lower.as_str() {
        "dccp" => Some(33),
        "ipv6-icmp" => Some(58),
        _ => None,
    })?;
    u8::try_from(n).ok()
}

/// `a.b.c.d`, `a.b.c.d/len` or `a.b.c.d/m.a.s.k` (a contiguous mask), as the network.
pub(super) fn address(s: &str) -> Option<Value> {
    let (a, len) = match s.split_once('/') {
        Some((a, m)) if m.contains('.') => {
            let mask = u32::from(m.parse::<Ipv4Addr>().ok()?);
            let len = mask.leading_ones();
            if mask.checked_shl(len).unwrap_or(0) != 0 {
                return None;
            }
            (a, len as u8)
        }
        Some((a, l)) => (a, l.parse::<u8>().ok().filter(|l| *l <= 32)?),
        None => (s, 32),
    };
    let a = numeric_ipv4(a)?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    // iptables keeps the network, not the host bits.
    match parse_addr(&format!("{}/{len}", Ipv4Addr::from(u32::from(a) & mask)))? {
        Value::Prefix(IpAddr::V4(n), l) => Some(Value::Prefix(IpAddr::V4(n), l)),
        _ => None,
    }
}

/// An IPv4 address as libxtables' `__numeric_to_ipaddr` reads it: up to four dot-separated
/// bytes, each decimal, `0x` hex or `0` octal (strtoul base 0), missing ones zero on the
/// right (`172.16.0` is 172.16.0.0, `10` is 10.0.0.0 and `127.1` 127.1.0.0 — not inet_aton's
/// 127.0.0.1; `iptables-restore` then `iptables-save` in a namespace shows each).
fn numeric_ipv4(s: &str) -> Option<Ipv4Addr> {
    let byte = |p: &str| -> Option<u8> {
        let n = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            u32::from_str_radix(h, 16).ok()?
        } else if p.len() > 1 && p.starts_with('0') {
            u32::from_str_radix(&p[1..], 8).ok()?
        } else {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()?
        };
        u8::try_from(n).ok()
    };
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut b = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        b[i] = byte(p)?;
    }
    Some(Ipv4Addr::from(b))
}

/// An IPv6 address or network (`fe80::/10`, `::1`, `2001:db8::1/128`).
pub(super) fn address6(s: &str) -> Option<Value> {
    match parse_addr(s)? {
        v @ Value::Prefix(IpAddr::V6(_), _) => Some(v),
        _ => None,
    }
}

/// `22`, `ssh`, `1000:2000`, `1000:` (to 65535) or `:1023` (from 0).
pub(super) fn port_or_range(s: &str) -> Option<Value> {
    let one = |p: &str| -> Option<u64> {
        p.parse::<u16>()
            .ok()
            .map(u64::from)
            .or_else(|| names::lookup(Kind::Port, p))
    };
    match s.split_once(':') {
        None => Some(Value::Int(one(s)?)),
        Some((a, b)) => {
            let lo = if a.is_empty() { 0 } else { one(a)? };
            let hi = if b.is_empty() { 65535 } else { one(b)? };
            (lo <= hi).then_some(if lo == hi {
                Value::Int(lo)
            } else {
                Value::IntRange(lo, hi)
            })
        }
    }
}

/// `1000`, `500:1460`: a number or an inclusive range.
pub(super) fn num_or_range(s: &str) -> Option<Value> {
    match s.split_once(':') {
        None => Some(Value::Int(s.parse().ok()?)),
        Some((a, b)) => {
            let lo: u64 = if a.is_empty() { 0 } else { a.parse().ok()? };
            let hi: u64 = if b.is_empty() { 65535 } else { b.parse().ok()? };
            (lo <= hi).then_some(Value::IntRange(lo, hi))
        }
    }
}

/// `SYN,ACK`, `ALL` (FIN,SYN,RST,PSH,ACK,URG) or `NONE`.
pub(super) fn tcp_flags(w: &Word) -> Result<u64, Pe> {
    let mut bits = 0;
    for (s, col) in pieces(w) {
        bits |= match s {
            "FIN" => 0x01,
            "SYN" => 0x02,
            "RST" => 0x04,
            "PSH" => 0x08,
            "ACK" => 0x10,
            "URG" => 0x20,
            "ALL" => 0x3f,
            "NONE" => 0,
            _ => return Err((col, format!("unknown TCP flag '{s}'"))),
        };
    }
    Ok(bits)
}

/// A rate per second as nft writes it (`5/minute`), in the largest unit with a whole count.
pub(super) fn rate_text(per_s: f64) -> String {
    for (unit, secs) in [
        ("second", 1.0),
        ("minute", 60.0),
        ("hour", 3600.0),
        ("day", 86400.0),
    ] {
        let n = per_s * secs;
        if (n - n.round()).abs() < 1e-9 && n >= 1.0 {
            return format!("{}/{unit}", n.round() as u64);
        }
    }
    format!("{}/day", (per_s * 86400.0).round().max(1.0) as u64)
}

/// The address field `-s`/`-d` (and iprange, recent) test: source or destination, v4 or v6.
pub(super) fn addr_field(src: bool, v6: bool) -> Field {
    match (src, v6) {
        (true, false) => Field::IpSaddr,
        (false, false) => Field::IpDaddr,
        (true, true) => Field::Ip6Saddr,
        (false, true) => Field::Ip6Daddr,
    }
}
