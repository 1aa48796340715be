//! Writes a ruleset back as nft syntax: what `nft -c -f` accepts and packetlab parses to the same
//! model (the same tables, chains, sets, matches, statements and verdicts).
//!
//! A rule toggled off is written as a `# disabled: RULE` line: nft reads a comment, packetlab
//! reads the rule back, still disabled. What the model does not keep is not written: the ICMP
//! type of a `reject with …`, the order of `counter` and `log` among the matches, `log level`.
//! A `"` in a comment or log prefix (nft strings cannot hold one) becomes `'`.

use std::fmt::Write;

use super::lexer::DISABLED_PREFIX;
use super::model::*;
use super::names;

pub fn to_nft(rs: &Ruleset) -> String {
    let mut out = String::new();
    for (name, value) in &rs.defines {
        let _ = writeln!(out, "define {name} = {value}");
    }
    if !rs.defines.is_empty() {
        out.push('\n');
    }
    for (i, t) in rs.tables.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "table {} {} {{", t.family.name(), t.name);
        if t.dormant {
            out.push_str("    flags dormant\n");
        }
        for (_, text) in &t.other {
            let _ = writeln!(out, "    {text}");
        }
        for s in &t.sets {
            write_set(&mut out, t, s);
        }
        for (ci, c) in t.chains.iter().enumerate() {
            if ci > 0 || !t.sets.is_empty() || !t.other.is_empty() {
                out.push('\n');
            }
            let _ = writeln!(out, "    chain {} {{", c.name);
            if let Some(b) = &c.base {
                let policy = match b.policy {
                    Policy::Accept => "accept",
                    Policy::Drop => "drop",
                };
                let device = match &b.device {
                    Some(d) if d.starts_with('{') || d.contains(',') => {
                        format!(" devices = {{ {} }}", d.trim_matches(['{', '}', ' ']))
                    }
                    Some(d) => format!(" device {}", quoted(d)),
                    None => String::new(),
                };
                let _ = writeln!(
                    out,
                    "        type {} hook {}{device} priority {}; policy {policy};",
                    b.kind.name(),
                    b.hook.name(),
                    b.priority
                );
            }
            for r in &c.rules {
                let text = rule(r);
                if r.enabled {
                    let _ = writeln!(out, "        {text}");
                } else {
                    let _ = writeln!(out, "        {DISABLED_PREFIX}{text}");
                }
            }
            out.push_str("    }\n");
        }
        out.push_str("}\n");
    }
    out
}

fn write_set(out: &mut String, t: &Table, s: &NamedSet) {
    let used_by = t
        .chains
        .iter()
        .flat_map(|c| &c.rules)
        .flat_map(|r| &r.matches)
        .find(|m| m.rhs == Rhs::Set(s.name.clone()) && m.more.is_empty())
        .map(|m| m.field);
    let map = s.verdicts.is_some();
    let _ = writeln!(out, "    {} {} {{", if map { "map" } else { "set" }, s.name);
    if s.ty.is_empty() {
        let ty = match (used_by, s.elements.first()) {
            (Some(Field::IpSaddr | Field::IpDaddr), _) => "ipv4_addr",
            (Some(Field::Ip6Saddr | Field::Ip6Daddr), _) => "ipv6_addr",
            (Some(Field::IpProtocol | Field::L4Proto), _) => "inet_proto",
            (Some(Field::Iifname | Field::Oifname), _) => "ifname",
            (Some(Field::Sport(_) | Field::Dport(_)), _) => "inet_service",
            (_, Some(Value::Prefix(a, _) | Value::AddrRange(a, _))) if a.is_ipv6() => "ipv6_addr",
            (_, Some(Value::Prefix(..) | Value::AddrRange(..))) => "ipv4_addr",
            (_, Some(Value::Name(_))) => "ifname",
            _ => "inet_service",
        };
        let _ = writeln!(out, "        type {ty}");
    } else {
        let _ = writeln!(out, "        {}", s.ty);
    }
    let interval = s.elements.iter().any(|v| match v {
        Value::Prefix(a, l) => *l != if a.is_ipv4() { 32 } else { 128 },
        Value::AddrRange(..) | Value::IntRange(..) => true,
        _ => false,
    });
    let has_flags = s.decls.iter().any(|d| d.starts_with("flags"));
    if interval && !has_flags {
        out.push_str("        flags interval\n");
    }
    for d in &s.decls {
        let _ = writeln!(out, "        {d}");
    }
    let fields = set_fields(t, s, used_by);
    if !s.elements.is_empty() {
        let elems: Vec<String> = s
            .elements
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut e = element(&fields, v);
                if let Some((_, c)) = s.comments.iter().find(|(x, _)| x == v) {
                    let _ = write!(e, " comment {}", quoted(c));
                }
                if let Some(vs) = &s.verdicts {
                    if let Some(verdict) = vs.get(i) {
                        let _ = write!(e, " : {verdict}");
                    }
                }
                e
            })
            .collect();
        let _ = writeln!(out, "        elements = {{ {} }}", elems.join(", "));
    }
    out.push_str("    }\n");
}

