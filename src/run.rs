//! From parsed flags to a running program: which source, headless or TUI, and the exit code.

use std::io;

use color_eyre::eyre::Result;

use crate::capture::live;
use crate::cli::Cli;
use crate::cli::PrintWhat;
use crate::headless::{drive, rules};
use crate::launch::{choose_input, Input, EXIT_NOT_PERMITTED};

pub fn run(cli: Cli) -> Result<i32> {
    if let Some(shell) = cli.completions {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut cmd, "packetlab", &mut io::stdout());
        return Ok(0);
    }
    if cli.man {
        let cmd = <Cli as clap::CommandFactory>::command();
        clap_mangen::Man::new(cmd).render(&mut io::stdout())?;
        return Ok(0);
    }
    if cli.list_interfaces {
        for (n, i) in live::interfaces().iter().enumerate() {
            let addrs: Vec<String> = i.ips.iter().map(|a| a.to_string()).collect();
            println!(
                "{}. {} [{}] {}",
                n + 1,
                i.name,
                if i.is_up() { "up" } else { "down" },
                addrs.join(" ")
            );
        }
        return Ok(0);
    }
    if cli.check {
        return rules::check_rules(&cli);
    }
    if let Some(out) = &cli.save {
        return rules::save_rules(&cli, out);
    }
    if let Some(name) = &cli.lab {
        if name == "list" {
            for s in crate::scenario::all() {
                println!("{:<22} {}", s.name, s.title);
            }
            return Ok(0);
        }
        let Some(sc) = crate::scenario::find(name) else {
            eprintln!("packetlab: no lab scenario {name:?} (packetlab --lab list shows them)");
            return Ok(2);
        };
        if cli.lab_kernel && cli.print.is_some() {
            return crate::kernel_lab::print_kernel(&cli, &sc);
        }
    }
    let input = choose_input(&cli);
    if cli.print == Some(PrintWhat::Rules) && cli.rules.is_none() {
        eprintln!("packetlab: --print rules needs --rules FILE");
        return Ok(2);
    }
    if let Some(what) = cli.print {
        return match (what, input) {
            (_, Input::File { path, .. }) => drive::print_file(&cli, &path),
            (_, Input::Live { interfaces }) => drive::print_live(&cli, &interfaces),
            (_, Input::LabNet { scenario }) => crate::headless::lab::print_lab(&cli, &scenario),
            (_, Input::Nothing { reason }) => {
                eprintln!("packetlab: {reason}");
                Ok(EXIT_NOT_PERMITTED)
            }
            (_, Input::Demo { reason, .. }) => {
                eprintln!(
                    "packetlab: {}",
                    reason.unwrap_or_else(|| "live capture is not permitted".into())
                );
                Ok(EXIT_NOT_PERMITTED)
            }
        };
    }
    crate::tui::run_tui(cli, input)
}
