//! The network's enforcement, node by node: a host's input reject answers with the reset the
//! kernel sends and the client is refused; a host's output drop keeps a SYN off the wire; the
//! router answers pings to itself unless its input chain drops them, and forwards either way.

use super::apps::{Ping, Talk, TcpClient, TcpPlan, SEC};
use super::net::Network;
use super::topology::{ALICE, GW_LAN, SERVER};

fn net(rules: &str) -> Network {
    let rs = crate::firewall::nft::parse(rules, "test.nft").unwrap();
    let mut n = Network::new(&rs, 3, 0);
    n.host_mut(SERVER.name)
        .unwrap()
        .add_app(Box::new(super::apps::TcpServer::new("echo", 7, Talk::Echo)));
    n
}

fn client(port: u16) -> Box<TcpClient> {
    Box::new(TcpClient::new(
        TcpPlan {
            label: "c",
            to: (SERVER.port.v4.into(), port),
            talk: Talk::Echo,
            every: SEC,
            timeout: 3 * SEC,
            max_open: 1,
            long: false,
            msg: 16,
        },
        0,
    ))
}

fn counts(n: &Network, host: &str, app: &str) -> super::apps::Report {
    n.reports()
        .into_iter()
        .find(|r| r.host == host && r.app.starts_with(app))
        .unwrap()
}

#[test]
fn a_hosts_input_reject_sends_the_reset_and_the_client_is_refused() {
    let mut n = net(
        "table inet f { chain input { type filter hook input priority 0; \
                     tcp dport 9 reject with tcp reset } }",
    );
    n.host_mut(ALICE.name).unwrap().add_app(client(9));
    n.host_mut(ALICE.name).unwrap().add_app(client(7));
    n.run_until(3 * SEC + 500_000);
    let to9 = counts(&n, "alice", "c → 203.0.113.10:9");
    assert!(to9.get("refused").unwrap() >= 3, "{to9:?}");
    assert_eq!(to9.get("established"), Some(0));
    assert!(
        counts(&n, "alice", "c → 203.0.113.10:7")
            .get("completed")
            .unwrap()
            >= 3
    );
    let server = n
        .host_counters()
        .into_iter()
        .find(|(h, _)| *h == "server")
        .unwrap()
        .1;
    assert!(server.in_rejected >= 3, "{server:?}");
    // The reset on the wire comes from the server's address to alice's port.
    let rst = n.take_captured().into_iter().find(|c| {
        let ip = &c.data[14..];
        c.data.len() >= 54 && ip[9] == 6 && ip[20 + 13] & 0x04 != 0
    });
    let rst = rst.expect("a reset on the wire");
    assert_eq!(&rst.data[14 + 12..14 + 16], &SERVER.port.v4.octets());
}

#[test]
fn a_hosts_output_drop_keeps_its_syn_off_the_wire() {
    let mut n = net(
        "table inet f { chain output { type filter hook output priority 0; \
                     tcp dport 7 drop } }",
    );
    n.host_mut(ALICE.name).unwrap().add_app(client(7));
    n.run_until(4 * SEC);
    let c = counts(&n, "alice", "c");
    assert!(c.get("timed_out").unwrap() >= 1, "{c:?}");
    let alice = n
        .host_counters()
        .into_iter()
        .find(|(h, _)| *h == "alice")
        .unwrap()
        .1;
    assert!(alice.out_dropped >= 2, "{alice:?}");
    let syns = n
        .take_captured()
        .into_iter()
        .filter(|c| c.data.len() > 34 && c.data[14 + 9] == 6)
        .count();
    assert_eq!(syns, 0, "no TCP reached a link");
}

#[test]
fn the_router_answers_pings_unless_its_input_drops_them_and_forwards_either_way() {
    for (rules, answered) in [
        (
            "table inet f { chain input { type filter hook input priority 0; } }",
            true,
        ),
        // Every node runs the ruleset: only the router has a device named lan0.
        (
            "table inet f { chain input { type filter hook input priority 0; \
             iifname \"lan0\" icmp type echo-request drop } }",
            false,
        ),
    ] {
        let mut n = net(rules);
        let a = n.host_mut(ALICE.name).unwrap();
        a.add_app(Box::new(Ping::new(GW_LAN.v4.into(), SEC, 1)));
        a.add_app(Box::new(Ping::new(SERVER.port.v4.into(), SEC, 2)));
        n.run_until(5 * SEC + 100_000);
        let gw = counts(&n, "alice", &format!("ping {}", GW_LAN.v4));
        let far = counts(&n, "alice", &format!("ping {}", SERVER.port.v4));
        assert_eq!(gw.get("replies").unwrap() >= 4, answered, "{rules}: {gw:?}");
        assert!(far.get("replies").unwrap() >= 4, "{rules}: {far:?}");
        assert_eq!(n.router_counters().dropped > 0, !answered);
    }
}
