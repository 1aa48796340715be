//! Lab scenarios (`--lab NAME`): small data files in `assets/lab/` naming the lab network's
//! ruleset and WAN link, what to explain and what to watch, and the loopback generators that
//! show the same lesson with the kernel's own stack (`--lab-loopback NAME`).

/// The scenario files, built into the binary (the lab must work from any directory).
const FILES: &[(&str, &str)] = &[
    ("udp-vs-tcp", include_str!("../assets/lab/udp-vs-tcp.lab")),
    ("handshake", include_str!("../assets/lab/handshake.lab")),
    (
        "firewall-blocks-ssh",
        include_str!("../assets/lab/firewall-blocks-ssh.lab"),
    ),
    ("port-scan", include_str!("../assets/lab/port-scan.lab")),
    ("dns", include_str!("../assets/lab/dns.lab")),
    ("nat", include_str!("../assets/lab/nat.lab")),
    (
        "address-classes",
        include_str!("../assets/lab/address-classes.lab"),
    ),
    ("bulk", include_str!("../assets/lab/bulk.lab")),
    (
        "port-forward",
        include_str!("../assets/lab/port-forward.lab"),
    ),
];

/// Rulesets scenarios refer to, by file name.
const RULES: &[(&str, &str)] = &[
    (
        "firewall-blocks-ssh.nft",
        include_str!("../assets/lab/firewall-blocks-ssh.nft"),
    ),
    (
        "firewall-blocks-ssh-loopback.nft",
        include_str!("../assets/lab/firewall-blocks-ssh-loopback.nft"),
    ),
    ("port-scan.nft", include_str!("../assets/lab/port-scan.nft")),
    ("nat.nft", include_str!("../assets/lab/nat.nft")),
    ("open.nft", include_str!("../assets/lab/open.nft")),
    (
        "port-forward.nft",
        include_str!("../assets/lab/port-forward.nft"),
    ),
];

/// A scenario: what runs on the lab network (the apps are `vnet::scenarios`, by name), its
/// ruleset and WAN link, what to read and watch; and what the loopback lab
/// (`--lab-loopback`) starts for the same lesson.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub title: String,
    /// The lab network's ruleset (nft text), run by the router and every host.
    pub rules: Option<(String, &'static str)>,
    /// The WAN link's loss, duplication and reordering (percent) and delay (ms).
    pub loss: Option<f64>,
    pub dup: Option<f64>,
    pub reorder: Option<f64>,
    pub delay_ms: Option<u64>,
    /// Sections of `assets/explain.md` to show at the start.
    pub explain: Vec<String>,
    pub watch: String,
    /// Loopback generator names (`udp-echo`, `tcp-long`, …) to start.
    pub start: Vec<String>,
    pub loopback_rules: Option<(String, &'static str)>,
    pub loopback_watch: Option<String>,
    pub rate: Option<u32>,
    pub payload: Option<usize>,
}

fn ruleset(at: &str, v: &str) -> Result<(String, &'static str), String> {
    let text = RULES
        .iter()
        .find(|(f, _)| *f == v)
        .map(|(_, t)| *t)
        .ok_or_else(|| format!("{at}: no ruleset {v} in assets/lab"))?;
    Ok((format!("assets/lab/{v}"), text))
}

/// Parses one scenario file: `key: value` lines, `#` comments. An unknown key or a bad number
/// is an error naming the line.
pub fn parse(name: &str, text: &str) -> Result<Scenario, String> {
    let mut s = Scenario::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("assets/lab/{name}.lab:{}", i + 1);
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("{at}: expected 'key: value'"))?;
        let v = v.trim();
        let num = |what: &str| format!("{at}: {what} must be a number, not {v:?}");
        match k.trim() {
            "name" => s.name = v.to_string(),
            "title" => s.title = v.to_string(),
            "loopback" => s.start = v.split_whitespace().map(str::to_string).collect(),
            "loss" => s.loss = Some(v.parse().map_err(|_| num("loss"))?),
            "dup" => s.dup = Some(v.parse().map_err(|_| num("dup"))?),
            "reorder" => s.reorder = Some(v.parse().map_err(|_| num("reorder"))?),
            "delay" => s.delay_ms = Some(v.parse().map_err(|_| num("delay"))?),
            "rate" => s.rate = Some(v.parse().map_err(|_| num("rate"))?),
            "payload" => s.payload = Some(v.parse().map_err(|_| num("payload"))?),
            "rules" => s.rules = Some(ruleset(&at, v)?),
            "loopback-rules" => s.loopback_rules = Some(ruleset(&at, v)?),
            "explain" => s.explain = v.split_whitespace().map(str::to_string).collect(),
            "watch" => s.watch = v.to_string(),
            "loopback-watch" => s.loopback_watch = Some(v.to_string()),
            other => return Err(format!("{at}: unknown key {other:?}")),
        }
    }
    Ok(s)
}

/// Every scenario, parsed.
pub fn all() -> Vec<Scenario> {
    FILES
        .iter()
        .map(|(n, t)| parse(n, t).unwrap_or_else(|e| panic!("bundled scenario: {e}")))
        .collect()
}

pub fn find(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_scenarios_parse_and_refer_to_real_things() {
        let all = all();
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "udp-vs-tcp",
                "handshake",
                "firewall-blocks-ssh",
                "port-scan",
                "dns",
                "nat",
                "address-classes",
                "bulk",
                "port-forward"
            ]
        );
        for s in &all {
            assert!(
                !s.title.is_empty() && !s.watch.is_empty() && !s.start.is_empty(),
                "{s:?}"
            );
            for g in &s.start {
                assert!(
                    crate::lab::GeneratorKind::from_slug(g).is_some(),
                    "{}: no generator {g}",
                    s.name
                );
            }
            for e in &s.explain {
                assert!(
                    crate::explain::section(e).is_some(),
                    "{}: no explanation {e}",
                    s.name
                );
            }
            for (file, text) in s.rules.iter().chain(&s.loopback_rules) {
                crate::firewall::nft::parse(text, file).unwrap();
            }
            let (file, text) = s.rules.as_ref().expect("the lab network needs a ruleset");
            let rs = crate::firewall::nft::parse(text, file).unwrap();
            let mut net = crate::vnet::Network::new(&rs, 1, 0);
            assert!(
                crate::vnet::scenarios::install(&s.name, &mut net),
                "{}: no programs for the lab network",
                s.name
            );
        }
        assert_eq!(find("udp-vs-tcp").unwrap().loss, Some(10.0));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("x", "name: x\nrate: fast\n").unwrap_err(),
            "assets/lab/x.lab:2: rate must be a number, not \"fast\""
        );
        assert_eq!(
            parse("x", "colour: red\n").unwrap_err(),
            "assets/lab/x.lab:1: unknown key \"colour\""
        );
    }
}
