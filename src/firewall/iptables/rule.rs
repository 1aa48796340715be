//! One rule line (`-A CHAIN …`): its options one at a time, routed to what reads them (the
//! basic matches here, match modules, targets), then the checks only the whole line allows.

use crate::firewall::model::*;

use super::line::{no_neg, Line};
use super::module::Module;
use super::options::module_option;
use super::values::{addr_field, address, address6, protocol};
use super::words::{is_counters, piece_values, Pe, RuleParser, Word};

/// Reads one rule line into the chain it appends to and the rule.
pub(super) fn rule(
    chains: &[Chain],
    words: &[Word],
    no: u32,
    text: &str,
    v6: bool,
) -> Result<(usize, Rule), Pe> {
    let mut p = RuleParser { words, pos: 0 };
    skip_counters(&mut p)?;
    let ci = appended_chain(&mut p, chains)?;
    let mut line = Line::new(chains, ci, no, text, v6);
    let mut negate: Option<u32> = None;
    while let Some(w) = p.peek().cloned() {
        p.pos += 1;
        if w.s == "!" {
            if negate.is_some() {
                return Err((w.col, "'!' twice".into()));
            }
            negate = Some(w.col);
            continue;
        }
        let neg = negate.take().is_some();
        line.option(&mut p, &w, neg)?;
    }
    if let Some(col) = negate {
        return Err((col, "'!' negates nothing".into()));
    }
    line.finish()
}

/// `[packets:bytes] -A …` (iptables-save -c): the counters are skipped.
fn skip_counters(p: &mut RuleParser<'_>) -> Result<(), Pe> {
    if let Some(w) = p.peek() {
        if let Some(c) = w.s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            if !is_counters(c) {
                return Err((w.col, "expected counters '[packets:bytes]'".into()));
            }
            p.pos += 1;
        }
    }
    Ok(())
}

/// `-A CHAIN`: the declared chain the rule appends to.
fn appended_chain(p: &mut RuleParser<'_>, chains: &[Chain]) -> Result<usize, Pe> {
    let cmd = p.next("'-A CHAIN'")?;
    if cmd.s != "-A" && cmd.s != "--append" {
        return Err((
            cmd.col,
            format!(
                "unsupported: command '{}' (iptables-save appends rules with -A)",
                cmd.s
            ),
        ));
    }
    let cw = p.next("a chain name")?;
    chains.iter().position(|c| c.name == cw.s).ok_or_else(|| {
        (
            cw.col,
            format!("chain '{}' is not declared (':{} - [0:0]')", cw.s, cw.s),
        )
    })
}

