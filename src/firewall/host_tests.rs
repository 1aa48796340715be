//! The constructs of published rulesets that read the host or the connection's direction
//! (issue 15, the last published files): `socket`, `meta iifkind/iiftype`, every `fib`
//! lookup, `ct direction`, `ct original|reply …`, `synproxy`, `tproxy`, payload rewrites, and
//! iptables' `MARK`/`CONNMARK` targets with `-m mark`/`-m connmark` and `--ctorigdstport` —
//! parsed, judged packet after packet through the simulator, and written back by `--save`.

use super::eval::Final;
use super::model::*;
use super::report::check_lines;
use super::test_packets::{tcp, udp};
use super::*;
use crate::decode::{Summary, TcpInfo};

/// The SYN-ACK answering a SYN sent with sequence number 0 (what `tcp` gives it).
fn syn_ack(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Summary {
    let mut s = tcp(src, sport, dst, dport, SYN | ACK);
    if let Some(t) = s.tcp.as_mut() {
        t.ack = 1;
    }
    s
}

const SYN: u16 = TcpInfo::SYN;
const ACK: u16 = TcpInfo::ACK;
const RST: u16 = TcpInfo::RST;
const HOST: [u8; 4] = [10, 0, 0, 1];
const PEER: [u8; 4] = [10, 0, 0, 2];
const OTHER: [u8; 4] = [10, 0, 0, 3];

fn nft_fw(src: &str) -> Firewall {
    let rs = nft::parse(src, "t.nft").unwrap_or_else(|e| panic!("{e}"));
    assert!(
        rs.rules().all(|(_, r)| r.unsupported.is_none()),
        "every rule is read"
    );
    Firewall::new(rs, "t.nft".into(), Locality::default())
}

fn ipt_fw(src: &str) -> Firewall {
    let rs = iptables::parse(src, "t.rules").unwrap_or_else(|e| panic!("{e}"));
    assert!(
        rs.rules().all(|(_, r)| r.unsupported.is_none()),
        "{:?}",
        rs.rules()
            .filter_map(|(_, r)| r.unsupported.clone())
            .collect::<Vec<_>>()
    );
    Firewall::new(rs, "t.rules".into(), Locality::default())
}

/// The verdict, whether it is exact, and the line of the deciding rule (0: a policy), for a
/// packet that came in on `iface`.
fn judge_on(fw: &mut Firewall, s: &Summary, iface: &str) -> (Final, bool, u32) {
    let (j, _) = fw.judge(s, Some(iface), 60, 0).unwrap();
    let line = j.rule.and_then(|r| fw.rule_line(r)).unwrap_or(0);
    (j.verdict, j.exact, line)
}

fn judge(fw: &mut Firewall, s: &Summary) -> (Final, bool, u32) {
    judge_on(fw, s, "eth0")
}

/// `--save` writes what nft reads back to the same matches.
fn saves_back(fw: &Firewall) {
    let text = save::to_nft(&fw.ruleset);
    let back = nft::parse(&text, "saved.nft").unwrap_or_else(|e| panic!("{e}\n{text}"));
    // nft has no spelling of CONNMARK's "no connection, no change" (`XtCt`): it is written
    // as `meta mark set ct mark` (the same after the `ct state established,related` test
    // that comes with it in practice).
    let xt_as_nft = |e: &(u16, Effect)| match e {
        (at, Effect::Mark { ct, expr }) if expr.src == MarkSrc::XtCt => (
            *at,
            Effect::Mark {
                ct: *ct,
                expr: MarkExpr {
                    src: MarkSrc::Ct,
                    ops: expr.ops.clone(),
                },
            },
        ),
        e => e.clone(),
    };
    let m = |rs: &Ruleset| {
        rs.rules()
            .map(|(_, r)| {
                let effects: Vec<_> = r.effects.iter().map(xt_as_nft).collect();
                (r.matches.clone(), effects, r.verdict.clone())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(m(&back), m(&fw.ruleset), "{text}");
}

#[test]
fn iiftype_loopback_is_told_from_the_name_other_types_are_not() {
    let mut fw = nft_fw(
        "table inet t {
            chain input {
                type filter hook input priority 0; policy drop;
                iiftype loopback accept
                meta iiftype ether udp dport 53 accept
            }
        }",
    );
    let syn = tcp(PEER, 40000, HOST, 22, SYN);
    assert_eq!(judge_on(&mut fw, &syn, "lo"), (Final::Accept, true, 4));
    // Not lo, so not loopback: the policy, exactly.
    assert_eq!(judge_on(&mut fw, &syn, "eth0"), (Final::Drop, true, 0));
    // Whether eth0 is of type ether is the host's to say: approximate.
    let dns = udp(PEER, 5353, HOST, 53);
    assert_eq!(judge_on(&mut fw, &dns, "eth0"), (Final::Drop, false, 0));
    assert_eq!(judge_on(&mut fw, &dns, "lo"), (Final::Accept, true, 4));
    saves_back(&fw);
}

#[test]
fn ct_direction_and_tuples_follow_the_connection() {
    let mut fw = nft_fw(
        "table inet t {
            chain input {
                type filter hook input priority 0; policy drop;
                ct direction reply accept
                ct original ip saddr 10.0.0.2 ct original proto-dst 22 accept
                ct reply ip daddr 10.0.0.3 accept
            }
        }",
    );
    // A first packet is original: from PEER to 22 its original tuple is its own.
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 40000, HOST, 22, SYN)),
        (Final::Accept, true, 5)
    );
    // The answer is the reply direction.
    assert_eq!(
        judge(&mut fw, &syn_ack(HOST, 22, PEER, 40000)),
        (Final::Accept, true, 4)
    );
    // Later packets of the client are original again, its tuple the same.
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 40000, HOST, 22, ACK)),
        (Final::Accept, true, 5)
    );
    // Another port: original tuple's proto-dst is 23.
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 40001, HOST, 23, SYN)),
        (Final::Drop, true, 0)
    );
    // The reply tuple is the original turned round: from OTHER, the reply goes to OTHER.
    assert_eq!(
        judge(&mut fw, &tcp(OTHER, 40002, HOST, 80, SYN)),
        (Final::Accept, true, 6)
    );
    // Out of the window: invalid, no connection, `ct` tests fail (not approximate).
    let mut late = tcp(PEER, 40000, HOST, 22, RST);
    if let Some(t) = late.tcp.as_mut() {
        t.seq = 0x7fff_0000;
    }
    let (v, exact, _) = judge(&mut fw, &late);
    assert_eq!((v, exact), (Final::Drop, true));
    saves_back(&fw);
}

