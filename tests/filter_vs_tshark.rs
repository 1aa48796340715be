//! Display filters (`-Y`) against tshark's own: for every capture in `../shared/captures/`, each
//! filter of `FILTERS` (and a few built from the file's own addresses and names) must select
//! exactly the frames `tshark -r FILE -Y FILTER -T fields -e frame.number` selects.
//!
//! Deliberate differences, each explained, are listed in `EXPLAINED`; any other disagreement fails.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The same filter text for every capture: every protocol name, field, operator and construct.
const FILTERS: &[&str] = &[
    "tcp",
    "udp",
    "dns",
    "icmp",
    "icmpv6",
    "arp",
    "ip",
    "ipv6",
    "eth",
    "!tcp",
    "ip.src == 10.0.0.0/8",
    "ip.dst != 192.168.0.0/16",
    "ip.addr in {10.0.0.0..10.255.255.255, 192.168.1.1}",
    "ipv6.addr == ::1",
    "tcp.port in {80, 443, 8000..8080}",
    "tcp.port != 80",
    "tcp.flags.syn == 1 && tcp.flags.ack == 0",
    "tcp.flags.reset == 1",
    "tcp.flags == 0x12",
    "tcp.flags.push == 1 or tcp.flags.fin == 1",
    "(tcp.srcport < 1024) and not arp",
    "udp.port == 53 || icmp",
    "udp.srcport >= 1024 && udp.dstport < 1024",
    "frame.len > 100",
    "frame.len <= 60",
    "frame.cap_len lt 100",
    "frame contains \"HTTP\"",
    "dns.qry.name contains \"tcpdump\"",
    "eth.addr == ff:ff:ff:ff:ff:ff",
    "icmp.type == 8 || icmpv6.type == 128",
    "arp.opcode == 2",
    "ip.proto == 17",
];

/// (file, filter, frames) → why packetlab selects differently on purpose.
const EXPLAINED: &[(&str, &str, &[u64], &str)] = &[
    // Frames 65, 66, 68 and 69 are OpenFlow messages (packet-in / packet-out) that carry a whole
    // Ethernet frame; tshark decodes the carried frame, so its IPv4 addresses, protocol and UDP
    // header count as fields of the message's frame. packetlab does not decode application
    // payloads: a TCP packet's fields are its own.
    (
        "of13_ericsson.pcapng",
        "udp",
        &[65, 68, 69],
        "tshark decodes the frame an OpenFlow message carries",
    ),
    (
        "of13_ericsson.pcapng",
        "ip.proto == 17",
        &[65, 66, 68, 69],
        "tshark decodes the frame an OpenFlow message carries",
    ),
    (
        "of13_ericsson.pcapng",
        "ip.addr in {10.0.0.0..10.255.255.255, 192.168.1.1}",
        &[65, 66, 68, 69],
        "tshark decodes the frame an OpenFlow message carries",
    ),
    // The same frames: the carried frame's IPv4 destination (outside 192.168/16) is one more
    // occurrence of ip.dst for tshark, so `ip.dst != 192.168.0.0/16` (all not in) is false there.
    (
        "of13_ericsson.pcapng",
        "ip.dst != 192.168.0.0/16",
        &[65, 68, 69],
        "tshark decodes the frame an OpenFlow message carries",
    ),
];

/// Filters built from the file's own values: the first IPv4 and IPv6 source, Ethernet source
/// and DNS name packetlab prints (tshark then answers for them as for any filter).
fn own_filters(path: &Path) -> Vec<String> {
    let out = Command::new(common::bin())
        .args(["--print", "packets", "--format", "json", "-r"])
        .arg(path)
        .output()
        .unwrap();
    let mut first: [Option<String>; 4] = Default::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let src = v["src"].as_str().unwrap_or("");
        let cells = [
            src.contains('.').then_some(src),
            src.contains(':').then_some(src),
            v["eth_src"].as_str(),
            v["dns_qname"].as_str(),
        ];
        for (slot, cell) in first.iter_mut().zip(cells) {
            if slot.is_none() {
                *slot = cell.filter(|c| !c.is_empty()).map(str::to_string);
            }
        }
    }
    let [ip, ip6, eth, name] = first;
    let mut v = Vec::new();
    if let Some(a) = ip {
        v.push(format!("ip.addr == {a}"));
    }
    if let Some(a) = ip6 {
        v.push(format!("ipv6.addr eq {a}"));
    }
    if let Some(a) = eth {
        v.push(format!("eth.src == {a} || eth.dst == {a}"));
    }
    if let Some(n) = name.filter(|n| {
        n.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
    }) {
        v.push(format!("dns.qry.name == \"{n}\""));
    }
    v
}