impl Line<'_> {
    /// One option (`w`, already taken) and its arguments; `neg`: a `!` came before it.
    fn option(&mut self, p: &mut RuleParser<'_>, w: &Word, neg: bool) -> Result<(), Pe> {
        let op = if neg { Op::Ne } else { Op::Eq };
        let opt = w.s.as_str();
        match opt {
            "-p" | "--protocol" => self.protocol(p, w, neg),
            "-s" | "--source" | "-d" | "--destination" => self.address(p, opt, op),
            "-i" | "--in-interface" | "-o" | "--out-interface" => self.interface(p, w, op),
            "-m" | "--match" => {
                no_neg(w, neg, "-m")?;
                let v = p.next("a match module")?;
                let m = Module::from_name(&v.s)
                    .ok_or_else(|| (v.col, format!("unsupported: match '-m {}'", v.s)))?;
                self.modules.push((m, v.col));
                Ok(())
            }
            "-j" | "--jump" | "-g" | "--goto" => {
                no_neg(w, neg, opt)?;
                self.jump(p, w)
            }
            "--reject-with" if self.target_is("REJECT") => {
                no_neg(w, neg, opt)?;
                self.reject_type(p)
            }
            _ if opt.starts_with("--") && self.takes_target_options() => {
                no_neg(w, neg, opt)?;
                self.target_option(p, w);
                Ok(())
            }
            _ if opt.starts_with("--log-") && self.target_is("LOG") => {
                no_neg(w, neg, opt)?;
                self.log_option(p, w)
            }
            _ if opt.starts_with("--") => self.module_option(p, w, neg, op),
            "-f" | "--fragment" if !self.v6 => {
                // A second or later fragment: nft's `ip frag-off & 0x1fff != 0`.
                let rhs = Rhs::Masked {
                    mask: 0x1fff,
                    value: 0,
                };
                let op = if neg { Op::Eq } else { Op::Ne };
                let m = Match::new(Field::Hdr(HdrField::IpFragOff), op, rhs);
                self.r.matches.push(m);
                Ok(())
            }
            "-f" | "-4" | "-6" | "-c" => Err((w.col, format!("unsupported: '{opt}'"))),
            _ => Err((w.col, unknown("option", opt, GENERAL))),
        }
    }

    fn protocol(&mut self, p: &mut RuleParser<'_>, w: &Word, neg: bool) -> Result<(), Pe> {
        let v = p.next("a protocol")?;
        if self.proto.is_some() {
            return Err((w.col, "-p given twice".into()));
        }
        let n = protocol(&v.s).ok_or_else(|| (v.col, format!("unknown protocol '{}'", v.s)))?;
        if n == 0 {
            if neg {
                return Err((w.col, "'! -p all' matches nothing".into()));
            }
        } else {
            // ip6tables' -p is the final next header, nft's `meta l4proto`.
            let field = if self.v6 {
                Field::L4Proto
            } else {
                Field::IpProtocol
            };
            let op = if neg { Op::Ne } else { Op::Eq };
            let rhs = Rhs::Values(vec![Value::Int(n as u64)]);
            self.r.matches.push(Match::new(field, op, rhs));
        }
        self.proto = Some((n, neg, w.col));
        Ok(())
    }

    fn address(&mut self, p: &mut RuleParser<'_>, opt: &str, op: Op) -> Result<(), Pe> {
        let v = p.next("an address")?;
        let v6 = self.v6;
        let vals = piece_values(v, |a| {
            let val = if v6 { address6(a) } else { address(a) };
            val.ok_or_else(|| {
                let n = if v6 { 6 } else { 4 };
                format!("'{a}' is not an IPv{n} address or network")
            })
        })?;
        let src = opt.starts_with("-s") || opt == "--source";
        let field = addr_field(src, self.v6);
        self.r
            .matches
            .push(Match::new(field, op, Rhs::Values(vals)));
        Ok(())
    }

    fn interface(&mut self, p: &mut RuleParser<'_>, w: &Word, op: Op) -> Result<(), Pe> {
        let v = p.next("an interface name")?;
        let input = w.s == "-i" || w.s == "--in-interface";
        let hook = self.hook();
        let wrong = if input {
            hook == Some(Hook::Output)
        } else {
            hook == Some(Hook::Input)
        };
        if wrong {
            return Err((
                w.col,
                format!(
                    "{} cannot be used in {} (packets there have no {} interface)",
                    if input { "-i" } else { "-o" },
                    self.chains[self.ci].name,
                    if input { "input" } else { "output" },
                ),
            ));
        }
        if v.s.is_empty() || v.s.len() > 15 || v.s.contains(['/', ' ']) {
            return Err((v.col, format!("'{}' is not an interface name", v.s)));
        }
        let name = match v.s.strip_suffix('+') {
            Some(stem) => format!("{stem}*"),
            None => v.s.clone(),
        };
        let field = if input {
            Field::Iifname
        } else {
            Field::Oifname
        };
        let rhs = Rhs::Values(vec![Value::Name(name)]);
        self.r.matches.push(Match::new(field, op, rhs));
        Ok(())
    }

    /// An option of a match module: of the latest loaded module that takes it, else of the one
    /// `-p` loads implicitly.
    fn module_option(
        &mut self,
        p: &mut RuleParser<'_>,
        w: &Word,
        neg: bool,
        op: Op,
    ) -> Result<(), Pe> {
        let opt = w.s.as_str();
        let Some(m) = self.module_taking(opt) else {
            // Not an option of any match or target packetlab knows, but close to one: a typo
            // (`--dprot`), which iptables-restore rejects too.
            let known =
                |o: &&str| Module::ALL.iter().any(|m| m.options().contains(o)) || OTHER.contains(o);
            if !known(&opt) {
                let candidates = Module::ALL
                    .iter()
                    .flat_map(|m| m.options())
                    .chain(OTHER.iter())
                    .copied();
                if crate::firewall::syntax::suggest(opt, candidates.clone()).is_some() {
                    return Err((w.col, unknown("option", opt, candidates)));
                }
            }
            let what = match &self.target {
                Some((t, _)) if !t.is_empty() => format!(" (nor of target {t})"),
                _ => String::new(),
            };
            return Err((
                w.col,
                format!("unsupported: option '{opt}' of no loaded match{what}"),
            ));
        };
        if m == Module::Recent {
            self.recent.option(p, w, neg)
        } else {
            module_option(p, &mut self.r, m, w, op, self.proto, self.v6)
        }
    }

    fn module_taking(&mut self, opt: &str) -> Option<Module> {
        let loaded = self.modules.iter().rev().find(|(m, _)| m.takes(opt));
        if let Some((m, _)) = loaded {
            return Some(*m);
        }
        let implicit = match self.proto {
            Some((6, false, c)) => (Module::Tcp, c),
            Some((17, false, c)) => (Module::Udp, c),
            Some((1, false, c)) => (Module::Icmp, c),
            Some((58, false, c)) => (Module::Icmp6, c),
            _ => return None,
        };
        implicit.0.takes(opt).then(|| {
            self.modules.push(implicit);
            implicit.0
        })
    }

    /// What the whole line decides: `-m recent`'s statement, the target's action, and the
    /// protocols the reject type and the modules need.
    fn finish(mut self) -> Result<(usize, Rule), Pe> {
        if self.modules.iter().any(|(m, _)| *m == Module::Recent) {
            self.recent.apply(&mut self.r, self.v6)?;
        }
        if let Some((a, effect)) = self.target_statement()? {
            self.r.actions.push(a);
            if let Some(e) = effect {
                let at = self.r.matches.len() as u16;
                self.r.effects.push((at, e));
            }
        }
        // The kernel refuses a TCP reset for what may not be TCP.
        if let Some(col) = self.tcp_reset {
            if !matches!(self.proto, Some((6, false, _))) {
                return Err((col, "'--reject-with tcp-reset' needs -p tcp".into()));
            }
        }
        for (m, col) in &self.modules {
            if let Some(need) = m.proto() {
                if !matches!(self.proto, Some((n, false, _)) if n == need || (need == 58 && n == 58))
                {
                    return Err((*col, format!("-m {} needs -p {}", m.name(), m.name())));
                }
            }
            if *m == Module::Multiport
                && !matches!(self.proto, Some((6 | 17 | 33 | 132 | 136, false, _)))
            {
                return Err((
                    *col,
                    "-m multiport needs -p tcp, udp, udplite, sctp or dccp".into(),
                ));
            }
        }
        Ok((self.ci, self.r))
    }
}

