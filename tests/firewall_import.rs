//! iptables-save import: each ruleset in tests/data/rulesets/*.iptables and the nft that
//! `iptables-restore-translate` makes of it give every packet the same verdict, decided by the
//! same rule, with the same counters — over random packets on every hook and over the capture
//! corpus. Saved rulesets and the bundled examples pass `nft -c` in a throwaway network
//! namespace.

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use packetlab::capture::file::CaptureReader;
use packetlab::engine::Engine;
use packetlab::firewall::eval::{evaluate, Final, PacketView};
use packetlab::firewall::model::*;
use packetlab::firewall::{iptables, nft, save, Firewall, Judgement, Locality};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files of `tests/data/rulesets` and `assets/rules` with this extension, sorted: the
/// filter-table rulesets of this test. The realistic rulesets with a `# packetlab-test:` header
/// (NAT, raw and mangle tables, constructs iptables-restore-translate cannot translate) are
/// `tests/rulesets.rs`'s.
fn ruleset_files(ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = ["tests/data/rulesets", "assets/rules"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root().join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .filter(|p| {
            !std::fs::read_to_string(p)
                .unwrap()
                .contains("# packetlab-test:")
        })
        .collect();
    v.sort();
    v
}

fn iptables_files() -> Vec<PathBuf> {
    let v = ruleset_files("iptables");
    assert!(v.len() >= 5, "the iptables-save rulesets: {v:?}");
    v
}

/// `iptables-restore-translate -f FILE`, with the nat table's bare ACCEPT chains taken out (nft
/// chains of type nat are outside packetlab's subset; these carry no rules). `None` when the tool
/// is missing (a failure in CI).
fn translate(path: &Path) -> Option<String> {
    if !common::have_tool("iptables-restore-translate") {
        common::require_or_skip("iptables-restore-translate (Debian package iptables)");
        return None;
    }
    let out = Command::new("iptables-restore-translate")
        .arg("-f")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "iptables-restore-translate -f {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut kept = String::new();
    for line in text.lines() {
        // A rule the tool cannot translate becomes a comment: the comparison would be void.
        assert!(
            !line.starts_with("# -t") && !line.contains(" xt "),
            "{}: untranslated: {line}",
            path.display()
        );
        if line.starts_with("add table ip nat") {
            continue;
        }
        if line.starts_with("add chain ip nat ") {
            assert!(line.ends_with("policy accept; }"), "{line}");
            continue;
        }
        assert!(!line.contains(" ip nat "), "{line}");
        kept.push_str(line);
        kept.push('\n');
    }
    Some(kept)
}

/// Both forms of one ruleset, loaded as `--rules` loads them (the format told from the text).
struct Pair {
    name: String,
    ipt: Ruleset,
    nft: Ruleset,
    nft_path: tempfile::TempPath,
    ipt_path: PathBuf,
}

fn pairs() -> Vec<Pair> {
    let mut v = Vec::new();
    for path in iptables_files() {
        let Some(text) = translate(&path) else {
            return Vec::new();
        };
        let tmp = tempfile::Builder::new().suffix(".nft").tempfile().unwrap();
        std::fs::write(tmp.path(), &text).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let mut ipt = Firewall::load(&path, Locality::default())
            .unwrap_or_else(|e| panic!("{e}"))
            .ruleset;
        // A nat table that only declares its chains (the translation leaves it out above).
        ipt.tables
            .retain(|t| t.name != "nat" || t.chains.iter().any(|c| !c.rules.is_empty()));
        let nft = Firewall::load(tmp.path(), Locality::default())
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
            .ruleset;
        // The same chains, in the same order, with as many rules: rule ids correspond.
        let shape = |rs: &Ruleset| -> Vec<(String, Option<BaseChain>, usize)> {
            rs.tables[0]
                .chains
                .iter()
                .map(|c| (c.name.clone(), c.base.clone(), c.rules.len()))
                .collect()
        };
        assert_eq!(ipt.tables.len(), 1, "{name}");
        assert_eq!(nft.tables.len(), 1, "{name}: {text}");
        assert_eq!(shape(&ipt), shape(&nft), "{name}");
        v.push(Pair {
            name,
            ipt,
            nft,
            nft_path: tmp.into_temp_path(),
            ipt_path: path,
        });
    }
    v
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
}

/// Addresses and ports the rules name, at and around their edges, so random packets meet every
/// rule on both sides of its boundaries.
fn interesting(rs: &Ruleset) -> (Vec<IpAddr>, Vec<u16>) {
    let mut addrs: BTreeSet<IpAddr> = [
        [127, 0, 0, 1],
        [192, 168, 1, 10],
        [192, 168, 7, 7],
        [10, 0, 1, 5],
        [10, 0, 2, 10],
        [10, 0, 3, 4],
        [10, 200, 0, 1],
        [8, 8, 8, 8],
        [203, 0, 113, 9],
        [198, 51, 100, 7],
        [224, 0, 0, 251],
        [192, 0, 2, 77],
        [172, 16, 5, 5],
    ]
    .into_iter()
    .map(|a| IpAddr::V4(Ipv4Addr::from(a)))
    .collect();
    let mut ports: BTreeSet<u16> = [0, 1, 22, 53, 80, 443, 1023, 1024, 40000, 65535].into();
    let mut int = |n: u64| {
        if let Ok(p) = u16::try_from(n) {
            ports.insert(p);
            ports.insert(p.saturating_add(1));
            ports.insert(p.saturating_sub(1));
        }
    };
    for (_, r) in rs.rules() {
        for m in &r.matches {
            let Rhs::Values(vs) = &m.rhs else { continue };
            for v in vs {
                match v {
                    Value::Prefix(IpAddr::V4(a), len) => {
                        let n = u32::from(*a);
                        let size = if *len == 0 {
                            u32::MAX
                        } else {
                            (1u32 << (32 - len)) - 1
                        };
                        for x in [n, n.wrapping_add(1), n | size, (n | size).wrapping_add(1)] {
                            addrs.insert(IpAddr::V4(Ipv4Addr::from(x)));
                        }
                        addrs.insert(IpAddr::V4(Ipv4Addr::from(n.wrapping_sub(1))));
                    }
                    Value::Int(n) if matches!(m.field, Field::Sport(_) | Field::Dport(_)) => {
                        int(*n)
                    }
                    Value::IntRange(a, b) => {
                        int(*a);
                        int(*b);
                    }
                    _ => {}
                }
            }
        }
    }
    (addrs.into_iter().collect(), ports.into_iter().collect())
}

const IFACES: [Option<&str>; 9] = [
    None,
    Some("lo"),
    Some("eth0"),
    Some("eth1"),
    Some("eth2"),
    Some("ppp0"),
    Some("ppp1"),
    Some("wlan0"),
    Some("eth10"),
];
const HOOKS: [&[Hook]; 4] = [
    &[Hook::Input],
    &[Hook::Output],
    &[Hook::Forward],
    &[Hook::Output, Hook::Input],
];
const STATES: [u8; 5] = [
    ct::NEW,
    ct::ESTABLISHED,
    ct::RELATED,
    ct::INVALID,
    ct::UNTRACKED,
];
const FLAGS: [u8; 14] = [
    0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0x00, 0x3f, 0x03, 0x06, 0x29, 0xc2, 0x01,
];

fn random_packet(rng: &mut Rng, addrs: &[IpAddr], ports: &[u16]) -> PacketView<'static> {
    let v6 = rng.below(20) == 0;
    let (src, dst) = if v6 {
        let a = |r: &mut Rng| IpAddr::V6(Ipv6Addr::from(r.next() as u128 | (0x2001_0db8 << 96)));
        (a(rng), a(rng))
    } else {
        (rng.pick(addrs), rng.pick(addrs))
    };
    let l4 = rng.pick(&[1u8, 6, 6, 6, 6, 17, 17, 17, 47, 132, 58]);
    let port = |r: &mut Rng| {
        if r.below(4) == 0 {
            r.next() as u16
        } else {
            r.pick(ports)
        }
    };
    let has_ports = matches!(l4, 6 | 17 | 132);
    let (sport, dport) = (port(rng), port(rng));
    let flags = if rng.below(4) == 0 {
        rng.next() as u8
    } else {
        rng.pick(&FLAGS)
    };
    let icmp = rng.pick(&[0u8, 3, 5, 8, 8, 11, 13, 30]);
    PacketView {
        v6,
        src,
        dst,
        l4: Some(l4),
        sport: has_ports.then_some(sport),
        dport: has_ports.then_some(dport),
        tcp_flags: (l4 == 6).then_some(flags),
        icmp_type: (l4 == 1 && !v6).then_some(icmp),
        icmpv6_type: (l4 == 58 && v6).then_some(128),
        iif: rng.pick(&IFACES),
        oif: rng.pick(&IFACES),
        ct: rng.pick(&STATES),
        len: 40 + rng.below(1400) as u32,
        extra: Default::default(),
        raw: Default::default(),
    }
}

