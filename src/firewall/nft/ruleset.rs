//! The ruleset grammar at the top of a file: tables (a table given again adds to it), `flush`,
//! `define`/`redefine`/`undefine`, and the one-line `add`/`insert`/`delete` commands.

use crate::firewall::lexer::{Tok, Token};
use crate::firewall::model::*;

use super::cursor::{render, Parser, R};
use super::value::kinds_of_type;

impl Parser {
    pub(super) fn file_body(&mut self) -> R<Ruleset> {
        let mut rs = Ruleset::default();
        loop {
            self.skip_separators();
            let Some(w) = self.peek_word().map(str::to_string) else {
                if self.peek().is_none() {
                    return Ok(rs);
                }
                return self.err("expected 'table'");
            };
            match w.as_str() {
                "table" => {
                    self.pos += 1;
                    // `table inet f` alone creates it empty (`add table`).
                    let t = self.table()?;
                    // `table` again for an existing table adds to it, as nft does.
                    match rs
                        .tables
                        .iter_mut()
                        .find(|x| x.family == t.family && x.name == t.name)
                    {
                        Some(x) => {
                            x.chains.extend(t.chains);
                            x.sets.extend(t.sets);
                            x.other.extend(t.other);
                            x.dormant |= t.dormant;
                        }
                        None => rs.tables.push(t),
                    }
                }
                "flush" => {
                    self.pos += 1;
                    self.flush(&mut rs)?;
                }
                "define" | "redefine" => {
                    self.pos += 1;
                    self.define()?;
                }
                "undefine" => {
                    self.pos += 1;
                    self.redefined = true;
                    let name = self.word("a variable name")?;
                    self.defines.remove(&name);
                    self.define_texts.retain(|(n, _)| *n != name);
                }
                "add" | "insert" | "create" => {
                    self.pos += 1;
                    self.command(&mut rs, w == "insert")?;
                }
                // `destroy table inet f` / `delete table inet f` before a file re-creates it.
                "destroy" | "delete" => {
                    self.pos += 1;
                    self.delete(&mut rs)?;
                }
                other => return self.err(format!("unknown statement '{other}'")),
            }
        }
    }

    /// `flush ruleset`, `flush table T`, `flush chain T C`, `flush set T S` (after `flush`),
    /// applied in file order as `nft -f` does: what came before is emptied. A flush of what
    /// the file has not made is left to nft (it fails there).
    fn flush(&mut self, rs: &mut Ruleset) -> R<()> {
        let what = self.word("'ruleset', 'table', 'chain', 'set' or 'map'")?;
        match what.as_str() {
            "ruleset" => {
                // `flush ruleset ip` empties one family only.
                let fam = self.peek_word().and_then(Family::from_name);
                if fam.is_some() {
                    self.pos += 1;
                }
                rs.tables.retain(|t| fam.is_some_and(|f| f != t.family));
            }
            "table" => {
                if let Some(ti) = self.named_table(rs)? {
                    rs.tables[ti]
                        .chains
                        .iter_mut()
                        .for_each(|c| c.rules.clear());
                }
            }
            "chain" => {
                let ti = self.named_table(rs)?;
                let name = self.word("a chain name")?;
                if let Some(c) =
                    ti.and_then(|ti| rs.tables[ti].chains.iter_mut().find(|c| c.name == name))
                {
                    c.rules.clear();
                }
            }
            "set" | "map" | "meter" => {
                let ti = self.named_table(rs)?;
                let name = self.word("a set name")?;
                if let Some(s) =
                    ti.and_then(|ti| rs.tables[ti].sets.iter_mut().find(|s| s.name == name))
                {
                    s.elements.clear();
                    s.comments.clear();
                    if let Some(v) = s.verdicts.as_mut() {
                        v.clear();
                    }
                }
            }
            _ => {
                self.pos -= 1;
                return self.err(format!("unknown command 'flush {what}'"));
            }
        }
        self.skip_statement();
        Ok(())
    }

