//! What the person sees and does: focus, selection, scroll, modes. Changed only by actions
//! (see `update/`) and by the loop feeding frames and answers; read by the UI.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use super::effect::{Effect, LabCmd};
use super::firewall_view::FirewallView;
use super::sessions_view::SessionsView;
use crate::capture::Frame;
use crate::decode::detail::Tree;
use crate::engine::Engine;
use crate::lab::LabSnapshot;
use crate::procs::SocketOwners;
use crate::store::Packet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    Sessions,
    List,
    Detail,
    Hex,
    Firewall,
    Lab,
}

/// What the packet list is narrowed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketFilterKind {
    /// One session's packets.
    Session(u64),
    /// The packets the firewall gives this verdict.
    Verdict(crate::firewall::eval::Final),
    /// The packets the display filter (`App::display_filter`) keeps.
    Display,
}

impl PacketFilterKind {
    pub fn accepts(self, p: &Packet, df: Option<&crate::filter::DisplayFilter>) -> bool {
        match self {
            PacketFilterKind::Session(id) => p.session == Some(id),
            PacketFilterKind::Verdict(v) => p.judgement.is_some_and(|j| j.verdict == v),
            PacketFilterKind::Display => df.is_some_and(|f| {
                f.matches(&crate::filter::FilterPacket {
                    summary: &p.summary,
                    data: &p.frame.data,
                    len: p.frame.orig_len,
                    verdict: p.judgement.map(|j| j.verdict),
                    session: p.session,
                })
            }),
        }
    }
}

/// The display-filter bar of the packet list, open while a filter is typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterBar {
    pub text: String,
    /// Why the text is not a filter (yet), checked at every key.
    pub error: Option<crate::filter::FilterError>,
    /// Position in the history while browsing it with Up / Down.
    pub history_pos: Option<usize>,
    /// The bar sets the search (n / N), not the filter.
    pub search: bool,
}

/// The interfaces live capture can use, to pick one.
pub struct Picker {
    pub items: Vec<PickerItem>,
    pub selected: usize,
}

pub struct PickerItem {
    pub name: String,
    pub up: bool,
    pub addrs: Vec<String>,
}

/// A session's payload shown as a conversation (follow stream).
pub struct FollowView {
    pub session: u64,
    pub follower: crate::follow::Follower,
    /// Hex dump instead of text.
    pub hex: bool,
    pub scroll: usize,
}

impl FollowView {
    /// The lines the view shows: a header per chunk, then its bytes as text or hex.
    pub fn lines(&self) -> Vec<(crate::follow::Dir, bool, String)> {
        use crate::follow::{escaped, Dir};
        let mut v = Vec::new();
        for c in &self.follower.chunks {
            let arrow = if c.dir == Dir::AtoB {
                "A → B"
            } else {
                "B → A"
            };
            v.push((
                c.dir,
                true,
                format!("{arrow}: {} bytes (packet {})", c.bytes.len(), c.no),
            ));
            if self.hex {
                for (i, row) in c.bytes.chunks(16).enumerate() {
                    let hex: Vec<String> = row.iter().map(|b| format!("{b:02x}")).collect();
                    let text: String = row
                        .iter()
                        .map(|&b| {
                            if (0x20..0x7f).contains(&b) {
                                b as char
                            } else {
                                '.'
                            }
                        })
                        .collect();
                    v.push((
                        c.dir,
                        false,
                        format!("{:06x}  {:<48} {text}", i * 16, hex.join(" ")),
                    ));
                }
            } else {
                for l in escaped(&c.bytes).lines() {
                    v.push((c.dir, false, l.to_string()));
                }
            }
        }
        v
    }
}

/// What n / N look for: a display filter when the text is one, else the text itself (in a
/// packet's Info, a session's row).
pub struct Search {
    pub text: String,
    pub filter: Option<crate::filter::DisplayFilter>,
}

impl Search {
    pub fn new(text: &str) -> Search {
        Search {
            text: text.to_string(),
            filter: crate::filter::DisplayFilter::parse(text)
                .ok()
                .filter(|f| !f.is_empty()),
        }
    }

