use clap::Parser;

fn main() -> color_eyre::Result<()> {
    let cli = packetlab::cli::Cli::parse();
    let code = packetlab::run::run(cli)?;
    std::process::exit(code);
}
