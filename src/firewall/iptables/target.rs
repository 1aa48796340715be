//! Targets (`-j`, `-g`): verdicts, user chains, `REJECT --reject-with`, `LOG`, and the
//! non-terminating targets as the nft statements that do the same.

use crate::firewall::model::*;

use super::line::Line;
use super::words::{Pe, RuleParser, Word};

const REJECT_WITH: [&str; 19] = [
    "icmp6-no-route",
    "no-route",
    "icmp6-adm-prohibited",
    "adm-prohibited",
    "icmp6-addr-unreachable",
    "addr-unreach",
    "icmp6-port-unreachable",
    "icmp6-policy-fail",
    "icmp-net-unreachable",
    "icmp-host-unreachable",
    "icmp-port-unreachable",
    "icmp-proto-unreachable",
    "icmp-net-prohibited",
    "icmp-host-prohibited",
    "icmp-admin-prohibited",
    "tcp-reset",
    "net-unreach",
    "host-unreach",
    "port-unreach",
];

/// An iptables `--reject-with` type as nft's `with …`, and the match nft adds for it.
fn reject_with(t: &str, v6: bool) -> (String, Option<(Field, u64)>) {
    if t == "tcp-reset" {
        return ("with tcp reset".into(), Some((Field::L4Proto, 6)));
    }
    let name = match t {
        "icmp-net-unreachable" | "net-unreach" => "net-unreachable",
        "icmp-host-unreachable" | "host-unreach" => "host-unreachable",
        "icmp-proto-unreachable" => "prot-unreachable",
        "icmp-net-prohibited" => "net-prohibited",
        "icmp-host-prohibited" => "host-prohibited",
        "icmp-admin-prohibited" | "icmp6-adm-prohibited" | "adm-prohibited" => "admin-prohibited",
        "icmp6-no-route" | "no-route" => "no-route",
        "icmp6-addr-unreachable" | "addr-unreach" => "addr-unreachable",
        "icmp6-policy-fail" => "policy-fail",
        _ => "port-unreachable",
    };
    if v6 {
        (
            format!("with icmpv6 type {name}"),
            Some((Field::Nfproto, 10)),
        )
    } else {
        (format!("with icmp type {name}"), Some((Field::Nfproto, 2)))
    }
}

/// Targets whose options are read here (their actions change no verdict packetlab decides).
const ACTION_TARGETS: [&str; 10] = [
    "MASQUERADE",
    "SNAT",
    "DNAT",
    "REDIRECT",
    "NOTRACK",
    "CT",
    "MARK",
    "CONNMARK",
    "TCPMSS",
    "NFLOG",
];

/// What a non-terminating target does, as the nft statement that does the same (kept and
/// saved); a target option packetlab cannot say in nft is unsupported.
fn target_action(
    t: &str,
    opts: &[(String, Option<String>, u32)],
    v6: bool,
    col: u32,
) -> Result<Option<(Action, Option<Effect>)>, Pe> {
    // iptables takes any unambiguous prefix of an option (`--to` for `--to-destination`).
    let get = |k: &str| {
        opts.iter()
            .find(|o| o.0 == k)
            .or_else(|| {
                opts.iter()
                    .find(|o| o.0.len() >= 4 && k.starts_with(o.0.as_str()))
            })
            .and_then(|o| o.1.clone())
    };
    let has = |k: &str| opts.iter().any(|o| o.0 == k);
    let flags = |a: &mut String| {
        for f in ["--random", "--random-fully", "--persistent"] {
            if has(f) {
                a.push_str(&format!(" {}", &f[2..]));
            }
        }
    };
    let fam = if v6 { "ip6" } else { "ip" };
    let unsupported = |what: String| Err((col, format!("unsupported: {what}")));
    Ok(Some((
        match t {
            "MASQUERADE" | "REDIRECT" => {
                let mut a = t.to_lowercase();
                if let Some(p) = get("--to-ports") {
                    a.push_str(&format!(" to :{}", p.replace(':', "-")));
                }
                flags(&mut a);
                Action::Nat(a)
            }
            "SNAT" | "DNAT" => {
                let key = if t == "SNAT" {
                    "--to-source"
                } else {
                    "--to-destination"
                };
                let Some(to) = get(key) else {
                    return Err((col, format!("{t} needs {key}")));
                };
                let mut a = format!("{} {fam} to {to}", t.to_lowercase());
                flags(&mut a);
                Action::Nat(a)
            }
            "NOTRACK" => Action::Notrack,
            "CT" if has("--notrack") => Action::Notrack,
            "CT" => return unsupported("CT target options other than --notrack".into()),
            "MARK" | "CONNMARK" => return mark_target(t == "CONNMARK", &get, &has, col).map(Some),
            "TCPMSS" if has("--clamp-mss-to-pmtu") => {
                Action::Other("tcp option maxseg size set rt mtu".into())
            }
            "TCPMSS" => match get("--set-mss") {
                Some(n) => Action::Other(format!("tcp option maxseg size set {n}")),
                None => return unsupported("TCPMSS options".into()),
            },
            "TRACE" => Action::Other("meta nftrace set 1".into()),
            _ => return Ok(None),
        },
        None,
    )))
}