#[test]
fn the_hosts_sockets_devices_and_routes_are_approximate() {
    let mut fw = nft_fw(
        "table inet t {
            chain pre {
                type filter hook prerouting priority -150; policy accept;
                meta l4proto tcp socket transparent 1 meta mark set 0x1 accept
                meta l4proto { tcp, udp } meta mark set 0x1 tproxy ip to 127.0.0.1:12345 accept
            }
            chain input {
                type filter hook input priority 0; policy accept;
                fib saddr . iif oif 0 drop
                fib daddr . iif type != { local, broadcast, multicast } drop
                meta iifkind \"wireguard\" drop
                socket mark 5 drop
            }
        }",
    );
    let (v, exact, _) = judge(&mut fw, &tcp(PEER, 40000, HOST, 22, SYN));
    assert_eq!((v, exact), (Final::Accept, false));
    let text = check_lines(&fw).join("\n");
    for why in [
        "socket transparent reads the host's sockets",
        "tproxy hands the packet to a local socket",
        "the reverse-path lookup needs the host's routes",
        "this fib lookup needs the host's routes and devices",
        "meta iifkind reads the host's devices",
        "socket mark reads the host's sockets",
    ] {
        assert!(text.contains(why), "{why}:\n{text}");
    }
    assert!(text.contains("0 unsupported"), "{text}");
    saves_back(&fw);
}

