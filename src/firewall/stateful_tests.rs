//! The stateful forms of issue 15 (5): top-level commands applied in file order, counters
//! with counts, `meta mark` and `ct mark` as the ruleset sets them, and sets filled by rules —
//! parsed, judged packet after packet (through the simulator, so conntrack and the state kept
//! across packets take part), and written back by `--save`.
use super::eval::{self, Final, Meters, PacketView, Seg};
use super::model::*;
use super::test_packets::{tcp, v4};
use super::*;
use crate::decode::{Summary, TcpInfo};

fn parse(src: &str) -> Ruleset {
    nft::parse(src, "t.nft").unwrap_or_else(|e| panic!("{e}"))
}

const SYN: u16 = TcpInfo::SYN;
const ACK: u16 = TcpInfo::ACK;
const HOST: [u8; 4] = [10, 0, 0, 1];
const PEER: [u8; 4] = [10, 0, 0, 2];
const OTHER: [u8; 4] = [10, 0, 0, 3];
const SEC: u64 = 1_000_000_000;

fn firewall(src: &str) -> Firewall {
    Firewall::new(parse(src), "t.nft".into(), Locality::default())
}

/// The verdict, whether it is exact, and the line of the deciding rule (0: a policy).
fn judge(fw: &mut Firewall, s: &Summary, ts_ns: u64) -> (Final, bool, u32) {
    let (j, _) = fw.judge(s, Some("eth0"), 60, ts_ns).unwrap();
    let line = j.rule.and_then(|r| fw.rule_line(r)).unwrap_or(0);
    (j.verdict, j.exact, line)
}

/// Saved and read back: the same tables, chains, rules (as written) and sets.
fn round_trip(rs: &Ruleset) -> Ruleset {
    let text = save::to_nft(rs);
    let back = nft::parse(&text, "saved.nft").unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back.tables.len(), rs.tables.len(), "{text}");
    for (a, b) in rs.tables.iter().zip(&back.tables) {
        assert_eq!(a.sets.len(), b.sets.len(), "{text}");
        for (x, y) in a.sets.iter().zip(&b.sets) {
            assert_eq!(
                (&x.name, &x.elements, x.dynamic, x.timeout_ms, x.size),
                (&y.name, &y.elements, y.dynamic, y.timeout_ms, y.size),
                "{text}"
            );
        }
        for (x, y) in a.chains.iter().zip(&b.chains) {
            let texts = |c: &Chain| {
                c.rules
                    .iter()
                    .map(|r| (r.matches.clone(), r.effects.clone(), r.verdict.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(texts(x), texts(y), "{text}");
        }
    }
    back
}

#[test]
fn commands_at_the_top_apply_in_file_order() {
    // The file: created, deleted, then defined.
    let rs = parse(
        "table inet filter\ndelete table inet filter\ntable inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n  tcp dport 22 accept\n }\n}\n",
    );
    assert_eq!(rs.tables.len(), 1);
    assert_eq!(rs.tables[0].chains[0].rules.len(), 1);
    // `flush table` empties the chains, keeps the sets and their elements; `flush set` empties
    // a set, `add element`/`delete element` change it, `delete chain` removes one.
    let rs = parse(
        "table inet t {\n set s { type ipv4_addr; elements = { 1.2.3.4 } }\n chain c { ip saddr @s drop; }\n chain d { type filter hook input priority 0; jump c; }\n chain e { accept; }\n}\n\
         flush table inet t\nadd rule inet t c accept\nflush set inet t s\nadd element inet t s { 5.6.7.8, 9.9.9.9 }\n\
         delete element inet t s { 9.9.9.9 }\ndelete chain inet t e\n",
    );
    let t = &rs.tables[0];
    assert_eq!(
        t.chains.iter().map(|c| c.rules.len()).collect::<Vec<_>>(),
        vec![1, 0]
    );
    assert_eq!(
        t.sets[0].elements,
        vec![Value::Prefix(v4([5, 6, 7, 8]), 32)]
    );
    // `flush ruleset` forgets what came before it, `flush ruleset ip` one family; `flush
    // chain` one chain.
    let rs = parse(
        "table ip x { chain c { accept; }; }\ntable ip6 y { chain c { accept; }; }\nflush ruleset ip\n\
         table ip z { chain c { drop; }; }\nflush chain ip z c\n",
    );
    let names: Vec<&str> = rs.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["y", "z"]);
    assert!(rs.tables[1].chains[0].rules.is_empty());
    let rs = parse("table ip x { chain c { accept; }; }\nflush ruleset\n");
    assert!(rs.tables.is_empty());
    // `delete rule … handle N` names what a file cannot know: passed over.
    parse("table ip x { chain c { accept; }; }\ndelete rule ip x c handle 4\n");
    round_trip(&parse(
        "table inet filter\ndelete table inet filter\ntable inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n  tcp dport 22 accept\n }\n}\n",
    ));
}

#[test]
fn counters_with_packets_or_bytes_alone() {
    let rs = parse(
        "table inet t {\n set s { type ipv4_addr; counter; elements = { 1.2.3.4 counter packets 3, 5.6.7.8 counter bytes 9 } }\n chain c {\n  counter packets 5\n  counter bytes 7 accept\n  counter packets 1 bytes 2 drop\n  counter bytes 2 packets 1\n }\n}\n",
    );
    let rules = &rs.tables[0].chains[0].rules;
    assert_eq!(rules.len(), 4);
    assert!(rules.iter().all(|r| r.counter && r.unsupported.is_none()));
    assert_eq!(rs.tables[0].sets[0].elements.len(), 2);
    round_trip(&rs);
}

const MARKS: &str = "table inet t {
 chain pre {
  type filter hook prerouting priority -150; policy accept;
  ct mark != 0 meta mark set ct mark
  tcp dport 22 meta mark set meta mark | 0x10
  tcp dport 80 meta mark set 0x1 ct mark set meta mark
  tcp dport 443 mark set mark and 0xff or 0x200
 }
 chain input {
  type filter hook input priority 0; policy drop;
  meta mark 0x10 accept
  ct mark 0x1 meta mark 0x1 accept
  meta mark & 0xff00 == 0x200 accept
  meta mark vmap { 0x11 : accept, 0x21 : drop }
 }
}
";