/// Sets the fields of `p` so that the positive matches of rule `id`, and of a chain of jumps that
/// leads to it, hold; returns the hook of the base chain at the top. Matches that say what a field
/// is not are left to chance.
fn aim(
    rs: &Ruleset,
    id: RuleId,
    addrs: &[IpAddr],
    rng: &mut Rng,
    p: &mut PacketView<'static>,
) -> &'static [Hook] {
    let table = &rs.tables[id.table as usize];
    let mut path: Vec<&Rule> = vec![rs.rule(id).unwrap()];
    let mut chain = id.chain as usize;
    let mut hook = None;
    for _ in 0..8 {
        let c = &table.chains[chain];
        if let Some(b) = &c.base {
            hook = Some(b.hook);
            break;
        }
        let callers: Vec<(usize, &Rule)> = table
            .chains
            .iter()
            .enumerate()
            .flat_map(|(ci, ch)| ch.rules.iter().map(move |r| (ci, r)))
            .filter(|(_, r)| {
                matches!(&r.verdict, Some(Verdict::Jump(t) | Verdict::Goto(t)) if *t == c.name)
            })
            .collect();
        if callers.is_empty() {
            break;
        }
        let (ci, r) = callers[rng.below(callers.len())];
        path.push(r);
        chain = ci;
    }
    if p.v6 {
        // iptables rules are IPv4: aim with an IPv4 packet.
        p.v6 = false;
        p.src = rng.pick(addrs);
        p.dst = rng.pick(addrs);
        p.icmpv6_type = None;
        if p.l4 == Some(58) {
            p.l4 = None;
            set_l4(p, 1);
        }
    }
    for r in path.iter().rev() {
        for m in &r.matches {
            aim_match(m, rng, p);
        }
    }
    match hook {
        Some(Hook::Output) => &[Hook::Output],
        Some(Hook::Forward) => &[Hook::Forward],
        _ => &[Hook::Input],
    }
}

