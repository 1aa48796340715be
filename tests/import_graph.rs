//! The shape of `src/`: no import circle between its files, and the layering rules of
//! ARCHITECTURE.md (the app holds state and returns effects; the terminal and every side effect
//! live in `tui/`).
//!
//! Nodes are the files of `src/`. An edge is a `use` of `crate::…`, `super::…`, `self::…` or a
//! child module, or an inline path of those forms, in one file naming an item of another file
//! (resolved to the deepest file the path reaches). Not counted: `mod x;` declarations, a
//! folder's `mod.rs` re-exporting its own children with `pub use` (that is the folder's table of
//! contents, not a dependency), and test code (`#[cfg(test)]` items, `tests.rs`, `*_tests.rs`),
//! which may reach anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One file of the tree: its module path and what it refers to.
struct FileInfo {
    module: Vec<String>,
    /// Child modules declared with `mod x;` (or inline `mod x { … }`).
    children: BTreeSet<String>,
    /// (line, path, is a `pub use` re-export) for every reference found.
    refs: Vec<(usize, Vec<String>, bool)>,
    /// The code with comments, strings and test items blanked, for the text rules.
    code: String,
}

/// Blanks comments, string and char literals (keeping line breaks, so line numbers stay true).
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('#') || next == Some('"')) && !ident_char_before(&b, i)
        {
            // Raw string r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while j < b.len() && b[j] == '#' {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < b.len() {
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &ch in &b[i..j.min(b.len())] {
                out.push(blank(ch));
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('a', '\n', '\u{1F600}'), not a lifetime ('a without a closing ').
            let close = if next == Some('\\') {
                (i + 2..b.len().min(i + 12)).find(|&j| b[j] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(j) => {
                    for _ in i..=j {
                        out.push(' ');
                    }
                    i = j + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_char_before(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

/// Blanks every `#[cfg(test)]` item (a `mod tests { … }`, a test-only fn or use).
fn drop_test_items(code: &str) -> String {
    let mut b: Vec<char> = code.chars().collect();
    let pat: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut i = 0;
    while i + pat.len() <= b.len() {
        if b[i..i + pat.len()] != pat[..] {
            i += 1;
            continue;
        }
        // The item ends at its matching `}` or at the first `;` before any `{`.
        let mut j = i + pat.len();
        let mut depth = 0usize;
        while j < b.len() {
            match b[j] {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                }
                ';' if depth == 0 => break,
                _ => {}
            }
            j += 1;
        }
        let stop = (j + 1).min(b.len());
        for ch in b.iter_mut().take(stop).skip(i) {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
        i = j + 1;
    }
    b.into_iter().collect()
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Expands a use tree (`a::{b, c::{d, e}}`, `a::b as c`, `a::*`) into its leaf paths.
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    fn go(s: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let s = s.trim();
        if s.is_empty() {
            return;
        }
        if let Some(open) = s.find('{') {
            let head: Vec<String> = s[..open]
                .split("::")
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect();
            let mut p = prefix.to_vec();
            p.extend(head);
            let inner = &s[open + 1..s.rfind('}').unwrap_or(s.len())];
            // Split the group at top-level commas.
            let mut depth = 0;
            let mut start = 0;
            for (k, ch) in inner.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        go(&inner[start..k], &p, out);
                        start = k + 1;
                    }
                    _ => {}
                }
            }
            go(&inner[start..], &p, out);
        } else {
            let s = s.split(" as ").next().unwrap_or(s);
            let mut p = prefix.to_vec();
            p.extend(
                s.split("::")
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty()),
            );
            if !p.is_empty() {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    go(tree, &[], &mut out);
    out
}

fn line_of(code: &str, pos: usize) -> usize {
    code[..pos].matches('\n').count() + 1
}

fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().to_string())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

fn read_file(src: &Path, file: &Path) -> FileInfo {
    let text = std::fs::read_to_string(file).unwrap();
    let code = drop_test_items(&strip(&text));
    let module = module_of(src, file);
    let mut children = BTreeSet::new();
    let mut refs = Vec::new();
    let chars: Vec<(usize, char)> = code.char_indices().collect();
    let word_at = |k: usize, w: &str| -> bool {
        code[chars[k].0..].starts_with(w)
            && (k == 0 || !is_ident(chars[k - 1].1))
            && code[chars[k].0 + w.len()..]
                .chars()
                .next()
                .is_none_or(|c| !is_ident(c))
    };
    // Pass 1: child modules and `use` statements, with the inline `mod x {` nesting they sit in.
    let mut k = 0;
    let mut inline: Vec<(String, usize)> = Vec::new(); // (name, brace depth at its opening)
    let mut depth = 0usize;
    let mut use_spans = Vec::new();
    while k < chars.len() {
        let (pos, c) = chars[k];
        match c {
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            _ => {}
        }
        if word_at(k, "mod") {
            let rest = &code[pos + 3..];
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|&c| is_ident(c))
                .collect();
            let after = rest.trim_start()[name.len()..].trim_start();
            if !name.is_empty() && inline.is_empty() {
                children.insert(name.clone());
            }
            if after.starts_with('{') {
                inline.push((name, depth));
            }
        }
        if word_at(k, "use") {
            let end = code[pos..].find(';').map(|e| pos + e).unwrap_or(code.len());
            let before = code[..pos].trim_end();
            let is_pub =
                before.ends_with("pub") || before.ends_with(')') && before.contains("pub(");
            let here: Vec<String> = module
                .iter()
                .cloned()
                .chain(inline.iter().map(|(n, _)| n.clone()))
                .collect();
            for p in expand_use(&code[pos + 3..end]) {
                refs.push((
                    line_of(&code, pos),
                    absolute(&here, &p),
                    is_pub && inline.is_empty(),
                ));
            }
            use_spans.push((pos, end));
        }
        k += 1;
    }
    // Pass 2: inline paths `crate::…`, `super::…`, `self::…`, `child::…` outside `use`.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut k = 0;
    while k < chars.len() {
        let (pos, c) = chars[k];
        match c {
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            _ => {}
        }
        if word_at(k, "mod") {
            let rest = code[pos + 3..].trim_start();
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if rest[name.len()..].trim_start().starts_with('{') {
                inline.push((name, depth));
            }
        }
        let in_use = use_spans.iter().any(|&(s, e)| pos >= s && pos < e);
        if !in_use && is_ident(c) && (k == 0 || !is_ident(chars[k - 1].1) && chars[k - 1].1 != ':')
        {
            let rest = &code[pos..];
            let path: String = rest
                .chars()
                .take_while(|&c| is_ident(c) || c == ':')
                .collect();
            let segs: Vec<String> = path
                .split("::")
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty())
                .collect();
            let first = segs.first().map(String::as_str).unwrap_or("");
            let relative = matches!(first, "crate" | "super" | "self" | "packetlab")
                || (children.contains(first) && inline.is_empty());
            if path.contains("::") && relative {
                let here: Vec<String> = module
                    .iter()
                    .cloned()
                    .chain(inline.iter().map(|(n, _)| n.clone()))
                    .collect();
                refs.push((line_of(&code, pos), absolute(&here, &segs), false));
            }
            k += path.chars().count().max(1);
            continue;
        }
        k += 1;
    }
    FileInfo {
        module,
        children,
        refs,
        code,
    }
}

/// The absolute module path of `p` as written in module `here`.
fn absolute(here: &[String], p: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut segs = p.iter().peekable();
    match segs.peek().map(|s| s.as_str()) {
        Some("crate") | Some("packetlab") => {
            segs.next();
        }
        Some("super") | Some("self") => {
            out = here.to_vec();
            while let Some(s) = segs.peek() {
                match s.as_str() {
                    "super" => {
                        out.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                segs.next();
            }
        }
        // A child module of `here` (2018 paths), or an extern crate (resolved to nothing).
        _ => out = here.to_vec(),
    }
    out.extend(segs.cloned());
    out
}

/// The file that holds module path `m`'s deepest existing prefix.
fn resolve(files: &BTreeMap<Vec<String>, PathBuf>, m: &[String]) -> Option<PathBuf> {
    (0..=m.len())
        .rev()
        .find_map(|n| files.get(&m[..n]).cloned())
}

fn is_test_file(p: &Path) -> bool {
    let n = p.file_name().unwrap().to_string_lossy();
    n == "tests.rs" || n.ends_with("_tests.rs")
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Edges file → file, each with the line that makes it.
type Graph = BTreeMap<PathBuf, BTreeMap<PathBuf, usize>>;

struct Tree {
    graph: Graph,
    infos: BTreeMap<PathBuf, FileInfo>,
}

fn build(src: &Path) -> Tree {
    let mut paths = Vec::new();
    rs_files(src, &mut paths);
    paths.sort();
    let mut files = BTreeMap::new();
    let mut infos = BTreeMap::new();
    for p in &paths {
        let info = read_file(src, p);
        // main.rs is its own crate root: it may only reach the library by name.
        if !p.ends_with("main.rs") {
            files.insert(info.module.clone(), p.clone());
        }
        infos.insert(p.clone(), info);
    }
    // What each folder's mod.rs re-exports, by name, so a path through it reaches the file
    // that really holds the item.
    let mut reexports: BTreeMap<PathBuf, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (p, info) in &infos {
        for (_, path, is_pub_use) in &info.refs {
            if *is_pub_use && path.len() > info.module.len() {
                if let Some(last) = path.last().filter(|l| *l != "*") {
                    reexports
                        .entry(p.clone())
                        .or_default()
                        .insert(last.clone(), path.clone());
                }
            }
        }
    }
    let through = |mut path: Vec<String>| -> Option<PathBuf> {
        let mut target = resolve(&files, &path)?;
        for _ in 0..8 {
            let m = &infos[&target].module;
            let Some(next) = path
                .get(m.len())
                .filter(|_| path.len() > m.len() && path[..m.len()] == m[..])
                .and_then(|name| reexports.get(&target)?.get(name))
            else {
                break;
            };
            let mut p2 = next.clone();
            p2.extend(path[m.len() + 1..].iter().cloned());
            let t2 = resolve(&files, &p2)?;
            if t2 == target {
                break;
            }
            path = p2;
            target = t2;
        }
        Some(target)
    };
    let mut graph: Graph = BTreeMap::new();
    for (p, info) in &infos {
        graph.entry(p.clone()).or_default();
        if is_test_file(p) {
            continue;
        }
        let is_mod = p.ends_with("mod.rs") || p.ends_with("lib.rs");
        for (line, path, is_pub_use) in &info.refs {
            // A folder's table of contents: `pub use child::Item` in its mod.rs.
            let own_child = path.len() > info.module.len()
                && path[..info.module.len()] == info.module[..]
                && info.children.contains(&path[info.module.len()]);
            if is_mod && *is_pub_use && own_child {
                continue;
            }
            let Some(target) = through(path.clone()) else {
                continue;
            };
            if &target == p || is_test_file(&target) {
                continue;
            }
            graph.get_mut(p).unwrap().entry(target).or_insert(*line);
        }
    }
    Tree { graph, infos }
}

/// Strongly connected components with more than one file (Tarjan's algorithm).
fn circles(g: &Graph) -> Vec<Vec<PathBuf>> {
    struct St<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on: BTreeSet<&'a PathBuf>,
        next: usize,
        out: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(s: &mut St<'a>, v: &'a PathBuf) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        for w in s.g[v].keys() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = St {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// One concrete circle inside a component, as `a.rs:LINE → b.rs:LINE → … → a.rs`.
fn describe(g: &Graph, comp: &[PathBuf], src: &Path) -> String {
    let inside: BTreeSet<&PathBuf> = comp.iter().collect();
    let start = &comp[0];
    // Breadth-first from start back to start, inside the component.
    let mut prev: BTreeMap<&PathBuf, &PathBuf> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    let mut found = None;
    while let Some(v) = queue.pop_front() {
        for w in g[v].keys().filter(|w| inside.contains(w)) {
            if w == start {
                found = Some(v);
                break;
            }
            if !prev.contains_key(w) {
                prev.insert(w, v);
                queue.push_back(w);
            }
        }
        if found.is_some() {
            break;
        }
    }
    let mut chain = vec![start];
    let mut v = found.unwrap();
    while v != start {
        chain.push(v);
        v = prev[v];
    }
    chain.push(start);
    let n = chain.len();
    chain[1..n - 1].reverse();
    let rel = |p: &PathBuf| p.strip_prefix(src).unwrap().display().to_string();
    let mut s = String::new();
    for w in chain.windows(2) {
        s.push_str(&format!("{}:{} → ", rel(w[0]), g[w[0]][w[1]]));
    }
    s.push_str(&rel(start));
    s
}

/// Everything wrong with the tree at `src`, one line each.
fn problems(src: &Path) -> Vec<String> {
    let t = build(src);
    let mut out: Vec<String> = circles(&t.graph)
        .iter()
        .map(|c| {
            let others = if c.len() > 2 {
                format!(" ({} files in this knot)", c.len())
            } else {
                String::new()
            };
            format!("import circle: {}{others}", describe(&t.graph, c, src))
        })
        .collect();
    let rel = |p: &Path| p.strip_prefix(src).unwrap().display().to_string();
    for (from, tos) in &t.graph {
        let f = rel(from);
        if !f.starts_with("app/") {
            continue;
        }
        for (to, line) in tos {
            let t = rel(to);
            if t.starts_with("ui/") || t.starts_with("tui/") || t == "run.rs" || t == "launch.rs" {
                out.push(format!(
                    "layering: {f}:{line} uses {t} (the app is state and update only)"
                ));
            }
        }
    }
    // Side effects and the terminal, by the names that reach them.
    let rules: &[(&str, &[&str], &[&str])] = &[
        (
            "app/",
            &[
                "std::fs",
                "fs::write",
                "fs::read",
                "File::create",
                "File::open",
                "tokio::spawn",
                "thread::spawn",
                "Command::new",
                "spawn_blocking",
            ],
            &[],
        ),
        // The engine and everything it is built from know no terminal.
        (
            "",
            &["ratatui", "crossterm"],
            &[
                "ui/",
                "tui/",
                "app/",
                "config.rs",
                "cli.rs",
                "run.rs",
                "launch.rs",
            ],
        ),
    ];
    for (file, info) in &t.infos {
        let f = rel(file);
        if is_test_file(file) || f == "main.rs" {
            continue;
        }
        for (under, names, except) in rules {
            if !f.starts_with(under) || except.iter().any(|e| f.starts_with(e)) {
                continue;
            }
            let mut lines_seen = BTreeSet::new();
            for name in names.iter() {
                if let Some(pos) = info.code.find(name) {
                    if !lines_seen.insert(line_of(&info.code, pos)) {
                        continue;
                    }
                    let what = if name.starts_with("ratatui") || name.starts_with("crossterm") {
                        "terminal code in the engine"
                    } else {
                        "a side effect in the app (return an Effect instead)"
                    };
                    out.push(format!(
                        "layering: {f}:{} names {name}: {what}",
                        line_of(&info.code, pos)
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn src_has_no_import_circles_and_keeps_its_layers() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let p = problems(&src);
    let t = build(&src);
    let edges: usize = t.graph.values().map(|m| m.len()).sum();
    println!(
        "import graph: {} files, {edges} edges between files",
        t.graph.len()
    );
    assert!(
        t.graph.len() > 50 && edges > 100,
        "the checker read too little of src/"
    );
    assert!(p.is_empty(), "{} problems:\n{}", p.len(), p.join("\n"));
}

/// The checker itself: a tree with a circle, a forbidden edge and a side effect is caught; the
/// same tree without them is clean.
#[test]
fn checker_finds_what_it_must() {
    let dir = std::env::temp_dir().join(format!("packetlab-import-graph-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let w = |p: &str, s: &str| {
        let f = dir.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, s).unwrap();
    };
    w(
        "lib.rs",
        "pub mod a;\npub mod b;\npub mod app;\npub mod ui;\n",
    );
    w(
        "a.rs",
        "use crate::b::B;\npub struct A;\n// crate::b::nothing in a comment\n",
    );
    w(
        "b.rs",
        "pub struct B;\nfn f() -> crate::a::A { crate::a::A }\n",
    );
    w("app/mod.rs", "pub mod state;\npub use state::App;\n");
    w(
        "app/state.rs",
        "pub struct App;\nfn save() { std::fs::write(\"x\", \"\").ok(); }\n",
    );
    w("ui/mod.rs", "use crate::app::App;\nfn r(_: &App) {}\n");
    let p = problems(&dir);
    assert!(
        p.iter()
            .any(|l| l.starts_with("import circle: a.rs:1 → b.rs:2 → a.rs")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|l| l.contains("app/state.rs:2 names std::fs")),
        "{p:?}"
    );
    // Re-exports in app/mod.rs are its table of contents, and ui → app is the allowed way.
    assert_eq!(p.len(), 2, "{p:?}");
    w("b.rs", "pub struct B;\n");
    w(
        "app/state.rs",
        "pub struct App;\n#[cfg(test)]\nmod tests { fn t() { std::fs::read(\"x\").ok(); } }\n",
    );
    assert!(problems(&dir).is_empty(), "{:?}", problems(&dir));
    // An app file reaching the UI is a layering error, and with ui → app a circle.
    w(
        "app/state.rs",
        "pub struct App;\nfn f() { crate::ui::r; }\n",
    );
    let p = problems(&dir);
    assert!(
        p.iter()
            .any(|l| l.contains("layering: app/state.rs:2 uses ui/mod.rs")),
        "{p:?}"
    );
    assert!(p.iter().any(|l| l.starts_with("import circle:")), "{p:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
