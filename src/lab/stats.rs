//! What a generator has done so far, and how its tasks count it under one lock.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// What a generator has done so far. "Sent" and "received" are counted by the application
/// (bytes it wrote and read, messages it framed), not on the wire.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GeneratorStats {
    pub running: bool,
    pub sent_msgs: u64,
    pub sent_bytes: u64,
    /// Messages received; for the UDP echo generators each distinct message once (a second
    /// copy counts in `duplicates`), so that sent = received + lost + in flight.
    pub recv_msgs: u64,
    pub recv_bytes: u64,
    pub errors: u64,
    pub last_error: Option<String>,
    /// Messages not answered (UDP echo) or not arrived (UDP over the lossy link) within
    /// [`LOSS_TIMEOUT`](super::generators::LOSS_TIMEOUT), plus, once stopped, every one still
    /// missing (for TCP this stays 0 unless TCP itself failed).
    pub lost: u64,
    /// Messages sent less than the loss timeout ago and not answered (arrived) yet: neither
    /// received nor lost. For UDP, sent = received + lost + in flight at every moment.
    pub in_flight: u64,
    /// Messages that arrived after a later-numbered one.
    pub out_of_order: u64,
    /// Messages that arrived more than once.
    pub duplicates: u64,
    /// TCP segments sent again (TCP over the lossy link), counted from the segments the sender
    /// put on the wire.
    pub retransmissions: u64,
    /// Connections established (TCP) or connection attempts refused (closed TCP port: 0).
    pub connections: u64,
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
    /// Where its server listens, as the lab pane shows it: ":7777", or ":40123 (7777 is taken)"
    /// when its fixed port ([`ports`](super::ports)) was taken; empty before it starts.
    pub server: String,
    /// What happened last, in words, e.g. "connection refused (RST)".
    pub note: String,
}

/// Stats shared between a generator's tasks and the [`Lab`].
pub(crate) type Shared = Arc<Mutex<GeneratorStats>>;

pub(crate) fn update<T>(s: &Mutex<T>, f: impl FnOnce(&mut T)) {
    let mut g = s.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut g);
}

/// A copy of what the mutex holds; a poisoned lock still gives its last value.
pub(crate) fn read<T: Clone>(s: &Mutex<T>) -> T {
    s.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Records an error on the stats.
pub(crate) fn record_error(s: &Shared, msg: impl Into<String>) {
    let msg = msg.into();
    update(s, |st| {
        st.errors += 1;
        st.note = msg.clone();
        st.last_error = Some(msg);
    });
}

/// Counts one message of `n` bytes sent.
pub(crate) fn count_sent(stats: &Shared, n: usize) {
    update(stats, |s| {
        s.sent_msgs += 1;
        s.sent_bytes += n as u64;
    });
}
