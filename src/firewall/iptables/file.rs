//! An iptables-save file: tables between `*name` and `COMMIT`, their chain lines and rule lines,
//! and whether the dump is IPv6.

use crate::firewall::model::*;
use crate::firewall::syntax::ParseError;

use super::chains::{chain_of, command, declare, Command, Open};
use super::recent::recent_sets;
use super::rule::rule;
use super::words::{split, Pe, Word};

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
            let t = open_table(name, &words, open.as_ref(), &mut seen, no);
            open = Some(t.map_err(|(col, msg)| err(no, col, msg))?);
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
            add_rule(t, &words, no, text, v6).map_err(|(col, msg)| err(no, col, msg))?;
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

/// `*name`: the table that opens, unless one is still open, the name is not a table's, or it
/// was read already.
fn open_table(
    name: &str,
    words: &[Word],
    open: Option<&Open>,
    seen: &mut Vec<String>,
    no: u32,
) -> Result<Open, Pe> {
    let first = &words[0];
    if let Some(t) = open {
        return Err((
            first.col,
            format!("table '{}' (line {}) has no COMMIT", t.name, t.line),
        ));
    }
    if name.is_empty() || words.len() > 1 {
        return Err((first.col, "expected '*TABLE'".into()));
    }
    if !matches!(name, "filter" | "nat" | "mangle" | "raw" | "security") {
        return Err((first.col + 1, format!("unknown table '{name}'")));
    }
    if seen.contains(&name.to_string()) {
        return Err((first.col, format!("a second '*{name}' table")));
    }
    seen.push(name.to_string());
    Ok(Open {
        name: name.into(),
        line: no,
        chains: Vec::new(),
        sets: Vec::new(),
    })
}

/// A command line: a restore command (-N, -P, -F, -X, -Z, which a hand-written file may
/// hold), or a rule, appended (`-A`) or inserted (`-I`), with the sets its `-m recent` fills.
fn add_rule(t: &mut Open, words: &[Word], no: u32, text: &str, v6: bool) -> Result<(), Pe> {
    let (words, insert_at) = match command(t, words, no)? {
        Command::Done => return Ok(()),
        Command::Rule(words, at) => (words, at),
    };
    let (ci, rule) = match rule(&t.chains, &words, no, text, v6) {
        Ok(x) => x,
        Err((c, m)) => match m.strip_prefix("unsupported: ") {
            // Outside what packetlab simulates: the rule loads, marked, and the rest of the
            // file with it.
            Some(what) => {
                let ci = chain_of(&t.chains, &words).ok_or_else(|| (c, m.clone()))?;
                let mut r = Rule::new(no, text.to_string());
                r.counter = true;
                r.unsupported = Some((c, what.to_string()));
                (ci, r)
            }
            None => return Err((c, m)),
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
            set.timeout_ms = Some(86_400_000);
            t.sets.push(set);
        }
    }
    let rules = &mut t.chains[ci].rules;
    match insert_at {
        Some(at) => rules.insert(at.min(rules.len()), rule),
        None => rules.push(rule),
    }
    Ok(())
}

/// Whether a dump is IPv6: the addresses it names decide; without any, its header
/// (`ip6tables-save`), its name (`*.ip6tables`, `rules.v6`, `ip6tables.rules`…) or ICMPv6 tests.
pub(super) fn is_ipv6(src: &str, file: &str) -> bool {
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