#[test]
fn marks_are_read_and_set_through_the_walk() {
    let rs = parse(MARKS);
    let pre = &rs.tables[0].chains[0].rules;
    assert_eq!(pre[0].matches[0].field, Field::CtMark);
    assert_eq!(
        pre[0].effects,
        vec![(
            1,
            Effect::Mark {
                ct: false,
                expr: MarkExpr {
                    src: MarkSrc::Ct,
                    ops: vec![]
                }
            }
        )]
    );
    assert_eq!(
        pre[3].effects[0].1,
        Effect::Mark {
            ct: false,
            expr: MarkExpr {
                src: MarkSrc::Meta,
                ops: vec![(MarkOp::And, 0xff), (MarkOp::Or, 0x200)]
            }
        }
    );
    let input = &rs.tables[0].chains[1].rules;
    assert_eq!(
        input[2].matches[0].rhs,
        Rhs::Masked {
            mask: 0xff00,
            value: 0x200
        }
    );
    assert!(rs.rules().all(|(_, r)| r.unsupported.is_none()));
    round_trip(&rs);

    let mut fw = firewall(MARKS);
    // A mark from outside is 0: nothing marks port 8080, the policy drops it.
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 40000, HOST, 8080, SYN), 0),
        (Final::Drop, true, 0)
    );
    // Set in prerouting, seen at input.
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 40001, HOST, 22, SYN), 0),
        (Final::Accept, true, 11)
    );
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 40002, HOST, 443, SYN), 0).2,
        13,
        "0 & 0xff | 0x200"
    );
    // Port 80 saves the mark in the connection; the connection's later packets restore it.
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 40003, HOST, 80, SYN), 0),
        (Final::Accept, true, 12)
    );
    assert_eq!(
        judge(&mut fw, &tcp(HOST, 80, PEER, 40003, SYN | ACK), 0),
        (Final::Accept, true, 12),
        "the reply restores the connection's mark"
    );
    // Another connection has its own mark (0).
    assert_eq!(
        judge(&mut fw, &tcp(OTHER, 40003, HOST, 8080, SYN), 0),
        (Final::Drop, true, 0)
    );
}

