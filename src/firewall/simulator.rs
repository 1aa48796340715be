//! The simulator's state across packets: the ruleset, connection tracking, counters and the
//! rate models, and what each packet's judgement is.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use super::compile;
use super::conntrack::Conntrack;
use super::eval::{self, Final, Outcome, PacketView};
use super::iptables;
use super::locality::Locality;
use super::model::ct;
use super::model::{Hook, RuleId, Ruleset};
use super::nft;

use crate::decode::Summary;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    pub packets: u64,
    pub bytes: u64,
}

pub struct Firewall {
    pub ruleset: Ruleset,
    /// Where the ruleset came from, for messages.
    pub source: String,
    pub locality: Locality,
    conntrack: Conntrack,
    compiled: compile::Compiled,
    /// Fx, not SipHash: one update per matching rule of every packet, keys not chosen by
    /// an attacker (rule ids).
    pub counters: HashMap<RuleId, Counter, rustc_hash::FxBuildHasher>,
    /// Packets per final verdict: accept, drop, reject.
    pub verdicts: [u64; 3],
    /// Packets whose verdict is approximate (see `Judgement::exact`).
    pub inexact: u64,
    meters: eval::Meters,
    /// Whether any base chain runs before connection tracking (priority < -200).
    has_pre_ct: bool,
    /// Whether a rule reads the packet's time (`meta hour`…): then the zone's offset is looked
    /// up per packet.
    reads_time: bool,
    /// Some rule reads or sets `ct mark`: only then is each packet's connection numbered
    /// (a second hash of its flow).
    reads_conn: bool,
    tz: jiff::tz::TimeZone,
}

/// A judgement made by a node of the lab network on its own copy of the ruleset, carried with
/// the frame it judged to the engine that shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enforced {
    pub judgement: Judgement,
    pub hits: smallvec::SmallVec<[RuleId; 6]>,
}

/// The devices a packet is judged on: the capture's one (an observer's), or both as the
/// node that handles it knows them.
#[derive(Clone, Copy)]
enum Devices<'a> {
    Captured(Option<&'a str>),
    Known {
        iif: Option<&'a str>,
        oif: Option<&'a str>,
    },
}

/// A packet's judgement, kept with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Final,
    pub rule: Option<RuleId>,
    pub chain: Option<(u16, u16)>,
    pub ct: u8,
    /// False when the verdict depends on something not simulated exactly: a rate or quota
    /// model, an unsupported rule, a NAT chain acting on it, an interface the capture does not
    /// name.
    pub exact: bool,
}

impl Firewall {
    pub fn new(ruleset: Ruleset, source: String, locality: Locality) -> Self {
        let compiled = compile::Compiled::new(&ruleset);
        let has_pre_ct = compile::pre_ct(&ruleset);
        let reads_time = reads_time(&ruleset);
        let reads_conn = reads_conn(&ruleset);
        let tz = locality
            .tz
            .clone()
            .unwrap_or_else(|| super::clock::zone(None).unwrap_or(jiff::tz::TimeZone::UTC));
        Firewall {
            ruleset,
            source,
            locality,
            conntrack: Conntrack::default(),
            compiled,
            counters: HashMap::default(),
            verdicts: [0; 3],
            inexact: 0,
            meters: eval::Meters::default(),
            has_pre_ct,
            reads_time,
            reads_conn,
            tz,
        }
    }

