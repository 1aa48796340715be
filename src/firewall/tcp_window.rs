//! The kernel's TCP connection tracking, segment by segment: the state machine and the window
//! checks of `nf_conntrack_proto_tcp.c` (Linux 6.x, default sysctls: `be_liberal` off,
//! `nf_conntrack_tcp_loose` on, `tcp_ignore_invalid_rst` off), as far as they decide whether a
//! segment of a known connection is `invalid` and what it changes.
//!
//! The model follows the kernel's fields (per direction: highest sequence end seen `end`, the
//! right edge the peer allowed `maxend`, the largest window `maxwin`, the highest ACK `maxack`,
//! the window scale) and its four bounds (Guido van Rooij's "Real Stateful TCP Packet Filtering
//! in IP Filter", as the kernel amends it):
//!
//! 1. data may start no later than the peer's window allows: `seq ≤ sender.maxend`;
//! 2. data may end no earlier than a window's worth before what was sent: `end ≥ sender.end −
//!    receiver.maxwin` — old data further back is let through untouched, not made invalid (the
//!    kernel "ignores" it: a retransmission of what was acknowledged long ago);
//! 3. an ACK may not acknowledge what was never sent: `ack ≤ receiver.end`;
//! 4. an ACK may be at most `max(sender.maxwin, 66000)` behind: older ones are ignored too.
//!
//! A segment that breaks (1) or (3) is `invalid` and changes nothing. Window scaling counts only
//! when both SYN and SYN+ACK carried the option. A connection picked up from the middle (no SYN
//! seen, `nf_conntrack_tcp_loose=1`) is tracked liberally for good: the kernel sets
//! `IP_CT_TCP_FLAG_BE_LIBERAL` on both directions, so no window check ever fails there, only
//! the state machine. Timeouts are not modelled (nor is anything that only shortens one).
//!
//! Everything is plain integers in the connection's entry: no allocation per segment.

use crate::decode::TcpInfo;

/// What the tracker makes of a segment of a known connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// In window: the connection's state moved on.
    Accept,
    /// Let through as part of the connection, its state left as it was (the kernel's
    /// `NFCT_TCP_IGNORE` and `sIG`: old data, an old ACK, a SYN the peer will answer).
    Ignore,
    /// `ct state invalid`: out of window, or a flag the state does not allow.
    Invalid,
    /// In window, and the connection is deleted at once: an RST before any reply.
    Kill,
    /// A SYN reopening a closed or aborted connection: the entry goes and the segment starts a
    /// new one (the kernel's `-NF_REPEAT`).
    Reopen,
}

// The states (`enum tcp_conntrack`).
const NONE: u8 = 0;
const SYN_SENT: u8 = 1;
const SYN_RECV: u8 = 2;
const ESTABLISHED: u8 = 3;
const FIN_WAIT: u8 = 4;
const CLOSE_WAIT: u8 = 5;
const LAST_ACK: u8 = 6;
const TIME_WAIT: u8 = 7;
const CLOSE: u8 = 8;
const SYN_SENT2: u8 = 9;
/// Not a state: the segment is invalid (`sIV`).
const IV: u8 = 10;
/// Not a state: the segment is let through without a change (`sIG`).
const IG: u8 = 11;

// What a segment is, by its flags (`get_conntrack_index`): RST first, then SYN (with or
// without ACK), FIN, ACK.
const SYN_SET: u8 = 0;
const SYNACK_SET: u8 = 1;
const FIN_SET: u8 = 2;
const ACK_SET: u8 = 3;
const RST_SET: u8 = 4;
const NONE_SET: u8 = 5;

// Per-direction flags, with the kernel's values (they are copied between fields as a whole).
const WINDOW_SCALE: u8 = 0x01;
const SACK_PERM: u8 = 0x02;
const CLOSE_INIT: u8 = 0x04;
const BE_LIBERAL: u8 = 0x08;
const DATA_UNACKNOWLEDGED: u8 = 0x10;
const MAXACK_SET: u8 = 0x20;
// Only in `last_flags`.
const CHALLENGE_ACK: u8 = 0x40;
const SIMULTANEOUS_OPEN: u8 = 0x80;

const ORIGINAL: usize = 0;
const REPLY: usize = 1;

/// The largest window scale RFC 7323 allows; the kernel clamps to it.
const MAX_WSCALE: u8 = 14;
/// How far behind an ACK may lag before it is ignored, at least (`MAXACKWINCONST`).
const MAX_ACK_WINDOW: u32 = 66_000;

