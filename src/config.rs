//! `~/.config/packetlab/config.toml` (or `$XDG_CONFIG_HOME/packetlab/config.toml`, or
//! `--config FILE`): defaults for flags and the look. Merged command line > file > built-in
//! defaults. A bad value is a warning naming the key; the built-in default is used instead.
//!
//! ```toml
//! [defaults]
//! keep = 50000            # --keep
//! max_sessions = 20000    # --max-sessions
//! format = "json"         # --format (text, json)
//! rules = "~/fw.nft"      # --rules
//! local = ["192.168.1.10"] # --local
//!
//! [ui]
//! no_color = true         # as NO_COLOR
//! columns = ["No.", "Source", "Destination", "Info"]   # the packet list's columns
//!
//! [keys]                  # action = "key" (one character), replacing the action's built-in key
//! quit = "Q"
//! explain = "?"
//!
//! [theme]                 # colour names or "#rrggbb"
//! selected_bg = "magenta"
//! drop = "#ff8800"
//! ```

use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::ArgMatches;

use crate::cli::{Cli, Format};

/// The file read when `--config` is not given.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("packetlab/config.toml"))
}

fn from_command_line(m: &ArgMatches, id: &str) -> bool {
    m.value_source(id) == Some(ValueSource::CommandLine)
}

/// Reads the config file at `path` (`explicit`: named by `--config`) into `cli`: the warnings,
/// or the error that stops packetlab (exit 2): a `--config` file that does not exist, or a
/// `rules` file the config names that cannot be loaded, said with the config's file and line
/// so the person knows where the path came from.
pub fn load(
    cli: &mut Cli,
    m: &ArgMatches,
    path: &Path,
    explicit: bool,
) -> Result<Vec<String>, String> {
    let name = path.display().to_string();
    if explicit {
        if let Err(e) = std::fs::metadata(path) {
            return Err(format!("--config {name}: {e}"));
        }
    }
    let (warn, rules) = apply_file(cli, m, path);
    if let (Some(written), Some(p)) = (rules, cli.rules.as_ref()) {
        let none = p.as_os_str() == "none" || cli.no_rules;
        if !none {
            if let Err(e) = crate::firewall::Firewall::load(p, Default::default()) {
                return Err(format!("{name}: rules = \"{written}\": {e}"));
            }
        }
    }
    Ok(warn)
}

/// Applies the file at `path` to `cli` where the command line did not set the value. Returns
/// the warnings (unknown keys, bad values), each naming the file and the key.
pub fn apply(cli: &mut Cli, m: &ArgMatches, path: &Path) -> Vec<String> {
    apply_file(cli, m, path).0
}