    /// Loads a ruleset file: iptables-save output (it begins, after `#` comments, with a
    /// `*table`, `:CHAIN` or `-A` line), else nft syntax.
    pub fn load(path: &Path, locality: Locality) -> Result<Self, String> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
        let rs = if iptables::looks_like(&text) {
            iptables::parse(&text, &name)
        } else {
            nft::parse_file(&text, path, &name)
        }
        .map_err(|e| e.to_string())?;
        Ok(Firewall::new(rs, name, locality))
    }

    /// The rules packetlab could not simulate, with why: shown in red, counted in a banner.
    pub fn unsupported(&self) -> Vec<(RuleId, &str)> {
        self.ruleset
            .rules()
            .filter_map(|(id, r)| r.unsupported.as_ref().map(|u| (id, u.1.as_str())))
            .collect()
    }

    /// What the rules make of this packet: chains before connection tracking (they may
    /// `notrack` it), conntrack, then the hooks (through the compiled matcher), then counters.
    /// `None` for packets the IP hooks never see (ARP, pieces of a datagram). The trace of one
    /// packet is `eval::evaluate` with `trace` (the explain).
    pub fn judge(
        &mut self,
        s: &Summary,
        iface: Option<&'_ str>,
        ip_len: u32,
        ts_ns: u64,
    ) -> Option<(Judgement, Outcome)> {
        self.judge_frame(s, &[], iface, ip_len, ts_ns)
    }

    /// `judge` with the frame's bytes, which raw payload tests and `-m string` read (without
    /// them those read as unknown).
    pub fn judge_frame(
        &mut self,
        s: &Summary,
        frame: &[u8],
        iface: Option<&'_ str>,
        ip_len: u32,
        ts_ns: u64,
    ) -> Option<(Judgement, Outcome)> {
        self.judge_on(s, frame, Devices::Captured(iface), ip_len, ts_ns)
    }

    /// `judge_frame` where the node knows both devices (the lab network's router and hosts):
    /// `iif` the one it came in on (none when the node sends it), `oif` the one it leaves by
    /// (none when the node receives it).
    pub fn judge_via(
        &mut self,
        s: &Summary,
        frame: &[u8],
        (iif, oif): (Option<&'_ str>, Option<&'_ str>),
        ip_len: u32,
        ts_ns: u64,
    ) -> Option<(Judgement, Outcome)> {
        self.judge_on(s, frame, Devices::Known { iif, oif }, ip_len, ts_ns)
    }

    fn judge_on(
        &mut self,
        s: &Summary,
        frame: &[u8],
        devs: Devices<'_>,
        ip_len: u32,
        ts_ns: u64,
    ) -> Option<(Judgement, Outcome)> {
        let raw = bytes_of(s, frame);
        let src = s.src?;
        let dst = s.final_dst.or(s.dst)?;
        if !self.conntrack.sees(s) {
            return None;
        }
        let hooks = self.locality.hooks(src, dst);
        if hooks.is_empty() {
            return None;
        }
        // A forwarded packet was captured on one of its interfaces, in or out: its input
        // interface is taken to be that one, its output interface is not known.
        let forwarded = hooks.contains(&Hook::Forward);
        let iface = match devs {
            Devices::Captured(i) => i.or(self.locality.iface.as_deref()),
            Devices::Known { iif, oif } => iif.or(oif),
        };
        let mut extra = extra_of(s, ts_ns);
        extra.dst_local = hooks.contains(&Hook::Input);
        extra.utc_off = self.utc_offset(ts_ns);
        let mut pre = None;
        if self.has_pre_ct {
            let mut view = view_of(s, ct::INVALID, iface, ip_len, extra)?;
            view.raw = raw;
            set_devs(&mut view, devs, forwarded);
            let out = self.compiled.walk(
                &self.ruleset,
                hooks,
                eval::Seg::PreCt,
                &view,
                Some(&mut self.meters),
            );
            pre = Some(out);
        }
        let dropped_early = pre.as_ref().is_some_and(|o| o.verdict != Final::Accept);
        let notrack = pre.as_ref().is_some_and(|o| o.notrack);
        let mut ct = ct::INVALID;
        let mut rejected_reply = false;
        let out = if dropped_early {
            // Dropped before conntrack: no connection is created.
            pre.take()?
        } else {
            ct = if notrack {
                ct::UNTRACKED
            } else {
                self.conntrack.observe(s)?
            };
            if ct == ct::INVALID {
                if let Some((p, reset)) = self.conntrack.answered(s) {
                    let fw = (&mut self.compiled, &self.ruleset, &self.locality);
                    if rejects_at_output(fw, &p, reset, iface, ip_len, extra) {
                        ct = ct::RELATED;
                        // The answer to the host's own new packet comes back the reply way.
                        rejected_reply = true;
                    }
                }
            }
            // `ct mark` is kept per connection, from 0 when its entry is made; `meta mark`
            // goes on from the chains before conntrack.
            if self.reads_conn {
                extra.conn = self.conntrack.conn_key(s).map(|(k, fresh)| {
                    if fresh {
                        self.meters.forget_conn(k);
                    }
                    k
                });
            }
            extra.mark = pre.as_ref().map_or(0, |o| o.mark.unwrap_or(0));
            if !notrack {
                extra.ct_dir = if rejected_reply {
                    super::conntrack::Dir::Reply
                } else {
                    self.conntrack.direction()
                };
            }
            let mut view = view_of(s, ct, iface, ip_len, extra)?;
            view.raw = raw;
            set_devs(&mut view, devs, forwarded);
            let seg = if self.has_pre_ct {
                eval::Seg::PostCt
            } else {
                eval::Seg::All
            };
            let out = self
                .compiled
                .walk(&self.ruleset, hooks, seg, &view, Some(&mut self.meters));
            if out.verdict != Final::Accept && !notrack && !confirmed_before(hooks, out.hook) {
                self.conntrack.unconfirm(s);
            }
            if out.verdict == Final::Reject && !notrack {
                let reset = out
                    .rule
                    .and_then(|id| self.ruleset.rule(id))
                    .is_some_and(resets);
                self.conntrack.rejected(s, reset);
            }
            match pre.take() {
                Some(p) => p.then(out),
                None => out,
            }
        };
        for id in &out.hits {
            let c = self.counters.entry(*id).or_default();
            c.packets += 1;
            c.bytes += ip_len as u64;
        }
        let mut out = out;
        // A live capture's timestamps are its own clock's, not the kernel's at the hook.
        if self.reads_time && self.locality.live {
            out.exact = false;
        }
        self.verdicts[out.verdict as usize] += 1;
        self.inexact += u64::from(!out.exact);
        let j = Judgement {
            verdict: out.verdict,
            rule: out.rule,
            chain: out.chain,
            ct,
            exact: out.exact,
        };
        Some((j, out))
    }

    /// Counts a judgement made elsewhere (by a node of the lab network, on its own copy of
    /// this ruleset) as if this firewall had made it: the pane's counters then show what the
    /// network enforced.
    pub fn count(&mut self, j: &Judgement, hits: &[RuleId], ip_len: u32) {
        for id in hits {
            let c = self.counters.entry(*id).or_default();
            c.packets += 1;
            c.bytes += ip_len as u64;
        }
        self.verdicts[j.verdict as usize] += 1;
        self.inexact += u64::from(!j.exact);
    }

    /// The zone's offset from UTC at `ts_ns` when a rule reads the time (else 0): what
    /// `Extra::utc_off` holds for a packet judged then.
    pub fn utc_offset(&self, ts_ns: u64) -> i32 {
        if self.reads_time {
            super::clock::offset(&self.tz, ts_ns)
        } else {
            0
        }
    }

    /// Forgets every verdict, counter and tracked connection: before judging the packets again
    /// after the rules changed.
    pub fn reset(&mut self) {
        self.conntrack = Conntrack::default();
        self.counters.clear();
        self.verdicts = [0; 3];
        self.inexact = 0;
        self.meters = eval::Meters::default();
    }

    /// Call after rules were moved, added, removed or edited (not needed for toggles).
    pub fn rules_changed(&mut self) {
        self.compiled.rebuild(&self.ruleset);
        self.has_pre_ct = compile::pre_ct(&self.ruleset);
        self.reads_time = reads_time(&self.ruleset);
        self.reads_conn = reads_conn(&self.ruleset);
    }

    pub fn rule_text(&self, id: RuleId) -> Option<&str> {
        self.ruleset.rule(id).map(|r| r.origin.text.as_str())
    }

    pub fn rule_line(&self, id: RuleId) -> Option<u32> {
        self.ruleset.rule(id).map(|r| r.origin.line)
    }

    pub fn chain_name(&self, (t, c): (u16, u16)) -> String {
        let table = &self.ruleset.tables[t as usize];
        format!(
            "{} {} {}",
            table.family.name(),
            table.name,
            table.chains[c as usize].name
        )
    }
}

