//! What a filter can look at for one packet.

use crate::decode::Summary;
use crate::firewall::eval::Final;

/// What a filter can look at for one packet.
#[derive(Clone, Copy, Debug)]
pub struct FilterPacket<'a> {
    pub summary: &'a Summary,
    /// The frame's captured bytes.
    pub data: &'a [u8],
    /// Frame length on the wire.
    pub len: u32,
    /// The firewall's verdict, when a ruleset is loaded.
    pub verdict: Option<Final>,
    /// The packet's session id (`sessions::SessionTable`).
    pub session: Option<u64>,
}
