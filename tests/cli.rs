//! The command line as a new user meets it: --help, errors, exit codes.

mod common;

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(common::bin()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_explains_every_flag() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--interface",
        "--read",
        "--write",
        "--count",
        "--keep",
        "--print",
        "--format",
        "--pace",
        "--demo",
        "--list-interfaces",
        "--help",
        "--version",
    ] {
        assert!(out.contains(flag), "--help mentions {flag}:\n{out}");
    }
    // Each flag is followed by its explanation (on its line or the lines below it).
    let lines: Vec<&str> = out.lines().collect();
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].trim_start().starts_with('-'))
        .collect();
    for (k, &i) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(lines.len());
        let text = lines[i..end].join(" ");
        let words = text
            .split_whitespace()
            .filter(|w| !w.starts_with('-') && !w.starts_with('<'))
            .count();
        assert!(
            words >= 2,
            "flag without an explanation: {}",
            lines[i].trim()
        );
    }
}

#[test]
fn a_missing_file_is_one_clear_line() {
    let (code, out, err) = run(&["-r", "/nonexistent/x.pcap", "--print", "packets"]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("/nonexistent/x.pcap") && err.contains("No such file"),
        "{err}"
    );
}

#[test]
fn count_stops_after_n_packets_and_a_cut_file_keeps_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.pcapng");
    {
        let f = std::fs::File::create(&p).unwrap();
        let mut w = packetlab::capture::write::PcapngWriter::new(f, vec![]).unwrap();
        for fr in common::frames::sample() {
            w.write(&fr.as_ref()).unwrap();
        }
        w.flush().unwrap();
    }
    let ps = p.to_str().unwrap();
    let (code, out, _) = run(&["-r", ps, "--print", "packets", "-c", "4"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 4);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 10]).unwrap();
    let (code, out, err) = run(&["-r", ps, "--print", "packets", "--format", "json"]);
    assert_eq!(code, 1, "a damaged file is an error");
    assert_eq!(
        out.lines().count(),
        8,
        "the 8 whole packets before the damage are printed"
    );
    assert!(err.contains("cut short in the middle of packet 9"), "{err}");
}