/// The next state for a segment: `[direction][index][state]`, the kernel's `tcp_conntracks`.
/// Columns: NONE, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT,
/// CLOSE, SYN_SENT2.
const NEXT: [[[u8; 10]; 6]; 2] = {
    const SS: u8 = SYN_SENT;
    const SR: u8 = SYN_RECV;
    const ES: u8 = ESTABLISHED;
    const FW: u8 = FIN_WAIT;
    const CW: u8 = CLOSE_WAIT;
    const LA: u8 = LAST_ACK;
    const TW: u8 = TIME_WAIT;
    const CL: u8 = CLOSE;
    const S2: u8 = SYN_SENT2;
    [
        // From the side that opened the connection.
        [
            [SS, SS, IG, IG, IG, IG, IG, SS, SS, S2], // SYN
            [IV, IV, SR, IV, IV, IV, IV, IV, IV, SR], // SYN+ACK
            [IV, IV, FW, FW, LA, LA, LA, TW, CL, IV], // FIN
            [ES, IV, ES, ES, CW, CW, TW, TW, CL, IV], // ACK
            [IV, CL, CL, CL, CL, CL, CL, CL, CL, CL], // RST
            [IV; 10],                                 // none of these
        ],
        // From the side that answered.
        [
            [IV, S2, IV, IV, IV, IV, IV, SS, IV, S2], // SYN
            [IV, SR, IG, IG, IG, IG, IG, IG, IG, SR], // SYN+ACK
            [IV, IV, FW, FW, LA, LA, LA, TW, CL, IV], // FIN
            [IV, IG, SR, ES, CW, CW, TW, TW, CL, IG], // ACK
            [IV, CL, CL, CL, CL, CL, CL, CL, CL, CL], // RST
            [IV; 10],                                 // none of these
        ],
    ]
};

/// `a` comes before `b` in sequence space (the kernel's `before`).
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

fn after(a: u32, b: u32) -> bool {
    before(b, a)
}

fn index(flags: u16) -> u8 {
    if flags & TcpInfo::RST != 0 {
        RST_SET
    } else if flags & TcpInfo::SYN != 0 {
        if flags & TcpInfo::ACK != 0 {
            SYNACK_SET
        } else {
            SYN_SET
        }
    } else if flags & TcpInfo::FIN != 0 {
        FIN_SET
    } else if flags & TcpInfo::ACK != 0 {
        ACK_SET
    } else {
        NONE_SET
    }
}

/// The sequence number just past the segment: SYN and FIN count one each.
fn seq_end(t: &TcpInfo, len: u32) -> u32 {
    t.seq
        .wrapping_add(len)
        .wrapping_add(u32::from(t.has(TcpInfo::SYN)))
        .wrapping_add(u32::from(t.has(TcpInfo::FIN)))
}

/// One direction's view (`struct ip_ct_tcp_state`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Side {
    end: u32,
    maxend: u32,
    maxwin: u32,
    maxack: u32,
    scale: u8,
    flags: u8,
}

impl Side {
    /// Rereads window scale and SACK-permitted from a segment's options, when it has any
    /// (`tcp_options`: a header without options leaves both as they were).
    fn options(&mut self, t: &TcpInfo) {
        if !t.options {
            return;
        }
        self.scale = 0;
        self.flags &= BE_LIBERAL;
        if t.sack_perm {
            self.flags |= SACK_PERM;
        }
        if let Some(ws) = t.wscale {
            self.scale = ws.min(MAX_WSCALE);
            self.flags |= WINDOW_SCALE;
        }
    }

    /// The widest an ACK from this side may lag (`MAXACKWINDOW`).
    fn max_ack_window(&self) -> u32 {
        self.maxwin.max(MAX_ACK_WINDOW)
    }
}

/// What `tcp_in_window` decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Window {
    Accept,
    Ignore,
    Invalid,
}

/// One connection's TCP tracking (`struct ip_ct_tcp`, with the `ASSURED` status bit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpWindow {
    seen: [Side; 2],
    state: u8,
    /// The direction and index of the last segment that moved the state (or was ignored).
    last_dir: u8,
    last_index: u8,
    /// Of the last ignored segment, or the last ACK in window: what a later one is compared to.
    last_seq: u32,
    last_ack: u32,
    last_end: u32,
    last_win: u16,
    last_wscale: u8,
    last_flags: u8,
    assured: bool,
}

impl TcpWindow {
    /// The tracking a connection's first segment starts (`tcp_new`, then the segment judged
    /// like any other), or `None` when it cannot start one: only a SYN or a bare ACK can,
    /// anything else is invalid and creates nothing.
    pub fn open(t: &TcpInfo, len: u32) -> Option<TcpWindow> {
        let mut w = TcpWindow::new(t, len)?;
        match w.segment(false, t, len, false) {
            Verdict::Invalid => None,
            _ => Some(w),
        }
    }

