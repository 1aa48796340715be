//! The constructs and quirks of real rulesets (issue 8), one test each: how they parse, how they
//! judge, and what is marked approximate.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::eval::{evaluate, walk, Bases, Final, Meters, PacketView, Seg};
use super::model::*;
use super::*;
use crate::decode::{Proto, Summary};

fn parse(src: &str) -> Ruleset {
    nft::parse(src, "t.nft").unwrap_or_else(|e| panic!("{e}\n{src}"))
}

fn err(src: &str) -> String {
    nft::parse(src, "t.nft").unwrap_err().to_string()
}

/// A ruleset of one input chain (policy drop) holding `rules`.
fn input(rules: &str) -> Ruleset {
    parse(&format!(
        "table inet t {{\n  chain input {{\n    type filter hook input priority 0; policy drop;\n{rules}\n  }}\n}}\n"
    ))
}

fn rule(rs: &Ruleset, i: usize) -> &Rule {
    &rs.tables[0].chains[0].rules[i]
}

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

/// A TCP (6), UDP (17) or ICMP (1) packet from 10.0.0.2 to 10.0.0.1, in on eth0.
fn pkt(l4: u8, dport: u16, ct: u8) -> PacketView<'static> {
    PacketView {
        v6: false,
        src: v4([10, 0, 0, 2]),
        dst: v4([10, 0, 0, 1]),
        l4: Some(l4),
        sport: (l4 != 1).then_some(40000),
        dport: (l4 != 1).then_some(dport),
        tcp_flags: (l4 == 6).then_some(0x02),
        icmp_type: (l4 == 1).then_some(8),
        icmpv6_type: None,
        iif: Some("eth0"),
        oif: Some("eth0"),
        ct,
        len: 60,
        extra: Default::default(),
        raw: Default::default(),
    }
}

fn pkt6(l4: u8, icmpv6: Option<u8>) -> PacketView<'static> {
    PacketView {
        v6: true,
        src: "fe80::2".parse().unwrap(),
        dst: "fe80::1".parse().unwrap(),
        l4: Some(l4),
        sport: None,
        dport: None,
        tcp_flags: None,
        icmp_type: None,
        icmpv6_type: icmpv6,
        iif: Some("eth0"),
        oif: Some("eth0"),
        ct: ct::NEW,
        len: 72,
        extra: eval::Extra {
            ttl: Some(255),
            ip6_nexthdr: Some(l4),
            ..Default::default()
        },
        raw: Default::default(),
    }
}

fn verdict(rs: &Ruleset, p: &PacketView<'_>) -> (Final, Option<u32>, bool) {
    let o = evaluate(rs, &[Hook::Input], p, false);
    (o.verdict, o.rule.map(|r| r.rule), o.exact)
}

#[test]
fn ct_state_in_its_three_forms() {
    let rs = input(
        "    ct state established,related accept\n    ct state { invalid, untracked } drop\n    ct state vmap { new : jump n, invalid : drop }\n  }\n  chain n {\n    tcp dport 22 accept",
    );
    assert_eq!(rule(&rs, 0).matches[0].rhs, Rhs::AnyBits(6));
    assert_eq!(
        rule(&rs, 1).matches[0].rhs,
        Rhs::Values(vec![Value::Int(1), Value::Int(64)])
    );
    let vm = rule(&rs, 2).vmap.as_ref().unwrap();
    assert_eq!(vm.field, Field::CtState);
    assert_eq!(
        vm.map,
        MapRef::Inline(vec![
            (Value::Int(8), Verdict::Jump("n".into())),
            (Value::Int(1), Verdict::Drop)
        ])
    );
    assert_eq!(
        verdict(&rs, &pkt(6, 80, ct::ESTABLISHED)),
        (Final::Accept, Some(0), true)
    );
    assert_eq!(
        verdict(&rs, &pkt(6, 80, ct::UNTRACKED)),
        (Final::Drop, Some(1), true)
    );
    // The verdict map jumps; the target decides.
    let o = evaluate(&rs, &[Hook::Input], &pkt(6, 22, ct::NEW), false);
    assert_eq!(
        (o.verdict, o.rule.map(|r| (r.chain, r.rule))),
        (Final::Accept, Some((1, 0)))
    );
    assert_eq!(
        verdict(&rs, &pkt(6, 80, ct::NEW)),
        (Final::Drop, None, true)
    );
}

#[test]
fn interfaces_by_name_on_the_side_of_the_hook() {
    let rs = input(
        "    iif lo accept\n    iif \"eth1\" accept\n    oifname \"eth0\" accept\n    oifname != \"eth9\" accept\n    iifname \"eth*\" tcp dport 22 accept",
    );
    assert_eq!(rule(&rs, 0).matches[0].field, Field::Iifname);
    assert_eq!(
        rule(&rs, 0).matches[0].rhs,
        Rhs::Values(vec![Value::Name("lo".into())])
    );
    // On input there is no output interface: `oifname` reads the empty name, as in the
    // kernel, so `oifname "eth0"` does not match and `oifname != "eth9"` does.
    assert_eq!(
        verdict(&rs, &pkt(6, 22, ct::NEW)),
        (Final::Accept, Some(3), true)
    );
    let only_eq = input("    oifname \"eth0\" accept\n    iifname \"eth*\" tcp dport 22 accept");
    assert_eq!(
        verdict(&only_eq, &pkt(6, 22, ct::NEW)),
        (Final::Accept, Some(1), true)
    );
    assert_eq!(
        verdict(&only_eq, &pkt(6, 23, ct::NEW)),
        (Final::Drop, None, true)
    );
    // A capture that names no interface: a rule reading it that could match makes the verdict
    // approximate; one whose other tests fail cannot have matched.
    let mut p = pkt(6, 22, ct::NEW);
    p.iif = None;
    assert_eq!(verdict(&only_eq, &p), (Final::Drop, None, false));
    p.dport = Some(23);
    assert_eq!(verdict(&only_eq, &p), (Final::Drop, None, true));
    // Forwarded: the output interface is not known from one capture.
    let fwd = parse(
        "table ip t {\n chain f {\n  type filter hook forward priority 0; policy drop;\n  oifname \"wan0\" accept\n }\n}\n",
    );
    let mut p = pkt(6, 22, ct::NEW);
    p.oif = None;
    let o = evaluate(&fwd, &[Hook::Forward], &p, false);
    assert_eq!((o.verdict, o.exact), (Final::Drop, false));
}

