//! Choosing what feeds the engine (a file, live interfaces, the demo, or nothing), loading the
//! firewall of `--rules`, and the exit codes every front end shares.

use std::path::{Path, PathBuf};

use crate::capture::live;
use crate::cli::Cli;

/// Exit code when live capture was asked for and is not permitted.
pub const EXIT_NOT_PERMITTED: i32 = 2;

/// What feeds the engine, decided from the flags and what the machine permits.
pub enum Input {
    File {
        path: PathBuf,
        pace: bool,
    },
    Live {
        interfaces: Vec<String>,
    },
    /// The bundled demo capture, because live capture is not permitted (`reason` says why).
    Demo {
        path: PathBuf,
        reason: Option<String>,
    },
    /// No packets at all: the lab runs without capture (`reason` says why).
    Nothing {
        reason: String,
    },
    /// The lab network running this scenario (`--lab NAME`): no privilege needed.
    LabNet {
        scenario: Box<crate::scenario::Scenario>,
    },
}

/// Where the bundled demo capture is: next to the binary's crate in a checkout, or installed.
pub fn demo_path() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcapng");
    if here.exists() {
        return here;
    }
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("assets/demo.pcapng")))
        .filter(|p| p.exists())
        .unwrap_or(here)
}

pub fn grant_hint() -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "target/release/packetlab".into());
    format!("sudo setcap cap_net_raw,cap_net_admin=eip {exe}  (or run with sudo)")
}

pub fn choose_input(cli: &Cli) -> Input {
    let own_input = cli.read.is_none() && cli.interfaces.is_empty();
    if let (Some(name), false, true) = (&cli.lab, cli.lab_loopback, own_input) {
        if let Some(scenario) = crate::scenario::find(name) {
            return Input::LabNet {
                scenario: Box::new(scenario),
            };
        }
    }
    if cli.lab.is_some() && own_input {
        // The loopback lab's traffic is on loopback: capture there when permitted.
        return if live::permitted() {
            Input::Live {
                interfaces: vec!["lo".into()],
            }
        } else {
            Input::Nothing {
                reason: format!(
                    "live capture is not permitted, so the lab shows its sockets' counters only; \
                     to see its packets and sessions too: {}",
                    grant_hint()
                ),
            }
        };
    }
    if let Some(path) = &cli.read {
        return Input::File {
            path: path.clone(),
            pace: cli.pace,
        };
    }
    if cli.demo {
        return Input::Demo {
            path: demo_path(),
            reason: None,
        };
    }
    if !cli.interfaces.is_empty() {
        return Input::Live {
            interfaces: cli.interfaces.clone(),
        };
    }
    match live::default_interface() {
        Some(i) if live::permitted() => Input::Live {
            interfaces: vec![i],
        },
        _ => Input::Demo {
            path: demo_path(),
            reason: Some(format!(
                "live capture is not permitted for this user. Enable it: {}",
                grant_hint()
            )),
        },
    }
}

/// The starter ruleset the TUI shows when no `--rules` is given, built into the binary (the
/// TUI must work from any directory).
pub const STARTER_RULES: &str = include_str!("../assets/rules/starter.nft");
/// The name the starter goes by in the firewall pane and in saved files.
pub const STARTER_NAME: &str = "starter.nft";

/// Whether `--rules` asks for no firewall at all (`--rules none`, `--no-rules`).
pub fn no_rules(cli: &Cli) -> bool {
    cli.no_rules || cli.rules.as_deref() == Some(Path::new("none"))
}

/// The TUI's firewall: the `--rules` file, else (unless `--rules none`) the starter ruleset.
/// The flag says whether it is the starter.
pub fn tui_firewall(
    cli: &Cli,
    live: &[String],
) -> Result<Option<(crate::firewall::Firewall, bool)>, String> {
    if no_rules(cli) {
        return Ok(None);
    }
    if cli.rules.is_some() {
        return Ok(load_firewall(cli, live)?.map(|fw| (fw, false)));
    }
    let rs = crate::firewall::nft::parse(STARTER_RULES, STARTER_NAME).map_err(|e| e.to_string())?;
    let locality = locality(cli, live)?;
    Ok(Some((
        crate::firewall::Firewall::new(rs, STARTER_NAME.into(), locality),
        true,
    )))
}

/// The firewall of `--rules`, with the host's addresses from `--local` (and `live` interfaces').
pub fn load_firewall(
    cli: &Cli,
    live: &[String],
) -> Result<Option<crate::firewall::Firewall>, String> {
    let Some(path) = cli.rules.as_ref().filter(|_| !no_rules(cli)) else {
        return Ok(None);
    };
    crate::firewall::Firewall::load(path, locality(cli, live)?).map(Some)
}

/// The simulated host's addresses: `--local`, and those of the interfaces captured live.
fn locality(cli: &Cli, live: &[String]) -> Result<crate::firewall::Locality, String> {
    let mut locality = crate::firewall::Locality::from_args(&cli.locals)?;
    locality.iface = cli.iface.clone();
    locality.tz = Some(crate::firewall::clock::zone(cli.tz.as_deref())?);
    locality.live = !live.is_empty();
    for i in live::interfaces().iter().filter(|i| live.contains(&i.name)) {
        locality.nets.extend(
            i.ips
                .iter()
                .map(|n| (n.ip(), if n.is_ipv4() { 32 } else { 128 })),
        );
    }
    Ok(locality)
}

/// The lab network's ruleset: `--rules FILE` when given, else the scenario's own.
pub fn lab_firewall(
    cli: &Cli,
    sc: &crate::scenario::Scenario,
) -> Result<crate::firewall::Firewall, String> {
    if let Some(path) = cli.rules.as_ref().filter(|_| !no_rules(cli)) {
        return crate::firewall::Firewall::load(path, Default::default());
    }
    let Some((file, text)) = &sc.rules else {
        return Err(format!("lab scenario {} has no ruleset", sc.name));
    };
    let rs = crate::firewall::nft::parse(text, file).map_err(|e| e.to_string())?;
    Ok(crate::firewall::Firewall::new(
        rs,
        file.clone(),
        Default::default(),
    ))
}
