use std::net::{IpAddr, Ipv4Addr};

use super::eval::{evaluate, Final, PacketView, Step};
use super::model::*;
use super::*;
use crate::decode::{Proto, Summary, TcpInfo};

fn parse(src: &str) -> Ruleset {
    nft::parse(src, "t.nft").unwrap_or_else(|e| panic!("{e}"))
}

fn err(src: &str) -> String {
    nft::parse(src, "t.nft").unwrap_err().to_string()
}

fn pkt(
    src: [u8; 4],
    dst: [u8; 4],
    l4: u8,
    sport: u16,
    dport: u16,
    flags: u8,
    ct: u8,
) -> PacketView<'static> {
    PacketView {
        v6: false,
        src: IpAddr::V4(Ipv4Addr::from(src)),
        dst: IpAddr::V4(Ipv4Addr::from(dst)),
        l4: Some(l4),
        sport: (l4 != 1).then_some(sport),
        dport: (l4 != 1).then_some(dport),
        tcp_flags: (l4 == 6).then_some(flags),
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

const HOST: [u8; 4] = [10, 0, 0, 1];
const PEER: [u8; 4] = [10, 0, 0, 2];

#[test]
fn every_construct_of_the_subset_parses() {
    let rs = parse("# a comment\nflush ruleset\n");
    assert!(rs.tables.is_empty());
    let rs = parse(
        r#"
table inet filter {
    set admins { type ipv4_addr; flags interval; elements = { 10.0.0.0/24, 192.168.1.1-192.168.1.9 } }
    set webports { type inet_service; elements = { http, https, 8000-8080 } }
    chain input {
        type filter hook input priority 0; policy drop;
        iif lo accept
        iifname "eth*" ct state established,related accept
        ct state invalid counter drop
        ct state { new } tcp flags & (syn|ack) == syn tcp dport @webports counter accept comment "web"
        ip saddr @admins tcp dport ssh log prefix "ssh: " accept
        ip saddr != 10.9.0.0/16 udp dport { 53, 5353 } accept
        ip6 saddr fe80::/10 icmpv6 type { nd-neighbor-solicit, nd-router-advert } accept
        icmp type echo-request accept
        meta l4proto { tcp, udp } th dport 9000-9100 reject with icmp type port-unreachable
        ip protocol icmp icmp type echo-request accept
        tcp flags syn jump synchk
        tcp sport 1-1023 tcp flags != syn,ack goto lowports
        oifname "wan0" continue
        counter
    }
    chain synchk {
        ip saddr 192.0.2.0/24 drop
        return
    }
    chain lowports {
        reject
    }
}
table ip nat_free { chain out { type filter hook output priority 10; policy accept; } }
table ip6 v6only { chain fwd { type filter hook forward priority filter; } }
"#,
    );
    assert_eq!(rs.tables.len(), 3);
    let t = &rs.tables[0];
    assert_eq!((t.family, t.name.as_str()), (Family::Inet, "filter"));
    assert_eq!(t.sets.len(), 2);
    assert_eq!(
        t.sets[1].elements,
        vec![Value::Int(80), Value::Int(443), Value::IntRange(8000, 8080)]
    );
    let input = &t.chains[0];
    assert_eq!(
        input.base,
        Some(BaseChain::filter(Hook::Input, 0, Policy::Drop))
    );
    assert_eq!(input.rules.len(), 14);
    assert_eq!(input.rules[0].matches[0].field, Field::Iifname);
    assert_eq!(
        input.rules[1].matches[1].rhs,
        Rhs::AnyBits((ct::ESTABLISHED | ct::RELATED) as u64)
    );
    let r3 = &input.rules[3];
    assert_eq!(
        r3.matches[1].rhs,
        Rhs::Masked {
            mask: 0x12,
            value: 0x02
        }
    );
    assert_eq!(r3.matches[2].rhs, Rhs::Set("webports".into()));
    assert_eq!(r3.comment.as_deref(), Some("web"));
    assert!(r3.counter);
    assert_eq!(input.rules[4].log.as_deref(), Some("ssh: "));
    assert_eq!(input.rules[5].matches[0].op, Op::Ne);
    assert_eq!(input.rules[8].verdict, Some(Verdict::Reject));
    assert_eq!(
        input.rules[10].verdict,
        Some(Verdict::Jump("synchk".into()))
    );
    assert_eq!(
        input.rules[11].matches[1],
        Match {
            field: Field::TcpFlags,
            op: Op::Ne,
            // nft compares exactly with the flags ORed: `flags != 0x12`.
            rhs: Rhs::Values(vec![Value::Int(0x12)]),
            more: Vec::new(),
            var: None,
        }
    );
    assert_eq!(
        input.rules[11].verdict,
        Some(Verdict::Goto("lowports".into()))
    );
    assert_eq!(input.rules[12].verdict, Some(Verdict::Continue));
    assert_eq!(input.rules[13].verdict, None);
    assert_eq!(input.rules[1].origin.line, 8);
    assert_eq!(
        input.rules[1].origin.text,
        r#"iifname "eth*" ct state established,related accept"#
    );
    assert_eq!(rs.tables[1].family, Family::Ip);
    assert_eq!(
        rs.tables[2].chains[0].base.as_ref().unwrap().hook,
        Hook::Forward
    );
}

#[test]
fn errors_name_line_column_and_construct() {
    // A word nft does not know is a syntax error with the nearest word nft knows there…
    let e =
        err("table inet f {\n  chain c {\n    tcp dport 22 limt rate 10/second accept\n  }\n}\n");
    assert_eq!(e, "t.nft:3:18: unknown word 'limt' (did you mean 'limit'?)");
    let e = err("table inet f {\n  chain c {\n    tcp dport 22 acept\n  }\n}\n");
    assert_eq!(
        e,
        "t.nft:3:18: unknown word 'acept' (did you mean 'accept'?)"
    );
    let e = err("table inet f {\n  chain c {\n    tcp dpot 22 accept\n  }\n}\n");
    assert_eq!(e, "t.nft:3:9: unknown word 'dpot' (did you mean 'dport'?)");
    let e = err("table inet f {\n  chain c {\n    ip sadr 10.0.0.1 accept\n  }\n}\n");
    assert_eq!(e, "t.nft:3:8: unknown word 'sadr' (did you mean 'saddr'?)");
    let e = err("table inet f {\n  chain c {\n    ct stat established accept\n  }\n}\n");
    assert_eq!(e, "t.nft:3:8: unknown word 'stat' (did you mean 'state'?)");
    let e = err("table inet f {\n  chain c {\n    tcp dport vmap { 22 : acept }\n  }\n}\n");
    assert_eq!(
        e,
        "t.nft:3:27: unknown word 'acept' (did you mean 'accept'?)"
    );
    let e = err("table inet f {\n  chain c {\n    frobnicate accept\n  }\n}\n");
    assert_eq!(e, "t.nft:3:5: unknown word 'frobnicate'");
    // …while valid nft that packetlab does not simulate still loads, the rule unsupported.
    let rs = parse(
        "table inet f {\n  chain c {\n    tcp dport 22 ip checksum 0 accept\n    udp checksum 0 drop\n    socket cgroupv2 level 1 \"user.slice\" accept\n  }\n}\n",
    );
    let rules = &rs.tables[0].chains[0].rules;
    assert_eq!(rules[0].unsupported, Some((18, "'ip checksum'".into())));
    assert_eq!(rules[1].unsupported, Some((5, "'udp checksum'".into())));
    assert_eq!(rules[2].unsupported, Some((5, "'socket cgroupv2'".into())));
    let e = err("table inet f {\n  chain c {\n    ip saddr 10.0.0.300 accept\n  }\n}\n");
    assert_eq!(
        e,
        "t.nft:3:14: '10.0.0.300' is not an address, prefix or range"
    );
    let e = err("table inet f {\n chain c {\n  type nap hook postrouting priority 100;\n }\n}\n");
    assert_eq!(e, "t.nft:3:8: unknown chain type 'nap'");
    let e = err("table inet f {\n chain c {\n  type filter hook input priority fliter;\n }\n}\n");
    assert_eq!(e, "t.nft:3:35: unknown priority 'fliter'");
    let e = err("table inet f {\n chain c {\n  tcp dport nosuchservice accept\n }\n}\n");
    assert_eq!(
        e,
        "t.nft:3:13: 'nosuchservice' is not a port or service name"
    );
    let e = err("table inet f {\n chain c {\n  accept drop\n }\n}\n");
    assert_eq!(e, "t.nft:3:10: nothing but a comment may follow a verdict");
    let e = err("table inet f {\n chain c {\n  ip saddr \"unterminated\n }\n}\n");
    assert!(e.starts_with("t.nft:3:12: unterminated string"), "{e}");
    let e = err("define A = 1\ntable inet f {\n chain c {\n  tcp dport $B accept\n }\n}\n");
    assert_eq!(e, "t.nft:4:13: undefined variable '$B'");
    let e = err("include \"./no/such/file.nft\"\n");
    assert!(
        e.starts_with("t.nft:1:1: include \"./no/such/file.nft\": ") && e.ends_with("not found"),
        "{e}"
    );
}

#[test]
fn unsupported_rules_load_marked_with_the_construct() {
    let rs = parse(
        "table inet f {\n chain c {\n  type filter hook input priority 0; policy drop;\n  tcp dport 22 meta skuid 1 accept\n  osf name \"Linux\" drop\n  tcp dport 80 accept\n }\n}\n",
    );
    let rules = &rs.tables[0].chains[0].rules;
    assert_eq!(rules.len(), 3);
    assert_eq!(rules[0].unsupported, Some((16, "'meta skuid'".into())));
    assert_eq!(rules[0].matches.len(), 1, "the tests before it are kept");
    assert_eq!(rules[1].unsupported, Some((3, "'osf'".into())));
    assert_eq!(rules[2].unsupported, None);
    // Reached with its known tests passing: may match, so the verdict is approximate.
    let p = pkt(PEER, HOST, 6, 40000, 22, 0x02, ct::NEW);
    let o = evaluate(&rs, &[Hook::Input], &p, false);
    assert_eq!((o.verdict, o.exact), (Final::Drop, false));
    // Its known tests fail: it could not have matched, the verdict is exact.
    let p = pkt(PEER, HOST, 6, 40000, 80, 0x02, ct::NEW);
    let o = evaluate(&rs, &[Hook::Input], &p, false);
    // The osf rule has no test packetlab reads: every packet reaching it is approximate.
    assert_eq!((o.verdict, o.exact), (Final::Accept, false));
}

#[test]
fn verdicts_chains_policies_and_jumps() {
    let rs = parse(
        r#"
table inet f {
    chain input {
        type filter hook input priority 0; policy drop;
        ct state established accept
        tcp dport 22 jump ssh
        udp dport 53 accept
    }
    chain ssh {
        ip saddr 10.0.0.0/24 return
        reject
    }
}
table ip late {
    chain input {
        type filter hook input priority 10; policy accept;
        udp dport 53 drop
    }
}
"#,
    );
    let hooks = [Hook::Input];
    let syn = pkt(PEER, HOST, 6, 40000, 22, 0x02, ct::NEW);
    // From 10.0.0.2: ssh returns, nothing else matches, policy drop.
    let o = evaluate(&rs, &hooks, &syn, true);
    assert_eq!((o.verdict, o.rule), (Final::Drop, None));
    assert!(o.trace.iter().any(|s| matches!(
        s,
        Step::Policy {
            policy: Policy::Drop,
            ..
        }
    )));
    // From outside the /24: rejected by the ssh chain's second rule.
    let far = pkt([192, 0, 2, 1], HOST, 6, 40000, 22, 0x02, ct::NEW);
    let o = evaluate(&rs, &hooks, &far, false);
    assert_eq!(o.verdict, Final::Reject);
    assert_eq!(
        o.rule,
        Some(RuleId {
            table: 0,
            chain: 1,
            rule: 1
        })
    );
    // accept in the first base chain does not stop the later one on the same hook.
    let dns = pkt(PEER, HOST, 17, 5000, 53, 0, ct::NEW);
    let o = evaluate(&rs, &hooks, &dns, false);
    assert_eq!(
        (o.verdict, o.rule),
        (
            Final::Drop,
            Some(RuleId {
                table: 1,
                chain: 0,
                rule: 0
            })
        )
    );
    assert_eq!(o.hits.len(), 2, "both rules count the packet");
    // Established traffic is accepted by the first chain, then the second chain's policy.
    let est = pkt(PEER, HOST, 6, 22, 40000, 0x10, ct::ESTABLISHED);
    assert_eq!(evaluate(&rs, &hooks, &est, false).verdict, Final::Accept);
}

#[test]
fn tcp_flag_forms_follow_nft() {
    let rs = parse(
        "table inet f { chain c { type filter hook input priority 0; policy accept;\n\
         tcp flags syn counter\n\
         tcp flags & (syn|ack) == syn counter\n\
         tcp flags { syn, ack } counter\n\
         tcp flags != syn counter\n } }",
    );
    let hits = |flags: u8| {
        let p = pkt(PEER, HOST, 6, 1, 2, flags, ct::NEW);
        evaluate(&rs, &[Hook::Input], &p, false)
            .hits
            .iter()
            .map(|h| h.rule)
            .collect::<Vec<_>>()
    };
    assert_eq!(hits(0x02), vec![0, 1, 2]); // SYN
    assert_eq!(hits(0x12), vec![0, 3]); // SYN+ACK: any-bit yes, mask no, set no, != syn yes
    assert_eq!(hits(0x10), vec![2, 3]); // ACK
    assert_eq!(hits(0x0a), vec![0, 1, 3]); // SYN+PSH
}

#[test]
fn conntrack_states_follow_the_kernel() {
    let mut c = conntrack::Conntrack::default();
    let tcp = |src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, flags: u16| {
        super::test_packets::tcp(src, sp, dst, dp, flags)
    };
    // Only {SYN} or {ACK} starts a flow; PSH/URG/ECE/CWR do not count.
    assert_eq!(c.observe(&tcp(PEER, HOST, 1, 80, 0x12)), Some(ct::INVALID)); // SYN+ACK
    assert_eq!(c.observe(&tcp(PEER, HOST, 2, 80, 0x04)), Some(ct::INVALID)); // RST
    assert_eq!(c.observe(&tcp(PEER, HOST, 3, 80, 0x01)), Some(ct::INVALID)); // FIN
    assert_eq!(c.observe(&tcp(PEER, HOST, 4, 80, 0x18)), Some(ct::NEW)); // ACK+PSH: loose pickup
    assert_eq!(c.observe(&tcp(PEER, HOST, 5, 80, 0x82)), Some(ct::NEW)); // SYN+CWR
                                                                         // A handshake: SYN new, the SYN-ACK and all after established.
    assert_eq!(c.observe(&tcp(PEER, HOST, 6, 80, 0x02)), Some(ct::NEW));
    assert_eq!(
        c.observe(&tcp(PEER, HOST, 6, 80, 0x02)),
        Some(ct::NEW),
        "a retransmitted SYN is still new"
    );
    assert_eq!(
        c.observe(&tcp(HOST, PEER, 80, 6, 0x12)),
        Some(ct::ESTABLISHED)
    );
    assert_eq!(
        c.observe(&tcp(PEER, HOST, 6, 80, 0x10)),
        Some(ct::ESTABLISHED)
    );
    // UDP: new, then established once answered.
    let udp = |src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16| Summary {
        src: Some(IpAddr::V4(Ipv4Addr::from(src))),
        dst: Some(IpAddr::V4(Ipv4Addr::from(dst))),
        sport: Some(sp),
        dport: Some(dp),
        ip_proto: Some(17),
        proto: Proto::Udp,
        ..Default::default()
    };
    assert_eq!(c.observe(&udp(PEER, HOST, 7, 53)), Some(ct::NEW));
    assert_eq!(c.observe(&udp(PEER, HOST, 7, 53)), Some(ct::NEW));
    assert_eq!(c.observe(&udp(HOST, PEER, 53, 7)), Some(ct::ESTABLISHED));
    assert_eq!(c.observe(&udp(PEER, HOST, 7, 53)), Some(ct::ESTABLISHED));
    // A dropped first packet leaves no entry behind.
    assert_eq!(c.observe(&udp(PEER, HOST, 8, 53)), Some(ct::NEW));
    c.unconfirm(&udp(PEER, HOST, 8, 53));
    assert_eq!(
        c.observe(&udp(HOST, PEER, 53, 8)),
        Some(ct::NEW),
        "the reply starts its own flow"
    );
}

#[test]
fn flag_lists_and_reject_dependencies_follow_nft() {
    // Measured with `nft --debug=netlink` (1.0.6) and checked by tests/kernel_diff.rs.
    let rs = parse(
        "table inet f { chain c { type filter hook input priority 0; policy accept;\n\
         tcp flags != syn,ack counter\n\
         ct state != established,related counter\n\
         reject with tcp reset\n } }",
    );
    let hits = |l4: u8, flags: u8, ct: u8| {
        let p = pkt(PEER, HOST, l4, 1, 2, flags, ct);
        evaluate(&rs, &[Hook::Input], &p, false)
            .hits
            .iter()
            .map(|h| h.rule)
            .collect::<Vec<_>>()
    };
    // `!= syn,ack` is `!= 0x12`; `!= established,related` is `!= 0x06`, true of every state.
    assert_eq!(hits(6, 0x12, ct::ESTABLISHED), vec![1, 2]);
    assert_eq!(hits(6, 0x10, ct::NEW), vec![0, 1, 2]);
    // A TCP reset only answers TCP: the rule does not match UDP.
    assert_eq!(hits(17, 0, ct::NEW), vec![1]);
    // An ICMP reply only answers IPv4, an ICMPv6 one only IPv6.
    let rs = parse(
        "table inet f { chain c { type filter hook input priority 0; policy accept;\n\
         reject with icmp type host-unreachable\n } }",
    );
    let mut p = pkt(PEER, HOST, 17, 1, 2, 0, ct::NEW);
    assert_eq!(
        evaluate(&rs, &[Hook::Input], &p, false).verdict,
        Final::Reject
    );
    p.v6 = true;
    p.src = "fd00::2".parse().unwrap();
    p.dst = "fd00::1".parse().unwrap();
    assert_eq!(
        evaluate(&rs, &[Hook::Input], &p, false).verdict,
        Final::Accept
    );
}

#[test]
fn conntrack_corner_cases_follow_the_kernel() {
    use crate::decode::{IcmpInfo, Inner};
    let a = |x: [u8; 4]| IpAddr::V4(Ipv4Addr::from(x));
    let tcp = |src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, flags: u16| {
        super::test_packets::tcp(src, sp, dst, dp, flags)
    };
    let icmp = |src: [u8; 4], dst: [u8; 4], typ: u8, id: u16| Summary {
        src: Some(a(src)),
        dst: Some(a(dst)),
        ip_proto: Some(1),
        proto: Proto::Icmp,
        icmp: Some(IcmpInfo {
            typ,
            code: 0,
            echo: Some((id, 1)),
        }),
        ..Default::default()
    };
    let mut c = conntrack::Conntrack::default();
    // A flow whose only answer is an RST is gone: an ACK after it is a loose pickup again.
    assert_eq!(c.observe(&tcp(PEER, HOST, 9, 25, 0x02)), Some(ct::NEW));
    assert_eq!(
        c.observe(&tcp(HOST, PEER, 25, 9, 0x14)),
        Some(ct::ESTABLISHED)
    );
    assert_eq!(c.observe(&tcp(PEER, HOST, 9, 25, 0x10)), Some(ct::NEW));
    // Flag mixes the kernel's tracker refuses are invalid even on a known flow, which they
    // leave as it was.
    assert_eq!(c.observe(&tcp(PEER, HOST, 12, 22, 0x02)), Some(ct::NEW));
    assert_eq!(
        c.observe(&tcp(HOST, PEER, 22, 12, 0x12)),
        Some(ct::ESTABLISHED)
    );
    assert_eq!(c.observe(&tcp(PEER, HOST, 12, 22, 0x03)), Some(ct::INVALID)); // SYN+FIN
    assert_eq!(c.observe(&tcp(PEER, HOST, 12, 22, 0x01)), Some(ct::INVALID)); // FIN alone
    assert_eq!(c.observe(&tcp(PEER, HOST, 12, 22, 0x00)), Some(ct::INVALID)); // no flag
    assert_eq!(
        c.observe(&tcp(PEER, HOST, 12, 22, 0x18)),
        Some(ct::ESTABLISHED)
    );
    // Timestamp (information, address-mask) requests are flows like echo.
    assert_eq!(c.observe(&icmp(PEER, HOST, 13, 7)), Some(ct::NEW));
    assert_eq!(c.observe(&icmp(HOST, PEER, 14, 7)), Some(ct::ESTABLISHED));
    assert_eq!(c.observe(&icmp(PEER, HOST, 13, 7)), Some(ct::ESTABLISHED));
    assert_eq!(c.observe(&icmp(PEER, HOST, 14, 8)), Some(ct::INVALID));
    assert_eq!(c.observe(&icmp(PEER, HOST, 17, 9)), Some(ct::NEW));
    assert_eq!(c.observe(&icmp(PEER, HOST, 17, 9)), Some(ct::NEW));
    // A later packet of an unanswered flow being dropped does not forget the flow.
    assert_eq!(c.observe(&icmp(PEER, HOST, 8, 10)), Some(ct::NEW));
    assert_eq!(c.observe(&icmp(PEER, HOST, 8, 10)), Some(ct::NEW));
    c.unconfirm(&icmp(PEER, HOST, 8, 10));
    assert_eq!(c.observe(&icmp(HOST, PEER, 0, 10)), Some(ct::ESTABLISHED));
    // ICMP errors: related when about a tracked flow and sent to whoever sent the quoted packet.
    let error = |to: [u8; 4], inner: Inner, ports: Option<(u16, u16)>| Summary {
        src: Some(a(PEER)),
        dst: Some(a(to)),
        ip_proto: Some(1),
        proto: Proto::Icmp,
        icmp: Some(IcmpInfo {
            typ: 3,
            code: 3,
            echo: None,
        }),
        inner: Some(inner),
        quoted: ports.is_some(),
        sport: ports.map(|p| p.0),
        dport: ports.map(|p| p.1),
        ..Default::default()
    };
    let echo_reply = Inner {
        src: a(HOST),
        dst: a(PEER),
        proto: 1,
        query: Some((0, 10)),
    };
    assert_eq!(c.observe(&error(HOST, echo_reply, None)), Some(ct::RELATED));
    let syn_ack = Inner {
        src: a(HOST),
        dst: a(PEER),
        proto: 6,
        query: None,
    };
    assert_eq!(c.observe(&tcp(PEER, HOST, 11, 80, 0x02)), Some(ct::NEW));
    assert_eq!(
        c.observe(&error(HOST, syn_ack, Some((80, 11)))),
        Some(ct::RELATED)
    );
    let peers_own = Inner {
        src: a(PEER),
        dst: a(HOST),
        proto: 6,
        query: None,
    };
    assert_eq!(
        c.observe(&error(HOST, peers_own, Some((11, 80)))),
        Some(ct::INVALID),
        "an error about the peer's own packet, sent to the host, is invalid"
    );
    // ICMPv6: neighbour discovery untracked, redirects invalid, node information queries new.
    let icmp6 = |typ: u8| Summary {
        src: Some("fd00::2".parse().unwrap()),
        dst: Some("fd00::1".parse().unwrap()),
        ip_proto: Some(58),
        proto: Proto::Icmpv6,
        icmpv6: Some(IcmpInfo {
            typ,
            code: 0,
            echo: None,
        }),
        ..Default::default()
    };
    assert_eq!(c.observe(&icmp6(135)), Some(ct::UNTRACKED));
    assert_eq!(c.observe(&icmp6(137)), Some(ct::INVALID));
    assert_eq!(c.observe(&icmp6(139)), Some(ct::NEW));
}

#[test]
fn locality_places_packets_on_hooks() {
    let l = Locality {
        nets: vec![parse_local("10.0.0.1/32").unwrap()],
        ..Locality::default()
    };
    let a = |x: [u8; 4]| IpAddr::V4(Ipv4Addr::from(x));
    use Hook::*;
    assert_eq!(l.hooks(a(PEER), a(HOST)), &[Ingress, Prerouting, Input]);
    assert_eq!(l.hooks(a(HOST), a(PEER)), &[Output, Postrouting]);
    assert_eq!(
        l.hooks(a([127, 0, 0, 1]), a([127, 0, 0, 1])),
        &[Output, Postrouting, Prerouting, Input]
    );
    assert_eq!(
        l.hooks(a(PEER), a([10, 0, 0, 3])),
        &[Ingress, Prerouting, Forward, Postrouting]
    );
}

/// A ruleset of `n` rules on distinct ports, plus a few general rules around them.
fn big_ruleset(n: u32) -> Ruleset {
    let mut s = String::from(
        "table inet filter {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    ct state established,related accept\n",
    );
    for i in 0..n {
        let port = 1000 + i;
        let net = i % 250;
        let verdict = if i.is_multiple_of(3) {
            "drop"
        } else {
            "accept"
        };
        s.push_str(&format!(
            "    ip saddr 10.{net}.0.0/16 tcp dport {port} {verdict}\n"
        ));
    }
    s.push_str(
        "    tcp flags & (syn|ack) == syn counter reject\n    udp dport 1000-2000 accept\n  }\n}\n",
    );
    nft::parse(&s, "big.nft").unwrap()
}

#[test]
fn compiled_matcher_gives_the_linear_scan_verdicts_and_toggles_without_rematching() {
    let mut rs = big_ruleset(2000);
    let mut compiled = compile::Compiled::new(&rs);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut packets = Vec::new();
    for _ in 0..3000 {
        let src = [10, (rnd() % 260) as u8, 1, 2];
        let l4 = [6u8, 17, 1][(rnd() % 3) as usize];
        let dport = (900 + rnd() % 1300) as u16;
        let flags = [0x02u8, 0x10, 0x12, 0x18, 0x04][(rnd() % 5) as usize];
        let ct = [ct::NEW, ct::ESTABLISHED, ct::INVALID][(rnd() % 3) as usize];
        // Repeat some packets: a flow's packets share a signature.
        let copies = 1 + rnd() % 3;
        for _ in 0..copies {
            packets.push(pkt(src, HOST, l4, 40000, dport, flags, ct));
        }
    }
    let check =
        |rs: &Ruleset, compiled: &mut compile::Compiled, packets: &[PacketView<'static>]| {
            for p in packets {
                let lin = evaluate(rs, &[Hook::Input], p, false);
                let fast = compiled.evaluate(rs, &[Hook::Input], p);
                assert_eq!(
                    (lin.verdict, lin.rule, &lin.hits),
                    (fast.verdict, fast.rule, &fast.hits),
                    "{p:?}"
                );
            }
        };
    check(&rs, &mut compiled, &packets);
    assert!(
        compiled.cache_hits > 0,
        "packets of one flow share the cached match"
    );
    // Toggle rules off: verdicts change, and come from the cache without matching again.
    let misses = compiled.cache_misses;
    for i in (0..2000).step_by(7) {
        rs.tables[0].chains[0].rules[1 + i].enabled = false;
    }
    check(&rs, &mut compiled, &packets);
    assert_eq!(compiled.cache_misses, misses, "toggling does not re-match");
    // Moving rules changes their ids: rebuild, and still agree.
    rs.tables[0].chains[0].rules.swap(1, 2);
    compiled.rebuild(&rs);
    check(&rs, &mut compiled, &packets);
}

#[test]
fn the_rule_editor_names_an_unknown_word_and_its_column() {
    let rs = parse("table inet f {\n  chain c {\n    accept\n  }\n}\n");
    let e = nft::parse_rule("tcp dport 22 acept", &rs.tables[0]).unwrap_err();
    assert_eq!(
        (e.col, e.msg.as_str()),
        (14, "unknown word 'acept' (did you mean 'accept'?)")
    );
    let e = nft::parse_rule("tcp dport 22 ip checksum 0 accept", &rs.tables[0]).unwrap_err();
    assert_eq!((e.col, e.msg.as_str()), (14, "unsupported: 'ip checksum'"));
}

/// A raw IPv4 UDP packet (no checksum) to 10.0.0.1:53 with these header fields.
fn udp4(tos: u8, id: u16, frag_off: u16, ihl_words: u8) -> Vec<u8> {
    let opts = (ihl_words as usize - 5) * 4;
    let len = 20 + opts + 8;
    let mut b = vec![0x40 | ihl_words, tos];
    b.extend((len as u16).to_be_bytes());
    b.extend(id.to_be_bytes());
    b.extend(frag_off.to_be_bytes());
    b.extend([64, 17, 0, 0]);
    b.extend(PEER);
    b.extend(HOST);
    b.extend(std::iter::repeat_n(1u8, opts)); // NOP options
    b.extend([0x9c, 0x40, 0, 53, 0, 8, 0, 0]);
    b
}

/// A raw IPv6 packet fd00::2 → fd00::1 whose payload starts with extension headers `ext`
/// (first next header `nh`), then UDP to port 53.
fn udp6(tc_flow: u32, nh: u8, ext: &[u8]) -> Vec<u8> {
    let mut b = (0x6000_0000u32 | tc_flow).to_be_bytes().to_vec();
    b.extend(((ext.len() + 8) as u16).to_be_bytes());
    b.extend([nh, 64]);
    b.extend("fd00::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
    b.extend("fd00::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
    b.extend(ext);
    b.extend([0x9c, 0x40, 0, 53, 0, 8, 0, 0]);
    b
}

/// The deciding rule's line (None: the policy) for each raw packet, judged as a file's.
fn decided(rules: &str, pkts: &[(Vec<u8>, u64)]) -> Vec<Option<u32>> {
    let rs = parse(rules);
    let mut fw = Firewall::new(rs, "t.nft".into(), Locality::default());
    pkts.iter()
        .map(|(b, ts)| {
            let s = crate::decode::decode(crate::capture::LinkType::RAW, b);
            let (j, _) = fw.judge(&s, Some("eth0"), s.ip_len, *ts).expect("judged");
            assert!(j.exact, "a file's packet is judged exactly");
            j.rule.and_then(|id| fw.rule_line(id))
        })
        .collect()
}

#[test]
fn ip_header_fields_read_the_packet_as_the_kernel_does() {
    let rules = r#"
table inet f {
    chain input {
        type filter hook input priority 0; policy accept;
        ip frag-off & 0x1fff != 0 counter drop
        ip frag-off & 0x4000 == 0x4000 udp dport 53 accept
        ip hdrlength != 5 drop
        ip dscp cs1 drop
        ip dscp { ef, af41 } accept
        ip ecn ce drop
        ip id 0x1234 drop
        ip version 4 ip id > 0xff00 accept
        ip6 flowlabel 12345 drop
        ip6 dscp af41 ip6 ecn ect0 accept
        ip6 version 6 ip6 flowlabel > 0xff000 drop
    }
}
"#;
    let rs = parse(rules);
    let m = &rs.tables[0].chains[0].rules[0].matches[0];
    assert_eq!(m.field, Field::Hdr(HdrField::IpFragOff));
    assert_eq!(
        (m.op, &m.rhs),
        (
            Op::Ne,
            &Rhs::Masked {
                mask: 0x1fff,
                value: 0
            }
        )
    );
    let got = decided(
        rules,
        &[
            (udp4(0, 1, 0x4000, 5), 0),              // DF: accepted by line 6
            (udp4(0, 1, 0, 6), 0),                   // options: hdrlength 6
            (udp4(8 << 2, 1, 0, 5), 0),              // cs1
            (udp4(46 << 2, 1, 0, 5), 0),             // ef
            (udp4(3, 1, 0, 5), 0),                   // ce
            (udp4(0, 0x1234, 0, 5), 0),              // id
            (udp4(0, 0xff01, 0, 5), 0),              // id > 0xff00
            (udp4(0, 7, 0, 5), 0),                   // nothing: the policy
            (udp6(12345, 17, &[]), 0),               // flow label
            (udp6((34 << 2 | 2) << 20, 17, &[]), 0), // af41, ect0
            (udp6(0xff001, 17, &[]), 0),             // flow label > 0xff000
        ],
    );
    assert_eq!(
        got,
        [
            Some(6),
            Some(7),
            Some(8),
            Some(9),
            Some(10),
            Some(11),
            Some(12),
            None,
            Some(13),
            Some(14),
            Some(15)
        ]
    );
}

#[test]
fn ipv6_extension_headers_exist_and_are_read() {
    let rules = r#"
table ip6 f {
    chain input {
        type filter hook input priority 0; policy accept;
        exthdr rt exists rt type 0 drop
        rt seg-left > 0 rt nexthdr udp reject
        exthdr frag exists frag more-fragments 0 frag frag-off 0 frag id 7 accept
        exthdr hbh exists hbh nexthdr 60 dst nexthdr udp drop
        exthdr dst missing exthdr hbh exists counter accept
        exthdr mh exists drop
    }
}
"#;
    // Routing header type 0 / type 2, one address, segments left 1 / 0.
    let rt = |typ: u8, left: u8| {
        let mut h = vec![17, 2, typ, left, 0, 0, 0, 0];
        h.extend("fd00::9".parse::<std::net::Ipv6Addr>().unwrap().octets());
        h
    };
    let hbh_dst = [60, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0];
    let hbh = [17, 0, 1, 4, 0, 0, 0, 0];
    // An atomic fragment (offset 0, no more fragments): a whole datagram, header kept.
    let atomic = [17, 0, 0, 0, 0, 0, 0, 7];
    let got = decided(
        rules,
        &[
            (udp6(0, 43, &rt(0, 1)), 0),
            (udp6(0, 43, &rt(2, 1)), 0),
            (udp6(0, 43, &rt(2, 0)), 0),
            (udp6(0, 44, &atomic), 0),
            (udp6(0, 0, &hbh_dst), 0),
            (udp6(0, 0, &hbh), 0),
            (udp6(0, 17, &[]), 0),
        ],
    );
    assert_eq!(
        got,
        [Some(5), Some(6), None, Some(7), Some(8), Some(9), None]
    );
    // On an IPv4 packet, `exthdr … missing` does not match either (nft adds `nfproto ipv6`).
    let got = decided(
        "table inet f { chain input { type filter hook input priority 0; policy accept;\n\
         exthdr frag missing drop\n } }",
        &[(udp4(0, 1, 0, 5), 0), (udp6(0, 17, &[]), 0)],
    );
    assert_eq!(got, [None, Some(2)]);
}

#[test]
fn extension_header_words_nft_does_not_know_are_errors() {
    assert!(err("table ip6 f { chain c { rt segleft 1 drop } }").contains("seg-left"));
    let rs = parse("table ip6 f { chain c {\nrt mtu 1280 drop\n} }");
    assert!(rs.tables[0].chains[0].rules[0].unsupported.is_some());
}

#[test]
fn a_reassembled_datagram_reads_its_fragment_fields_as_unknown() {
    let rules = "table ip f { chain input { type filter hook input priority 0; policy accept;\n\
                 ip frag-off & 0x1fff != 0 drop\n } }";
    let rs = parse(rules);
    let mut fw = Firewall::new(rs, "t.nft".into(), Locality::default());
    let mut re = crate::decode::reassembly::Reassembler::default();
    // A UDP datagram in two pieces: 8 bytes (the header), then 8 at offset 1.
    let mut first = udp4(0, 9, 0x2000, 5);
    first[3] = 28;
    let mut second = udp4(0, 9, 1, 5);
    second.truncate(20);
    second.extend([0u8; 8]);
    second[3] = 28;
    let mut judged = Vec::new();
    for b in [first, second] {
        let mut s = crate::decode::decode(crate::capture::LinkType::RAW, &b);
        re.apply(&mut s);
        judged.push(fw.judge(&s, None, s.ip_len, 0).map(|j| j.0));
    }
    assert!(judged[0].is_none(), "the first piece waits for the rest");
    let j = judged[1].expect("the datagram is judged once whole");
    assert_eq!(j.verdict, Final::Accept);
    assert!(!j.exact);
}

#[test]
fn meta_hour_day_and_time_judge_the_timestamp_in_the_zone() {
    let rules = r#"
table inet f {
    chain input {
        type filter hook input priority 0; policy accept;
        meta hour "22:00"-"02:00" drop
        meta day { "Saturday", "Sunday" } meta hour >= "12:00" reject
        meta time < "2024-06-01 00:00" counter accept
        hour "09:00"-"17:00" day "Monday" drop
    }
}
"#;
    let judge = |tz: &str, ts_s: u64| {
        let l = Locality {
            tz: Some(clock::zone(Some(tz)).unwrap()),
            ..Locality::default()
        };
        let mut fw = Firewall::new(parse(rules), "t.nft".into(), l);
        let s = crate::decode::decode(crate::capture::LinkType::RAW, &udp4(0, 1, 0, 5));
        let (j, _) = fw.judge(&s, None, s.ip_len, ts_s * 1_000_000_000).unwrap();
        assert!(j.exact);
        j.rule.and_then(|id| fw.rule_line(id))
    };
    // 2024-06-03 (a Monday) 10:00 UTC.
    let mon10 = 1_717_408_800;
    assert_eq!(judge("UTC", mon10), Some(8));
    // 23:30 UTC: in the wrapped range in UTC; in Berlin (+2 h) it is 01:30 Tuesday, still in.
    assert_eq!(judge("UTC", mon10 + 13 * 3600 + 1800), Some(5));
    assert_eq!(judge("Europe/Berlin", mon10 + 13 * 3600 + 1800), Some(5));
    // 22:00 exactly is not matched: nft compiles the wrapped range as `range != 02:00 22:00`.
    assert_eq!(judge("UTC", mon10 + 12 * 3600), None);
    // 2024-06-01 was a Saturday: 13:00 in New York (-4 h) is 17:00 UTC.
    assert_eq!(judge("America/New_York", 1_717_261_200), Some(6));
    // Before the date (local): accepted by line 7.
    assert_eq!(judge("UTC", 1_717_000_000), Some(7));
    // Berlin: 08:30 UTC Monday is 10:30 local, inside 09:00-17:00.
    assert_eq!(judge("Europe/Berlin", mon10 - 1800 - 3600), Some(8));
    assert_eq!(judge("UTC", mon10 - 1800 - 3600), None);
}

#[test]
fn a_live_capture_judges_the_time_approximately() {
    let rules = "table ip f { chain input { type filter hook input priority 0; policy accept;\n\
                 meta hour \"09:00\"-\"17:00\" drop\n } }";
    let l = Locality {
        live: true,
        tz: Some(clock::zone(Some("UTC")).unwrap()),
        ..Locality::default()
    };
    let mut fw = Firewall::new(parse(rules), "t.nft".into(), l);
    let s = crate::decode::decode(crate::capture::LinkType::RAW, &udp4(0, 1, 0, 5));
    let (j, _) = fw
        .judge(&s, None, s.ip_len, 1_717_408_800 * 1_000_000_000)
        .unwrap();
    assert_eq!((j.verdict, j.exact), (Final::Drop, false));
}

#[test]
fn masked_flags_compare_as_integers_with_order_operators() {
    let rs = parse(
        "table inet f { chain input { type filter hook input priority 0; policy accept;\n\
         tcp flags & (fin|syn|rst|psh|ack|urg) < (fin) drop\n\
         tcp flags & (syn|ack) >= ack counter\n } }",
    );
    let r = &rs.tables[0].chains[0].rules;
    assert_eq!(
        r[0].matches[0].rhs,
        Rhs::MaskedRange {
            mask: 0x3f,
            lo: 0,
            hi: 0
        }
    );
    let hooks = [Hook::Input];
    // No flag among the six (a NULL scan, or only ECE/CWR): dropped.
    let null = pkt(PEER, HOST, 6, 1, 2, 0x40, ct::INVALID);
    assert_eq!(evaluate(&rs, &hooks, &null, false).verdict, Final::Drop);
    let ack = pkt(PEER, HOST, 6, 1, 2, 0x10, ct::ESTABLISHED);
    let o = evaluate(&rs, &hooks, &ack, false);
    assert_eq!((o.verdict, o.hits.len()), (Final::Accept, 1));
    let syn = pkt(PEER, HOST, 6, 1, 2, 0x02, ct::NEW);
    assert!(evaluate(&rs, &hooks, &syn, false).hits.is_empty());
    // `meta secpath` is read as missing: a capture's packets carry no IPsec state.
    let rs = parse(
        "table ip f { chain input { type filter hook input priority 0; policy drop;\n\
         meta secpath missing accept\n } }",
    );
    assert_eq!(evaluate(&rs, &hooks, &syn, false).verdict, Final::Accept);
}

/// Summaries of loopback packets for the issue-15 tests: TCP, UDP, ICMP(v6) queries and errors.
mod lo {
    use super::*;
    use crate::decode::{IcmpInfo, Inner};

    pub fn a(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    pub fn tcp(src: &str, dst: &str, sp: u16, dp: u16, flags: u16) -> Summary {
        let mut s = super::super::test_packets::tcp_at(a(src), sp, a(dst), dp, flags);
        if let Some(t) = s.tcp.as_mut() {
            t.seq = 1000;
            t.ack = if flags & TcpInfo::ACK != 0 { 5001 } else { 0 };
        }
        s
    }

    pub fn udp(src: &str, dst: &str, sp: u16, dp: u16) -> Summary {
        super::super::test_packets::udp_at(a(src), sp, a(dst), dp)
    }

    pub fn query(src: &str, dst: &str, typ: u8, id: u16) -> Summary {
        let v6 = a(src).is_ipv6();
        let info = Some(IcmpInfo {
            typ,
            code: 0,
            echo: Some((id, 1)),
        });
        Summary {
            src: Some(a(src)),
            dst: Some(a(dst)),
            ip_proto: Some(if v6 { 58 } else { 1 }),
            proto: if v6 { Proto::Icmpv6 } else { Proto::Icmp },
            icmp: if v6 { None } else { info },
            icmpv6: if v6 { info } else { None },
            ..Default::default()
        }
    }

    /// An ICMP destination unreachable (`code`) to `to`, quoting `q` (its ports when TCP/UDP).
    pub fn error(from: &str, to: &str, code: u8, q: &Summary) -> Summary {
        let inner = Inner {
            src: q.src.unwrap(),
            dst: q.dst.unwrap(),
            proto: q.ip_proto.unwrap(),
            query: q.icmp.or(q.icmpv6).and_then(|i| Some((i.typ, i.echo?.0))),
        };
        Summary {
            src: Some(a(from)),
            dst: Some(a(to)),
            ip_proto: Some(1),
            proto: Proto::Icmp,
            icmp: Some(IcmpInfo {
                typ: 3,
                code,
                echo: None,
            }),
            inner: Some(inner),
            quoted: q.sport.is_some(),
            sport: q.sport,
            dport: q.dport,
            ..Default::default()
        }
    }

    /// The firewall of a host that talks to itself, with `rules`.
    pub fn host(rules: &str) -> Firewall {
        Firewall::new(parse(rules), "t.nft".into(), locality::Locality::default())
    }

    /// The `ct state` and verdict the host gives `s`, seen on lo.
    pub fn judge(fw: &mut Firewall, s: &Summary) -> (u8, Final) {
        let (j, _) = fw.judge(s, Some("lo"), 60, 0).expect("an IP packet");
        (j.ct, j.verdict)
    }
}

#[test]
fn icmp_queries_on_loopback_are_told_apart_by_their_types() {
    use lo::*;
    let mut c = conntrack::Conntrack::default();
    // 127.0.0.1 pinging itself: the reply is established, and so is every request after it.
    assert_eq!(
        c.observe(&query("127.0.0.1", "127.0.0.1", 8, 7)),
        Some(ct::NEW)
    );
    assert_eq!(
        c.observe(&query("127.0.0.1", "127.0.0.1", 0, 7)),
        Some(ct::ESTABLISHED)
    );
    assert_eq!(
        c.observe(&query("127.0.0.1", "127.0.0.1", 8, 7)),
        Some(ct::ESTABLISHED)
    );
    // ::1 alike, with the ICMPv6 types.
    assert_eq!(c.observe(&query("::1", "::1", 128, 7)), Some(ct::NEW));
    assert_eq!(
        c.observe(&query("::1", "::1", 129, 7)),
        Some(ct::ESTABLISHED)
    );
    // Timestamps too; a reply nobody asked for is invalid.
    assert_eq!(
        c.observe(&query("127.0.0.1", "127.0.0.1", 13, 8)),
        Some(ct::NEW)
    );
    assert_eq!(
        c.observe(&query("127.0.0.1", "127.0.0.1", 14, 8)),
        Some(ct::ESTABLISHED)
    );
    assert_eq!(
        c.observe(&query("127.0.0.1", "127.0.0.1", 0, 9)),
        Some(ct::INVALID)
    );
    assert_eq!(c.observe(&query("::1", "::1", 129, 9)), Some(ct::INVALID));
    // The tuple holds the direction: a request the other way round is a flow of its own.
    assert_eq!(
        c.observe(&query("10.0.0.2", "10.0.0.1", 8, 5)),
        Some(ct::NEW)
    );
    assert_eq!(
        c.observe(&query("10.0.0.1", "10.0.0.2", 0, 5)),
        Some(ct::ESTABLISHED)
    );
    assert_eq!(
        c.observe(&query("10.0.0.1", "10.0.0.2", 8, 5)),
        Some(ct::NEW)
    );
    // An error quoting the request of a tracked query flow is related.
    let req = query("127.0.0.1", "127.0.0.1", 8, 7);
    assert_eq!(
        c.observe(&error("127.0.0.1", "127.0.0.1", 1, &req)),
        Some(ct::RELATED)
    );
    // With `ct state established accept` and echo requests only, the whole ping gets through.
    let mut fw = host(
        "table inet f { chain input { type filter hook input priority 0; policy drop;
            ct state established,related accept
            icmp type echo-request accept } }",
    );
    for _ in 0..2 {
        let req = judge(&mut fw, &query("127.0.0.1", "127.0.0.1", 8, 3));
        let rep = judge(&mut fw, &query("127.0.0.1", "127.0.0.1", 0, 3));
        assert_eq!(rep, (ct::ESTABLISHED, Final::Accept));
        assert_eq!(req.1, Final::Accept);
    }
}

#[test]
fn loopback_entries_are_confirmed_at_postrouting_before_input() {
    use lo::*;
    let mut fw = host(
        "table inet f {
            chain output { type filter hook output priority 0; policy accept;
                udp dport 6001 drop }
            chain input { type filter hook input priority 0; policy drop;
                ct state established,related accept
                udp dport 6000 drop } }",
    );
    // Dropped at input: the entry stays, confirmed at postrouting.
    let first = udp("127.0.0.1", "127.0.0.1", 5000, 6000);
    assert_eq!(judge(&mut fw, &first), (ct::NEW, Final::Drop));
    assert_eq!(
        judge(&mut fw, &first),
        (ct::NEW, Final::Drop),
        "the same datagram again: the entry, unanswered"
    );
    assert_eq!(
        judge(&mut fw, &error("127.0.0.1", "127.0.0.1", 3, &first)),
        (ct::RELATED, Final::Accept)
    );
    assert_eq!(
        judge(&mut fw, &udp("127.0.0.1", "127.0.0.1", 6000, 5000)),
        (ct::ESTABLISHED, Final::Accept)
    );
    // Dropped at output, before confirmation: nothing is left.
    let out = udp("127.0.0.1", "127.0.0.1", 5001, 6001);
    assert_eq!(judge(&mut fw, &out), (ct::NEW, Final::Drop));
    assert_eq!(
        judge(&mut fw, &udp("127.0.0.1", "127.0.0.1", 6001, 5001)).0,
        ct::NEW
    );
    // A packet from outside dropped at input was never confirmed.
    let mut fw = Firewall::new(
        parse(
            "table inet f { chain input { type filter hook input priority 0; policy drop;
                ct state established accept
                udp sport 5002 drop } }",
        ),
        "t.nft".into(),
        locality::Locality::from_args(&["10.0.0.1".into()]).unwrap(),
    );
    let (j, _) = fw
        .judge(
            &udp("10.0.0.2", "10.0.0.1", 5002, 6002),
            Some("eth0"),
            60,
            0,
        )
        .unwrap();
    assert_eq!((j.ct, j.verdict), (ct::NEW, Final::Drop));
    let (j, _) = fw
        .judge(
            &udp("10.0.0.1", "10.0.0.2", 6002, 5002),
            Some("eth0"),
            60,
            0,
        )
        .unwrap();
    assert_eq!(j.ct, ct::NEW, "the host's answer starts a flow of its own");
}

