//! `--lab-kernel` as root: every scenario in network namespaces with the kernel's stacks and
//! the ruleset loaded with nft; the simulator's verdict agrees with the kernel's on every
//! packet the kernel's router received, the capture lost nothing, and no `packetlab-*`
//! namespace is left — after the run, after SIGINT, and after SIGKILL once the next run
//! started.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One run at a time: every start removes the namespaces of dead runs, which the SIGKILL
/// test needs to find still there.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn ready() -> bool {
    if !common::is_root() {
        common::require_or_skip("--lab-kernel needs root (network namespaces)");
        return false;
    }
    for t in ["ip", "nft", "ethtool"] {
        if !common::have_tool(t) {
            common::require_or_skip(&format!("{t} is not installed"));
            return false;
        }
    }
    true
}

/// The namespaces of run `pid`.
fn namespaces_of(pid: u32) -> Vec<String> {
    let o = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let prefix = format!("packetlab-{pid}-");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

fn start(scenario: &str, secs: &str) -> Child {
    Command::new(common::bin())
        .args([
            "--lab",
            scenario,
            "--lab-kernel",
            "--print",
            "stats",
            "--format",
            "json",
        ])
        .args(["--lab-seconds", secs])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for_namespaces(child: &Child) {
    let t0 = Instant::now();
    while namespaces_of(child.id()).len() < 6 {
        assert!(t0.elapsed() < Duration::from_secs(20), "no namespaces made");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_scenario_agrees_with_the_kernel_and_leaves_nothing() {
    if !ready() {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let list = Command::new(common::bin())
        .args(["--lab", "list"])
        .output()
        .unwrap();
    let names: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    assert!(names.len() >= 9);
    for name in &names {
        let child = start(name, "4");
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {}\n{err}", out.status);
        let s: Value = serde_json::from_slice(&out.stdout).unwrap();
        let k = &s["lab"]["kernel"];
        let (compared, agree) = (
            k["compared"].as_u64().unwrap(),
            k["agree"].as_u64().unwrap(),
        );
        assert!(compared >= 5, "{name}: {compared} packets compared\n{s}");
        assert_eq!(agree, compared, "{name}: {}", k["disagreements"]);
        assert_eq!(k["capture_lost"], 0, "{name}");
        assert!(namespaces_of(pid).is_empty(), "{name}: namespaces left");
    }
}

/// Rules on the hosts' own input and output hooks: the kernel of each node counts them, and
/// the simulator's copy of that node counts the same — every rule, every node.
#[test]
fn every_nodes_rule_counters_agree_with_the_kernels_input_and_output_hooks_too() {
    if !ready() {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lab/hosts.nft");
    for scenario in ["firewall-blocks-ssh", "udp-vs-tcp"] {
        // A node that sent a packet while its counters were read is not compared (its
        // packet may be on either side of the reading): rare, and then the run is repeated.
        let mut attempts = 0;
        let (out, s) = loop {
            let out = Command::new(common::bin())
                .args(["--lab", scenario, "--lab-kernel", "--lab-seconds", "4"])
                .args(["--print", "stats", "--format", "json", "--rules"])
                .arg(&rules)
                .output()
                .unwrap();
            let s: Value = serde_json::from_slice(&out.stdout).unwrap();
            attempts += 1;
            let unsettled = s["lab"]["kernel"]["counters_unsettled"].as_array().unwrap();
            if unsettled.is_empty() || attempts == 3 {
                break (out, s);
            }
        };
        let err = String::from_utf8_lossy(&out.stderr);
        let k = &s["lab"]["kernel"];
        assert!(
            out.status.success(),
            "{scenario}: {}\n{err}\n{k}",
            out.status
        );
        let counters = k["counters"].as_array().unwrap();
        // 4 rules with counters in input, 1 in output, 2 in forward: on 5 nodes.
        assert_eq!(counters.len(), 35, "{scenario}: {k}");
        for c in counters {
            assert_eq!(c["kernel"], c["simulated"], "{scenario}: {c}");
        }
        let hits = |node: &str, what: &str| -> u64 {
            counters
                .iter()
                .filter(|c| c["node"] == node && c["rule"].as_str().unwrap().contains(what))
                .map(|c| c["kernel"].as_u64().unwrap())
                .sum()
        };
        // Each host counted what it sent; the hooks that refuse did so on their nodes.
        for h in ["alice", "bob", "server"] {
            assert!(hits(h, "oifname") > 0, "{scenario}: {h} sent nothing?\n{k}");
        }
        match scenario {
            "firewall-blocks-ssh" => {
                assert!(hits("server", "dport 80") >= 2, "{k}");
                assert_eq!(hits("gw", "dport 80"), 0);
            }
            // alice's datagrams to the server's UDP echo, dropped by the server's input.
            _ => assert!(hits("server", "udp dport 7") >= 2, "{k}"),
        }
        assert_eq!(k["agree"], k["compared"], "{scenario}: {k}");
    }
}

#[test]
fn sigint_and_sigkill_leave_no_namespace_for_long() {
    if !ready() {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // SIGINT: the run ends in order and removes its namespaces.
    let child = start("handshake", "60");
    wait_for_namespaces(&child);
    // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.code().is_some(),
        "ended by the signal: {:?}",
        out.status
    );
    assert!(namespaces_of(pid).is_empty(), "left after SIGINT");
    // SIGKILL: nothing can clean up then, so the namespaces stay …
    let mut child = start("handshake", "60");
    wait_for_namespaces(&child);
    let pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !namespaces_of(pid).is_empty(),
        "SIGKILL left nothing to clean?"
    );
    // … until the next run starts, which removes them and says so.
    let out = start("dns", "1").wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        namespaces_of(pid).is_empty(),
        "the next run removed them: {err}"
    );
    assert!(err.contains(&format!("removed packetlab-{pid}-")), "{err}");
}
