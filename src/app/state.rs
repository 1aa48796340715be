//! What the person sees and does: focus, selection, scroll, modes. Changed only by actions
//! (see `keys.rs`) and by the loop feeding frames; read by the UI.

use std::collections::HashSet;
use std::time::Instant;

use crate::decode::detail::Tree;
use crate::engine::Engine;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    List,
    Detail,
    Hex,
}

/// Where the packets come from, as the status bar names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Live(Vec<String>),
    File(String),
    Demo(String),
}

/// The detail tree and hex view of the selected packet, built once when it is opened.
pub struct DetailView {
    pub no: u64,
    pub tree: Tree,
    /// Index into `tree.nodes` of the highlighted node.
    pub cursor: usize,
    /// Layers (indices into `tree.nodes`) folded shut.
    pub collapsed: HashSet<usize>,
    pub scroll: usize,
    pub hex_scroll: usize,
}

impl DetailView {
    /// Indices of the nodes not hidden inside a folded layer, in order.
    pub fn visible(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.tree.nodes.len());
        let mut hidden = false;
        for (i, n) in self.tree.nodes.iter().enumerate() {
            if n.depth == 0 {
                hidden = self.collapsed.contains(&i);
                out.push(i);
            } else if !hidden {
                out.push(i);
            }
        }
        out
    }
}

/// Packets per second over the last second or so, for the status bar.
pub struct RateMeter {
    last: Instant,
    last_packets: u64,
    pub per_sec: f64,
}

impl RateMeter {
    pub fn new() -> Self {
        RateMeter {
            last: Instant::now(),
            last_packets: 0,
            per_sec: 0.0,
        }
    }

    /// Updates the rate from the packet total; returns true when the shown value changed.
    pub fn update(&mut self, packets: u64) -> bool {
        let dt = self.last.elapsed().as_secs_f64();
        if dt < 1.0 {
            return false;
        }
        let old = self.per_sec;
        self.per_sec = (packets - self.last_packets) as f64 / dt;
        self.last = Instant::now();
        self.last_packets = packets;
        (old - self.per_sec).abs() > f64::EPSILON
    }
}

impl Default for RateMeter {
    fn default() -> Self {
        Self::new()
    }
}

pub struct App {
    pub engine: Engine,
    pub source: SourceKind,
    /// A standing message under the panes (the demo notice, how to enable live capture).
    pub notice: Option<String>,
    /// Problems the sources reported; the newest is shown.
    pub errors: Vec<String>,
    pub focus: Focus,
    /// Packet number of the selected row.
    pub selected: Option<u64>,
    /// Packet number of the top row of the list when not following.
    pub top: Option<u64>,
    /// Keep the newest packet selected and in view.
    pub follow: bool,
    pub paused: bool,
    pub show_help: bool,
    pub detail: Option<DetailView>,
    /// Rows the packet list has on screen (set from the layout on resize).
    pub list_rows: usize,
    /// Rows the detail pane has on screen.
    pub detail_rows: usize,
    pub hex_rows: usize,
    pub rate: RateMeter,
    pub channel_drops: u64,
    pub kernel_drops: u64,
    /// Live packets not recorded while capture was paused.
    pub paused_skipped: u64,
    /// The source has delivered everything (end of file).
    pub source_done: bool,
    pub quit: bool,
}

impl App {
    pub fn new(engine: Engine, source: SourceKind) -> Self {
        App {
            engine,
            source,
            notice: None,
            errors: Vec::new(),
            focus: Focus::List,
            selected: None,
            top: None,
            follow: true,
            paused: false,
            show_help: false,
            detail: None,
            list_rows: 20,
            detail_rows: 10,
            hex_rows: 10,
            rate: RateMeter::new(),
            channel_drops: 0,
            kernel_drops: 0,
            paused_skipped: 0,
            source_done: false,
            quit: false,
        }
    }

    /// Index in the store of the selected packet (the newest when following or unset).
    pub fn selected_index(&self) -> Option<usize> {
        let n = self.engine.store.len();
        if n == 0 {
            return None;
        }
        if self.follow {
            return Some(n - 1);
        }
        match self.selected {
            Some(no) => Some(self.engine.store.index_of(no).unwrap_or_else(|| {
                // The selection was evicted from the ring: the oldest kept is the nearest.
                let first = self.engine.store.get(0).map(|p| p.no).unwrap_or(0);
                if no < first {
                    0
                } else {
                    n - 1
                }
            })),
            None => Some(n - 1),
        }
    }

    /// Index in the store of the list's top row, keeping the selection in view.
    pub fn top_index(&self) -> usize {
        let n = self.engine.store.len();
        let rows = self.list_rows.max(1);
        let sel = self.selected_index().unwrap_or(0);
        if self.follow {
            return n.saturating_sub(rows);
        }
        let top = self
            .top
            .and_then(|no| self.engine.store.index_of(no))
            .unwrap_or(0);
        if sel < top {
            sel
        } else if sel >= top + rows {
            sel + 1 - rows
        } else {
            top
        }
    }
}
