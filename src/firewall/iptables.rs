//! `iptables-save` text imported into the rule model, as one `ip filter` table whose base chains
//! INPUT, FORWARD and OUTPUT hook input, forward and output at priority 0.
//!
//! The supported subset: `*filter` … `COMMIT`; chain lines `:INPUT DROP [0:0]` and
//! `:name - [0:0]`; rules `-A CHAIN` with `-p`, `-s`, `-d`, `-i`, `-o` (each may be negated with
//! a leading `!`; `+` ends an interface wildcard), `-m tcp`/`-m udp` `--sport`/`--dport`
//! (`a:b` ranges), `--tcp-flags MASK COMP`, `--syn`, `-m icmp --icmp-type`,
//! `-m multiport --dports/--sports`, `-m conntrack --ctstate`, `-m state --state`,
//! `-m comment --comment`, and `-j ACCEPT|DROP|REJECT [--reject-with …]|RETURN|LOG [--log-prefix …]`
//! or a user chain, or `-g CHAIN`. A `[packets:bytes]` prefix is skipped.
//!
//! Other tables (`*nat`, `*mangle`, `*raw`, `*security`) are read line by line but not
//! simulated: one that only declares its chains with ACCEPT policies changes no filter verdict
//! and is skipped silently; a rule in it, or a DROP policy, is an error naming its line.
//! Anything outside the subset is an error `FILE:LINE:COL: …` naming the construct: a rule is
//! never silently ignored.

use std::net::{IpAddr, Ipv4Addr};

use super::model::*;
use super::names;
use super::nft::{parse_addr, Kind, ParseError};

type R<T> = Result<T, ParseError>;

/// Whether `text` looks like iptables-save output: its first line that is neither blank nor a
/// `#` comment is a `*table`, a `:CHAIN` declaration, a `-A` rule or `COMMIT`.
pub fn looks_like(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| {
            l.starts_with('*') || l.starts_with(':') || l.starts_with("-A ") || l == "COMMIT"
        })
}

/// One word of a line, quotes removed, with the column (1-based, in characters) it starts at.
#[derive(Clone, Debug)]
struct Word {
    s: String,
    col: u32,
}

/// Splits a line into words as iptables-restore does: whitespace separates, `"…"` quotes (with
/// `\"` and `\\` inside).
fn split(line: &str) -> Result<Vec<Word>, (u32, String)> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let col = i as u32 + 1;
        let mut s = String::new();
        while i < chars.len() && !chars[i].is_whitespace() {
            if chars[i] == '"' {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err((col, "unterminated quoted string".into())),
                        Some('"') => break,
                        Some('\\') if matches!(chars.get(i + 1), Some('"') | Some('\\')) => {
                            s.push(chars[i + 1]);
                            i += 2;
                            continue;
                        }
                        Some(&c) => s.push(c),
                    }
                    i += 1;
                }
            } else {
                s.push(chars[i]);
            }
            i += 1;
        }
        out.push(Word { s, col });
    }
    Ok(out)
}

/// The table being read, between `*name` and `COMMIT`.
struct Open {
    name: String,
    line: u32,
    /// Only for `*filter`: the chains declared so far.
    chains: Vec<Chain>,
}

