//! Words for endpoints: what kind of address it is, and the service a well-known port is for.

use std::net::IpAddr;

use super::SessionProto;

/// The address class, as a short tag and a phrase.
pub fn addr_class(a: IpAddr) -> (&'static str, &'static str) {
    match a {
        IpAddr::V4(v) => {
            let o = v.octets();
            if v.is_loopback() {
                ("lo", "loopback")
            } else if v.is_unspecified() {
                ("any", "unspecified")
            } else if v.is_broadcast() {
                ("bcast", "broadcast")
            } else if v.is_multicast() {
                ("mcast", "multicast")
            } else if v.is_link_local() {
                ("link", "link-local")
            } else if v.is_private() {
                ("lan", "private LAN")
            } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
                ("cgnat", "carrier-grade NAT")
            } else if v.is_documentation() {
                ("doc", "documentation (TEST-NET)")
            } else {
                ("pub", "public")
            }
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            if v.is_loopback() {
                ("lo", "loopback")
            } else if v.is_unspecified() {
                ("any", "unspecified")
            } else if v.is_multicast() {
                ("mcast", "multicast")
            } else if s[0] & 0xffc0 == 0xfe80 {
                ("link", "link-local")
            } else if s[0] & 0xfe00 == 0xfc00 {
                ("lan", "private LAN (unique local)")
            } else if s[0] == 0x2001 && s[1] == 0x0db8 {
                ("doc", "documentation")
            } else if let Some(v4) = v.to_ipv4_mapped() {
                addr_class(IpAddr::V4(v4))
            } else {
                ("pub", "public")
            }
        }
    }
}

/// The service usually behind a well-known port.
pub fn port_name(proto: SessionProto, port: u16) -> Option<&'static str> {
    let tcp = proto == SessionProto::Tcp;
    let udp = proto == SessionProto::Udp;
    Some(match port {
        20 if tcp => "ftp-data",
        21 if tcp => "ftp",
        22 if tcp => "ssh",
        23 if tcp => "telnet",
        25 if tcp => "smtp",
        53 => "dns",
        67 | 68 if udp => "dhcp",
        69 if udp => "tftp",
        80 => "http",
        110 if tcp => "pop3",
        123 if udp => "ntp",
        137..=139 => "netbios",
        143 if tcp => "imap",
        161 | 162 if udp => "snmp",
        179 if tcp => "bgp",
        389 => "ldap",
        443 => "https",
        445 if tcp => "smb",
        465 | 587 if tcp => "smtps",
        514 if udp => "syslog",
        636 => "ldaps",
        853 => "dot",
        993 if tcp => "imaps",
        995 if tcp => "pop3s",
        1194 => "openvpn",
        1723 if tcp => "pptp",
        1883 if tcp => "mqtt",
        3306 if tcp => "mysql",
        3389 => "rdp",
        5353 if udp => "mdns",
        5432 if tcp => "postgres",
        6379 if tcp => "redis",
        6633 | 6653 if tcp => "openflow",
        8080 if tcp => "http-alt",
        51820 if udp => "wireguard",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_names() {
        let c = |s: &str| addr_class(s.parse().unwrap()).0;
        assert_eq!(c("127.0.0.1"), "lo");
        assert_eq!(c("192.168.1.2"), "lan");
        assert_eq!(c("10.1.2.3"), "lan");
        assert_eq!(c("169.254.1.1"), "link");
        assert_eq!(c("224.0.0.251"), "mcast");
        assert_eq!(c("8.8.8.8"), "pub");
        assert_eq!(c("::1"), "lo");
        assert_eq!(c("fe80::1"), "link");
        assert_eq!(c("fd00::1"), "lan");
        assert_eq!(c("ff02::1"), "mcast");
        assert_eq!(c("2a00:1450::1"), "pub");
        assert_eq!(port_name(SessionProto::Tcp, 80), Some("http"));
        assert_eq!(port_name(SessionProto::Udp, 53), Some("dns"));
        assert_eq!(port_name(SessionProto::Tcp, 5353), None);
    }
}