#[test]
fn limits_and_quotas_are_modelled_and_marked() {
    let rs = input(
        "    limit rate 10/second accept\n    limit rate over 100/minute drop\n    tcp dport 22 limit rate 5/second burst 10 packets accept\n    limit rate 1 mbytes/second accept\n    quota over 25 mbytes drop",
    );
    let limit = |i: usize| rule(&rs, i).approx[0].0.clone();
    assert_eq!(
        limit(0),
        Approx::Limit {
            over: false,
            per_s: 10.0,
            burst: 5.0,
            bytes: false
        }
    );
    assert!(matches!(limit(1), Approx::Limit { over: true, .. }));
    assert!(matches!(limit(2), Approx::Limit { burst, .. } if burst == 10.0));
    assert!(matches!(limit(3), Approx::Limit { bytes: true, per_s, .. } if per_s == 1048576.0));
    assert_eq!(
        limit(4),
        Approx::Quota {
            over: true,
            bytes: 25 * 1024 * 1024
        }
    );
    assert_eq!(
        rule(&rs, 2).approx[0].1,
        "limit rate 5/second burst 10 packets"
    );
    // One rule alone: 10/second with a burst of 5, twenty packets in the same instant.
    let one = input("    limit rate 10/second accept");
    let mut meters = Meters::default();
    let bases = Bases::of(&one);
    let mut accepted = 0;
    for i in 0..20 {
        let mut p = pkt(17, 53, ct::NEW);
        p.extra.ts_ns = 1_000_000 + i;
        let o = walk(
            &one,
            &bases,
            &[Hook::Input],
            Seg::All,
            &p,
            None,
            Some(&mut meters),
            false,
        );
        assert!(!o.exact, "a limit's verdicts are approximate");
        accepted += usize::from(o.verdict == Final::Accept);
    }
    assert_eq!(
        accepted, 5,
        "the burst, then nothing until tokens come back"
    );
    // A second later, ten more tokens.
    let mut p = pkt(17, 53, ct::NEW);
    p.extra.ts_ns = 1_001_000_000;
    let o = walk(
        &one,
        &bases,
        &[Hook::Input],
        Seg::All,
        &p,
        None,
        Some(&mut meters),
        false,
    );
    assert_eq!(o.verdict, Final::Accept);
}

#[test]
fn named_priorities_with_offsets() {
    let rs = parse(
        "table inet t {\n\
         chain a { type filter hook input priority filter; }\n\
         chain b { type filter hook input priority filter - 10; }\n\
         chain c { type filter hook input priority filter + 5; }\n\
         chain d { type filter hook prerouting priority raw; }\n\
         chain e { type filter hook prerouting priority mangle; }\n\
         chain f { type nat hook prerouting priority dstnat; }\n\
         chain g { type nat hook postrouting priority srcnat; }\n\
         chain h { type filter hook input priority security; }\n\
         chain i { type filter hook input priority -150; }\n\
         chain j { type filter hook input priority filter -10; }\n\
         }\n",
    );
    let p: Vec<i32> = rs.tables[0]
        .chains
        .iter()
        .map(|c| c.base.as_ref().unwrap().priority)
        .collect();
    assert_eq!(p, [0, -10, 5, -300, -150, -100, 100, 50, -150, -10]);
    let b = parse("table bridge t {\n chain a { type filter hook input priority filter; }\n}\n");
    assert_eq!(b.tables[0].chains[0].base.as_ref().unwrap().priority, -200);
}

#[test]
fn nat_chains_are_shown_and_mark_what_they_act_on() {
    let rs = parse(
        "table ip nat {\n\
         chain pre {\n  type nat hook prerouting priority dstnat; policy accept;\n  tcp dport 8080 dnat to 192.168.1.10:80\n  tcp dport 3128 redirect to :3129\n }\n\
         chain post {\n  type nat hook postrouting priority srcnat;\n  oifname \"wan0\" masquerade\n  ip saddr 10.0.0.0/8 snat to 203.0.113.1\n }\n}\n\
         table inet f {\n chain input {\n  type filter hook input priority 0; policy accept;\n }\n}\n",
    );
    let pre = &rs.tables[0].chains[0];
    assert_eq!(pre.base.as_ref().unwrap().kind, ChainType::Nat);
    assert_eq!(
        pre.rules[0].actions,
        vec![Action::Nat("dnat to 192.168.1.10:80".into())]
    );
    assert_eq!(
        pre.rules[1].actions,
        vec![Action::Nat("redirect to :3129".into())]
    );
    assert_eq!(
        rs.tables[0].chains[1].rules[1].actions,
        vec![Action::Nat("snat to 203.0.113.1".into())]
    );
    let hooks = [Hook::Prerouting, Hook::Input];
    // The first packet of a connection a dnat rule matches: approximate (NAT not simulated).
    let o = evaluate(&rs, &hooks, &pkt(6, 8080, ct::NEW), false);
    assert_eq!((o.verdict, o.exact), (Final::Accept, false));
    assert_eq!(o.hits.len(), 1, "the nat rule is counted");
    // Later packets never meet a nat chain; packets no nat rule matches are exact.
    assert!(evaluate(&rs, &hooks, &pkt(6, 8080, ct::ESTABLISHED), false).exact);
    assert!(evaluate(&rs, &hooks, &pkt(6, 22, ct::NEW), false).exact);
}

