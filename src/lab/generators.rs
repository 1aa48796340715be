//! Which generator runs for which [`GeneratorKind`]: the one place that knows them all. The
//! generators themselves know only the kit, so none of them imports this file.
//!
//! Each generator binds its sockets on 127.0.0.1 (its fixed port from [`ports`](super::ports),
//! or an ephemeral one when that is taken) when started (so a failure is reported at
//! once) and spawns its server(s) and its client as tokio tasks. Every client stops on the
//! Lab's signal, finishes the message in hand, waits briefly for answers in flight, and then
//! ends; its servers end when it does, so the last echo is never cut off by its own server
//! closing.

use super::kind::GeneratorKind;
use super::kit::{GenCtx, Started};
use super::{
    dns, http, port_scan, ssh_like, tcp_closed, tcp_echo, tcp_lossy, udp_closed, udp_echo,
    udp_lossy,
};

// What this file held before the generators had files of their own, at its old path.
pub use super::http::{http_response, parse_http_response, HttpResponse, HTTP_BODY};
pub use super::kit::{IO_TIMEOUT, LOSS_TIMEOUT, MAX_RATE};
pub use super::tcp_closed::closed_tcp_port;
pub use super::udp_closed::closed_udp_port;
pub use super::udp_echo::DRAIN;

pub(crate) fn start(kind: GeneratorKind, ctx: GenCtx) -> Result<Started, String> {
    match kind {
        GeneratorKind::UdpEcho => udp_echo::start(ctx),
        GeneratorKind::TcpEchoLong => tcp_echo::start(ctx, false),
        GeneratorKind::TcpEchoShort => tcp_echo::start(ctx, true),
        GeneratorKind::TcpClosedPort => tcp_closed::start(ctx),
        GeneratorKind::UdpClosedPort => udp_closed::start(ctx),
        GeneratorKind::HttpLike => http::start(ctx),
        GeneratorKind::Dns => dns::start(ctx),
        GeneratorKind::UdpLossy => udp_lossy::start(ctx),
        GeneratorKind::TcpLossy => tcp_lossy::start(ctx),
        GeneratorKind::SshLike => ssh_like::start(ctx),
        GeneratorKind::PortScan => port_scan::start(ctx),
    }
}
