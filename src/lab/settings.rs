//! What the person tunes while the generators run.

/// What the person can tune. Rate and payload apply to running generators at their next
/// message; the link settings at the next datagram through the link.
#[derive(Clone, Debug, PartialEq)]
pub struct LabSettings {
    /// Messages (datagrams, requests, connection attempts) per second, per generator.
    pub rate_per_sec: u32,
    /// Size of each echo message in bytes, sequence-number header included (at least 8 for UDP,
    /// 12 for TCP, which also carries a length).
    pub payload: usize,
    /// Lossy link: percentage of datagrams dropped (each direction).
    pub loss_pct: f64,
    /// Lossy link: percentage of the datagrams it forwards that it sends twice.
    pub dup_pct: f64,
    /// Lossy link: percentage of the datagrams it forwards that it holds back until the next one
    /// has passed (so they arrive after it).
    pub reorder_pct: f64,
    /// Lossy link: fixed delay added to every datagram, in milliseconds.
    pub delay_ms: u64,
}

impl Default for LabSettings {
    fn default() -> Self {
        LabSettings {
            rate_per_sec: 10,
            payload: 64,
            loss_pct: 10.0,
            dup_pct: 0.0,
            reorder_pct: 0.0,
            delay_ms: 0,
        }
    }
}