#[test]
fn icmpv6_neighbour_discovery_nexthdr_and_hoplimit() {
    let rs = input(
        "    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } ip6 hoplimit 255 accept\n    ip6 nexthdr icmpv6 icmpv6 type echo-request accept\n    ip6 nexthdr { tcp, udp } drop\n    meta l4proto ipv6-icmp counter",
    );
    assert_eq!(
        rule(&rs, 0).matches[0].rhs,
        Rhs::Values(vec![
            Value::Int(135),
            Value::Int(136),
            Value::Int(133),
            Value::Int(134)
        ])
    );
    assert_eq!(rule(&rs, 0).matches[1].field, Field::Ip6Hoplimit);
    assert_eq!(rule(&rs, 1).matches[0].field, Field::Ip6Nexthdr);
    assert_eq!(
        verdict(&rs, &pkt6(58, Some(135))),
        (Final::Accept, Some(0), true)
    );
    let mut far = pkt6(58, Some(135));
    far.extra.ttl = Some(64);
    assert_eq!(
        verdict(&rs, &far).1,
        None,
        "ND from beyond the link is not ND"
    );
    assert_eq!(verdict(&rs, &pkt6(58, Some(128))).1, Some(1));
    assert_eq!(verdict(&rs, &pkt6(6, None)).1, Some(2));
    // `ip6 nexthdr` is the first header: behind a hop-by-hop header it reads 0.
    let mut hbh = pkt6(58, Some(128));
    hbh.extra.ip6_nexthdr = Some(0);
    assert_eq!(verdict(&rs, &hbh).1, None);
}

#[test]
fn named_sets_static_and_dynamic() {
    let rs = parse(
        "table inet t {\n\
         set blocklist { type ipv4_addr; flags interval; elements = { 192.0.2.0/24,\n  198.51.100.7 } }\n\
         set seen { type ipv4_addr; flags dynamic, timeout; timeout 1h; }\n\
         set flood { type ipv4_addr; flags dynamic; size 65535; }\n\
         chain input {\n  type filter hook input priority 0; policy accept;\n\
           ip saddr @blocklist drop\n\
           ip saddr @flood drop\n\
           tcp dport 22 add @seen { ip saddr }\n\
           tcp dport 80 update @flood { ip saddr timeout 10s limit rate over 10/second } drop\n }\n}\n",
    );
    let t = &rs.tables[0];
    assert_eq!(t.sets[0].decls, ["flags interval"]);
    assert_eq!(t.sets[1].decls, ["flags dynamic, timeout", "timeout 1h"]);
    assert!(!t.sets[0].dynamic && t.sets[1].dynamic && t.sets[2].dynamic);
    let r = &t.chains[0].rules[3];
    assert_eq!(
        r.approx[0].0,
        Approx::PerKey {
            key: vec![Field::IpSaddr],
            inner: Some(Box::new(Approx::Limit {
                over: true,
                per_s: 10.0,
                burst: 5.0,
                bytes: false
            }))
        }
    );
    let mut p = pkt(6, 443, ct::NEW);
    p.src = v4([192, 0, 2, 9]);
    assert_eq!(verdict(&rs, &p), (Final::Drop, Some(0), true));
    // Not in the static set; whether it is in the one filled at run time is not known.
    let o = evaluate(&rs, &[Hook::Input], &pkt(6, 443, ct::NEW), false);
    assert_eq!((o.verdict, o.exact), (Final::Accept, false));
}

#[test]
fn services_negations_and_jumps() {
    let rs = input(
        "    tcp dport { ssh, http, https, domain, smtp, imaps } jump svc\n    udp dport { ntp, bootps, bootpc, dhcpv6-client, mdns } accept\n    ip saddr != 10.0.0.0/8 drop\n    iifname != \"lo\" tcp dport 9000-9100 accept\n  }\n  chain svc {\n    ip saddr 10.0.0.2 return\n    accept",
    );
    assert_eq!(
        rule(&rs, 0).matches[0].rhs,
        Rhs::Values([22, 80, 443, 53, 25, 993].map(Value::Int).to_vec())
    );
    assert_eq!(
        rule(&rs, 1).matches[0].rhs,
        Rhs::Values([123, 67, 68, 546, 5353].map(Value::Int).to_vec())
    );
    assert_eq!(rule(&rs, 2).matches[0].op, Op::Ne);
    // 10.0.0.2 returns from svc, is inside 10/8, and port 22 is not 9000-9100: policy.
    assert_eq!(
        verdict(&rs, &pkt(6, 22, ct::NEW)),
        (Final::Drop, None, true)
    );
    assert_eq!(verdict(&rs, &pkt(6, 9001, ct::NEW)).1, Some(3));
    assert_eq!(verdict(&rs, &pkt(17, 123, ct::NEW)).1, Some(1));
}

#[test]
fn defines_scalar_and_set_valued_in_sets_and_maps() {
    let rs = parse(
        "define WAN = \"wan0\"\n\
         define LAN_NET = 10.0.0.0/24\n\
         define TCP_PORTS = { ssh, http }\n\
         define ALL_NETS = { $LAN_NET, 10.8.0.0/24 }\n\
         table inet t {\n chain input {\n  type filter hook input priority 0; policy drop;\n\
           iifname vmap { \"lo\" : accept, $WAN : jump wan_in }\n\
           ip saddr { $LAN_NET, 192.168.9.0/24 } tcp dport $TCP_PORTS accept\n\
           ip saddr $ALL_NETS udp dport 53 accept\n }\n chain wan_in {\n  tcp dport 443 accept\n }\n}\n",
    );
    let names: Vec<&str> = rs.defines.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(names, ["WAN", "LAN_NET", "TCP_PORTS", "ALL_NETS"]);
    assert_eq!(rs.defines[3].1, "{ 10.0.0.0/24, 10.8.0.0/24 }");
    let r = &rs.tables[0].chains[0].rules;
    assert_eq!(
        r[0].vmap.as_ref().unwrap().map,
        MapRef::Inline(vec![
            (Value::Name("lo".into()), Verdict::Accept),
            (Value::Name("wan0".into()), Verdict::Jump("wan_in".into()))
        ])
    );
    assert_eq!(r[1].matches[0].rhs.clone(), {
        let a = |s: &str| nft::parse_addr(s).unwrap();
        Rhs::Values(vec![a("10.0.0.0/24"), a("192.168.9.0/24")])
    });
    assert_eq!(r[1].matches[1].var.as_deref(), Some("TCP_PORTS"));
    assert_eq!(r[2].matches[0].var.as_deref(), Some("ALL_NETS"));
    let mut p = pkt(6, 443, ct::NEW);
    p.iif = Some("wan0");
    assert_eq!(
        evaluate(&rs, &[Hook::Input], &p, false).verdict,
        Final::Accept
    );
    assert_eq!(
        err("table inet t {\n chain c {\n  tcp dport $NOPE accept\n }\n}\n"),
        "t.nft:3:13: undefined variable '$NOPE'"
    );
}

