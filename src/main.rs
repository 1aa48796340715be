use clap::Parser;

fn main() -> color_eyre::Result<()> {
    // Installed before the TUI starts, whose own panic hook restores the terminal and then
    // hands over to this one.
    color_eyre::install()?;
    let cli = packetlab::cli::Cli::parse();
    let code = packetlab::run::run(cli)?;
    std::process::exit(code);
}
