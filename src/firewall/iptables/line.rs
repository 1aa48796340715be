//! A rule line being read: the rule so far, and what later options and the checks at its end
//! depend on (the protocol, the loaded modules, the target).

use crate::firewall::model::*;

use super::module::Module;
use super::recent::Recent;
use super::words::{Pe, Word};

pub(super) struct Line<'c> {
    /// The table's chains: jump targets are checked against them.
    pub(super) chains: &'c [Chain],
    /// The chain the rule appends to.
    pub(super) ci: usize,
    pub(super) v6: bool,
    pub(super) r: Rule,
    /// `-p`: the protocol (0 for `all`), whether negated, and its column.
    pub(super) proto: Option<(u8, bool, u32)>,
    pub(super) modules: Vec<(Module, u32)>,
    /// The target's name (empty for `-g CHAIN`) and column.
    pub(super) target: Option<(String, u32)>,
    /// Where `--reject-with tcp-reset` was: it needs `-p tcp`.
    pub(super) tcp_reset: Option<u32>,
    /// The options of a non-terminating target, with their values and columns.
    pub(super) target_opts: Vec<(String, Option<String>, u32)>,
    pub(super) recent: Recent,
}

impl<'c> Line<'c> {
    pub(super) fn new(chains: &'c [Chain], ci: usize, no: u32, text: &str, v6: bool) -> Self {
        let mut r = Rule::new(no, text.to_string());
        // iptables counts every rule.
        r.counter = true;
        Line {
            chains,
            ci,
            v6,
            r,
            proto: None,
            modules: Vec::new(),
            target: None,
            tcp_reset: None,
            target_opts: Vec::new(),
            recent: Recent::default(),
        }
    }

    /// The hook of the chain the rule is in (`None` for a user chain).
    pub(super) fn hook(&self) -> Option<Hook> {
        self.chains[self.ci].base.as_ref().map(|b| b.hook)
    }

    pub(super) fn target_is(&self, name: &str) -> bool {
        self.target.as_ref().is_some_and(|t| t.0 == name)
    }
}

/// An error for an option given with `!` that cannot be negated.
pub(super) fn no_neg(w: &Word, neg: bool, what: &str) -> Result<(), Pe> {
    if neg {
        Err((w.col, format!("'{what}' cannot be negated")))
    } else {
        Ok(())
    }
}