/// `MARK` and `CONNMARK` (`ct`): what they give the packet's or the connection's mark, as
/// the kernel's xt_MARK and xt_connmark compute it, and the nft statement that does the same.
fn mark_target(
    ct: bool,
    get: &dyn Fn(&str) -> Option<String>,
    has: &dyn Fn(&str) -> bool,
    col: u32,
) -> Result<(Action, Option<Effect>), Pe> {
    const FULL: u32 = u32::MAX;
    let value = |k: &str| -> Result<Option<(u32, u32)>, Pe> {
        match get(k) {
            None => Ok(None),
            Some(v) => mark_mask(&v)
                .map(Some)
                .ok_or_else(|| (col, format!("'{v}' is not a mark (VALUE[/MASK])"))),
        }
    };
    let own = if ct { MarkSrc::Ct } else { MarkSrc::Meta };
    let (src, ops) = if let Some((v, m)) = value("--set-xmark")? {
        // (mark & ~mask) ^ value
        if m == FULL {
            (MarkSrc::Const(v), vec![])
        } else {
            (own, vec![(MarkOp::And, !m), (MarkOp::Xor, v)])
        }
    } else if let Some((v, m)) = value("--set-mark")? {
        // (mark & ~mask) | value
        if m == FULL {
            (MarkSrc::Const(v), vec![])
        } else {
            (own, vec![(MarkOp::And, !m), (MarkOp::Or, v)])
        }
    } else if let Some((v, _)) = value("--and-mark")? {
        (own, vec![(MarkOp::And, v)])
    } else if let Some((v, _)) = value("--or-mark")? {
        (own, vec![(MarkOp::Or, v)])
    } else if let Some((v, _)) = value("--xor-mark")? {
        (own, vec![(MarkOp::Xor, v)])
    } else if ct && (has("--save-mark") || has("--restore-mark")) {
        // --save-mark: ctmark = (ctmark & ~ctmask) ^ (nfmark & nfmask); --restore-mark:
        // nfmark = (nfmark & ~nfmask) ^ (ctmark & ctmask). `--mask` sets both masks.
        let both = value("--mask")?.map(|(m, _)| m);
        let nf = value("--nfmask")?.map(|(m, _)| m).or(both).unwrap_or(FULL);
        let ctm = value("--ctmask")?.map(|(m, _)| m).or(both).unwrap_or(FULL);
        let save = has("--save-mark");
        let (keep, take) = if save { (ctm, nf) } else { (nf, ctm) };
        if keep != FULL {
            return Err((
                col,
                "unsupported: CONNMARK keeping some bits of the mark it sets (a mask other than 0xffffffff), which nft cannot write".into(),
            ));
        }
        let ops = if take == FULL {
            vec![]
        } else {
            vec![(MarkOp::And, take)]
        };
        // Without a connection xt_connmark does nothing, and the rule still counts.
        let src = if save { MarkSrc::Meta } else { MarkSrc::XtCt };
        let expr = MarkExpr { src, ops };
        let text = format!(
            "{} mark set {}",
            if save { "ct" } else { "meta" },
            mark_text(&expr)
        );
        return Ok((Action::Other(text), Some(Effect::Mark { ct: save, expr })));
    } else {
        let t = if ct { "CONNMARK" } else { "MARK" };
        return Err((col, format!("unsupported: {t} without a mark to set")));
    };
    let expr = MarkExpr { src, ops };
    let text = format!(
        "{} mark set {}",
        if ct { "ct" } else { "meta" },
        mark_text(&expr)
    );
    Ok((Action::Other(text), Some(Effect::Mark { ct, expr })))
}

