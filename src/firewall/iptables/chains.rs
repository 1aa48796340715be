//! The chains of the table being read: `:NAME POLICY [p:b]` declarations, the built-in chains
//! of each table, and the restore commands that create, flush or delete chains.

use crate::firewall::model::*;

use super::words::{is_counters, Pe, Word};

/// The table being read, between `*name` and `COMMIT`.
pub(super) struct Open {
    pub(super) name: String,
    pub(super) line: u32,
    /// The chains declared so far.
    pub(super) chains: Vec<Chain>,
    /// Sets `-m recent` lists fill (`--name`).
    pub(super) sets: Vec<NamedSet>,
}

/// What a line that is not a chain declaration asks.
pub(super) enum Command {
    /// Handled here (a chain created, flushed or deleted, a policy set).
    Done,
    /// A rule to parse (as an `-A` line), and where to insert it (`-I`), else at the end.
    Rule(Vec<Word>, Option<usize>),
}

/// The restore commands besides `-A`: `-N CHAIN`, `-P CHAIN POLICY`, `-F [CHAIN]`,
/// `-X [CHAIN]`, `-Z`, and `-I CHAIN [N] …` (becomes an `-A` inserted at N). A built-in chain
/// used before it is declared is created, with policy ACCEPT, as iptables-restore does.
pub(super) fn command(t: &mut Open, words: &[Word], no: u32) -> Result<Command, Pe> {
    let at = usize::from(words[0].s.starts_with('['));
    let Some(cmd) = words.get(at) else {
        return Ok(Command::Rule(words.to_vec(), None));
    };
    let arg = |k: usize| words.get(at + k);
    match cmd.s.as_str() {
        "-N" | "--new-chain" => {
            let name = arg(1).ok_or((cmd.col, "expected a chain name".to_string()))?;
            if !t.chains.iter().any(|c| c.name == name.s) {
                t.chains.push(Chain {
                    name: name.s.clone(),
                    base: None,
                    rules: Vec::new(),
                    line: no,
                });
            }
            Ok(Command::Done)
        }
        "-P" | "--policy" => {
            let (Some(name), Some(policy)) = (arg(1), arg(2)) else {
                return Err((cmd.col, "expected a chain and a policy".into()));
            };
            set_policy(t, name, policy, no)?;
            Ok(Command::Done)
        }
        "-F" | "--flush" | "-X" | "--delete-chain" => {
            let flush = matches!(cmd.s.as_str(), "-F" | "--flush");
            match arg(1) {
                Some(name) if flush => t
                    .chains
                    .iter_mut()
                    .filter(|c| c.name == name.s)
                    .for_each(|c| c.rules.clear()),
                None if flush => t.chains.iter_mut().for_each(|c| c.rules.clear()),
                Some(name) => t.chains.retain(|c| c.base.is_some() || c.name != name.s),
                None => t.chains.retain(|c| c.base.is_some()),
            }
            Ok(Command::Done)
        }
        "-Z" | "--zero" => Ok(Command::Done),
        "-A" | "--append" | "-I" | "--insert" => {
            let name = arg(1).ok_or((cmd.col, "expected a chain name".to_string()))?;
            ensure_builtin(t, &name.s, no);
            if matches!(cmd.s.as_str(), "-A" | "--append") {
                return Ok(Command::Rule(words.to_vec(), None));
            }
            Ok(insert(words, at))
        }
        _ => Ok(Command::Rule(words.to_vec(), None)),
    }
}

/// A built-in chain used before it is declared is created, with policy ACCEPT, as
/// iptables-restore does.
fn ensure_builtin(t: &mut Open, name: &str, no: u32) {
    if t.chains.iter().any(|c| c.name == name) {
        return;
    }
    if let Some((hook, priority, kind)) = builtin(&t.name, name) {
        t.chains.push(Chain {
            name: name.into(),
            base: Some(BaseChain {
                kind,
                hook,
                priority,
                policy: Policy::Accept,
                device: None,
            }),
            rules: Vec::new(),
            line: no,
        });
    }
}

/// `-P CHAIN POLICY`: a built-in chain's policy.
fn set_policy(t: &mut Open, name: &Word, policy: &Word, no: u32) -> Result<(), Pe> {
    ensure_builtin(t, &name.s, no);
    let policy = match policy.s.as_str() {
        "ACCEPT" => Policy::Accept,
        "DROP" => Policy::Drop,
        p => return Err((policy.col, format!("a policy is ACCEPT or DROP, not '{p}'"))),
    };
    match t
        .chains
        .iter_mut()
        .find(|c| c.name == name.s)
        .and_then(|c| c.base.as_mut())
    {
        Some(b) => b.policy = policy,
        None => return Err((name.col, format!("'{}' is not a built-in chain", name.s))),
    }
    Ok(())
}

