//! Lab scenarios (`--lab NAME`): small data files in `assets/lab/` naming the generators to
//! start, the lab settings, an optional ruleset, what to explain and what to watch.

/// The scenario files, built into the binary (the lab must work from any directory).
const FILES: &[(&str, &str)] = &[
    ("udp-vs-tcp", include_str!("../assets/lab/udp-vs-tcp.lab")),
    ("handshake", include_str!("../assets/lab/handshake.lab")),
    (
        "firewall-blocks-ssh",
        include_str!("../assets/lab/firewall-blocks-ssh.lab"),
    ),
    ("port-scan", include_str!("../assets/lab/port-scan.lab")),
];

/// Rulesets scenarios refer to, by file name.
const RULES: &[(&str, &str)] = &[(
    "firewall-blocks-ssh.nft",
    include_str!("../assets/lab/firewall-blocks-ssh.nft"),
)];

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub title: String,
    /// Generator names (`udp-echo`, `tcp-long`, …) to start.
    pub start: Vec<String>,
    pub loss: Option<f64>,
    pub rate: Option<u32>,
    pub payload: Option<usize>,
    /// The ruleset's nft text, when the scenario loads one.
    pub rules: Option<(String, &'static str)>,
    /// Sections of `assets/explain.md` to show at the start.
    pub explain: Vec<String>,
    pub watch: String,
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
            "start" => s.start = v.split_whitespace().map(str::to_string).collect(),
            "loss" => s.loss = Some(v.parse().map_err(|_| num("loss"))?),
            "rate" => s.rate = Some(v.parse().map_err(|_| num("rate"))?),
            "payload" => s.payload = Some(v.parse().map_err(|_| num("payload"))?),
            "rules" => {
                let text = RULES
                    .iter()
                    .find(|(f, _)| *f == v)
                    .map(|(_, t)| *t)
                    .ok_or_else(|| format!("{at}: no ruleset {v} in assets/lab"))?;
                s.rules = Some((format!("assets/lab/{v}"), text));
            }
            "explain" => s.explain = v.split_whitespace().map(str::to_string).collect(),
            "watch" => s.watch = v.to_string(),
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
                "port-scan"
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
            if let Some((file, text)) = &s.rules {
                crate::firewall::nft::parse(text, file).unwrap();
            }
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