/// `0x1/0xff`, `5`: a mark and its mask (all bits when none is given), as libxtables reads
/// numbers (`0x` hex, a leading `0` octal).
pub(super) fn mark_mask(s: &str) -> Option<(u32, u32)> {
    let num = |t: &str| -> Option<u32> {
        if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            u32::from_str_radix(h, 16).ok()
        } else if t.len() > 1 && t.starts_with('0') {
            u32::from_str_radix(&t[1..], 8).ok()
        } else {
            t.parse().ok()
        }
    };
    match s.split_once('/') {
        Some((v, m)) => Some((num(v)?, num(m)?)),
        None => Some((num(s)?, u32::MAX)),
    }
}

/// A mark expression as nft writes it (`meta mark and 0xff00 xor 0x1`).
fn mark_text(e: &MarkExpr) -> String {
    let mut t = match e.src {
        MarkSrc::Const(n) => format!("0x{n:x}"),
        MarkSrc::Meta => "meta mark".into(),
        MarkSrc::Ct | MarkSrc::XtCt => "ct mark".into(),
        MarkSrc::Unknown => "0".into(),
    };
    for (op, k) in &e.ops {
        let w = match op {
            MarkOp::And => "and",
            MarkOp::Or => "or",
            MarkOp::Xor => "xor",
            MarkOp::Shl => "<<",
            MarkOp::Shr => ">>",
        };
        t.push_str(&format!(" {w} 0x{k:x}"));
    }
    t
}

/// A jump or goto target: a declared user chain.
fn user_chain(chains: &[Chain], v: &Word) -> Result<String, Pe> {
    // What a misspelt target or chain may have meant: the targets, the chains declared.
    let suggestion = || {
        let names = chains
            .iter()
            .filter(|c| c.base.is_none())
            .map(|c| c.name.as_str());
        use crate::firewall::syntax::suggest;
        // Targets are upper case: `Accept` meant ACCEPT.
        suggest(&v.s, names)
            .or_else(|| suggest(&v.s.to_uppercase(), TARGETS.iter().copied()))
            .map(|s| format!(" (did you mean '{s}'?)"))
            .unwrap_or_default()
    };
    match chains.iter().find(|c| c.name == v.s) {
        Some(c) if c.base.is_none() => Ok(v.s.clone()),
        Some(_) => Err((v.col, format!("cannot jump to the built-in chain {}", v.s))),
        None if TARGETS.contains(&v.s.as_str()) => {
            Err((v.col, format!("unsupported: target '{}'", v.s)))
        }
        // A target iptables does not have (`ACCPET`) is a mistake, not a construct to skip.
        None if v.s.chars().all(|c| c.is_ascii_uppercase() || c == '_') => {
            Err((v.col, format!("unknown target '{}'{}", v.s, suggestion())))
        }
        None => Err((
            v.col,
            format!(
                "chain '{}' is not declared (':{} - [0:0]'){}",
                v.s,
                v.s,
                suggestion()
            ),
        )),
    }
}

/// The targets of iptables-extensions(8) (and the verdicts), for telling a target packetlab
/// does not simulate from a misspelt one.
const TARGETS: &[&str] = &[
    "ACCEPT",
    "DROP",
    "REJECT",
    "RETURN",
    "QUEUE",
    "LOG",
    "NFLOG",
    "ULOG",
    "MASQUERADE",
    "SNAT",
    "DNAT",
    "REDIRECT",
    "NETMAP",
    "NOTRACK",
    "CT",
    "MARK",
    "CONNMARK",
    "TCPMSS",
    "TRACE",
    "NFQUEUE",
    "AUDIT",
    "CHECKSUM",
    "CLASSIFY",
    "CLUSTERIP",
    "CONNSECMARK",
    "DSCP",
    "ECN",
    "HL",
    "HMARK",
    "IDLETIMER",
    "LED",
    "RATEEST",
    "SECMARK",
    "SET",
    "SYNPROXY",
    "TCPOPTSTRIP",
    "TEE",
    "TOS",
    "TPROXY",
    "TTL",
    "MIRROR",
    "SAME",
    "IPV4OPTSSTRIP",
    "DNPT",
    "SNPT",
    "JOOL",
    "FULLCONENAT",
];

