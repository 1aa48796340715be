//! The ruleset as packetlab holds it, whichever syntax it came from (nft or iptables-save).

use std::fmt;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Ip,
    Ip6,
    Inet,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Ip => "ip",
            Family::Ip6 => "ip6",
            Family::Inet => "inet",
        }
    }

    /// Whether a table of this family sees a packet of IP version `v6`.
    pub fn sees(self, v6: bool) -> bool {
        match self {
            Family::Ip => !v6,
            Family::Ip6 => v6,
            Family::Inet => true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

impl Hook {
    pub fn name(self) -> &'static str {
        match self {
            Hook::Prerouting => "prerouting",
            Hook::Input => "input",
            Hook::Forward => "forward",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Accept,
    Drop,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
    Reject,
    Continue,
    Return,
    Jump(String),
    Goto(String),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Accept => write!(f, "accept"),
            Verdict::Drop => write!(f, "drop"),
            Verdict::Reject => write!(f, "reject"),
            Verdict::Continue => write!(f, "continue"),
            Verdict::Return => write!(f, "return"),
            Verdict::Jump(c) => write!(f, "jump {c}"),
            Verdict::Goto(c) => write!(f, "goto {c}"),
        }
    }
}

/// Which layer-4 header a port match reads (`th` = any transport header with ports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum L4 {
    Tcp,
    Udp,
    Th,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    IpSaddr,
    IpDaddr,
    Ip6Saddr,
    Ip6Daddr,
    IpProtocol,
    L4Proto,
    Sport(L4),
    Dport(L4),
    TcpFlags,
    CtState,
    IcmpType,
    Icmpv6Type,
    Iifname,
    Oifname,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::IpSaddr => "ip saddr",
            Field::IpDaddr => "ip daddr",
            Field::Ip6Saddr => "ip6 saddr",
            Field::Ip6Daddr => "ip6 daddr",
            Field::IpProtocol => "ip protocol",
            Field::L4Proto => "meta l4proto",
            Field::Sport(L4::Tcp) => "tcp sport",
            Field::Sport(L4::Udp) => "udp sport",
            Field::Sport(L4::Th) => "th sport",
            Field::Dport(L4::Tcp) => "tcp dport",
            Field::Dport(L4::Udp) => "udp dport",
            Field::Dport(L4::Th) => "th dport",
            Field::TcpFlags => "tcp flags",
            Field::CtState => "ct state",
            Field::IcmpType => "icmp type",
            Field::Icmpv6Type => "icmpv6 type",
            Field::Iifname => "iifname",
            Field::Oifname => "oifname",
        }
    }
}

/// Connection-tracking states, as bits so a set of them is one integer.
pub mod ct {
    pub const INVALID: u8 = 1;
    pub const ESTABLISHED: u8 = 2;
    pub const RELATED: u8 = 4;
    pub const NEW: u8 = 8;
    pub const UNTRACKED: u8 = 64;

    pub fn name(bit: u8) -> &'static str {
        match bit {
            INVALID => "invalid",
            ESTABLISHED => "established",
            RELATED => "related",
            NEW => "new",
            UNTRACKED => "untracked",
            _ => "?",
        }
    }

    pub fn from_name(s: &str) -> Option<u8> {
        Some(match s {
            "invalid" => INVALID,
            "established" => ESTABLISHED,
            "related" => RELATED,
            "new" => NEW,
            "untracked" => UNTRACKED,
            _ => return None,
        })
    }
}

/// One value on the right of a match: an address or prefix, a range, a number, a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// An address with a prefix length (a plain address has the full length).
    Prefix(IpAddr, u8),
    AddrRange(IpAddr, IpAddr),
    Int(u64),
    IntRange(u64, u64),
    /// An interface name; a trailing `*` matches any suffix.
    Name(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Prefix(a, l) if (a.is_ipv4() && *l == 32) || (a.is_ipv6() && *l == 128) => {
                write!(f, "{a}")
            }
            Value::Prefix(a, l) => write!(f, "{a}/{l}"),
            Value::AddrRange(a, b) => write!(f, "{a}-{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::IntRange(a, b) => write!(f, "{a}-{b}"),
            Value::Name(s) => write!(f, "\"{s}\""),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rhs {
    /// One value, or an anonymous set `{ a, b, c-d }` (a match is membership).
    Values(Vec<Value>),
    /// A named set of the table, `@name`.
    Set(String),
    /// `tcp flags & mask == value` (or `!=`): a masked comparison of the flags byte.
    Masked { mask: u64, value: u64 },
    /// `tcp flags syn,ack`: any of these bits set (nft's implicit `& flags != 0`).
    AnyBits(u64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    pub field: Field,
    pub op: Op,
    pub rhs: Rhs,
}

/// Where a rule came from: the file line (1-based) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub line: u32,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub origin: Origin,
    pub enabled: bool,
    pub matches: Vec<Match>,
    pub counter: bool,
    pub log: Option<String>,
    pub comment: Option<String>,
    /// None: the rule only counts or logs, and evaluation goes on.
    pub verdict: Option<Verdict>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseChain {
    pub hook: Hook,
    pub priority: i32,
    pub policy: Policy,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub name: String,
    pub base: Option<BaseChain>,
    pub rules: Vec<Rule>,
    pub line: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedSet {
    pub name: String,
    pub elements: Vec<Value>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub family: Family,
    pub name: String,
    pub chains: Vec<Chain>,
    pub sets: Vec<NamedSet>,
}

impl Table {
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name)
    }

    pub fn set(&self, name: &str) -> Option<&NamedSet> {
        self.sets.iter().find(|s| s.name == name)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub tables: Vec<Table>,
}

/// Names a rule: table, chain and position, stable while rules are toggled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId {
    pub table: u16,
    pub chain: u16,
    pub rule: u32,
}

impl Ruleset {
    pub fn rule(&self, id: RuleId) -> Option<&Rule> {
        self.tables
            .get(id.table as usize)?
            .chains
            .get(id.chain as usize)?
            .rules
            .get(id.rule as usize)
    }

    pub fn rule_mut(&mut self, id: RuleId) -> Option<&mut Rule> {
        self.tables
            .get_mut(id.table as usize)?
            .chains
            .get_mut(id.chain as usize)?
            .rules
            .get_mut(id.rule as usize)
    }

    /// Every rule with its id, in file order.
    pub fn rules(&self) -> impl Iterator<Item = (RuleId, &Rule)> {
        self.tables.iter().enumerate().flat_map(|(t, table)| {
            table.chains.iter().enumerate().flat_map(move |(c, chain)| {
                chain.rules.iter().enumerate().map(move |(r, rule)| {
                    (
                        RuleId {
                            table: t as u16,
                            chain: c as u16,
                            rule: r as u32,
                        },
                        rule,
                    )
                })
            })
        })
    }
}