pub fn parse(src: &str, file: &str) -> R<Ruleset> {
    let err = |line: u32, col: u32, msg: String| ParseError {
        file: file.into(),
        line,
        col,
        msg,
    };
    let mut rs = Ruleset::default();
    let mut open: Option<Open> = None;
    let mut seen_filter = false;
    let mut last = 0;
    for (i, raw) in src.lines().enumerate() {
        let no = i as u32 + 1;
        last = no;
        let text = raw.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let words = split(raw).map_err(|(col, msg)| err(no, col, msg))?;
        let first = &words[0];
        if let Some(name) = first.s.strip_prefix('*') {
            if let Some(t) = &open {
                return Err(err(
                    no,
                    first.col,
                    format!("table '{}' (line {}) has no COMMIT", t.name, t.line),
                ));
            }
            if name.is_empty() || words.len() > 1 {
                return Err(err(no, first.col, "expected '*TABLE'".into()));
            }
            if !matches!(name, "filter" | "nat" | "mangle" | "raw" | "security") {
                return Err(err(no, first.col + 1, format!("unknown table '{name}'")));
            }
            if name == "filter" {
                if seen_filter {
                    return Err(err(no, first.col, "a second '*filter' table".into()));
                }
                seen_filter = true;
            }
            open = Some(Open {
                name: name.into(),
                line: no,
                chains: Vec::new(),
            });
            continue;
        }
        let Some(t) = open.as_mut() else {
            return Err(err(
                no,
                first.col,
                "expected '*TABLE' (every line but comments belongs to a table)".into(),
            ));
        };
        if first.s == "COMMIT" {
            if words.len() > 1 {
                return Err(err(no, words[1].col, "nothing may follow COMMIT".into()));
            }
            let t = open.take().expect("a table is open");
            if t.name == "filter" {
                let mut table = Table::new(Family::Ip, "filter".into());
                table.chains = t.chains;
                rs.tables.push(table);
            }
            continue;
        }
        if first.s.starts_with(':') {
            declare(t, &words, no).map_err(|(col, msg)| err(no, col, msg))?;
            continue;
        }
        if first.s.starts_with('-') || first.s.starts_with('[') {
            if t.name != "filter" {
                return Err(err(
                    no,
                    first.col,
                    format!(
                        "unsupported: a rule in table '{}' (only the filter table is simulated)",
                        t.name
                    ),
                ));
            }
            let (ci, rule) = rule(&t.chains, &words, no, text).map_err(|(c, m)| err(no, c, m))?;
            t.chains[ci].rules.push(rule);
            continue;
        }
        return Err(err(
            no,
            first.col,
            format!(
                "expected ':CHAIN', a rule ('-A CHAIN …') or COMMIT, not '{}'",
                first.s
            ),
        ));
    }
    if let Some(t) = open {
        return Err(err(
            last.max(1),
            1,
            format!("table '{}' (line {}) has no COMMIT", t.name, t.line),
        ));
    }
    Ok(rs)
}

const BUILTIN: [(&str, Hook); 3] = [
    ("INPUT", Hook::Input),
    ("FORWARD", Hook::Forward),
    ("OUTPUT", Hook::Output),
];

/// `:NAME POLICY [packets:bytes]`.
fn declare(t: &mut Open, words: &[Word], no: u32) -> Result<(), (u32, String)> {
    let w = &words[0];
    let name = &w.s[1..];
    if name.is_empty() {
        return Err((w.col, "expected a chain name after ':'".into()));
    }
    let Some(policy) = words.get(1) else {
        return Err((
            w.col + w.s.chars().count() as u32,
            "expected a policy (ACCEPT, DROP, or '-' for a user chain)".into(),
        ));
    };
    if let Some(c) = words.get(2) {
        let counters = c.s.strip_prefix('[').and_then(|s| s.strip_suffix(']'));
        if counters.is_none_or(|s| !is_counters(s)) {
            return Err((c.col, "expected counters '[packets:bytes]'".into()));
        }
    }
    if let Some(extra) = words.get(3) {
        return Err((extra.col, "nothing may follow the counters".into()));
    }
    if t.name != "filter" {
        // Not simulated: harmless only when it lets everything through.
        return match policy.s.as_str() {
            "ACCEPT" | "-" => Ok(()),
            p => Err((
                policy.col,
                format!(
                    "unsupported: policy {p} in table '{}' (only the filter table is simulated)",
                    t.name
                ),
            )),
        };
    }
    if t.chains.iter().any(|c| c.name == name) {
        return Err((w.col + 1, format!("chain '{name}' declared twice")));
    }
    let hook = BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, h)| *h);
    let base = match (hook, policy.s.as_str()) {
        (Some(hook), "ACCEPT" | "DROP") => Some(BaseChain {
            kind: ChainType::Filter,
            device: None,
            hook,
            priority: 0,
            policy: if policy.s == "ACCEPT" {
                Policy::Accept
            } else {
                Policy::Drop
            },
        }),
        (Some(_), p) => {
            return Err((
                policy.col,
                format!("a built-in chain's policy is ACCEPT or DROP, not '{p}'"),
            ))
        }
        (None, "-") => None,
        (None, _) if matches!(name, "PREROUTING" | "POSTROUTING") => {
            return Err((
                w.col + 1,
                format!("the filter table has no chain {name} (INPUT, FORWARD, OUTPUT)"),
            ))
        }
        (None, p) => {
            return Err((
                policy.col,
                format!("a user chain's policy is '-', not '{p}'"),
            ))
        }
    };
    t.chains.push(Chain {
        name: name.into(),
        base,
        rules: Vec::new(),
        line: no,
    });
    Ok(())
}

