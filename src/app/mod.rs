pub fn run_tui(_cli: crate::cli::Cli, _input: crate::run::Input) -> color_eyre::Result<i32> {
    Ok(0)
}