#[test]
fn synproxy_takes_syn_and_ack_of_tcp_only() {
    let mut fw = nft_fw(
        "table inet t {
            chain input {
                type filter hook input priority 0; policy accept;
                tcp dport 80 synproxy mss 1460 wscale 7 timestamp sack-perm counter comment \"cookies\"
                ct state invalid drop
            }
        }",
    );
    let rule = fw.ruleset.rules().next().unwrap().1;
    assert_eq!(rule.verdict, Some(Verdict::Drop));
    assert_eq!(rule.approx[0].0, Approx::Synproxy);
    // A SYN goes no further (the kernel answers it with a cookie itself).
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 40000, HOST, 80, SYN)),
        (Final::Drop, false, 4)
    );
    // An RST has neither SYN nor ACK: not synproxy's; with no connection it is invalid.
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 40001, HOST, 80, RST)),
        (Final::Drop, true, 5)
    );
    // A UDP datagram to port 80 is not synproxy's (the rule does not match).
    assert_eq!(
        judge(&mut fw, &udp(PEER, 40000, HOST, 80)),
        (Final::Accept, true, 0)
    );
    saves_back(&fw);
}

#[test]
fn a_rewritten_field_reads_as_unknown_after_the_rewrite() {
    let mut fw = nft_fw(
        "table ip t {
            chain pre {
                type filter hook prerouting priority 0; policy accept;
                ip daddr set 10.0.0.9 ip daddr 10.0.0.9 drop
            }
        }",
    );
    let r = fw.ruleset.rules().next().unwrap().1;
    assert_eq!(r.effects, vec![(0, Effect::Rewrite(Field::IpDaddr))]);
    assert_eq!(r.matches.len(), 1, "the test after the rewrite is read");
    let (v, exact, _) = judge(&mut fw, &tcp(PEER, 40000, HOST, 22, SYN));
    assert_eq!((v, exact), (Final::Accept, false));
    saves_back(&fw);
}

/// The mangle table marks port 22, saves the mark in the connection and restores it on later
/// packets; the filter table accepts by either mark (iptables-save's own spellings).
const MARKS: &str = "*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -m conntrack --ctstate RELATED,ESTABLISHED -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff
-A PREROUTING -p tcp -m tcp --dport 22 -j MARK --set-xmark 0x1/0xffffffff
-A PREROUTING -p tcp -m tcp --dport 443 -j MARK --set-xmark 0x10/0xf0
-A PREROUTING -p tcp -m tcp --dport 8443 -j MARK --set-mark 0x3/0x1
-A PREROUTING -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m mark --mark 0x1 -j ACCEPT
-A INPUT -m connmark --mark 0x1 -j ACCEPT
-A INPUT -m mark --mark 0x10/0xf0 -j ACCEPT
-A INPUT -m connmark --mark 0x3 -j ACCEPT
-A INPUT -p tcp -m conntrack --ctorigdstport 25 -j ACCEPT
-A INPUT -p tcp -m conntrack --ctdir REPLY --ctreplsrc 10.0.0.3 -j ACCEPT
-A INPUT -p tcp -m conntrack --ctdir ORIGINAL --ctorigdst 10.0.0.3 -j ACCEPT
COMMIT
";

#[test]
fn iptables_marks_and_connmarks_go_through_the_walk() {
    let mut fw = ipt_fw(MARKS);
    // Marked 1 at prerouting, accepted by -m mark.
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 40000, HOST, 22, SYN)),
        (Final::Accept, true, 17)
    );
    // (0 & ~0xf0) ^ 0x10 = 0x10, matched under the mask.
    assert_eq!(judge(&mut fw, &tcp(PEER, 40001, HOST, 443, SYN)).2, 19);
    // (0 & ~0x1) | 0x3 = 3, saved in the connection: -m connmark --mark 0x3.
    assert_eq!(judge(&mut fw, &tcp(PEER, 40002, HOST, 8443, SYN)).2, 20);
    // Nothing marks port 80.
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 40003, HOST, 80, SYN)),
        (Final::Drop, true, 0)
    );
    // The reply restores the connection's mark 1 (saved by the first packet).
    assert_eq!(
        judge(&mut fw, &syn_ack(HOST, 22, PEER, 40000)),
        (Final::Accept, true, 17)
    );
    saves_back(&fw);
}