#[test]
fn verdict_maps_and_concatenations() {
    let rs = parse(
        "table inet t {\n\
         map svc { type inet_proto . inet_service : verdict; elements = { tcp . 22 : accept, udp . 53 : drop } }\n\
         chain input {\n  type filter hook input priority 0; policy drop;\n\
           ip protocol . th dport { tcp . 80, udp . 123 } accept\n\
           meta l4proto . th dport vmap @svc\n\
           ip saddr . tcp dport { 10.0.0.2 . 8080 } accept\n\
           tcp dport vmap { 9000 : jump x, 9001 : goto x }\n }\n chain x {\n  accept\n }\n}\n",
    );
    let r = &rs.tables[0].chains[0].rules;
    assert_eq!(r[0].matches[0].field, Field::IpProtocol);
    assert_eq!(r[0].matches[0].more, [Field::Dport(L4::Th)]);
    assert_eq!(
        r[0].matches[0].rhs,
        Rhs::Values(vec![
            Value::Concat(vec![Value::Int(6), Value::Int(80)]),
            Value::Concat(vec![Value::Int(17), Value::Int(123)])
        ])
    );
    assert_eq!(rs.tables[0].sets[0].verdicts.as_ref().unwrap().len(), 2);
    assert_eq!(verdict(&rs, &pkt(6, 80, ct::NEW)).1, Some(0));
    assert_eq!(verdict(&rs, &pkt(17, 123, ct::NEW)).1, Some(0));
    assert_eq!(
        verdict(&rs, &pkt(6, 22, ct::NEW)),
        (Final::Accept, Some(1), true)
    );
    assert_eq!(
        verdict(&rs, &pkt(17, 53, ct::NEW)),
        (Final::Drop, Some(1), true)
    );
    assert_eq!(verdict(&rs, &pkt(6, 8080, ct::NEW)).1, Some(2));
    assert_eq!(verdict(&rs, &pkt(6, 9000, ct::NEW)).0, Final::Accept);
    assert_eq!(
        verdict(&rs, &pkt(6, 25, ct::NEW)),
        (Final::Drop, None, true)
    );
}

#[test]
fn tcp_maxseg_matches_and_statements() {
    let rs = input(
        "    tcp flags syn tcp option maxseg size 1-500 drop\n    tcp option maxseg missing drop\n    tcp flags syn tcp option maxseg size set rt mtu\n    accept",
    );
    assert_eq!(rule(&rs, 0).matches[1].field, Field::TcpMss);
    assert_eq!(rule(&rs, 1).matches[0].rhs, Rhs::Exists(false));
    assert_eq!(
        rule(&rs, 2).actions,
        vec![Action::Other("tcp option maxseg size set rt mtu".into())]
    );
    let mut p = pkt(6, 80, ct::NEW);
    p.extra.mss = Some(300);
    assert_eq!(verdict(&rs, &p).1, Some(0));
    p.extra.mss = Some(1460);
    assert_eq!(verdict(&rs, &p).1, Some(3));
    p.extra.mss = None;
    assert_eq!(verdict(&rs, &p).1, Some(1));
}

#[test]
fn meters_ct_count_status_pkttype_and_nfproto() {
    let rs = input(
        "    meter ssh_meter { ip saddr limit rate 10/minute } accept\n    add @conns { ip saddr ct count over 20 } reject\n    ct status dnat accept\n    meta pkttype { broadcast, multicast } accept\n    meta nfproto ipv6 drop\n    fib daddr type local accept",
    );
    assert!(matches!(rule(&rs, 0).approx[0].0, Approx::PerKey { .. }));
    assert!(matches!(
        &rule(&rs, 1).approx[0].0,
        Approx::PerKey { inner: Some(b), .. } if **b == Approx::CtCount { over: true, n: 20 }
    ));
    assert_eq!(rule(&rs, 2).matches[0].rhs, Rhs::AnyBits(32));
    assert_eq!(
        rule(&rs, 3).matches[0].rhs,
        Rhs::Values(vec![Value::Int(1), Value::Int(2)])
    );
    assert_eq!(
        rule(&rs, 4).matches[0].rhs,
        Rhs::Values(vec![Value::Int(10)])
    );
    assert_eq!(rule(&rs, 5).matches[0].field, Field::FibDaddrType);
    // `ct status` is not tracked: reaching it makes the verdict approximate.
    let o = evaluate(&rs, &[Hook::Input], &pkt(17, 53, ct::NEW), false);
    assert!(!o.exact);
    let mut b = pkt(17, 67, ct::NEW);
    b.extra.pkttype = 1;
    // The meter's rule comes first and counts as within its rate (no meters: no model state).
    assert_eq!(verdict(&rs, &b).1, Some(0));
}