impl Line<'_> {
    /// `-j TARGET` or `-g CHAIN`.
    pub(super) fn jump(&mut self, p: &mut RuleParser<'_>, w: &Word) -> Result<(), Pe> {
        let v = p.next("a target")?;
        if self.target.is_some() {
            return Err((w.col, "a second target".into()));
        }
        let goto = w.s == "-g" || w.s == "--goto";
        self.r.verdict = match v.s.as_str() {
            _ if goto => Some(Verdict::Goto(user_chain(self.chains, v)?)),
            "ACCEPT" => Some(Verdict::Accept),
            "DROP" => Some(Verdict::Drop),
            "REJECT" => Some(Verdict::Reject),
            "RETURN" => Some(Verdict::Return),
            "LOG" | "NFLOG" => {
                self.r.log = Some(String::new());
                None
            }
            // Non-terminating targets: the packet goes on to the next rule.
            "MASQUERADE" | "SNAT" | "DNAT" | "REDIRECT" | "NOTRACK" | "CT" | "MARK"
            | "CONNMARK" | "TCPMSS" | "TRACE" => None,
            _ => Some(Verdict::Jump(user_chain(self.chains, v)?)),
        };
        self.target = Some((if goto { String::new() } else { v.s.clone() }, v.col));
        Ok(())
    }

    /// `REJECT --reject-with TYPE`.
    pub(super) fn reject_type(&mut self, p: &mut RuleParser<'_>) -> Result<(), Pe> {
        let v = p.next("a reject type")?;
        if !REJECT_WITH.contains(&v.s.as_str()) {
            return Err((v.col, format!("unknown reject type '{}'", v.s)));
        }
        if v.s == "tcp-reset" {
            self.tcp_reset = Some(v.col);
        }
        // As nft says it, with the match nft adds for the reply (see nft::reject).
        let (with, implied) = reject_with(&v.s, self.v6);
        let r = &mut self.r;
        let at = implied.map(|(field, n)| {
            r.matches
                .push(Match::new(field, Op::Eq, Rhs::Values(vec![Value::Int(n)])));
            r.matches.len() - 1
        });
        r.reject_with = Some((with, at));
        Ok(())
    }

    /// Whether the target is one whose `--options` are gathered for its statement.
    pub(super) fn takes_target_options(&self) -> bool {
        self.target
            .as_ref()
            .is_some_and(|t| ACTION_TARGETS.contains(&t.0.as_str()))
    }

    /// An option of such a target, with its value when one follows.
    pub(super) fn target_option(&mut self, p: &mut RuleParser<'_>, w: &Word) {
        let opt = w.s.as_str();
        let value = match p.peek() {
            Some(v) if !v.s.starts_with('-') && v.s != "!" => {
                p.pos += 1;
                Some(v.s.clone())
            }
            _ => None,
        };
        match opt {
            "--nflog-prefix" => self.r.log = Some(value.unwrap_or_default()),
            _ if opt.starts_with("--nflog-") => {}
            _ => self.target_opts.push((opt.to_string(), value, w.col)),
        }
    }

    /// `LOG --log-…`: the prefix is kept; the other options change nothing simulated.
    pub(super) fn log_option(&mut self, p: &mut RuleParser<'_>, w: &Word) -> Result<(), Pe> {
        let opt = w.s.as_str();
        match opt {
            "--log-prefix" => {
                let v = p.next("a log prefix")?;
                self.r.log = Some(v.s.clone());
            }
            "--log-level" => {
                p.next("a log level")?;
            }
            "--log-tcp-sequence" | "--log-tcp-options" | "--log-ip-options" | "--log-uid"
            | "--log-macdecode" => {}
            _ => return Err((w.col, format!("unsupported: LOG option '{opt}'"))),
        }
        Ok(())
    }

    /// The target's action, once all its options are read.
    pub(super) fn target_statement(&self) -> Result<Option<(Action, Option<Effect>)>, Pe> {
        match &self.target {
            Some((t, col)) => target_action(t, &self.target_opts, self.v6, *col),
            None => Ok(None),
        }
    }
}
