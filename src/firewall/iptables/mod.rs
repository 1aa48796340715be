//! `iptables-save` text imported into the rule model, as one `ip filter` table whose base chains
//! INPUT, FORWARD and OUTPUT hook input, forward and output at priority 0.
//!
//! The supported subset: `*filter` … `COMMIT`; chain lines `:INPUT DROP [0:0]` and
//! `:name - [0:0]`; rules `-A CHAIN` with `-p`, `-s`, `-d`, `-i`, `-o` (each may be negated with
//! a leading `!`; `+` ends an interface wildcard), `-m tcp`/`-m udp` `--sport`/`--dport`
//! (`a:b` ranges), `--tcp-flags MASK COMP`, `--syn`, `-m icmp --icmp-type`,
//! `-m multiport --dports/--sports`, `-m conntrack --ctstate`, `-m state --state`,
//! `-m comment --comment`, and `-j ACCEPT|DROP|REJECT [--reject-with …]|RETURN|LOG [--log-prefix …]`
//! or a user chain, or `-g CHAIN`. A `[packets:bytes]` prefix is skipped.
//!
//! Other tables (`*nat`, `*mangle`, `*raw`, `*security`) are read line by line but not
//! simulated: one that only declares its chains with ACCEPT policies changes no filter verdict
//! and is skipped silently; a rule in it, or a DROP policy, is an error naming its line.
//! Anything outside the subset is an error `FILE:LINE:COL: …` naming the construct: a rule is
//! never silently ignored.

mod chains;
mod file;
mod icmp;
mod line;
mod module;
mod options;
mod recent;
mod rule;
mod target;
mod values;
mod words;

pub use file::{looks_like, parse};

#[cfg(test)]
mod tests;
