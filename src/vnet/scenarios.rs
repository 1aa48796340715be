//! Which programs each lab scenario runs on which host of the lab network.

use std::net::IpAddr;

use super::apps::{
    DnsClient, DnsServer, Ping, Scanner, Talk, TcpClient, TcpPlan, TcpServer, UdpClient, UdpEcho,
    MS, SEC,
};
use super::net::Network;
use super::topology::{ALICE, BOB, RESOLVER, SERVER};

/// The ports the port scan asks, and the server's listeners among them.
pub const SCAN_PORTS: [u16; 12] = [7, 9, 21, 22, 23, 25, 53, 80, 443, 3306, 8080, 8443];

fn server(port: u16) -> (IpAddr, u16) {
    (SERVER.port.v4.into(), port)
}

/// The server's services, on every scenario: echo (TCP and UDP 7), a sink (9), SSH-like (22),
/// HTTP (80); and the resolver's DNS.
fn services(net: &mut Network) {
    if let Some(s) = net.host_mut(SERVER.name) {
        s.add_app(Box::new(TcpServer::new("tcp echo", 7, Talk::Echo)));
        s.add_app(Box::new(TcpServer::new("tcp sink", 9, Talk::Sink)));
        s.add_app(Box::new(TcpServer::new("ssh", 22, Talk::Ssh)));
        s.add_app(Box::new(TcpServer::new("http", 80, Talk::Http)));
        s.add_app(Box::new(UdpEcho::new(7)));
    }
    if let Some(r) = net.host_mut(RESOLVER.name) {
        r.add_app(Box::new(DnsServer::default()));
    }
    if let Some(b) = net.host_mut(BOB.name) {
        b.add_app(Box::new(UdpEcho::new(7)));
    }
}

fn plan(label: &'static str, to: (IpAddr, u16), talk: Talk, every: u64) -> TcpPlan {
    TcpPlan {
        label,
        to,
        talk,
        every,
        timeout: 5 * SEC,
        max_open: 4,
        long: false,
        msg: 64,
    }
}

/// Puts scenario `name`'s programs on the network; `false` for an unknown name.
pub fn install(name: &str, net: &mut Network) -> bool {
    services(net);
    let mut on = |host: &str, app: Box<dyn super::apps::App>| {
        if let Some(h) = net.host_mut(host) {
            h.add_app(app);
        }
    };
    let a = ALICE.name;
    let b = BOB.name;
    match name {
        "udp-vs-tcp" => {
            on(
                a,
                Box::new(UdpClient::new("udp numbered", server(7), 50 * MS, 200)),
            );
            let mut p = plan("tcp stream", server(7), Talk::Echo, 50 * MS);
            p.long = true;
            p.msg = 200;
            on(a, Box::new(TcpClient::new(p, 0)));
        }
        "handshake" => {
            on(
                a,
                Box::new(TcpClient::new(
                    plan("tcp echo", server(7), Talk::Echo, 2 * SEC),
                    0,
                )),
            );
            on(
                b,
                Box::new(TcpClient::new(
                    plan("http", server(80), Talk::Http, 3 * SEC),
                    500 * MS,
                )),
            );
        }
        "firewall-blocks-ssh" => {
            let mut p = plan("ssh", server(22), Talk::Ssh, 2 * SEC);
            p.max_open = 3;
            on(a, Box::new(TcpClient::new(p, 0)));
            on(
                b,
                Box::new(TcpClient::new(
                    plan("http", server(80), Talk::Http, 3 * SEC),
                    700 * MS,
                )),
            );
        }
        "port-scan" => {
            on(
                a,
                Box::new(Scanner::new(
                    SERVER.port.v4.into(),
                    SCAN_PORTS.to_vec(),
                    5 * SEC,
                )),
            );
        }
        "dns" => {
            on(a, Box::new(DnsClient::new(RESOLVER.port.v4.into(), SEC)));
        }
        "nat" => {
            on(
                a,
                Box::new(TcpClient::new(
                    plan("http", server(80), Talk::Http, 2 * SEC),
                    0,
                )),
            );
            on(
                b,
                Box::new(TcpClient::new(
                    plan("http", server(80), Talk::Http, 2 * SEC),
                    SEC,
                )),
            );
            on(a, Box::new(Ping::new(SERVER.port.v4.into(), SEC, 0x0a11)));
            on(
                b,
                Box::new(DnsClient::new(RESOLVER.port.v4.into(), 2 * SEC)),
            );
        }
        "address-classes" => {
            let bob_ll = BOB.link_local_v4.map_or(BOB.port.v4, |a| a);
            on(a, Box::new(Ping::new(BOB.port.v4.into(), SEC, 0x0a01)));
            on(a, Box::new(Ping::new(bob_ll.into(), SEC, 0x0a02)));
            on(a, Box::new(Ping::new(SERVER.port.v4.into(), SEC, 0x0a03)));
            // IPv6 on the LAN: bob's unique local address and his link-local one.
            on(a, Box::new(Ping::new(BOB.port.v6.into(), SEC, 0x0a04)));
            let bob_ll6 = super::topology::link_local_v6(BOB.port.mac);
            on(a, Box::new(Ping::new(bob_ll6.into(), SEC, 0x0a05)));
            let mdns: IpAddr = std::net::Ipv4Addr::new(224, 0, 0, 251).into();
            let query = crate::lab::dns::build_query(0, "printer.local", crate::lab::dns::TYPE_A);
            on(
                a,
                Box::new(UdpClient::new("mDNS query", (mdns, 5353), SEC, 32).one_way(query)),
            );
        }
        "bulk" => {
            let mut p = plan("tcp bulk", server(9), Talk::Sink, 0);
            p.max_open = 3;
            p.msg = 1 << 30;
            on(a, Box::new(TcpClient::new(p, 0)));
            on(
                b,
                Box::new(UdpClient::new("udp stream", server(7), MS, 1000)),
            );
        }
        "port-forward" => {
            on(b, Box::new(TcpServer::new("http", 80, Talk::Http)));
            let gw: IpAddr = super::topology::GW_WAN.v4.into();
            let p = plan("http", (gw, 8080), Talk::Http, 2 * SEC);
            on(SERVER.name, Box::new(TcpClient::new(p, 0)));
        }
        _ => return false,
    }
    true
}
