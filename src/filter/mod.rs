//! Display filters: a Wireshark-style expression that selects packets, for the capture list's
//! filter bar and for `-Y` / `--filter` headless.
//!
//! ```text
//! tcp && !(tcp.port in {22, 8000..8080})
//! ip.addr == 10.0.0.0/8 or ipv6.addr == ::1
//! tcp.flags.syn == 1 and tcp.flags.ack == 0
//! dns.qry.name contains "example"   frame.len > 1000   eth.dst == ff:ff:ff:ff:ff:ff
//! verdict == drop   session == 3
//! ```
//!
//! - A protocol name (`tcp`, `udp`, `dns`, `icmp`, `icmpv6`, `arp`, `ip`, `ipv6`, `eth`, `vlan`,
//!   `frame`…) is true when the packet has that layer; a bare field name when the field is present.
//! - Comparisons `== != < <= > >=` (also `eq ne lt le gt ge`), `in {a, b, lo..hi}`, and
//!   `contains "text"` (string fields, and `frame contains` over the frame's bytes).
//! - `&& || !` (also `and or not`) and parentheses; `!` binds tighter than `&&`, `&&` than `||`.
//!
//! Semantics copied from Wireshark: a field that occurs several times (`ip.addr` is the source
//! and the destination, and the addresses of the packet an ICMP error quotes) matches when any
//! occurrence does; `a != b` means `!(a == b)` (Wireshark 3.6+); any comparison on an absent field
//! is false, so `ip.addr != 10.0.0.1` is false for an ARP packet.
//!
//! What a field reads is packetlab's decode ([`Summary`]): of the packet an ICMP error quotes, the
//! addresses, protocol, ports and ICMP query type count (as in tshark), its TTL and TCP flags do
//! not (the summary does not keep them); packets carried inside application messages (OpenFlow)
//! are not decoded. `tests/filter_vs_tshark.rs` holds the known differences from tshark.
//!
//! One evaluator, two syntaxes: a comparison compiles to the firewall's match values
//! ([`crate::firewall::model::Value`]: prefixes, address ranges, integers, integer ranges) — an
//! ordering such as `frame.len > 100` is the range `101..=max` — and is tested with the firewall's
//! own containment test ([`crate::firewall::eval::value_has`], which uses `prefix_contains`), so a
//! CIDR, a port set or a range means exactly what it means in a rule.

mod fields;
mod parse;

use std::fmt;

use crate::decode::Summary;
use crate::firewall::eval::{value_has, Final};
use crate::firewall::model::Value;

use fields::{Field, Layer};

/// A compiled display filter.
#[derive(Clone, Debug)]
pub struct DisplayFilter {
    text: String,
    expr: Expr,
}

/// Why a filter text does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// 0-based char offset in the text where the problem is.
    pub pos: usize,
    pub msg: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "col {}: {}", self.pos + 1, self.msg)
    }
}

impl std::error::Error for FilterError {}

/// What a filter can look at for one packet.
#[derive(Clone, Copy, Debug)]
pub struct FilterPacket<'a> {
    pub summary: &'a Summary,
    /// The frame's captured bytes.
    pub data: &'a [u8],
    /// Frame length on the wire.
    pub len: u32,
    /// The firewall's verdict, when a ruleset is loaded.
    pub verdict: Option<Final>,
    /// The packet's session id (`sessions::SessionTable`).
    pub session: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expr {
    /// The empty filter: every packet.
    All,
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Layer(Layer),
    /// A bare field name: the field is present.
    Present(Field),
    Test(Field, Test),
    /// `frame contains …`: the captured bytes contain these.
    FrameContains(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Test {
    /// Some occurrence is held by one of the values (`==`, `in`, orderings as ranges).
    Any(Vec<Value>),
    /// The field is present and no occurrence is held by any value (`!=`).
    NoneOf(Vec<Value>),
    /// String field: equal to one of these.
    StrAny(Vec<String>),
    /// String field: present and equal to none of these.
    StrNone(Vec<String>),
    StrContains(String),
}

impl DisplayFilter {
    /// Compiles a filter. Empty text (or only spaces) is the filter that keeps every packet.
    pub fn parse(text: &str) -> Result<DisplayFilter, FilterError> {
        Ok(DisplayFilter {
            text: text.to_string(),
            expr: parse::parse(text)?,
        })
    }

    pub fn matches(&self, p: &FilterPacket<'_>) -> bool {
        eval(&self.expr, p)
    }

    /// The text it was compiled from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether it keeps every packet (the text is empty).
    pub fn is_empty(&self) -> bool {
        self.expr == Expr::All
    }
}

fn eval(e: &Expr, p: &FilterPacket<'_>) -> bool {
    match e {
        Expr::All => true,
        Expr::Or(a, b) => eval(a, p) || eval(b, p),
        Expr::And(a, b) => eval(a, p) && eval(b, p),
        Expr::Not(a) => !eval(a, p),
        Expr::Layer(l) => fields::has_layer(*l, p),
        Expr::Present(f) => match f {
            Field::DnsQryName => fields::read_str(*f, p).is_some(),
            _ => !fields::read(*f, p).as_slice().is_empty(),
        },
        Expr::FrameContains(needle) => contains(p.data, needle),
        Expr::Test(f, t) => test(*f, t, p),
    }
}

fn test(f: Field, t: &Test, p: &FilterPacket<'_>) -> bool {
    match t {
        Test::Any(vs) => fields::read(f, p)
            .as_slice()
            .iter()
            .any(|r| vs.iter().any(|v| value_has(v, r))),
        Test::NoneOf(vs) => {
            let occ = fields::read(f, p);
            let occ = occ.as_slice();
            !occ.is_empty() && !occ.iter().any(|r| vs.iter().any(|v| value_has(v, r)))
        }
        Test::StrAny(vs) => fields::read_str(f, p).is_some_and(|s| vs.contains(&s)),
        Test::StrNone(vs) => fields::read_str(f, p).is_some_and(|s| !vs.contains(&s)),
        Test::StrContains(v) => fields::read_str(f, p).is_some_and(|s| s.contains(v.as_str())),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests;
