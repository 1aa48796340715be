//! The table grammar: a table's body, and its sets and maps (type, flags, elements; what
//! packetlab does not read is kept as written).

use crate::firewall::lexer::Tok;
use crate::firewall::model::*;

use super::cursor::{render, Parser, R};
use super::value::kind_of_type;

impl Parser {
    pub(super) fn table(&mut self) -> R<Table> {
        let (family, name) = self.family_and_name()?;
        let mut t = Table::new(family, name);
        // `table inet f` alone (a command, as `add table`): the table, empty.
        if self.at_end_of_statement() && !matches!(self.peek(), Some(Tok::Punct("}"))) {
            return Ok(t);
        }
        self.expect_punct("{")?;
        self.table_body(&mut t)?;
        Ok(t)
    }

    /// A table's statements up to its closing `}` (already past the `{`).
    pub(super) fn table_body(&mut self, t: &mut Table) -> R<()> {
        loop {
            self.skip_separators();
            if self.eat_punct("}") {
                return Ok(());
            }
            let line = self.here().0;
            let w = self.word("'chain', 'set', 'map' or '}'")?;
            match w.as_str() {
                "chain" => {
                    let c = self.chain(line, t.family)?;
                    match t.chains.iter_mut().find(|x| x.name == c.name) {
                        Some(x) => {
                            if c.base.is_some() {
                                x.base = c.base;
                            }
                            x.rules.extend(c.rules);
                        }
                        None => t.chains.push(c),
                    }
                }
                "set" | "map" => self.set_or_map(t, w == "map", line)?,
                "flags" => {
                    // `flags dormant`: the table is off (shown, judging nothing).
                    let at = self.pos;
                    self.skip_statement();
                    if self.toks[at..self.pos]
                        .iter()
                        .any(|t| t.tok == Tok::Word("dormant".into()))
                    {
                        t.dormant = true;
                    }
                }
                "comment" => {
                    self.eat_punct("=");
                    self.word("a comment")?;
                }
                // nft takes a `define` anywhere a statement may stand.
                "define" | "redefine" => self.define()?,
                // Stateful objects, flowtables, helpers: kept and shown, not simulated.
                "flowtable" | "counter" | "quota" | "limit" | "ct" | "secmark" | "synproxy" => {
                    let start = self.pos - 1;
                    while !matches!(self.peek(), Some(Tok::Punct("{")) | None) {
                        self.pos += 1;
                    }
                    self.skip_block()?;
                    t.other.push((line, render(&self.toks[start..self.pos])));
                }
                other => {
                    self.pos -= 1;
                    return self.err(format!("unknown table statement '{other}'"));
                }
            }
        }
    }

    /// `set NAME { … }` or `map NAME { … }` (after the keyword).
    pub(super) fn set_or_map(&mut self, t: &mut Table, map: bool, line: u32) -> R<()> {
        let start = self.pos - 1;
        let name = self.word("a set name")?;
        self.expect_punct("{")?;
        let mut set = NamedSet::new(name);
        let mut kinds: Vec<Kind> = Vec::new();
        // A map to something other than verdicts only serves NAT: kept as written.
        let mut data_map = false;
        loop {
            self.skip_separators();
            if self.eat_punct("}") {
                break;
            }
            let w = self.word("'type', 'flags', 'elements' or '}'")?;
            match w.as_str() {
                "type" | "typeof" => {
                    let ty_start = self.pos;
                    kinds.extend(self.set_key(w == "typeof")?);
                    if map {
                        if !self.eat_word(":") {
                            return self.err("expected ':' and the map's data type");
                        }
                        let data = self.word("a data type")?;
                        if data != "verdict" {
                            data_map = true;
                            self.skip_rest();
                        }
                    }
                    set.ty = render(&self.toks[ty_start - 1..self.pos]);
                }
                "elements" => {
                    self.expect_punct("=")?;
                    self.splice_var()?;
                    if data_map || kinds.contains(&Kind::Other) {
                        self.skip_block()?;
                        continue;
                    }
                    self.expect_punct("{")?;
                    let (els, verdicts) = self.elements(&kinds, map)?;
                    set.elements = els;
                    set.verdicts = verdicts;
                    set.comments = std::mem::take(&mut self.element_comments);
                }
                "comment" => {
                    set.decls
                        .push(format!("comment \"{}\"", self.word("a comment")?));
                }
                // flags, timeout, gc-interval, size, policy, auto-merge, counter: membership
                // is the same for the simulator; kept for saving.
                _ => {
                    let s0 = self.pos - 1;
                    self.skip_rest();
                    set.decls.push(render(&self.toks[s0..self.pos]));
                }
            }
        }
        if map && set.verdicts.is_none() && !data_map {
            set.verdicts = Some(Vec::new());
        }
        if data_map || kinds.contains(&Kind::Other) {
            t.other.push((line, render(&self.toks[start..self.pos])));
        } else {
            t.sets.push(set);
        }
        Ok(())
    }

    /// A set's key after `type` (`ipv4_addr . inet_service`) or `typeof` (selectors), as the
    /// kinds of its parts. A `typeof` key packetlab does not read is `Kind::Other`, the rest of
    /// the key skipped: the set is kept as written.
    fn set_key(&mut self, typeof_: bool) -> R<Vec<Kind>> {
        let mut kinds = Vec::new();
        loop {
            if typeof_ {
                let first = self.word("a selector")?;
                match self.selector(&first) {
                    Ok(f) => kinds.push(Kind::of(f)),
                    Err(e) if e.msg.starts_with("unsupported: ") => {
                        kinds.push(Kind::Other);
                        self.skip_rest();
                        return Ok(kinds);
                    }
                    Err(e) => return Err(e),
                }
            } else {
                let k = self.word("a set type")?;
                kinds.push(kind_of_type(&k));
            }
            if !self.eat_word(".") {
                return Ok(kinds);
            }
        }
    }
}