#[test]
fn netdev_tables_notrack_and_tables_without_a_family() {
    let rs = parse(
        "table netdev edge {\n chain ingress {\n  type filter hook ingress device \"eth0\" priority -500; policy accept;\n  ip saddr 192.0.2.0/24 drop\n }\n}\n\
         table filter {\n chain raw {\n  type filter hook prerouting priority raw; policy accept;\n  udp dport 53 notrack\n }\n\
         chain input {\n  type filter hook input priority 0; policy drop;\n  ct state untracked accept\n  ct state new udp dport 53 accept\n }\n}\n",
    );
    let nd = &rs.tables[0];
    assert_eq!(nd.family, Family::Netdev);
    let b = nd.chains[0].base.as_ref().unwrap();
    assert_eq!(
        (b.hook, b.priority, b.device.as_deref()),
        (Hook::Ingress, -500, Some("eth0"))
    );
    assert_eq!(rs.tables[1].family, Family::Ip);
    assert_eq!(
        rs.tables[1].chains[0].rules[0].actions,
        vec![Action::Notrack]
    );
    // Through the firewall: the raw chain runs before conntrack and untracks DNS.
    let mut fw = Firewall::new(rs, "t.nft".into(), Locality::default());
    let dns = Summary {
        src: Some(v4([10, 0, 0, 2])),
        dst: Some(v4([10, 0, 0, 1])),
        sport: Some(5000),
        dport: Some(53),
        ip_proto: Some(17),
        proto: Proto::Udp,
        ..Default::default()
    };
    let (j, _) = fw.judge(&dns, Some("eth0"), 60, 0).unwrap();
    assert_eq!(
        (j.verdict, j.ct, j.exact),
        (Final::Accept, ct::UNTRACKED, true)
    );
    assert_eq!(j.rule.map(|r| (r.chain, r.rule)), Some((1, 0)));
    // From the netdev table's blocked network: its rule matches, the verdict is approximate.
    let blocked = Summary {
        src: Some(v4([192, 0, 2, 5])),
        ..dns
    };
    let (j, _) = fw.judge(&blocked, Some("eth0"), 60, 0).unwrap();
    assert!(!j.exact);
}

#[test]
fn quirks_of_real_files() {
    // No `;` after the base chain line, `;` after verdicts, `\` continuations, a set literal
    // over several lines, comments after rules.
    let rs = parse(
        "table inet t {\n\
         \tchain input {\n\
         \t\ttype filter hook input priority filter; policy drop\n\
         \t\ttcp dport 22 accept;\n\
         \t\tudp dport { 53,\n\
         \t\t\t123,\n\
         \t\t\t5353 } \\\n\
         \t\t\taccept # a comment\n\
         \t}\n\
         }\n",
    );
    let c = &rs.tables[0].chains[0];
    assert_eq!(c.base.as_ref().unwrap().policy, Policy::Drop);
    assert_eq!(c.rules.len(), 2);
    assert_eq!(c.rules[0].origin.text, "tcp dport 22 accept");
    assert_eq!(c.rules[1].verdict, Some(Verdict::Accept));
    // What `nft -a list ruleset` prints: handles, counters with their counts, tabs.
    let rs = parse(
        "table ip filter { # handle 1\n\
         \tset allowed { # handle 3\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 10.0.0.0/8,\n\t\t\t     192.168.0.0/16 }\n\t}\n\
         \tchain INPUT { # handle 2\n\
         \t\ttype filter hook input priority filter; policy accept;\n\
         \t\tmeta l4proto tcp ip saddr @allowed tcp dport 22 counter packets 12 bytes 720 accept # handle 5\n\
         \t\tip protocol icmp counter packets 0 bytes 0 drop # handle 6\n\
         \t}\n}\n",
    );
    let c = &rs.tables[0].chains[0];
    assert_eq!(c.rules.len(), 2);
    assert!(c.rules[0].counter);
    assert_eq!(
        c.rules[0].origin.text,
        "meta l4proto tcp ip saddr @allowed tcp dport 22 counter packets 12 bytes 720 accept"
    );
    assert_eq!(rs.tables[0].sets[0].elements.len(), 2);
    // The command form and a comparison written with `<`.
    let rs = parse("add table inet t\nadd chain inet t c { type filter hook input priority 0; }\nadd rule inet t c ip ttl < 5 drop\n");
    assert_eq!(
        rs.tables[0].chains[0].rules[0].matches[0].rhs,
        Rhs::Values(vec![Value::IntRange(0, 4)])
    );
}

#[test]
fn includes_relative_to_the_file_with_globs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("conf.d")).unwrap();
    std::fs::write(dir.path().join("defs.nft"), "define SSH = 22\n").unwrap();
    std::fs::write(
        dir.path().join("conf.d/10-web.nft"),
        "define WEB = { 80, 443 }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("conf.d/20-dns.nft"), "define DNS = 53\n").unwrap();
    let main = dir.path().join("main.nft");
    let text = "include \"./defs.nft\"\ninclude \"conf.d/*.nft\"\ntable inet t {\n chain c {\n  tcp dport { $SSH, $WEB } accept\n  udp dport $DNS accept\n }\n}\n";
    std::fs::write(&main, text).unwrap();
    let fw = Firewall::load(&main, Locality::default()).unwrap();
    let names: Vec<&str> = fw.ruleset.defines.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(names, ["SSH", "WEB", "DNS"]);
    assert_eq!(
        fw.ruleset.tables[0].chains[0].rules[0].matches[0].rhs,
        Rhs::Values([22, 80, 443].map(Value::Int).to_vec())
    );
    // A rule in an included file says which file it came from, for messages.
    std::fs::write(
        dir.path().join("rules.nft"),
        "table inet u {\n chain c {\n  osf name \"Linux\" drop\n }\n}\n",
    )
    .unwrap();
    std::fs::write(&main, "include \"rules.nft\"\n").unwrap();
    let fw = Firewall::load(&main, Locality::default()).unwrap();
    let r = &fw.ruleset.tables[0].chains[0].rules[0];
    assert_eq!(r.origin.line, 3);
    assert!(r.origin.file.as_deref().unwrap().ends_with("rules.nft"));
    let lines = report::check_lines(&fw);
    assert!(
        lines[0].ends_with("rules.nft:3:3: unsupported: 'osf'"),
        "{lines:?}"
    );
    // A missing file is an error naming it, at the include.
    std::fs::write(&main, "\ninclude \"nope.nft\"\n").unwrap();
    let Err(e) = Firewall::load(&main, Locality::default()) else {
        panic!("a missing include loaded");
    };
    assert!(e.contains("main.nft:2:1: include \"nope.nft\":"), "{e}");
    assert!(e.ends_with("not found"), "{e}");
    // An empty glob is fine, as in nft.
    std::fs::write(&main, "include \"none/*.nft\"\n").unwrap_or(());
    std::fs::create_dir(dir.path().join("none")).unwrap();
    assert!(Firewall::load(&main, Locality::default()).is_ok());
}

