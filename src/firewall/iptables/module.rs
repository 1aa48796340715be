//! The match modules of the subset (`-m NAME`): the protocol each needs and the options it takes.

/// The match modules of the subset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Module {
    Tcp,
    Udp,
    Icmp,
    Multiport,
    Conntrack,
    State,
    Comment,
    Icmp6,
    Limit,
    Recent,
    Iprange,
    Addrtype,
    Hl,
    Ttl,
    Pkttype,
    Tcpmss,
    Length,
    Dscp,
    Ecn,
    Time,
    Frag,
    Policy,
    Mark,
    Connmark,
    String,
}

impl Module {
    pub(super) fn from_name(s: &str) -> Option<Module> {
        Some(match s {
            "tcp" => Module::Tcp,
            "udp" => Module::Udp,
            "icmp" => Module::Icmp,
            "multiport" => Module::Multiport,
            "conntrack" => Module::Conntrack,
            "state" => Module::State,
            "comment" => Module::Comment,
            "icmp6" | "icmpv6" | "ipv6-icmp" => Module::Icmp6,
            "limit" => Module::Limit,
            "recent" => Module::Recent,
            "iprange" => Module::Iprange,
            "addrtype" => Module::Addrtype,
            "hl" => Module::Hl,
            "ttl" => Module::Ttl,
            "pkttype" => Module::Pkttype,
            "tcpmss" => Module::Tcpmss,
            "length" => Module::Length,
            "dscp" => Module::Dscp,
            "ecn" => Module::Ecn,
            "time" => Module::Time,
            "frag" => Module::Frag,
            "policy" => Module::Policy,
            "mark" => Module::Mark,
            "connmark" => Module::Connmark,
            "string" => Module::String,
            _ => return None,
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Module::Tcp => "tcp",
            Module::Udp => "udp",
            Module::Icmp => "icmp",
            Module::Multiport => "multiport",
            Module::Conntrack => "conntrack",
            Module::State => "state",
            Module::Comment => "comment",
            Module::Icmp6 => "icmp6",
            Module::Limit => "limit",
            Module::Recent => "recent",
            Module::Iprange => "iprange",
            Module::Addrtype => "addrtype",
            Module::Hl => "hl",
            Module::Ttl => "ttl",
            Module::Pkttype => "pkttype",
            Module::Tcpmss => "tcpmss",
            Module::Length => "length",
            Module::Dscp => "dscp",
            Module::Ecn => "ecn",
            Module::Time => "time",
            Module::Frag => "frag",
            Module::Policy => "policy",
            Module::Mark => "mark",
            Module::Connmark => "connmark",
            Module::String => "string",
        }
    }

    /// The protocol the module needs (`-m tcp` needs `-p tcp`).
    pub(super) fn proto(self) -> Option<u8> {
        match self {
            Module::Tcp => Some(6),
            Module::Udp => Some(17),
            Module::Icmp => Some(1),
            Module::Icmp6 => Some(58),
            Module::Tcpmss => Some(6),
            _ => None,
        }
    }

    pub(super) fn takes(self, opt: &str) -> bool {
        match self {
            Module::Tcp => matches!(
                opt,
                "--sport"
                    | "--source-port"
                    | "--dport"
                    | "--destination-port"
                    | "--tcp-flags"
                    | "--syn"
                    | "--tcp-option"
            ),
            Module::Udp => matches!(
                opt,
                "--sport" | "--source-port" | "--dport" | "--destination-port"
            ),
            Module::Icmp => opt == "--icmp-type",
            Module::Multiport => matches!(
                opt,
                "--sports" | "--source-ports" | "--dports" | "--destination-ports" | "--ports"
            ),
            Module::Conntrack => opt.starts_with("--ct"),
            Module::State => opt == "--state",
            Module::Comment => opt == "--comment",
            Module::Icmp6 => opt == "--icmpv6-type",
            Module::Limit => matches!(opt, "--limit" | "--limit-burst"),
            Module::Recent => matches!(
                opt,
                "--set"
                    | "--rcheck"
                    | "--update"
                    | "--remove"
                    | "--seconds"
                    | "--hitcount"
                    | "--name"
                    | "--rsource"
                    | "--rdest"
                    | "--reap"
                    | "--rttl"
                    | "--mask"
            ),
            Module::Iprange => matches!(opt, "--src-range" | "--dst-range"),
            Module::Addrtype => opt.starts_with("--"),
            Module::Hl => opt.starts_with("--hl-"),
            Module::Ttl => opt.starts_with("--ttl-"),
            Module::Pkttype => opt == "--pkt-type",
            Module::Tcpmss => opt == "--mss",
            Module::Length => opt == "--length",
            Module::Dscp => matches!(opt, "--dscp" | "--dscp-class"),
            Module::Ecn => opt.starts_with("--ecn-"),
            Module::Time => self.options().contains(&opt),
            Module::Frag | Module::Policy => self.options().contains(&opt),
            Module::Mark | Module::Connmark => opt == "--mark",
            Module::String => self.options().contains(&opt),
        }
    }

    pub(super) const ALL: [Module; 25] = [
        Module::Tcp,
        Module::Udp,
        Module::Icmp,
        Module::Multiport,
        Module::Conntrack,
        Module::State,
        Module::Comment,
        Module::Icmp6,
        Module::Limit,
        Module::Recent,
        Module::Iprange,
        Module::Addrtype,
        Module::Hl,
        Module::Ttl,
        Module::Pkttype,
        Module::Tcpmss,
        Module::Length,
        Module::Dscp,
        Module::Ecn,
        Module::Time,
        Module::Frag,
        Module::Policy,
        Module::Mark,
        Module::Connmark,
        Module::String,
    ];

    /// Every option the module has in iptables-extensions(8), spelled out (`takes` accepts
    /// some by prefix): what a misspelt option is compared with.
    pub(super) fn options(self) -> &'static [&'static str] {
        match self {
            Module::Tcp => &[
                "--sport",
                "--source-port",
                "--dport",
                "--destination-port",
                "--tcp-flags",
                "--syn",
                "--tcp-option",
            ],
            Module::Udp => &["--sport", "--source-port", "--dport", "--destination-port"],
            Module::Icmp => &["--icmp-type"],
            Module::Multiport => &[
                "--sports",
                "--source-ports",
                "--dports",
                "--destination-ports",
                "--ports",
            ],
            Module::Conntrack => &[
                "--ctstate",
                "--ctstatus",
                "--ctproto",
                "--ctorigsrc",
                "--ctorigdst",
                "--ctreplsrc",
                "--ctrepldst",
                "--ctorigsrcport",
                "--ctorigdstport",
                "--ctreplsrcport",
                "--ctrepldstport",
                "--ctexpire",
                "--ctdir",
            ],
            Module::State => &["--state"],
            Module::Comment => &["--comment"],
            Module::Icmp6 => &["--icmpv6-type"],
            Module::Limit => &["--limit", "--limit-burst"],
            Module::Recent => &[
                "--set",
                "--rcheck",
                "--update",
                "--remove",
                "--seconds",
                "--hitcount",
                "--name",
                "--rsource",
                "--rdest",
                "--reap",
                "--rttl",
                "--mask",
            ],
            Module::Iprange => &["--src-range", "--dst-range"],
            Module::Addrtype => &[
                "--src-type",
                "--dst-type",
                "--limit-iface-in",
                "--limit-iface-out",
            ],
            Module::Hl => &["--hl-eq", "--hl-lt", "--hl-gt"],
            Module::Ttl => &["--ttl-eq", "--ttl-lt", "--ttl-gt"],
            Module::Pkttype => &["--pkt-type"],
            Module::Tcpmss => &["--mss"],
            Module::Length => &["--length"],
            Module::Dscp => &["--dscp", "--dscp-class"],
            Module::Ecn => &["--ecn-tcp-cwr", "--ecn-tcp-ece", "--ecn-ip-ect"],
            Module::Time => &[
                "--datestart",
                "--datestop",
                "--timestart",
                "--timestop",
                "--monthdays",
                "--weekdays",
                "--contiguous",
                "--kerneltz",
                "--localtz",
                "--utc",
            ],
            Module::Frag => &[
                "--fragid",
                "--fraglen",
                "--fragres",
                "--fragfirst",
                "--fragmore",
                "--fraglast",
            ],
            Module::Policy => &[
                "--dir",
                "--pol",
                "--strict",
                "--reqid",
                "--spi",
                "--proto",
                "--mode",
                "--tunnel-src",
                "--tunnel-dst",
                "--next",
            ],
            Module::Mark | Module::Connmark => &["--mark"],
            Module::String => &[
                "--algo",
                "--from",
                "--to",
                "--string",
                "--hex-string",
                "--icase",
            ],
        }
    }
}
