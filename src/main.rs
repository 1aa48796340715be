use clap::Parser;

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
    let cli = packetlab::cli::Cli::parse();
    let code = packetlab::run::run(cli)?;
    std::process::exit(code);
}