fn is_counters(s: &str) -> bool {
    s.split_once(':').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    })
}

/// The match modules of the subset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Module {
    Tcp,
    Udp,
    Icmp,
    Multiport,
    Conntrack,
    State,
    Comment,
}

impl Module {
    fn from_name(s: &str) -> Option<Module> {
        Some(match s {
            "tcp" => Module::Tcp,
            "udp" => Module::Udp,
            "icmp" => Module::Icmp,
            "multiport" => Module::Multiport,
            "conntrack" => Module::Conntrack,
            "state" => Module::State,
            "comment" => Module::Comment,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Module::Tcp => "tcp",
            Module::Udp => "udp",
            Module::Icmp => "icmp",
            Module::Multiport => "multiport",
            Module::Conntrack => "conntrack",
            Module::State => "state",
            Module::Comment => "comment",
        }
    }

    /// The protocol the module needs (`-m tcp` needs `-p tcp`).
    fn proto(self) -> Option<u8> {
        match self {
            Module::Tcp => Some(6),
            Module::Udp => Some(17),
            Module::Icmp => Some(1),
            _ => None,
        }
    }

    fn takes(self, opt: &str) -> bool {
        match self {
            Module::Tcp => matches!(
                opt,
                "--sport"
                    | "--source-port"
                    | "--dport"
                    | "--destination-port"
                    | "--tcp-flags"
                    | "--syn"
                    | "--tcp-option"
            ),
            Module::Udp => matches!(
                opt,
                "--sport" | "--source-port" | "--dport" | "--destination-port"
            ),
            Module::Icmp => opt == "--icmp-type",
            Module::Multiport => matches!(
                opt,
                "--sports" | "--source-ports" | "--dports" | "--destination-ports" | "--ports"
            ),
            Module::Conntrack => opt.starts_with("--ct"),
            Module::State => opt == "--state",
            Module::Comment => opt == "--comment",
        }
    }
}

const TCP_FIN: u64 = 0x01;
const TCP_SYN: u64 = 0x02;
const TCP_RST: u64 = 0x04;
const TCP_ACK: u64 = 0x10;

/// Reads one rule line into the chain it appends to and the rule.
fn rule(chains: &[Chain], words: &[Word], no: u32, text: &str) -> Result<(usize, Rule), Pe> {
    let mut p = RuleParser { words, pos: 0 };
    // `[packets:bytes] -A …` (iptables-save -c).
    if let Some(w) = p.peek() {
        if let Some(c) = w.s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            if !is_counters(c) {
                return Err((w.col, "expected counters '[packets:bytes]'".into()));
            }
            p.pos += 1;
        }
    }
    let cmd = p.next("'-A CHAIN'")?;
    if cmd.s != "-A" && cmd.s != "--append" {
        return Err((
            cmd.col,
            format!(
                "unsupported: command '{}' (iptables-save appends rules with -A)",
                cmd.s
            ),
        ));
    }
    let cw = p.next("a chain name")?;
    let Some(ci) = chains.iter().position(|c| c.name == cw.s) else {
        return Err((
            cw.col,
            format!("chain '{}' is not declared (':{} - [0:0]')", cw.s, cw.s),
        ));
    };
    let hook = chains[ci].base.as_ref().map(|b| b.hook);
    let mut r = Rule::new(no, text.to_string());
    // iptables counts every rule.
    r.counter = true;
    let mut proto: Option<(u8, bool, u32)> = None;
    let mut modules: Vec<(Module, u32)> = Vec::new();
    let mut target: Option<(String, u32)> = None;
    let mut negate: Option<u32> = None;
    let mut tcp_reset: Option<u32> = None;
    while let Some(w) = p.peek().cloned() {
        p.pos += 1;
        if w.s == "!" {
            if negate.is_some() {
                return Err((w.col, "'!' twice".into()));
            }
            negate = Some(w.col);
            continue;
        }
        let neg = negate.take().is_some();
        let op = if neg { Op::Ne } else { Op::Eq };
        let opt = w.s.as_str();
        let no_neg = |what: &str| -> Result<(), Pe> {
            if neg {
                Err((w.col, format!("'{what}' cannot be negated")))
            } else {
                Ok(())
            }
        };
        match opt {
            "-p" | "--protocol" => {
                let v = p.next("a protocol")?;
                if proto.is_some() {
                    return Err((w.col, "-p given twice".into()));
                }
                let n =
                    protocol(&v.s).ok_or_else(|| (v.col, format!("unknown protocol '{}'", v.s)))?;
                if n == 0 {
                    if neg {
                        return Err((w.col, "'! -p all' matches nothing".into()));
                    }
                } else {
                    r.matches.push(Match {
                        field: Field::IpProtocol,
                        op,
                        rhs: Rhs::Values(vec![Value::Int(n as u64)]),
                        more: Vec::new(),
                        var: None,
                    });
                }
                proto = Some((n, neg, w.col));
            }
            "-s" | "--source" | "-d" | "--destination" => {
                let v = p.next("an address")?;
                let mut vals = Vec::new();
                for (a, col) in pieces(v) {
                    vals.push(address(a).ok_or_else(|| {
                        (col, format!("'{a}' is not an IPv4 address or network"))
                    })?);
                }
                let field = if opt.starts_with("-s") || opt == "--source" {
                    Field::IpSaddr
                } else {
                    Field::IpDaddr
                };
                r.matches.push(Match {
                    field,
                    op,
                    rhs: Rhs::Values(vals),
                    more: Vec::new(),
                    var: None,
                });
            }
            "-i" | "--in-interface" | "-o" | "--out-interface" => {
                let v = p.next("an interface name")?;
                let input = opt == "-i" || opt == "--in-interface";
                let wrong = if input {
                    hook == Some(Hook::Output)
                } else {
                    hook == Some(Hook::Input)
                };
                if wrong {
                    return Err((
                        w.col,
                        format!(
                            "{} cannot be used in {} (packets there have no {} interface)",
                            if input { "-i" } else { "-o" },
                            chains[ci].name,
                            if input { "input" } else { "output" },
                        ),
                    ));
                }
                if v.s.is_empty() || v.s.len() > 15 || v.s.contains(['/', ' ']) {
                    return Err((v.col, format!("'{}' is not an interface name", v.s)));
                }
                let name = match v.s.strip_suffix('+') {
                    Some(stem) => format!("{stem}*"),
                    None => v.s.clone(),
                };
                r.matches.push(Match {
                    field: if input {
                        Field::Iifname
                    } else {
                        Field::Oifname
                    },
                    op,
                    rhs: Rhs::Values(vec![Value::Name(name)]),
                    more: Vec::new(),
                    var: None,
                });
            }
            "-m" | "--match" => {
                no_neg("-m")?;
                let v = p.next("a match module")?;
                let m = Module::from_name(&v.s)
                    .ok_or_else(|| (v.col, format!("unsupported: match '-m {}'", v.s)))?;
                modules.push((m, v.col));
            }
            "-j" | "--jump" | "-g" | "--goto" => {
                no_neg(opt)?;
                let v = p.next("a target")?;
                if target.is_some() {
                    return Err((w.col, "a second target".into()));
                }
                let goto = opt == "-g" || opt == "--goto";
                r.verdict = match v.s.as_str() {
                    _ if goto => Some(Verdict::Goto(user_chain(chains, v)?)),
                    "ACCEPT" => Some(Verdict::Accept),
                    "DROP" => Some(Verdict::Drop),
                    "REJECT" => Some(Verdict::Reject),
                    "RETURN" => Some(Verdict::Return),
                    "LOG" => {
                        r.log = Some(String::new());
                        None
                    }
                    _ => Some(Verdict::Jump(user_chain(chains, v)?)),
                };
                target = Some((if goto { String::new() } else { v.s.clone() }, v.col));
            }
            "--reject-with" if target.as_ref().is_some_and(|t| t.0 == "REJECT") => {
                no_neg(opt)?;
                let v = p.next("a reject type")?;
                if !REJECT_WITH.contains(&v.s.as_str()) {
                    return Err((v.col, format!("unknown reject type '{}'", v.s)));
                }
                if v.s == "tcp-reset" {
                    tcp_reset = Some(v.col);
                }
            }
            _ if opt.starts_with("--log-") && target.as_ref().is_some_and(|t| t.0 == "LOG") => {
                no_neg(opt)?;
                match opt {
                    "--log-prefix" => {
                        let v = p.next("a log prefix")?;
                        r.log = Some(v.s.clone());
                    }
                    "--log-level" => {
                        p.next("a log level")?;
                    }
                    "--log-tcp-sequence" | "--log-tcp-options" | "--log-ip-options"
                    | "--log-uid" | "--log-macdecode" => {}
                    _ => return Err((w.col, format!("unsupported: LOG option '{opt}'"))),
                }
            }
            _ if opt.starts_with("--") => {
                // The latest module that knows the option, else the one -p loads implicitly.
                let module = modules
                    .iter()
                    .rev()
                    .find(|(m, _)| m.takes(opt))
                    .copied()
                    .or_else(|| {
                        let implicit = match proto {
                            Some((6, false, c)) => (Module::Tcp, c),
                            Some((17, false, c)) => (Module::Udp, c),
                            Some((1, false, c)) => (Module::Icmp, c),
                            _ => return None,
                        };
                        implicit.0.takes(opt).then(|| {
                            modules.push(implicit);
                            implicit
                        })
                    });
                let Some((m, _)) = module else {
                    let what = match &target {
                        Some((t, _)) if !t.is_empty() => format!(" (nor of target {t})"),
                        _ => String::new(),
                    };
                    return Err((
                        w.col,
                        format!("unsupported: option '{opt}' of no loaded match{what}"),
                    ));
                };
                module_option(&mut p, &mut r, m, &w, op, proto)?;
            }
            _ => return Err((w.col, format!("unsupported: '{opt}'"))),
        }
    }
    if let Some(col) = negate {
        return Err((col, "'!' negates nothing".into()));
    }
    // The kernel refuses a TCP reset for what may not be TCP.
    if let Some(col) = tcp_reset {
        if !matches!(proto, Some((6, false, _))) {
            return Err((col, "'--reject-with tcp-reset' needs -p tcp".into()));
        }
    }
    for (m, col) in &modules {
        if let Some(need) = m.proto() {
            if !matches!(proto, Some((n, false, _)) if n == need) {
                return Err((*col, format!("-m {} needs -p {}", m.name(), m.name())));
            }
        }
        if *m == Module::Multiport && !matches!(proto, Some((6 | 17 | 33 | 132 | 136, false, _))) {
            return Err((
                *col,
                "-m multiport needs -p tcp, udp, udplite, sctp or dccp".into(),
            ));
        }
    }
    Ok((ci, r))
}

