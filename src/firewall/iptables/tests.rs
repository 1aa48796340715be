//! The iptables-save importer, the nft forms `iptables-restore-translate` writes, and saving a
//! ruleset back as nft.

use std::net::{IpAddr, Ipv4Addr};

use super::super::eval::{evaluate, Final, PacketView};
use super::super::model::*;
use super::super::{nft, save};
use super::{looks_like, parse};

fn ipt(src: &str) -> Ruleset {
    parse(src, "t.rules").unwrap_or_else(|e| panic!("{e}"))
}

fn ipt_err(src: &str) -> String {
    parse(src, "t.rules").unwrap_err().to_string()
}

fn nft_ok(src: &str) -> Ruleset {
    nft::parse(src, "t.nft").unwrap_or_else(|e| panic!("{e}\n{src}"))
}

/// A filter table with these rule lines (line 6 on) after the usual declarations.
fn filter(rules: &str) -> String {
    format!(
        "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [12:345]\n\
         :custom - [0:0]\n{rules}COMMIT\n"
    )
}

fn eq(field: Field, v: Value) -> Match {
    Match {
        field,
        op: Op::Eq,
        rhs: Rhs::Values(vec![v]),
        more: Vec::new(),
        var: None,
    }
}

fn ne(field: Field, v: Value) -> Match {
    Match {
        field,
        op: Op::Ne,
        rhs: Rhs::Values(vec![v]),
        more: Vec::new(),
        var: None,
    }
}

fn net(a: [u8; 4], len: u8) -> Value {
    Value::Prefix(IpAddr::V4(Ipv4Addr::from(a)), len)
}

const TCP: Value = Value::Int(6);
const UDP: Value = Value::Int(17);

/// The rules of the first chain of the first table.
fn input_rules(rs: &Ruleset) -> &[Rule] {
    &rs.tables[0].chains[0].rules
}

/// The ruleset without where each rule came from: what must survive saving and loading.
fn semantics(rs: &Ruleset) -> Ruleset {
    let mut rs = rs.clone();
    for t in &mut rs.tables {
        for c in &mut t.chains {
            c.line = 0;
            for r in &mut c.rules {
                r.origin = Origin {
                    line: 0,
                    text: String::new(),
                    file: None,
                    full: String::new(),
                };
            }
        }
    }
    rs
}

#[test]
fn tables_chains_and_policies() {
    let rs = ipt(&filter("-A custom -j RETURN\n"));
    assert_eq!(rs.tables.len(), 1);
    let t = &rs.tables[0];
    assert_eq!((t.family, t.name.as_str()), (Family::Ip, "filter"));
    let names: Vec<&str> = t.chains.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["INPUT", "FORWARD", "OUTPUT", "custom"]);
    let base = |i: usize| t.chains[i].base.clone();
    assert_eq!(
        base(0),
        Some(BaseChain::filter(Hook::Input, 0, Policy::Drop))
    );
    assert_eq!(
        base(1),
        Some(BaseChain::filter(Hook::Forward, 0, Policy::Accept))
    );
    assert_eq!(base(2).unwrap().hook, Hook::Output);
    assert_eq!(base(3), None);
    assert_eq!(t.chains[0].line, 2);
    assert_eq!(t.chains[3].line, 5);
    let r = &t.chains[3].rules[0];
    assert_eq!(r.origin.line, 6);
    assert_eq!(r.origin.text, "-A custom -j RETURN");
    assert_eq!(r.verdict, Some(Verdict::Return));
    assert!(r.counter && r.enabled);
}

#[test]
fn addresses_protocols_and_interfaces() {
    let rs = ipt(&filter(
        "-A INPUT -s 10.0.0.0/8 -d 192.168.1.7/32 -p tcp -j ACCEPT\n\
         -A INPUT ! -s 10.1.2.3/255.255.0.0 ! -d 172.16.0.0/12 ! -p udp -j DROP\n\
         -A INPUT -p icmp -j ACCEPT\n\
         -A INPUT -p 47 -j ACCEPT\n\
         -A INPUT -p all -j ACCEPT\n\
         -A INPUT -i eth+ -j ACCEPT\n\
         -A INPUT ! -i lo -j DROP\n\
         -A FORWARD -i ppp0 ! -o + -j DROP\n\
         -A INPUT -s 10.0.0.1,10.0.0.2 -j ACCEPT\n\
         -A OUTPUT --source 10.9.9.9 --protocol udp --out-interface wlan0 -j ACCEPT\n",
    ));
    let r = input_rules(&rs);
    assert_eq!(
        r[0].matches,
        vec![
            eq(Field::IpSaddr, net([10, 0, 0, 0], 8)),
            eq(Field::IpDaddr, net([192, 168, 1, 7], 32)),
            eq(Field::IpProtocol, TCP),
        ]
    );
    assert_eq!(
        r[1].matches,
        vec![
            // A dotted netmask becomes a length, and the host bits go, as iptables does.
            ne(Field::IpSaddr, net([10, 1, 0, 0], 16)),
            ne(Field::IpDaddr, net([172, 16, 0, 0], 12)),
            ne(Field::IpProtocol, UDP),
        ]
    );
    assert_eq!(r[2].matches, vec![eq(Field::IpProtocol, Value::Int(1))]);
    assert_eq!(r[3].matches, vec![eq(Field::IpProtocol, Value::Int(47))]);
    assert!(r[4].matches.is_empty(), "-p all matches any protocol");
    assert_eq!(
        r[5].matches,
        vec![eq(Field::Iifname, Value::Name("eth*".into()))]
    );
    assert_eq!(
        r[6].matches,
        vec![ne(Field::Iifname, Value::Name("lo".into()))]
    );
    assert_eq!(
        r[7].matches,
        vec![Match {
            field: Field::IpSaddr,
            op: Op::Eq,
            rhs: Rhs::Values(vec![net([10, 0, 0, 1], 32), net([10, 0, 0, 2], 32)]),
            more: Vec::new(),
            var: None,
        }]
    );
    let fwd = &rs.tables[0].chains[1].rules[0];
    assert_eq!(
        fwd.matches,
        vec![
            eq(Field::Iifname, Value::Name("ppp0".into())),
            ne(Field::Oifname, Value::Name("*".into())),
        ]
    );
    let out = &rs.tables[0].chains[2].rules[0];
    assert_eq!(
        out.matches,
        vec![
            eq(Field::IpSaddr, net([10, 9, 9, 9], 32)),
            eq(Field::IpProtocol, UDP),
            eq(Field::Oifname, Value::Name("wlan0".into())),
        ]
    );
}

