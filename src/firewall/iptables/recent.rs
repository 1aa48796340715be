//! `-m recent`: its options gathered over a rule line, then made the nft set statement or test
//! they mean; and the sets those name, which the table declares.

use crate::firewall::model::*;

use super::values::{addr_field, rate_text};
use super::words::{Pe, RuleParser, Word};

/// The options of one `-m recent`, gathered, then made the statement or test they mean.
#[derive(Default)]
pub(super) struct Recent {
    /// set, rcheck, update or remove.
    pub(super) cmd: Option<String>,
    pub(super) name: Option<String>,
    pub(super) seconds: Option<u64>,
    pub(super) hitcount: Option<u64>,
    pub(super) rdest: bool,
    pub(super) negated: bool,
}

impl Recent {
    pub(super) fn option(&mut self, p: &mut RuleParser<'_>, w: &Word, neg: bool) -> Result<(), Pe> {
        let opt = w.s.as_str();
        match opt {
            "--set" | "--rcheck" | "--update" | "--remove" => {
                self.cmd = Some(opt[2..].to_string());
                self.negated = neg;
            }
            "--name" => self.name = Some(p.next("a list name")?.s.clone()),
            "--seconds" | "--hitcount" | "--mask" => {
                let v = p.next("a value")?;
                if opt != "--mask" {
                    let n =
                        v.s.parse()
                            .map_err(|_| (v.col, format!("'{}' is not a number", v.s)))?;
                    if opt == "--seconds" {
                        self.seconds = Some(n);
                    } else {
                        self.hitcount = Some(n);
                    }
                }
            }
            "--rdest" => self.rdest = true,
            _ => {}
        }
        Ok(())
    }

    /// `--set`: `add @NAME { ip saddr }`; `--remove`: `delete @NAME { ip saddr }` (the list
    /// kept exactly, as nft's set); `--update`/`--rcheck --seconds S --hitcount N`: over N in
    /// S seconds, as `update @NAME { ip saddr limit rate over N/S }` (a rate model,
    /// approximate: the kernel's list keeps exact timestamps); otherwise the address being in
    /// the list (`ip saddr @NAME`; a `--seconds` alone is not kept, as in its nft form).
    pub(super) fn apply(&self, r: &mut Rule, v6: bool) -> Result<(), Pe> {
        let name = self.name.clone().unwrap_or_else(|| "DEFAULT".into());
        let field = addr_field(!self.rdest, v6);
        let key = field.name();
        let cmd = self.cmd.as_deref().unwrap_or("rcheck");
        let op = if self.negated { Op::Ne } else { Op::Eq };
        // The set statements as nft reads them (`add @S { ip saddr }`): the key put in or
        // taken out where the statement stands.
        let set_op = |r: &mut Rule, op| {
            r.effects.push((
                r.matches.len() as u16,
                Effect::Set(SetOp {
                    op,
                    set: name.clone(),
                    key: vec![field],
                    timeout_ms: None,
                }),
            ))
        };
        match (cmd, self.seconds, self.hitcount) {
            ("set", ..) => {
                set_op(r, SetOpKind::Add);
                r.actions
                    .push(Action::Other(format!("add @{name} {{ {key} }}")));
            }
            ("remove", ..) => {
                set_op(r, SetOpKind::Delete);
                r.actions
                    .push(Action::Other(format!("delete @{name} {{ {key} }}")));
            }
            (_, Some(secs), Some(hits)) if !self.negated => {
                set_op(r, SetOpKind::Update);
                let per_s = hits as f64 / secs.max(1) as f64;
                let text = format!(
                    "update @{name} {{ {key} limit rate over {} burst {hits} packets }}",
                    rate_text(per_s)
                );
                r.approx.push((
                    Approx::PerKey {
                        key: vec![field],
                        inner: Some(Box::new(Approx::Limit {
                            over: true,
                            per_s,
                            burst: hits as f64,
                            bytes: false,
                        })),
                    },
                    text,
                ));
            }
            _ => r.matches.push(Match::new(field, op, Rhs::Set(name))),
        }
        Ok(())
    }
}

/// The sets a rule's `-m recent` options name (as `@NAME` in its statements and tests).
pub(super) fn recent_sets(r: &Rule) -> Vec<String> {
    let mut v: Vec<String> = r
        .effects
        .iter()
        .filter_map(|(_, e)| match e {
            Effect::Set(op) => Some(op.set.clone()),
            _ => None,
        })
        .collect();
    for m in &r.matches {
        if let Rhs::Set(n) = &m.rhs {
            v.push(n.clone());
        }
    }
    v
}
