//! What rules keep across packets besides their rate models: the elements rules put in sets
//! (`add @s { ip saddr timeout 10s }`), each with its expiry judged by the packets' own
//! timestamps, and each connection's `ct mark`.

use std::collections::HashMap;
use std::net::IpAddr;

use rustc_hash::FxBuildHasher;

/// One part of a set element's key, as read from a packet.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum KeyPart {
    Addr(IpAddr),
    Int(u64),
    Name(Box<str>),
}

#[derive(Clone, Copy, Debug)]
struct Elem {
    /// When it times out (nanoseconds of the packets' clock); never without a timeout.
    expires_ns: Option<u64>,
}

impl Elem {
    fn live(&self, now: u64) -> bool {
        self.expires_ns.is_none_or(|t| now < t)
    }
}

/// Connections whose mark is kept; past this the oldest knowledge is dropped (a simulation,
/// not a kernel: the conntrack table has its own bound).
const MAX_CONNS: usize = 1 << 20;

type Elements = HashMap<Vec<KeyPart>, Elem, FxBuildHasher>;

#[derive(Default, Debug)]
pub struct State {
    /// Per table, per set name: the elements rules put in.
    sets: HashMap<u16, HashMap<String, Elements>, FxBuildHasher>,
    /// `None`: set to what packetlab does not compute.
    ct_marks: HashMap<u64, Option<u32>, FxBuildHasher>,
}

/// What putting a key in a set did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Put {
    /// It is in the set (it was, or now is).
    In,
    /// The set is full: the kernel fails the statement, and the rule stops there.
    Full,
}

impl State {
    /// Whether rules put `key` in set `name` of table `t`, and it has not timed out by `now`.
    pub(super) fn has(&self, t: u16, name: &str, key: &[KeyPart], now: u64) -> bool {
        self.sets
            .get(&t)
            .and_then(|s| s.get(name))
            .and_then(|e| e.get(key))
            .is_some_and(|e| e.live(now))
    }

    /// `add` (`refresh` false: a key already there is left as it is) or `update` (`refresh`
    /// true: its timeout starts again). A new key takes a place only while the set holds fewer
    /// than `size` live keys.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn put(
        &mut self,
        t: u16,
        name: &str,
        key: Vec<KeyPart>,
        now: u64,
        timeout_ns: Option<u64>,
        refresh: bool,
        size: usize,
    ) -> Put {
        let els = self
            .sets
            .entry(t)
            .or_default()
            .entry(name.to_string())
            .or_default();
        let expires_ns = timeout_ns.map(|d| now.saturating_add(d));
        if let Some(e) = els.get_mut(&key).filter(|e| e.live(now)) {
            if refresh && e.expires_ns.is_some() {
                e.expires_ns = expires_ns;
            }
            return Put::In;
        }
        if els.len() >= size {
            // Timed-out keys no longer count (the kernel's garbage collection).
            els.retain(|_, e| e.live(now));
            if els.len() >= size {
                return Put::Full;
            }
        }
        els.insert(key, Elem { expires_ns });
        Put::In
    }

    pub(super) fn delete(&mut self, t: u16, name: &str, key: &[KeyPart]) {
        if let Some(els) = self.sets.get_mut(&t).and_then(|s| s.get_mut(name)) {
            els.remove(key);
        }
    }

    /// The mark of connection `conn` (0 until a rule sets one; `None`: not known).
    pub(super) fn ct_mark(&self, conn: u64) -> Option<u32> {
        self.ct_marks.get(&conn).copied().unwrap_or(Some(0))
    }

    pub(super) fn set_ct_mark(&mut self, conn: u64, mark: Option<u32>) {
        if self.ct_marks.len() >= MAX_CONNS {
            self.ct_marks.clear();
        }
        if mark == Some(0) {
            self.ct_marks.remove(&conn);
        } else {
            self.ct_marks.insert(conn, mark);
        }
    }

    /// A connection's entry was made anew: its mark starts at 0.
    pub fn forget_conn(&mut self, conn: u64) {
        self.ct_marks.remove(&conn);
    }
}
