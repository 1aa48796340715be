//! The comparison on frames whose "kernel" is the lab network's own router (it forwards,
//! drops and answers as its ruleset says): judged with the same ruleset every verdict
//! agrees; judged with another, the packets the two rulesets treat differently, and only
//! those, disagree. Streaming: a packet waits out its window; a change of the rules is
//! taken at its time, and what came during it is not compared.

use super::*;
use crate::capture::Timestamp;
use crate::vnet::run::LabRun;

const BLOCKS: &str = include_str!("../../assets/lab/firewall-blocks-ssh.nft");
const OPEN: &str = include_str!("../../assets/lab/open.nft");

fn rules(t: &str) -> Ruleset {
    crate::firewall::nft::parse(t, "t.nft").unwrap()
}

/// Six seconds of firewall-blocks-ssh on the lab network, enforcing `text`.
fn frames(text: &str) -> Vec<Frame> {
    let sc = crate::scenario::find("firewall-blocks-ssh").unwrap();
    let mut run = LabRun::new(&sc, &rules(text), 7, Timestamp(1_000_000_000)).unwrap();
    let mut out: Vec<Frame> = run.advance(6_000_000).into_iter().map(|(f, _)| f).collect();
    out.sort_by_key(|f| f.ts.0);
    out
}

fn is_syn_to_22(f: &Frame) -> bool {
    let Some((h, ip)) = ports_of(f) else {
        return false;
    };
    h.proto == 6 && h.ports(&ip).is_some_and(|p| p.1 == 22) && ip[h.hlen + 13] & 0x12 == 0x02
}

#[test]
fn the_same_rules_agree_on_every_packet_the_router_received() {
    let (out, a) = compare(frames(BLOCKS), &rules(BLOCKS));
    assert!(a.compared >= 20, "{a:?}");
    assert_eq!(a.agree, a.compared, "{:?}", a.disagreements);
    let dropped = out
        .iter()
        .filter(|c| c.kernel == Some(Kernel::Nothing) && c.agrees == Some(true))
        .count();
    assert!(dropped >= 3, "the SYNs to 22 dropped by both: {dropped}");
    assert!(out.iter().all(|c| c.why.is_none()));
}

#[test]
fn other_rules_disagree_on_the_packets_they_judge_otherwise_and_only_those() {
    // The "kernel" dropped SSH; the simulator is given rules that let it through.
    let (out, a) = compare(frames(BLOCKS), &rules(OPEN));
    let differ: Vec<&Compared> = out.iter().filter(|c| c.agrees == Some(false)).collect();
    assert!(differ.len() >= 3, "{a:?}");
    assert_eq!(a.compared - a.agree, differ.len() as u64);
    for c in &differ {
        assert!(is_syn_to_22(&c.frame), "{:?}", c.why);
        assert_eq!(c.kernel, Some(Kernel::Nothing));
        let why = c.why.as_deref().unwrap();
        assert!(why.contains("Accept") && why.contains("dropped"), "{why}");
    }
    assert_eq!(a.disagreements.len(), differ.len().min(50));
}

#[test]
fn a_packet_waits_out_its_window_and_a_change_of_rules_is_taken_at_its_time() {
    let fs = frames(BLOCKS);
    let mut c = Comparer::new(&rules(BLOCKS));
    let first = fs[0].ts.0;
    for f in fs.iter().take(5) {
        c.push(f.clone());
    }
    // Nothing is ready before its window has passed.
    assert!(c.ready(first + WINDOW_NS / 2).is_empty());
    let ready = c.ready(first + WINDOW_NS + 1);
    assert!(!ready.is_empty() && ready.iter().all(|r| r.frame.ts.0 < first + 1));

    // The rules change at the first SYN to 22: from then the simulator lets SSH through,
    // while the frames (the old rules enforced) show it dropped.
    let at = fs.iter().position(is_syn_to_22).unwrap();
    let t = fs[at].ts.0;
    let mut c = Comparer::new(&rules(BLOCKS));
    c.rules_changed(t, t, rules(OPEN));
    for f in &fs {
        c.push(f.clone());
    }
    let out = c.ready(i64::MAX);
    assert_eq!(c.agreement.during_change, 1, "{:?}", c.agreement);
    assert!(out[at].agrees.is_none());
    let later = out[at + 1..]
        .iter()
        .filter(|o| is_syn_to_22(&o.frame) && o.judged.is_some())
        .collect::<Vec<_>>();
    assert!(!later.is_empty() && later.iter().all(|o| o.agrees == Some(false)));
    assert!(out[..at].iter().all(|o| o.agrees != Some(false)));
}