/// The fields whose names a set's elements are written with (a concatenation has several).
fn set_fields(t: &Table, s: &NamedSet, used_by: Option<Field>) -> Vec<Field> {
    let by_rule = t.chains.iter().flat_map(|c| &c.rules).find_map(|r| {
        r.matches
            .iter()
            .find(|m| m.rhs == Rhs::Set(s.name.clone()))
            .map(|m| m.fields().collect::<Vec<_>>())
            .or_else(|| {
                r.vmap
                    .as_ref()
                    .filter(|v| v.map == MapRef::Named(s.name.clone()))
                    .map(|v| {
                        std::iter::once(v.field)
                            .chain(v.more.iter().copied())
                            .collect()
                    })
            })
    });
    by_rule.unwrap_or_else(|| {
        let from_type: Vec<Field> =
            s.ty.split_whitespace()
                .skip(1)
                .take_while(|w| *w != ":")
                .filter(|w| *w != ".")
                .map(|w| match w {
                    "ipv4_addr" => Field::IpSaddr,
                    "ipv6_addr" => Field::Ip6Saddr,
                    "inet_proto" => Field::L4Proto,
                    "ifname" => Field::Iifname,
                    "ct_state" => Field::CtState,
                    "icmp_type" => Field::IcmpType,
                    "icmpv6_type" => Field::Icmpv6Type,
                    _ => Field::Dport(L4::Th),
                })
                .collect();
        if from_type.is_empty() || s.ty.starts_with("typeof") {
            vec![used_by.unwrap_or(Field::Dport(L4::Th))]
        } else {
            from_type
        }
    })
}

/// One element as nft text: a value, or the parts of a concatenation joined by ` . `.
fn element(fields: &[Field], v: &Value) -> String {
    match v {
        Value::Concat(parts) => parts
            .iter()
            .enumerate()
            .map(|(i, p)| value(fields.get(i).copied().unwrap_or(Field::Dport(L4::Th)), p))
            .collect::<Vec<_>>()
            .join(" . "),
        v => value(fields.first().copied().unwrap_or(Field::Dport(L4::Th)), v),
    }
}

/// One rule as nft text: matches, the statements kept as written, `counter`, `log`, verdict
/// (or verdict map), `comment`. A rule packetlab could not simulate is written as it was read.
pub fn rule(r: &Rule) -> String {
    if let Some((_, why)) = &r.unsupported {
        // An iptables-save line has no nft form: it stays, as a comment.
        if r.origin.text.starts_with(['-', '[']) {
            return format!("# unsupported ({why}): {}", r.origin.text);
        }
    }
    let xt_string = |m: &Match| {
        matches!(
            m.field,
            Field::Raw {
                base: RawBase::XtString { .. },
                ..
            }
        )
    };
    if r.origin.full.is_empty() && r.matches.iter().any(xt_string) {
        // nft has no string match: the line stays, as a comment.
        return format!("# no nft form (-m string): {}", r.origin.text);
    }
    // A rule read from nft text is written as it was: its statement order, log options,
    // reject type and `iif` stay what they were.
    if !r.origin.full.is_empty() {
        return r.origin.full.clone();
    }
    let implied = r.reject_with.as_ref().and_then(|w| w.1);
    let mut parts: Vec<String> = r
        .matches
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != implied)
        .map(|(_, m)| match_text(m))
        .collect();
    for (_, text) in &r.approx {
        parts.push(text.clone());
    }
    if r.counter {
        parts.push("counter".into());
    }
    if let Some(prefix) = &r.log {
        if prefix.is_empty() {
            parts.push("log".into());
        } else {
            parts.push(format!("log prefix {}", quoted(prefix)));
        }
    }
    for a in &r.actions {
        parts.push(match a {
            Action::Notrack => "notrack".into(),
            Action::Nat(t) | Action::Other(t) => t.clone(),
        });
    }
    if let Some(vm) = &r.vmap {
        parts.push(vmap_text(vm));
    }
    match (&r.verdict, &r.reject_with) {
        (Some(Verdict::Reject), Some((with, _))) => parts.push(format!("reject {with}")),
        (Some(v), _) => parts.push(v.to_string()),
        _ => {}
    }
    if parts.is_empty() {
        // A rule that does nothing still needs a statement.
        parts.push("continue".into());
    }
    if let Some(c) = &r.comment {
        parts.push(format!("comment {}", quoted(c)));
    }
    parts.join(" ")
}

