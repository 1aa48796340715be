//! pcapng writer for `-w FILE`: one section, one interface description per (interface, link type)
//! seen, nanosecond timestamps (`if_tsresol` 9) so nothing the source knew is lost.

use std::collections::HashMap;
use std::io::{self, Write};

use super::{FrameRef, Interface, LinkType};

pub struct PcapngWriter<W: Write> {
    out: W,
    /// (source interface index, link type) → IDB index in the written file.
    ifaces: HashMap<(u16, LinkType), u32>,
    names: Vec<Interface>,
    scratch: Vec<u8>,
}

fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

fn push_option(buf: &mut Vec<u8>, code: u16, value: &[u8]) {
    buf.extend_from_slice(&code.to_le_bytes());
    buf.extend_from_slice(&(value.len() as u16).to_le_bytes());
    buf.extend_from_slice(value);
    buf.resize(pad4(buf.len()), 0);
}

impl<W: Write> PcapngWriter<W> {
    /// `interfaces` names the source's interfaces (by index) so the file carries their names.
    pub fn new(mut out: W, interfaces: Vec<Interface>) -> io::Result<Self> {
        let mut body = Vec::new();
        body.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
        push_option(&mut body, 4, b"packetlab"); // shb_userappl
        push_option(&mut body, 0, b"");
        write_block(&mut out, 0x0a0d_0d0a, &body)?;
        Ok(PcapngWriter {
            out,
            ifaces: HashMap::new(),
            names: interfaces,
            scratch: Vec::with_capacity(65_600),
        })
    }

    /// Adds interfaces the source declared after the writer was made (a pcapng file may describe
    /// an interface just before its first packet) so that their names reach the file. Call it
    /// before writing that interface's first frame.
    pub fn learn_interfaces(&mut self, interfaces: &[Interface]) {
        if interfaces.len() > self.names.len() {
            self.names
                .extend_from_slice(&interfaces[self.names.len()..]);
        }
    }

    pub fn write(&mut self, f: &FrameRef<'_>) -> io::Result<()> {
        let key = (f.iface, f.link_type);
        let idx = match self.ifaces.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.ifaces.len() as u32;
                let mut body = Vec::new();
                body.extend_from_slice(&f.link_type.0.to_le_bytes());
                body.extend_from_slice(&0u16.to_le_bytes());
                body.extend_from_slice(&0u32.to_le_bytes()); // no snaplen limit
                if let Some(name) = self
                    .names
                    .get(f.iface as usize)
                    .and_then(|i| i.name.as_ref())
                {
                    push_option(&mut body, 2, name.as_bytes());
                }
                push_option(&mut body, 9, &[9]);
                push_option(&mut body, 0, b"");
                write_block(&mut self.out, 1, &body)?;
                self.ifaces.insert(key, i);
                i
            }
        };
        // Timestamps before 1970 cannot be written in pcapng's unsigned field; clamp to 0.
        let ts = f.ts.0.max(0) as u64;
        let b = &mut self.scratch;
        b.clear();
        b.extend_from_slice(&idx.to_le_bytes());
        b.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        b.extend_from_slice(&(ts as u32).to_le_bytes());
        b.extend_from_slice(&(f.data.len() as u32).to_le_bytes());
        b.extend_from_slice(&f.orig_len.max(f.data.len() as u32).to_le_bytes());
        b.extend_from_slice(f.data);
        b.resize(pad4(b.len()), 0);
        write_block(&mut self.out, 6, b)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn write_block<W: Write>(out: &mut W, btype: u32, body: &[u8]) -> io::Result<()> {
    let total = (12 + pad4(body.len())) as u32;
    out.write_all(&btype.to_le_bytes())?;
    out.write_all(&total.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&vec![0; pad4(body.len()) - body.len()])?;
    out.write_all(&total.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::file::CaptureReader;
    use crate::capture::Timestamp;

    #[test]
    fn round_trip_keeps_timestamps_lengths_and_interfaces() {
        let mut out = Vec::new();
        let ifaces = vec![
            Interface {
                name: Some("lo".into()),
                link_type: LinkType::ETHERNET,
            },
            Interface {
                name: Some("tun0".into()),
                link_type: LinkType::RAW,
            },
        ];
        let mut w = PcapngWriter::new(&mut out, ifaces).unwrap();
        let frames = [
            (
                Timestamp(1_700_000_000_123_456_789),
                LinkType::ETHERNET,
                0u16,
                vec![1u8; 60],
                60,
            ),
            (
                Timestamp(1_700_000_001_000_000_001),
                LinkType::RAW,
                1,
                vec![0x45; 33],
                1500,
            ),
        ];
        for (ts, lt, iface, data, orig) in &frames {
            w.write(&FrameRef {
                ts: *ts,
                link_type: *lt,
                data,
                orig_len: *orig,
                iface: *iface,
            })
            .unwrap();
        }
        drop(w);
        let mut r = CaptureReader::new("mem".into(), Box::new(std::io::Cursor::new(out))).unwrap();
        for (ts, lt, iface, data, orig) in &frames {
            let f = r.next_frame().unwrap().unwrap();
            assert_eq!((f.ts, f.link_type, f.iface), (*ts, *lt, *iface));
            assert_eq!((f.data, f.orig_len), (&data[..], *orig));
        }
        assert!(r.next_frame().unwrap().is_none());
        assert_eq!(r.interfaces()[1].name.as_deref(), Some("tun0"));
    }
}