#[test]
fn iptables_conntrack_tuples_are_the_first_packets() {
    let mut fw = ipt_fw(MARKS);
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 40000, HOST, 25, SYN)),
        (Final::Accept, true, 21)
    );
    // The answer from port 25: its connection's original destination port is still 25.
    assert_eq!(
        judge(&mut fw, &syn_ack(HOST, 25, PEER, 40000)),
        (Final::Accept, true, 21)
    );
    assert_eq!(
        judge(&mut fw, &tcp(PEER, 40001, HOST, 26, SYN)),
        (Final::Drop, true, 0)
    );
    // The host opens a connection to OTHER: its reply tuple's source is OTHER, so
    // `--ctdir REPLY --ctreplsrc 10.0.0.3` holds for OTHER's answer and not for the SYN,
    // which `--ctdir ORIGINAL --ctorigdst 10.0.0.3` accepts (dropped, it would leave no
    // connection for the answer to belong to).
    assert_eq!(
        judge(&mut fw, &tcp(HOST, 40005, OTHER, 80, SYN)),
        (Final::Accept, true, 23)
    );
    assert_eq!(
        judge(&mut fw, &syn_ack(OTHER, 80, HOST, 40005)),
        (Final::Accept, true, 22)
    );
}

#[test]
fn iptables_mark_targets_say_what_they_compute() {
    let rs = iptables::parse(MARKS, "t.rules").unwrap();
    let effects: Vec<Effect> = rs
        .rules()
        .flat_map(|(_, r)| r.effects.iter().map(|e| e.1.clone()))
        .collect();
    let mark = |ct, src, ops| Effect::Mark {
        ct,
        expr: MarkExpr { src, ops },
    };
    assert_eq!(
        effects,
        vec![
            mark(false, MarkSrc::XtCt, vec![]),
            mark(false, MarkSrc::Const(1), vec![]),
            mark(
                false,
                MarkSrc::Meta,
                vec![(MarkOp::And, !0xf0), (MarkOp::Xor, 0x10)]
            ),
            mark(
                false,
                MarkSrc::Meta,
                vec![(MarkOp::And, !0x1), (MarkOp::Or, 0x3)]
            ),
            mark(true, MarkSrc::Meta, vec![]),
        ]
    );
    let bad = "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j CONNMARK --save-mark --ctmask 0xff\nCOMMIT\n";
    let rs = iptables::parse(bad, "t.rules").unwrap();
    let why = rs.rules().next().unwrap().1.unsupported.clone().unwrap().1;
    assert!(why.contains("cannot write"), "{why}");
}

#[test]
fn raw_payload_and_strings_without_the_bytes_read_as_unknown() {
    let mut fw = nft_fw(
        "table ip6 t {
            chain pre {
                type filter hook prerouting priority -140; policy accept;
                meta l4proto udp \\
                @th,64,16 == 0x0001 \\
                @th,96,32 == 0x2112A442 \\
                @th,256,64 == 0x646973736f6c7665 \\
                drop
            }
        }",
    );
    let r = fw.ruleset.rules().next().unwrap().1;
    assert_eq!(
        r.matches[1].field,
        Field::Raw {
            base: RawBase::Th,
            off: 64,
            len: 16
        }
    );
    assert_eq!(
        r.matches[3].rhs,
        Rhs::Values(vec![Value::Int(0x6469_7373_6f6c_7665)])
    );
    let text = check_lines(&fw).join("\n");
    assert!(
        text.contains("0 unsupported, 0 warnings, 0 approximate"),
        "{text}"
    );
    saves_back(&fw);
    let mut six = udp(PEER, 3478, HOST, 3478);
    six.src = Some("2001:db8::2".parse().unwrap());
    six.dst = Some("2001:db8::1".parse().unwrap());
    let (v, exact, _) = judge(&mut fw, &six);
    assert_eq!((v, exact), (Final::Accept, false));

    let fw = ipt_fw(
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
         -A OUTPUT -d 10.0.0.1/32 -p tcp -m string --string \"cdn.\" --algo kmp --to 65535 -j REJECT --reject-with tcp-reset\n\
         COMMIT\n",
    );
    let r = fw.ruleset.rules().next().unwrap().1;
    assert!(r
        .matches
        .iter()
        .any(|m| m.rhs == Rhs::Values(vec![Value::Name("cdn.".into())])));
    let saved = save::to_nft(&fw.ruleset);
    assert!(
        saved.contains("# no nft form (-m string): -A OUTPUT"),
        "{saved}"
    );
    nft::parse(&saved, "saved.nft").unwrap();
    let text = check_lines(&fw).join("\n");
    assert!(
        text.contains("0 unsupported, 0 warnings, 0 approximate"),
        "{text}"
    );
}

