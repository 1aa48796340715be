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