#[test]
fn a_mark_restored_then_changed_goes_through_the_vmap() {
    let mut fw = firewall(
        "table inet t {
 chain pre {
  type filter hook prerouting priority -150; policy accept;
  tcp dport 80 ct mark set 0x1
  ct mark 0x1 meta mark set ct mark | 0x20
 }
 chain input {
  type filter hook input priority 0; policy drop;
  meta mark vmap { 0x21 : accept, 0x1 : drop }
 }
}
",
    );
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 40000, HOST, 80, SYN), 0),
        (Final::Accept, true, 9)
    );
    // The reply is not to port 80, but its connection's mark is 0x1.
    assert_eq!(
        judge(&mut fw, &tcp(HOST, 80, PEER, 40000, SYN | ACK), 0),
        (Final::Accept, true, 9)
    );
    // Without a connection (`ct state invalid`: a bare FIN) `ct mark` reads nothing.
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 40001, HOST, 80, TcpInfo::FIN), 0),
        (Final::Drop, true, 0)
    );
}

const SETS: &str = "table inet t {
 set seen { type ipv4_addr; flags dynamic,timeout; timeout 10s; }
 set small { type ipv4_addr; size 1; flags dynamic; }
 set banned { type ipv4_addr; flags dynamic,timeout; }
 chain input {
  type filter hook input priority 0; policy drop;
  ip saddr @banned drop
  tcp dport 23 update @banned { ip saddr timeout 5s } drop
  tcp dport 22 add @seen { ip saddr } accept
  tcp dport 2222 ip saddr @seen accept
  tcp dport 25 add @small { ip saddr } accept
  tcp dport 26 set add ip saddr @small accept
  tcp dport 27 delete @seen { ip saddr } accept
  tcp dport 28 set update ip saddr timeout 1s @seen accept
 }
}
";

#[test]
fn sets_filled_by_rules_hold_what_they_put_in_until_it_times_out() {
    let rs = parse(SETS);
    let t = &rs.tables[0];
    assert!(t.sets.iter().all(|s| s.dynamic && !s.unsure));
    assert_eq!(
        (t.sets[0].timeout_ms, t.sets[1].size),
        (Some(10_000), Some(1))
    );
    let r = &t.chains[0].rules;
    assert_eq!(
        r[1].effects[0].1,
        Effect::Set(SetOp {
            op: SetOpKind::Update,
            set: "banned".into(),
            key: vec![Field::IpSaddr],
            timeout_ms: Some(5000),
        })
    );
    assert_eq!(
        r[7].effects[0].1,
        Effect::Set(SetOp {
            op: SetOpKind::Update,
            set: "seen".into(),
            key: vec![Field::IpSaddr],
            timeout_ms: Some(1000),
        })
    );
    assert!(r.iter().all(|r| r.unsupported.is_none() && !r.is_approx()));
    round_trip(&rs);

    let mut fw = firewall(SETS);
    let s = |src, dport| tcp(src, 40000 + dport, HOST, dport, SYN);
    // Not seen yet: the lookup fails, exactly.
    assert_eq!(judge(&mut fw, &s(PEER, 2222), 0), (Final::Drop, true, 0));
    assert_eq!(judge(&mut fw, &s(PEER, 22), SEC), (Final::Accept, true, 9));
    assert_eq!(
        judge(&mut fw, &s(PEER, 2222), 2 * SEC),
        (Final::Accept, true, 10)
    );
    assert_eq!(
        judge(&mut fw, &s(OTHER, 2222), 2 * SEC),
        (Final::Drop, true, 0)
    );
    // The set's timeout: 10 s after it was put in (an `add` does not start it again).
    let _ = judge(&mut fw, &tcp(PEER, 50000, HOST, 22, SYN), 5 * SEC);
    assert_eq!(
        judge(
            &mut fw,
            &tcp(PEER, 50001, HOST, 2222, SYN),
            10 * SEC + SEC - 1
        )
        .0,
        Final::Accept
    );
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 50002, HOST, 2222, SYN), 11 * SEC).0,
        Final::Drop
    );
    // `update` with its own timeout starts it again each time.
    let _ = judge(&mut fw, &tcp(OTHER, 1, HOST, 28, SYN), 20 * SEC);
    let _ = judge(&mut fw, &tcp(OTHER, 2, HOST, 28, SYN), 20 * SEC + SEC / 2);
    assert_eq!(
        judge(&mut fw, &tcp(OTHER, 3, HOST, 2222, SYN), 21 * SEC + SEC / 4).0,
        Final::Accept
    );
    // `delete` takes it out.
    let _ = judge(&mut fw, &tcp(OTHER, 4, HOST, 27, SYN), 21 * SEC + SEC / 3);
    assert_eq!(
        judge(&mut fw, &tcp(OTHER, 5, HOST, 2222, SYN), 21 * SEC + SEC / 2).0,
        Final::Drop
    );
    // A full set fails the `add`, and the rule stops before its verdict.
    assert_eq!(judge(&mut fw, &s(PEER, 25), 30 * SEC).0, Final::Accept);
    assert_eq!(judge(&mut fw, &s(OTHER, 25), 30 * SEC).0, Final::Drop);
    assert_eq!(
        judge(&mut fw, &s(PEER, 26), 30 * SEC).0,
        Final::Accept,
        "already there"
    );
    // Banned for 5 s by its first packet to port 23.
    assert_eq!(judge(&mut fw, &s(OTHER, 23), 40 * SEC).2, 8);
    assert_eq!(judge(&mut fw, &s(OTHER, 22), 44 * SEC).2, 7);
    assert_eq!(judge(&mut fw, &s(OTHER, 22), 45 * SEC).2, 9);
}