    pub fn hits_packet(&self, p: &Packet) -> bool {
        match &self.filter {
            Some(f) => PacketFilterKind::Display.accepts(p, Some(f)),
            None => crate::decode::info::info(&p.summary, &p.frame.data)
                .to_lowercase()
                .contains(&self.text.to_lowercase()),
        }
    }
}

pub struct PacketFilter {
    pub kind: PacketFilterKind,
    /// Numbers of the kept packets that pass, ascending.
    pub matches: VecDeque<u64>,
}

/// The one-line rule editor of the firewall pane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleEditor {
    pub target: EditTarget,
    pub text: String,
    /// Why the text is not a valid rule yet ("col N: …"), checked at every key.
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditTarget {
    Replace(crate::firewall::model::RuleId),
    InsertAfter(crate::firewall::model::RuleId),
}

/// Where the packets come from, as the status bar names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Live(Vec<String>),
    File(String),
    Demo(String),
    /// The lab network of this scenario.
    LabNet(String),
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

/// How many rows of content each pane has on screen, from the layout (paging and keeping the
/// selection in view need them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaneRows {
    pub list: usize,
    pub sessions: usize,
    pub firewall: usize,
    pub detail: usize,
    pub hex: usize,
    /// Bytes each hex row shows (16, or fewer on a narrow pane).
    pub hex_row_bytes: usize,
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

/// `--lab-kernel`'s comparison as the loop last heard it.
#[derive(Clone, Debug, Default)]
pub struct KernelView {
    pub tally: crate::kernel_lab::compare::Tally,
    /// Packet number → the disagreement in words; the newest `KEEP`.
    pub differs: std::collections::BTreeMap<u64, String>,
}

impl KernelView {
    pub const KEEP: usize = 10_000;