fn key_text(field: Field, more: &[Field]) -> String {
    std::iter::once(field)
        .chain(more.iter().copied())
        .map(Field::name)
        .collect::<Vec<_>>()
        .join(" . ")
}

fn vmap_text(vm: &Vmap) -> String {
    let key = key_text(vm.field, &vm.more);
    let map = match (&vm.var, &vm.map) {
        (Some(v), _) => format!("${v}"),
        (None, MapRef::Named(n)) => format!("@{n}"),
        (None, MapRef::Inline(entries)) => {
            let fields: Vec<Field> = std::iter::once(vm.field)
                .chain(vm.more.iter().copied())
                .collect();
            let e: Vec<String> = entries
                .iter()
                .map(|(v, verdict)| format!("{} : {verdict}", element(&fields, v)))
                .collect();
            format!("{{ {} }}", e.join(", "))
        }
    };
    format!("{key} vmap {map}")
}

fn quoted(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c == '"' { '\'' } else { c })
        .filter(|c| !c.is_control())
        .collect();
    format!("\"{clean}\"")
}

/// Bit-mask fields: a bare value means "any of these bits", so exact values need `==`.
fn is_bits(f: Field) -> bool {
    matches!(f, Field::TcpFlags | Field::CtState | Field::CtStatus)
}

fn match_text(m: &Match) -> String {
    let f = m.field;
    let key = key_text(f, &m.more);
    let name = key.as_str();
    let neg = m.op == Op::Ne;
    let fields: Vec<Field> = m.fields().collect();
    if let Some(var) = &m.var {
        return format!("{name} {}${var}", if neg { "!= " } else { "" });
    }
    if let (Field::Time(t), Rhs::Values(vs), true) = (f, &m.rhs, m.more.is_empty()) {
        return time_text(t, neg, vs);
    }
    match &m.rhs {
        Rhs::Exists(e) if matches!(f, Field::ExtHdr(_) | Field::Ipsec) => {
            format!("{name} {}", if *e != neg { "exists" } else { "missing" })
        }
        Rhs::Masked { mask, value } if !is_bits(f) => format!(
            "{name} & 0x{mask:x} {} {value}",
            if neg { "!=" } else { "==" }
        ),
        Rhs::Exists(e) => format!(
            "{} {}",
            if f == Field::FibRpf {
                "fib saddr . iif oif"
            } else {
                "tcp option maxseg"
            },
            if *e { "exists" } else { "missing" }
        ),
        Rhs::Values(vs) if vs.is_empty() => format!("{name} {{ }}"),
        Rhs::Values(vs) if vs.len() == 1 && m.more.is_empty() => {
            let op = match (neg, is_bits(f)) {
                (true, _) => "!= ",
                (false, true) => "== ",
                (false, false) => "",
            };
            format!("{name} {op}{}", element(&fields, &vs[0]))
        }
        Rhs::Values(vs) => {
            let elems: Vec<String> = vs.iter().map(|v| element(&fields, v)).collect();
            let op = if neg { "!= " } else { "" };
            format!("{name} {op}{{ {} }}", elems.join(", "))
        }
        Rhs::Set(s) => format!("{name} {}@{s}", if neg { "!= " } else { "" }),
        Rhs::Masked { mask, value } => format!(
            "{name} & ({}) {} {}",
            bits(f, *mask, "|"),
            if neg { "!=" } else { "==" },
            bits(f, *value, "|")
        ),
        Rhs::AnyBits(b) => format!("{name} {}{}", if neg { "! " } else { "" }, bits(f, *b, ",")),
        Rhs::MaskedRange { mask, lo, hi } => {
            let m = bits(f, *mask, "|");
            match (*lo, *hi) {
                (lo, hi) if lo > hi => format!("{name} & ({m}) < 0x0"),
                (0, hi) => format!("{name} & ({m}) <= 0x{hi:x}"),
                (lo, _) => format!("{name} & ({m}) >= 0x{lo:x}"),
            }
        }
    }
}

