fn main() -> color_eyre::Result<()> {
    // A command-line tool piped into `head` should end quietly when the pipe closes, as C tools
    // do: Rust ignores SIGPIPE, which turns every later write into an error or a panic.
    // SAFETY: signal(2) with SIG_DFL installs no handler code; it runs before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Installed before the TUI starts, whose own panic hook restores the terminal and then
    // hands over to this one.
    color_eyre::install()?;
    let matches = <packetlab::cli::Cli as clap::CommandFactory>::command().get_matches();
    let mut cli = <packetlab::cli::Cli as clap::FromArgMatches>::from_arg_matches(&matches)?;
    // Command line > config file > built-in defaults.
    let explicit = cli.config.is_some();
    if let Some(path) = cli.config.clone().or_else(packetlab::config::default_path) {
        match packetlab::config::load(&mut cli, &matches, &path, explicit) {
            Ok(w) => cli.config_warnings = w,
            Err(e) => {
                eprintln!("packetlab: {e}");
                std::process::exit(2);
            }
        }
    }
    for w in &cli.config_warnings {
        eprintln!("packetlab: warning: {w}");
    }
    let code = packetlab::run::run(cli)?;
    std::process::exit(code);
}