#[test]
fn syntax_errors_name_line_column_and_what() {
    let cases = [
        (
            "table inet t {\n chain c {\n  type nap hook input priority 0;\n }\n}\n",
            "t.nft:3:8: unknown chain type 'nap'",
        ),
        (
            "table inet t {\n chain c {\n  type filter hook inptu priority 0;\n }\n}\n",
            "t.nft:3:20: unknown hook 'inptu'",
        ),
        (
            "table inet t {\n chain c {\n  type filter hook input priority fliter;\n }\n}\n",
            "t.nft:3:35: unknown priority 'fliter'",
        ),
        (
            "table inet t {\n chain c {\n  policy drop;\n }\n}\n",
            "t.nft:3:3: a policy needs a base chain ('type … hook …')",
        ),
        (
            "table inet t {\n frobnicate x\n}\n",
            "t.nft:2:2: unknown table statement 'frobnicate'",
        ),
        (
            "table inet t {\n chain c {\n  ip saddr 10.0.0.0/33 accept\n }\n}\n",
            "t.nft:3:12: '10.0.0.0/33' is not an address, prefix or range",
        ),
        (
            "table inet t {\n chain c {\n  ct state vmap { established accept }\n }\n}\n",
            "t.nft:3:31: expected ':' and a verdict",
        ),
        ("define = 1\n", "t.nft:1:8: expected a variable name"),
        (
            "table inet t {\n chain c {\n  limit rate 10/fortnight accept\n }\n}\n",
            "t.nft:3:14: 'fortnight' is not a time unit",
        ),
        ("bogus\n", "t.nft:1:1: unknown statement 'bogus'"),
    ];
    let mut wrong = Vec::new();
    for (src, want) in cases {
        let got = nft::parse(src, "t.nft")
            .map(|_| "parsed".to_string())
            .unwrap_or_else(|e| e.to_string());
        if got != want {
            wrong.push(format!("{src:?}\n   got: {got}\n  want: {want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn iptables_dumps_as_they_are() {
    // Every table, modules and targets of real dumps, `-c` counters, no newline at the end.
    let src = "# Generated by iptables-save v1.8.9 (nf_tables)\n\
        *raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -p udp -m udp --dport 123 -j NOTRACK\nCOMMIT\n\
        *mangle\n:PREROUTING ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu\nCOMMIT\n\
        *filter\n:INPUT DROP [10:600]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
        [5:300] -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n\
        -A INPUT -p tcp -m tcp --dport 22 -m recent --set --name SSH --rsource\n\
        -A INPUT -p tcp -m tcp --dport 22 -m recent --update --seconds 60 --hitcount 4 --name SSH --rsource -j DROP\n\
        -A INPUT -p icmp -m limit --limit 5/min --limit-burst 10 -j ACCEPT\n\
        -A INPUT -m iprange --src-range 10.0.0.1-10.0.0.50 -m comment --comment \"admins\" -j ACCEPT\n\
        -A INPUT -m addrtype --dst-type BROADCAST -j DROP\n\
        -A INPUT -j NFLOG --nflog-group 5 --nflog-prefix \"dropped: \"\n\
        -A INPUT -p tcp -j REJECT --reject-with tcp-reset\n\
        COMMIT";
    let rs = iptables::parse(src, "t.rules").unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = rs.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["raw", "mangle", "filter"]);
    assert_eq!(
        rs.tables[0].chains[0].rules[0].actions,
        vec![Action::Notrack]
    );
    assert_eq!(
        rs.tables[1].chains[1].rules[0].actions,
        vec![Action::Other("tcp option maxseg size set rt mtu".into())]
    );
    let f = &rs.tables[2];
    assert_eq!(f.sets[0].name, "SSH");
    let r = &f.chains[0].rules;
    assert_eq!(
        r[1].actions,
        vec![Action::Other("add @SSH { ip saddr }".into())]
    );
    assert!(!r[1].is_approx(), "the list itself is kept exactly");
    assert_eq!(
        r[2].approx[0].1,
        "update @SSH { ip saddr limit rate over 4/minute burst 4 packets }"
    );
    assert_eq!(r[3].approx[0].1, "limit rate 5/minute burst 10 packets");
    assert_eq!(
        r[4].matches[0].rhs,
        Rhs::Values(vec![nft::parse_addr("10.0.0.1-10.0.0.50").unwrap()])
    );
    assert_eq!(r[4].comment.as_deref(), Some("admins"));
    assert_eq!(r[5].matches[0].field, Field::FibDaddrType);
    assert_eq!(r[6].log.as_deref(), Some("dropped: "));
    let v6 = iptables::parse(
        "# Generated by ip6tables-save v1.8.9\n*filter\n:INPUT DROP [0:0]\n\
         -A INPUT -s fe80::/10 -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-solicitation -m hl --hl-eq 255 -j ACCEPT\nCOMMIT\n",
        "t.rules",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v6.tables[0].family, Family::Ip6);
    let m: Vec<Field> = v6.tables[0].chains[0].rules[0]
        .matches
        .iter()
        .map(|m| m.field)
        .collect();
    assert_eq!(
        m,
        [
            Field::Ip6Saddr,
            Field::L4Proto,
            Field::Icmpv6Type,
            Field::Ip6Hoplimit
        ]
    );
    let _ = Ipv6Addr::LOCALHOST;
}

/// Every ruleset of the test set cut short at every few bytes, and with pieces taken out,
/// parses or fails with a message: never a panic.
#[test]
fn mangled_rulesets_never_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rulesets");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut tried = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if !p.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let ipt = iptables::looks_like(&text);
        let parse = |s: &str| {
            let _ = if ipt {
                iptables::parse(s, "m")
            } else {
                nft::parse(s, "m")
            };
        };
        let cuts: Vec<usize> = (0..text.len())
            .step_by(11)
            .filter(|i| text.is_char_boundary(*i))
            .collect();
        for &c in &cuts {
            parse(&text[..c]);
            tried += 1;
        }
        for _ in 0..60 {
            let (a, b) = (rnd() as usize % text.len(), rnd() as usize % 40);
            let b = (a + b).min(text.len());
            if text.is_char_boundary(a) && text.is_char_boundary(b) {
                parse(&format!("{}{}", &text[..a], &text[b..]));
                tried += 1;
            }
        }
    }
    assert!(tried > 5000, "{tried}");
}

/// What hand-written restore files hold besides `-A`: `-N`, `-P`, `-I` with and without a
/// position, `-F`, `-X`, built-in chains used undeclared, option prefixes (`--to`), ICMP codes
/// by name, and an IPv4 file whose header says ip6tables.
#[test]
fn iptables_restore_commands_and_shorthands() {
    let rs = iptables::parse(
        "# Generated by ip6tables-save v1.8.9\n*filter\n-P INPUT DROP\n-N web\n-N junk\n\
         -A INPUT -p tcp --dport 80 -j web\n-A INPUT -s 10.0.0.0/8 -j ACCEPT\n\
         -I INPUT -i lo -j ACCEPT\n-I INPUT 2 -p icmp --icmp-type port-unreachable -j ACCEPT\n\
         -A junk -j DROP\n-F junk\n-X junk\n-A web -j ACCEPT\nCOMMIT\n\
         *nat\n-A PREROUTING -p tcp --dport 25 -j DNAT --to 192.168.1.1:25\nCOMMIT\n",
        "t.rules",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let f = &rs.tables[0];
    assert_eq!(
        f.family,
        Family::Ip,
        "the addresses say IPv4, whatever the header"
    );
    let names: Vec<&str> = f.chains.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["INPUT", "web"]);
    assert_eq!(f.chains[0].base.as_ref().unwrap().policy, Policy::Drop);
    let texts: Vec<&str> = f.chains[0]
        .rules
        .iter()
        .map(|r| r.origin.text.as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "-I INPUT -i lo -j ACCEPT",
            "-I INPUT 2 -p icmp --icmp-type port-unreachable -j ACCEPT",
            "-A INPUT -p tcp --dport 80 -j web",
            "-A INPUT -s 10.0.0.0/8 -j ACCEPT",
        ]
    );
    let icmp = &f.chains[0].rules[1].matches[1];
    assert_eq!(
        (icmp.field, icmp.more.as_slice()),
        (Field::IcmpType, &[Field::IcmpCode][..])
    );
    assert_eq!(
        icmp.rhs,
        Rhs::Values(vec![Value::Concat(vec![Value::Int(3), Value::Int(3)])])
    );
    let nat = &rs.tables[1].chains[0];
    assert_eq!(nat.name, "PREROUTING");
    assert_eq!(
        nat.rules[0].actions,
        vec![Action::Nat("dnat ip to 192.168.1.1:25".into())]
    );
    // An ICMP error by type and code.
    let mut p = pkt(1, 0, ct::RELATED);
    p.icmp_type = Some(3);
    p.extra.icmp_code = Some(3);
    let o = evaluate(&rs, &[Hook::Input], &p, false);
    assert_eq!(o.rule.map(|r| r.rule), Some(1));
    p.extra.icmp_code = Some(1);
    let o = evaluate(&rs, &[Hook::Input], &p, false);
    assert_eq!(o.rule.map(|r| r.rule), Some(3), "10.0.0.2 is in 10/8");
}

