//! The bundled demo capture (`assets/demo.pcapng`, what `packetlab` opens when live capture is
//! not permitted): small, readable, worth watching (every kind of traffic the panes show, over
//! more than ten seconds), and decoded as tshark decodes it.

mod common;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn demo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcapng")
}

fn packets() -> Vec<Value> {
    let out = Command::new(common::bin())
        .arg("-r")
        .arg(demo())
        .args(["--print", "packets", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ts(p: &Value) -> f64 {
    p["ts"].as_str().unwrap().parse().unwrap()
}

#[test]
fn demo_is_small_varied_and_watchable() {
    let size = std::fs::metadata(demo()).expect("assets/demo.pcapng").len();
    assert!(size < 200_000, "demo is {size} bytes");
    let ps = packets();
    assert!(ps.len() >= 50, "{} packets", ps.len());
    assert!(
        ps.iter().all(|p| p["error"].is_null()),
        "a malformed packet"
    );
    let span = ts(ps.last().unwrap()) - ts(&ps[0]);
    assert!((10.0..60.0).contains(&span), "spans {span} s");

    let flags = |want: u64| ps.iter().any(|p| p["tcp_flags"].as_u64() == Some(want));
    assert!(flags(0x002), "a SYN");
    assert!(flags(0x012), "a SYN+ACK");
    assert!(flags(0x014), "an RST+ACK (refused connection)");
    assert!(flags(0x011), "a FIN+ACK");
    let has = |k: &str, v: Value| ps.iter().any(|p| p[k] == v);
    assert!(has("proto", "DNS".into()) && has("dns_qname", "www.packetlab.test".into()));
    assert!(has("proto", "UDP".into()), "UDP that is not DNS");
    assert!(
        has("icmp_type", 8.into()) && has("icmp_type", 0.into()),
        "ping"
    );
    assert!(
        has("icmpv6_type", 128.into()) && has("icmpv6_type", 129.into()),
        "ping6"
    );
    assert!(has("src", "::1".into()), "IPv6");
    // Loopback only.
    for p in &ps {
        let src = p["src"].as_str().unwrap_or("127.0.0.1");
        assert!(src == "::1" || src.starts_with("127."), "{src}");
    }
}

#[test]
fn demo_decodes_as_tshark_decodes_it() {
    if !common::require_tshark() {
        return;
    }
    let conf = tempfile::tempdir().unwrap();
    let out = Command::new("tshark")
        .env("WIRESHARK_CONFIG_DIR", conf.path())
        .arg("-r")
        .arg(demo())
        .args(["-T", "fields", "-E", "separator=/t"])
        .args(["-e", "frame.time_epoch", "-e", "frame.len"])
        .args(["-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.flags"])
        .args([
            "-e",
            "tcp.srcport",
            "-e",
            "udp.srcport",
            "-e",
            "dns.qry.name",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows: Vec<Vec<String>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    let ps = packets();
    assert_eq!(rows.len(), ps.len(), "frame count");
    let s = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    for (r, p) in rows.iter().zip(&ps) {
        let n = &p["no"];
        assert_eq!(r[0], s(&p["ts"]), "frame {n} time");
        assert_eq!(r[1], s(&p["len"]), "frame {n} len");
        let src = if r[2].is_empty() { &r[3] } else { &r[2] };
        assert_eq!(*src, s(&p["src"]), "frame {n} src");
        let flags = (!r[4].is_empty())
            .then(|| u64::from_str_radix(r[4].trim_start_matches("0x"), 16).unwrap());
        assert_eq!(flags, p["tcp_flags"].as_u64(), "frame {n} tcp flags");
        let sport = if r[5].is_empty() { &r[6] } else { &r[5] };
        assert_eq!(*sport, s(&p["sport"]), "frame {n} sport");
        assert_eq!(r[7], s(&p["dns_qname"]), "frame {n} dns name");
    }
}
