//! pcap and pcapng reading, from a file or a stream (stdin).
//!
//! Hand-written rather than taken from `pcap-file`: its 2.0 release reads every pcapng timestamp as
//! nanoseconds whatever `if_tsresol` says (most pcapng files are in microseconds), and the reader
//! here needs three things the crate does not give together: zero-copy frames borrowed from one
//! reusable buffer (no allocation per packet on the hot path), reads that return as soon as a whole
//! record has arrived (so `tcpdump -U -w - | packetlab -r -` is live), and errors that name the file
//! and the packet number.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::{FrameRef, Interface, LinkType, Timestamp};

/// Largest record accepted; anything bigger is a corrupt length field, not a packet.
const MAX_RECORD: usize = 64 * 1024 * 1024;
const BUF_SIZE: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{file}: {source}")]
    Io { file: String, source: io::Error },
    #[error("{file}: not a pcap or pcapng file (magic {magic:02x?})")]
    NotACapture { file: String, magic: [u8; 4] },
    #[error("{file}: unsupported pcap version {major}.{minor} (only 2.x exists)")]
    PcapVersion {
        file: String,
        major: u16,
        minor: u16,
    },
    #[error("{file}: unsupported pcapng section version {major}.{minor} (only 1.x exists)")]
    PcapngVersion {
        file: String,
        major: u16,
        minor: u16,
    },
    #[error(
        "{file}: damaged or corrupt: {what} (after packet {after_packet}, byte offset {offset})"
    )]
    Corrupt {
        file: String,
        what: String,
        after_packet: u64,
        offset: u64,
    },
    #[error("{file}: cut short in the middle of packet {packet} (byte offset {offset})")]
    Truncated {
        file: String,
        packet: u64,
        offset: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
}

#[derive(Clone, Copy, Debug)]
struct IfaceTime {
    /// Timestamp units per second, from `if_tsresol` (default 10^6).
    units_per_sec: u64,
    offset_secs: i64,
}

enum Kind {
    Pcap {
        big_endian: bool,
        nanos: bool,
        link: LinkType,
    },
    PcapNg {
        big_endian: bool,
        times: Vec<IfaceTime>,
    },
}

/// Reads frames one at a time from any byte stream. Frames borrow the internal buffer.
pub struct CaptureReader {
    name: String,
    src: Box<dyn Read + Send>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Bytes consumed before `buf[start]`, for error messages.
    consumed: u64,
    packets: u64,
    kind: Kind,
    interfaces: Vec<Interface>,
    /// Packets the file's interface statistics say the capturing kernel dropped.
    pub reported_drops: u64,
}