/// tshark's selection: whether it read the file, and the frame numbers.
fn tshark_frames(path: &Path, filter: &str) -> (bool, BTreeSet<u64>) {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
        .output()
        .unwrap();
    let frames = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    (out.status.success(), frames)
}

/// tshark's answers for one capture, kept under the target directory between runs (tshark's
/// start-up makes each answer cost ~0.2 s): keyed by the tshark version and the file's size and
/// modification time, so a changed capture or tshark asks again.
struct TsharkCache {
    path: PathBuf,
    answers: HashMap<String, (bool, BTreeSet<u64>)>,
    dirty: bool,
}

impl TsharkCache {
    fn open(capture: &Path, version: &str) -> Self {
        let meta = std::fs::metadata(capture).unwrap();
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let name = capture.file_name().unwrap().to_string_lossy();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("filter_vs_tshark");
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{name}-{}-{mtime}-{version}.tsv", meta.len()));
        let answers = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut cells = l.split('\t');
                let (f, ok, frames) = (cells.next()?, cells.next()?, cells.next()?);
                let frames = frames.split_whitespace().map(|n| n.parse().ok());
                Some((f.to_string(), (ok == "1", frames.collect::<Option<_>>()?)))
            })
            .collect();
        TsharkCache {
            path,
            answers,
            dirty: false,
        }
    }

    fn frames(&mut self, capture: &Path, filter: &str) -> (bool, BTreeSet<u64>) {
        if let Some(a) = self.answers.get(filter) {
            return a.clone();
        }
        let a = tshark_frames(capture, filter);
        self.answers.insert(filter.to_string(), a.clone());
        self.dirty = true;
        a
    }

    fn save(&self) {
        if !self.dirty {
            return;
        }
        let text: String = self
            .answers
            .iter()
            .map(|(f, (ok, frames))| {
                let frames: Vec<String> = frames.iter().map(u64::to_string).collect();
                format!("{f}\t{}\t{}\n", *ok as u8, frames.join(" "))
            })
            .collect();
        let _ = std::fs::write(&self.path, text);
    }
}

fn tshark_version() -> String {
    let out = Command::new("tshark").arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("");
    first
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or("unknown")
        .to_string()
}

/// packetlab's selection, from the JSON and from the text output (they must agree).
fn packetlab_frames(path: &Path, filter: &str) -> Result<BTreeSet<u64>, String> {
    let run = |format: &str| {
        Command::new(common::bin())
            .args(["--print", "packets", "--format", format, "-Y", filter, "-r"])
            .arg(path)
            .output()
            .unwrap()
    };
    let json = run("json");
    if !json.status.success() {
        return Err(String::from_utf8_lossy(&json.stderr).trim().to_string());
    }
    let from_json: BTreeSet<u64> = String::from_utf8(json.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["no"].as_u64().unwrap()
        })
        .collect();
    let text = run("text");
    let from_text: BTreeSet<u64> = String::from_utf8(text.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        from_json, from_text,
        "{path:?} -Y {filter:?}: text and JSON select differently"
    );
    Ok(from_json)
}

struct FileResult {
    name: String,
    filters: usize,
    agreed: usize,
    /// Filters whose difference is explained.
    explained: usize,
    /// Filters that select at least one frame (so the comparison says something).
    nonempty: usize,
    lines: Vec<String>,
    unexplained: Vec<String>,
}

