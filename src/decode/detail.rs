//! The detail tree for one selected packet: layers and their fields, each with the byte range it
//! came from, so the hex view can highlight what the person points at.

use std::ops::Range;

use super::{walk, Sink, Summary};
use crate::capture::{FrameRef, Timestamp};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// 0 for a layer, 1.. for its fields.
    pub depth: u8,
    pub range: Range<usize>,
    pub text: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Sink for Tree {
    const ACTIVE: bool = true;

    fn layer(&mut self, range: Range<usize>, title: String) {
        self.nodes.push(Node {
            depth: 0,
            range,
            text: title,
        });
    }

    fn field(&mut self, depth: u8, range: Range<usize>, text: String) {
        self.nodes.push(Node { depth, range, text });
    }
}

impl Tree {
    /// Builds the tree for `frame` (numbered `no`), starting with a frame layer like tshark's.
    pub fn build(no: u64, frame: &FrameRef<'_>) -> (Tree, Summary) {
        let len = frame.data.len();
        let mut t = Tree::default();
        t.layer(
            0..len,
            format!(
                "Frame {no}: {} bytes on wire, {} bytes captured",
                frame.orig_len, len
            ),
        );
        t.field(1, 0..0, format!("Arrival time: {}", describe_ts(frame.ts)));
        t.field(1, 0..0, format!("Link type: {}", frame.link_type));
        t.field(1, 0..0, format!("Interface: {}", frame.iface));
        let mut s = Summary::default();
        walk(frame.link_type, frame.data, &mut s, &mut t);
        if let Some(e) = s.error {
            t.layer(0..0, format!("[Malformed packet: {e}]"));
        }
        // Ranges come from header fields and may point past a cut capture, or end before they
        // start in a malformed one: clamp them here, once.
        for n in &mut t.nodes {
            let start = n.range.start.min(len);
            n.range = start..n.range.end.clamp(start, len);
        }
        (t, s)
    }
}

fn describe_ts(ts: Timestamp) -> String {
    format!("{} (epoch seconds)", ts.epoch_string())
}
