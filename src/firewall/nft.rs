//! A recursive-descent parser for nftables rulesets as people write them and as
//! `nft list ruleset` prints them: `define`/`$var`, `include` (relative to the file, globs),
//! tables of every family, base chains with named priorities, sets and maps, verdict maps,
//! concatenations, and the statements of real files. A syntax error is an error naming the
//! file, line and column. A rule holding a construct packetlab cannot simulate still loads: it
//! is kept with `unsupported` set (why and where), never matches, and makes the verdicts it
//! could have changed approximate.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::lexer::{lex, Tok, Token};
use super::model::*;
use super::names;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub msg: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.msg)
    }
}

impl std::error::Error for ParseError {}

/// One file of the ruleset: its name for messages, and its lines for the rules' texts.
struct Source {
    name: String,
    lines: Vec<String>,
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    files: Vec<Source>,
    defines: HashMap<String, Vec<Token>>,
    /// `define`s in file order, as written: kept in the ruleset for saving.
    define_texts: Vec<(String, String)>,
    /// A variable was given another value or undefined: `$NAME` no longer names one value.
    redefined: bool,
}

type R<T> = Result<T, ParseError>;

/// How deep includes may nest (nft's own limit is 16).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Parses nft text; includes are looked up relative to the current directory.
pub fn parse(src: &str, file: &str) -> R<Ruleset> {
    parse_in(src, file, Path::new("."))
}

/// Parses the ruleset file at `path` (read as `src`); includes are relative to its folder.
pub fn parse_file(src: &str, path: &Path, name: &str) -> R<Ruleset> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    parse_in(src, name, dir.unwrap_or(Path::new(".")))
}

fn parse_in(src: &str, file: &str, dir: &Path) -> R<Ruleset> {
    let mut files = Vec::new();
    let toks = load(src, file, dir, &mut files, 0)?;
    let mut p = Parser {
        toks,
        pos: 0,
        files,
        defines: HashMap::new(),
        define_texts: Vec::new(),
        redefined: false,
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

/// Lexes one file and splices in the files it includes.
fn load(src: &str, name: &str, dir: &Path, files: &mut Vec<Source>, depth: usize) -> R<Vec<Token>> {
    let idx = files.len() as u16;
    files.push(Source {
        name: name.to_string(),
        lines: src.lines().map(str::to_string).collect(),
    });
    let mut toks = lex(src).map_err(|e| ParseError {
        file: name.into(),
        line: e.line,
        col: e.col,
        msg: e.msg,
    })?;
    for t in &mut toks {
        t.file = idx;
    }
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let starts_statement = out
            .last()
            .is_none_or(|t: &Token| matches!(t.tok, Tok::Newline | Tok::Punct(";" | "{")));
        if let (true, Tok::Word(w), Some(Tok::Str(target))) = (
            starts_statement,
            &toks[i].tok,
            toks.get(i + 1).map(|t| &t.tok),
        ) {
            if w == "include" {
                let at = &toks[i];
                let err = |msg: String| ParseError {
                    file: name.into(),
                    line: at.line,
                    col: at.col,
                    msg,
                };
                if depth >= MAX_INCLUDE_DEPTH {
                    return Err(err("includes nest too deep".into()));
                }
                for path in include_paths(dir, target).map_err(err)? {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| err(format!("include \"{}\": {e}", path.display())))?;
                    let sub_dir = path.parent().unwrap_or(dir).to_path_buf();
                    let sub = load(
                        &text,
                        &path.display().to_string(),
                        &sub_dir,
                        files,
                        depth + 1,
                    )?;
                    out.extend(sub);
                    out.push(Token {
                        tok: Tok::Newline,
                        line: at.line,
                        col: at.col,
                        file: idx,
                    });
                }
                i += 2;
                continue;
            }
        }
        out.push(toks[i].clone());
        i += 1;
    }
    Ok(out)
}