fn compare_file(
    path: &Path,
    version: &str,
    explained: &HashMap<(&str, &str), (&[u64], &str)>,
) -> FileResult {
    let mut tshark = TsharkCache::open(path, version);
    let r = compare_with(path, &mut tshark, explained);
    tshark.save();
    r
}

fn compare_with(
    path: &Path,
    tshark: &mut TsharkCache,
    explained: &HashMap<(&str, &str), (&[u64], &str)>,
) -> FileResult {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let mut r = FileResult {
        name: name.clone(),
        filters: 0,
        agreed: 0,
        explained: 0,
        nonempty: 0,
        lines: Vec::new(),
        unexplained: Vec::new(),
    };
    let (readable, frames) = tshark.frames(path, "frame");
    if !readable && frames.is_empty() {
        // A file tshark refuses: packetlab must refuse it too.
        let ours = packetlab_frames(path, "frame");
        assert!(
            ours.is_err(),
            "{name}: tshark refuses it, packetlab read it"
        );
        r.lines.push(format!("{name:40} refused by both"));
        return r;
    }
    let own = own_filters(path);
    let filters = FILTERS.iter().map(|s| s.to_string()).chain(own);
    for filter in filters {
        r.filters += 1;
        let (_, want) = tshark.frames(path, &filter);
        let got = match packetlab_frames(path, &filter) {
            Ok(g) => g,
            Err(e) => {
                r.unexplained
                    .push(format!("{name} -Y {filter:?}: packetlab failed: {e}"));
                continue;
            }
        };
        r.nonempty += !want.is_empty() as usize;
        if want == got {
            r.agreed += 1;
            continue;
        }
        let diff: BTreeSet<u64> = want.symmetric_difference(&got).copied().collect();
        let why = explained.get(&(name.as_str(), filter.as_str()));
        match why {
            Some((frames, why)) if diff.iter().eq(frames.iter()) => {
                r.explained += 1;
                r.lines.push(format!(
                    "  {name} -Y {filter:?}: frames {diff:?} differ (explained: {why})"
                ));
            }
            _ => r.unexplained.push(format!(
                "{name} -Y {filter:?}: tshark only {:?}, packetlab only {:?}",
                want.difference(&got).collect::<Vec<_>>(),
                got.difference(&want).collect::<Vec<_>>()
            )),
        }
    }
    r.lines.insert(
        0,
        format!(
            "{name:40} {:>3}/{:<3} filters agree, {} explained ({} select frames)",
            r.agreed, r.filters, r.explained, r.nonempty
        ),
    );
    r
}

#[test]
fn display_filters_select_what_tshark_selects() {
    if !common::require_tshark() {
        return;
    }
    let explained: HashMap<(&str, &str), (&[u64], &str)> = EXPLAINED
        .iter()
        .map(|(f, flt, frames, why)| ((*f, *flt), (*frames, *why)))
        .collect();
    let version = tshark_version();
    let files: Vec<PathBuf> = common::all_capture_files();
    // tshark's start-up dominates: the files are shared among a few threads.
    let queue = Mutex::new(files.clone());
    let results = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let Some(path) = queue.lock().unwrap().pop() else {
                    break;
                };
                let r = compare_file(&path, &version, &explained);
                results.lock().unwrap().push(r);
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.name.cmp(&b.name));
    let (mut filters, mut agreed, mut explained_n, mut read) = (0, 0, 0, 0);
    let mut unexplained = Vec::new();
    for r in &results {
        for l in &r.lines {
            println!("{l}");
        }
        filters += r.filters;
        agreed += r.agreed;
        explained_n += r.explained;
        read += (r.filters > 0) as usize;
        unexplained.extend(r.unexplained.iter().cloned());
        if r.filters > 0 {
            assert!(
                r.filters >= 15,
                "{}: only {} filters compared",
                r.name,
                r.filters
            );
        }
    }
    println!(
        "ALL: {read} files, {agreed}/{filters} (file, filter) selections agree with tshark, \
         {explained_n} differ as explained ({} filters per file and up to 4 built from each file)",
        FILTERS.len()
    );
    for u in &unexplained {
        println!("UNEXPLAINED {u}");
    }
    assert!(
        read >= 7,
        "expected at least tests/data/captures, read {read} files"
    );
    assert!(
        unexplained.is_empty(),
        "{} unexplained disagreements (listed above)",
        unexplained.len()
    );
}