    /// `delete table T`, `delete chain T C`, `delete set T S`, `delete element T S { … }`
    /// (after `delete` or `destroy`), in file order. `delete rule … handle N` names a rule by
    /// the kernel's handle, which a file does not know: left out.
    fn delete(&mut self, rs: &mut Ruleset) -> R<()> {
        let what = self.word("'table', 'chain', 'set', 'map', 'element' or 'rule'")?;
        match what.as_str() {
            "table" => {
                let (family, name) = self.family_and_name()?;
                rs.tables
                    .retain(|t| !(t.family == family && t.name == name));
            }
            "chain" => {
                let ti = self.named_table(rs)?;
                let name = self.word("a chain name")?;
                if let Some(ti) = ti {
                    rs.tables[ti].chains.retain(|c| c.name != name);
                }
            }
            "set" | "map" => {
                let ti = self.named_table(rs)?;
                let name = self.word("a set name")?;
                if let Some(ti) = ti {
                    rs.tables[ti].sets.retain(|s| s.name != name);
                }
            }
            "element" => {
                let ti = self.existing_table(rs)?;
                let name = self.word("a set name")?;
                let t = &mut rs.tables[ti];
                let Some(si) = t.sets.iter().position(|s| s.name == name) else {
                    return self.err(format!("no set '{name}' in this table"));
                };
                let kinds = kinds_of_type(&t.sets[si].ty);
                self.expect_punct("{")?;
                let map = t.sets[si].verdicts.is_some();
                let (gone, _) = self.elements_of(&kinds, map, true)?;
                let s = &mut t.sets[si];
                s.comments.retain(|(v, _)| !gone.contains(v));
                let mut k = 0;
                while k < s.elements.len() {
                    if gone.contains(&s.elements[k]) {
                        s.elements.remove(k);
                        if let Some(v) = s.verdicts.as_mut().filter(|v| k < v.len()) {
                            v.remove(k);
                        }
                    } else {
                        k += 1;
                    }
                }
            }
            "rule" | "flowtable" | "counter" | "quota" | "limit" | "ct" | "secmark"
            | "synproxy" => {}
            _ => {
                self.pos -= 1;
                return self.err(format!("unknown command 'delete {what}'"));
            }
        }
        self.skip_statement();
        Ok(())
    }

    /// The table a `flush` or `delete` names, when the file has made it.
    fn named_table(&mut self, rs: &Ruleset) -> R<Option<usize>> {
        let (family, name) = self.family_and_name()?;
        Ok(rs
            .tables
            .iter()
            .position(|t| t.family == family && t.name == name))
    }

    /// `define NAME = VALUE`: the value's tokens (to the end of the line, a `{ … }` set whole),
    /// with the variables it uses already replaced.
    pub(super) fn define(&mut self) -> R<()> {
        let name = self.word("a variable name")?;
        self.expect_punct("=")?;
        let start = self.pos;
        let mut depth = 0usize;
        loop {
            self.splice_var()?;
            match self.peek() {
                None => break,
                Some(Tok::Newline | Tok::Punct(";")) if depth == 0 => break,
                Some(Tok::Punct("{")) => depth += 1,
                Some(Tok::Punct("}")) => {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                }
                _ => {}
            }
            self.pos += 1;
        }
        let value: Vec<Token> = self.toks[start..self.pos]
            .iter()
            .filter(|t| t.tok != Tok::Newline)
            .cloned()
            .collect();
        if value.is_empty() {
            return self.err(format!("define {name}: no value"));
        }
        let text = render(&value);
        self.redefined |= self.defines.contains_key(&name);
        self.define_texts.retain(|(n, _)| *n != name);
        self.define_texts.push((name.clone(), text));
        self.defines.insert(name, value);
        Ok(())
    }

    /// The command form `iptables-restore-translate` writes: `add table ip filter`,
    /// `add chain ip filter INPUT { type filter hook input priority 0; policy drop; }`,
    /// `add rule ip filter INPUT tcp dport 22 accept` (and `insert rule`, which prepends).
    pub(super) fn command(&mut self, rs: &mut Ruleset, insert: bool) -> R<()> {
        let what = self.word("'table', 'chain', 'set' or 'rule'")?;
        match (what.as_str(), insert) {
            ("table", false) => self.add_table(rs),
            ("chain", false) => self.add_chain(rs),
            ("set" | "map", false) => {
                let ti = self.existing_table(rs)?;
                let line = self.here().0;
                self.set_or_map(&mut rs.tables[ti], what == "map", line)
            }
            ("element", false) => self.add_elements(rs),
            ("rule", _) => self.add_rule(rs, insert),
            (other, _) => {
                self.pos -= 1;
                self.err(format!(
                    "unknown command '{} {other}'",
                    if insert { "insert" } else { "add" }
                ))
            }
        }
    }