    fn new(t: &TcpInfo, len: u32) -> Option<TcpWindow> {
        let idx = index(t.flags);
        let next = NEXT[ORIGINAL][idx as usize][NONE as usize];
        let mut w = TcpWindow {
            last_index: NONE_SET,
            ..TcpWindow::default()
        };
        let s = &mut w.seen[ORIGINAL];
        s.end = seq_end(t, len);
        s.maxwin = u32::from(t.window).max(1);
        match next {
            SYN_SENT => {
                s.maxend = s.end;
                s.options(t);
            }
            // A bare ACK: a connection picked up in the middle, its window taken from this
            // segment, and liberal from now on in both directions.
            ESTABLISHED => {
                s.maxend = s.end.wrapping_add(s.maxwin);
                s.flags = SACK_PERM | BE_LIBERAL;
                w.seen[REPLY].flags = SACK_PERM | BE_LIBERAL;
            }
            _ => return None,
        }
        Some(w)
    }

    /// What a `reject with tcp reset` of one of its segments does to the connection at the
    /// rejecting host (`nf_ct_set_closing`): CLOSE at once, nothing else changes (the RST itself
    /// carries the entry and is not tracked).
    pub fn set_closing(&mut self) {
        self.state = CLOSE;
    }

    /// Judges a segment (`nf_conntrack_tcp_packet`) and updates the tracking. `reply`: it
    /// comes from the side that did not open the connection; `seen_reply`: that side had been
    /// heard from before (and not only by an invalid segment). `len`: payload bytes.
    pub fn segment(&mut self, reply: bool, t: &TcpInfo, len: u32, seen_reply: bool) -> Verdict {
        let dir = usize::from(reply);
        let idx = index(t.flags);
        let mut old = self.state;
        let mut next = NEXT[dir][idx as usize][old as usize];
        let mut check_window = true;
        if next == SYN_SENT && old >= TIME_WAIT {
            // A SYN on a closed connection: a new one if the old was closed properly (a FIN
            // started the close) or aborted by an RST from this same side…
            let closing = (self.seen[0].flags | self.seen[1].flags) & CLOSE_INIT != 0;
            if closing || (usize::from(self.last_dir) == dir && self.last_index == RST_SET) {
                return Verdict::Reopen;
            }
            // … else let through and remembered, like any SYN the tracker is unsure of.
            next = IG;
        }
        match next {
            IG => {
                if idx == SYNACK_SET
                    && self.last_index == SYN_SET
                    && usize::from(self.last_dir) != dir
                    && t.ack == self.last_end
                {
                    // The answer to a SYN let through unsure: both ends are in sync and the
                    // tracker was not, so it takes that SYN's values and starts over.
                    old = SYN_SENT;
                    next = SYN_RECV;
                    self.resync(dir);
                } else {
                    self.note(dir, idx, t, len);
                    if idx == SYN_SET && dir == ORIGINAL {
                        let mut opts = Side::default();
                        opts.options(t);
                        self.last_flags = opts.flags & (WINDOW_SCALE | SACK_PERM);
                        self.last_wscale = opts.scale;
                        // The peer may answer with a challenge ACK (RFC 5961), which in
                        // LAST_ACK must not be taken for the ACK of the last FIN.
                        if old == LAST_ACK {
                            self.last_flags |= CHALLENGE_ACK;
                        }
                    }
                    if old == SYN_SENT && idx == ACK_SET && dir == REPLY {
                        self.last_ack = t.ack;
                    }
                    return Verdict::Ignore;
                }
            }
            IV => return Verdict::Invalid,
            TIME_WAIT
                if old == LAST_ACK
                    && idx == ACK_SET
                    && usize::from(self.last_dir) != dir
                    && self.last_index == SYN_SET
                    && self.last_flags & CHALLENGE_ACK != 0 =>
            {
                // The challenge ACK to a SYN let through: the connection stays in LAST_ACK.
                self.last_flags &= !CHALLENGE_ACK;
                return Verdict::Ignore;
            }
            SYN_SENT2 => self.last_flags |= SIMULTANEOUS_OPEN,
            SYN_RECV
                if dir == REPLY && idx == ACK_SET && self.last_flags & SIMULTANEOUS_OPEN != 0 =>
            {
                next = ESTABLISHED;
            }
            CLOSE if idx == RST_SET => {
                let (keep_state, window) = match self.rst_check(dir, t, old, seen_reply) {
                    RstCheck::Invalid => return Verdict::Invalid,
                    RstCheck::Window { keep_state } => (keep_state, true),
                    RstCheck::Skip { keep_state } => (keep_state, false),
                };
                if keep_state {
                    next = old;
                }
                check_window = window;
            }
            _ => {}
        }
        if check_window {
            match self.in_window(dir, idx, t, len) {
                Window::Accept => {}
                Window::Ignore => return Verdict::Ignore,
                Window::Invalid => {
                    self.invalid(dir, idx);
                    return Verdict::Invalid;
                }
            }
        }
        self.last_index = idx;
        self.last_dir = dir as u8;
        self.state = next;
        if old != next && next == FIN_WAIT {
            self.seen[dir].flags |= CLOSE_INIT;
        }
        if !seen_reply {
            // "If only reply is a RST, we can consider ourselves not to have an established
            // connection": the kernel deletes it there and then.
            if t.has(TcpInfo::RST) {
                return Verdict::Kill;
            }
        } else if !self.assured && matches!(old, SYN_RECV | ESTABLISHED) && next == ESTABLISHED {
            self.assured = true;
        }
        Verdict::Accept
    }

