//! `--check` and `--save`: what packetlab makes of a rules file, without any traffic.

use std::path::Path;

use color_eyre::eyre::Result;

use crate::cli::Cli;
use crate::launch::load_firewall;

/// `--rules FILE --check`: what packetlab cannot simulate (`FILE:LINE:COL: unsupported: …`,
/// exit 1), the analysis' warnings, the approximate and shown-only parts (exit 0 with only
/// those), exit 2 when the file cannot be read or parsed.
pub fn check_rules(cli: &Cli) -> Result<i32> {
    let Some(fw) = firewall_or_say_why(cli) else {
        return Ok(2);
    };
    for line in crate::firewall::report::check_lines(&fw) {
        println!("{line}");
    }
    let unsupported = fw.unsupported().len();
    Ok(if unsupported > 0 { 1 } else { 0 })
}

/// The `--rules` firewall, or `None` once the reason (`FILE:LINE:COL: …`) is printed.
fn firewall_or_say_why(cli: &Cli) -> Option<crate::firewall::Firewall> {
    match load_firewall(cli, &[]) {
        Ok(fw) => fw,
        Err(e) => {
            eprintln!("{e}");
            None
        }
    }
}

/// `--rules FILE --save OUT`: the ruleset as nft syntax.
pub fn save_rules(cli: &Cli, out: &Path) -> Result<i32> {
    let Some(fw) = firewall_or_say_why(cli) else {
        return Ok(2);
    };
    let text = crate::firewall::save::to_nft(&fw.ruleset);
    if let Err(e) = std::fs::write(out, text) {
        eprintln!("{}: {e}", out.display());
        return Ok(2);
    }
    Ok(0)
}