/// The options of every rule, and the short ones iptables-save writes.
const GENERAL: [&str; 17] = [
    "-p",
    "-s",
    "-d",
    "-i",
    "-o",
    "-m",
    "-j",
    "-g",
    "-f",
    "--protocol",
    "--source",
    "--destination",
    "--in-interface",
    "--out-interface",
    "--match",
    "--jump",
    "--goto",
];

/// Options of targets (and of matches whose options `Module::takes` reads by prefix), so they
/// are never taken for a typo of another.
const OTHER: &[&str] = &[
    "--log-prefix",
    "--log-level",
    "--log-tcp-sequence",
    "--log-tcp-options",
    "--log-ip-options",
    "--log-uid",
    "--nflog-group",
    "--nflog-prefix",
    "--nflog-range",
    "--nflog-size",
    "--nflog-threshold",
    "--reject-with",
    "--to-source",
    "--to-destination",
    "--to-ports",
    "--to",
    "--random",
    "--random-fully",
    "--persistent",
    "--set-mark",
    "--set-xmark",
    "--and-mark",
    "--or-mark",
    "--xor-mark",
    "--save-mark",
    "--restore-mark",
    "--mask",
    "--nfmask",
    "--ctmask",
    "--notrack",
    "--set-mss",
    "--clamp-mss-to-pmtu",
    "--zone",
    "--helper",
    "--ctevents",
    "--expevents",
    "--timeout",
    "--ctstate",
    "--ctstatus",
    "--ctproto",
    "--ctorigsrc",
    "--ctorigdst",
    "--ctreplsrc",
    "--ctrepldst",
    "--ctorigsrcport",
    "--ctorigdstport",
    "--ctreplsrcport",
    "--ctrepldstport",
    "--ctexpire",
    "--ctdir",
    "--queue-num",
    "--queue-balance",
    "--queue-bypass",
    "--fragment",
    "--set-counters",
];

/// `unknown option '--dprot' (did you mean '--dport'?)`.
fn unknown<'a>(what: &str, w: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match crate::firewall::syntax::suggest(w, candidates) {
        Some(s) => format!("unknown {what} '{w}' (did you mean '{s}'?)"),
        None => format!("unknown {what} '{w}'"),
    }
}