    /// Remembers an ignored segment, to recognise the answer it gets.
    fn note(&mut self, dir: usize, idx: u8, t: &TcpInfo, len: u32) {
        self.last_index = idx;
        self.last_dir = dir as u8;
        self.last_seq = t.seq;
        self.last_end = seq_end(t, len);
        self.last_win = t.window;
    }

    /// Takes up the ignored SYN remembered in `last_*` as the start of the connection.
    fn resync(&mut self, dir: usize) {
        let l = usize::from(self.last_dir) & 1;
        let s = &mut self.seen[l];
        s.end = self.last_end;
        s.maxend = self.last_end;
        s.maxwin = u32::from(self.last_win).max(1);
        s.scale = self.last_wscale;
        self.last_flags &= !CHALLENGE_ACK;
        s.flags = self.last_flags;
        let d = &mut self.seen[dir];
        *d = Side {
            flags: d.flags & BE_LIBERAL,
            ..Side::default()
        };
    }

    /// A segment the window found invalid: an RST or FIN on an assured connection counts as the
    /// last segment seen (the kernel's `nf_tcp_handle_invalid`; the rest of it is timeouts).
    fn invalid(&mut self, dir: usize, idx: u8) {
        if !self.assured || !matches!(idx, RST_SET | FIN_SET) {
            return;
        }
        let answers =
            usize::from(self.last_dir) != dir && matches!(self.last_index, FIN_SET | RST_SET);
        if !answers {
            self.last_index = idx;
            self.last_dir = dir as u8;
        }
    }

    fn established(&self) -> bool {
        self.state == ESTABLISHED && self.assured
    }

    /// The checks an RST meets before the window (the `TCP_CONNTRACK_CLOSE` case).
    fn rst_check(&self, dir: usize, t: &TcpInfo, old: u8, seen_reply: bool) -> RstCheck {
        // Already closing: the tuple may have been reused, nothing is checked.
        if matches!(
            self.state,
            FIN_WAIT | LAST_ACK | TIME_WAIT | CLOSE | CLOSE_WAIT
        ) {
            return RstCheck::Skip { keep_state: false };
        }
        let peer = &self.seen[1 - dir];
        let mut keep_state = false;
        if peer.flags & MAXACK_SET != 0 && self.last_index != SYN_SET {
            let seq = t.seq;
            if seq == 0 && !self.established() {
                return RstCheck::Window { keep_state };
            }
            // Behind what the peer already acknowledged: not from the peer's real partner.
            if before(seq, peer.maxack) {
                return RstCheck::Invalid;
            }
            if !self.established() || seq == peer.maxack {
                return RstCheck::Window { keep_state };
            }
            // An RST right after this side's data, at its end.
            if self.last_index == ACK_SET
                && usize::from(self.last_dir) == dir
                && seq == self.last_end
            {
                return RstCheck::Window { keep_state };
            }
            // Not exactly where expected: the connection stays established (the peer may
            // answer with a challenge ACK).
            keep_state = true;
        }
        // An RST answering a segment that was let through unsure skips the window.
        if ((seen_reply && self.last_index == SYN_SET)
            || (!self.assured && self.last_index == ACK_SET))
            && t.ack == self.last_end
        {
            return RstCheck::Skip { keep_state };
        }
        if old == SYN_SENT
            && self.last_index == ACK_SET
            && usize::from(self.last_dir) == REPLY
            && t.seq == self.last_ack
        {
            return RstCheck::Skip { keep_state };
        }
        RstCheck::Window { keep_state }
    }