#[test]
fn live_capture_without_permission_exits_2_with_the_grant_command() {
    if !common::is_root() || !common::have_tool("setpriv") {
        common::require_or_skip("needs root (to drop to an unprivileged user with setpriv)");
        return;
    }
    // Run as nobody, with no capabilities.
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(common::bin())
        .args(["-i", "lo", "--print", "packets"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("not permitted") && err.contains("setcap cap_net_raw,cap_net_admin=eip"),
        "{err}"
    );
}

#[test]
fn check_reports_shadowed_rules_and_sets_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.nft");
    std::fs::write(
        &bad,
        "table inet f {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    \
         tcp dport { 22, 80 } accept\n    tcp dport 22 ip saddr 10.0.0.0/8 drop\n  }\n}\n",
    )
    .unwrap();
    // Findings are warnings: the file is understood, exit 0.
    let (code, out, _) = run(&["--rules", bad.to_str().unwrap(), "--check"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("bad.nft:5: warning: shadowed by line 4 (tcp dport { 22, 80 } accept)"),
        "{out}"
    );
    let good = dir.path().join("good.nft");
    std::fs::write(&good, "table inet f {\n  chain input {\n    type filter hook input priority 0;\n    tcp dport 22 limit rate 1/second accept\n  }\n}\n").unwrap();
    let (code, out, _) = run(&["--rules", good.to_str().unwrap(), "--check"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("good.nft:4: approximate: limit rate 1/second"),
        "{out}"
    );
    // A rule outside what packetlab simulates: listed with line and column, exit 1.
    let partial = dir.path().join("partial.nft");
    std::fs::write(
        &partial,
        "table inet f {\n  chain input {\n    tcp dport 22 osf name \"Linux\" accept\n    tcp dport 80 accept\n  }\n}\n",
    )
    .unwrap();
    let (code, out, _) = run(&["--rules", partial.to_str().unwrap(), "--check"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("partial.nft:3:18: unsupported: 'osf'"),
        "{out}"
    );
    assert!(out.contains("2 rules, 1 unsupported"), "{out}");
    // Not nft at all: exit 2, the error names the place.
    let broken = dir.path().join("broken.nft");
    std::fs::write(
        &broken,
        "table inet f {\n  chain input {\n    ip saddr 10.0.0.300 accept\n  }\n}\n",
    )
    .unwrap();
    let (code, _, err) = run(&["--rules", broken.to_str().unwrap(), "--check"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("broken.nft:3:14: '10.0.0.300' is not an address"),
        "{err}"
    );
    let (code, _, err) = run(&["--rules", "/no/such/rules.nft", "--check"]);
    assert_eq!(code, 2);
    assert!(err.contains("/no/such/rules.nft"), "{err}");
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let (code, out, _) = run(&["--completions", "bash"]);
    assert_eq!(code, 0);
    for flag in ["--read", "--rules", "--print", "--lab", "--filter"] {
        assert!(out.contains(flag), "bash completion offers {flag}");
    }
    let (code, out, _) = run(&["--man"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(".TH packetlab 1") && out.contains("\\-\\-rules"),
        "{}",
        &out[..200.min(out.len())]
    );
}

#[test]
fn config_file_sets_defaults_and_a_bad_value_is_a_warning_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[defaults]\nformat = \"json\"\nkeep = \"lots\"\ncolour = 1\n",
    )
    .unwrap();
    let cap = dir.path().join("s.pcapng");
    {
        let f = std::fs::File::create(&cap).unwrap();
        let mut w = packetlab::capture::write::PcapngWriter::new(f, vec![]).unwrap();
        for fr in common::frames::sample() {
            w.write(&fr.as_ref()).unwrap();
        }
        w.flush().unwrap();
    }
    let (c, cap) = (cfg.to_str().unwrap(), cap.to_str().unwrap());
    let (code, out, err) = run(&["--config", c, "-r", cap, "--print", "packets", "-c", "1"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("{\"no\":1"),
        "the file's format = json applies: {out}"
    );
    assert!(
        err.contains("config.toml: defaults.keep: expected a positive integer; using the default"),
        "{err}"
    );
    assert!(
        err.contains("config.toml: defaults.colour: unknown key, ignored"),
        "{err}"
    );
    // The command line wins over the file.
    let (_, out, _) = run(&[
        "--config", c, "-r", cap, "--print", "packets", "-c", "1", "--format", "text",
    ]);
    assert!(out.trim_start().starts_with('1'), "{out}");
    // A file that is not TOML: one warning with its line, and the defaults.
    std::fs::write(dir.path().join("bad.toml"), "[defaults\nkeep = 1\n").unwrap();
    let bad = dir.path().join("bad.toml");
    let (code, out, err) = run(&[
        "--config",
        bad.to_str().unwrap(),
        "-r",
        cap,
        "--print",
        "packets",
        "-c",
        "1",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.trim_start().starts_with('1'),
        "text, the default: {out}"
    );
    assert!(
        err.contains("bad.toml:1:") && err.contains("using the defaults"),
        "{err}"
    );
}

#[test]
fn config_theme_keys_and_columns_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[keys]\nquit = \"Q\"\nexplode = \"E\"\nhelp = \"too long\"\n[theme]\ndrop = \"#ff8800\"\naccept = \"greenish\"\n[ui]\ncolumns = [\"No.\", \"Colour\"]\n",
    )
    .unwrap();
    let (code, _, err) = run(&["--config", cfg.to_str().unwrap(), "--list-interfaces"]);
    assert_eq!(code, 0);
    assert!(err.contains("keys.explode: unknown key, ignored"), "{err}");
    assert!(err.contains("keys.help: expected one character"), "{err}");
    assert!(err.contains("theme.accept: expected a colour"), "{err}");
    assert!(
        !err.contains("theme.drop"),
        "a good colour is no warning: {err}"
    );
    assert!(
        !err.contains("keys.quit"),
        "a good binding is no warning: {err}"
    );
    assert!(
        err.contains("ui.columns: expected a list of columns"),
        "{err}"
    );
}

#[test]
fn a_word_nft_does_not_know_is_a_syntax_error_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.nft");
    std::fs::write(
        &typo,
        "table inet f {\n  chain input {\n    type filter hook input priority 0;\n    tcp dport 22 acept\n  }\n}\n",
    )
    .unwrap();
    let (code, out, err) = run(&["--rules", typo.to_str().unwrap(), "--check"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("typo.nft:4:18: unknown word 'acept' (did you mean 'accept'?)"),
        "{err}"
    );
    // `--print` refuses it too instead of judging with a rule that never matches.
    let (code, _, err) = run(&[
        "--rules",
        typo.to_str().unwrap(),
        "-r",
        concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.pcapng"),
        "--print",
        "rules",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("typo.nft:4:18: unknown word 'acept'"), "{err}");
    std::fs::write(
        &typo,
        "table inet f {\n  chain input {\n    tcp dpot 22 accept\n  }\n}\n",
    )
    .unwrap();
    let (code, _, err) = run(&["--rules", typo.to_str().unwrap(), "--check"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("typo.nft:3:9: unknown word 'dpot' (did you mean 'dport'?)"),
        "{err}"
    );
    // Valid nft packetlab does not simulate: still loads, exit 1.
    std::fs::write(
        &typo,
        "table inet f {\n  chain input {\n    tcp dport 22 ip checksum 0 accept\n  }\n}\n",
    )
    .unwrap();
    let (code, out, _) = run(&["--rules", typo.to_str().unwrap(), "--check"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("typo.nft:3:18: unsupported: 'ip checksum'"),
        "{out}"
    );
}

#[test]
fn config_errors_name_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[defaults]\nrules = \"~/no-such-fw.nft\"\n").unwrap();
    let c = cfg.to_str().unwrap();
    let (code, _, err) = run(&["--config", c, "--list-interfaces"]);
    assert_eq!(code, 2, "{err}");
    let home = std::env::var("HOME").unwrap();
    assert!(
        err.contains(&format!(
            "packetlab: {c}: rules = \"~/no-such-fw.nft\": {home}/no-such-fw.nft: No such file"
        )),
        "{err}"
    );
    // A rules file with a syntax error: the config is named too.
    let fw = dir.path().join("fw.nft");
    std::fs::write(&fw, "table inet f {\n  chain c {\n    acept\n  }\n}\n").unwrap();
    std::fs::write(&cfg, format!("[defaults]\nrules = \"{}\"\n", fw.display())).unwrap();
    let (code, _, err) = run(&["--config", c, "--list-interfaces"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "{c}: rules = \"{}\": {}:3:5: unknown word 'acept'",
            fw.display(),
            fw.display()
        )),
        "{err}"
    );
    // The command line's --rules wins, and the config's path is not looked at.
    let good = dir.path().join("good.nft");
    std::fs::write(&good, "table inet f {\n  chain c {\n    accept\n  }\n}\n").unwrap();
    let (code, _, err) = run(&["--config", c, "--rules", good.to_str().unwrap(), "--check"]);
    assert_eq!(code, 0, "{err}");
    // A --config that does not exist is an error, not silently the defaults.
    let missing = dir.path().join("nope.toml");
    let (code, _, err) = run(&["--config", missing.to_str().unwrap(), "--list-interfaces"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "packetlab: --config {}: No such file",
            missing.display()
        )),
        "{err}"
    );
}