#[test]
fn ports_multiport_flags_and_icmp() {
    let rs = ipt(&filter(
        "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n\
         -A INPUT -p udp -m udp --sport 1000:2000 ! --dport 53 -j ACCEPT\n\
         -A INPUT -p tcp --dport 1024: -j ACCEPT\n\
         -A INPUT -p tcp -m tcp --sport :1023 --dport https -j ACCEPT\n\
         -A INPUT -p tcp -m multiport --dports 80,443,8000:8080 -j ACCEPT\n\
         -A INPUT -p udp -m multiport ! --sports 53,123 -j ACCEPT\n\
         -A INPUT -p sctp -m multiport --dports 9 -j ACCEPT\n\
         -A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j ACCEPT\n\
         -A INPUT -p tcp -m tcp ! --tcp-flags ALL NONE -j ACCEPT\n\
         -A INPUT -p tcp --syn -j ACCEPT\n\
         -A INPUT -p tcp -m tcp ! --syn -j DROP\n\
         -A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT\n\
         -A INPUT -p icmp -m icmp ! --icmp-type echo-reply -j ACCEPT\n\
         -A INPUT -p icmp --icmp-type any -j ACCEPT\n",
    ));
    let r = input_rules(&rs);
    let m = |i: usize| r[i].matches[1..].to_vec();
    assert_eq!(m(0), vec![eq(Field::Dport(L4::Tcp), Value::Int(22))]);
    assert_eq!(
        m(1),
        vec![
            eq(Field::Sport(L4::Udp), Value::IntRange(1000, 2000)),
            ne(Field::Dport(L4::Udp), Value::Int(53)),
        ]
    );
    assert_eq!(
        m(2),
        vec![eq(Field::Dport(L4::Tcp), Value::IntRange(1024, 65535))]
    );
    assert_eq!(
        m(3),
        vec![
            eq(Field::Sport(L4::Tcp), Value::IntRange(0, 1023)),
            eq(Field::Dport(L4::Tcp), Value::Int(443)),
        ]
    );
    assert_eq!(
        m(4),
        vec![Match {
            field: Field::Dport(L4::Tcp),
            op: Op::Eq,
            rhs: Rhs::Values(vec![
                Value::Int(80),
                Value::Int(443),
                Value::IntRange(8000, 8080)
            ]),
            more: Vec::new(),
            var: None,
        }]
    );
    assert_eq!(
        m(5),
        vec![Match {
            field: Field::Sport(L4::Udp),
            op: Op::Ne,
            rhs: Rhs::Values(vec![Value::Int(53), Value::Int(123)]),
            more: Vec::new(),
            var: None,
        }]
    );
    assert_eq!(m(6), vec![eq(Field::Dport(L4::Th), Value::Int(9))]);
    let flags = |op, mask, value| Match {
        field: Field::TcpFlags,
        op,
        rhs: Rhs::Masked { mask, value },
        more: Vec::new(),
        var: None,
    };
    assert_eq!(m(7), vec![flags(Op::Eq, 0x17, 0x02)]);
    assert_eq!(m(8), vec![flags(Op::Ne, 0x3f, 0x00)]);
    assert_eq!(m(9), vec![flags(Op::Eq, 0x17, 0x02)], "--syn");
    assert_eq!(m(10), vec![flags(Op::Ne, 0x17, 0x02)]);
    assert_eq!(m(11), vec![eq(Field::IcmpType, Value::Int(8))]);
    assert_eq!(m(12), vec![ne(Field::IcmpType, Value::Int(0))]);
    assert!(m(13).is_empty(), "--icmp-type any is any ICMP packet");
}