fn set_l4(p: &mut PacketView<'static>, l4: u8) {
    if p.l4 == Some(l4) {
        return;
    }
    p.l4 = Some(l4);
    let ports = matches!(l4, 6 | 17 | 132);
    p.sport = ports.then_some(p.sport.unwrap_or(40000));
    p.dport = ports.then_some(p.dport.unwrap_or(80));
    p.tcp_flags = (l4 == 6).then_some(p.tcp_flags.unwrap_or(0x02));
    p.icmp_type = (l4 == 1).then_some(p.icmp_type.unwrap_or(8));
    p.icmpv6_type = None;
}

fn aim_match(m: &Match, rng: &mut Rng, p: &mut PacketView<'static>) {
    if m.op != Op::Eq {
        return;
    }
    let pick_int = |rng: &mut Rng, vs: &[Value]| -> Option<u64> {
        match vs.get(rng.below(vs.len().max(1)))? {
            Value::Int(n) => Some(*n),
            Value::IntRange(a, b) => Some(a + rng.next() % (b - a + 1)),
            _ => None,
        }
    };
    match (&m.rhs, m.field) {
        (Rhs::Values(vs), Field::IpSaddr | Field::IpDaddr) => {
            let a = match vs.get(rng.below(vs.len())) {
                Some(Value::Prefix(IpAddr::V4(a), len)) => {
                    let size = if *len == 0 {
                        u32::MAX
                    } else {
                        (1u32 << (32 - len)) - 1
                    };
                    IpAddr::V4(Ipv4Addr::from(u32::from(*a) + (rng.next() as u32 & size)))
                }
                Some(Value::AddrRange(a, _)) => *a,
                _ => return,
            };
            if m.field == Field::IpSaddr {
                p.src = a;
            } else {
                p.dst = a;
            }
            if p.src.is_ipv6() || p.dst.is_ipv6() {
                p.src = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
            }
        }
        (Rhs::Values(vs), Field::IpProtocol | Field::L4Proto) => {
            if let Some(n) = pick_int(rng, vs) {
                set_l4(p, n as u8);
            }
        }
        (Rhs::Values(vs), Field::Sport(l4) | Field::Dport(l4)) => {
            match l4 {
                L4::Tcp => set_l4(p, 6),
                L4::Udp => set_l4(p, 17),
                L4::Th if p.sport.is_none() => set_l4(p, 6),
                L4::Th => {}
            }
            let port = pick_int(rng, vs).map(|n| n as u16);
            if matches!(m.field, Field::Sport(_)) {
                p.sport = port;
            } else {
                p.dport = port;
            }
        }
        (Rhs::Masked { mask, value }, Field::TcpFlags) => {
            set_l4(p, 6);
            p.tcp_flags = p.tcp_flags.map(|f| (f & !(*mask as u8)) | *value as u8);
        }
        (Rhs::AnyBits(bits), Field::TcpFlags) => {
            set_l4(p, 6);
            p.tcp_flags = p
                .tcp_flags
                .map(|f| f | (*bits as u8 & bits.wrapping_neg() as u8));
        }
        (Rhs::AnyBits(bits), Field::CtState) => {
            let set: Vec<u8> = STATES
                .iter()
                .copied()
                .filter(|s| *bits as u8 & s != 0)
                .collect();
            if !set.is_empty() {
                p.ct = set[rng.below(set.len())];
            }
        }
        (Rhs::Values(vs), Field::IcmpType) => {
            set_l4(p, 1);
            p.icmp_type = pick_int(rng, vs).map(|n| n as u8);
        }
        (Rhs::Values(vs), Field::Iifname | Field::Oifname) => {
            let Some(Value::Name(n)) = vs.first() else {
                return;
            };
            let name: &'static str = match n.strip_suffix('*') {
                Some(stem) => Box::leak(format!("{stem}{}", rng.below(3)).into_boxed_str()),
                None => Box::leak(n.clone().into_boxed_str()),
            };
            if m.field == Field::Iifname {
                p.iif = Some(name);
            } else {
                p.oif = Some(name);
            }
        }
        _ => {}
    }
}