/// Forms found in public rulesets that nft accepts: flag lists with `|` and parentheses after
/// `==`, the inverse-ND ICMPv6 names, `key: verdict` without a space, `define` inside a table,
/// quoted addresses, `policy` before `type … hook`, `destroy table`.
#[test]
fn forms_seen_in_public_rulesets() {
    let rs = parse(
        "destroy table inet gone\n\
         table inet t {\n\
         define LAN = \"192.168.1.0/24\"\n\
         chain input {\n\
           policy drop\n\
           type filter hook input priority 0\n\
           tcp flags == (fin|syn|rst|psh|ack|urg) drop\n\
           tcp flags == fin|syn drop\n\
           tcp flags syn|rst counter\n\
           icmpv6 type { ind-neighbor-solicit, ind-neighbor-advert } accept\n\
           ct state vmap { established: accept, related:accept, invalid : drop }\n\
           ip saddr $LAN ip daddr \"192.168.1.1\" accept\n\
         }\n}\n",
    );
    let c = &rs.tables[0].chains[0];
    assert_eq!(c.base.as_ref().unwrap().policy, Policy::Drop);
    let r = &c.rules;
    assert_eq!(r[0].matches[0].rhs, Rhs::Values(vec![Value::Int(0x3f)]));
    assert_eq!(r[1].matches[0].rhs, Rhs::Values(vec![Value::Int(0x03)]));
    assert_eq!(r[2].matches[0].rhs, Rhs::AnyBits(0x06));
    assert_eq!(
        r[3].matches[0].rhs,
        Rhs::Values(vec![Value::Int(141), Value::Int(142)])
    );
    assert_eq!(
        r[4].vmap.as_ref().unwrap().map,
        MapRef::Inline(vec![
            (Value::Int(2), Verdict::Accept),
            (Value::Int(4), Verdict::Accept),
            (Value::Int(1), Verdict::Drop)
        ])
    );
    assert_eq!(
        r[5].matches[1].rhs,
        Rhs::Values(vec![nft::parse_addr("192.168.1.1").unwrap()])
    );
}