/// An IPv4 TCP segment (flags PSH|ACK) carrying `payload`, as captured bytes.
fn ipv4_tcp(dport: u16, payload: &[u8]) -> Vec<u8> {
    let total = 40 + payload.len();
    let mut b = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        6,
        0,
        0,
        10,
        0,
        0,
        2,
        10,
        0,
        0,
        1,
    ];
    b.extend_from_slice(&40000u16.to_be_bytes());
    b.extend_from_slice(&dport.to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    b.extend_from_slice(payload);
    b
}

/// An IPv6 UDP datagram carrying `payload`.
fn ipv6_udp(payload: &[u8]) -> Vec<u8> {
    let ulen = 8 + payload.len();
    let mut b = vec![0x60, 0, 0, 0, (ulen >> 8) as u8, ulen as u8, 17, 64];
    b.extend_from_slice(
        &"2001:db8::2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    b.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    b.extend_from_slice(&3478u16.to_be_bytes());
    b.extend_from_slice(&3478u16.to_be_bytes());
    b.extend_from_slice(&[(ulen >> 8) as u8, ulen as u8, 0, 0]);
    b.extend_from_slice(payload);
    b
}

/// `judge` with the frame's bytes, decoded as a capture's would be; `keep` cuts the capture.
fn judge_bytes(fw: &mut Firewall, frame: &[u8], keep: usize) -> (Final, bool, u32) {
    let v6 = frame[0] >> 4 == 6;
    let link = if v6 {
        crate::capture::LinkType::IPV6
    } else {
        crate::capture::LinkType::IPV4
    };
    let cut = &frame[..keep.min(frame.len())];
    let s = crate::decode::decode(link, cut);
    let (j, _) = fw.judge_frame(&s, cut, Some("eth0"), s.ip_len, 0).unwrap();
    let line = j.rule.and_then(|r| fw.rule_line(r)).unwrap_or(0);
    (j.verdict, j.exact, line)
}

/// A STUN binding request whose USERNAME attribute starts "dissolve:" (what 078's rule looks
/// for), and one with another name.
fn stun(name: &[u8; 9]) -> Vec<u8> {
    let mut p = vec![0x00, 0x01, 0x00, 0x10, 0x21, 0x12, 0xa4, 0x42];
    p.extend_from_slice(&[7; 12]);
    p.extend_from_slice(&[0x00, 0x06, 0x00, 0x09]);
    p.extend_from_slice(name);
    p.extend_from_slice(&[0, 0, 0]);
    p
}

#[test]
fn raw_payload_is_read_from_the_packets_bytes() {
    let mut fw = nft_fw(
        "table ip6 t {
            chain pre {
                type filter hook prerouting priority -140; policy accept;
                meta l4proto udp @th,64,16 == 0x0001 @th,96,32 == 0x2112A442 @th,224,16 == 0x0006 @th,256,64 == 0x646973736f6c7665 @th,320,8 == 0x3a drop
                @nh,0,4 != 6 drop
                @th,16,16 3478 @ih,36,28 0x112a442 counter
            }
        }",
    );
    let hit = ipv6_udp(&stun(b"dissolve:"));
    assert_eq!(
        judge_bytes(&mut fw, &hit, hit.len()),
        (Final::Drop, true, 4)
    );
    let other = ipv6_udp(&stun(b"resolved:"));
    assert_eq!(
        judge_bytes(&mut fw, &other, other.len()),
        (Final::Accept, true, 0)
    );
    // The capture kept 60 bytes: the name is past them, so the rule may or may not match.
    assert_eq!(judge_bytes(&mut fw, &hit, 60), (Final::Accept, false, 0));
    // The bits at a header's offset (`@ih,36,28`: the cookie's low 28 bits) and a bit field
    // within a byte (`@nh,0,4`: the version) read as nft's payload and bitwise give them.
    let id = fw.ruleset.rules().nth(2).unwrap().0;
    let hits = |fw: &Firewall| fw.counters.get(&id).map_or(0, |c| c.packets);
    let before = hits(&fw);
    judge_bytes(&mut fw, &other, other.len());
    assert_eq!(hits(&fw), before + 1);
    // A datagram too short for `@th,320,8`: past the packet's end the load fails, no match.
    let short = ipv6_udp(&stun(b"dissolve:")[..32]);
    assert_eq!(
        judge_bytes(&mut fw, &short, short.len()),
        (Final::Accept, true, 0)
    );
}

