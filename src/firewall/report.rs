//! What `--check` says of a ruleset, line by line: the rules packetlab cannot simulate, the
//! analysis' findings, and what is simulated only approximately or shown only.

use super::analysis;
use super::model::*;
use super::simulator::Firewall;

/// The file a rule came from (an included file, or the ruleset's own).
fn file_of<'a>(fw: &'a Firewall, r: &'a Rule) -> &'a str {
    r.origin.file.as_deref().unwrap_or(&fw.source)
}

/// Every line of `--check`'s report, the summary last.
pub fn check_lines(fw: &Firewall) -> Vec<String> {
    let rs = &fw.ruleset;
    let mut out = Vec::new();
    let mut unsupported = 0;
    for (_, r) in rs.rules() {
        if let Some((col, what)) = &r.unsupported {
            unsupported += 1;
            out.push(format!(
                "{}:{}:{col}: unsupported: {what}",
                file_of(fw, r),
                r.origin.line
            ));
        }
    }
    let findings = analysis::analyze(rs);
    for f in &findings {
        let (file, line) = match f.rule.and_then(|r| rs.rule(r)) {
            Some(r) => (file_of(fw, r), r.origin.line),
            None => (
                fw.source.as_str(),
                rs.tables[f.chain.0 as usize].chains[f.chain.1 as usize].line,
            ),
        };
        out.push(format!("{file}:{line}: {}", f.describe(rs)));
    }
    let mut shown = 0;
    for t in &rs.tables {
        if !t.family.simulated() {
            shown += 1;
            let line = t.chains.first().map(|c| c.line).unwrap_or(0);
            out.push(format!(
                "{}:{line}: not simulated: table {} {} ({} tables are shown, not simulated; a packet one of its rules would act on is marked approximate)",
                fw.source,
                t.family.name(),
                t.name,
                t.family.name()
            ));
            continue;
        }
        for c in &t.chains {
            if let Some(b) = c.base.as_ref().filter(|b| b.kind != ChainType::Filter) {
                shown += 1;
                out.push(format!(
                    "{}:{}: not simulated: chain {} (type {} hook {}): shown with its counters; a packet it would act on is marked approximate",
                    fw.source,
                    c.line,
                    c.name,
                    b.kind.name(),
                    b.hook.name()
                ));
            }
        }
        for (line, text) in &t.other {
            shown += 1;
            let head: String = text
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            out.push(format!(
                "{}:{line}: not simulated: {head} (kept and saved, no effect on verdicts here)",
                fw.source
            ));
        }
    }
    let mut approx = 0;
    for (id, r) in rs.rules() {
        for (_, text) in &r.approx {
            approx += 1;
            out.push(format!(
                "{}:{}: approximate: {text} (modelled; its verdicts are marked ≈)",
                file_of(fw, r),
                r.origin.line
            ));
        }
        for (_, e) in &r.effects {
            if let Effect::Rewrite(f) = e {
                approx += 1;
                out.push(format!(
                    "{}:{}: approximate: '{} set' rewrites the packet, which is not simulated: later tests of it read as unknown (its verdicts are marked ≈)",
                    file_of(fw, r),
                    r.origin.line,
                    f.name()
                ));
            }
        }
        for a in &r.actions {
            if matches!(a, Action::Nat(t) if t.starts_with("tproxy")) {
                approx += 1;
                out.push(format!(
                    "{}:{}: approximate: tproxy hands the packet to a local socket, which is not simulated (the rule's verdict stands)",
                    file_of(fw, r),
                    r.origin.line
                ));
            }
        }
        let table = &rs.tables[id.table as usize];
        for m in &r.matches {
            let why = match (&m.rhs, m.field) {
                (Rhs::Set(name), _) if table.set(name).is_some_and(|s| s.unsure) => {
                    format!("@{name} is filled by a rule packetlab does not simulate: a packet not in its elements may be in it")
                }
                (_, Field::CtStatus) => "ct status is not tracked by the simulator".into(),
                (_, Field::FibRpf) => "the reverse-path lookup needs the host's routes".into(),
                (_, Field::Host(h)) => match h {
                    HostKey::SocketTransparent | HostKey::SocketMark | HostKey::SocketWildcard => {
                        format!("{} reads the host's sockets", m.field.name())
                    }
                    HostKey::IifKind | HostKey::OifKind => {
                        format!("{} reads the host's devices", m.field.name())
                    }
                    HostKey::FibType => "this fib lookup needs the host's routes and devices".into(),
                },
                (_, Field::Raw { base: RawBase::Ll, .. }) => {
                    "a raw payload of the link-layer header (@ll) is not given to the rules".into()
                }                (rhs, Field::DevType { .. }) if !rhs.only_loopback() => {
                    "a device's type other than loopback is not in the capture (lo alone is told, by its name)".into()
                }
                _ => continue,
            };
            approx += 1;
            out.push(format!(
                "{}:{}: approximate: {why} (verdicts it takes part in are marked ≈)",
                file_of(fw, r),
                r.origin.line
            ));
        }
    }
    out.push(format!(
        "{}: {} rules, {unsupported} unsupported, {} warnings, {approx} approximate, {shown} not simulated",
        fw.source,
        rs.rules().count(),
        findings.len(),
    ));
    out
}