#[test]
fn a_set_a_rule_not_simulated_may_fill_is_approximate() {
    let src = "table inet t {
 set s { type ipv4_addr; flags dynamic; }
 chain input {
  type filter hook input priority 0; policy accept;
  tcp dport 22 meta skuid 1000 add @s { ip saddr }
  ip saddr @s drop
  tcp dport 80 meta skuid 1000 meta mark set 0x1
  meta mark 0x1 drop
 }
}
";
    let rs = parse(src);
    assert!(rs.tables[0].sets[0].unsure);
    let mut fw = firewall(src);
    // Not found, but the unsimulated rule may have put it there.
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 1, HOST, 22, SYN), 0),
        (Final::Accept, false, 0)
    );
    // The mark may have been set: the `meta mark 0x1` test cannot tell.
    assert_eq!(
        judge(&mut fw, &tcp(OTHER, 1, HOST, 80, SYN), 0),
        (Final::Accept, false, 0)
    );
}

#[test]
fn the_compiled_walk_agrees_with_the_linear_one_on_stateful_rules() {
    // Statements before tests, tests of marks and sets: the cache may not decide them.
    let src = "table inet t {
 set seen { type ipv4_addr; flags dynamic; }
 chain input {
  type filter hook input priority 0; policy drop;
  meta mark set 0x5 tcp dport 22 accept
  meta mark 0x5 udp dport 53 add @seen { ip saddr } accept
  ip saddr @seen tcp dport 80 accept
  meta mark 0x5 meta mark set meta mark ^ 0x4 tcp dport 81 accept
  meta mark 0x1 tcp dport 82 accept
 }
}
";
    let rs = parse(src);
    let bases = eval::Bases::of(&rs);
    let mut compiled = compile::Compiled::new(&rs);
    let (mut lin_m, mut fast_m) = (Meters::default(), Meters::default());
    let hooks = [Hook::Input];
    let pkt = |l4: u8, src: [u8; 4], dport: u16| PacketView {
        v6: false,
        src: v4(src),
        dst: v4(HOST),
        l4: Some(l4),
        sport: Some(1000),
        dport: Some(dport),
        tcp_flags: (l4 == 6).then_some(0x02),
        icmp_type: None,
        icmpv6_type: None,
        iif: Some("eth0"),
        oif: None,
        ct: ct::NEW,
        len: 60,
        extra: Default::default(),
        raw: Default::default(),
    };
    let seq = [
        pkt(6, PEER, 80),
        pkt(6, PEER, 22),
        pkt(17, PEER, 53),
        pkt(6, PEER, 80),
        pkt(6, OTHER, 80),
        pkt(6, OTHER, 81),
        pkt(6, OTHER, 82),
        pkt(17, OTHER, 54),
    ];
    let mut lines = Vec::new();
    for p in &seq {
        let lin = eval::walk(
            &rs,
            &bases,
            &hooks,
            Seg::All,
            p,
            None,
            Some(&mut lin_m),
            false,
        );
        let fast = compiled.walk(&rs, &hooks, Seg::All, p, Some(&mut fast_m));
        assert_eq!(
            (lin.verdict, lin.rule, &lin.hits, lin.mark),
            (fast.verdict, fast.rule, &fast.hits, fast.mark),
            "{p:?}"
        );
        lines.push(lin.rule.map(|r| rs.rule(r).unwrap().origin.line));
    }
    assert_eq!(
        lines,
        vec![
            None,
            Some(5),
            Some(6),
            Some(7),
            None,
            Some(8),
            Some(9),
            None
        ]
    );
}