#[test]
fn iptables_strings_are_searched_in_the_packets_bytes() {
    let mut fw = ipt_fw(
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
         -A INPUT -p tcp -m string --string \"cdn.\" --algo kmp --to 65535 -j DROP\n\
         -A INPUT -p tcp -m string --string \"SECRET\" --algo bm --icase -j DROP\n\
         -A INPUT -p tcp -m string --hex-string \"|0d0a0d0a|\" --algo bm --from 40 --to 60 -j DROP\n\
         -A INPUT -p tcp -m string ! --string \"GET\" --algo kmp --to 45 -j REJECT --reject-with tcp-reset\n\
         COMMIT\n",
    );
    let j = |fw: &mut Firewall, payload: &[u8], keep: usize| {
        let f = ipv4_tcp(80, payload);
        judge_bytes(fw, &f, keep)
    };
    assert_eq!(
        j(&mut fw, b"GET / HTTP/1.1\r\nHost: cdn.example.org\r\n", 200),
        (Final::Drop, true, 5)
    );
    assert_eq!(
        j(&mut fw, b"GET /?q=secret HTTP/1.1\r\n", 200),
        (Final::Drop, true, 6)
    );
    // The blank line inside bytes 40..60 (the payload starts at 40).
    assert_eq!(j(&mut fw, b"GET /\r\n\r\n", 200), (Final::Drop, true, 7));
    // …and not when it ends past byte 60.
    assert_eq!(
        j(&mut fw, b"GET /aaaaaaaaaaaaaaaaaaaa\r\n\r\n", 200),
        (Final::Accept, true, 0)
    );
    // No "GET" in bytes 0..45: the negated test holds.
    assert_eq!(
        j(&mut fw, b"POST / HTTP/1.1\r\n", 200),
        (Final::Reject, true, 8)
    );
    // Cut at 44 bytes: "cdn." may be in what was not kept.
    let (v, exact, _) = j(&mut fw, b"GET / HTTP/1.1\r\nHost: cdn.example.org\r\n", 44);
    assert_eq!((v, exact), (Final::Accept, false));
}

#[test]
fn set_element_comments_are_saved_with_their_elements() {
    let src = "table inet t {
        set s {
            type inet_proto . inet_service
            elements = { udp . 0 comment \"IANA Reserved\", tcp . 22 }
        }
        map m {
            type inet_service : verdict
            elements = { 22 comment \"ssh\" : accept, 80 : drop }
        }
    }
    add element inet t s { tcp . 80 comment \"web\" }
    delete element inet t m { 22 }";
    let rs = nft::parse(src, "t.nft").unwrap();
    let saved = save::to_nft(&rs);
    assert!(
        saved.contains(
            "elements = { udp . 0 comment \"IANA Reserved\", tcp . 22, tcp . 80 comment \"web\" }"
        ),
        "{saved}"
    );
    assert!(saved.contains("elements = { 80 : drop }"), "{saved}");
    let back = nft::parse(&saved, "saved.nft").unwrap();
    assert_eq!(
        back.tables[0].sets[0].comments,
        rs.tables[0].sets[0].comments
    );
}