#[test]
fn states_comments_and_targets() {
    let rs = ipt(&filter(
        "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
         -A INPUT -m state --state INVALID -j DROP\n\
         -A INPUT -m conntrack ! --ctstate NEW,UNTRACKED -j ACCEPT\n\
         -A INPUT -p tcp -m tcp --dport 22 -m comment --comment \"ssh \\\"admins\\\" only\" -j custom\n\
         -A INPUT -p tcp -j REJECT --reject-with tcp-reset\n\
         -A INPUT -j REJECT\n\
         -A INPUT -j LOG --log-prefix \"in: \" --log-level 4 --log-uid\n\
         -A INPUT -j LOG\n\
         -A INPUT -g custom\n\
         -A INPUT -s 10.0.0.0/8\n\
         [5:300] -A custom -j DROP\n",
    ));
    let r = input_rules(&rs);
    let states = |op, bits: u8| Match {
        field: Field::CtState,
        op,
        rhs: Rhs::AnyBits(bits as u64),
        more: Vec::new(),
        var: None,
    };
    assert_eq!(
        r[0].matches,
        vec![states(Op::Eq, ct::RELATED | ct::ESTABLISHED)]
    );
    assert_eq!(r[0].verdict, Some(Verdict::Accept));
    assert_eq!(r[1].matches, vec![states(Op::Eq, ct::INVALID)]);
    assert_eq!(r[1].verdict, Some(Verdict::Drop));
    assert_eq!(r[2].matches, vec![states(Op::Ne, ct::NEW | ct::UNTRACKED)]);
    assert_eq!(r[3].comment.as_deref(), Some("ssh \"admins\" only"));
    assert_eq!(r[3].verdict, Some(Verdict::Jump("custom".into())));
    assert_eq!(r[4].verdict, Some(Verdict::Reject));
    assert_eq!(r[5].verdict, Some(Verdict::Reject));
    assert_eq!((r[6].log.as_deref(), &r[6].verdict), (Some("in: "), &None));
    assert_eq!((r[7].log.as_deref(), &r[7].verdict), (Some(""), &None));
    assert_eq!(r[8].verdict, Some(Verdict::Goto("custom".into())));
    assert_eq!(r[9].verdict, None, "a rule without a target only counts");
    let custom = &rs.tables[0].chains[3].rules;
    assert_eq!(custom[0].verdict, Some(Verdict::Drop));
    assert_eq!(custom[0].origin.text, "[5:300] -A custom -j DROP");
}

#[test]
fn every_table_loads_nat_shown_raw_simulated() {
    let src = "# Generated by iptables-save v1.8.9\n*nat\n:PREROUTING ACCEPT [0:0]\n\
               :POSTROUTING ACCEPT [0:0]\n:DOCKER - [0:0]\n\
               -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE\n\
               -A DOCKER -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80\nCOMMIT\n\
               *raw\n:PREROUTING DROP [0:0]\n-A PREROUTING -p udp --dport 53 -j CT --notrack\nCOMMIT\n"
        .to_string()
        + &filter("-A INPUT -j ACCEPT\n");
    let rs = ipt(&src);
    let names: Vec<&str> = rs.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["nat", "raw", "filter"]);
    let nat = &rs.tables[0];
    let post = nat.chain("POSTROUTING").unwrap();
    let b = post.base.as_ref().unwrap();
    assert_eq!(
        (b.kind, b.hook, b.priority),
        (ChainType::Nat, Hook::Postrouting, 100)
    );
    assert_eq!(
        post.rules[0].actions,
        vec![Action::Nat("masquerade".into())]
    );
    assert_eq!(
        nat.chain("DOCKER").unwrap().rules[0].actions,
        vec![Action::Nat("dnat ip to 172.17.0.2:80".into())]
    );
    let raw = rs.tables[1].chain("PREROUTING").unwrap();
    let b = raw.base.as_ref().unwrap();
    assert_eq!(
        (b.kind, b.priority, b.policy),
        (ChainType::Filter, -300, Policy::Drop)
    );
    assert_eq!(raw.rules[0].actions, vec![Action::Notrack]);
    assert_eq!(rs.tables[2].chains[0].rules[0].origin.line, 18);
}

