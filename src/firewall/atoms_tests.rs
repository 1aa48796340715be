//! The compiled matcher keys its cache by classes of addresses and ports (`atoms`): it must
//! still give exactly the linear scan's verdict, rule and hits, on every ruleset of the
//! project and on addresses and ports chosen at and around every interval end they name.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::atoms::{addr_key, Atoms, Proj};
use super::compile::Compiled;
use super::eval::{evaluate, PacketView};
use super::model::{ct, Hook, Rhs, Ruleset, Value};
use super::nft;

/// Interval ends of every value the ruleset names, as addresses and ports: the values where a
/// class begins or ends, where a wrong class shows.
fn edges(rs: &Ruleset) -> (Vec<IpAddr>, Vec<IpAddr>, Vec<u16>) {
    let (mut v4, mut v6, mut ports) = (Vec::new(), Vec::new(), Vec::new());
    let mut add = |v: &Value| {
        let mut stack = vec![v.clone()];
        while let Some(v) = stack.pop() {
            match v {
                Value::Prefix(IpAddr::V4(a), len) => {
                    let n = u32::from(a);
                    let host = 32 - u32::from(len.min(32));
                    let mask = if host == 32 {
                        u32::MAX
                    } else {
                        (1 << host) - 1
                    };
                    for x in [n & !mask, (n | mask), (n & !mask).wrapping_sub(1)] {
                        v4.push(IpAddr::V4(Ipv4Addr::from(x)));
                        v4.push(IpAddr::V4(Ipv4Addr::from(x.wrapping_add(1))));
                    }
                }
                Value::Prefix(IpAddr::V6(a), len) => {
                    let n = u128::from(a);
                    let host = 128 - u32::from(len.min(128));
                    let mask = if host == 128 {
                        u128::MAX
                    } else {
                        (1 << host) - 1
                    };
                    for x in [n & !mask, (n | mask), (n & !mask).wrapping_sub(1)] {
                        v6.push(IpAddr::V6(Ipv6Addr::from(x)));
                        v6.push(IpAddr::V6(Ipv6Addr::from(x.wrapping_add(1))));
                    }
                }
                Value::AddrRange(a, b) => {
                    for x in [a, b] {
                        match x {
                            IpAddr::V4(x) => v4.push(IpAddr::V4(x)),
                            IpAddr::V6(x) => v6.push(IpAddr::V6(x)),
                        }
                    }
                }
                Value::Int(n) if n < 65536 => ports.extend([
                    n as u16,
                    (n as u16).wrapping_add(1),
                    (n as u16).wrapping_sub(1),
                ]),
                Value::IntRange(a, b) if b < 65536 => {
                    for n in [a as u16, b as u16] {
                        ports.extend([n, n.wrapping_add(1), n.wrapping_sub(1)]);
                    }
                }
                Value::Concat(parts) => stack.extend(parts),
                _ => {}
            }
        }
    };
    for t in &rs.tables {
        for s in &t.sets {
            s.elements.iter().for_each(&mut add);
        }
        for c in &t.chains {
            for r in &c.rules {
                for m in &r.matches {
                    if let Rhs::Values(vs) = &m.rhs {
                        vs.iter().for_each(&mut add);
                    }
                }
                if let Some(super::model::Vmap {
                    map: super::model::MapRef::Inline(e),
                    ..
                }) = &r.vmap
                {
                    e.iter().for_each(|e| add(&e.0));
                }
            }
        }
    }
    v4.extend(
        [
            "10.0.0.1",
            "192.168.1.10",
            "127.0.0.1",
            "224.0.0.251",
            "255.255.255.255",
        ]
        .map(|a| a.parse::<IpAddr>().unwrap()),
    );
    v6.extend(["::1", "fe80::1", "ff02::fb", "2001:db8::1"].map(|a| a.parse::<IpAddr>().unwrap()));
    ports.extend([0, 22, 53, 67, 68, 80, 443, 5353, 65535]);
    (v4, v6, ports)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[(self.next() % v.len() as u64) as usize]
    }
}