    /// "kernel agrees 120/120", the count the firewall pane's title carries.
    pub fn title(&self) -> String {
        let t = self.tally;
        let pct = if t.compared == 0 {
            100.0
        } else {
            t.agree as f64 * 100.0 / t.compared as f64
        };
        let lost = if t.capture_lost > 0 {
            format!(", {} lost", t.capture_lost)
        } else {
            String::new()
        };
        format!(
            "kernel agrees {}/{} ({pct:.0} %){lost}",
            t.agree, t.compared
        )
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
    pub sessions: SessionsView,
    pub firewall: FirewallView,
    /// What the analysis says of the current rules (shadowed, redundant…), by rule.
    pub fw_findings: Vec<crate::firewall::analysis::Finding>,
    /// When set, the packet list shows only the packets that pass it.
    pub packet_filter: Option<PacketFilter>,
    pub rule_editor: Option<RuleEditor>,
    /// `d` asked "delete rule N? y/n": the rule it would delete, until the next key.
    pub confirm_delete: Option<crate::firewall::model::RuleId>,
    /// The rules `d` deleted, newest last, for `u` (bounded: `UNDO_DEPTH`).
    pub deleted_rules: Vec<(crate::firewall::model::RuleId, crate::firewall::model::Rule)>,
    /// The help overlay's first line shown, when it is taller than the screen.
    pub help_scroll: usize,
    /// The first error the packet source reported (a missing or damaged file): the TUI exits
    /// 1 and prints it once the terminal is restored.
    pub source_error: Option<String>,
    /// The rules in use are the starter ruleset (no `--rules`): a scenario's rules replace them.
    pub starter_rules: bool,
    /// The path line of R (load a rules file), while it is open.
    pub load_prompt: Option<String>,
    /// The display filter in force on the packet list (with `PacketFilterKind::Display`).
    pub display_filter: Option<crate::filter::DisplayFilter>,
    pub filter_bar: Option<FilterBar>,
    pub search: Option<Search>,
    /// Keys bound by the config file's `[keys]`, before the built-in ones.
    pub keymap: std::collections::HashMap<char, super::keymap::Action>,
    /// The packet list's columns, when the config file chooses them.
    pub columns: Option<Vec<String>>,
    /// Show names instead of addresses (key r).
    pub show_names: bool,
    /// Names reverse DNS found so far (a copy the event loop refreshes; empty with -n).
    pub resolved: std::collections::HashMap<std::net::IpAddr, String>,
    /// The interface picker, when open.
    pub picker: Option<Picker>,
    /// The graphs view (throughput by protocol, top talkers) is open.
    pub show_graphs: bool,
    /// Draw without colours (`NO_COLOR`).
    pub no_color: bool,
    /// The follow-stream view of a session, when open.
    pub follow_view: Option<FollowView>,
    /// Filters applied before, oldest first.
    pub filter_history: Vec<String>,
    /// The traffic lab as last seen (its generators run as tasks of the event loop), when shown.
    pub lab: Option<LabSnapshot>,
    /// The lab network's counters as last published, when it runs (`--lab NAME`).
    pub lab_net: Option<crate::vnet::run::LabSummary>,
    /// `--lab-kernel`: how the kernel's verdicts compare with the simulator's.
    pub kernel: Option<KernelView>,
    /// The rules changed since the lab network was last given them.
    pub rules_changed: bool,
    /// The lab network's WAN link as the keys set it.
    pub lab_link: crate::lab::LinkConfig,
    /// The rules are the person's (--rules, or loaded with R): another lab scenario keeps
    /// them.
    pub own_rules: bool,
    /// Why the lab's packets will not be seen, and what to do (a file is shown, or capture is
    /// not permitted); `None` when they are captured.
    pub lab_capture_hint: Option<String>,
    /// Row of the selected generator in the lab pane.
    pub lab_selected: usize,
    /// The scenario running (`--lab NAME`): what to watch.
    pub scenario: Option<crate::scenario::Scenario>,
    /// The explanation overlay: a title and paragraphs from `assets/explain.md`.
    pub explain: Option<(String, Vec<&'static str>)>,
    /// The focused pane fills the screen.
    pub maximized: bool,
    /// The newest scan of local sockets and their processes (live capture).
    pub sockets: Option<Arc<SocketOwners>>,
    /// Rows the packet list has on screen (set from the layout on resize).
    pub list_rows: usize,
    /// Rows the detail pane has on screen.
    pub detail_rows: usize,
    pub hex_rows: usize,
    /// Bytes per row of the hex view on this screen.
    pub hex_row_bytes: usize,
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
            confirm_delete: None,
            deleted_rules: Vec::new(),
            help_scroll: 0,
            source_error: None,
            detail: None,
            sessions: SessionsView::default(),
            firewall: FirewallView::default(),
            fw_findings: Vec::new(),
            packet_filter: None,
            rule_editor: None,
            starter_rules: false,
            load_prompt: None,
            display_filter: None,
            filter_bar: None,
            search: None,
            follow_view: None,
            show_graphs: false,
            picker: None,
            show_names: false,
            keymap: Default::default(),
            columns: None,
            resolved: Default::default(),
            no_color: false,
            filter_history: Vec::new(),
            explain: None,
            lab: None,
            lab_net: None,
            kernel: None,
            rules_changed: false,
            own_rules: false,
            lab_link: Default::default(),
            lab_capture_hint: None,
            lab_selected: 0,
            scenario: None,
            maximized: false,
            sockets: None,
            list_rows: 20,
            detail_rows: 10,
            hex_rows: 10,
            hex_row_bytes: 16,
            rate: RateMeter::new(),
            channel_drops: 0,
            kernel_drops: 0,
            paused_skipped: 0,
            source_done: false,
            quit: false,
        }
    }

    /// Takes in one frame: into the engine, and into the packet filter when it passes.
    /// The packet just taken disagrees with the kernel (`--lab-kernel`): kept by its number,
    /// for the packet list and the detail.
    pub fn note_differs(&mut self, why: String) {
        if let Some(k) = self.kernel.as_mut() {
            k.differs.insert(self.engine.packets, why);
            while k.differs.len() > KernelView::KEEP {
                k.differs.pop_first();
            }
        }
    }

    pub fn ingest(&mut self, frame: Frame) {
        self.ingest_with(frame, None);
    }

