//! The parser's entry points: a ruleset from text or a file, and one rule from the editor; and
//! what is settled only once the whole ruleset is read.

use std::collections::HashMap;
use std::path::Path;

use crate::firewall::model::*;
use crate::firewall::syntax::ParseError;

use super::cursor::{Parser, R};
use super::load::load;

/// Parses nft text; includes are looked up relative to the current directory.
pub fn parse(src: &str, file: &str) -> R<Ruleset> {
    parse_in(src, file, Path::new("."))
}

/// Parses the ruleset file at `path` (read as `src`); includes are relative to its folder.
pub fn parse_file(src: &str, path: &Path, name: &str) -> R<Ruleset> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    parse_in(src, name, dir.unwrap_or(Path::new(".")))
}

pub(super) fn parse_in(src: &str, file: &str, dir: &Path) -> R<Ruleset> {
    let mut files = Vec::new();
    let toks = load(src, file, dir, &mut files, 0)?;
    let mut p = Parser {
        toks,
        pos: 0,
        files,
        defines: HashMap::new(),
        define_texts: Vec::new(),
        redefined: false,
        element_comments: Vec::new(),
    };
    let mut rs = p.file_body()?;
    rs.defines = std::mem::take(&mut p.define_texts);
    if p.redefined {
        // Saved rules cannot say `$NAME` when it meant different values at different places:
        // they are written with the values.
        for t in &mut rs.tables {
            for r in t.chains.iter_mut().flat_map(|c| &mut c.rules) {
                if r.origin.full.contains('$') && r.unsupported.is_none() {
                    r.origin.full.clear();
                    r.matches.iter_mut().for_each(|m| m.var = None);
                    if let Some(v) = r.vmap.as_mut() {
                        v.var = None;
                    }
                }
            }
        }
    }
    mark_dynamic_sets(&mut rs);
    Ok(rs)
}

/// Sets that rules fill at run time (`add @set`, `update @set`, `set add … @set`): their
/// members are what the rules put in. One that a rule packetlab does not simulate may fill
/// is unsure: a key not found there may be in it.
pub(super) fn mark_dynamic_sets(rs: &mut Ruleset) {
    for t in &mut rs.tables {
        let mut filled: Vec<String> = Vec::new();
        let mut unsure: Vec<String> = Vec::new();
        for r in t.chains.iter().flat_map(|c| &c.rules) {
            for (_, e) in &r.effects {
                if let Effect::Set(op) = e {
                    filled.push(op.set.clone());
                }
            }
            if let Some((col, _)) = &r.unsupported {
                // What the rule does from its unsupported part on is not read: any set it
                // names there with `add`, `update` or `set add|update … @s` may be filled.
                let rest: String = r.origin.text.chars().skip(*col as usize - 1).collect();
                unsure.extend(filled_in_text(&rest));
                if r.origin.text.is_empty() {
                    unsure.extend(filled_in_text(&r.origin.full));
                }
            }
        }
        for s in &mut t.sets {
            for d in &s.decls {
                let mut w = d.split_whitespace();
                match (w.next(), w.next()) {
                    (Some("timeout"), Some(v)) => s.timeout_ms = super::stateful::time_ms(v),
                    (Some("size"), Some(v)) => s.size = v.parse().ok(),
                    _ => {}
                }
            }
            s.dynamic = filled.contains(&s.name) || s.decls.iter().any(|d| d.contains("dynamic"));
            s.unsure = unsure.contains(&s.name);
            if s.unsure {
                s.dynamic = true;
            }
        }
    }
}

/// The sets a rule's text fills: `add @s`, `update @s`, `set add … @s`.
fn filled_in_text(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let named = |w: &str| {
            w.strip_prefix('@')
                .map(|n| n.trim_end_matches(';').to_string())
        };
        match *w {
            "add" | "update" => {
                if let Some(n) = words.get(i + 1).and_then(|n| named(n)) {
                    out.push(n);
                } else if i > 0 && words[i - 1] == "set" {
                    if let Some(n) = words[i + 1..].iter().find_map(|n| named(n)) {
                        out.push(n);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Parses one rule as typed in the rule editor, checked against `table` (its named sets and
/// chains). The error's column is within `text`.
pub fn parse_rule(text: &str, table: &Table) -> Result<Rule, ParseError> {
    let src = format!("table inet editor {{\nchain c {{\n{text}\n}}\n}}\n");
    let rs = parse(&src, "rule").map_err(|mut e| {
        e.line = 1;
        e
    })?;
    let mut rule = match rs.tables[0].chains[0].rules.as_slice() {
        [r] => r.clone(),
        [] => {
            return Err(ParseError {
                file: "rule".into(),
                line: 1,
                col: 1,
                msg: "empty rule".into(),
            })
        }
        _ => {
            return Err(ParseError {
                file: "rule".into(),
                line: 1,
                col: 1,
                msg: "one rule at a time".into(),
            })
        }
    };
    if let Some((col, what)) = &rule.unsupported {
        // The editor takes only what packetlab can simulate.
        return Err(ParseError {
            file: "rule".into(),
            line: 1,
            col: *col,
            msg: format!("unsupported: {what}"),
        });
    }
    let missing = |what: String| ParseError {
        file: "rule".into(),
        line: 1,
        col: text.find(&what).map(|i| i as u32 + 1).unwrap_or(1),
        msg: format!("no {what} in table {}", table.name),
    };
    for m in &rule.matches {
        if let Rhs::Set(name) = &m.rhs {
            if table.set(name).is_none() {
                return Err(missing(format!("@{name}")));
            }
        }
    }
    for (_, e) in &rule.effects {
        if let Effect::Set(op) = e {
            if table.set(&op.set).is_none() {
                return Err(missing(format!("@{}", op.set)));
            }
        }
    }
    if let Some(Verdict::Jump(c) | Verdict::Goto(c)) = &rule.verdict {
        if table.chain(c).is_none() {
            return Err(missing(c.clone()));
        }
    }
    rule.origin.text = text.trim().to_string();
    Ok(rule)
}