fn rd16(b: &[u8], big: bool) -> u16 {
    let a = [b[0], b[1]];
    if big {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}

fn rd32(b: &[u8], big: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if big {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

impl CaptureReader {
    /// Opens `path`, or stdin when `path` is `-`.
    pub fn open(path: &Path) -> Result<Self, ReadError> {
        let name = path.display().to_string();
        if name == "-" {
            return Self::new("stdin".into(), Box::new(io::stdin()));
        }
        let f = File::open(path).map_err(|source| ReadError::Io {
            file: name.clone(),
            source,
        })?;
        Self::new(name, Box::new(f))
    }

    pub fn new(name: String, src: Box<dyn Read + Send>) -> Result<Self, ReadError> {
        let mut r = CaptureReader {
            name,
            src,
            buf: vec![0; BUF_SIZE],
            start: 0,
            end: 0,
            eof: false,
            consumed: 0,
            packets: 0,
            kind: Kind::Pcap {
                big_endian: false,
                nanos: false,
                link: LinkType::ETHERNET,
            },
            interfaces: Vec::new(),
            reported_drops: 0,
        };
        r.read_header()?;
        Ok(r)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn format(&self) -> Format {
        match self.kind {
            Kind::Pcap { .. } => Format::Pcap,
            Kind::PcapNg { .. } => Format::PcapNg,
        }
    }

    /// Interfaces declared so far (pcap: exactly one).
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    pub fn packets_read(&self) -> u64 {
        self.packets
    }

    fn io_err(&self, source: io::Error) -> ReadError {
        ReadError::Io {
            file: self.name.clone(),
            source,
        }
    }

    fn corrupt(&self, what: impl Into<String>) -> ReadError {
        ReadError::Corrupt {
            file: self.name.clone(),
            what: what.into(),
            after_packet: self.packets,
            offset: self.consumed,
        }
    }

    /// Makes `n` bytes available at `buf[start..]`. Returns false at a clean end of stream with
    /// fewer bytes buffered. Reads only as much as needed so a live stream is not held back.
    fn fill(&mut self, n: usize) -> Result<bool, ReadError> {
        if n > MAX_RECORD {
            return Err(self.corrupt(format!("record of {n} bytes")));
        }
        while self.end - self.start < n {
            if self.eof {
                return Ok(false);
            }
            if self.buf.len() - self.start < n {
                // Compact, and grow when one record is larger than the buffer.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if self.buf.len() < n {
                    self.buf.resize(n.next_power_of_two(), 0);
                }
            }
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_err(e)),
            }
        }
        Ok(true)
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.consumed += n as u64;
    }

    fn read_header(&mut self) -> Result<(), ReadError> {
        if !self.fill(4)? {
            let mut magic = [0u8; 4];
            magic[..self.end].copy_from_slice(&self.buf[..self.end]);
            return Err(ReadError::NotACapture {
                file: self.name.clone(),
                magic,
            });
        }
        let magic: [u8; 4] = self.buf[self.start..self.start + 4].try_into().unwrap();
        let (big, nanos) = match u32::from_le_bytes(magic) {
            0xa1b2_c3d4 => (false, false),
            0xd4c3_b2a1 => (true, false),
            0xa1b2_3c4d => (false, true),
            0x4d3c_b2a1 => (true, true),
            0x0a0d_0d0a => return self.read_shb(),
            _ => {
                return Err(ReadError::NotACapture {
                    file: self.name.clone(),
                    magic,
                })
            }
        };
        if !self.fill(24)? {
            return Err(self.corrupt("pcap file header cut short"));
        }
        let h = &self.buf[self.start..self.start + 24];
        let (major, minor) = (rd16(&h[4..], big), rd16(&h[6..], big));
        if major != 2 {
            return Err(ReadError::PcapVersion {
                file: self.name.clone(),
                major,
                minor,
            });
        }
        let link = LinkType((rd32(&h[20..], big) & 0xffff) as u16);
        self.kind = Kind::Pcap {
            big_endian: big,
            nanos,
            link,
        };
        self.interfaces.push(Interface {
            name: None,
            link_type: link,
        });
        self.consume(24);
        Ok(())
    }

    /// Reads a section header block at `buf[start]`; a new section forgets earlier interfaces.
    fn read_shb(&mut self) -> Result<(), ReadError> {
        if !self.fill(28)? {
            return Err(self.corrupt("pcapng section header cut short"));
        }
        let s = self.start;
        let big = match u32::from_le_bytes(self.buf[s + 8..s + 12].try_into().unwrap()) {
            0x1a2b_3c4d => false,
            0x4d3c_2b1a => true,
            _ => return Err(self.corrupt("bad pcapng byte-order magic")),
        };
        let total = rd32(&self.buf[s + 4..], big) as usize;
        let (major, minor) = (
            rd16(&self.buf[s + 12..], big),
            rd16(&self.buf[s + 14..], big),
        );
        if major != 1 {
            return Err(ReadError::PcapngVersion {
                file: self.name.clone(),
                major,
                minor,
            });
        }
        if total < 28 || !total.is_multiple_of(4) {
            return Err(self.corrupt(format!("section header length {total}")));
        }
        if !self.fill(total)? {
            return Err(self.corrupt("pcapng section header cut short"));
        }
        let body = &self.buf[self.start + 24..self.start + total - 4];
        if let Err(what) = walk_options(body, big, |_, _| {}) {
            return Err(self.corrupt(what));
        }
        self.kind = Kind::PcapNg {
            big_endian: big,
            times: Vec::new(),
        };
        self.interfaces.clear();
        self.consume(total);
        Ok(())
    }

    /// The next frame, or `None` at the end of the input.
    pub fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, ReadError> {
        match self.kind {
            Kind::Pcap {
                big_endian,
                nanos,
                link,
            } => self.next_pcap(big_endian, nanos, link),
            Kind::PcapNg { .. } => self.next_pcapng(),
        }
    }

    /// The next frame together with the interfaces declared so far, which include the frame's
    /// own: a pcapng file may describe an interface just before its first packet, so a caller
    /// that copies frames elsewhere (`-w`) learns its name here.
    pub fn next_frame_with_interfaces(
        &mut self,
    ) -> Result<Option<(FrameRef<'_>, &[Interface])>, ReadError> {
        let Some(f) = self.next_frame()? else {
            return Ok(None);
        };
        let (ts, link_type, orig_len, iface) = (f.ts, f.link_type, f.orig_len, f.iface);
        let (ptr, len) = (f.data.as_ptr() as usize, f.data.len());
        // Frames always borrow `buf`: find the frame's bytes there again so that `buf` and
        // `interfaces` can be lent out together.
        let at = ptr - self.buf.as_ptr() as usize;
        let f = FrameRef {
            ts,
            link_type,
            data: &self.buf[at..at + len],
            orig_len,
            iface,
        };
        Ok(Some((f, &self.interfaces)))
    }

    fn truncated(&self) -> ReadError {
        ReadError::Truncated {
            file: self.name.clone(),
            packet: self.packets + 1,
            offset: self.consumed,
        }
    }

    fn next_pcap(
        &mut self,
        big: bool,
        nanos: bool,
        link: LinkType,
    ) -> Result<Option<FrameRef<'_>>, ReadError> {
        if !self.fill(16)? {
            return if self.end == self.start {
                Ok(None)
            } else {
                Err(self.truncated())
            };
        }
        let h = &self.buf[self.start..self.start + 16];
        let secs = rd32(h, big) as i64;
        let frac = rd32(&h[4..], big) as i64;
        let caplen = rd32(&h[8..], big) as usize;
        let orig_len = rd32(&h[12..], big);
        if !self.fill(16 + caplen)? {
            return Err(if caplen > MAX_RECORD {
                self.corrupt(format!("packet {} claims {caplen} bytes", self.packets + 1))
            } else {
                self.truncated()
            });
        }
        // Fractions of a second >= 10^9 (invalid, seen in timestamp_invalid_nano.pcap) carry into
        // the seconds rather than being printed raw as tshark does.
        let ts = Timestamp::from_parts(secs, if nanos { frac } else { frac * 1000 });
        let s = self.start + 16;
        self.consume(16 + caplen);
        self.packets += 1;
        Ok(Some(FrameRef {
            ts,
            link_type: link,
            data: &self.buf[s..s + caplen],
            orig_len,
            iface: 0,
        }))
    }

    fn next_pcapng(&mut self) -> Result<Option<FrameRef<'_>>, ReadError> {
        loop {
            if !self.fill(12)? {
                return if self.end == self.start {
                    Ok(None)
                } else {
                    Err(self.truncated())
                };
            }
            let Kind::PcapNg {
                big_endian: big, ..
            } = self.kind
            else {
                unreachable!("next_pcapng on a pcap reader")
            };
            let s = self.start;
            let btype = rd32(&self.buf[s..], big);
            if btype == 0x0a0d_0d0a {
                self.read_shb()?;
                continue;
            }
            let total = rd32(&self.buf[s + 4..], big) as usize;
            if total < 12 || !total.is_multiple_of(4) {
                return Err(self.corrupt(format!("block length {total}")));
            }
            if !self.fill(total)? {
                return Err(self.truncated());
            }
            let s = self.start;
            let trailer = rd32(&self.buf[s + total - 4..], big) as usize;
            if trailer != total {
                return Err(self.corrupt(format!(
                    "block lengths disagree ({total} at the start, {trailer} at the end)"
                )));
            }
            match btype {
                1 => {
                    self.read_idb(s, total, big)?;
                    self.consume(total);
                }
                2 | 6 => {
                    // Enhanced packet block (6), or the obsolete packet block (2) whose interface
                    // id is 16 bits followed by a 16-bit drop count.
                    if total < 32 {
                        return Err(self.corrupt("packet block too short"));
                    }
                    let b = &self.buf[s + 8..s + total - 4];
                    let iface = if btype == 6 {
                        rd32(b, big) as usize
                    } else {
                        rd16(b, big) as usize
                    };
                    let ts_raw = ((rd32(&b[4..], big) as u64) << 32) | rd32(&b[8..], big) as u64;
                    let caplen = rd32(&b[12..], big) as usize;
                    let orig_len = rd32(&b[16..], big);
                    if 20 + caplen > b.len() {
                        return Err(self.corrupt(format!(
                            "packet {} claims {caplen} bytes in a {total}-byte block",
                            self.packets + 1
                        )));
                    }
                    let ts = self.iface_ts(iface, ts_raw)?;
                    let link_type = self.interfaces[iface].link_type;
                    self.consume(total);
                    self.packets += 1;
                    let d = s + 8 + 20;
                    return Ok(Some(FrameRef {
                        ts,
                        link_type,
                        data: &self.buf[d..d + caplen],
                        orig_len,
                        iface: iface as u16,
                    }));
                }
                3 => {
                    // Simple packet block: interface 0, no timestamp.
                    if self.interfaces.is_empty() {
                        return Err(self.corrupt("simple packet block before any interface"));
                    }
                    let orig_len = rd32(&self.buf[s + 8..], big);
                    let caplen = (orig_len as usize).min(total - 16);
                    let link_type = self.interfaces[0].link_type;
                    self.consume(total);
                    self.packets += 1;
                    return Ok(Some(FrameRef {
                        ts: Timestamp(0),
                        link_type,
                        data: &self.buf[s + 12..s + 12 + caplen],
                        orig_len,
                        iface: 0,
                    }));
                }
                5 => {
                    // Interface statistics: keep the drop count the capturing kernel reported.
                    let body = &self.buf[s + 8..s + total - 4];
                    if body.len() >= 12 {
                        let mut drops = 0;
                        let _ = walk_options(&body[12..], big, |code, v| {
                            if code == 5 && v.len() == 8 {
                                let hi = rd32(v, big) as u64;
                                let lo = rd32(&v[4..], big) as u64;
                                drops = if big {
                                    (hi << 32) | lo
                                } else {
                                    (lo << 32) | hi
                                };
                            }
                        });
                        self.reported_drops = self.reported_drops.max(drops);
                    }
                    self.consume(total);
                }
                _ => self.consume(total),
            }
        }
    }

    fn read_idb(&mut self, s: usize, total: usize, big: bool) -> Result<(), ReadError> {
        if total < 20 {
            return Err(self.corrupt("interface description block too short"));
        }
        let b = &self.buf[s + 8..s + total - 4];
        let link = LinkType(rd16(b, big));
        let mut name = None;
        let mut t = IfaceTime {
            units_per_sec: 1_000_000,
            offset_secs: 0,
        };
        let mut bad_resol = None;
        walk_options(&b[8..], big, |code, v| match code {
            2 => {
                name = Some(
                    String::from_utf8_lossy(v)
                        .trim_end_matches('\0')
                        .to_string(),
                )
            }
            9 if v.len() == 1 => {
                let r = v[0];
                let units = if r & 0x80 == 0 {
                    10u64.checked_pow(r as u32)
                } else {
                    1u64.checked_shl((r & 0x7f) as u32)
                };
                match units {
                    Some(u) if u > 0 => t.units_per_sec = u,
                    _ => bad_resol = Some(r),
                }
            }
            14 if v.len() == 8 => {
                let raw: [u8; 8] = v.try_into().unwrap();
                t.offset_secs = if big {
                    i64::from_be_bytes(raw)
                } else {
                    i64::from_le_bytes(raw)
                };
            }
            _ => {}
        })
        .map_err(|w| self.corrupt(w))?;
        if let Some(r) = bad_resol {
            return Err(self.corrupt(format!("if_tsresol {r:#x} out of range")));
        }
        if let Kind::PcapNg { times, .. } = &mut self.kind {
            times.push(t);
        }
        self.interfaces.push(Interface {
            name,
            link_type: link,
        });
        Ok(())
    }

    fn iface_ts(&self, iface: usize, raw: u64) -> Result<Timestamp, ReadError> {
        let Kind::PcapNg { times, .. } = &self.kind else {
            unreachable!()
        };
        let Some(t) = times.get(iface) else {
            return Err(self.corrupt(format!(
                "packet {} names interface {iface}, which was never described",
                self.packets + 1
            )));
        };
        let u = t.units_per_sec;
        let secs = (raw / u) as i64;
        let nanos = ((raw % u) as u128 * 1_000_000_000 / u as u128) as i64;
        Ok(Timestamp::from_parts(
            secs.saturating_add(t.offset_secs),
            nanos,
        ))
    }
}

/// Walks pcapng options (code, length, value padded to 4), calling `f` for each until
/// `opt_endofopt`. An option that claims more bytes than its block holds is an error.
fn walk_options(mut b: &[u8], big: bool, mut f: impl FnMut(u16, &[u8])) -> Result<(), String> {
    while b.len() >= 4 {
        let code = rd16(b, big);
        let len = rd16(&b[2..], big) as usize;
        if code == 0 {
            return Ok(());
        }
        let padded = (len + 3) & !3;
        if 4 + len > b.len() {
            return Err(format!(
                "option {code} claims {len} bytes, only {} left in its block",
                b.len() - 4
            ));
        }
        f(code, &b[4..4 + len]);
        b = &b[(4 + padded).min(b.len())..];
    }
    Ok(())
}