#[test]
fn iptables_save_and_its_translation_judge_random_packets_alike() {
    for pair in pairs() {
        let (addrs, ports) = interesting(&pair.ipt);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let ids: Vec<RuleId> = pair.ipt.rules().map(|(id, _)| id).collect();
        let mut verdicts = [0u64; 3];
        let mut matched: BTreeSet<RuleId> = BTreeSet::new();
        let mut wrong = Vec::new();
        const N: usize = 60_000;
        for _ in 0..N {
            let mut p = random_packet(&mut rng, &addrs, &ports);
            let mut hooks = rng.pick(&HOOKS);
            // Half the packets are aimed at a rule: the others would rarely meet the narrow ones.
            if rng.below(2) == 0 {
                let id = ids[rng.below(ids.len())];
                hooks = aim(&pair.ipt, id, &addrs, &mut rng, &mut p);
            }
            let a = evaluate(&pair.ipt, hooks, &p, false);
            let b = evaluate(&pair.nft, hooks, &p, false);
            verdicts[a.verdict as usize] += 1;
            matched.extend(a.hits.iter().copied());
            if (a.verdict, a.rule, a.chain, &a.hits) != (b.verdict, b.rule, b.chain, &b.hits) {
                let text = |rs: &Ruleset, r: Option<RuleId>| {
                    r.and_then(|id| rs.rule(id)).map(|r| r.origin.text.clone())
                };
                wrong.push(format!(
                    "{hooks:?} {p:?}\n  iptables: {} by {:?}\n  nft:      {} by {:?}",
                    a.verdict.name(),
                    text(&pair.ipt, a.rule),
                    b.verdict.name(),
                    text(&pair.nft, b.rule),
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "{}: {} of {N} packets judged differently, e.g.\n{}",
            pair.name,
            wrong.len(),
            wrong[..wrong.len().min(5)].join("\n")
        );
        // The packets were varied enough: every rule matched some, and the verdicts differ.
        let missed: Vec<String> = pair
            .ipt
            .rules()
            .filter(|(id, _)| !matched.contains(id))
            .map(|(_, r)| format!("line {}: {}", r.origin.line, r.origin.text))
            .collect();
        assert!(
            missed.is_empty(),
            "{}: no packet matched {missed:#?}",
            pair.name
        );
        assert!(
            verdicts[Final::Accept as usize] > 0
                && verdicts[Final::Drop as usize] + verdicts[Final::Reject as usize] > 0,
            "{}: {verdicts:?}",
            pair.name
        );
        if pair.name.starts_with("reject") {
            assert!(verdicts[Final::Reject as usize] > 1000, "{verdicts:?}");
        }
    }
}

/// Each rule's packet and byte counters, by rule.
type Counters = Vec<(RuleId, u64, u64)>;

/// Every packet of a capture through the engine with this firewall: its judgements in order,
/// and the counters at the end.
fn judge_capture(
    path: &Path,
    rules: &Path,
    locality: &Locality,
    iface: &str,
) -> Option<(Vec<Option<Judgement>>, Counters)> {
    let mut reader = CaptureReader::open(path).ok()?;
    let mut e = Engine::new(16);
    e.firewall = Some(Firewall::load(rules, locality.clone()).unwrap_or_else(|e| panic!("{e}")));
    e.iface_names = vec![Some(iface.to_string()); 64];
    let mut out = Vec::new();
    while let Ok(Some(f)) = reader.next_frame() {
        out.push(e.summarize(&f).judgement);
    }
    let fw = e.firewall.as_ref().unwrap();
    let mut counters: Vec<(RuleId, u64, u64)> = fw
        .counters
        .iter()
        .map(|(id, c)| (*id, c.packets, c.bytes))
        .collect();
    counters.sort();
    Some((out, counters))
}

/// The first IPv4 source in a capture: the host, for `--local`.
fn first_ipv4_source(path: &Path) -> Option<IpAddr> {
    let mut reader = CaptureReader::open(path).ok()?;
    let mut e = Engine::new(16);
    while let Ok(Some(f)) = reader.next_frame() {
        if let Some(src @ IpAddr::V4(_)) = e.summarize(&f).summary.src {
            return Some(src);
        }
    }
    None
}

#[test]
fn iptables_save_and_its_translation_judge_the_capture_corpus_alike() {
    let pairs = pairs();
    if pairs.is_empty() {
        return;
    }
    let captures = common::all_capture_files();
    let mut judged = 0u64;
    let mut kinds = BTreeSet::new();
    for cap in &captures {
        let host = first_ipv4_source(cap);
        // The host as nobody (every packet is input), as the capture's first sender (its
        // output and the answers' input), and as a bystander (everything is forwarded).
        let mut runs = vec![(Locality::default(), "eth0")];
        if let Some(h) = host {
            runs.push((
                Locality {
                    nets: vec![(h, 32)],
                    ..Locality::default()
                },
                "ppp0",
            ));
        }
        runs.push((
            Locality {
                nets: vec![("198.51.100.254".parse().unwrap(), 32)],
                ..Locality::default()
            },
            "eth1",
        ));
        for pair in &pairs {
            for (locality, iface) in &runs {
                let Some(a) = judge_capture(cap, &pair.ipt_path, locality, iface) else {
                    continue;
                };
                let b = judge_capture(cap, &pair.nft_path, locality, iface).unwrap();
                for (i, (x, y)) in a.0.iter().zip(&b.0).enumerate() {
                    // Chains and rules by their place in the filter table (the iptables file
                    // may hold an empty nat table before it, which the translation leaves out).
                    let key = |j: &packetlab::firewall::Judgement| {
                        (
                            j.verdict,
                            j.rule.map(|r| (r.chain, r.rule)),
                            j.chain.map(|c| c.1),
                            j.ct,
                        )
                    };
                    assert_eq!(
                        x.as_ref().map(key),
                        y.as_ref().map(key),
                        "{} packet {} with {} ({locality:?}, {iface}): iptables {:?} vs nft {:?}",
                        cap.display(),
                        i + 1,
                        pair.name,
                        x.and_then(|j| j.rule)
                            .map(|id| packetlab::firewall::model::RuleId { table: 0, ..id })
                            .and_then(|id| pair.ipt.rule(id))
                            .map(|r| &r.origin.text),
                        y.and_then(|j| j.rule)
                            .and_then(|id| pair.nft.rule(id))
                            .map(|r| &r.origin.text),
                    );
                    if let Some(j) = x {
                        judged += 1;
                        kinds.insert(j.verdict.name());
                    }
                }
                assert_eq!(a.0.len(), b.0.len());
                let place = |c: &Vec<(packetlab::firewall::model::RuleId, u64, u64)>| {
                    c.iter()
                        .map(|(id, p, b)| ((id.chain, id.rule), *p, *b))
                        .collect::<Vec<_>>()
                };
                assert_eq!(
                    place(&a.1),
                    place(&b.1),
                    "{} with {}: counters",
                    cap.display(),
                    pair.name
                );
            }
        }
    }
    eprintln!(
        "{judged} judgements compared over {} captures and {} rulesets",
        captures.len(),
        pairs.len()
    );
    // Each capture is judged by every ruleset at least once (two or three localities): at
    // least one judgement per frame and ruleset (ARP and the like are not judged, but the
    // extra localities outnumber them).
    let frames: u64 = captures
        .iter()
        .filter_map(|c| std::fs::read_to_string(common::truth_file(c, "packets.tsv")).ok())
        .map(|t| t.lines().count().saturating_sub(1) as u64)
        .sum();
    assert!(
        judged >= frames * pairs.len() as u64,
        "only {judged} judgements compared ({frames} frames, {} rulesets)",
        pairs.len()
    );
    assert_eq!(kinds.len(), 3, "verdicts met: {kinds:?}");
}

/// What `--print packets --format json` says of each packet: verdict, rule line, ct state.
fn verdicts_by_binary(capture: &Path, rules: &Path) -> Vec<(String, String)> {
    let out = Command::new(common::bin())
        .arg("-r")
        .arg(capture)
        .arg("--rules")
        .arg(rules)
        .args(["--print", "packets", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["verdict"].to_string(), v["ct_state"].to_string())
        })
        .collect()
}

#[test]
fn the_binary_loads_both_formats_and_agrees() {
    let cap = common::own_corpus().join("lo_ipv4.pcap");
    for pair in pairs() {
        let a = verdicts_by_binary(&cap, &pair.ipt_path);
        let b = verdicts_by_binary(&cap, &pair.nft_path);
        assert!(!a.is_empty());
        assert_eq!(a, b, "{}", pair.name);
        assert!(a.iter().all(|(v, _)| v != "null"), "{a:?}");
    }
    // --print rules shows the iptables lines as written, with their line numbers.
    let path = root().join("tests/data/rulesets/workstation.iptables");
    let out = Command::new(common::bin())
        .arg("-r")
        .arg(&cap)
        .arg("--rules")
        .arg(&path)
        .args(["--print", "rules"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("    8 ")
            && l.ends_with("-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")),
        "{text}"
    );
}

#[test]
fn saving_imported_rulesets_as_nft_keeps_them() {
    for path in iptables_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let rs = iptables::parse(&text, "x").unwrap();
        let saved = save::to_nft(&rs);
        let back = nft::parse(&saved, "saved.nft").unwrap_or_else(|e| panic!("{e}\n{saved}"));
        let strip = |rs: &Ruleset| -> Vec<(String, Option<BaseChain>, Vec<_>)> {
            rs.tables[0]
                .chains
                .iter()
                .map(|c| {
                    let rules: Vec<_> = c
                        .rules
                        .iter()
                        .map(|r| {
                            (
                                r.matches.clone(),
                                r.verdict.clone(),
                                r.log.clone(),
                                r.comment.clone(),
                                r.enabled,
                            )
                        })
                        .collect();
                    (c.name.clone(), c.base.clone(), rules)
                })
                .collect()
        };
        assert_eq!(strip(&rs), strip(&back), "{}:\n{saved}", path.display());
    }
}

/// `nft -c -f FILE` in a network namespace of its own (`unshare -n`), which goes away with it.
fn nft_check(path: &Path) -> Result<(), String> {
    let out = Command::new("unshare")
        .args(["-n", "nft", "-c", "-f"])
        .arg(path)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn can_nft_check() -> bool {
    if !common::is_root() || !common::have_tool("nft") || !common::have_tool("unshare") {
        common::require_or_skip("root, nft (Debian package nftables) and unshare for nft -c");
        return false;
    }
    true
}

#[test]
fn saved_rulesets_and_the_examples_pass_nft_check() {
    if !can_nft_check() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut examples = ruleset_files("nft");
    assert!(examples.len() >= 4, "{examples:?}");
    examples.extend(iptables_files());
    for path in examples {
        let fw = Firewall::load(&path, Locality::default()).unwrap_or_else(|e| panic!("{e}"));
        if path.extension().is_some_and(|e| e == "nft") {
            files.push(path.clone());
        }
        // Saved with a rule toggled off, as the TUI would save it.
        let mut rs = fw.ruleset.clone();
        let second = rs.rules().nth(1).map(|(id, _)| id);
        if let Some(id) = second {
            rs.rule_mut(id).unwrap().enabled = false;
        }
        let saved = dir.path().join(format!(
            "{}-{}.saved.nft",
            files.len(),
            path.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&saved, save::to_nft(&rs)).unwrap();
        files.push(saved);
    }
    let mut failed = Vec::new();
    for f in &files {
        if let Err(e) = nft_check(f) {
            failed.push(format!(
                "{}: {e}\n{}",
                f.display(),
                std::fs::read_to_string(f).unwrap()
            ));
        }
    }
    eprintln!(
        "nft -c accepted {} of {} files",
        files.len() - failed.len(),
        files.len()
    );
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    if std::env::var_os("PACKETLAB_KEEP_SAVED").is_some() {
        for f in &files {
            eprintln!(
                "== {}\n{}",
                f.display(),
                std::fs::read_to_string(f).unwrap()
            );
        }
    }
}