#[test]
fn what_a_reject_sends_is_related_to_the_rejected_packets_entry() {
    use lo::*;
    const RA: u16 = TcpInfo::RST | TcpInfo::ACK;
    let mut fw = host(
        "table inet f {
            chain output { type filter hook output priority 0; policy accept;
                tcp dport 7010 reject with tcp reset
                udp dport 7110 reject with icmpx type port-unreachable }
            chain input { type filter hook input priority 0; policy accept;
                ct state invalid drop
                tcp dport 7009 reject with tcp reset
                udp dport 7109 reject } }",
    );
    // At input: the SYN is seen and rejected, its RST comes back related, and leaves the
    // entry closed (a SYN on the same ports starts afresh).
    let syn = tcp("127.0.0.1", "127.0.0.1", 40000, 7009, TcpInfo::SYN);
    assert_eq!(judge(&mut fw, &syn), (ct::NEW, Final::Reject));
    let rst = tcp("127.0.0.1", "127.0.0.1", 7009, 40000, RA);
    assert_eq!(judge(&mut fw, &rst), (ct::RELATED, Final::Accept));
    assert_eq!(judge(&mut fw, &syn).0, ct::NEW);
    // An ICMP error a reject at input sends is related too.
    let d = udp("127.0.0.1", "127.0.0.1", 5000, 7109);
    assert_eq!(judge(&mut fw, &d), (ct::NEW, Final::Reject));
    assert_eq!(
        judge(&mut fw, &error("127.0.0.1", "127.0.0.1", 3, &d)),
        (ct::RELATED, Final::Accept)
    );
    // At output the rejected packet never reaches the capture: the RST is known by the SYN it
    // answers, which the output chain rejects with a reset.
    let rst = tcp("127.0.0.1", "127.0.0.1", 7010, 40001, RA);
    assert_eq!(judge(&mut fw, &rst), (ct::RELATED, Final::Accept));
    // Nothing rejects a SYN to 7011: an RST from there out of nowhere is invalid.
    let stray = tcp("127.0.0.1", "127.0.0.1", 7011, 40002, RA);
    assert_eq!(judge(&mut fw, &stray), (ct::INVALID, Final::Drop));
    // The ICMP error of a reject at output, about a datagram the capture never shows.
    let unseen = udp("127.0.0.1", "127.0.0.1", 5001, 7110);
    assert_eq!(
        judge(&mut fw, &error("127.0.0.1", "127.0.0.1", 3, &unseen)),
        (ct::RELATED, Final::Accept)
    );
    let unknown = udp("127.0.0.1", "127.0.0.1", 5001, 7111);
    assert_eq!(
        judge(&mut fw, &error("127.0.0.1", "127.0.0.1", 3, &unknown)),
        (ct::INVALID, Final::Drop),
        "an error about a flow nobody rejected nor tracked"
    );
    // A reset answers with an RST, not an ICMP error: the kinds must agree.
    let wrong = tcp("127.0.0.1", "127.0.0.1", 5002, 7010, TcpInfo::SYN);
    assert_eq!(
        judge(&mut fw, &error("127.0.0.1", "127.0.0.1", 3, &wrong)).0,
        ct::INVALID
    );
}

#[test]
fn service_names_beyond_the_short_table_come_from_debians_services_file() {
    use crate::firewall::model::Kind;
    // distcc (3632) is in netbase's /etc/services and in a published ruleset, not in the short
    // table; the short table still wins for names it has.
    assert_eq!(names::lookup(Kind::Port, "distcc"), Some(3632));
    assert_eq!(names::lookup(Kind::Port, "ssh"), Some(22));
    assert_eq!(names::lookup(Kind::Port, "postgresql"), Some(5432));
    assert_eq!(names::lookup(Kind::Port, "no-such-service"), None);
    // The generated table is searched by bisection: it must be sorted, so that every entry
    // is found.
    for (name, port) in crate::firewall::services::SERVICES {
        assert_eq!(crate::firewall::services::port(name), Some(*port), "{name}");
    }
}