/// The devices a node knows replace the capture's one; a forwarded packet's output device
/// is not known from a capture.
fn set_devs<'a>(view: &mut PacketView<'a>, devs: Devices<'a>, forwarded: bool) {
    match devs {
        Devices::Known { iif, oif } => {
            view.iif = iif;
            view.oif = oif;
        }
        Devices::Captured(_) if forwarded => view.oif = None,
        Devices::Captured(_) => {}
    }
}

/// Whether `p`, the packet an RST or ICMP error answers whose flow conntrack does not know, is
/// one a `reject` at output answered — rejected before the wire, so the capture never shows
/// it: it meets the output hook and a rule rejects it the same way (TCP reset or ICMP). The
/// kernel attaches such an answer to the rejected packet's entry, so it is `related` though
/// nothing confirmed that entry. Judged as a new connection's packet, without counting, every
/// rate within its limit.
fn rejects_at_output(
    (compiled, rs, locality): (&mut compile::Compiled, &Ruleset, &Locality),
    p: &Summary,
    reset: bool,
    iface: Option<&str>,
    ip_len: u32,
    extra: eval::Extra,
) -> bool {
    let (Some(src), Some(dst)) = (p.src, p.dst) else {
        return false;
    };
    if !locality.hooks(src, dst).contains(&Hook::Output) {
        return false;
    }
    let Some(view) = view_of(p, ct::NEW, iface, ip_len, extra) else {
        return false;
    };
    let out = compiled.walk(rs, &[Hook::Output], eval::Seg::All, &view, None);
    out.verdict == Final::Reject && out.rule.and_then(|id| rs.rule(id)).is_some_and(resets) == reset
}

/// Whether a rejecting rule answers with a TCP reset (else an ICMP error).
fn resets(r: &super::model::Rule) -> bool {
    r.reject_with
        .as_ref()
        .is_some_and(|(w, _)| w.contains("tcp reset"))
}

