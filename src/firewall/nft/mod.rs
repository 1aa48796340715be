//! A recursive-descent parser for nftables rulesets as people write them and as
//! `nft list ruleset` prints them: `define`/`$var`, `include` (relative to the file, globs),
//! tables of every family, base chains with named priorities, sets and maps, verdict maps,
//! concatenations, and the statements of real files. A syntax error is an error naming the
//! file, line and column. A rule holding a construct packetlab cannot simulate still loads: it
//! is kept with `unsupported` set (why and where), never matches, and makes the verdicts it
//! could have changed approximate. A word nft itself would reject there is a syntax error, with
//! the nearest word nft knows as a suggestion (`words.rs`).

mod chain;
mod cursor;
mod load;
mod parse;
mod rate;
mod rule;
mod ruleset;
mod selector;
mod stateful;
mod table;
mod value;
mod words;

pub use parse::{parse, parse_file, parse_rule};

// Where these lived before the syntax module and the model took them: paths that keep working.
pub use crate::firewall::model::Kind;
pub use crate::firewall::syntax::{parse_addr, ParseError};