#[test]
fn errors_name_line_column_and_construct() {
    // An error, or for a construct outside what packetlab simulates, the rule loaded as
    // unsupported (the file loads): both name the line and column.
    let rule_err = |rule: &str| match parse(&filter(&format!("{rule}\n")), "t.rules") {
        Err(e) => e.to_string(),
        Ok(rs) => match rs.rules().find_map(|(_, r)| r.unsupported.clone()) {
            Some((col, what)) => format!("t.rules:6:{col}: unsupported: {what}"),
            None => "loaded".into(),
        },
    };
    let cases: &[(&str, &str)] = &[
        (
            "-A INPUT -p icmp --icmp-type 3/300 -j ACCEPT",
            "t.rules:6:30: unknown ICMP type '3/300'",
        ),
        (
            "-A INPUT -m owner --uid-owner 0 -j ACCEPT",
            "t.rules:6:13: unsupported: match '-m owner'",
        ),
        (
            "-A INPUT -p tcp -m multiport --ports 22,80 -j ACCEPT",
            "t.rules:6:30: unsupported: '--ports' (source or destination port): use --sports or --dports",
        ),
        (
            "-A INPUT -p tcp --tcp-option 8 -j DROP",
            "t.rules:6:17: unsupported: '--tcp-option' of -m tcp",
        ),
        (
            "-A INPUT -m conntrack --ctstate NEW,DNAT -j ACCEPT",
            "t.rules:6:33: unsupported: states mixed with SNAT/DNAT in one --ctstate",
        ),
        (
            "-A INPUT -m state --state NEW,BOGUS -j ACCEPT",
            "t.rules:6:31: unknown state 'BOGUS'",
        ),
        (
            "-A INPUT -j TOS --set-tos 0x10",
            "t.rules:6:13: unsupported: target 'TOS'",
        ),
        (
            "-A INPUT -j nowhere",
            "t.rules:6:13: chain 'nowhere' is not declared (':nowhere - [0:0]')",
        ),
        (
            "-A nowhere -j ACCEPT",
            "t.rules:6:4: chain 'nowhere' is not declared (':nowhere - [0:0]')",
        ),
        (
            "-A INPUT -j FORWARD",
            "t.rules:6:13: cannot jump to the built-in chain FORWARD",
        ),
        (
            "-A INPUT -s 10.0.0.300 -j DROP",
            "t.rules:6:13: '10.0.0.300' is not an IPv4 address or network",
        ),
        (
            "-A INPUT -s 10.0.0.1,2001:db8::1 -d 10.0.0.2 -j DROP",
            "t.rules:6:22: '2001:db8::1' is not an IPv4 address or network",
        ),
        (
            "-A INPUT -p tcp --dport 70000 -j DROP",
            "t.rules:6:25: '70000' is not a port or range",
        ),
        (
            "-A INPUT -p tcp --dport 2000:1000 -j DROP",
            "t.rules:6:25: '2000:1000' is not a port or range",
        ),
        (
            "-A INPUT -p tcp --tcp-flags SYN,BOGUS SYN -j DROP",
            "t.rules:6:33: unknown TCP flag 'BOGUS'",
        ),
        (
            "-A INPUT -m tcp --dport 22 -j ACCEPT",
            "t.rules:6:13: -m tcp needs -p tcp",
        ),
        (
            "-A INPUT --dport 22 -j ACCEPT",
            "t.rules:6:10: unsupported: option '--dport' of no loaded match",
        ),
        (
            "-A INPUT -p udp -m multiport --dports 1,2 --syn -j ACCEPT",
            "t.rules:6:43: unsupported: option '--syn' of no loaded match",
        ),
        (
            "-A INPUT -m multiport --dports 1,2 -j ACCEPT",
            "t.rules:6:13: -m multiport needs -p tcp, udp, udplite, sctp or dccp",
        ),
        (
            "-A INPUT -p tcp -j REJECT --reject-with tcp-fin",
            "t.rules:6:41: unknown reject type 'tcp-fin'",
        ),
        (
            "-A INPUT -j REJECT --reject-with tcp-reset",
            "t.rules:6:34: '--reject-with tcp-reset' needs -p tcp",
        ),
        (
            "-A INPUT -j ACCEPT --log-prefix x",
            "t.rules:6:20: unsupported: option '--log-prefix' of no loaded match (nor of target ACCEPT)",
        ),
        (
            "-A INPUT -j LOG --log-bogus",
            "t.rules:6:17: unsupported: LOG option '--log-bogus'",
        ),
        (
            "-A INPUT -p foo -j DROP",
            "t.rules:6:13: unknown protocol 'foo'",
        ),
        (
            "-A INPUT -p tcp -p udp -j DROP",
            "t.rules:6:17: -p given twice",
        ),
        ("-A INPUT ! -j DROP", "t.rules:6:12: '-j' cannot be negated"),
        ("-A INPUT -j DROP !", "t.rules:6:18: '!' negates nothing"),
        ("-A INPUT -j", "t.rules:6:13: expected a target"),
        (
            "-A INPUT -o eth0 -j DROP",
            "t.rules:6:10: -o cannot be used in INPUT (packets there have no output interface)",
        ),
        (
            "-A OUTPUT -i eth0 -j DROP",
            "t.rules:6:11: -i cannot be used in OUTPUT (packets there have no input interface)",
        ),
        ("-A INPUT -4 -j DROP", "t.rules:6:10: unsupported: '-4'"),
        // A misspelt target or option is an error with the nearest one, not a skipped rule.
        (
            "-A INPUT -j ACCPET",
            "t.rules:6:13: unknown target 'ACCPET' (did you mean 'ACCEPT'?)",
        ),
        (
            "-A INPUT -j Accept",
            "t.rules:6:13: chain 'Accept' is not declared (':Accept - [0:0]') (did you mean 'ACCEPT'?)",
        ),
        (
            "-A INPUT -p tcp --dprot 22 -j ACCEPT",
            "t.rules:6:17: unknown option '--dprot' (did you mean '--dport'?)",
        ),
        (
            "-A INPUT -m conntrack --cstate NEW -j ACCEPT",
            "t.rules:6:23: unknown option '--cstate' (did you mean '--ctstate'?)",
        ),
        ("-A INPUT -z -j DROP", "t.rules:6:10: unknown option '-z'"),
        (
            "-A INPUT -m comment --comment \"open -j DROP",
            "t.rules:6:31: unterminated quoted string",
        ),
        (
            "-A INPUT -j ACCEPT -j DROP",
            "t.rules:6:20: a second target",
        ),
    ];
    let mut wrong = Vec::new();
    for (rule, want) in cases {
        let got = rule_err(rule);
        if got != *want {
            wrong.push(format!("{rule}\n   got: {got}\n  want: {want}"));
        }
    }
    let whole: &[(&str, &str)] = &[
        (
            ":INPUT ACCEPT [0:0]\n",
            "t.rules:1:1: expected '*TABLE' (every line but comments belongs to a table)",
        ),
        (
            "*filter\n:INPUT ACCEPT [0:0]\n",
            "t.rules:2:1: table 'filter' (line 1) has no COMMIT",
        ),
        (
            "*filter\n*nat\nCOMMIT\n",
            "t.rules:2:1: table 'filter' (line 1) has no COMMIT",
        ),
        ("*broute\nCOMMIT\n", "t.rules:1:2: unknown table 'broute'"),
        (
            "*filter\n:INPUT REJECT [0:0]\nCOMMIT\n",
            "t.rules:2:8: a built-in chain's policy is ACCEPT or DROP, not 'REJECT'",
        ),
        (
            "*filter\n:mine DROP [0:0]\nCOMMIT\n",
            "t.rules:2:7: a user chain's policy is '-', not 'DROP'",
        ),
        (
            "*filter\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n",
            "t.rules:2:2: the filter table has no chain PREROUTING",
        ),
        (
            "*filter\n:INPUT ACCEPT [0:0]\n:INPUT DROP [0:0]\nCOMMIT\n",
            "t.rules:3:2: chain 'INPUT' declared twice",
        ),
        (
            "*filter\n:INPUT ACCEPT [x]\nCOMMIT\n",
            "t.rules:2:15: expected counters '[packets:bytes]'",
        ),
        (
            "*filter\nCOMMIT\n*filter\nCOMMIT\n",
            "t.rules:3:1: a second '*filter' table",
        ),
        (
            "*filter\n-D INPUT 1\nCOMMIT\n",
            "t.rules:2:1: unsupported: command '-D' (iptables-save appends rules with -A)",
        ),
        (
            "*filter\nflush\nCOMMIT\n",
            "t.rules:2:1: expected ':CHAIN', a rule ('-A CHAIN …') or COMMIT, not 'flush'",
        ),
    ];
    for (src, want) in whole {
        let got = ipt_err(src);
        if got != *want {
            wrong.push(format!("{src:?}\n   got: {got}\n  want: {want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_format_is_told_by_the_first_line() {
    assert!(looks_like(
        "# Generated by iptables-save v1.8.9\n*filter\nCOMMIT\n"
    ));
    assert!(looks_like("\n\n*filter\n"));
    assert!(looks_like(":INPUT ACCEPT [0:0]\n"));
    assert!(!looks_like("# a comment\ntable inet filter {\n}\n"));
    assert!(!looks_like("flush ruleset\n"));
    assert!(!looks_like("add table ip filter\n"));
    assert!(!looks_like("# only comments\n"));
}

/// A packet for the evaluator, from a few fields.
fn view(
    src: [u8; 4],
    l4: u8,
    dport: u16,
    flags: u8,
    ct: u8,
    iif: &'static str,
) -> PacketView<'static> {
    PacketView {
        v6: false,
        src: IpAddr::V4(Ipv4Addr::from(src)),
        dst: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2)),
        l4: Some(l4),
        sport: (l4 != 1).then_some(40000),
        dport: (l4 != 1).then_some(dport),
        tcp_flags: (l4 == 6).then_some(flags),
        icmp_type: (l4 == 1).then_some(8),
        icmpv6_type: None,
        iif: Some(iif),
        oif: Some(iif),
        ct,
        len: 60,
        extra: Default::default(),
        raw: Default::default(),
    }
}

#[test]
fn imported_rules_judge_as_iptables_would() {
    let rs = ipt(&filter(
        "-A INPUT -i lo -j ACCEPT\n\
         -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
         -A INPUT -p tcp -m tcp ! --syn -m conntrack --ctstate NEW -j DROP\n\
         -A INPUT -p tcp -m tcp --dport 22 -j custom\n\
         -A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT\n\
         -A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT\n\
         -A INPUT -j REJECT --reject-with icmp-port-unreachable\n\
         -A custom -s 192.168.1.0/24 -j ACCEPT\n\
         -A custom -j LOG --log-prefix \"ssh: \"\n\
         -A custom -j DROP\n",
    ));
    let v = |p| evaluate(&rs, &[Hook::Input], &p, false).verdict;
    let lan = [192, 168, 1, 9];
    let far = [203, 0, 113, 5];
    assert_eq!(v(view(far, 6, 443, 0x02, ct::NEW, "eth0")), Final::Accept);
    assert_eq!(
        v(view(far, 6, 443, 0x10, ct::NEW, "eth0")),
        Final::Drop,
        "not a SYN"
    );
    assert_eq!(
        v(view(far, 6, 443, 0x10, ct::ESTABLISHED, "eth0")),
        Final::Accept
    );
    assert_eq!(v(view(lan, 6, 22, 0x02, ct::NEW, "eth0")), Final::Accept);
    assert_eq!(v(view(far, 6, 22, 0x02, ct::NEW, "eth0")), Final::Drop);
    assert_eq!(v(view(far, 17, 53, 0, ct::NEW, "eth0")), Final::Reject);
    assert_eq!(v(view(far, 17, 53, 0, ct::NEW, "lo")), Final::Accept);
    assert_eq!(v(view(far, 1, 0, 0, ct::NEW, "eth0")), Final::Accept);
    // The LOG rule counts the packet and lets evaluation go on.
    let o = evaluate(
        &rs,
        &[Hook::Input],
        &view(far, 6, 22, 0x02, ct::NEW, "eth0"),
        false,
    );
    let custom: Vec<u32> = o
        .hits
        .iter()
        .filter(|h| h.chain == 3)
        .map(|h| h.rule)
        .collect();
    assert_eq!(custom, [1, 2]);
}

/// nft forms that `iptables-restore-translate` writes.
#[test]
fn nft_reads_what_iptables_restore_translate_writes() {
    let rs = nft_ok(
        "# Translated by iptables-restore-translate v1.8.9\n\
         add table ip filter\n\
         add chain ip filter INPUT { type filter hook input priority 0; policy drop; }\n\
         add chain ip filter SSH\n\
         add rule ip filter INPUT iifname \"lo\" counter accept\n\
         add rule ip filter INPUT ct state ! invalid,new counter accept\n\
         add rule ip filter INPUT tcp flags syn / fin,syn,rst,ack counter log prefix \"syn: \"\n\
         add rule ip filter INPUT tcp flags != syn / fin,syn,rst,ack counter drop\n\
         add rule ip filter INPUT tcp flags 0x0 / fin,syn,rst,psh,ack,urg counter drop\n\
         add rule ip filter INPUT tcp dport 22 counter jump SSH\n\
         add rule ip filter INPUT counter reject with icmp type host-prohibited\n\
         add rule ip filter SSH counter return comment \"back\"\n\
         add rule ip filter SSH counter log level debug flags all\n\
         add rule ip filter SSH ip protocol tcp counter log prefix \"r: \" level info flags tcp sequence,options\n\
         insert rule ip filter SSH ip saddr 10.0.0.0/8 counter accept\n",
    );
    let t = &rs.tables[0];
    assert_eq!((t.family, t.name.as_str()), (Family::Ip, "filter"));
    assert_eq!(t.chains.len(), 2);
    assert_eq!(t.chains[0].base.as_ref().unwrap().policy, Policy::Drop);
    let r = &t.chains[0].rules;
    assert_eq!(r[0].origin.line, 5);
    assert_eq!(r[0].origin.text, "iifname \"lo\" counter accept");
    assert_eq!(
        r[1].matches,
        vec![Match {
            field: Field::CtState,
            op: Op::Ne,
            rhs: Rhs::AnyBits((ct::INVALID | ct::NEW) as u64),
            more: Vec::new(),
            var: None,
        }]
    );
    let flags = |op, mask, value| Match {
        field: Field::TcpFlags,
        op,
        rhs: Rhs::Masked { mask, value },
        more: Vec::new(),
        var: None,
    };
    assert_eq!(r[2].matches, vec![flags(Op::Eq, 0x17, 0x02)]);
    assert_eq!(r[2].log.as_deref(), Some("syn: "));
    assert_eq!(r[3].matches, vec![flags(Op::Ne, 0x17, 0x02)]);
    assert_eq!(r[4].matches, vec![flags(Op::Eq, 0x3f, 0x00)]);
    assert_eq!(r[5].verdict, Some(Verdict::Jump("SSH".into())));
    assert_eq!(r[6].verdict, Some(Verdict::Reject));
    let ssh = &t.chains[1].rules;
    assert_eq!(ssh[0].verdict, Some(Verdict::Accept), "insert prepends");
    assert_eq!(ssh[1].comment.as_deref(), Some("back"));
    assert_eq!((ssh[2].log.as_deref(), &ssh[2].verdict), (Some(""), &None));
    assert_eq!(ssh[3].log.as_deref(), Some("r: "));

    let e = nft::parse("add rule ip filter INPUT accept\n", "t.nft").unwrap_err();
    assert_eq!(e.to_string(), "t.nft:1:10: no table 'ip filter'");
    let e = nft::parse("add table ip f\nadd rule ip f nope accept\n", "t.nft").unwrap_err();
    assert_eq!(e.to_string(), "t.nft:2:15: no chain 'nope' in this table");
    let e = nft::parse("add table ip f\nadd flowtable ip f ft\n", "t.nft").unwrap_err();
    assert_eq!(e.to_string(), "t.nft:2:5: unknown command 'add flowtable'");
}

const EVERYTHING: &str = include_str!("../../../tests/data/rulesets/every-construct.nft");

#[test]
fn saving_as_nft_and_reading_back_keeps_the_rules() {
    let rs = nft_ok(EVERYTHING);
    let saved = save::to_nft(&rs);
    let back = nft_ok(&saved);
    assert_eq!(semantics(&back), semantics(&rs), "{saved}");
    // Saving is stable: the saved text saves to itself.
    assert_eq!(save::to_nft(&back), saved);

    let ipt_rs = ipt(&filter(
        "-A INPUT -i eth+ -s 10.0.0.0/8 -p tcp -m tcp --sport 1:1023 --dport 22 --tcp-flags SYN,ACK SYN -j ACCEPT\n\
         -A INPUT -p udp -m multiport --dports 53,67:68 -m conntrack ! --ctstate INVALID -j custom\n\
         -A INPUT -p icmp -m icmp --icmp-type 8 -m comment --comment \"a \\\"quoted\\\" ping\" -j ACCEPT\n\
         -A INPUT -m state --state NEW -j LOG --log-prefix \"new: \"\n\
         -A INPUT -p tcp -j REJECT --reject-with tcp-reset\n\
         -A FORWARD ! -i ppp+ -o eth1 -g custom\n\
         -A custom -j RETURN\n",
    ));
    let saved = save::to_nft(&ipt_rs);
    let back = nft_ok(&saved);
    let mut want = semantics(&ipt_rs);
    // nft strings cannot hold `"`.
    want.tables[0].chains[0].rules[2].comment = Some("a 'quoted' ping".into());
    assert_eq!(semantics(&back), want, "{saved}");
    assert!(
        saved.contains("        iifname \"eth*\" ip saddr 10.0.0.0/8 ip protocol tcp tcp sport 1-1023 tcp dport 22 tcp flags & (syn|ack) == syn counter accept\n"),
        "{saved}"
    );
}

#[test]
fn disabled_rules_survive_saving() {
    let mut rs = nft_ok(EVERYTHING);
    let ids: Vec<RuleId> = rs.rules().map(|(id, _)| id).collect();
    for id in [ids[1], ids[7], ids[ids.len() - 1]] {
        rs.rule_mut(id).unwrap().enabled = false;
    }
    let saved = save::to_nft(&rs);
    assert!(
        saved.contains(
            "\n        # disabled: iifname \"eth*\" ct state established,related accept\n"
        ),
        "{saved}"
    );
    let back = nft_ok(&saved);
    assert_eq!(semantics(&back), semantics(&rs));
    let off: Vec<RuleId> = back
        .rules()
        .filter(|(_, r)| !r.enabled)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(off, [ids[1], ids[7], ids[ids.len() - 1]]);
    // The disabled rule's text is the rule, as for any rule.
    assert_eq!(
        back.rule(ids[1]).unwrap().origin.text,
        "iifname \"eth*\" ct state established,related accept"
    );
}

#[test]
fn comments_that_only_look_disabled_stay_comments() {
    let rs = nft_ok(
        "# disabled: not a rule at all\n\
         table ip t {\n\
             # disabled: because of the outage\n\
             chain c {\n\
                 # disabled: for now, see ticket 12\n\
                 # disabled: tcp dport 22 accept\n\
                 tcp dport 80 accept # disabled: udp dport 53 accept\n\
                 # disabled: tcp dport 23 accept; udp dport 1 accept\n\
             }\n\
         }\n",
    );
    let rules = &rs.tables[0].chains[0].rules;
    assert_eq!(rules.len(), 2);
    assert!(!rules[0].enabled);
    assert_eq!(rules[0].origin.text, "tcp dport 22 accept");
    assert!(rules[1].enabled);
}

#[test]
fn short_ipv4_forms_read_as_libxtables_reads_them() {
    // Each checked with iptables-restore then iptables-save in a namespace.
    let rs = ipt(&filter(
        "-A INPUT -s 172.16.0/24 -j DROP\n\
         -A INPUT -s 10/8 -j DROP\n\
         -A INPUT -s 127.1 -j DROP\n\
         -A INPUT -s 0x7f.1 -j DROP\n\
         -A INPUT -s 010.1.2.3 -j DROP\n\
         -A INPUT -d 192.168.1.5/255.255.255.0 -j DROP\n",
    ));
    let got: Vec<&Rhs> = input_rules(&rs).iter().map(|r| &r.matches[0].rhs).collect();
    let want = [
        net([172, 16, 0, 0], 24),
        net([10, 0, 0, 0], 8),
        net([127, 1, 0, 0], 32),
        net([127, 1, 0, 0], 32),
        net([8, 1, 2, 3], 32),
        net([192, 168, 1, 0], 24),
    ];
    for (g, w) in got.iter().zip(want) {
        assert_eq!(**g, Rhs::Values(vec![w]));
    }
    assert!(ipt_err(&filter("-A INPUT -s 10.256 -j DROP\n")).contains("not an IPv4"));
    assert!(ipt_err(&filter("-A INPUT -s 1.2.3.4.5 -j DROP\n")).contains("not an IPv4"));
}

#[test]
fn fragments_dscp_ecn_and_frag_modules() {
    let rs = ipt(&filter(
        "-A INPUT -f -j DROP\n\
         -A INPUT -p tcp ! -f -m dscp --dscp 0x2e -j ACCEPT\n\
         -A INPUT -m dscp --dscp-class AF41 -j ACCEPT\n\
         -A INPUT -m ecn --ecn-ip-ect 3 -j DROP\n\
         -A INPUT -p tcp -m ecn --ecn-tcp-ece -j DROP\n",
    ));
    let r = input_rules(&rs);
    assert_eq!(
        r[0].matches[0],
        Match::new(
            Field::Hdr(HdrField::IpFragOff),
            Op::Ne,
            Rhs::Masked {
                mask: 0x1fff,
                value: 0
            }
        )
    );
    assert_eq!(r[1].matches[1].op, Op::Eq);
    assert_eq!(
        r[1].matches[2],
        eq(Field::Hdr(HdrField::IpDscp), Value::Int(46))
    );
    assert_eq!(
        r[2].matches[0],
        eq(Field::Hdr(HdrField::IpDscp), Value::Int(0x22))
    );
    assert_eq!(
        r[3].matches[0],
        eq(Field::Hdr(HdrField::IpEcn), Value::Int(3))
    );
    assert_eq!(r[4].matches[1].rhs, Rhs::AnyBits(0x40));
    // What a packet gets: an unfragmented TCP packet with DSCP EF is accepted by line 7.
    let mut p = view([10, 0, 0, 9], 6, 22, 0x10, ct::NEW, "eth0");
    let mut ip = crate::decode::IpHdr {
        tos: 46 << 2,
        ..Default::default()
    };
    p.extra.ip = Some(ip);
    let o = evaluate(&rs, &[Hook::Input], &p, false);
    assert_eq!(
        (o.verdict, o.rule.map(|id| id.rule)),
        (Final::Accept, Some(1))
    );
    // A later fragment's header (seen alone) is dropped by `-f`.
    ip.frag_off = 0x00b9;
    p.extra.ip = Some(ip);
    let o = evaluate(&rs, &[Hook::Input], &p, false);
    assert_eq!(
        (o.verdict, o.rule.map(|id| id.rule)),
        (Final::Drop, Some(0))
    );
    // Saved as nft and read back, the same rules.
    let saved = save::to_nft(&rs);
    assert!(
        saved.contains("ip frag-off & 0x1fff != 0 counter drop"),
        "{saved}"
    );
    assert_eq!(semantics(&nft_ok(&saved)), semantics(&rs), "{saved}");

    let rs6 = parse(
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m frag --fragid 5:9 --fragmore -j DROP\n\
         -A INPUT -m frag --fraglast -j DROP\nCOMMIT\n",
        "t.rules6",
    );
    // ip6tables files are told by their addresses; without any, read as IPv4, where frag
    // is still accepted by the parser (the match is IPv6-only by its fields).
    let rs6 = rs6.unwrap();
    let r = &rs6.tables[0].chains[0].rules;
    assert_eq!(
        r[0].matches[0],
        eq(
            Field::ExtField(Ext::Frag, ExtKey::Id),
            Value::IntRange(5, 9)
        )
    );
    assert_eq!(r[1].matches.len(), 2);
    let saved = save::to_nft(&rs6);
    assert!(
        saved.contains("frag id 5-9 frag more-fragments 1"),
        "{saved}"
    );
    assert_eq!(semantics(&nft_ok(&saved)), semantics(&rs6), "{saved}");
}

#[test]
fn the_time_match_judges_utc_unless_kerneltz() {
    let rs = ipt(&filter(
        "-A INPUT -m time --timestart 22:00:00 --timestop 02:00:00 --datestop 2038-01-19T03:14:07 -j DROP\n\
         -A INPUT -m time --timestart 09:00:00 --timestop 17:00:00 --weekdays Mon,Tue --kerneltz -j REJECT\n\
         -A INPUT -m time --datestart 2024-01-01T00:00:00 --datestop 2024-12-31 -j ACCEPT\n",
    ));
    let r = input_rules(&rs);
    assert_eq!(
        r[0].matches[0],
        eq(
            Field::Time(TimeKey::XtHour(false)),
            Value::IntRange(79_200, 7_200)
        )
    );
    assert_eq!(
        r[1].matches[1],
        Match::new(
            Field::Time(TimeKey::XtWeekday(true)),
            Op::Eq,
            Rhs::Values(vec![Value::Int(1), Value::Int(2)])
        )
    );
    let at = |ts_s: u64, off: i32| {
        let mut p = view([10, 0, 0, 9], 17, 53, 0, ct::NEW, "eth0");
        p.extra.ts_ns = ts_s * 1_000_000_000;
        p.extra.utc_off = off;
        let o = evaluate(&rs, &[Hook::Input], &p, false);
        o.rule.map(|id| id.rule)
    };
    // 2024-06-03, a Monday, 22:00:00 UTC: both ends of a wrapped range match in xt_time.
    let mon22 = 1_717_452_000;
    assert_eq!(at(mon22, 0), Some(0));
    assert_eq!(at(mon22 + 4 * 3600, 0), Some(0));
    // 10:00 UTC Monday: rule 2 (local time, here UTC+2 → 12:00 Monday).
    assert_eq!(at(mon22 - 12 * 3600, 7200), Some(1));
    // 08:00 UTC in a zone at -8 h is Monday 00:00 local: not 09:00-17:00; 2024: rule 3.
    assert_eq!(at(mon22 - 14 * 3600, -8 * 3600), Some(2));
    // 2025: nothing.
    assert_eq!(at(1_750_000_000 - 14 * 3600 + 7 * 3600, 0), None);
    let saved = save::to_nft(&rs);
    assert!(
        saved.contains("meta hour \"22:00:00\"-\"02:00:00\" meta time \"1970-01-01 00:00:00\"-\"2038-01-19 03:14:07\""),
        "{saved}"
    );
    assert!(saved.contains("meta day { 1, 2 }"), "{saved}");
    nft_ok(&saved);
    // nft has no day of the month: such a rule loads marked unsupported.
    let rs = ipt(&filter("-A INPUT -m time --monthdays 1 -j DROP\n"));
    let why = &input_rules(&rs)[0].unsupported.as_ref().unwrap().1;
    assert!(why.contains("--monthdays"), "{why}");
}

#[test]
fn policy_user_chain_words_after_the_dash_and_ipsec() {
    // iptables-restore reads nothing after a user chain's `-`.
    let rs = ipt("*filter\n:INPUT ACCEPT [0:0]\n:LOGGING - DROP [0:0]\n\
                  -A INPUT -s 10.0.0.0/8 -m policy --dir in --pol ipsec --proto esp -j DROP\n\
                  -A INPUT -m policy --dir in --pol none -j LOGGING\n\
                  -A LOGGING -j ACCEPT\nCOMMIT\n");
    let r = &rs.tables[0].chains[0].rules;
    assert_eq!(
        r[0].matches[1],
        Match::new(Field::Ipsec, Op::Eq, Rhs::Exists(true))
    );
    // A capture's packet carries no IPsec state: `--pol none` holds, `--pol ipsec` does not.
    let p = view([10, 0, 0, 9], 17, 53, 0, ct::NEW, "eth0");
    let o = evaluate(&rs, &[Hook::Input], &p, false);
    assert_eq!((o.verdict, o.exact), (Final::Accept, true));
    assert_eq!(o.hits.len(), 2);
    let saved = save::to_nft(&rs);
    assert!(
        saved.contains("meta secpath exists counter drop"),
        "{saved}"
    );
    assert_eq!(semantics(&nft_ok(&saved)), semantics(&rs), "{saved}");
}