/// The files an `include` names: one file (which must exist), or a glob's matches, sorted
/// (none is fine, as in nft).
fn include_paths(dir: &Path, target: &str) -> Result<Vec<PathBuf>, String> {
    let full = if Path::new(target).is_absolute() {
        PathBuf::from(target)
    } else {
        dir.join(target)
    };
    let file_part = full
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    if !file_part.contains(['*', '?', '[']) {
        if !full.is_file() {
            return Err(format!(
                "include \"{target}\": {} not found",
                full.display()
            ));
        }
        return Ok(vec![full]);
    }
    let parent = full.parent().unwrap_or(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(parent)
        .map_err(|e| format!("include \"{target}\": {}: {e}", parent.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            !n.starts_with('.') && glob_match(&file_part, &n)
        })
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    Ok(v)
}

/// `*` and `?` wildcards (what nft's include globs use in practice).
fn glob_match(pat: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Sets that rules fill at run time (`add @set`, `update @set`): their membership is
/// approximate.
fn mark_dynamic_sets(rs: &mut Ruleset) {
    for t in &mut rs.tables {
        let filled: Vec<String> = t
            .chains
            .iter()
            .flat_map(|c| &c.rules)
            .flat_map(|r| &r.approx)
            .filter_map(|(_, text)| {
                let rest = text
                    .strip_prefix("add @")
                    .or_else(|| text.strip_prefix("update @"))?;
                Some(rest.split_whitespace().next()?.to_string())
            })
            .collect();
        for s in &mut t.sets {
            if filled.contains(&s.name) || s.decls.iter().any(|d| d.contains("dynamic")) {
                s.dynamic = true;
            }
        }
    }
}

/// Tokens back to text: for defines and the statements kept as written.
fn render(toks: &[Token]) -> String {
    let mut out = String::new();
    for (i, t) in toks.iter().enumerate() {
        let piece = match &t.tok {
            Tok::Word(w) => w.clone(),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::Punct(p) => p.to_string(),
            // A line break separates declarations: `;` on one line (not inside a list).
            Tok::Newline => {
                let next = toks[i + 1..].iter().find(|t| t.tok != Tok::Newline);
                let closes = next.is_none_or(|t| matches!(t.tok, Tok::Punct("}" | ",")));
                if out.is_empty() || out.ends_with(['{', ',', ';']) || closes {
                    continue;
                }
                ";".to_string()
            }
            Tok::Disabled => continue,
        };
        let glue = out.is_empty()
            || out.ends_with(['@', '$', '('])
            || matches!(piece.as_str(), "," | ")" | ";");
        if !glue {
            out.push(' ');
        }
        out.push_str(&piece);
    }
    out
}

/// The words that end a statement's free-form arguments (a NAT target, a `set` value).
fn starts_statement(w: &str) -> bool {
    matches!(
        w,
        "accept"
            | "drop"
            | "reject"
            | "jump"
            | "goto"
            | "return"
            | "continue"
            | "counter"
            | "log"
            | "comment"
            | "limit"
            | "notrack"
            | "queue"
            | "quota"
    )
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn peek_at(&self, k: usize) -> Option<&Tok> {
        self.toks.get(self.pos + k).map(|t| &t.tok)
    }

    fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn here(&self) -> (u32, u32) {
        match self.toks.get(self.pos).or(self.toks.last()) {
            Some(t) => (t.line, t.col),
            None => (1, 1),
        }
    }

    fn file_name(&self) -> String {
        let f = self
            .toks
            .get(self.pos)
            .or(self.toks.last())
            .map(|t| t.file)
            .unwrap_or(0);
        self.files[f as usize].name.clone()
    }

    fn err<T>(&self, msg: impl Into<String>) -> R<T> {
        let (line, col) = self.here();
        Err(ParseError {
            file: self.file_name(),
            line,
            col,
            msg: msg.into(),
        })
    }

    fn unsupported<T>(&self, what: &str) -> R<T> {
        self.err(format!("unsupported: {what}"))
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.tok.clone());
        self.pos += 1;
        t
    }

    /// Replaces `$NAME` at the current position by the define's tokens. Returns the name.
    fn splice_var(&mut self) -> R<Option<String>> {
        if self.peek() != Some(&Tok::Punct("$")) {
            return Ok(None);
        }
        let Some(Tok::Word(name)) = self.peek_at(1).cloned() else {
            return self.err("expected a variable name after '$'");
        };
        let Some(value) = self.defines.get(&name).cloned() else {
            return self.err(format!("undefined variable '${name}'"));
        };
        self.toks.splice(self.pos..self.pos + 2, value);
        Ok(Some(name))
    }

    fn word(&mut self, what: &str) -> R<String> {
        self.splice_var()?;
        match self.peek() {
            Some(Tok::Word(w)) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            Some(Tok::Str(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => self.err(format!("expected {what}")),
        }
    }

    fn expect_word(&mut self, w: &str) -> R<()> {
        if self.peek_word() == Some(w) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(format!("expected '{w}'"))
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.peek_word() == Some(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(q)) if *q == p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: &str) -> R<()> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            self.err(format!("expected '{p}'"))
        }
    }

    fn skip_newlines(&mut self) {
        while self.peek() == Some(&Tok::Newline) {
            self.pos += 1;
        }
    }

    /// Skips blank statements, and `# disabled:` rules where no rule can be (they are comments
    /// there).
    fn skip_separators(&mut self) {
        loop {
            match self.peek() {
                Some(Tok::Newline) | Some(Tok::Punct(";")) => self.pos += 1,
                Some(Tok::Disabled) => self.skip_line(),
                _ => return,
            }
        }
    }

    /// Skips to the end of the line (not past its newline).
    fn skip_line(&mut self) {
        while !matches!(self.peek(), None | Some(Tok::Newline)) {
            self.pos += 1;
        }
    }

    /// Skips the rest of a statement: to its newline, `;` or the `}` closing its block,
    /// passing over `{ … }` groups whole.
    fn skip_statement(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return,
                Some(Tok::Newline | Tok::Punct(";")) if depth == 0 => return,
                Some(Tok::Punct("}")) if depth == 0 => return,
                Some(Tok::Punct("{")) => depth += 1,
                Some(Tok::Punct("}")) => depth -= 1,
                _ => {}
            }
            self.pos += 1;
        }
    }

    /// Skips a `{ … }` block (at its `{`), returning its tokens.
    fn skip_block(&mut self) -> R<Vec<Token>> {
        let start = self.pos;
        self.expect_punct("{")?;
        let mut depth = 1usize;
        while depth > 0 {
            match self.next() {
                None => return self.err("missing '}'"),
                Some(Tok::Punct("{")) => depth += 1,
                Some(Tok::Punct("}")) => depth -= 1,
                _ => {}
            }
        }
        Ok(self.toks[start..self.pos].to_vec())
    }

    fn at_end_of_statement(&self) -> bool {
        matches!(
            self.peek(),
            None | Some(Tok::Newline) | Some(Tok::Punct(";")) | Some(Tok::Punct("}"))
        )
    }

    fn file_body(&mut self) -> R<Ruleset> {
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
                        }
                        None => rs.tables.push(t),
                    }
                }
                "flush" => {
                    self.pos += 1;
                    // `flush ruleset`, `flush table ip filter`, `flush chain …`: the file
                    // describes the whole ruleset, so they change nothing here.
                    self.skip_statement();
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
                    if self.eat_word("table") {
                        let (family, name) = self.family_and_name()?;
                        rs.tables
                            .retain(|t| !(t.family == family && t.name == name));
                    }
                    self.skip_statement();
                }
                other => return self.err(format!("unknown statement '{other}'")),
            }
        }
    }

    /// `define NAME = VALUE`: the value's tokens (to the end of the line, a `{ … }` set whole),
    /// with the variables it uses already replaced.
    fn define(&mut self) -> R<()> {
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
    fn command(&mut self, rs: &mut Ruleset, insert: bool) -> R<()> {
        let what = self.word("'table', 'chain', 'set' or 'rule'")?;
        match (what.as_str(), insert) {
            ("table", false) => {
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
            ("chain", false) => {
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
            ("set" | "map", false) => {
                let ti = self.existing_table(rs)?;
                let line = self.here().0;
                self.set_or_map(&mut rs.tables[ti], what == "map", line)
            }
            ("element", false) => {
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
                if let (Some(v), Some(new)) = (s.verdicts.as_mut(), verdicts) {
                    v.extend(new);
                }
                Ok(())
            }
            ("rule", _) => {
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
            (other, _) => {
                self.pos -= 1;
                self.err(format!(
                    "unknown command '{} {other}'",
                    if insert { "insert" } else { "add" }
                ))
            }
        }
    }

    /// A table named by a command (`ip filter`), which must exist already.
    fn existing_table(&mut self, rs: &Ruleset) -> R<usize> {
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
    fn family_and_name(&mut self) -> R<(Family, String)> {
        let first = self.word("a family or table name")?;
        Ok(match Family::from_name(&first) {
            Some(f) if !matches!(self.peek(), Some(Tok::Punct("{")) | None) => {
                (f, self.word("a table name")?)
            }
            _ => (Family::Ip, first),
        })
    }

    fn table(&mut self) -> R<Table> {
        let (family, name) = self.family_and_name()?;
        self.expect_punct("{")?;
        let mut t = Table::new(family, name);
        self.table_body(&mut t)?;
        Ok(t)
    }

    /// A table's statements up to its closing `}` (already past the `{`).
    fn table_body(&mut self, t: &mut Table) -> R<()> {
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
    fn set_or_map(&mut self, t: &mut Table, map: bool, line: u32) -> R<()> {
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
                    if w == "type" {
                        loop {
                            let k = self.word("a set type")?;
                            kinds.push(kind_of_type(&k));
                            if !self.eat_word(".") {
                                break;
                            }
                        }
                    } else {
                        loop {
                            let first = self.word("a selector")?;
                            match self.selector(&first) {
                                Ok(f) => kinds.push(Kind::of(f)),
                                // A key packetlab does not read: the set is kept as written.
                                Err(e) if e.msg.starts_with("unsupported: ") => {
                                    kinds.push(Kind::Other);
                                    while !self.at_end_of_statement() {
                                        self.pos += 1;
                                    }
                                    break;
                                }
                                Err(e) => return Err(e),
                            }
                            if !self.eat_word(".") {
                                break;
                            }
                        }
                    }
                    if map {
                        if !self.eat_word(":") {
                            return self.err("expected ':' and the map's data type");
                        }
                        let data = self.word("a data type")?;
                        if data != "verdict" {
                            data_map = true;
                            while !self.at_end_of_statement() {
                                self.pos += 1;
                            }
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
                }
                "comment" => {
                    set.decls
                        .push(format!("comment \"{}\"", self.word("a comment")?));
                }
                // flags, timeout, gc-interval, size, policy, auto-merge, counter: membership
                // is the same for the simulator; kept for saving.
                _ => {
                    let s0 = self.pos - 1;
                    while !self.at_end_of_statement() {
                        self.pos += 1;
                    }
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

    /// Set elements up to the closing `}` (already past the `{`), each `key [: verdict]`, with
    /// the per-element options (`timeout`, `expires`, `comment`, `counter …`) passed over.
    /// A `$var` holding a set is spliced in flat.
    #[allow(clippy::type_complexity)]
    fn elements(&mut self, kinds: &[Kind], map: bool) -> R<(Vec<Value>, Option<Vec<Verdict>>)> {
        let mut els = Vec::new();
        let mut verdicts = map.then(Vec::new);
        let mut depth = 0usize;
        loop {
            self.skip_newlines();
            self.splice_var()?;
            if self.eat_punct("{") {
                depth += 1;
                continue;
            }
            if self.eat_punct("}") {
                if depth == 0 {
                    return Ok((els, verdicts));
                }
                depth -= 1;
                self.skip_newlines();
                self.eat_punct(",");
                continue;
            }
            if self.eat_punct(",") {
                continue;
            }
            els.push(self.element(kinds, map)?);
            loop {
                match self.peek_word() {
                    Some("timeout" | "expires") => {
                        self.pos += 1;
                        self.word("a time")?;
                    }
                    Some("comment") => {
                        self.pos += 1;
                        self.word("a comment")?;
                    }
                    Some("counter") => {
                        self.pos += 1;
                        if self.eat_word("packets") {
                            self.word("a packet count")?;
                            self.expect_word("bytes")?;
                            self.word("a byte count")?;
                        }
                    }
                    _ => break,
                }
            }
            if let Some(v) = verdicts.as_mut() {
                if !self.eat_word(":") {
                    return self.err("expected ':' and a verdict");
                }
                v.push(self.verdict_word()?);
            }
            self.skip_newlines();
            if !self.eat_punct(",") {
                self.skip_newlines();
                if !matches!(self.peek(), Some(Tok::Punct("}"))) {
                    return self.err("expected ',' or '}'");
                }
            }
        }
    }

    /// `established: accept` and `22:accept` in a map: the colon glued to a word (which the
    /// lexer keeps whole, for IPv6 addresses) is taken apart.
    fn split_colon(&mut self) {
        let Some(Tok::Word(w)) = self.peek().cloned() else {
            return;
        };
        let Some(i) = w.rfind(':') else { return };
        let (key, rest) = (&w[..i], &w[i + 1..]);
        let verdict = |v: &str| {
            matches!(
                v,
                "accept" | "drop" | "continue" | "return" | "jump" | "goto"
            )
        };
        if key.is_empty() || key.ends_with(':') || !(rest.is_empty() || verdict(rest)) {
            return;
        }
        let at = self.toks[self.pos].clone();
        let mut parts = vec![
            Token {
                tok: Tok::Word(key.to_string()),
                ..at.clone()
            },
            Token {
                tok: Tok::Word(":".into()),
                ..at.clone()
            },
        ];
        if !rest.is_empty() {
            parts.push(Token {
                tok: Tok::Word(rest.to_string()),
                ..at
            });
        }
        self.toks.splice(self.pos..self.pos + 1, parts);
    }

    /// One element: a value, or a concatenation `a . b` when there are several kinds.
    fn element(&mut self, kinds: &[Kind], map: bool) -> R<Value> {
        if kinds.len() <= 1 {
            if map {
                self.split_colon();
            }
            return self.value(kinds.first().copied().unwrap_or(Kind::Int));
        }
        let mut parts = Vec::with_capacity(kinds.len());
        for (i, k) in kinds.iter().enumerate() {
            if i > 0 && !self.eat_word(".") {
                return self.err("expected '.' between the parts of a concatenation");
            }
            if map {
                self.split_colon();
            }
            parts.push(self.value(*k)?);
        }
        Ok(Value::Concat(parts))
    }

    fn verdict_word(&mut self) -> R<Verdict> {
        let w = self.word("a verdict")?;
        Ok(match w.as_str() {
            "accept" => Verdict::Accept,
            "drop" => Verdict::Drop,
            "continue" => Verdict::Continue,
            "return" => Verdict::Return,
            "jump" => Verdict::Jump(self.word("a chain name")?),
            "goto" => Verdict::Goto(self.word("a chain name")?),
            other => {
                self.pos -= 1;
                return self.unsupported(&format!("verdict '{other}' in a map"));
            }
        })
    }

    fn chain(&mut self, line: u32, family: Family) -> R<Chain> {
        let name = self.word("a chain name")?;
        let mut c = Chain {
            name,
            base: None,
            rules: Vec::new(),
            line,
        };
        // `chain NAME` alone (as `add chain` in a table block) declares an empty chain.
        if self.eat_punct("{") {
            self.chain_body(&mut c, family)?;
        }
        Ok(c)
    }

    /// A chain's statements up to its closing `}` (already past the `{`).
    fn chain_body(&mut self, c: &mut Chain, family: Family) -> R<()> {
        // A `policy` may come before the `type … hook` line.
        let mut pending: Option<(Policy, u32, u32)> = None;
        loop {
            while matches!(self.peek(), Some(Tok::Newline) | Some(Tok::Punct(";"))) {
                self.pos += 1;
            }
            if self.eat_punct("}") {
                if let Some((_, line, col)) = pending.filter(|_| c.base.is_none()) {
                    return Err(ParseError {
                        file: self.file_name(),
                        line,
                        col,
                        msg: "a policy needs a base chain ('type … hook …')".into(),
                    });
                }
                return Ok(());
            }
            if self.peek().is_none() {
                return self.err("missing '}' at the end of the chain");
            }
            if self.peek() == Some(&Tok::Disabled) {
                // `# disabled: RULE`: the rule, toggled off; a comment that merely starts so.
                self.pos += 1;
                let at = self.pos;
                match self.rule() {
                    Ok(mut r)
                        if r.unsupported.is_none()
                            && matches!(self.peek(), None | Some(Tok::Newline)) =>
                    {
                        r.enabled = false;
                        c.rules.push(r);
                    }
                    _ => {
                        self.pos = at;
                        self.skip_line();
                    }
                }
                continue;
            }
            match self.peek_word() {
                Some("type") => {
                    self.pos += 1;
                    let mut b = self.base_chain(family)?;
                    if let Some((p, _, _)) = pending.take() {
                        b.policy = p;
                    }
                    c.base = Some(b);
                }
                Some("policy") => {
                    let (pl, pc) = self.here();
                    self.pos += 1;
                    self.splice_var()?;
                    let p = self.word("accept or drop")?;
                    let policy = match p.as_str() {
                        "accept" => Policy::Accept,
                        "drop" => Policy::Drop,
                        _ => {
                            self.pos -= 1;
                            return self.err("expected 'accept' or 'drop'");
                        }
                    };
                    match c.base.as_mut() {
                        Some(b) => b.policy = policy,
                        None => pending = Some((policy, pl, pc)),
                    }
                }
                Some("comment") if matches!(self.peek_at(1), Some(Tok::Str(_))) => {
                    self.pos += 2;
                }
                Some("devices") => {
                    // `devices = { eth0, eth1 }` on its own line.
                    self.pos += 1;
                    self.expect_punct("=")?;
                    self.skip_block()?;
                }
                _ => {
                    let r = self.rule()?;
                    c.rules.push(r);
                }
            }
        }
    }

    /// `type filter hook input [device D] priority filter - 10` (after `type`).
    fn base_chain(&mut self, family: Family) -> R<BaseChain> {
        let ty = self.word("a chain type")?;
        let kind = match ty.as_str() {
            "filter" => ChainType::Filter,
            "nat" => ChainType::Nat,
            "route" => ChainType::Route,
            other => {
                self.pos -= 1;
                return self.err(format!("unknown chain type '{other}'"));
            }
        };
        self.expect_word("hook")?;
        let h = self.word("a hook")?;
        let Some(hook) = Hook::from_name(&h) else {
            self.pos -= 1;
            return self.err(format!("unknown hook '{h}'"));
        };
        let mut device = None;
        loop {
            if self.eat_word("device") {
                device = Some(self.word("a device name")?);
            } else if self.eat_word("devices") {
                self.expect_punct("=")?;
                let toks = self.skip_block()?;
                device = Some(render(&toks[1..toks.len() - 1]));
            } else {
                break;
            }
        }
        self.expect_word("priority")?;
        self.splice_var()?;
        let pr = self.word("a priority")?;
        let mut priority = match pr.parse::<i32>() {
            Ok(n) => n,
            Err(_) => match named_priority(&pr, family) {
                Some(n) => n,
                None => {
                    self.pos -= 1;
                    return self.err(format!("unknown priority '{pr}'"));
                }
            },
        };
        // `filter + 10`, `filter - 10`, `filter -10`.
        if self.eat_punct("+") {
            let n = self.word("a number")?;
            priority += n
                .parse::<i32>()
                .or_else(|_| self.err("expected a number"))?;
        } else if self.eat_word("-") {
            let n = self.word("a number")?;
            priority -= n
                .parse::<i32>()
                .or_else(|_| self.err("expected a number"))?;
        } else if let Some(n) = self
            .peek_word()
            .and_then(|w| w.strip_prefix('-'))
            .and_then(|n| n.parse::<i32>().ok())
        {
            self.pos += 1;
            priority -= n;
        }
        Ok(BaseChain {
            kind,
            hook,
            priority,
            policy: Policy::Accept,
            device,
        })
    }

    /// One rule. A construct outside what packetlab simulates does not fail it: the rule is
    /// kept with the tests read before it and `unsupported` set, the rest of it skipped.
    fn rule(&mut self) -> R<Rule> {
        let (line, col0) = self.here();
        let file = self.toks.get(self.pos).map(|t| t.file).unwrap_or(0);
        let mut r = Rule::new(line, String::new());
        while !self.at_end_of_statement() {
            let (_, col) = self.here();
            let at = self.pos;
            if let Err(e) = self.statement(&mut r) {
                if !e.msg.starts_with("unsupported: ") {
                    return Err(e);
                }
                let what = e.msg["unsupported: ".len()..].to_string();
                r.unsupported = Some((col, what));
                // From where the statement began, so braces it opened are skipped whole.
                self.pos = at;
                self.skip_statement();
                break;
            }
        }
        r.origin.full = self.full_text(file, line, col0);
        let src = &self.files[file as usize];
        r.origin.text = src
            .lines
            .get(line as usize - 1)
            .map(|l| {
                let start = l
                    .char_indices()
                    .nth((col0 as usize).saturating_sub(1))
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                let t = l[start..].trim();
                // A `# handle N` comment of `nft -a list ruleset` is not part of the rule.
                let t = match t.find(" # handle ") {
                    Some(i) => &t[..i],
                    None => t,
                };
                t.trim_end_matches('\\')
                    .trim()
                    .trim_end_matches(';')
                    .trim()
                    .to_string()
            })
            .unwrap_or_default();
        if file != 0 {
            r.origin.file = Some(src.name.clone());
        }
        Ok(r)
    }

    /// The rule that began at `line:col` of `file` and ends at the current token, as one line:
    /// its lines joined, `\` continuations and `#` comments left out.
    fn full_text(&self, file: u16, line: u32, col: u32) -> String {
        let lines = &self.files[file as usize].lines;
        let (end_line, end_col) = match self.toks.get(self.pos) {
            Some(t) if t.file == file && t.line >= line => (t.line, t.col),
            _ => (lines.len() as u32, u32::MAX),
        };
        let mut out = String::new();
        for l in line..=end_line {
            let Some(text) = lines.get(l as usize - 1) else {
                break;
            };
            let chars: Vec<char> = text.chars().collect();
            let from = if l == line { col as usize - 1 } else { 0 };
            let to = if l == end_line {
                (end_col as usize).saturating_sub(1).min(chars.len())
            } else {
                chars.len()
            };
            let mut piece = String::new();
            let mut quoted = false;
            for &c in chars.get(from.min(to)..to).unwrap_or(&[]) {
                match c {
                    '"' => quoted = !quoted,
                    '#' if !quoted => break,
                    _ => {}
                }
                piece.push(c);
            }
            let piece = piece.trim().trim_end_matches('\\').trim();
            if !piece.is_empty() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(piece);
            }
        }
        out.trim_end_matches(';').trim().to_string()
    }

    /// One statement of a rule: a match, a verdict map, a statement, a verdict.
    fn statement(&mut self, r: &mut Rule) -> R<()> {
        if r.verdict.is_some() && !matches!(self.peek_word(), Some("comment")) {
            return self.err("nothing but a comment may follow a verdict");
        }
        let start = self.pos;
        let w = self.word("a match, statement or verdict")?;
        match w.as_str() {
            "counter" => {
                r.counter = true;
                // `nft list ruleset` prints the counts; they are not kept.
                if self.eat_word("packets") {
                    self.word("a packet count")?;
                    self.expect_word("bytes")?;
                    self.word("a byte count")?;
                } else if self.eat_word("name") {
                    self.word("a counter name")?;
                }
            }
            "log" => {
                let mut prefix = String::new();
                while let Some(k) = self.peek_word() {
                    match k {
                        "prefix" => {
                            self.pos += 1;
                            prefix = self.word("a log prefix")?;
                        }
                        "level" | "group" | "snaplen" | "queue-threshold" => {
                            self.pos += 1;
                            self.word("a value")?;
                        }
                        // `flags tcp sequence,options`, `flags ip options`, `flags all`…
                        "flags" => {
                            self.pos += 1;
                            let f = self.word("a log flag")?;
                            if matches!(f.as_str(), "tcp" | "ip") {
                                loop {
                                    self.word("a log flag")?;
                                    if !self.eat_punct(",") {
                                        break;
                                    }
                                }
                            }
                        }
                        _ => break,
                    }
                }
                r.log = Some(prefix);
            }
            "comment" => r.comment = Some(self.word("a comment string")?),
            "accept" => r.verdict = Some(Verdict::Accept),
            "drop" => r.verdict = Some(Verdict::Drop),
            "reject" => {
                self.reject(r)?;
                r.verdict = Some(Verdict::Reject);
            }
            "continue" => r.verdict = Some(Verdict::Continue),
            "return" => r.verdict = Some(Verdict::Return),
            "jump" => r.verdict = Some(Verdict::Jump(self.word("a chain name")?)),
            "goto" => r.verdict = Some(Verdict::Goto(self.word("a chain name")?)),
            "notrack" => r.actions.push(Action::Notrack),
            "masquerade" | "snat" | "dnat" | "redirect" => {
                self.skip_args(0)?;
                r.actions
                    .push(Action::Nat(render(&self.toks[start..self.pos])));
            }
            "flow" => {
                // `flow add @ft` / `flow offload @ft`: a fast path, the verdicts are the same.
                self.word("add or offload")?;
                self.expect_punct("@")?;
                self.word("a flowtable name")?;
                r.actions
                    .push(Action::Other(render(&self.toks[start..self.pos])));
            }
            "limit" => {
                let a = self.limit()?;
                r.approx.push((a, render(&self.toks[start..self.pos])));
            }
            "quota" => {
                let a = self.quota()?;
                r.approx.push((a, render(&self.toks[start..self.pos])));
            }
            "meter" => {
                self.word("a meter name")?;
                if self.eat_word("size") {
                    self.word("a size")?;
                }
                let a = self.keyed_block()?;
                r.approx.push((a, render(&self.toks[start..self.pos])));
            }
            "add" | "update" | "delete" if self.peek() == Some(&Tok::Punct("@")) => {
                self.pos += 1;
                self.word("a set name")?;
                let a = self.keyed_block()?;
                r.approx.push((a, render(&self.toks[start..self.pos])));
            }
            "ct" if self.peek_word() == Some("count") => {
                self.pos += 1;
                let over = self.eat_word("over");
                let n = self.number()?;
                r.approx.push((
                    Approx::CtCount { over, n },
                    render(&self.toks[start..self.pos]),
                ));
            }
            _ => {
                self.pos = start;
                if self.setter()? {
                    r.actions
                        .push(Action::Other(render(&self.toks[start..self.pos])));
                    return Ok(());
                }
                let first = self.word("a match")?;
                let field = self.selector(&first)?;
                let mut more = Vec::new();
                while self.eat_word(".") {
                    let w = self.word("a selector")?;
                    more.push(self.selector(&w)?);
                }
                if self.eat_word("vmap") {
                    if r.vmap.is_some() {
                        return self.unsupported("two verdict maps in one rule");
                    }
                    let var = self.splice_var()?;
                    let map = if self.eat_punct("@") {
                        MapRef::Named(self.word("a map name")?)
                    } else {
                        self.expect_punct("{")?;
                        let kinds: Vec<Kind> = std::iter::once(field)
                            .chain(more.iter().copied())
                            .map(Kind::of)
                            .collect();
                        let (els, verdicts) = self.elements(&kinds, true)?;
                        MapRef::Inline(els.into_iter().zip(verdicts.unwrap_or_default()).collect())
                    };
                    r.vmap = Some(Vmap {
                        field,
                        more,
                        map,
                        var,
                    });
                    r.verdict = None;
                    return Ok(());
                }
                let m = self.match_rest(field, more)?;
                r.matches.push(m);
            }
        }
        Ok(())
    }

    /// `reject [with icmp|icmpv6|icmpx type T | with tcp reset]` (after `reject`). nft makes
    /// the rule match only packets the reply can answer: it adds `meta l4proto tcp` for a TCP
    /// reset, `meta nfproto ipv4` (ipv6) for an ICMP (ICMPv6) reply (`nft --debug=netlink`).
    fn reject(&mut self, r: &mut Rule) -> R<()> {
        if !self.eat_word("with") {
            return Ok(());
        }
        let start = self.pos - 1;
        let with = self.word("icmp, icmpv6, icmpx or tcp")?;
        let implied = match with.as_str() {
            "tcp" => Some((Field::L4Proto, 6)),
            "icmp" => Some((Field::Nfproto, 2)),
            "icmpv6" => Some((Field::Nfproto, 10)),
            _ => None,
        };
        let mut at = None;
        if let Some((field, v)) = implied {
            at = Some(r.matches.len());
            r.matches
                .push(Match::new(field, Op::Eq, Rhs::Values(vec![Value::Int(v)])));
        }
        self.word("type or reset")?;
        if !self.at_end_of_statement() && self.peek_word().is_some() {
            let save = self.pos;
            let v = self.word("a reject type")?;
            if matches!(v.as_str(), "comment" | "counter") {
                self.pos = save;
            }
        }
        r.reject_with = Some((render(&self.toks[start..self.pos]), at));
        Ok(())
    }

    /// `KEY … set VALUE` statements that change the packet's metadata, not its verdict
    /// (`meta mark set 1`, `ct mark set meta mark`, `tcp option maxseg size set rt mtu`,
    /// `meta nftrace set 1`): passed over whole. False (nothing consumed) when not one.
    fn setter(&mut self) -> R<bool> {
        // Only a key nft can set: anything else before `set` is a match to be read.
        const KEYS: [&[&str]; 22] = [
            &["meta", "mark"],
            &["meta", "priority"],
            &["meta", "nftrace"],
            &["meta", "pkttype"],
            &["meta", "secmark"],
            &["mark"],
            &["priority"],
            &["nftrace"],
            &["ct", "mark"],
            &["ct", "helper"],
            &["ct", "zone"],
            &["ct", "event"],
            &["ct", "label"],
            &["ct", "timeout"],
            &["ct", "expectation"],
            &["ct", "secmark"],
            &["ip", "dscp"],
            &["ip6", "dscp"],
            &["ip", "ttl"],
            &["ip6", "hoplimit"],
            &["tcp", "option", "maxseg", "size"],
            &["ip", "ecn"],
        ];
        let key_at = |p: &Self, key: &[&str]| {
            key.iter()
                .enumerate()
                .all(|(i, w)| matches!(p.peek_at(i), Some(Tok::Word(x)) if x == w))
                && matches!(p.peek_at(key.len()), Some(Tok::Word(x)) if x == "set")
        };
        let Some(k) = KEYS.iter().find(|k| key_at(self, k)).map(|k| k.len()) else {
            return Ok(false);
        };
        self.pos += k + 1;
        if self.skip_args(1)? == 0 {
            return self.err("expected a value after 'set'");
        }
        Ok(true)
    }

    /// Passes over a statement's free-form arguments (a NAT target with its maps, a `set`
    /// value) up to the next statement (after at least `min` tokens) or the end; returns how
    /// many tokens.
    fn skip_args(&mut self, min: usize) -> R<usize> {
        let mut n = 0;
        let mut depth = 0usize;
        loop {
            self.splice_var()?;
            match self.peek() {
                None => break,
                Some(Tok::Punct("{")) => depth += 1,
                Some(Tok::Punct("}")) if depth > 0 => depth -= 1,
                Some(Tok::Newline) if depth > 0 => {}
                _ if depth > 0 => {}
                _ if self.at_end_of_statement() => break,
                Some(Tok::Word(w)) if n >= min && starts_statement(w) => break,
                _ => {}
            }
            self.pos += 1;
            n += 1;
        }
        Ok(n)
    }

    fn number(&mut self) -> R<u64> {
        let w = self.word("a number")?;
        w.parse().or_else(|_| {
            self.pos -= 1;
            self.err(format!("'{w}' is not a number"))
        })
    }

    /// `limit rate [over] N/unit [burst M packets]`, `limit rate [over] N kbytes/second
    /// [burst M kbytes]` (after `limit`).
    fn limit(&mut self) -> R<Approx> {
        if self.eat_word("name") {
            return self.unsupported("named limit objects");
        }
        self.expect_word("rate")?;
        let over = self.eat_word("over");
        let at = self.pos;
        let w = self.word("a rate")?;
        // `10/second` is one word; `1 mbytes/second` two.
        let (num, unit) = match w.split_once('/') {
            Some((n, u)) => (n.to_string(), u.to_string()),
            None => {
                let u = self.word("a unit")?;
                (w.clone(), u)
            }
        };
        let (bytes, mult, per) = match unit.split_once('/') {
            Some((b, per)) => (true, byte_mult(b), per.to_string()),
            None => (false, Some(1), unit.clone()),
        };
        // Errors point at the rate.
        self.pos = self.pos.max(at + 1);
        let end = self.pos;
        self.pos = at;
        let n: f64 = num
            .parse()
            .or_else(|_| self.err(format!("'{num}' is not a rate")))?;
        let Some(mult) = mult else {
            return self.err(format!("'{unit}' is not a rate unit"));
        };
        let Some(secs) = time_unit(&per) else {
            return self.err(format!("'{per}' is not a time unit"));
        };
        self.pos = end;
        let per_s = n * mult as f64 / secs;
        let mut burst = if bytes { 0.0 } else { 5.0 };
        if self.eat_word("burst") {
            let b: f64 = self.number()? as f64;
            let unit = self.peek_word().map(str::to_string);
            let m = match unit.as_deref() {
                Some("packets") => {
                    self.pos += 1;
                    1
                }
                Some(u) => match byte_mult(u) {
                    Some(m) => {
                        self.pos += 1;
                        m
                    }
                    None => 1,
                },
                None => 1,
            };
            burst = b * m as f64;
        }
        if bytes && burst == 0.0 {
            burst = per_s;
        }
        Ok(Approx::Limit {
            over,
            per_s,
            burst,
            bytes,
        })
    }

    /// `quota [over|until] N unit [used M unit]` (after `quota`).
    fn quota(&mut self) -> R<Approx> {
        if self.eat_word("name") {
            return self.unsupported("named quota objects");
        }
        let over = self.eat_word("over");
        self.eat_word("until");
        let n = self.number()?;
        let u = self.word("a byte unit")?;
        let Some(m) = byte_mult(&u) else {
            self.pos -= 1;
            return self.err(format!("'{u}' is not a byte unit"));
        };
        if self.eat_word("used") {
            self.number()?;
            self.word("a byte unit")?;
        }
        Ok(Approx::Quota { over, bytes: n * m })
    }

    /// `{ KEY [timeout T] [STATEMENT] }` of a meter or a set update: the key's own instance of
    /// the statement.
    fn keyed_block(&mut self) -> R<Approx> {
        self.expect_punct("{")?;
        let mut key = Vec::new();
        loop {
            let w = self.word("a key")?;
            key.push(self.selector(&w)?);
            if !self.eat_word(".") {
                break;
            }
        }
        let mut inner = None;
        loop {
            match self.peek_word() {
                Some("timeout") => {
                    self.pos += 1;
                    self.word("a time")?;
                }
                Some("counter") => {
                    self.pos += 1;
                }
                Some("limit") => {
                    self.pos += 1;
                    inner = Some(Box::new(self.limit()?));
                }
                Some("quota") => {
                    self.pos += 1;
                    inner = Some(Box::new(self.quota()?));
                }
                Some("ct") if self.peek_at(1) == Some(&Tok::Word("count".into())) => {
                    self.pos += 2;
                    let over = self.eat_word("over");
                    let n = self.number()?;
                    inner = Some(Box::new(Approx::CtCount { over, n }));
                }
                _ => break,
            }
        }
        self.expect_punct("}")?;
        Ok(Approx::PerKey { key, inner })
    }

    /// The field a match reads, from its first word on (`ip saddr`, `tcp option maxseg size`,
    /// `iif`); an error naming the construct when packetlab does not simulate it.
    fn selector(&mut self, first: &str) -> R<Field> {
        let sub = |p: &mut Self, what: &str| -> R<String> { p.word(what) };
        let unsupported = |p: &mut Self, what: String| -> R<Field> {
            p.pos -= 1;
            p.unsupported(&format!("'{what}'"))
        };
        Ok(match first {
            "ip" => {
                let f = sub(self, "saddr, daddr, protocol…")?;
                match f.as_str() {
                    "saddr" => Field::IpSaddr,
                    "daddr" => Field::IpDaddr,
                    "protocol" => Field::IpProtocol,
                    "ttl" => Field::IpTtl,
                    "length" => Field::IpLength,
                    other => return unsupported(self, format!("ip {other}")),
                }
            }
            "ip6" => {
                let f = sub(self, "saddr, daddr, nexthdr…")?;
                match f.as_str() {
                    "saddr" => Field::Ip6Saddr,
                    "daddr" => Field::Ip6Daddr,
                    "nexthdr" => Field::Ip6Nexthdr,
                    "hoplimit" => Field::Ip6Hoplimit,
                    "length" => Field::Ip6Length,
                    other => return unsupported(self, format!("ip6 {other}")),
                }
            }
            "meta" => {
                let f = sub(self, "a meta key")?;
                match f.as_str() {
                    "l4proto" => Field::L4Proto,
                    "iifname" | "iif" => Field::Iifname,
                    "oifname" | "oif" => Field::Oifname,
                    "nfproto" => Field::Nfproto,
                    "protocol" => Field::EtherProto,
                    "pkttype" => Field::Pkttype,
                    other => return unsupported(self, format!("meta {other}")),
                }
            }
            "iifname" | "iif" => Field::Iifname,
            "oifname" | "oif" => Field::Oifname,
            "pkttype" => Field::Pkttype,
            "tcp" | "udp" | "th" => {
                let l4 = match first {
                    "tcp" => L4::Tcp,
                    "udp" => L4::Udp,
                    _ => L4::Th,
                };
                let f = sub(self, "sport, dport, flags or option")?;
                match (f.as_str(), l4) {
                    ("sport", _) => Field::Sport(l4),
                    ("dport", _) => Field::Dport(l4),
                    ("flags", L4::Tcp) => Field::TcpFlags,
                    ("option", L4::Tcp) => {
                        let o = sub(self, "an option")?;
                        if o != "maxseg" {
                            return unsupported(self, format!("tcp option {o}"));
                        }
                        // `tcp option maxseg size …`; bare, with `exists`/`missing`.
                        self.eat_word("size");
                        Field::TcpMss
                    }
                    (other, _) => return unsupported(self, format!("{first} {other}")),
                }
            }
            "ct" => {
                let f = sub(self, "state or status")?;
                match f.as_str() {
                    "state" => Field::CtState,
                    "status" => Field::CtStatus,
                    other => return unsupported(self, format!("ct {other}")),
                }
            }
            "icmp" | "icmpv6" => {
                let f = sub(self, "type or code")?;
                match (f.as_str(), first) {
                    ("type", "icmp") => Field::IcmpType,
                    ("type", _) => Field::Icmpv6Type,
                    ("code", "icmp") => Field::IcmpCode,
                    ("code", _) => Field::Icmpv6Code,
                    (other, _) => return unsupported(self, format!("{first} {other}")),
                }
            }
            "fib" => {
                let a = sub(self, "daddr")?;
                if a == "daddr" && self.eat_word("type") {
                    Field::FibDaddrType
                } else if a == "saddr" {
                    // `fib saddr . iif oif`: the reverse-path lookup, in the host's routes.
                    let at = self.pos;
                    let ok = self.eat_word(".")
                        && self.eat_word("iif")
                        && self.eat_word("oif")
                        && matches!(self.peek_word(), Some("missing" | "exists"));
                    if !ok {
                        self.pos = at;
                        return unsupported(self, "fib saddr".into());
                    }
                    Field::FibRpf
                } else {
                    return unsupported(self, format!("fib {a}"));
                }
            }
            other => {
                self.pos -= 1;
                return self.unsupported(&format!("'{other}'"));
            }
        })
    }

    /// After a field (or concatenation): an optional operator, then what it is compared with.
    fn match_rest(&mut self, field: Field, more: Vec<Field>) -> R<Match> {
        let kind = Kind::of(field);
        let kinds: Vec<Kind> = std::iter::once(field)
            .chain(more.iter().copied())
            .map(Kind::of)
            .collect();
        let build = |op, rhs, var| Match {
            field,
            more: more.clone(),
            op,
            rhs,
            var,
        };
        if matches!(field, Field::TcpMss | Field::FibRpf) && more.is_empty() {
            if self.eat_word("exists") {
                return Ok(build(Op::Eq, Rhs::Exists(true), None));
            }
            if self.eat_word("missing") {
                return Ok(build(Op::Eq, Rhs::Exists(false), None));
            }
        }
        if field == Field::TcpFlags && self.eat_punct("&") {
            let mask = self.flag_expr(kind)?;
            let op = if self.eat_punct("==") {
                Op::Eq
            } else if self.eat_punct("!=") {
                Op::Ne
            } else {
                return self.err("expected '==' or '!=' after a flag mask");
            };
            let value = self.flag_expr(kind)?;
            return Ok(build(op, Rhs::Masked { mask, value }, None));
        }
        // `< N`, `<= N`, `> N`, `>= N`: ranges of the field's values.
        for (p, lt, strict) in [
            ("<", true, true),
            ("<=", true, false),
            (">", false, true),
            (">=", false, false),
        ] {
            if self.eat_punct(p) {
                let Value::Int(n) = self.value(kind)? else {
                    return self.err("expected a number");
                };
                let max = kind.max();
                let (lo, hi) = match (lt, strict) {
                    (true, true) if n == 0 => (1, 0),
                    (true, true) => (0, n - 1),
                    (true, false) => (0, n),
                    (false, true) => (n.saturating_add(1), max),
                    (false, false) => (n, max),
                };
                let vals = if lo > hi {
                    vec![]
                } else {
                    vec![Value::IntRange(lo, hi)]
                };
                return Ok(build(Op::Eq, Rhs::Values(vals), None));
            }
        }
        let explicit = if self.eat_punct("==") {
            Some(Op::Eq)
        } else if self.eat_punct("!=") {
            Some(Op::Ne)
        } else {
            None
        };
        // `!` (as in `ct state ! new`) negates the implicit comparison: for a bit-mask field,
        // none of the bits set.
        let bang = explicit.is_none() && self.eat_punct("!");
        let op = if bang {
            Op::Ne
        } else {
            explicit.unwrap_or(Op::Eq)
        };
        let var = self.splice_var()?;
        if self.eat_punct("@") {
            return Ok(build(op, Rhs::Set(self.word("a set name")?), None));
        }
        if self.eat_punct("{") {
            let (vals, _) = self.elements(&kinds, false)?;
            return Ok(build(op, Rhs::Values(vals), var));
        }
        let is_bit_field =
            matches!(field, Field::TcpFlags | Field::CtState | Field::CtStatus) && more.is_empty();
        if is_bit_field && matches!(self.peek(), Some(Tok::Punct("("))) {
            // `tcp flags == (fin|syn|rst)`: the flags ORed, compared exactly.
            let b = self.flag_expr(kind)?;
            let rhs = if explicit.is_some() {
                Rhs::Values(vec![Value::Int(b)])
            } else {
                Rhs::AnyBits(b)
            };
            return Ok(build(op, rhs, var));
        }
        let mut vals = vec![self.element(&kinds, false)?];
        while self.eat_punct(",") || (is_bit_field && self.eat_punct("|")) {
            vals.push(self.element(&kinds, false)?);
        }
        let bits = || {
            vals.iter().fold(0, |acc, v| match v {
                Value::Int(n) => acc | n,
                _ => acc,
            })
        };
        // `tcp flags syn / fin,syn,rst,ack`: the flags under the mask are exactly these.
        if field == Field::TcpFlags && self.peek_word() == Some("/") {
            self.pos += 1;
            let mut mask = 0;
            loop {
                match self.value(kind)? {
                    Value::Int(n) => mask |= n,
                    _ => return self.err("expected a flag"),
                }
                if !self.eat_punct(",") {
                    break;
                }
            }
            let value = bits();
            return Ok(build(op, Rhs::Masked { mask, value }, var));
        }
        let is_bits =
            matches!(field, Field::TcpFlags | Field::CtState | Field::CtStatus) && more.is_empty();
        // With `==` or `!=`, nft ORs a list of flags into one value and compares exactly:
        // `tcp flags != syn,ack` is `flags != 0x12`, `ct state == new,established` never
        // matches (`nft --debug=netlink`: `cmp neq reg 1 0x00000012`).
        if is_bits && explicit.is_some() && vals.len() > 1 {
            let b = bits();
            return Ok(build(op, Rhs::Values(vec![Value::Int(b)]), var));
        }
        // A bit-mask field given bare flags means "any of these bits set" (nft's implicit
        // `& flags != 0`); with `==` or `!=` it is an exact comparison.
        if is_bits && explicit.is_none() {
            let b = bits();
            return Ok(build(op, Rhs::AnyBits(b), var));
        }
        Ok(build(op, Rhs::Values(vals), var))
    }

    fn flag_expr(&mut self, kind: Kind) -> R<u64> {
        let paren = self.eat_punct("(");
        let mut bits = 0;
        loop {
            match self.value(kind)? {
                Value::Int(n) => bits |= n,
                _ => return self.err("expected a flag"),
            }
            if !(self.eat_punct("|") || self.eat_punct(",")) {
                break;
            }
        }
        if paren {
            self.expect_punct(")")?;
        }
        Ok(bits)
    }

    fn value(&mut self, kind: Kind) -> R<Value> {
        self.splice_var()?;
        let (line, col) = self.here();
        let w = match self.next() {
            Some(Tok::Word(w)) => w,
            Some(Tok::Str(s)) if kind == Kind::Name => return Ok(Value::Name(s)),
            // nft reads a quoted value as the word inside (`ip daddr "10.0.0.1"`).
            Some(Tok::Str(s)) => s,
            _ => {
                self.pos -= 1;
                return self.err(format!("expected {}", kind.what()));
            }
        };
        let bad = |msg: String| ParseError {
            file: self.file_name(),
            line,
            col,
            msg,
        };
        match kind {
            Kind::Name => Ok(Value::Name(w)),
            Kind::Addr => parse_addr(&w)
                .ok_or_else(|| bad(format!("'{w}' is not an address, prefix or range"))),
            _ => {
                let one = |s: &str| -> Option<u64> {
                    match s.strip_prefix("0x") {
                        Some(hex) => u64::from_str_radix(hex, 16).ok(),
                        None => s.parse::<u64>().ok().or_else(|| names::lookup(kind, s)),
                    }
                };
                if let Some(n) = one(&w) {
                    return Ok(Value::Int(n));
                }
                if let Some((a, b)) = w.split_once('-') {
                    if let (Some(a), Some(b)) = (one(a), one(b)) {
                        return Ok(Value::IntRange(a.min(b), a.max(b)));
                    }
                }
                Err(bad(format!("'{w}' is not {}", kind.what())))
            }
        }
    }
}

/// Bytes per unit of `bytes`, `kbytes`, `mbytes`.
fn byte_mult(u: &str) -> Option<u64> {
    Some(match u {
        "bytes" => 1,
        "kbytes" => 1024,
        "mbytes" => 1024 * 1024,
        "gbytes" => 1024 * 1024 * 1024,
        _ => return None,
    })
}

fn time_unit(u: &str) -> Option<f64> {
    Some(match u {
        "second" => 1.0,
        "minute" => 60.0,
        "hour" => 3600.0,
        "day" => 86400.0,
        "week" => 7.0 * 86400.0,
        _ => return None,
    })
}

/// The kind of a set's `type` word.
fn kind_of_type(t: &str) -> Kind {
    match t {
        "ipv4_addr" | "ipv6_addr" => Kind::Addr,
        "inet_service" => Kind::Port,
        "inet_proto" => Kind::Proto,
        "ifname" => Kind::Name,
        "mark" | "integer" => Kind::Int,
        "ct_state" => Kind::CtState,
        "icmp_type" => Kind::IcmpType,
        "icmpv6_type" => Kind::Icmpv6Type,
        "icmp_code" => Kind::IcmpCode,
        "icmpv6_code" => Kind::Icmpv6Code,
        "nf_proto" => Kind::Nfproto,
        "pkt_type" => Kind::Pkttype,
        _ => Kind::Other,
    }
}

/// The kinds of a kept set's type text (`type ipv4_addr . inet_service`).
fn kinds_of_type(ty: &str) -> Vec<Kind> {
    ty.split_whitespace()
        .skip(1)
        .filter(|w| *w != ".")
        .take_while(|w| *w != ":")
        .map(kind_of_type)
        .collect()
}

/// What the values of a field are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Addr,
    Port,
    Proto,
    TcpFlag,
    CtState,
    IcmpType,
    Icmpv6Type,
    IcmpCode,
    Icmpv6Code,
    Name,
    /// A plain number (TTL, length, MSS, mark).
    Int,
    Nfproto,
    EtherType,
    Pkttype,
    CtStatus,
    FibType,
    /// A set type packetlab does not read (ether_addr, …).
    Other,
}

impl Kind {
    pub fn of(f: Field) -> Kind {
        match f {
            Field::IpSaddr | Field::IpDaddr | Field::Ip6Saddr | Field::Ip6Daddr => Kind::Addr,
            Field::IpProtocol | Field::L4Proto => Kind::Proto,
            Field::Sport(_) | Field::Dport(_) => Kind::Port,
            Field::TcpFlags => Kind::TcpFlag,
            Field::CtState => Kind::CtState,
            Field::IcmpType => Kind::IcmpType,
            Field::Icmpv6Type => Kind::Icmpv6Type,
            Field::IcmpCode => Kind::IcmpCode,
            Field::Icmpv6Code => Kind::Icmpv6Code,
            Field::Iifname | Field::Oifname => Kind::Name,
            Field::Ip6Nexthdr => Kind::Proto,
            Field::IpTtl
            | Field::IpLength
            | Field::Ip6Hoplimit
            | Field::Ip6Length
            | Field::TcpMss => Kind::Int,
            Field::Nfproto => Kind::Nfproto,
            Field::EtherProto => Kind::EtherType,
            Field::Pkttype => Kind::Pkttype,
            Field::CtStatus => Kind::CtStatus,
            Field::FibDaddrType => Kind::FibType,
            Field::FibRpf => Kind::Other,
        }
    }

    /// The largest value of the field (for `>` comparisons).
    fn max(self) -> u64 {
        match self {
            Kind::Port | Kind::Int | Kind::EtherType => 65535,
            _ => 255,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Addr => "an address",
            Kind::Port => "a port or service name",
            Kind::Proto => "a protocol",
            Kind::TcpFlag => "a TCP flag",
            Kind::CtState => "a ct state",
            Kind::IcmpType => "an ICMP type",
            Kind::Icmpv6Type => "an ICMPv6 type",
            Kind::IcmpCode => "an ICMP code",
            Kind::Icmpv6Code => "an ICMPv6 code",
            Kind::Name => "an interface name",
            Kind::Int => "a number",
            Kind::Nfproto => "ipv4 or ipv6",
            Kind::EtherType => "an ethertype",
            Kind::Pkttype => "a packet type",
            Kind::CtStatus => "a ct status",
            Kind::FibType => "an address type",
            Kind::Other => "a value",
        }
    }
}

/// An address, `addr/len` prefix or `a-b` range.
pub fn parse_addr(w: &str) -> Option<Value> {
    if let Some((a, l)) = w.split_once('/') {
        let a: IpAddr = a.parse().ok()?;
        let l: u8 = l.parse().ok()?;
        let max = if a.is_ipv4() { 32 } else { 128 };
        return (l <= max).then_some(Value::Prefix(a, l));
    }
    if let Ok(a) = w.parse::<IpAddr>() {
        return Some(Value::Prefix(a, if a.is_ipv4() { 32 } else { 128 }));
    }
    let (a, b) = w.split_once('-')?;
    let (a, b): (IpAddr, IpAddr) = (a.parse().ok()?, b.parse().ok()?);
    (a.is_ipv4() == b.is_ipv4()).then_some(Value::AddrRange(a, b))
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
    if let Some(Verdict::Jump(c) | Verdict::Goto(c)) = &rule.verdict {
        if table.chain(c).is_none() {
            return Err(missing(c.clone()));
        }
    }
    rule.origin.text = text.trim().to_string();
    Ok(rule)
}