/// `apply`, and the `rules` value as written in the file when it is the one in use.
fn apply_file(cli: &mut Cli, m: &ArgMatches, path: &Path) -> (Vec<String>, Option<String>) {
    let mut warn = Vec::new();
    let mut rules_written = None;
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (warn, None),
        Err(e) => return (vec![format!("{name}: {e}; using the defaults")], None),
    };
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            let msg = e.message().to_string();
            let line = e
                .span()
                .map(|s| text[..s.start].lines().count().max(1))
                .unwrap_or(0);
            return (
                vec![format!("{name}:{line}: {msg}; using the defaults")],
                None,
            );
        }
    };
    let mut unknown = Vec::new();
    let mut theme: Option<crate::ui::theme::Theme> = None;
    let mut bad = |key: &str, want: &str| {
        warn.push(format!("{name}: {key}: expected {want}; using the default"));
    };
    for (section, v) in &table {
        let Some(t) = v.as_table() else {
            bad(section, "a [section]");
            continue;
        };
        for (k, v) in t {
            let key = format!("{section}.{k}");
            match (section.as_str(), k.as_str()) {
                ("defaults", "keep") => match v.as_integer() {
                    Some(n) if n > 0 => {
                        if !from_command_line(m, "keep") {
                            cli.keep = n as usize;
                        }
                    }
                    _ => bad(&key, "a positive integer"),
                },
                ("defaults", "max_sessions") => match v.as_integer() {
                    Some(n) if n > 0 => {
                        if !from_command_line(m, "max_sessions") {
                            cli.max_sessions = n as usize;
                        }
                    }
                    _ => bad(&key, "a positive integer"),
                },
                ("defaults", "format") => match v.as_str() {
                    Some("text") | Some("json") => {
                        if !from_command_line(m, "format") {
                            cli.format = if v.as_str() == Some("json") {
                                Format::Json
                            } else {
                                Format::Text
                            };
                        }
                    }
                    _ => bad(&key, "\"text\" or \"json\""),
                },
                ("defaults", "rules") => match v.as_str() {
                    Some(p) => {
                        if cli.rules.is_none() {
                            cli.rules = Some(expand_home(p));
                            rules_written = Some(p.to_string());
                        }
                    }
                    None => bad(&key, "a file path"),
                },
                ("defaults", "local") => match v.as_array() {
                    Some(a)
                        if a.iter().all(|x| {
                            x.as_str().and_then(crate::firewall::parse_local).is_some()
                        }) =>
                    {
                        if cli.locals.is_empty() {
                            cli.locals = a
                                .iter()
                                .filter_map(|x| x.as_str().map(str::to_string))
                                .collect();
                        }
                    }
                    _ => bad(&key, "a list of addresses or CIDRs"),
                },
                ("keys", action) => match v.as_str().map(|s| s.chars().collect::<Vec<_>>()) {
                    Some(c) if c.len() == 1 && crate::app::keymap::ACTION_NAMES.iter().any(|(n, _)| *n == action) => {
                        cli.keymap.push((c[0], action.to_string()));
                    }
                    Some(c) if c.len() == 1 => unknown.push(key),
                    _ => bad(&key, "one character"),
                },
                ("theme", which) => {
                    use std::str::FromStr;
                    let colour = v.as_str().and_then(|s| ratatui::style::Color::from_str(s).ok());
                    match (which, colour) {
                        ("selected_fg" | "selected_bg" | "header" | "accept" | "drop" | "reject", Some(c)) => {
                            let t = theme.get_or_insert_with(crate::ui::theme::Theme::default);
                            match which {
                                "selected_fg" => t.selected = t.selected.fg(c),
                                "selected_bg" => t.selected = t.selected.bg(c),
                                "header" => t.header = t.header.fg(c),
                                "accept" => t.accept = c,
                                "drop" => t.drop = c,
                                _ => t.reject = c,
                            }
                        }
                        ("selected_fg" | "selected_bg" | "header" | "accept" | "drop" | "reject", None) => {
                            bad(&key, "a colour (a name like \"lightred\", or \"#rrggbb\")")
                        }
                        _ => unknown.push(key),
                    }
                }
                ("ui", "columns") => match v.as_array() {
                    Some(a) if !a.is_empty() && a.iter().all(|x| x.as_str().is_some_and(|s| COLUMNS.contains(&s))) => {
                        cli.columns = Some(a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect());
                    }
                    _ => bad(&key, "a list of columns among No., Time, Source, Destination, Protocol, Verdict, Length, Info"),
                },
                ("ui", "no_color") => match v.as_bool() {
                    Some(b) => cli.no_color |= b,
                    None => bad(&key, "true or false"),
                },
                _ => unknown.push(key),
            }
        }
    }
    for key in unknown {
        warn.push(format!("{name}: {key}: unknown key, ignored"));
    }
    if let Some(t) = theme {
        crate::ui::theme::set(t);
    }
    (warn, rules_written)
}

/// The packet list's column names.
pub const COLUMNS: [&str; 8] = [
    "No.",
    "Time",
    "Source",
    "Destination",
    "Protocol",
    "Verdict",
    "Length",
    "Info",
];

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(h)) => PathBuf::from(h).join(rest),
        _ => PathBuf::from(p),
    }
}