    /// The window checks and their updates (`tcp_in_window`).
    fn in_window(&mut self, dir: usize, idx: u8, t: &TcpInfo, len: u32) -> Window {
        let (sd, rd) = (dir, 1 - dir);
        let syn = t.has(TcpInfo::SYN);
        let has_ack = t.has(TcpInfo::ACK);
        let mut seq = t.seq;
        let mut ack = t.ack;
        let mut sack = t.ack;
        let mut win = u32::from(t.window);
        let mut end = seq_end(t, len);
        if self.seen[rd].flags & SACK_PERM != 0 {
            if let Some(edge) = t.sack {
                sack = edge;
            }
        }
        if self.seen[sd].maxwin == 0 {
            // The first segment from this side.
            if syn {
                self.init_sender(dir, t, end, win);
                if !has_ack {
                    // Simultaneous open.
                    return Window::Accept;
                }
            } else {
                // Picked up in the middle: take the window from this segment.
                let s = &mut self.seen[sd];
                s.end = end;
                let swin = win << s.scale;
                s.maxwin = swin.max(1);
                s.maxend = end.wrapping_add(s.maxwin);
                let r = &mut self.seen[rd];
                if r.maxwin == 0 {
                    // Nothing seen the other way yet: let the ACK bounds pass until then.
                    r.end = sack;
                    r.maxend = sack;
                } else if sack == r.end.wrapping_add(1) {
                    // Likely the answer to a keepalive.
                    r.end = r.end.wrapping_add(1);
                }
            }
        } else if syn && after(end, self.seen[sd].end) && matches!(self.state, SYN_SENT | SYN_RECV)
        {
            // A SYN (or SYN+ACK) again, with a later sequence number: this side restarted.
            self.init_sender(dir, t, end, win);
            if dir == REPLY && !has_ack {
                return Window::Accept;
            }
        }
        if !has_ack || (t.has(TcpInfo::RST) && ack == 0) {
            // No ACK (or a broken stack's RST+ACK with 0): as if it acknowledged all.
            ack = self.seen[rd].end;
            sack = ack;
        }
        if t.has(TcpInfo::RST) && seq == 0 && self.state == SYN_SENT {
            // The RST answering a SYN.
            seq = self.seen[sd].end;
            end = seq;
        }
        let liberal = self.seen[sd].flags & BE_LIBERAL != 0;
        let verdict = |w: Window| if liberal { Window::Accept } else { w };
        let (s, r) = (self.seen[sd], self.seen[rd]);
        if !before(seq, s.maxend.wrapping_add(1)) {
            // (1) Beyond the peer's window. Some stacks send a little more than allowed: when
            // only this fails, the end still moves, so the peer's ACK of it is in window.
            let overshot = end.wrapping_sub(s.maxend).wrapping_add(1);
            let ack_ok = after(sack, r.end.wrapping_sub(s.max_ack_window()).wrapping_sub(1));
            let in_recv_win =
                r.maxwin != 0 && after(end, s.end.wrapping_sub(r.maxwin).wrapping_sub(1));
            if in_recv_win && ack_ok && overshot <= r.maxwin && before(sack, r.end.wrapping_add(1))
            {
                let s = &mut self.seen[sd];
                s.end = end;
                s.flags |= DATA_UNACKNOWLEDGED;
                return verdict(Window::Ignore);
            }
            return verdict(Window::Invalid);
        }
        // (3) Acknowledges data never sent.
        if !before(sack, r.end.wrapping_add(1)) {
            return verdict(Window::Invalid);
        }
        // (2) Old data, already acknowledged: let through, nothing learnt.
        if r.maxwin != 0 && !after(end, s.end.wrapping_sub(r.maxwin).wrapping_sub(1)) {
            return verdict(Window::Ignore);
        }
        // (4) An ACK from long ago.
        if !after(sack, r.end.wrapping_sub(s.max_ack_window()).wrapping_sub(1)) {
            return verdict(Window::Ignore);
        }
        if !syn {
            win <<= s.scale;
        }
        let s = &mut self.seen[sd];
        let swin = win.wrapping_add(sack.wrapping_sub(ack));
        if s.maxwin < swin {
            s.maxwin = swin;
        }
        if after(end, s.end) {
            s.end = end;
            s.flags |= DATA_UNACKNOWLEDGED;
        }
        if has_ack {
            if s.flags & MAXACK_SET == 0 {
                s.maxack = ack;
                s.flags |= MAXACK_SET;
            } else if after(ack, s.maxack) {
                s.maxack = ack;
            }
        }
        let s_maxend = s.maxend;
        let r = &mut self.seen[rd];
        if r.maxwin != 0 && after(end, s_maxend) {
            r.maxwin = r.maxwin.wrapping_add(end.wrapping_sub(s_maxend));
        }
        if after(sack.wrapping_add(win), r.maxend.wrapping_sub(1)) {
            r.maxend = sack.wrapping_add(win);
            if win == 0 {
                r.maxend = r.maxend.wrapping_add(1);
            }
        }
        if ack == r.end {
            r.flags &= !DATA_UNACKNOWLEDGED;
        }
        if idx == ACK_SET {
            // What a retransmission would repeat (and an RST right after it would start at).
            self.last_dir = dir as u8;
            self.last_seq = seq;
            self.last_ack = ack;
            self.last_end = end;
            self.last_win = t.window;
        }
        Window::Accept
    }

