//! What both rule-file parsers (nft and iptables-save) share: the error they report, the files
//! they read, and the address syntax both accept.

use std::fmt;
use std::net::IpAddr;

use super::model::Value;

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
pub(crate) struct Source {
    pub name: String,
    pub lines: Vec<String>,
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

/// The candidate closest to `w` by edit distance, when close enough to be the likely intent.
pub(crate) fn suggest<'a>(
    w: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = match w.chars().count() {
        // A word of one or two letters is a letter away from too many to guess.
        0..=2 => 0,
        3..=5 => 2,
        _ => 3,
    };
    candidates
        .into_iter()
        .map(|c| (distance(w, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, an adjacent swap counting one (the commonest typo).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}