/// An error's column and message, before the file and line are known.
type Pe = (u32, String);

struct RuleParser<'a> {
    words: &'a [Word],
    pos: usize,
}

impl<'a> RuleParser<'a> {
    fn peek(&self) -> Option<&'a Word> {
        self.words.get(self.pos)
    }

    fn next(&mut self, what: &str) -> Result<&'a Word, Pe> {
        match self.words.get(self.pos) {
            Some(w) => {
                self.pos += 1;
                Ok(w)
            }
            None => {
                let end = self
                    .words
                    .last()
                    .map(|w| w.col + w.s.chars().count() as u32 + 1)
                    .unwrap_or(1);
                Err((end, format!("expected {what}")))
            }
        }
    }
}

const REJECT_WITH: [&str; 11] = [
    "icmp-net-unreachable",
    "icmp-host-unreachable",
    "icmp-port-unreachable",
    "icmp-proto-unreachable",
    "icmp-net-prohibited",
    "icmp-host-prohibited",
    "icmp-admin-prohibited",
    "tcp-reset",
    "net-unreach",
    "host-unreach",
    "port-unreach",
];

/// The options of a match module.
fn module_option(
    p: &mut RuleParser<'_>,
    r: &mut Rule,
    m: Module,
    w: &Word,
    op: Op,
    proto: Option<(u8, bool, u32)>,
) -> Result<(), Pe> {
    let opt = w.s.as_str();
    let l4 = match (m, proto) {
        (Module::Tcp, _) | (Module::Multiport, Some((6, false, _))) => L4::Tcp,
        (Module::Udp, _) | (Module::Multiport, Some((17, false, _))) => L4::Udp,
        _ => L4::Th,
    };
    let mut push = |field: Field, rhs: Rhs| r.matches.push(Match::new(field, op, rhs));
    match opt {
        "--sport" | "--source-port" | "--dport" | "--destination-port" => {
            let v = p.next("a port or range")?;
            let val = port_or_range(&v.s)
                .ok_or_else(|| (v.col, format!("'{}' is not a port or range", v.s)))?;
            let field = if opt == "--sport" || opt == "--source-port" {
                Field::Sport(l4)
            } else {
                Field::Dport(l4)
            };
            push(field, Rhs::Values(vec![val]));
        }
        "--sports" | "--source-ports" | "--dports" | "--destination-ports" => {
            let v = p.next("a list of ports")?;
            let mut vals = Vec::new();
            for (s, col) in pieces(v) {
                vals.push(
                    port_or_range(s)
                        .ok_or_else(|| (col, format!("'{s}' is not a port or range")))?,
                );
            }
            if vals.len() > 15 {
                return Err((v.col, "multiport takes at most 15 ports".into()));
            }
            let field = if opt == "--sports" || opt == "--source-ports" {
                Field::Sport(l4)
            } else {
                Field::Dport(l4)
            };
            push(field, Rhs::Values(vals));
        }
        "--ports" => {
            return Err((
                w.col,
                "unsupported: '--ports' (source or destination port): use --sports or --dports"
                    .into(),
            ))
        }
        "--tcp-flags" => {
            let mask = p.next("a flag mask")?;
            let comp = p.next("the flags that must be set")?;
            let mask = tcp_flags(mask)?;
            let value = tcp_flags(comp)?;
            push(Field::TcpFlags, Rhs::Masked { mask, value });
        }
        "--syn" => push(
            Field::TcpFlags,
            Rhs::Masked {
                mask: TCP_FIN | TCP_SYN | TCP_RST | TCP_ACK,
                value: TCP_SYN,
            },
        ),
        "--icmp-type" => {
            let v = p.next("an ICMP type")?;
            if v.s == "any" {
                if op == Op::Ne {
                    return Err((w.col, "'! --icmp-type any' matches nothing".into()));
                }
                return Ok(());
            }
            if v.s.contains('/') || ICMP_CODE_NAMES.contains(&v.s.as_str()) {
                return Err((
                    v.col,
                    format!(
                        "unsupported: ICMP code in '{}' (only the type is simulated)",
                        v.s
                    ),
                ));
            }
            let n =
                v.s.parse::<u8>()
                    .ok()
                    .map(u64::from)
                    .or_else(|| names::lookup(Kind::IcmpType, &v.s))
                    .ok_or_else(|| (v.col, format!("unknown ICMP type '{}'", v.s)))?;
            push(Field::IcmpType, Rhs::Values(vec![Value::Int(n)]));
        }
        "--ctstate" | "--state" => {
            let v = p.next("a list of states")?;
            let mut bits = 0u64;
            for (s, col) in pieces(v) {
                let b = match s {
                    "NEW" => ct::NEW,
                    "ESTABLISHED" => ct::ESTABLISHED,
                    "RELATED" => ct::RELATED,
                    "INVALID" => ct::INVALID,
                    "UNTRACKED" => ct::UNTRACKED,
                    "SNAT" | "DNAT" if m == Module::Conntrack => {
                        return Err((
                            col,
                            format!("unsupported: ct state {s} (NAT is not simulated)"),
                        ))
                    }
                    _ => return Err((col, format!("unknown state '{s}'"))),
                };
                bits |= b as u64;
            }
            push(Field::CtState, Rhs::AnyBits(bits));
        }
        "--comment" => {
            if op == Op::Ne {
                return Err((w.col, "'--comment' cannot be negated".into()));
            }
            let v = p.next("a comment")?;
            r.comment = Some(v.s.clone());
        }
        _ => return Err((w.col, format!("unsupported: '{opt}' of -m {}", m.name()))),
    }
    Ok(())
}