/// `meta hour`, `meta day`, `meta time` (also for iptables' `-m time`, as iptables-nft
/// writes it): times of day and dates quoted, days by number.
fn time_text(t: TimeKey, neg: bool, vs: &[Value]) -> String {
    let name = Field::Time(t).name();
    let hour = |n: u64| format!("\"{:02}:{:02}:{:02}\"", n / 3600, n / 60 % 60, n % 60);
    let date = |secs: u64| {
        let days = secs / 86_400;
        let (y, m, d) = civil_from_days(days as i64);
        format!("\"{y:04}-{m:02}-{d:02} {}", &hour(secs % 86_400)[1..])
    };
    let one = |v: &Value| -> String {
        let f = |n: u64| match t {
            TimeKey::Hour | TimeKey::XtHour(_) => hour(n),
            TimeKey::Time => date(n / 1_000_000_000),
            TimeKey::XtDate(_) => date(n),
            // xt_time's Sunday is 7, nft's 0.
            TimeKey::Day | TimeKey::XtWeekday(_) => (n % 7).to_string(),
        };
        match v {
            Value::Int(n) => f(*n),
            Value::IntRange(a, b) => f(*a) + "-" + &f(*b),
            other => other.to_string(),
        }
    };
    let op = if neg { "!= " } else { "" };
    // An open end of `meta hour` (`>=`, `<=`).
    if let [Value::IntRange(a, b)] = vs {
        if *b == OPEN {
            return format!("{name} >= {}", hour(*a));
        }
        if *a == OPEN {
            return format!("{name} <= {}", hour(*b));
        }
    }
    match vs {
        [v] => format!("{name} {op}{}", one(v)),
        _ => {
            let e: Vec<String> = vs.iter().map(one).collect();
            format!("{name} {op}{{ {} }}", e.join(", "))
        }
    }
}

/// Year, month, day of a count of days since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The named bits of a flags value joined by `sep`, or hex when a bit has no name (or none is set).
fn bits(f: Field, n: u64, sep: &str) -> String {
    let mut names = Vec::new();
    for bit in (0..64).map(|i| 1u64 << i).filter(|b| n & b != 0) {
        match bit_name(f, bit) {
            Some(s) => names.push(s),
            None => return format!("0x{n:x}"),
        }
    }
    if names.is_empty() {
        return "0x0".into();
    }
    names.join(sep)
}

fn bit_name(f: Field, bit: u64) -> Option<&'static str> {
    match f {
        Field::CtState => Some(ct::name(u8::try_from(bit).ok()?)).filter(|s| *s != "?"),
        Field::TcpFlags => names::reverse(Kind::TcpFlag, bit),
        _ => None,
    }
}

fn value(f: Field, v: &Value) -> String {
    match v {
        Value::Int(n) => match f {
            Field::CtState | Field::TcpFlags if n.count_ones() == 1 => bits(f, *n, ","),
            Field::CtState | Field::TcpFlags => format!("0x{n:x}"),
            Field::IpProtocol | Field::L4Proto => proto_name(*n)
                .map(str::to_string)
                .unwrap_or_else(|| n.to_string()),
            Field::IcmpType => icmp_name(Kind::IcmpType, ICMP_NAMES, *n),
            Field::Icmpv6Type => icmp_name(Kind::Icmpv6Type, ICMPV6_NAMES, *n),
            Field::Ip6Nexthdr => proto_name(*n)
                .map(str::to_string)
                .unwrap_or_else(|| n.to_string()),
            Field::Nfproto | Field::Pkttype | Field::CtStatus | Field::FibDaddrType => {
                names::reverse(Kind::of(f), *n)
                    .map(str::to_string)
                    .unwrap_or_else(|| n.to_string())
            }
            Field::EtherProto => format!("0x{n:04x}"),
            _ => n.to_string(),
        },
        Value::IntRange(a, b) => format!("{a}-{b}"),
        other => other.to_string(),
    }
}

/// The name nft gives an ICMP type, or the number.
fn icmp_name(kind: Kind, candidates: &[&str], n: u64) -> String {
    candidates
        .iter()
        .find(|c| names::lookup(kind, c) == Some(n))
        .map(|c| c.to_string())
        .unwrap_or_else(|| n.to_string())
}

const ICMP_NAMES: &[&str] = &[
    "echo-reply",
    "destination-unreachable",
    "source-quench",
    "redirect",
    "echo-request",
    "router-advertisement",
    "router-solicitation",
    "time-exceeded",
    "parameter-problem",
    "timestamp-request",
    "timestamp-reply",
    "info-request",
    "info-reply",
    "address-mask-request",
    "address-mask-reply",
];

const ICMPV6_NAMES: &[&str] = &[
    "destination-unreachable",
    "packet-too-big",
    "time-exceeded",
    "parameter-problem",
    "echo-request",
    "echo-reply",
    "mld-listener-query",
    "mld-listener-report",
    "mld-listener-done",
    "nd-router-solicit",
    "nd-router-advert",
    "nd-neighbor-solicit",
    "nd-neighbor-advert",
    "nd-redirect",
    "mld2-listener-report",
];

fn proto_name(n: u64) -> Option<&'static str> {
    Some(match n {
        1 => "icmp",
        2 => "igmp",
        6 => "tcp",
        17 => "udp",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "icmpv6",
        132 => "sctp",
        136 => "udplite",
        _ => return None,
    })
}
