//! The sessions pane's state: which sessions are listed in what order, the selection, the
//! filter being typed. Rows are recomputed from the table only when it changed.

use crate::sessions::names::port_name;
use crate::sessions::{Endpoint, Session, SessionProto, SessionTable};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// Creation order (the default, like tshark's stream numbers).
    Start,
    Proto,
    A,
    B,
    State,
    Process,
    PktsAb,
    PktsBa,
    Bytes,
    Rate,
    Age,
}

impl SortKey {
    pub const ALL: [SortKey; 11] = [
        SortKey::Start,
        SortKey::Proto,
        SortKey::A,
        SortKey::B,
        SortKey::State,
        SortKey::Process,
        SortKey::PktsAb,
        SortKey::PktsBa,
        SortKey::Bytes,
        SortKey::Rate,
        SortKey::Age,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SortKey::Start => "start",
            SortKey::Proto => "proto",
            SortKey::A => "A",
            SortKey::B => "B",
            SortKey::State => "state",
            SortKey::Process => "process",
            SortKey::PktsAb => "pkts A→B",
            SortKey::PktsBa => "pkts B→A",
            SortKey::Bytes => "bytes",
            SortKey::Rate => "rate",
            SortKey::Age => "age",
        }
    }

    fn next(self) -> SortKey {
        let i = Self::ALL.iter().position(|k| *k == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }
}

/// Packets per verdict (accept, drop, reject) of each session.
/// Per session: packets accepted, dropped, rejected, and how many of those verdicts were
/// approximate.
pub type Verdicts = crate::engine::SessionVerdicts;

/// Seconds of traffic the rate column and sort look at.
pub const RATE_WINDOW_SECS: usize = 16;

pub struct SessionsView {
    /// Session ids in display order.
    pub rows: Vec<u64>,
    pub selected: Option<u64>,
    /// Row index of the first visible row.
    pub top: usize,
    pub sort: SortKey,
    pub reverse: bool,
    pub filter: String,
    /// The filter line is being edited.
    pub editing: bool,
    /// Show the selected session's detail beside the table.
    pub detail_open: bool,
    /// Also list local sockets that listen or are bound without traffic (like `ss -tulpn`).
    pub show_listening: bool,
    /// Rows on screen, set from the layout.
    pub visible_rows: usize,
    /// Table generation the rows were computed from.
    seen: Option<u64>,
}

impl Default for SessionsView {
    fn default() -> Self {
        SessionsView {
            rows: Vec::new(),
            selected: None,
            top: 0,
            sort: SortKey::Start,
            reverse: false,
            filter: String::new(),
            editing: false,
            detail_open: false,
            show_listening: false,
            visible_rows: 10,
            seen: None,
        }
    }
}

/// "addr:port" with the service name of a well-known port.
pub fn endpoint_text(proto: SessionProto, e: Endpoint) -> String {
    if !proto.has_ports() {
        return e.addr.to_string();
    }
    let base = e.to_string();
    match port_name(proto, e.port) {
        Some(n) => format!("{base} {n}"),
        None => base,
    }
}

/// Bytes per second over the recent window, for the rate column and its sort.
pub fn recent_rate(s: &Session, now_sec: i64) -> u64 {
    let v = s.rate.series(now_sec, RATE_WINDOW_SECS);
    v.iter().sum::<u64>() / RATE_WINDOW_SECS as u64
}

impl SessionsView {
    /// Forces a recompute at the next refresh (sort or filter changed).
    pub fn invalidate(&mut self) {
        self.seen = None;
    }

    /// Recomputes the rows when the table changed since the last time; says whether it did.
    pub fn refresh(&mut self, table: &SessionTable) -> bool {
        self.refresh_with(table, &Verdicts::default(), None)
    }