/// ICMP names iptables knows that stand for a type and a code.
const ICMP_CODE_NAMES: [&str; 22] = [
    "network-unreachable",
    "host-unreachable",
    "protocol-unreachable",
    "port-unreachable",
    "fragmentation-needed",
    "source-route-failed",
    "network-unknown",
    "host-unknown",
    "network-prohibited",
    "host-prohibited",
    "TOS-network-unreachable",
    "TOS-host-unreachable",
    "communication-prohibited",
    "host-precedence-violation",
    "precedence-cutoff",
    "network-redirect",
    "host-redirect",
    "TOS-network-redirect",
    "TOS-host-redirect",
    "ttl-zero-during-transit",
    "ttl-zero-during-reassembly",
    "ip-header-bad",
];

/// The comma-separated pieces of a word, each with its column.
fn pieces(w: &Word) -> impl Iterator<Item = (&str, u32)> {
    let mut col = w.col;
    w.s.split(',').map(move |s| {
        let c = col;
        col += s.chars().count() as u32 + 1;
        (s, c)
    })
}

/// A protocol name or number; 0 for `all`.
fn protocol(s: &str) -> Option<u8> {
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
fn address(s: &str) -> Option<Value> {
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
    let a: Ipv4Addr = a.parse().ok()?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    // iptables keeps the network, not the host bits.
    match parse_addr(&format!("{}/{len}", Ipv4Addr::from(u32::from(a) & mask)))? {
        Value::Prefix(IpAddr::V4(n), l) => Some(Value::Prefix(IpAddr::V4(n), l)),
        _ => None,
    }
}

/// `22`, `ssh`, `1000:2000`, `1000:` (to 65535) or `:1023` (from 0).
fn port_or_range(s: &str) -> Option<Value> {
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

/// `SYN,ACK`, `ALL` (FIN,SYN,RST,PSH,ACK,URG) or `NONE`.
fn tcp_flags(w: &Word) -> Result<u64, Pe> {
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

/// A jump or goto target: a declared user chain.
fn user_chain(chains: &[Chain], v: &Word) -> Result<String, Pe> {
    match chains.iter().find(|c| c.name == v.s) {
        Some(c) if c.base.is_none() => Ok(v.s.clone()),
        Some(_) => Err((v.col, format!("cannot jump to the built-in chain {}", v.s))),
        None if v.s.chars().all(|c| c.is_ascii_uppercase() || c == '_') => {
            Err((v.col, format!("unsupported: target '{}'", v.s)))
        }
        None => Err((
            v.col,
            format!("chain '{}' is not declared (':{} - [0:0]')", v.s, v.s),
        )),
    }
}

#[cfg(test)]
#[path = "iptables_tests.rs"]
mod tests;
