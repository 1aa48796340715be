//! The rate models (`limit`, `quota`, `ct count`, per-key meters): token buckets and counts
//! kept per rule, statement and key across packets.

use crate::firewall::model::*;

use super::matching::{read, Read, Reading};
use super::packet::{Class, PacketView};
use super::state::State;

/// The state of the rate models (`limit`, `quota`, meters), per rule, statement and key.
#[derive(Default, Debug)]
pub struct Meters {
    buckets: std::collections::HashMap<(RuleId, u16, u64), Bucket>,
    /// Sets filled at run time and connections' marks.
    pub(super) state: State,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last_ns: u64,
    used: u64,
}

impl Meters {
    /// Conntrack made the entry of connection `conn` anew: its `ct mark` starts at 0.
    pub fn forget_conn(&mut self, conn: u64) {
        self.state.forget_conn(conn);
    }

    /// Whether statement `k` of rule `id` lets the packet go on, updating its model.
    pub(super) fn step(
        &mut self,
        id: RuleId,
        k: u16,
        key: u64,
        a: &Approx,
        p: &PacketView<'_>,
    ) -> bool {
        match a {
            Approx::Limit {
                over,
                per_s,
                burst,
                bytes,
            } => {
                let cost = if *bytes { p.len as f64 } else { 1.0 };
                let cap = burst.max(cost);
                let now = p.extra.ts_ns;
                let b = self.buckets.entry((id, k, key)).or_insert(Bucket {
                    tokens: cap,
                    last_ns: now,
                    used: 0,
                });
                let dt = now.saturating_sub(b.last_ns) as f64 / 1e9;
                b.last_ns = now.max(b.last_ns);
                b.tokens = (b.tokens + dt * per_s).min(cap);
                let within = b.tokens >= cost;
                if within {
                    b.tokens -= cost;
                }
                within != *over
            }
            Approx::Quota { over, bytes } => {
                let b = self.buckets.entry((id, k, key)).or_insert(Bucket {
                    tokens: 0.0,
                    last_ns: 0,
                    used: 0,
                });
                b.used += p.len as u64;
                (b.used > *bytes) == *over
            }
            Approx::CtCount { over, n } => {
                // Connections are not counted per key: each new one counts once.
                let b = self.buckets.entry((id, k, key)).or_insert(Bucket {
                    tokens: 0.0,
                    last_ns: 0,
                    used: 0,
                });
                if p.ct == ct::NEW {
                    b.used += 1;
                }
                (b.used > *n) == *over
            }
            Approx::Synproxy => true,
            Approx::PerKey { key: fields, inner } => match inner {
                None => true,
                Some(inner) => {
                    let key = key_hash(fields, p);
                    self.step(id, k, key, inner, p)
                }
            },
        }
    }
}

fn key_hash(fields: &[Field], p: &PacketView<'_>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in fields {
        match read(*f, p, Class::In) {
            Reading::Got(Read::Addr(a)) => a.hash(&mut h),
            Reading::Got(Read::Int(n)) => n.hash(&mut h),
            Reading::Got(Read::Name(n)) => n.hash(&mut h),
            _ => 0u8.hash(&mut h),
        }
    }
    h.finish()
}