/// Saving keeps what the model does not: reject types, log options, statement order, `iif`,
/// and a rule written over several lines, whole.
#[test]
fn saving_keeps_rules_as_written() {
    let src = "table ip t {\n chain c {\n  type filter hook input priority 0; policy accept;\n\
               \x20 tcp dport 1 reject with tcp reset\n\
               \x20 tcp dport 2 reject with icmp type admin-prohibited\n\
               \x20 iif \"lo\" tcp dport 3 log prefix \"x \" level info flags all limit rate 5/minute drop\n\
               \x20 tcp dport { 4,   # four\n\
               \x20     5 } \\\n\
               \x20     counter accept # comment\n }\n}\n";
    let saved = save::to_nft(&parse(src));
    for line in [
        "tcp dport 1 reject with tcp reset",
        "tcp dport 2 reject with icmp type admin-prohibited",
        "iif \"lo\" tcp dport 3 log prefix \"x \" level info flags all limit rate 5/minute drop",
        "tcp dport { 4, 5 } counter accept",
    ] {
        assert!(saved.contains(line), "{line} in\n{saved}");
    }
    // An iptables rule has no text to keep: it is written from the model, reject type included
    // and no `meta nfproto` (which an ip table refuses).
    let ipt = iptables::parse(
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j REJECT --reject-with tcp-reset\n\
         -A INPUT -p udp -j REJECT --reject-with icmp-host-prohibited\nCOMMIT\n",
        "t.rules",
    )
    .unwrap();
    let saved = save::to_nft(&ipt);
    assert!(
        saved.contains("ip protocol tcp counter reject with tcp reset"),
        "{saved}"
    );
    assert!(
        saved.contains("ip protocol udp counter reject with icmp type host-prohibited"),
        "{saved}"
    );
    assert!(!saved.contains("nfproto"), "{saved}");
    let again = parse(&saved);
    assert_eq!(
        again.tables[0].chains[0].rules[1].matches,
        ipt.tables[0].chains[0].rules[1].matches
    );
}

/// What a review found: a match before a bare `mark set`, an unsupported construct inside
/// braces, `typeof` with an unread key, `elements = $VAR`, a colon glued to the last part of a
/// concatenated map key, dormant tables, ingress devices, ingress before conntrack.
#[test]
fn review_findings_stay_fixed() {
    let rs = input(
        "    tcp dport 443 mark set 1 accept\n    meter m { ether saddr limit rate 10/second } accept\n    tcp dport 80 accept",
    );
    assert_eq!(rule(&rs, 0).matches.len(), 1, "the dport test is kept");
    assert_eq!(verdict(&rs, &pkt(6, 22, ct::NEW)).1, None);
    assert!(rule(&rs, 1).unsupported.is_some());
    assert_eq!(
        rs.tables[0].chains[0].rules.len(),
        3,
        "parsing went on after the braces"
    );
    let rs = parse(
        "define ALLOWED = { 22, 80 }\n\
         table inet t {\n\
         set owners { typeof meta skuid; }\n\
         set ports { type inet_service; elements = $ALLOWED }\n\
         map m { type ipv4_addr . inet_service : verdict; elements = { 10.0.0.9 . 80:drop } }\n\
         chain c { type filter hook input priority 0; tcp dport @ports accept; ip saddr . tcp dport vmap @m }\n}\n\
         table inet off {\n flags dormant\n chain c { type filter hook input priority 0; policy drop; }\n}\n\
         table inet edge {\n chain ing { type filter hook ingress device \"eth1\" priority 0; policy drop; }\n\
         chain ct { type filter hook ingress device \"eth0\" priority 0; policy accept; ct state new counter }\n}\n",
    );
    let t = &rs.tables[0];
    assert_eq!(t.other.len(), 1, "the typeof set is kept as written");
    assert_eq!(t.sets[0].elements, vec![Value::Int(22), Value::Int(80)]);
    assert_eq!(t.sets[1].verdicts, Some(vec![Verdict::Drop]));
    assert!(rs.tables[1].dormant);
    // Through the firewall: the dormant table judges nothing, the eth1 ingress chain does
    // not see eth0's packets, and ingress runs before conntrack (ct state reads invalid).
    let mut fw = Firewall::new(rs, "t.nft".into(), Locality::default());
    let syn = Summary {
        src: Some(v4([10, 0, 0, 2])),
        dst: Some(v4([10, 0, 0, 1])),
        sport: Some(40000),
        dport: Some(22),
        ip_proto: Some(6),
        proto: Proto::Tcp,
        tcp: Some(crate::decode::TcpInfo {
            flags: 0x02,
            ..Default::default()
        }),
        ..Default::default()
    };
    let (j, out) = fw.judge(&syn, Some("eth0"), 60, 0).unwrap();
    assert_eq!((j.verdict, j.exact), (Final::Accept, true));
    assert!(
        !out.hits.iter().any(|h| h.table == 2 && h.chain == 1),
        "`ct state new` does not match before conntrack"
    );
}

/// Forms of published rulesets `nft -c` accepts: a define joined to `:port` (`dnat to
/// $MAIL:22`), and a glob include whose folder does not exist (it matches nothing).
#[test]
fn a_define_before_a_port_and_a_glob_in_a_missing_folder() {
    let dir = std::env::temp_dir().join(format!("plk-define-port-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r.nft");
    let text = "define MAIL = 10.0.0.5\n\
                include \"/nonexistent-plk/conf.d/*.nft\"\n\
                table ip nat {\n\
                  chain pre { type nat hook prerouting priority dstnat; policy accept;\n\
                    tcp dport 2222 dnat to $MAIL:22\n\
                  }\n\
                }\n\
                table ip filter {\n\
                  chain input { type filter hook input priority 0; policy drop;\n\
                    ip daddr $MAIL tcp dport 22 accept\n\
                  }\n\
                }\n";
    std::fs::write(&path, text).unwrap();
    let rs = nft::parse_file(text, &path, "r.nft");
    std::fs::remove_dir_all(&dir).ok();
    let rs = rs.expect("loads");
    let nat = rs.tables.iter().find(|t| t.name == "nat").unwrap();
    assert!(nat.chains[0].rules[0].origin.text.contains("dnat to"));
    // An undefined one is still an error naming it.
    let bad = nft::parse(
        "table ip t { chain c { tcp dport 1 dnat to $NOPE:22 } }",
        "b.nft",
    );
    let err = bad.expect_err("undefined").to_string();
    assert!(err.contains("undefined variable '$NOPE:22'"), "{err}");
}
