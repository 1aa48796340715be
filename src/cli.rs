//! Command-line flags, tshark-like where tshark has the same idea.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "packetlab",
    version,
    about = "A terminal packet lab: watch packets and sessions live, browse capture files, print them headless.",
    long_about = "A terminal packet lab.\n\n\
        With no arguments it captures live on the default interface when permitted, otherwise it \
        opens the bundled demo capture and tells how to enable live capture.\n\n\
        Keys in the TUI: press ? for the full list. NO_COLOR=1 turns the colours off."
)]
pub struct Cli {
    /// Capture live on this interface (repeat for several). Without -i and -r, packetlab picks the
    /// interface of the default route, else the first one up, else lo.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interfaces: Vec<String>,

    /// Read packets from a pcap or pcapng file; `-` reads a stream from stdin
    /// (e.g. `tcpdump -U -w - | packetlab -r -`).
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        conflicts_with = "interfaces"
    )]
    pub read: Option<PathBuf>,

    /// Write every captured packet to this pcapng file (Wireshark and tshark read it).
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// Stop after this many packets.
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,

    /// Display filter (Wireshark syntax subset, like tshark -Y): only matching packets are
    /// printed by `--print packets`, numbered as in the capture. E.g. `tcp.port in {80, 443}`,
    /// `ip.addr == 10.0.0.0/8 && !dns`, `verdict == drop`.
    #[arg(short = 'Y', long = "filter", value_name = "EXPR")]
    pub filter: Option<String>,

    /// Keep the last N packets (with their bytes) for browsing; older ones are dropped and counted.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub keep: usize,

    /// Track at most N sessions; beyond that the idle and closed ones are evicted first (counted).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_sessions: usize,

    /// Load a firewall ruleset (nft syntax or iptables-save output) and judge every packet.
    /// Without it the TUI opens with the starter ruleset (assets/rules/starter.nft);
    /// `--rules none` starts without any.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// Start the TUI without a firewall (no starter ruleset); the same as `--rules none`.
    #[arg(long, conflicts_with = "rules")]
    pub no_rules: bool,

    /// An address or CIDR of the simulated host (repeatable): packets to it meet the input
    /// chains, from it output, others forward. Live capture adds this machine's addresses.
    /// Without any, packets of a file meet input.
    #[arg(long = "local", value_name = "CIDR")]
    pub locals: Vec<String>,

    /// The interface name of packets whose file does not name one (classic pcap), for rules
    /// testing `iifname`/`oifname`/`iif`/`oif`. pcapng files and live captures name their own.
    #[arg(long, value_name = "NAME")]
    pub iface: Option<String>,

    /// The time zone `meta hour`, `meta day`, `meta time` (and iptables' `-m time --kerneltz`)
    /// judge packet timestamps in: an IANA name (Europe/Berlin) or UTC. Default: the
    /// machine's (TZ, else /etc/localtime).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,

    /// Write the --rules ruleset as nft syntax to FILE (what `nft -c -f` accepts: defines, sets
    /// and comments kept, toggled-off rules as `# disabled:` lines) and exit.
    #[arg(long, value_name = "FILE", requires = "rules")]
    pub save: Option<PathBuf>,

    /// The session `--print follow` follows (its id, as `--print sessions` numbers it).
    #[arg(long, value_name = "N")]
    pub session: Option<u64>,

    /// Check the --rules file and exit: every rule packetlab cannot simulate
    /// (`FILE:LINE:COL: unsupported: …`), shadowed, redundant and never-matching rules,
    /// unreachable chains, what is approximate or shown only. Exit 0 when the whole file is
    /// understood (warnings only), 1 when a rule is unsupported, 2 when unreadable or unparsable.
    #[arg(long, requires = "rules")]
    pub check: bool,

    /// Print instead of opening the TUI: `packets` one line (or JSON object) per packet,
    /// `sessions` the session table at the end of input (or on Ctrl-C), `stats` totals.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub print: Option<PrintWhat>,

    /// Output format of --print.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Replay a file (-r) at the pace it was captured instead of all at once.
    #[arg(long)]
    pub pace: bool,

    /// Open the bundled demo capture (replayed at its original pace) even when live capture works.
    #[arg(long, conflicts_with_all = ["read", "interfaces"])]
    pub demo: bool,

    /// Start a lab scenario on the lab network (`--lab list` lists them): hosts, a router and
    /// a firewall inside packetlab, no privilege needed; with --print, headless.
    #[arg(long, value_name = "SCENARIO")]
    pub lab: Option<String>,

    /// Run the lab scenario's loopback generators instead (the kernel's own stack, captured
    /// live when permitted).
    #[arg(long, requires = "lab")]
    pub lab_loopback: bool,

    /// With root: the lab network's topology as network namespaces (packetlab-*), the ruleset
    /// loaded with nft, real kernel sockets; each packet the kernel's router received shown
    /// with the simulator's verdict and the kernel's, every node's rule counters compared
    /// (in the TUI, or headless with --print).
    #[arg(long, requires = "lab", conflicts_with = "lab_loopback")]
    pub lab_kernel: bool,

    /// Headless lab: how many seconds of lab time to run (the lab's clock, not the wall's:
    /// a run takes far less).
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    pub lab_seconds: f64,

    /// No reverse DNS lookups (names learned from DNS answers in the traffic are still shown
    /// when names are on, key r).
    #[arg(short = 'n', long = "no-resolve")]
    pub no_resolve: bool,

    /// Read defaults from this file instead of ~/.config/packetlab/config.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Draw without colours (set by NO_COLOR or the config file's ui.no_color).
    #[arg(skip)]
    pub no_color: bool,

    /// Keys the config file binds: (key, action name).
    #[arg(skip)]
    pub keymap: Vec<(char, String)>,

    /// The packet list's columns, when the config file chooses them.
    #[arg(skip)]
    pub columns: Option<Vec<String>>,

    /// What was wrong in the config file (shown, then the defaults are used).
    #[arg(skip)]
    pub config_warnings: Vec<String>,

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) and exit.
    #[arg(long, value_name = "SHELL")]
    pub completions: Option<clap_complete::Shell>,

    /// Print the manual page (roff; `packetlab --man | man -l -`) and exit.
    #[arg(long)]
    pub man: bool,

    /// List the interfaces live capture can use, and exit.
    #[arg(short = 'D', long = "list-interfaces")]
    pub list_interfaces: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrintWhat {
    /// One line per packet (tshark-like), or one JSON object per packet with --format json.
    Packets,
    /// The TCP/UDP/ICMP sessions at the end of input (on Ctrl-C when live).
    Sessions,
    /// Totals at the end: packets, bytes, malformed packets, packets per protocol.
    Stats,
    /// Every rule of --rules with its packet and byte counters, at the end.
    Rules,
    /// The payload of the session --session N, in order, each direction apart (follow stream).
    Follow,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Human-readable lines.
    Text,
    /// JSON lines: one object per line.
    Json,
}
