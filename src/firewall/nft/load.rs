//! Reading the files of a ruleset: lexing each one and splicing in what its `include`s name
//! (relative to the including file, globs sorted), from disk.

use std::path::{Path, PathBuf};

use crate::firewall::lexer::{lex, Tok, Token};
use crate::firewall::syntax::{ParseError, Source};

use super::cursor::R;

/// How deep includes may nest (nft's own limit is 16).
pub(super) const MAX_INCLUDE_DEPTH: usize = 16;

/// Lexes one file and splices in the files it includes.
pub(super) fn load(
    src: &str,
    name: &str,
    dir: &Path,
    files: &mut Vec<Source>,
    depth: usize,
) -> R<Vec<Token>> {
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
pub(super) fn include_paths(dir: &Path, target: &str) -> Result<Vec<PathBuf>, String> {
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
    // A glob in a folder that does not exist matches nothing, as in nft (`nft -c` accepts
    // `include "/etc/nftables.conf.d/*.nft"` without the folder).
    let entries = match std::fs::read_dir(parent) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("include \"{target}\": {}: {e}", parent.display())),
    };
    let mut v: Vec<PathBuf> = entries
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
pub(super) fn glob_match(pat: &str, s: &str) -> bool {
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