fn packets(rs: &Ruleset, n: usize, seed: u64) -> Vec<PacketView<'static>> {
    let (v4, v6, ports) = edges(rs);
    let mut r = Rng(seed);
    let ifaces = [Some("eth0"), Some("lo"), Some("wg0"), None];
    (0..n)
        .map(|_| {
            let six = r.next().is_multiple_of(3);
            let addrs = if six { &v6 } else { &v4 };
            let l4 = r.pick(&[6u8, 17, 1, 58, 132]);
            let ported = matches!(l4, 6 | 17 | 132);
            PacketView {
                v6: six,
                src: r.pick(addrs),
                dst: r.pick(addrs),
                l4: Some(l4),
                sport: ported.then(|| r.pick(&ports)),
                dport: ported.then(|| r.pick(&ports)),
                tcp_flags: (l4 == 6).then(|| r.pick(&[0x02u8, 0x10, 0x12, 0x11, 0x04])),
                icmp_type: (l4 == 1).then(|| r.pick(&[0u8, 3, 8, 11])),
                icmpv6_type: (l4 == 58).then(|| r.pick(&[128u8, 129, 135, 136, 1])),
                iif: r.pick(&ifaces),
                oif: r.pick(&ifaces),
                ct: r.pick(&[ct::NEW, ct::ESTABLISHED, ct::RELATED, ct::INVALID]),
                len: 40 + (r.next() % 1460) as u32,
                extra: Default::default(),
                raw: Default::default(),
            }
        })
        .collect()
}

fn agree(rs: &Ruleset, name: &str, n: usize) -> Compiled {
    let mut compiled = Compiled::new(rs);
    let hooks: [&[Hook]; 3] = [
        &[Hook::Prerouting, Hook::Input],
        &[Hook::Output],
        &[Hook::Forward],
    ];
    for (i, p) in packets(rs, n, 0x9e37_79b9_7f4a_7c15).iter().enumerate() {
        let h = hooks[i % 3];
        let lin = evaluate(rs, h, p, false);
        let fast = compiled.evaluate(rs, h, p);
        assert_eq!(
            (lin.verdict, lin.rule, &lin.hits, lin.exact),
            (fast.verdict, fast.rule, &fast.hits, fast.exact),
            "{name}: packet {i} {p:?} at {h:?}"
        );
    }
    compiled
}

const EDGES: &str = r#"
table inet t {
    set nets { type ipv4_addr; flags interval; elements = { 10.0.0.0/8, 192.168.1.0/24, 172.16.0.5-172.16.0.9 } }
    set svc { type inet_proto . inet_service; elements = { tcp . 22, udp . 53, tcp . 8000-8080 } }
    set pair { type ipv4_addr . inet_service; elements = { 10.1.2.3 . 443, 192.168.1.7 . 22 } }
    chain input {
        type filter hook input priority 0; policy drop;
        ip saddr 10.1.0.0/16 ip daddr != 192.168.1.0/25 tcp dport 1000-1999 drop
        ip saddr @nets tcp dport { 22, 80, 443 } accept
        ip saddr . tcp dport @pair accept
        meta l4proto . th dport @svc counter accept
        ip6 saddr 2001:db8::/33 udp sport 53 accept
        ip6 daddr fe80::/10 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
        tcp sport != 1024-65535 reject with tcp reset
        ip daddr vmap { 224.0.0.251 : accept, 127.0.0.0/8 : accept, 0.0.0.0/1 : continue }
        udp dport vmap { 5353 : accept, 60000-61000 : drop }
        iifname "wg*" ip saddr 0.0.0.0/0 accept
        fib daddr type broadcast drop
    }
    chain output {
        type filter hook output priority 0; policy accept;
        ip daddr != 10.0.0.0/8 tcp dport 25 drop
        ip6 daddr ::1 accept
    }
    chain forward {
        type filter hook forward priority 0; policy drop;
        ip saddr 10.0.0.0/8 oifname "eth0" accept
    }
}
"#;

#[test]
fn classes_keep_every_verdict_of_a_ruleset_testing_prefixes_ranges_sets_and_maps() {
    let rs = nft::parse(EDGES, "edges.nft").unwrap();
    let atoms = Atoms::of(&rs);
    assert!(matches!(atoms.src, Proj::Classes(_)), "{:?}", atoms.src);
    assert!(matches!(atoms.dst, Proj::Classes(_)), "{:?}", atoms.dst);
    assert!(matches!(atoms.dport, Proj::Classes(_)), "{:?}", atoms.dport);
    agree(&rs, "edges.nft", 60_000);
}

