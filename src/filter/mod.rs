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

mod display;
mod eval;
mod expr;
mod fields;
mod packet;
mod parse;

pub use display::DisplayFilter;
pub use expr::FilterError;
pub use packet::FilterPacket;

#[cfg(test)]
mod tests;
