//! The realistic rulesets of `tests/data/rulesets/` (issue 8), each with a header line
//! `# packetlab-test: ifaces=eth0,wan0 check=0 [unsupported=L1,L2]`:
//! - the kernel's own tools accept each one (`nft -c -f`, `iptables-restore --test`,
//!   `ip6tables-restore --test`) inside a throwaway network namespace holding the interfaces it
//!   names;
//! - `packetlab --rules FILE --check` exits with the header's code, and for the files holding
//!   constructs packetlab does not simulate, reports exactly the listed lines as
//!   `FILE:LINE:COL: unsupported: …`;
//! - `--save` writes each one in a form `nft -c -f` accepts, which re-loads to the same model.
//!
//! The kernel checks need root, `ip`, `nft` and `iptables-restore`: skipped with the reason
//! otherwise, a failure in CI.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use packetlab::firewall::model::{Ruleset, Table};
use packetlab::firewall::{Firewall, Locality};

struct Case {
    path: PathBuf,
    name: String,
    ifaces: Vec<String>,
    check: i32,
    unsupported: Vec<u32>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/rulesets")
}

/// Every ruleset with a header, sorted.
fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir()).unwrap() {
        let path = e.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let Some(head) = text
            .lines()
            .find_map(|l| l.strip_prefix("# packetlab-test:"))
        else {
            continue;
        };
        let mut c = Case {
            name: path.file_name().unwrap().to_string_lossy().to_string(),
            path,
            ifaces: Vec::new(),
            check: -1,
            unsupported: Vec::new(),
        };
        for kv in head.split_whitespace() {
            match kv.split_once('=') {
                Some(("ifaces", "-")) => {}
                Some(("ifaces", l)) => c.ifaces = l.split(',').map(str::to_string).collect(),
                Some(("check", n)) => c.check = n.parse().unwrap(),
                Some(("unsupported", l)) => {
                    c.unsupported = l.split(',').map(|n| n.parse().unwrap()).collect()
                }
                _ => panic!("{}: bad header item {kv}", c.name),
            }
        }
        assert!(c.check >= 0, "{}: no check= in the header", c.name);
        v.push(c);
    }
    v.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(v.len() >= 25, "at least 25 rulesets, found {}", v.len());
    v
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

/// A network namespace of this test's own, removed when dropped.
struct Netns(String);

impl Netns {
    fn new(tag: &str, ifaces: &[String]) -> Netns {
        let name = format!("plk-rs-{}-{tag}", std::process::id());
        let o = run(Command::new("ip").args(["netns", "add", &name]));
        assert!(o.status.success(), "ip netns add: {o:?}");
        let ns = Netns(name);
        for (i, ifname) in ifaces.iter().enumerate() {
            // A dummy device where the kernel has the driver, else one end of a veth pair.
            let dummy =
                run(Command::new("ip").args(["-n", &ns.0, "link", "add", ifname, "type", "dummy"]));
            if !dummy.status.success() {
                let peer = format!("plkpeer{i}");
                let o = run(Command::new("ip").args([
                    "-n", &ns.0, "link", "add", ifname, "type", "veth", "peer", "name", &peer,
                ]));
                assert!(o.status.success(), "{ifname}: {o:?}");
            }
        }
        ns
    }

    fn exec(&self, cwd: &Path, prog: &str, args: &[&str], stdin: Option<&Path>) -> Output {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0, prog])
            .args(args)
            .current_dir(cwd);
        if let Some(f) = stdin {
            cmd.stdin(std::fs::File::open(f).unwrap());
        }
        run(&mut cmd)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn kernel_tools() -> bool {
    for tool in ["ip", "nft", "iptables-restore", "ip6tables-restore"] {
        if !common::have_tool(tool) {
            common::require_or_skip(&format!("{tool} is not installed"));
            return false;
        }
    }
    if !common::is_root() {
        common::require_or_skip("the kernel checks need root (network namespaces)");
        return false;
    }
    true
}

/// What the kernel's tools say of `file` (nft syntax unless its name says iptables).
fn kernel_check(ns: &Netns, file: &Path) -> Output {
    let cwd = file.parent().unwrap();
    let name = file.file_name().unwrap().to_str().unwrap();
    if name.ends_with(".ip6tables") {
        ns.exec(cwd, "ip6tables-restore", &["--test"], Some(file))
    } else if name.ends_with(".iptables") {
        ns.exec(cwd, "iptables-restore", &["--test"], Some(file))
    } else {
        ns.exec(cwd, "nft", &["-c", "-f", name], None)
    }
}