    /// As `refresh`, with each session's verdict counts: the filter text then also matches
    /// `accept`, `drop` and `reject` for sessions that had packets so judged.
    /// `only`: when a display filter narrows the packet list, the sessions those packets
    /// belong to (the filter applies to both panes).
    pub fn refresh_with(
        &mut self,
        table: &SessionTable,
        verdicts: &Verdicts,
        only: Option<&std::collections::HashSet<u64>>,
    ) -> bool {
        if self.seen == Some(table.generation) {
            return false;
        }
        self.seen = Some(table.generation);
        let needle = self.filter.to_lowercase();
        let now = table.now.secs();
        let mut v: Vec<&Session> = table
            .iter()
            .filter(|s| only.is_none_or(|o| o.contains(&s.id)))
            .filter(|s| {
                needle.is_empty() || {
                    let mut t = row_text(s);
                    if let Some(v) = verdicts.get(&s.id) {
                        for (n, word) in v.iter().zip(["accept", "drop", "reject", "approximate"]) {
                            if *n > 0 {
                                t.push(' ');
                                t.push_str(word);
                            }
                        }
                    }
                    t.to_lowercase().contains(&needle)
                }
            })
            .collect();
        match self.sort {
            SortKey::Start => v.sort_by_key(|s| s.id),
            SortKey::Proto => v.sort_by_key(|s| (s.proto, s.id)),
            SortKey::A => v.sort_by_key(|s| (s.a, s.id)),
            SortKey::B => v.sort_by_key(|s| (s.b, s.id)),
            SortKey::State => v.sort_by_key(|s| (s.state_name(), s.id)),
            SortKey::Process => v.sort_by_key(|s| (s.process_label(), s.id)),
            // Counters sort biggest first: that is what one looks for.
            SortKey::PktsAb => v.sort_by_key(|s| (std::cmp::Reverse(s.ab.frames), s.id)),
            SortKey::PktsBa => v.sort_by_key(|s| (std::cmp::Reverse(s.ba.frames), s.id)),
            SortKey::Bytes => v.sort_by_key(|s| (std::cmp::Reverse(s.bytes()), s.id)),
            SortKey::Rate => v.sort_by_key(|s| (std::cmp::Reverse(recent_rate(s, now)), s.id)),
            SortKey::Age => v.sort_by_key(|s| (s.first, s.id)),
        }
        if self.reverse {
            v.reverse();
        }
        self.rows = v.iter().map(|s| s.id).collect();
        if self.selected.is_none_or(|id| !self.rows.contains(&id)) {
            self.selected = self.rows.first().copied();
        }
        self.keep_in_view();
        true
    }

    pub fn selected_row(&self) -> Option<usize> {
        let id = self.selected?;
        self.rows.iter().position(|&r| r == id)
    }

    pub fn move_by(&mut self, delta: i64) {
        if self.rows.is_empty() {
            return;
        }
        let cur = self.selected_row().unwrap_or(0) as i64;
        let next = (cur + delta).clamp(0, self.rows.len() as i64 - 1) as usize;
        self.selected = Some(self.rows[next]);
        self.keep_in_view();
    }

    fn keep_in_view(&mut self) {
        let rows = self.visible_rows.max(1);
        let sel = self.selected_row().unwrap_or(0);
        if sel < self.top {
            self.top = sel;
        } else if sel >= self.top + rows {
            self.top = sel + 1 - rows;
        }
        self.top = self.top.min(self.rows.len().saturating_sub(1));
    }

    pub fn cycle_sort(&mut self) {
        self.sort = self.sort.next();
        self.reverse = false;
        self.invalidate();
    }

    pub fn reverse_sort(&mut self) {
        self.reverse = !self.reverse;
        self.invalidate();
    }
}

/// The text a filter matches against: protocol, endpoints with service names, state, process.
pub fn row_text(s: &Session) -> String {
    format!(
        "{} {} {} {} {}",
        s.proto.name(),
        endpoint_text(s.proto, s.a),
        endpoint_text(s.proto, s.b),
        s.state_name(),
        s.process_label().unwrap_or_default()
    )
}
