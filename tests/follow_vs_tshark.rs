//! Follow stream against tshark: for TCP streams of corpus captures, the bytes
//! `--print follow --session N --format json` gives each way equal `tshark -z follow,tcp,raw,N`.

mod common;

use std::process::Command;

use serde_json::Value;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// tshark's follow output: (node 0, node 1, bytes 0→1, bytes 1→0).
fn tshark_follow(file: &std::path::Path, stream: usize) -> (String, String, Vec<u8>, Vec<u8>) {
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(file)
        .args(["-q", "-z", &format!("follow,tcp,raw,{stream}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (mut n0, mut n1, mut ab, mut ba) = (String::new(), String::new(), Vec::new(), Vec::new());
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Node 0: ") {
            n0 = n.to_string();
        } else if let Some(n) = line.strip_prefix("Node 1: ") {
            n1 = n.to_string();
        } else if let Some(h) = line.strip_prefix('\t') {
            ba.extend(unhex(h.trim()));
        } else if !line.is_empty() && line.chars().all(|c| c.is_ascii_hexdigit()) {
            ab.extend(unhex(line));
        }
    }
    (n0, n1, ab, ba)
}

fn run(args: &[&str]) -> Vec<Value> {
    let out = Command::new(common::bin()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn follow_equals_tshark_follow_raw() {
    if !common::require_tshark() {
        return;
    }
    // Every file of the project's corpus, and these of ../shared/captures when it is there.
    let shared = [
        "print-flags.pcap",
        "dns_tcp.pcap",
        "ssh.pcap",
        "bgp-4byte-asn.pcap",
        "pptp.pcap",
    ];
    let files: Vec<_> = common::all_capture_files()
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            p.parent() == Some(common::own_corpus().as_path()) || shared.contains(&name.as_ref())
        })
        .collect();
    let mut compared = 0;
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let file = file.clone();
        let f = file.to_str().unwrap();
        let sessions: Vec<Value> = run(&["-r", f, "--print", "sessions", "--format", "json"])
            .into_iter()
            .filter(|s| s["proto"] == "TCP")
            .collect();
        // tshark numbers TCP streams in the order they start, as packetlab's TCP sessions are.
        for (stream, s) in sessions.iter().enumerate() {
            let (n0, n1, t_ab, t_ba) = tshark_follow(&file, stream);
            // tshark writes an IPv6 endpoint as [addr]:port
            let ep = |addr: &str, port: &Value| match addr.contains(':') {
                true => format!("[{addr}]:{port}"),
                false => format!("{addr}:{port}"),
            };
            let a = ep(s["a_addr"].as_str().unwrap(), &s["a_port"]);
            let b = ep(s["b_addr"].as_str().unwrap(), &s["b_port"]);
            let (want_ab, want_ba) = if (n0.as_str(), n1.as_str()) == (a.as_str(), b.as_str()) {
                (t_ab, t_ba)
            } else {
                assert_eq!(
                    (n1.as_str(), n0.as_str()),
                    (a.as_str(), b.as_str()),
                    "{name} stream {stream}"
                );
                (t_ba, t_ab)
            };
            let id = s["id"].to_string();
            let chunks = run(&[
                "-r",
                f,
                "--print",
                "follow",
                "--session",
                &id,
                "--format",
                "json",
            ]);
            let mine = |d: &str| -> Vec<u8> {
                chunks
                    .iter()
                    .filter(|c| c["dir"] == d)
                    .flat_map(|c| unhex(c["hex"].as_str().unwrap()))
                    .collect()
            };
            assert_eq!(mine("ab"), want_ab, "{name} stream {stream} A→B");
            assert_eq!(mine("ba"), want_ba, "{name} stream {stream} B→A");
            println!(
                "{name} stream {stream}: {} + {} bytes equal",
                want_ab.len(),
                want_ba.len()
            );
            compared += 1;
        }
    }
    assert!(compared >= 10, "compared {compared} streams");
}