#[test]
fn the_kernels_own_tools_accept_every_ruleset() {
    let cases = cases();
    if !kernel_tools() {
        return;
    }
    let mut failed = Vec::new();
    for c in &cases {
        let ns = Netns::new("k", &c.ifaces);
        let o = kernel_check(&ns, &c.path);
        if !o.status.success() {
            failed.push(format!(
                "{}: {}",
                c.name,
                String::from_utf8_lossy(&o.stderr)
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    println!(
        "kernel tools accept {} of {} rulesets",
        cases.len(),
        cases.len()
    );
}

#[test]
fn every_ruleset_loads_with_the_check_exit_code_its_header_states() {
    let cases = cases();
    let mut wrong = Vec::new();
    let mut by_code = [0; 3];
    for c in &cases {
        let o = run(Command::new(common::bin())
            .args(["--rules", c.path.to_str().unwrap(), "--check"])
            .current_dir(dir()));
        let code = o.status.code().unwrap_or(-1);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        if code != c.check {
            wrong.push(format!(
                "{}: exit {code}, the header says {}\n{out}{}",
                c.name,
                c.check,
                String::from_utf8_lossy(&o.stderr)
            ));
            continue;
        }
        by_code[code as usize] += 1;
        // Every unsupported rule is one line `FILE:LINE:COL: unsupported: …`.
        let mut lines: Vec<u32> = out
            .lines()
            .filter(|l| l.contains(": unsupported: "))
            .map(|l| {
                let rest = l.strip_prefix(c.path.to_str().unwrap()).unwrap_or_else(|| {
                    panic!("{}: an unsupported line names another file: {l}", c.name)
                });
                let mut parts = rest.trim_start_matches(':').split(':');
                let line: u32 = parts.next().unwrap().parse().unwrap();
                let col: u32 = parts.next().unwrap().parse().unwrap();
                assert!(col >= 1, "{l}");
                line
            })
            .collect();
        lines.sort();
        if lines != c.unsupported {
            wrong.push(format!(
                "{}: unsupported lines {lines:?}, the header says {:?}\n{out}",
                c.name, c.unsupported
            ));
        }
        let summary = out.lines().last().unwrap_or("");
        assert!(summary.contains(" rules, "), "{}: {out}", c.name);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        by_code[1] >= 1,
        "some rulesets hold unsupported constructs on purpose"
    );
    println!(
        "--check: {} rulesets exit 0, {} exit 1 with exactly their unsupported lines",
        by_code[0], by_code[1]
    );
}

/// The model without what saving cannot keep: where things were in the file (lines, columns,
/// texts) and the rules an iptables-save file holds that have no nft form (saved as comments).
fn normalized(rs: &Ruleset) -> Ruleset {
    let mut rs = rs.clone();
    for t in &mut rs.tables {
        normalize_table(t);
    }
    rs
}

fn normalize_table(t: &mut Table) {
    for (line, _) in &mut t.other {
        *line = 0;
    }
    for c in &mut t.chains {
        c.line = 0;
        c.rules
            .retain(|r| !(r.unsupported.is_some() && r.origin.text.starts_with(['-', '['])));
        for r in &mut c.rules {
            r.origin.line = 0;
            r.origin.text.clear();
            r.origin.file = None;
            r.origin.full.clear();
            if let Some((col, _)) = &mut r.unsupported {
                *col = 0;
            }
        }
    }
}

/// Where two models part, for the failure message.
fn first_difference(a: &Ruleset, b: &Ruleset) -> String {
    if a.defines != b.defines {
        return format!("defines {:?} / {:?}", a.defines, b.defines);
    }
    if a.tables.len() != b.tables.len() {
        return format!("{} tables / {}", a.tables.len(), b.tables.len());
    }
    for (ta, tb) in a.tables.iter().zip(&b.tables) {
        if ta.sets != tb.sets {
            return format!("sets {:?}\n / {:?}", ta.sets, tb.sets);
        }
        if ta.other != tb.other {
            return format!("other {:?}\n / {:?}", ta.other, tb.other);
        }
        for (ca, cb) in ta.chains.iter().zip(&tb.chains) {
            if ca.base != cb.base || ca.rules.len() != cb.rules.len() {
                return format!("chain {}: {:?} / {:?}", ca.name, ca.base, cb.base);
            }
            for (ra, rb) in ca.rules.iter().zip(&cb.rules) {
                if ra != rb {
                    return format!("rule\n{ra:?}\n / {rb:?}");
                }
            }
        }
        if ta != tb {
            return format!("table {} (chains)", ta.name);
        }
    }
    "?".into()
}

#[test]
fn saved_rulesets_pass_nft_check_and_reload_to_the_same_model() {
    let cases = cases();
    let kernel = kernel_tools();
    let out = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for c in &cases {
        let saved = out.path().join(format!("{}.saved.nft", c.name));
        let o = run(Command::new(common::bin())
            .args([
                "--rules",
                c.path.to_str().unwrap(),
                "--save",
                saved.to_str().unwrap(),
            ])
            .current_dir(dir()));
        assert!(o.status.success(), "{}: --save failed: {o:?}", c.name);
        let original = Firewall::load(&c.path, Locality::default()).unwrap();
        let again = match Firewall::load(&saved, Locality::default()) {
            Ok(fw) => fw,
            Err(e) => {
                wrong.push(format!("{}: the saved file does not load: {e}", c.name));
                continue;
            }
        };
        let (a, b) = (normalized(&original.ruleset), normalized(&again.ruleset));
        if a != b {
            wrong.push(format!(
                "{}: the saved file loads to another model: {}",
                c.name,
                first_difference(&a, &b)
            ));
        }
        if kernel {
            let ns = Netns::new("s", &c.ifaces);
            let o = kernel_check(&ns, &saved);
            if !o.status.success() {
                wrong.push(format!(
                    "{}: nft -c refuses the saved file: {}",
                    c.name,
                    String::from_utf8_lossy(&o.stderr)
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
    println!(
        "--save: {} rulesets saved, re-loaded to the same model{}",
        cases.len(),
        if kernel { ", accepted by nft -c" } else { "" }
    );
}