/// A capture of the project's own corpus (tests/data/captures), there on every clone.
fn capture(name: &str) -> Option<PathBuf> {
    let path = common::corpus_file(name);
    common::require(path.is_some(), &format!("{name} is not in any corpus"));
    path
}

fn run(args: &[&str], path: &Path) -> (i32, String, String) {
    let out = Command::new(common::bin())
        .args(args)
        .arg("-r")
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_filter_exits_2_naming_the_column() {
    let Some(path) = capture("veth_snaplen80.pcap") else {
        return;
    };
    for (filter, want) in [
        ("tcp.port == ", "packetlab: -Y: col 13: expected a value"),
        (
            "tcp.prot == 80",
            "packetlab: -Y: col 1: unknown field 'tcp.prot'",
        ),
        ("udp && (dns", "packetlab: -Y: col 12: expected ')'"),
    ] {
        let (code, out, err) = run(&["--print", "packets", "-Y", filter], &path);
        assert_eq!(code, 2, "-Y {filter:?}");
        assert!(out.is_empty());
        assert!(err.trim().starts_with(want), "-Y {filter:?}: {err}");
    }
    let (code, _, err) = run(&["--print", "packets", "--filter", "tcp.port =="], &path);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn filtered_packets_keep_their_numbers_and_times() {
    let Some(path) = capture("veth_snaplen80.pcap") else {
        return;
    };
    let (code, all, _) = run(&["--print", "packets"], &path);
    assert_eq!(code, 0);
    // Responses only: every other line of the unfiltered output, unchanged (numbers and times
    // relative to the capture's first packet, as tshark -Y prints them).
    let (code, some, _) = run(&["--print", "packets", "-Y", "udp.srcport == 53"], &path);
    assert_eq!(code, 0);
    let want: Vec<&str> = all.lines().filter(|l| l.contains("response")).collect();
    let got: Vec<&str> = some.lines().collect();
    assert!(!got.is_empty());
    assert_eq!(got, want);
    // An empty filter keeps everything.
    let (_, every, _) = run(&["--print", "packets", "-Y", ""], &path);
    assert_eq!(every, all);
}

#[test]
fn verdict_and_session_filter_headless() {
    let Some(path) = capture("tcp22_session.pcap") else {
        return;
    };
    let rules =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/filter_drop_ssh_replies.nft");
    let json = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["--print", "packets", "--format", "json"];
        args.extend_from_slice(extra);
        let (code, out, err) = run(&args, &path);
        assert_eq!(code, 0, "{err}");
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let rules = rules.to_str().unwrap();
    let all = json(&["--rules", rules]);
    let no = |v: &[serde_json::Value]| -> Vec<u64> {
        v.iter().map(|p| p["no"].as_u64().unwrap()).collect()
    };
    let dropped: Vec<u64> = all
        .iter()
        .filter(|p| p["verdict"] == "drop")
        .map(|p| p["no"].as_u64().unwrap())
        .collect();
    assert!(!dropped.is_empty() && dropped.len() < all.len());
    assert_eq!(
        no(&json(&["--rules", rules, "-Y", "verdict == drop"])),
        dropped
    );
    let kept = no(&json(&["--rules", rules, "-Y", "verdict != drop"]));
    assert_eq!(kept.len() + dropped.len(), all.len());
    // No ruleset: no verdict, so no packet has one.
    assert!(json(&["-Y", "verdict == accept"]).is_empty());
    // One TCP connection (`--print sessions` shows it as id 0): every packet is in it.
    assert_eq!(no(&json(&["-Y", "session == 0"])), no(&all));
    assert_eq!(no(&json(&["-Y", "session"])), no(&all));
    assert!(json(&["-Y", "session == 1"]).is_empty());
}