    /// A frame of the lab network, with the verdict its node enforced.
    pub fn ingest_enforced(
        &mut self,
        frame: Frame,
        e: Option<&crate::firewall::simulator::Enforced>,
    ) {
        self.ingest_with(frame, Some(e));
    }

    fn ingest_with(
        &mut self,
        frame: Frame,
        given: Option<Option<&crate::firewall::simulator::Enforced>>,
    ) {
        let p = match given {
            None => self.engine.ingest(frame),
            Some(e) => self.engine.ingest_enforced(frame, e),
        };
        let Some(f) = self.packet_filter.as_mut() else {
            return;
        };
        let (no, passes) = (p.no, f.kind.accepts(p, self.display_filter.as_ref()));
        let first = self.engine.store.get(0).map_or(0, |p| p.no);
        while f.matches.front().is_some_and(|&n| n < first) {
            f.matches.pop_front();
        }
        if passes {
            f.matches.push_back(no);
        }
    }

    /// Judges every kept packet again after the rules changed, and recounts per session.
    pub fn rejudge(&mut self) {
        self.rules_changed = true;
        self.engine.rejudge();
        self.analyze_rules();
        self.sessions.invalidate();
        if let Some(kind) = self.packet_filter.as_ref().map(|f| f.kind) {
            // Verdicts changed: the filtered list is computed again, selection kept.
            let (sel, follow) = (self.selected, self.follow);
            self.filter_packets(Some(kind));
            self.selected = sel;
            self.follow = follow;
        }
        if self.detail.is_some() {
            let focus = self.focus;
            self.open_detail();
            self.focus = focus;
        }
    }

    /// Recomputes the session rows if the table changed (with the verdicts, for the filter).
    pub fn refresh_sessions(&mut self) -> bool {
        let only: Option<std::collections::HashSet<u64>> = match &self.packet_filter {
            Some(f) if f.kind == PacketFilterKind::Display => Some(
                f.matches
                    .iter()
                    .filter_map(|no| self.engine.store.index_of(*no))
                    .filter_map(|i| self.engine.store.get(i)?.session)
                    .collect(),
            ),
            _ => None,
        };
        self.sessions.refresh_with(
            &self.engine.sessions,
            &self.engine.session_verdicts,
            only.as_ref(),
        )
    }

    /// Whether there is a lab pane: the loopback lab's, or the lab network's.
    pub fn shows_lab(&self) -> bool {
        self.lab.is_some() || self.lab_net.is_some()
    }

    /// Shows a scenario running on the lab network: its notice says what to watch, its
    /// explanations are at `x`, the lab pane has the focus. The network itself was started
    /// with the source.
    pub fn start_lab_network(&mut self, sc: crate::scenario::Scenario) {
        // One line at 80 columns: the scenario's name is in the lab pane's title, what it
        // shows at x.
        self.notice = Some(if self.kernel.is_some() {
            "Kernel lab: Space loads a rule change into the kernel too; ≠ where it differs"
                .to_string()
        } else {
            "Lab network: Space on a rule changes what is enforced; x explain; s S scenario"
                .to_string()
        });
        self.lab_link = crate::vnet::run::wan_link(&sc);
        // The firewall is what the person acts on; the lab pane says what to watch.
        self.focus = if self.engine.firewall.is_some() {
            Focus::Firewall
        } else {
            Focus::Lab
        };
        self.scenario = Some(sc);
    }

    /// `s`/`S` on the lab network: another scenario. Its ruleset replaces the pane's (unless
    /// the person loaded theirs with --rules or R), and the network is built anew for it.
    pub fn switch_lab_network(&mut self, sc: crate::scenario::Scenario) -> Vec<Effect> {
        if !self.own_rules {
            if let Some((file, text)) = &sc.rules {
                match crate::firewall::nft::parse(text, file) {
                    Ok(rs) => {
                        let fw =
                            crate::firewall::Firewall::new(rs, file.clone(), Default::default());
                        self.firewall.selected = 0;
                        self.firewall.move_by(&fw, 0);
                        self.engine.firewall = Some(fw);
                        self.analyze_rules();
                    }
                    Err(e) => self.errors.push(e.to_string()),
                }
            }
        }
        let rules = self.engine.firewall.as_ref().map(|f| f.ruleset.clone());
        self.rules_changed = false;
        let name = sc.name.clone();
        self.start_lab_network(sc);
        // Still in the lab pane: s again goes on to the next.
        self.focus = Focus::Lab;
        match rules {
            Some(rs) => vec![Effect::LabNetwork {
                scenario: name,
                rules: rs,
            }],
            None => Vec::new(),
        }
    }