    /// The first SYN or SYN+ACK of a side (`tcp_init_sender`): its window, and its scale when
    /// both sides offered one.
    fn init_sender(&mut self, dir: usize, t: &TcpInfo, end: u32, win: u32) {
        let s = &mut self.seen[dir];
        s.end = end;
        s.maxend = end;
        s.maxwin = win.max(1);
        s.options(t);
        if dir == REPLY
            && !(self.seen[REPLY].flags & WINDOW_SCALE != 0
                && self.seen[ORIGINAL].flags & WINDOW_SCALE != 0)
        {
            self.seen[REPLY].scale = 0;
            self.seen[ORIGINAL].scale = 0;
        }
    }
}

/// What the RST checks decide before the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RstCheck {
    /// An RST from an impostor: behind what the peer acknowledged.
    Invalid,
    /// To the window; `keep_state`: the connection stays as it is if it passes.
    Window { keep_state: bool },
    /// Straight to the state change, no window check.
    Skip { keep_state: bool },
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u16 = TcpInfo::SYN;
    const A: u16 = TcpInfo::ACK;
    const F: u16 = TcpInfo::FIN;
    const R: u16 = TcpInfo::RST;
    const P: u16 = TcpInfo::PSH;

    fn seg(flags: u16, seq: u32, ack: u32, window: u16) -> TcpInfo {
        TcpInfo {
            flags,
            seq,
            ack,
            window,
            ..TcpInfo::default()
        }
    }

    /// With options: window scale (if any), SACK-permitted.
    fn syn_opts(mut t: TcpInfo, wscale: Option<u8>, sack_perm: bool) -> TcpInfo {
        t.options = true;
        t.wscale = wscale;
        t.sack_perm = sack_perm;
        t
    }

    /// A connection as `conntrack.rs` drives it: the first segment opens it, the reply side
    /// counts as heard from once a segment of it was not invalid.
    struct Conn {
        w: TcpWindow,
        seen_reply: bool,
    }

    impl Conn {
        fn open(t: TcpInfo) -> Conn {
            Conn {
                w: TcpWindow::open(&t, 0).expect("a first segment"),
                seen_reply: false,
            }
        }

        fn orig(&mut self, t: TcpInfo, len: u32) -> Verdict {
            self.w.segment(false, &t, len, self.seen_reply)
        }

        fn reply(&mut self, t: TcpInfo, len: u32) -> Verdict {
            let v = self.w.segment(true, &t, len, self.seen_reply);
            self.seen_reply |= v != Verdict::Invalid;
            v
        }

        /// An invalid segment leaves the state and the windows as they were.
        fn invalid_orig(&mut self, t: TcpInfo, len: u32) {
            let before = self.w;
            assert_eq!(self.orig(t, len), Verdict::Invalid, "{t:?}");
            assert_eq!(
                (self.w.seen, self.w.state),
                (before.seen, before.state),
                "an invalid segment changed the state"
            );
        }
    }

    /// Client 1000 → server 5000; windows 64240 and 65160, no scaling (the server's SYN+ACK
    /// carries an MSS only).
    fn established() -> Conn {
        let mut c = Conn::open(seg(S, 1000, 0, 64240));
        let mut sa = seg(S | A, 5000, 1001, 65160);
        sa.options = true;
        assert_eq!(c.reply(sa, 0), Verdict::Accept);
        assert_eq!(c.orig(seg(A, 1001, 5001, 502), 0), Verdict::Accept);
        assert_eq!(c.w.state, ESTABLISHED);
        c
    }

    #[test]
    fn a_handshake_with_data_and_a_close() {
        let mut c = established();
        assert_eq!(c.orig(seg(P | A, 1001, 5001, 502), 100), Verdict::Accept);
        assert_eq!(c.reply(seg(A, 5001, 1101, 509), 0), Verdict::Accept);
        assert!(
            c.w.assured,
            "a valid ACK after the handshake assures the connection"
        );
        // A retransmission of the same data is still in window.
        assert_eq!(c.orig(seg(P | A, 1001, 5001, 502), 100), Verdict::Accept);
        assert_eq!(c.orig(seg(F | A, 1101, 5001, 502), 0), Verdict::Accept);
        assert_eq!(c.w.state, FIN_WAIT);
        assert_eq!(c.reply(seg(F | A, 5001, 1102, 509), 0), Verdict::Accept);
        assert_eq!(c.orig(seg(A, 1102, 5002, 502), 0), Verdict::Accept);
        assert_eq!(c.w.state, TIME_WAIT);
        // A new SYN on the same ports after a proper close starts a new connection.
        assert_eq!(c.orig(seg(S, 90_000, 0, 64240), 0), Verdict::Reopen);
    }

    #[test]
    fn an_ack_of_data_never_sent_is_invalid() {
        let mut c = established();
        c.invalid_orig(seg(A, 1001, 5002, 502), 0);
        c.invalid_orig(seg(P | A, 1001, 5001 + 70_000, 502), 10);
        // The server's side likewise.
        assert_eq!(c.reply(seg(A, 5001, 1002, 509), 0), Verdict::Invalid);
        assert_eq!(c.reply(seg(A, 5001, 1001, 509), 0), Verdict::Accept);
    }

    #[test]
    fn data_beyond_the_window_is_invalid_a_little_beyond_is_let_through() {
        let mut c = established();
        // The server allowed 1001 + 65160 (its SYN+ACK's window, unscaled).
        let edge = 1001 + 65160;
        assert_eq!(c.orig(seg(P | A, edge, 5001, 502), 10), Verdict::Accept);
        // Far past it: invalid.
        c.invalid_orig(seg(P | A, edge + 100_000, 5001, 502), 10);
        // Just past it, by less than a window: let through (some stacks overshoot), and its
        // end counts, so the server's ACK of it is not "data never sent".
        assert_eq!(
            c.orig(seg(P | A, edge + 20, 5001, 502), 10),
            Verdict::Ignore
        );
        assert_eq!(c.w.seen[ORIGINAL].end, edge + 30);
        assert_eq!(c.reply(seg(A, 5001, edge + 30, 509), 0), Verdict::Accept);
    }

    #[test]
    fn old_data_and_old_acks_are_let_through_unchanged() {
        let mut c = established();
        for _ in 0..3 {
            assert_eq!(
                c.orig(seg(P | A, c.w.seen[0].end, 5001, 502), 1000),
                Verdict::Accept
            );
        }
        // Data ending more than the server's largest window before what was sent: ignored
        // (accepted as part of the connection), never invalid.
        let far_back = 1001u32.wrapping_sub(70_000);
        let before = c.w;
        assert_eq!(
            c.orig(seg(P | A, far_back, 5001, 502), 100),
            Verdict::Ignore
        );
        assert_eq!(c.w, before);
        // An ACK more than 66000 behind the server's data: ignored too.
        let mut c = established();
        assert_eq!(c.orig(seg(A, 1001, 5001, 65000), 0), Verdict::Accept);
        assert_eq!(
            c.reply(seg(P | A, 5001, 1001, 509), 60_000),
            Verdict::Accept
        );
        assert_eq!(c.orig(seg(A, 1001, 65001, 65000), 0), Verdict::Accept);
        assert_eq!(
            c.reply(seg(P | A, 65001, 1001, 509), 60_000),
            Verdict::Accept
        );
        assert_eq!(c.orig(seg(A, 1001, 5001 + 10, 502), 0), Verdict::Ignore);
        assert_eq!(c.orig(seg(A, 1001, 125_001, 502), 0), Verdict::Accept);
    }

    #[test]
    fn rsts_are_checked_against_the_window_and_the_acked_sequence() {
        // Beyond the window: invalid, and the connection stays.
        let mut c = established();
        assert_eq!(c.reply(seg(A, 5001, 1001, 509), 0), Verdict::Accept);
        c.invalid_orig(seg(R, 1001 + 200_000, 0, 0), 0);
        // On an assured connection an invalid RST still counts as the last segment seen.
        assert_eq!((c.w.last_index, c.w.last_dir), (RST_SET, 0));
        // Behind what the server acknowledged: invalid.
        assert_eq!(c.reply(seg(R, 4000, 0, 0), 0), Verdict::Invalid);
        // At the expected sequence: the connection closes.
        assert_eq!(c.orig(seg(R, 1001, 0, 0), 0), Verdict::Accept);
        assert_eq!(c.w.state, CLOSE);
        // In window but not where expected, on an assured connection: let through, the state
        // stays established (the peer answers with a challenge ACK).
        let mut c = established();
        assert_eq!(c.orig(seg(P | A, 1001, 5001, 502), 100), Verdict::Accept);
        assert_eq!(c.reply(seg(A, 5001, 1101, 509), 0), Verdict::Accept);
        assert_eq!(c.reply(seg(R, 5001 + 300, 0, 0), 0), Verdict::Accept);
        assert_eq!(c.w.state, ESTABLISHED);
    }

    #[test]
    fn an_rst_as_the_only_answer_deletes_the_connection() {
        let mut c = Conn::open(seg(S, 1000, 0, 64240));
        assert_eq!(c.reply(seg(R | A, 0, 1001, 0), 0), Verdict::Kill);
        let mut c = Conn::open(seg(S, 1000, 0, 64240));
        assert_eq!(c.orig(seg(R, 1001, 0, 0), 0), Verdict::Kill);
    }

    #[test]
    fn the_state_machine_refuses_what_no_state_allows() {
        let mut c = Conn::open(seg(S, 1000, 0, 64240));
        assert_eq!(
            c.orig(seg(S, 1000, 0, 64240), 0),
            Verdict::Accept,
            "SYN again"
        );
        c.invalid_orig(seg(A, 1001, 0, 502), 0);
        c.invalid_orig(seg(S | A, 1001, 7, 502), 0);
        c.invalid_orig(seg(F | A, 1001, 0, 502), 0);
        // An ACK from the server before its SYN+ACK: maybe a half-open connection.
        assert_eq!(c.reply(seg(A, 7, 1001, 100), 0), Verdict::Ignore);
        let mut c = established();
        // A SYN inside an established connection is let through for the server to answer.
        assert_eq!(c.orig(seg(S, 3000, 0, 64240), 0), Verdict::Ignore);
        assert_eq!(c.w.state, ESTABLISHED);
        c.invalid_orig(seg(S | A, 1001, 5001, 502), 0);
    }

    #[test]
    fn a_syn_after_an_abort_reopens_only_from_the_side_that_aborted() {
        let mut c = established();
        assert_eq!(c.orig(seg(R | A, 1001, 5001, 0), 0), Verdict::Accept);
        assert_eq!(c.orig(seg(S, 50_000, 0, 64240), 0), Verdict::Reopen);
        let mut c = established();
        assert_eq!(c.reply(seg(R, 5001, 0, 0), 0), Verdict::Accept);
        assert_eq!(c.w.state, CLOSE);
        assert_eq!(c.orig(seg(S, 50_000, 0, 64240), 0), Verdict::Ignore);
    }

    #[test]
    fn window_scaling_counts_only_when_both_sides_offer_it() {
        let scaled = |server_ws: Option<u8>| {
            let mut c = Conn::open(syn_opts(seg(S, 1000, 0, 64240), Some(7), true));
            let sa = syn_opts(seg(S | A, 5000, 1001, 65160), server_ws, true);
            assert_eq!(c.reply(sa, 0), Verdict::Accept);
            assert_eq!(c.orig(seg(A, 1001, 5001, 502), 0), Verdict::Accept);
            // The server opens its window: 2000 << 7 = 256000 bytes when scaled.
            assert_eq!(c.reply(seg(A, 5001, 1001, 2000), 0), Verdict::Accept);
            c
        };
        let mut both = scaled(Some(7));
        assert_eq!((both.w.seen[0].scale, both.w.seen[1].scale), (7, 7));
        assert_eq!(
            both.orig(seg(P | A, 1001 + 200_000, 5001, 502), 1),
            Verdict::Accept
        );
        let mut one = scaled(None);
        assert_eq!((one.w.seen[0].scale, one.w.seen[1].scale), (0, 0));
        one.invalid_orig(seg(P | A, 1001 + 200_000, 5001, 502), 1);
        // A SYN+ACK's own window is never scaled.
        assert_eq!(one.w.seen[1].maxwin, 65160);
    }

    #[test]
    fn sack_blocks_count_as_acks() {
        let mut c = Conn::open(syn_opts(seg(S, 1000, 0, 64240), None, true));
        let sa = syn_opts(seg(S | A, 5000, 1001, 65160), None, true);
        assert_eq!(c.reply(sa, 0), Verdict::Accept);
        assert_eq!(c.orig(seg(A, 1001, 5001, 502), 0), Verdict::Accept);
        assert_eq!(c.orig(seg(P | A, 1001, 5001, 502), 100), Verdict::Accept);
        let mut sack = seg(A, 5001, 1001, 509);
        sack.sack = Some(1101);
        assert_eq!(c.reply(sack, 0), Verdict::Accept);
        sack.sack = Some(1201);
        assert_eq!(
            c.reply(sack, 0),
            Verdict::Invalid,
            "a SACK of data never sent"
        );
    }

    #[test]
    fn a_picked_up_connection_is_tracked_liberally() {
        let mut c = Conn::open(seg(A, 7_000_000, 3_000_000, 300));
        assert_eq!(c.w.state, ESTABLISHED);
        // Nothing the window would refuse is refused…
        assert_eq!(c.orig(seg(A, 100, 42, 300), 0), Verdict::Accept);
        assert_eq!(c.reply(seg(P | A, 1, 2, 300), 10), Verdict::Accept);
        assert_eq!(c.orig(seg(R, 5, 0, 0), 0), Verdict::Accept);
        // … but the state machine still is.
        let mut c = Conn::open(seg(A, 7_000_000, 3_000_000, 300));
        c.invalid_orig(seg(S | A, 7_000_000, 3_000_000, 300), 0);
    }

    #[test]
    fn only_a_syn_or_a_bare_ack_opens_a_connection() {
        for flags in [S | A, R, R | A, F | A] {
            assert!(
                TcpWindow::open(&seg(flags, 1, 1, 1), 0).is_none(),
                "{flags:#x}"
            );
        }
        assert!(TcpWindow::open(&seg(S, 1, 0, 1), 0).is_some());
        assert!(TcpWindow::open(&seg(A | P, 1, 1, 1), 5).is_some());
    }
}
