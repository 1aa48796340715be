//! The chain grammar: a chain's body and its base-chain line (type, hook, device, named
//! priorities, policy).

use crate::firewall::lexer::Tok;
use crate::firewall::model::*;
use crate::firewall::syntax::ParseError;

use super::cursor::{render, Parser, R};

impl Parser {
    pub(super) fn chain(&mut self, line: u32, family: Family) -> R<Chain> {
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
    pub(super) fn chain_body(&mut self, c: &mut Chain, family: Family) -> R<()> {
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
    pub(super) fn base_chain(&mut self, family: Family) -> R<BaseChain> {
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
}