    /// Starts a lab scenario: its settings, its ruleset (unless one is loaded), its generators
    /// (the others stop), and the notice saying what to watch. The lab itself is told by the
    /// effects returned.
    pub fn start_scenario(&mut self, sc: crate::scenario::Scenario) -> Vec<Effect> {
        let Some(lab) = self.lab.as_mut() else {
            return Vec::new();
        };
        let mut fx = vec![Effect::Lab(LabCmd::StopAll)];
        let s = &mut lab.settings;
        if let Some(r) = sc.rate {
            s.rate_per_sec = r;
        }
        if let Some(p) = sc.payload {
            s.payload = p;
        }
        if let Some(l) = sc.loss {
            s.loss_pct = l;
        }
        fx.push(Effect::Lab(LabCmd::Settings(s.clone())));
        for name in &sc.start {
            match crate::lab::GeneratorKind::from_slug(name) {
                Some(k) => fx.push(Effect::Lab(LabCmd::Start(k))),
                None => self
                    .errors
                    .push(format!("lab scenario {}: no generator {name}", sc.name)),
            }
        }
        // A scenario's rules replace the starter's, never rules the person loaded.
        let replaceable = self.engine.firewall.is_none() || self.starter_rules;
        if let (Some((file, text)), true) = (&sc.loopback_rules, replaceable) {
            match crate::firewall::nft::parse(text, file) {
                Ok(rs) => {
                    let fw = crate::firewall::Firewall::new(rs, file.clone(), Default::default());
                    self.firewall.selected = 0;
                    self.firewall.move_by(&fw, 0);
                    self.engine.firewall = Some(fw);
                    self.starter_rules = false;
                    self.rejudge();
                }
                Err(e) => self.errors.push(e.to_string()),
            }
        }
        // The previous scenario's notice gives way; another notice (the demo's) stays after it.
        let keep = self
            .notice
            .take()
            .filter(|n| !n.starts_with("Lab: "))
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let watch = sc.loopback_watch.as_deref().unwrap_or(&sc.watch);
        self.notice = Some(format!("Lab: {} — {watch}{keep}", sc.title));
        self.focus = Focus::Lab;
        self.scenario = Some(sc);
        fx
    }

    /// How an address is shown: its name when names are on and one is known.
    pub fn addr_text(&self, a: std::net::IpAddr) -> String {
        if self.show_names {
            if let Some(n) = self.engine.names.names.get(&a) {
                return n.clone();
            }
            if let Some(n) = self.resolved.get(&a) {
                return n.clone();
            }
        }
        a.to_string()
    }

    /// Opens the follow view of session `id`, from the packets still kept.
    pub fn open_follow(&mut self, id: u64) {
        let Some(s) = self.engine.sessions.get(id) else {
            return;
        };
        let mut f = crate::follow::Follower::new(s);
        for p in self.engine.store.iter().filter(|p| p.session == Some(id)) {
            f.add(p.no, &p.summary, &p.frame.data);
        }
        self.follow_view = Some(FollowView {
            session: id,
            follower: f,
            hex: false,
            scroll: 0,
        });
    }

    /// Runs the ruleset analysis again (the rules changed).
    pub fn analyze_rules(&mut self) {
        self.fw_findings = self
            .engine
            .firewall
            .as_ref()
            .map(|fw| crate::firewall::analysis::analyze(&fw.ruleset))
            .unwrap_or_default();
    }

