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
use super::syntax::{parse_addr, ParseError};

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
    /// The chains declared so far.
    chains: Vec<Chain>,
    /// Sets `-m recent` lists fill (`--name`).
    sets: Vec<NamedSet>,
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
    let mut seen = Vec::new();
    let v6 = is_ipv6(src, file);
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
            if seen.contains(&name.to_string()) {
                return Err(err(no, first.col, format!("a second '*{name}' table")));
            }
            seen.push(name.to_string());
            open = Some(Open {
                name: name.into(),
                line: no,
                chains: Vec::new(),
                sets: Vec::new(),
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
            let family = if v6 { Family::Ip6 } else { Family::Ip };
            let mut table = Table::new(family, t.name);
            table.chains = t.chains;
            table.sets = t.sets;
            rs.tables.push(table);
            continue;
        }
        if first.s.starts_with(':') {
            declare(t, &words, no).map_err(|(col, msg)| err(no, col, msg))?;
            continue;
        }
        if first.s.starts_with('-') || first.s.starts_with('[') {
            // The other restore commands a hand-written file may hold (-N, -P, -F, -X, -Z), and
            // -I turned into an -A with its position.
            let (words, insert_at) = match command(t, &words, no).map_err(|(c, m)| err(no, c, m))? {
                Command::Done => continue,
                Command::Rule(words, at) => (words, at),
            };
            let (ci, rule) = match rule(&t.chains, &words, no, text, v6) {
                Ok(x) => x,
                Err((c, m)) => match m.strip_prefix("unsupported: ") {
                    // Outside what packetlab simulates: the rule loads, marked, and the rest
                    // of the file with it.
                    Some(what) => {
                        let ci =
                            chain_of(&t.chains, &words).ok_or_else(|| err(no, c, m.clone()))?;
                        let mut r = Rule::new(no, text.to_string());
                        r.counter = true;
                        r.unsupported = Some((c, what.to_string()));
                        (ci, r)
                    }
                    None => return Err(err(no, c, m)),
                },
            };
            for name in recent_sets(&rule) {
                if !t.sets.iter().any(|s| s.name == name) {
                    let mut set = NamedSet::new(name);
                    set.ty = if v6 {
                        "type ipv6_addr"
                    } else {
                        "type ipv4_addr"
                    }
                    .into();
                    set.decls = vec!["flags dynamic, timeout".into(), "timeout 1d".into()];
                    set.dynamic = true;
                    t.sets.push(set);
                }
            }
            let rules = &mut t.chains[ci].rules;
            match insert_at {
                Some(at) => rules.insert(at.min(rules.len()), rule),
                None => rules.push(rule),
            }
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

/// An iptables `--reject-with` type as nft's `with …`, and the match nft adds for it.
fn reject_with(t: &str, v6: bool) -> (String, Option<(Field, u64)>) {
    if t == "tcp-reset" {
        return ("with tcp reset".into(), Some((Field::L4Proto, 6)));
    }
    let name = match t {
        "icmp-net-unreachable" | "net-unreach" => "net-unreachable",
        "icmp-host-unreachable" | "host-unreach" => "host-unreachable",
        "icmp-proto-unreachable" => "prot-unreachable",
        "icmp-net-prohibited" => "net-prohibited",
        "icmp-host-prohibited" => "host-prohibited",
        "icmp-admin-prohibited" | "icmp6-adm-prohibited" | "adm-prohibited" => "admin-prohibited",
        "icmp6-no-route" | "no-route" => "no-route",
        "icmp6-addr-unreachable" | "addr-unreach" => "addr-unreachable",
        "icmp6-policy-fail" => "policy-fail",
        _ => "port-unreachable",
    };
    if v6 {
        (
            format!("with icmpv6 type {name}"),
            Some((Field::Nfproto, 10)),
        )
    } else {
        (format!("with icmp type {name}"), Some((Field::Nfproto, 2)))
    }
}

/// Whether a dump is IPv6: the addresses it names decide; without any, its header
/// (`ip6tables-save`), its name (`*.ip6tables`, `rules.v6`, `ip6tables.rules`…) or ICMPv6 tests.
fn is_ipv6(src: &str, file: &str) -> bool {
    let (mut v4, mut v6) = (0, 0);
    for line in src.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for pair in words.windows(2) {
            if matches!(
                pair[0],
                "-s" | "-d" | "--source" | "--destination" | "--src-range" | "--dst-range"
            ) {
                if pair[1].contains(':') {
                    v6 += 1;
                } else if pair[1].contains('.') {
                    v4 += 1;
                }
            }
        }
    }
    if v4 + v6 > 0 {
        return v6 > v4;
    }
    let name = file.rsplit('/').next().unwrap_or(file);
    src.lines()
        .take_while(|l| l.starts_with('#') || l.trim().is_empty())
        .any(|l| l.starts_with("# Generated by ip6tables-save"))
        || name.ends_with(".ip6tables")
        || name.ends_with(".v6")
        || name.starts_with("ip6tables")
        || src.contains("--icmpv6-type")
        || src.contains("-p ipv6-icmp")
        || src.contains("-p icmpv6")
}

/// What a line that is not a chain declaration asks.
enum Command {
    /// Handled here (a chain created, flushed or deleted, a policy set).
    Done,
    /// A rule to parse (as an `-A` line), and where to insert it (`-I`), else at the end.
    Rule(Vec<Word>, Option<usize>),
}

/// The restore commands besides `-A`: `-N CHAIN`, `-P CHAIN POLICY`, `-F [CHAIN]`,
/// `-X [CHAIN]`, `-Z`, and `-I CHAIN [N] …` (becomes an `-A` inserted at N). A built-in chain
/// used before it is declared is created, with policy ACCEPT, as iptables-restore does.
fn command(t: &mut Open, words: &[Word], no: u32) -> Result<Command, Pe> {
    let at = usize::from(words[0].s.starts_with('['));
    let Some(cmd) = words.get(at) else {
        return Ok(Command::Rule(words.to_vec(), None));
    };
    let arg = |k: usize| words.get(at + k);
    let ensure = |t: &mut Open, name: &str| {
        if t.chains.iter().any(|c| c.name == name) {
            return;
        }
        if let Some((hook, priority, kind)) = builtin(&t.name, name) {
            t.chains.push(Chain {
                name: name.into(),
                base: Some(BaseChain {
                    kind,
                    hook,
                    priority,
                    policy: Policy::Accept,
                    device: None,
                }),
                rules: Vec::new(),
                line: no,
            });
        }
    };
    match cmd.s.as_str() {
        "-N" | "--new-chain" => {
            let name = arg(1).ok_or((cmd.col, "expected a chain name".to_string()))?;
            if !t.chains.iter().any(|c| c.name == name.s) {
                t.chains.push(Chain {
                    name: name.s.clone(),
                    base: None,
                    rules: Vec::new(),
                    line: no,
                });
            }
            Ok(Command::Done)
        }
        "-P" | "--policy" => {
            let (Some(name), Some(policy)) = (arg(1), arg(2)) else {
                return Err((cmd.col, "expected a chain and a policy".into()));
            };
            ensure(t, &name.s);
            let policy = match policy.s.as_str() {
                "ACCEPT" => Policy::Accept,
                "DROP" => Policy::Drop,
                p => return Err((policy.col, format!("a policy is ACCEPT or DROP, not '{p}'"))),
            };
            match t
                .chains
                .iter_mut()
                .find(|c| c.name == name.s)
                .and_then(|c| c.base.as_mut())
            {
                Some(b) => b.policy = policy,
                None => return Err((name.col, format!("'{}' is not a built-in chain", name.s))),
            }
            Ok(Command::Done)
        }
        "-F" | "--flush" | "-X" | "--delete-chain" => {
            let flush = matches!(cmd.s.as_str(), "-F" | "--flush");
            match arg(1) {
                Some(name) if flush => t
                    .chains
                    .iter_mut()
                    .filter(|c| c.name == name.s)
                    .for_each(|c| c.rules.clear()),
                None if flush => t.chains.iter_mut().for_each(|c| c.rules.clear()),
                Some(name) => t.chains.retain(|c| c.base.is_some() || c.name != name.s),
                None => t.chains.retain(|c| c.base.is_some()),
            }
            Ok(Command::Done)
        }
        "-Z" | "--zero" => Ok(Command::Done),
        "-A" | "--append" | "-I" | "--insert" => {
            let name = arg(1).ok_or((cmd.col, "expected a chain name".to_string()))?;
            ensure(t, &name.s);
            if matches!(cmd.s.as_str(), "-A" | "--append") {
                return Ok(Command::Rule(words.to_vec(), None));
            }
            // `-I CHAIN [N]`: N counts from 1; without it, the rule goes first.
            let mut w = words.to_vec();
            w[at].s = "-A".into();
            let pos = match arg(2).and_then(|n| n.s.parse::<usize>().ok()) {
                Some(n) => {
                    w.remove(at + 2);
                    n.saturating_sub(1)
                }
                None => 0,
            };
            Ok(Command::Rule(w, Some(pos)))
        }
        _ => Ok(Command::Rule(words.to_vec(), None)),
    }
}

/// The chain a rule line appends to (`-A CHAIN`), when declared.
fn chain_of(chains: &[Chain], words: &[Word]) -> Option<usize> {
    let at = words
        .iter()
        .position(|w| w.s == "-A" || w.s == "--append")?;
    let name = &words.get(at + 1)?.s;
    chains.iter().position(|c| &c.name == name)
}

/// The sets a rule's `-m recent` options name (as `@NAME` in its statements and tests).
fn recent_sets(r: &Rule) -> Vec<String> {
    let mut v: Vec<String> = r
        .approx
        .iter()
        .filter_map(|(_, t)| {
            let rest = t
                .strip_prefix("update @")
                .or_else(|| t.strip_prefix("add @"))
                .or_else(|| t.strip_prefix("delete @"))?;
            Some(rest.split_whitespace().next()?.to_string())
        })
        .collect();
    for m in &r.matches {
        if let Rhs::Set(n) = &m.rhs {
            v.push(n.clone());
        }
    }
    v
}

/// The built-in chains of each table: hook, priority (as iptables-nft registers them) and
/// type. `nat` chains are shown only; `raw`, `mangle` and `security` filter like `filter`
/// (their marks and MSS clamps change no verdict).
fn builtin(table: &str, chain: &str) -> Option<(Hook, i32, ChainType)> {
    use Hook::*;
    let hook = match chain {
        "PREROUTING" => Prerouting,
        "INPUT" => Input,
        "FORWARD" => Forward,
        "OUTPUT" => Output,
        "POSTROUTING" => Postrouting,
        _ => return None,
    };
    Some(match (table, hook) {
        ("filter", Input | Forward | Output) => (hook, 0, ChainType::Filter),
        ("raw", Prerouting | Output) => (hook, -300, ChainType::Filter),
        ("mangle", _) => (hook, -150, ChainType::Filter),
        ("nat", Prerouting | Output) => (hook, -100, ChainType::Nat),
        ("nat", Input | Postrouting) => (hook, 100, ChainType::Nat),
        ("security", Input | Forward | Output) => (hook, 50, ChainType::Filter),
        _ => return None,
    })
}

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
    // Words after the counters: iptables-restore ignores them, and so does packetlab.
    if t.chains.iter().any(|c| c.name == name) {
        return Err((w.col + 1, format!("chain '{name}' declared twice")));
    }
    let hook = builtin(&t.name, name);
    let base = match (hook, policy.s.as_str()) {
        (Some((hook, priority, kind)), "ACCEPT" | "DROP") => Some(BaseChain {
            kind,
            device: None,
            hook,
            priority,
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
        (None, _)
            if matches!(
                name,
                "PREROUTING" | "INPUT" | "FORWARD" | "OUTPUT" | "POSTROUTING"
            ) =>
        {
            return Err((
                w.col + 1,
                format!("the {} table has no chain {name}", t.name),
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
    Icmp6,
    Limit,
    Recent,
    Iprange,
    Addrtype,
    Hl,
    Ttl,
    Pkttype,
    Tcpmss,
    Length,
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
            "icmp6" | "icmpv6" | "ipv6-icmp" => Module::Icmp6,
            "limit" => Module::Limit,
            "recent" => Module::Recent,
            "iprange" => Module::Iprange,
            "addrtype" => Module::Addrtype,
            "hl" => Module::Hl,
            "ttl" => Module::Ttl,
            "pkttype" => Module::Pkttype,
            "tcpmss" => Module::Tcpmss,
            "length" => Module::Length,
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
            Module::Icmp6 => "icmp6",
            Module::Limit => "limit",
            Module::Recent => "recent",
            Module::Iprange => "iprange",
            Module::Addrtype => "addrtype",
            Module::Hl => "hl",
            Module::Ttl => "ttl",
            Module::Pkttype => "pkttype",
            Module::Tcpmss => "tcpmss",
            Module::Length => "length",
        }
    }

    /// The protocol the module needs (`-m tcp` needs `-p tcp`).
    fn proto(self) -> Option<u8> {
        match self {
            Module::Tcp => Some(6),
            Module::Udp => Some(17),
            Module::Icmp => Some(1),
            Module::Icmp6 => Some(58),
            Module::Tcpmss => Some(6),
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
            Module::Icmp6 => opt == "--icmpv6-type",
            Module::Limit => matches!(opt, "--limit" | "--limit-burst"),
            Module::Recent => matches!(
                opt,
                "--set"
                    | "--rcheck"
                    | "--update"
                    | "--remove"
                    | "--seconds"
                    | "--hitcount"
                    | "--name"
                    | "--rsource"
                    | "--rdest"
                    | "--reap"
                    | "--rttl"
                    | "--mask"
            ),
            Module::Iprange => matches!(opt, "--src-range" | "--dst-range"),
            Module::Addrtype => opt.starts_with("--"),
            Module::Hl => opt.starts_with("--hl-"),
            Module::Ttl => opt.starts_with("--ttl-"),
            Module::Pkttype => opt == "--pkt-type",
            Module::Tcpmss => opt == "--mss",
            Module::Length => opt == "--length",
        }
    }
}

const TCP_FIN: u64 = 0x01;
const TCP_SYN: u64 = 0x02;
const TCP_RST: u64 = 0x04;
const TCP_ACK: u64 = 0x10;

/// Reads one rule line into the chain it appends to and the rule.
fn rule(
    chains: &[Chain],
    words: &[Word],
    no: u32,
    text: &str,
    v6: bool,
) -> Result<(usize, Rule), Pe> {
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
    let mut target_opts: Vec<(String, Option<String>, u32)> = Vec::new();
    let mut recent = Recent::default();
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
                        // ip6tables' -p is the final next header, nft's `meta l4proto`.
                        field: if v6 {
                            Field::L4Proto
                        } else {
                            Field::IpProtocol
                        },
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
                    let val = if v6 { address6(a) } else { address(a) };
                    vals.push(val.ok_or_else(|| {
                        (
                            col,
                            format!(
                                "'{a}' is not an IPv{} address or network",
                                if v6 { 6 } else { 4 }
                            ),
                        )
                    })?);
                }
                let src = opt.starts_with("-s") || opt == "--source";
                let field = match (src, v6) {
                    (true, false) => Field::IpSaddr,
                    (false, false) => Field::IpDaddr,
                    (true, true) => Field::Ip6Saddr,
                    (false, true) => Field::Ip6Daddr,
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
                    "LOG" | "NFLOG" => {
                        r.log = Some(String::new());
                        None
                    }
                    // Non-terminating targets: the packet goes on to the next rule.
                    "MASQUERADE" | "SNAT" | "DNAT" | "REDIRECT" | "NOTRACK" | "CT" | "MARK"
                    | "CONNMARK" | "TCPMSS" | "TRACE" => None,
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
                // As nft says it, with the match nft adds for the reply (see nft::reject).
                let (with, implied) = reject_with(&v.s, v6);
                let at = implied.map(|(field, n)| {
                    r.matches
                        .push(Match::new(field, Op::Eq, Rhs::Values(vec![Value::Int(n)])));
                    r.matches.len() - 1
                });
                r.reject_with = Some((with, at));
            }
            _ if opt.starts_with("--")
                && target
                    .as_ref()
                    .is_some_and(|t| ACTION_TARGETS.contains(&t.0.as_str())) =>
            {
                no_neg(opt)?;
                let value = match p.peek() {
                    Some(v) if !v.s.starts_with('-') && v.s != "!" => {
                        p.pos += 1;
                        Some(v.s.clone())
                    }
                    _ => None,
                };
                match opt {
                    "--nflog-prefix" => r.log = Some(value.unwrap_or_default()),
                    _ if opt.starts_with("--nflog-") => {}
                    _ => target_opts.push((opt.to_string(), value, w.col)),
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
                            Some((58, false, c)) => (Module::Icmp6, c),
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
                if m == Module::Recent {
                    recent.option(&mut p, &w, neg)?;
                } else {
                    module_option(&mut p, &mut r, m, &w, op, proto, v6)?;
                }
            }
            _ => return Err((w.col, format!("unsupported: '{opt}'"))),
        }
    }
    if let Some(col) = negate {
        return Err((col, "'!' negates nothing".into()));
    }
    if modules.iter().any(|(m, _)| *m == Module::Recent) {
        recent.apply(&mut r, v6)?;
    }
    if let Some((t, col)) = &target {
        if let Some(a) = target_action(t, &target_opts, v6, *col)? {
            r.actions.push(a);
        }
    }
    // The kernel refuses a TCP reset for what may not be TCP.
    if let Some(col) = tcp_reset {
        if !matches!(proto, Some((6, false, _))) {
            return Err((col, "'--reject-with tcp-reset' needs -p tcp".into()));
        }
    }
    for (m, col) in &modules {
        if let Some(need) = m.proto() {
            if !matches!(proto, Some((n, false, _)) if n == need || (need == 58 && n == 58)) {
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

const REJECT_WITH: [&str; 19] = [
    "icmp6-no-route",
    "no-route",
    "icmp6-adm-prohibited",
    "adm-prohibited",
    "icmp6-addr-unreachable",
    "addr-unreach",
    "icmp6-port-unreachable",
    "icmp6-policy-fail",
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
    v6: bool,
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
            // A type with its code (`3/3`, `port-unreachable`): type and code together, as
            // nft's `icmp type . icmp code { 3 . 3 }`.
            if let Some((t, c)) = icmp_type_code(&v.s) {
                r.matches
                    .push(type_and_code(Field::IcmpType, Field::IcmpCode, op, t, c));
                return Ok(());
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
            let mut status = 0u64;
            for (s, col) in pieces(v) {
                let b = match s {
                    "NEW" => ct::NEW,
                    "ESTABLISHED" => ct::ESTABLISHED,
                    "RELATED" => ct::RELATED,
                    "INVALID" => ct::INVALID,
                    "UNTRACKED" => ct::UNTRACKED,
                    // Pseudo-states of NATed connections: nft's `ct status snat/dnat`.
                    "SNAT" | "DNAT" if m == Module::Conntrack => {
                        status |= if s == "SNAT" { 16 } else { 32 };
                        continue;
                    }
                    _ => return Err((col, format!("unknown state '{s}'"))),
                };
                bits |= b as u64;
            }
            match (bits, status) {
                (0, st) => push(Field::CtStatus, Rhs::AnyBits(st)),
                (b, 0) => push(Field::CtState, Rhs::AnyBits(b)),
                // Negated, the two lists are each negated: neither a state nor a status.
                (b, st) if op == Op::Ne => {
                    push(Field::CtState, Rhs::AnyBits(b));
                    push(Field::CtStatus, Rhs::AnyBits(st));
                }
                _ => {
                    return Err((
                        v.col,
                        "unsupported: states mixed with SNAT/DNAT in one --ctstate".into(),
                    ))
                }
            }
        }
        "--comment" => {
            if op == Op::Ne {
                return Err((w.col, "'--comment' cannot be negated".into()));
            }
            let v = p.next("a comment")?;
            r.comment = Some(v.s.clone());
        }
        "--icmpv6-type" => {
            let v = p.next("an ICMPv6 type")?;
            if let Some((t, c)) = icmp6_type_code(&v.s) {
                r.matches.push(type_and_code(
                    Field::Icmpv6Type,
                    Field::Icmpv6Code,
                    op,
                    t,
                    c,
                ));
                return Ok(());
            }
            let n =
                v.s.parse::<u8>()
                    .ok()
                    .map(u64::from)
                    .or_else(|| icmp6_type(&v.s));
            let n = n.ok_or_else(|| (v.col, format!("unknown ICMPv6 type '{}'", v.s)))?;
            push(Field::Icmpv6Type, Rhs::Values(vec![Value::Int(n)]));
        }
        "--limit" | "--limit-burst" => {
            let v = p.next("a rate")?;
            if op == Op::Ne {
                return Err((w.col, format!("'{opt}' cannot be negated")));
            }
            let (mut per_s, mut burst) = (3.0 / 3600.0, 5.0);
            if let Some((
                Approx::Limit {
                    per_s: r0,
                    burst: b0,
                    ..
                },
                _,
            )) = r.approx.last()
            {
                (per_s, burst) = (*r0, *b0);
            }
            if opt == "--limit" {
                let (n, unit) = v.s.split_once('/').unwrap_or((v.s.as_str(), "second"));
                let n: f64 = n
                    .parse()
                    .map_err(|_| (v.col, format!("'{}' is not a rate", v.s)))?;
                let secs = match unit {
                    "s" | "sec" | "second" => 1.0,
                    "m" | "min" | "minute" => 60.0,
                    "h" | "hour" => 3600.0,
                    "d" | "day" => 86400.0,
                    _ => return Err((v.col, format!("'{unit}' is not a time unit"))),
                };
                per_s = n / secs;
            } else {
                burst =
                    v.s.parse()
                        .map_err(|_| (v.col, format!("'{}' is not a burst", v.s)))?;
            }
            if matches!(r.approx.last(), Some((Approx::Limit { .. }, _))) {
                r.approx.pop();
            }
            let text = format!(
                "limit rate {} burst {} packets",
                rate_text(per_s),
                burst as u64
            );
            r.approx.push((
                Approx::Limit {
                    over: false,
                    per_s,
                    burst,
                    bytes: false,
                },
                text,
            ));
        }
        "--src-range" | "--dst-range" => {
            let v = p.next("an address range")?;
            let range = parse_addr(&v.s)
                .filter(|a| matches!(a, Value::AddrRange(x, _) if x.is_ipv6() == v6))
                .ok_or_else(|| (v.col, format!("'{}' is not an address range", v.s)))?;
            let field = match (opt == "--src-range", v6) {
                (true, false) => Field::IpSaddr,
                (false, false) => Field::IpDaddr,
                (true, true) => Field::Ip6Saddr,
                (false, true) => Field::Ip6Daddr,
            };
            push(field, Rhs::Values(vec![range]));
        }
        "--dst-type" => {
            let v = p.next("an address type")?;
            let mut vals = Vec::new();
            for (t, col) in pieces(v) {
                let n = names::lookup(Kind::FibType, &t.to_ascii_lowercase())
                    .ok_or_else(|| (col, format!("unknown address type '{t}'")))?;
                vals.push(Value::Int(n));
            }
            push(Field::FibDaddrType, Rhs::Values(vals));
        }
        "--hl-eq" | "--hl-lt" | "--hl-gt" | "--ttl-eq" | "--ttl-lt" | "--ttl-gt" => {
            let v = p.next("a number")?;
            let n: u64 =
                v.s.parse()
                    .map_err(|_| (v.col, format!("'{}' is not a number", v.s)))?;
            let val = match &opt[opt.len() - 2..] {
                "eq" => Value::Int(n),
                "lt" if n == 0 => return Err((v.col, "nothing is below 0".into())),
                "lt" => Value::IntRange(0, n - 1),
                _ => Value::IntRange(n + 1, 255),
            };
            let field = if opt.starts_with("--hl") {
                Field::Ip6Hoplimit
            } else {
                Field::IpTtl
            };
            push(field, Rhs::Values(vec![val]));
        }
        "--pkt-type" => {
            let v = p.next("a packet type")?;
            let n = names::lookup(Kind::Pkttype, &v.s)
                .ok_or_else(|| (v.col, format!("unknown packet type '{}'", v.s)))?;
            push(Field::Pkttype, Rhs::Values(vec![Value::Int(n)]));
        }
        "--mss" | "--length" => {
            let v = p.next("a number or range")?;
            let val = num_or_range(&v.s)
                .ok_or_else(|| (v.col, format!("'{}' is not a number or range", v.s)))?;
            let field = if opt == "--mss" {
                Field::TcpMss
            } else if v6 {
                return Err((w.col, "unsupported: ip6tables' -m length".into()));
            } else {
                Field::IpLength
            };
            push(field, Rhs::Values(vec![val]));
        }
        _ => return Err((w.col, format!("unsupported: '{opt}' of -m {}", m.name()))),
    }
    Ok(())
}

/// A test of an ICMP(v6) type and code together: nft's `icmp type . icmp code { 3 . 3 }`.
fn type_and_code(typ: Field, code: Field, op: Op, t: u64, c: u64) -> Match {
    Match {
        field: typ,
        more: vec![code],
        op,
        rhs: Rhs::Values(vec![Value::Concat(vec![Value::Int(t), Value::Int(c)])]),
        var: None,
    }
}

/// An ICMP type with its code, as `T/C` or one of iptables' names that stand for both.
fn icmp_type_code(s: &str) -> Option<(u64, u64)> {
    if let Some((t, c)) = s.split_once('/') {
        return Some((t.parse::<u8>().ok()?.into(), c.parse::<u8>().ok()?.into()));
    }
    Some(match s {
        "network-unreachable" => (3, 0),
        "host-unreachable" => (3, 1),
        "protocol-unreachable" => (3, 2),
        "port-unreachable" => (3, 3),
        "fragmentation-needed" => (3, 4),
        "source-route-failed" => (3, 5),
        "network-unknown" => (3, 6),
        "host-unknown" => (3, 7),
        "network-prohibited" => (3, 9),
        "host-prohibited" => (3, 10),
        "TOS-network-unreachable" => (3, 11),
        "TOS-host-unreachable" => (3, 12),
        "communication-prohibited" => (3, 13),
        "host-precedence-violation" => (3, 14),
        "precedence-cutoff" => (3, 15),
        "network-redirect" => (5, 0),
        "host-redirect" => (5, 1),
        "TOS-network-redirect" => (5, 2),
        "TOS-host-redirect" => (5, 3),
        "ttl-zero-during-transit" => (11, 0),
        "ttl-zero-during-reassembly" => (11, 1),
        "ip-header-bad" => (12, 0),
        "required-option-missing" => (12, 1),
        _ => return None,
    })
}

/// The same for ICMPv6 (ip6tables' names).
fn icmp6_type_code(s: &str) -> Option<(u64, u64)> {
    if let Some((t, c)) = s.split_once('/') {
        return Some((t.parse::<u8>().ok()?.into(), c.parse::<u8>().ok()?.into()));
    }
    Some(match s {
        "no-route" => (1, 0),
        "communication-prohibited" => (1, 1),
        "beyond-scope" => (1, 2),
        "address-unreachable" => (1, 3),
        "port-unreachable" => (1, 4),
        "failed-policy" => (1, 5),
        "reject-route" => (1, 6),
        "ttl-zero-during-transit" => (3, 0),
        "ttl-zero-during-reassembly" => (3, 1),
        "bad-header" => (4, 0),
        "unknown-header-type" => (4, 1),
        "unknown-option" => (4, 2),
        _ => return None,
    })
}

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

/// `1000`, `500:1460`: a number or an inclusive range.
fn num_or_range(s: &str) -> Option<Value> {
    match s.split_once(':') {
        None => Some(Value::Int(s.parse().ok()?)),
        Some((a, b)) => {
            let lo: u64 = if a.is_empty() { 0 } else { a.parse().ok()? };
            let hi: u64 = if b.is_empty() { 65535 } else { b.parse().ok()? };
            (lo <= hi).then_some(Value::IntRange(lo, hi))
        }
    }
}

/// An IPv6 address or network (`fe80::/10`, `::1`, `2001:db8::1/128`).
fn address6(s: &str) -> Option<Value> {
    match parse_addr(s)? {
        v @ Value::Prefix(IpAddr::V6(_), _) => Some(v),
        _ => None,
    }
}

/// ip6tables' names of ICMPv6 types.
fn icmp6_type(s: &str) -> Option<u64> {
    Some(match s {
        "destination-unreachable" => 1,
        "packet-too-big" => 2,
        "time-exceeded" | "ttl-exceeded" => 3,
        "parameter-problem" => 4,
        "echo-request" | "ping" => 128,
        "echo-reply" | "pong" => 129,
        "router-solicitation" => 133,
        "router-advertisement" => 134,
        "neighbour-solicitation" | "neighbor-solicitation" => 135,
        "neighbour-advertisement" | "neighbor-advertisement" => 136,
        "redirect" => 137,
        _ => return names::lookup(Kind::Icmpv6Type, s),
    })
}

/// A rate per second as nft writes it (`5/minute`), in the largest unit with a whole count.
fn rate_text(per_s: f64) -> String {
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

/// Targets whose options are read here (their actions change no verdict packetlab decides).
const ACTION_TARGETS: [&str; 10] = [
    "MASQUERADE",
    "SNAT",
    "DNAT",
    "REDIRECT",
    "NOTRACK",
    "CT",
    "MARK",
    "CONNMARK",
    "TCPMSS",
    "NFLOG",
];

/// What a non-terminating target does, as the nft statement that does the same (kept and
/// saved); a target option packetlab cannot say in nft is unsupported.
fn target_action(
    t: &str,
    opts: &[(String, Option<String>, u32)],
    v6: bool,
    col: u32,
) -> Result<Option<Action>, Pe> {
    // iptables takes any unambiguous prefix of an option (`--to` for `--to-destination`).
    let get = |k: &str| {
        opts.iter()
            .find(|o| o.0 == k)
            .or_else(|| {
                opts.iter()
                    .find(|o| o.0.len() >= 4 && k.starts_with(o.0.as_str()))
            })
            .and_then(|o| o.1.clone())
    };
    let has = |k: &str| opts.iter().any(|o| o.0 == k);
    let flags = |a: &mut String| {
        for f in ["--random", "--random-fully", "--persistent"] {
            if has(f) {
                a.push_str(&format!(" {}", &f[2..]));
            }
        }
    };
    let fam = if v6 { "ip6" } else { "ip" };
    let unsupported = |what: String| Err((col, format!("unsupported: {what}")));
    Ok(Some(match t {
        "MASQUERADE" => {
            let mut a = "masquerade".to_string();
            if let Some(p) = get("--to-ports") {
                a.push_str(&format!(" to :{}", p.replace(':', "-")));
            }
            flags(&mut a);
            Action::Nat(a)
        }
        "SNAT" | "DNAT" => {
            let key = if t == "SNAT" {
                "--to-source"
            } else {
                "--to-destination"
            };
            let Some(to) = get(key) else {
                return Err((col, format!("{t} needs {key}")));
            };
            let mut a = format!("{} {fam} to {to}", t.to_lowercase());
            flags(&mut a);
            Action::Nat(a)
        }
        "REDIRECT" => {
            let mut a = "redirect".to_string();
            if let Some(p) = get("--to-ports") {
                a.push_str(&format!(" to :{}", p.replace(':', "-")));
            }
            flags(&mut a);
            Action::Nat(a)
        }
        "NOTRACK" => Action::Notrack,
        "CT" if has("--notrack") => Action::Notrack,
        "CT" => return unsupported("CT target options other than --notrack".into()),
        "MARK" => match get("--set-mark").or_else(|| get("--set-xmark")) {
            Some(m) => Action::Other(format!(
                "meta mark set {}",
                m.split('/').next().unwrap_or("0")
            )),
            None => return unsupported("MARK options other than --set-mark/--set-xmark".into()),
        },
        "CONNMARK" if has("--save-mark") => Action::Other("ct mark set meta mark".into()),
        "CONNMARK" if has("--restore-mark") => Action::Other("meta mark set ct mark".into()),
        "CONNMARK" => match get("--set-mark").or_else(|| get("--set-xmark")) {
            Some(m) => Action::Other(format!(
                "ct mark set {}",
                m.split('/').next().unwrap_or("0")
            )),
            None => return unsupported("CONNMARK options".into()),
        },
        "TCPMSS" if has("--clamp-mss-to-pmtu") => {
            Action::Other("tcp option maxseg size set rt mtu".into())
        }
        "TCPMSS" => match get("--set-mss") {
            Some(n) => Action::Other(format!("tcp option maxseg size set {n}")),
            None => return unsupported("TCPMSS options".into()),
        },
        "TRACE" => Action::Other("meta nftrace set 1".into()),
        _ => return Ok(None),
    }))
}

/// The options of one `-m recent`, gathered, then made the statement or test they mean.
#[derive(Default)]
struct Recent {
    /// set, rcheck, update or remove.
    cmd: Option<String>,
    name: Option<String>,
    seconds: Option<u64>,
    hitcount: Option<u64>,
    rdest: bool,
    negated: bool,
}

impl Recent {
    fn option(&mut self, p: &mut RuleParser<'_>, w: &Word, neg: bool) -> Result<(), Pe> {
        let opt = w.s.as_str();
        match opt {
            "--set" | "--rcheck" | "--update" | "--remove" => {
                self.cmd = Some(opt[2..].to_string());
                self.negated = neg;
            }
            "--name" => self.name = Some(p.next("a list name")?.s.clone()),
            "--seconds" | "--hitcount" | "--mask" => {
                let v = p.next("a value")?;
                if opt != "--mask" {
                    let n =
                        v.s.parse()
                            .map_err(|_| (v.col, format!("'{}' is not a number", v.s)))?;
                    if opt == "--seconds" {
                        self.seconds = Some(n);
                    } else {
                        self.hitcount = Some(n);
                    }
                }
            }
            "--rdest" => self.rdest = true,
            _ => {}
        }
        Ok(())
    }

    /// `--set`: `add @NAME { ip saddr }`; `--update`/`--rcheck --seconds S --hitcount N`: over
    /// N in S seconds, as `update @NAME { ip saddr limit rate over N/S }`; without a hit
    /// count, the address being in the list (`ip saddr @NAME`, filled at run time). All
    /// approximate: the kernel's list keeps exact timestamps.
    fn apply(&self, r: &mut Rule, v6: bool) -> Result<(), Pe> {
        let name = self.name.clone().unwrap_or_else(|| "DEFAULT".into());
        let field = match (self.rdest, v6) {
            (false, false) => Field::IpSaddr,
            (true, false) => Field::IpDaddr,
            (false, true) => Field::Ip6Saddr,
            (true, true) => Field::Ip6Daddr,
        };
        let key = field.name();
        let cmd = self.cmd.as_deref().unwrap_or("rcheck");
        let op = if self.negated { Op::Ne } else { Op::Eq };
        match (cmd, self.seconds, self.hitcount) {
            ("set", ..) => r.approx.push((
                Approx::PerKey {
                    key: vec![field],
                    inner: None,
                },
                format!("add @{name} {{ {key} }}"),
            )),
            ("remove", ..) => r.approx.push((
                Approx::PerKey {
                    key: vec![field],
                    inner: None,
                },
                format!("delete @{name} {{ {key} }}"),
            )),
            (_, Some(secs), Some(hits)) if !self.negated => {
                let per_s = hits as f64 / secs.max(1) as f64;
                let text = format!(
                    "update @{name} {{ {key} limit rate over {} burst {hits} packets }}",
                    rate_text(per_s)
                );
                r.approx.push((
                    Approx::PerKey {
                        key: vec![field],
                        inner: Some(Box::new(Approx::Limit {
                            over: true,
                            per_s,
                            burst: hits as f64,
                            bytes: false,
                        })),
                    },
                    text,
                ));
            }
            _ => r.matches.push(Match::new(field, op, Rhs::Set(name))),
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "iptables_tests.rs"]
mod tests;