    /// `add table FAMILY NAME [{ … }]`: the table, created when new.
    fn add_table(&mut self, rs: &mut Ruleset) -> R<()> {
        let (family, name) = self.family_and_name()?;
        let ti = match rs
            .tables
            .iter()
            .position(|t| t.family == family && t.name == name)
        {
            Some(i) => i,
            None => {
                rs.tables.push(Table::new(family, name));
                rs.tables.len() - 1
            }
        };
        if self.eat_punct("{") {
            self.table_body(&mut rs.tables[ti])?;
        }
        Ok(())
    }

    /// `add chain FAMILY TABLE NAME [{ … }]`: the chain, created when new.
    fn add_chain(&mut self, rs: &mut Ruleset) -> R<()> {
        let ti = self.existing_table(rs)?;
        let line = self.here().0;
        let name = self.word("a chain name")?;
        let t = &mut rs.tables[ti];
        let family = t.family;
        let ci = match t.chains.iter().position(|c| c.name == name) {
            Some(i) => i,
            None => {
                t.chains.push(Chain {
                    name,
                    base: None,
                    rules: Vec::new(),
                    line,
                });
                t.chains.len() - 1
            }
        };
        if self.eat_punct("{") {
            self.chain_body(&mut t.chains[ci], family)?;
        }
        Ok(())
    }

    /// `add element FAMILY TABLE SET { … }`: more elements of a declared set or map.
    fn add_elements(&mut self, rs: &mut Ruleset) -> R<()> {
        let ti = self.existing_table(rs)?;
        let name = self.word("a set name")?;
        let t = &mut rs.tables[ti];
        let Some(si) = t.sets.iter().position(|s| s.name == name) else {
            return self.err(format!("no set '{name}' in this table"));
        };
        let kinds = kinds_of_type(&t.sets[si].ty);
        self.expect_punct("{")?;
        let map = t.sets[si].verdicts.is_some();
        let (els, verdicts) = self.elements(&kinds, map)?;
        let s = &mut t.sets[si];
        s.elements.extend(els);
        s.comments.append(&mut self.element_comments);
        if let (Some(v), Some(new)) = (s.verdicts.as_mut(), verdicts) {
            v.extend(new);
        }
        Ok(())
    }

    /// `add rule …` appends the rule to its chain, `insert rule …` puts it first.
    fn add_rule(&mut self, rs: &mut Ruleset, insert: bool) -> R<()> {
        let ti = self.existing_table(rs)?;
        let name = self.word("a chain name")?;
        let Some(ci) = rs.tables[ti].chains.iter().position(|c| c.name == name) else {
            self.pos -= 1;
            return self.err(format!("no chain '{name}' in this table"));
        };
        let r = self.rule()?;
        let rules = &mut rs.tables[ti].chains[ci].rules;
        if insert {
            rules.insert(0, r);
        } else {
            rules.push(r);
        }
        Ok(())
    }

    /// A table named by a command (`ip filter`), which must exist already.
    pub(super) fn existing_table(&mut self, rs: &Ruleset) -> R<usize> {
        let at = self.pos;
        let (family, name) = self.family_and_name()?;
        match rs
            .tables
            .iter()
            .position(|t| t.family == family && t.name == name)
        {
            Some(i) => Ok(i),
            None => {
                self.pos = at;
                self.err(format!("no table '{} {name}'", family.name()))
            }
        }
    }

    /// `[family] name`, the family `ip` when left out.
    pub(super) fn family_and_name(&mut self) -> R<(Family, String)> {
        let first = self.word("a family or table name")?;
        Ok(match Family::from_name(&first) {
            Some(f) if !matches!(self.peek(), Some(Tok::Punct("{")) | None) => {
                (f, self.word("a table name")?)
            }
            _ => (Family::Ip, first),
        })
    }
}