    /// Shows only the packets passing `kind` in the list (or all again with `None`).
    pub fn filter_packets(&mut self, kind: Option<PacketFilterKind>) {
        self.sessions.invalidate();
        self.packet_filter = kind.map(|kind| PacketFilter {
            kind,
            matches: self
                .engine
                .store
                .iter()
                .filter(|p| kind.accepts(p, self.display_filter.as_ref()))
                .map(|p| p.no)
                .collect(),
        });
        self.follow = false;
        self.selected = self.view_get(0).map(|p| p.no);
        self.top = self.selected;
    }

    /// Rows in the packet list (all kept packets, or the filtered ones).
    pub fn view_len(&self) -> usize {
        match &self.packet_filter {
            Some(f) => f.matches.len(),
            None => self.engine.store.len(),
        }
    }

    /// The packet on row `i` of the list.
    pub fn view_get(&self, i: usize) -> Option<&Packet> {
        match &self.packet_filter {
            Some(f) => {
                let no = *f.matches.get(i)?;
                self.engine.store.get(self.engine.store.index_of(no)?)
            }
            None => self.engine.store.get(i),
        }
    }

    /// The row of packet `no`, if the list shows it.
    fn view_index_of(&self, no: u64) -> Option<usize> {
        match &self.packet_filter {
            Some(f) => f.matches.binary_search(&no).ok(),
            None => self.engine.store.index_of(no),
        }
    }

    /// Row of the selected packet (the newest when following or unset).
    pub fn selected_index(&self) -> Option<usize> {
        let n = self.view_len();
        if n == 0 {
            return None;
        }
        if self.follow {
            return Some(n - 1);
        }
        match self.selected {
            Some(no) => Some(self.view_index_of(no).unwrap_or_else(|| {
                // The selection was evicted from the ring: the oldest kept is the nearest.
                let first = self.view_get(0).map(|p| p.no).unwrap_or(0);
                if no < first {
                    0
                } else {
                    n - 1
                }
            })),
            None => Some(n - 1),
        }
    }

    /// Row of the list's top line, keeping the selection in view.
    pub fn top_index(&self) -> usize {
        let n = self.view_len();
        let rows = self.list_rows.max(1);
        let sel = self.selected_index().unwrap_or(0);
        if self.follow {
            return n.saturating_sub(rows);
        }
        let top = self.top.and_then(|no| self.view_index_of(no)).unwrap_or(0);
        if sel < top {
            sel
        } else if sel >= top + rows {
            sel + 1 - rows
        } else {
            top
        }
    }

    /// The screen's layout changed (start, resize, a pane opened or closed).
    pub fn fit(&mut self, rows: PaneRows) {
        self.list_rows = rows.list;
        self.sessions.visible_rows = rows.sessions;
        self.firewall.visible_rows = rows.firewall;
        self.detail_rows = rows.detail;
        self.hex_rows = rows.hex;
        self.hex_row_bytes = rows.hex_row_bytes;
    }

    /// The interface picker opens on the interfaces the loop listed (`Effect::ListInterfaces`).
    pub fn show_interfaces(&mut self, items: Vec<PickerItem>) {
        self.picker = Some(Picker { items, selected: 0 });
    }

    /// Live capture on `names` began (`Effect::Capture`, or `lo` added for the lab); `ifaces`
    /// are its interfaces' names.
    pub fn capture_started(&mut self, names: Vec<String>, ifaces: Vec<Option<String>>) {
        self.source_done = false;
        self.engine.iface_names = ifaces;
        self.source = SourceKind::Live(names);
        self.follow = true;
    }

    /// A file was written (`Effect::WriteFile`), or could not be.
    pub fn file_written(&mut self, path: &std::path::Path, done: String, r: Result<(), String>) {
        match r {
            Ok(()) => self.notice = Some(done),
            Err(e) => self.errors.push(format!("{}: {e}", path.display())),
        }
    }

    /// The addresses whose names are wanted while names are shown: the sessions' endpoints
    /// (the packet list's addresses are among them).
    pub fn addresses_for_names(&self) -> Vec<std::net::IpAddr> {
        if !self.show_names {
            return Vec::new();
        }
        let mut v: Vec<std::net::IpAddr> = self
            .sessions
            .rows
            .iter()
            .filter_map(|id| self.engine.sessions.get(*id))
            .flat_map(|s| [s.a.addr, s.b.addr])
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}