/// `-I CHAIN [N] …` as the `-A` line it inserts, and where: N counts from 1; without it, the
/// rule goes first.
fn insert(words: &[Word], at: usize) -> Command {
    let mut w = words.to_vec();
    w[at].s = "-A".into();
    let pos = match w.get(at + 2).and_then(|n| n.s.parse::<usize>().ok()) {
        Some(n) => {
            w.remove(at + 2);
            n.saturating_sub(1)
        }
        None => 0,
    };
    Command::Rule(w, Some(pos))
}

/// The chain a rule line appends to (`-A CHAIN`), when declared.
pub(super) fn chain_of(chains: &[Chain], words: &[Word]) -> Option<usize> {
    let at = words
        .iter()
        .position(|w| w.s == "-A" || w.s == "--append")?;
    let name = &words.get(at + 1)?.s;
    chains.iter().position(|c| &c.name == name)
}

/// The built-in chains of each table: hook, priority (as iptables-nft registers them) and
/// type. `nat` chains are shown only; `raw`, `mangle` and `security` filter like `filter`
/// (their marks and MSS clamps change no verdict).
pub(super) fn builtin(table: &str, chain: &str) -> Option<(Hook, i32, ChainType)> {
    use Hook::*;
    let hook = match chain {
        "PREROUTING" => Prerouting,
        "INPUT" => Input,
        "FORWARD" => Forward,
        "OUTPUT" => Output,
        "POSTROUTING" => Postrouting,
        _ => return None,
    };
    Some(match (table, hook) {
        ("filter", Input | Forward | Output) => (hook, 0, ChainType::Filter),
        ("raw", Prerouting | Output) => (hook, -300, ChainType::Filter),
        ("mangle", _) => (hook, -150, ChainType::Filter),
        ("nat", Prerouting | Output) => (hook, -100, ChainType::Nat),
        ("nat", Input | Postrouting) => (hook, 100, ChainType::Nat),
        ("security", Input | Forward | Output) => (hook, 50, ChainType::Filter),
        _ => return None,
    })
}

/// `:NAME POLICY [packets:bytes]`.
pub(super) fn declare(t: &mut Open, words: &[Word], no: u32) -> Result<(), (u32, String)> {
    let w = &words[0];
    let name = &w.s[1..];
    if name.is_empty() {
        return Err((w.col, "expected a chain name after ':'".into()));
    }
    let Some(policy) = words.get(1) else {
        return Err((
            w.col + w.s.chars().count() as u32,
            "expected a policy (ACCEPT, DROP, or '-' for a user chain)".into(),
        ));
    };
    // A user chain's `-` ends what iptables-restore reads of the line (`:LOGGING - DROP [0:0]`
    // loads): only a policy is followed by counters.
    if let Some(c) = words.get(2).filter(|_| policy.s != "-") {
        let counters = c.s.strip_prefix('[').and_then(|s| s.strip_suffix(']'));
        if counters.is_none_or(|s| !is_counters(s)) {
            return Err((c.col, "expected counters '[packets:bytes]'".into()));
        }
    }
    // Words after the counters: iptables-restore ignores them, and so does packetlab.
    if t.chains.iter().any(|c| c.name == name) {
        return Err((w.col + 1, format!("chain '{name}' declared twice")));
    }
    let hook = builtin(&t.name, name);
    let base = match (hook, policy.s.as_str()) {
        (Some((hook, priority, kind)), "ACCEPT" | "DROP") => Some(BaseChain {
            kind,
            device: None,
            hook,
            priority,
            policy: if policy.s == "ACCEPT" {
                Policy::Accept
            } else {
                Policy::Drop
            },
        }),
        (Some(_), p) => {
            return Err((
                policy.col,
                format!("a built-in chain's policy is ACCEPT or DROP, not '{p}'"),
            ))
        }
        (None, "-") => None,
        (None, _)
            if matches!(
                name,
                "PREROUTING" | "INPUT" | "FORWARD" | "OUTPUT" | "POSTROUTING"
            ) =>
        {
            return Err((
                w.col + 1,
                format!("the {} table has no chain {name}", t.name),
            ))
        }
        (None, p) => {
            return Err((
                policy.col,
                format!("a user chain's policy is '-', not '{p}'"),
            ))
        }
    };
    t.chains.push(Chain {
        name: name.into(),
        base,
        rules: Vec::new(),
        line: no,
    });
    Ok(())
}