/// Whether conntrack had confirmed the packet's connection before the hook that dropped it.
/// Confirmation comes last on postrouting for what the host sends, last on input for what it
/// receives: a packet the host sends itself crosses output and postrouting (confirmed there)
/// before prerouting and input, so a drop at those leaves its entry — an answer to it is
/// established, an ICMP error quoting it related.
fn confirmed_before(hooks: &[Hook], decided: Option<Hook>) -> bool {
    let Some(at) = decided.and_then(|h| hooks.iter().position(|x| *x == h)) else {
        return false;
    };
    hooks[..at].contains(&Hook::Postrouting)
}

/// Whether any rule reads the packet's time (`meta hour`, `meta day`, `meta time`).
fn reads_time(rs: &Ruleset) -> bool {
    rs.rules().any(|(_, r)| {
        r.matches.iter().any(|m| {
            m.fields()
                .any(|f| matches!(f, super::model::Field::Time(_)))
        })
    })
}

/// Whether some rule reads `ct mark` or sets or restores it.
fn reads_conn(rs: &Ruleset) -> bool {
    use super::model::{Effect, Field, MarkSrc};
    let reads = |f: Field| f == Field::CtMark;
    rs.rules().any(|(_, r)| {
        r.matches.iter().any(|m| m.fields().any(reads))
            || r.vmap
                .as_ref()
                .is_some_and(|v| reads(v.field) || v.more.iter().copied().any(reads))
            || r.effects.iter().any(|(_, e)| match e {
                Effect::Mark { ct, expr } => *ct || matches!(expr.src, MarkSrc::Ct | MarkSrc::XtCt),
                _ => false,
            })
    })
}

/// The less-read fields of a packet, from its summary.
pub fn extra_of(s: &Summary, ts_ns: u64) -> eval::Extra {
    let dst = s.final_dst.or(s.dst);
    let pkttype = match (s.eth_dst, dst) {
        (Some([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), _) => 1,
        (_, Some(IpAddr::V4(a))) if a.is_broadcast() => 1,
        (Some(m), _) if m[0] & 1 == 1 => 2,
        (_, Some(a)) if a.is_multicast() => 2,
        _ => 0,
    };
    eval::Extra {
        ttl: s.ttl,
        ip6_nexthdr: s.ipv6_nxt,
        mss: s.tcp.and_then(|t| t.mss),
        pkttype,
        icmp_code: s.icmp.or(s.icmpv6).map(|i| i.code),
        dst_local: false,
        ts_ns,
        mark: 0,
        conn: None,
        ip: Some(s.ip),
        reassembled: s.frag.is_some(),
        utc_off: 0,
        ct_dir: Default::default(),
    }
}

/// The packet as rules see it, from its decoded summary.
/// The IP packet's bytes within `frame`, as `s` located them (none when `frame` is empty or
/// does not hold them).
pub fn bytes_of<'a>(s: &Summary, frame: &'a [u8]) -> eval::Bytes<'a> {
    let (at, end) = (s.ip_at.0 as usize, s.ip_at.1 as usize);
    let Some(ip) = frame.get(at..end).filter(|b| !b.is_empty()) else {
        return eval::Bytes::default();
    };
    let rel = |o: u32| {
        (o as usize)
            .checked_sub(at)
            .filter(|&o| o > 0 && o <= ip.len())
    };
    let th = rel(s.l4_at).unwrap_or(0) as u32;
    let ih = if th > 0 && s.payload.0 > 0 {
        rel(s.payload.0).unwrap_or(0) as u32
    } else {
        0
    };
    eval::Bytes {
        ip,
        th,
        ih,
        whole: ip.len() as u64 >= u64::from(s.ip_len),
    }
}

pub fn view_of<'a>(
    s: &Summary,
    ct: u8,
    iface: Option<&'a str>,
    ip_len: u32,
    extra: eval::Extra,
) -> Option<PacketView<'a>> {
    let src = s.src?;
    let dst = s.final_dst.or(s.dst)?;
    // The ports of the packet an ICMP error quotes are not this packet's ports.
    let (sport, dport) = if s.quoted {
        (None, None)
    } else {
        (s.sport, s.dport)
    };
    Some(PacketView {
        v6: src.is_ipv6(),
        src,
        dst,
        l4: s.ip_proto,
        sport,
        dport,
        tcp_flags: s.tcp.map(|t| (t.flags & 0xff) as u8),
        icmp_type: s.icmp.map(|i| i.typ),
        icmpv6_type: s.icmpv6.map(|i| i.typ),
        iif: iface,
        oif: iface,
        ct,
        len: ip_len,
        extra,
        raw: eval::Bytes::default(),
    })
}
