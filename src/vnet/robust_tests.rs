//! No panic on any frame: random and mangled frames into the router, every host, the NAT
//! table and the frame parsers, while the network runs; and the network still works after.

use super::frame;
use super::nat::Nat;
use super::net::Network;
use super::topology::Segment;

fn mangled(rng: &mut fastrand::Rng, base: &[u8]) -> Vec<u8> {
    let mut f = base.to_vec();
    match rng.u8(0..4) {
        0 => f.truncate(rng.usize(0..=f.len())),
        1 => {
            for _ in 0..rng.usize(1..8) {
                if !f.is_empty() {
                    let i = rng.usize(0..f.len());
                    f[i] = rng.u8(..);
                }
            }
        }
        2 => f.extend((0..rng.usize(0..64)).map(|_| rng.u8(..))),
        _ => f = (0..rng.usize(0..200)).map(|_| rng.u8(..)).collect(),
    }
    f
}

#[test]
fn random_and_mangled_frames_break_nothing() {
    let rs = crate::firewall::nft::parse(
        include_str!("../../assets/lab/nat.nft"),
        "assets/lab/nat.nft",
    )
    .unwrap();
    let mut net = Network::new(&rs, 7, 0);
    assert!(super::scenarios::install("nat", &mut net));
    net.run_until(2_000_000);
    // Real frames of the run, as the seeds of the mangling.
    let seeds: Vec<Vec<u8>> = net.take_captured().into_iter().map(|c| c.data).collect();
    assert!(seeds.len() > 50);
    let mut rng = fastrand::Rng::with_seed(42);
    let mut nat = Nat::default();
    for i in 0..20_000 {
        let base = &seeds[rng.usize(0..seeds.len())];
        let f = mangled(&mut rng, base);
        let seg = if i % 2 == 0 {
            Segment::Lan
        } else {
            Segment::Wan
        };
        net.inject(seg, f.clone());
        if f.len() > 14 {
            let mut ip = f[14..].to_vec();
            let _ = frame::V4::parse(&ip);
            let _ = frame::V4::parse_quoted(&ip);
            let _ = frame::tcp_reset_for(&ip, 1);
            let _ = frame::icmp_error_for(&ip, 3, 3, std::net::Ipv4Addr::LOCALHOST, 1);
            let _ = frame::echo_reply_for(&ip, 1);
            let _ = frame::Arp::parse(&ip);
            let _ = super::apps::IcmpNote::parse(&ip);
            nat.outbound(&mut ip, Some(std::net::Ipv4Addr::new(203, 0, 113, 1)));
            nat.inbound(&mut ip);
            frame::fix_checksums(&mut ip);
        }
        if i % 500 == 0 {
            let t = net.now() + 50_000;
            net.run_until(t);
        }
    }
    // The network goes on: the clients keep getting answers.
    let before = http_completed(&net);
    let t = net.now() + 6_000_000;
    net.run_until(t);
    assert!(http_completed(&net) > before, "{:?}", net.reports());
}

fn http_completed(net: &Network) -> u64 {
    net.reports()
        .iter()
        .filter(|r| r.app.starts_with("http"))
        .filter_map(|r| r.get("completed"))
        .sum()
}