#[test]
fn classes_split_where_the_rules_do_and_nowhere_else() {
    let rs = nft::parse(
        "table ip t {\n  chain c {\n    type filter hook input priority 0;\n    ip saddr 10.0.0.0/8 tcp dport 20-30 accept\n  }\n}\n",
        "t.nft",
    )
    .unwrap();
    let a = Atoms::of(&rs);
    let k = |s: &str| a.src.key(addr_key(s.parse().unwrap()));
    assert_eq!(k("10.0.0.0"), k("10.255.255.255"));
    assert_ne!(k("9.255.255.255"), k("10.0.0.0"));
    assert_ne!(k("10.255.255.255"), k("11.0.0.0"));
    assert_eq!(k("9.0.0.1"), k("1.2.3.4"));
    assert_eq!(a.dport.key(20), a.dport.key(30));
    assert_ne!(a.dport.key(19), a.dport.key(20));
    assert_ne!(a.dport.key(30), a.dport.key(31));
    assert_eq!(a.sport, Proj::Ignore);
    assert_eq!(a.dst, Proj::Ignore);
}

#[test]
fn a_port_table_gives_the_classes_a_search_would() {
    let mut src =
        String::from("table ip t {\n  chain c {\n    type filter hook input priority 0;\n");
    for i in 0..100u32 {
        src.push_str(&format!(
            "    tcp dport {}-{} accept\n",
            1000 + i * 7,
            1002 + i * 7
        ));
    }
    src.push_str("    tcp dport 65535 drop\n  }\n}\n");
    let rs = nft::parse(&src, "t.nft").unwrap();
    let a = Atoms::of(&rs);
    assert!(matches!(a.dport, Proj::Table(_)));
    let starts: Vec<u128> = (0..100u128)
        .flat_map(|i| [1000 + i * 7, 1003 + i * 7])
        .chain([65535, 65536])
        .collect();
    let search = Proj::Classes(starts);
    for p in 0..=65535u128 {
        assert_eq!(a.dport.key(p), search.key(p), "port {p}");
    }
    agree(&rs, "port-table.nft", 20_000);
}

#[test]
fn every_project_ruleset_gives_the_linear_verdicts_through_classes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["tests/data/rulesets", "tests/data/loopback", "assets/rules"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
            let p = e.path();
            if p.extension()
                .is_some_and(|x| x == "nft" || x == "iptables" || x == "ip6tables")
            {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 30, "{} ruleset files", files.len());
    let mut checked = 0;
    for f in &files {
        let fw = super::Firewall::load(f, Default::default())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        agree(&fw.ruleset, &f.display().to_string(), 6_000);
        checked += 1;
    }
    assert_eq!(checked, files.len());
}

#[test]
fn a_workstation_ruleset_needs_few_signatures_for_many_flows() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let fw = super::Firewall::load(
        &root.join("assets/rules/workstation.nft"),
        Default::default(),
    )
    .unwrap();
    let rs = &fw.ruleset;
    let mut compiled = Compiled::new(rs);
    let mut r = Rng(0x1234_5678_9abc_def1);
    // 30,000 established TCP flows, every one a new address and port pair: one signature
    // per class of the few values the rules name, not one per flow.
    for i in 0..30_000u32 {
        let p = PacketView {
            v6: false,
            src: IpAddr::V4(Ipv4Addr::from(
                0x0a00_0000 | (r.next() as u32 & 0x00ff_ffff),
            )),
            dst: IpAddr::V4(Ipv4Addr::from(r.next() as u32)),
            l4: Some(6),
            sport: Some(r.next() as u16),
            dport: Some(r.next() as u16),
            tcp_flags: Some(0x10),
            icmp_type: None,
            icmpv6_type: None,
            iif: Some("eth0"),
            oif: None,
            ct: ct::ESTABLISHED,
            len: 52,
            extra: Default::default(),
            raw: Default::default(),
        };
        let lin = evaluate(rs, &[Hook::Input], &p, false);
        let fast = compiled.evaluate(rs, &[Hook::Input], &p);
        assert_eq!(
            (lin.verdict, lin.rule),
            (fast.verdict, fast.rule),
            "packet {i}"
        );
    }
    assert!(
        compiled.cache_misses < 1_000,
        "{} signatures for 30,000 flows",
        compiled.cache_misses
    );
}
