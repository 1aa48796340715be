//! Names for addresses: learned from the DNS answers in the traffic itself, and (unless `-n`)
//! from reverse DNS lookups made on a thread of their own, never on the UI's. Both are cached
//! and bounded.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{mpsc, Arc, Mutex};

use crate::decode::{dns, Proto, Summary};

/// Names kept; the oldest knowledge is dropped past this (the cache is cleared).
const MAX_NAMES: usize = 100_000;
/// Lookups waiting; more requests are dropped until the resolver catches up.
const MAX_PENDING: usize = 1_000;

/// Addresses named by the A and AAAA answers of DNS responses seen.
#[derive(Default)]
pub struct SniffedNames {
    pub names: HashMap<IpAddr, String>,
}

impl SniffedNames {
    /// Learns from one packet (only DNS responses teach anything).
    pub fn learn(&mut self, s: &Summary, data: &[u8]) {
        if !matches!(s.proto, Proto::Dns | Proto::Mdns) {
            return;
        }
        let Some(p) = data.get(s.payload_range()) else {
            return;
        };
        let m = if s.tcp.is_some() {
            p.get(2..).unwrap_or(&[])
        } else {
            p
        };
        let Some(h) = dns::Header::parse(m) else {
            return;
        };
        if !h.is_response() {
            return;
        }
        for (addr, name) in dns::address_answers(m) {
            if self.names.len() >= MAX_NAMES {
                self.names.clear();
            }
            self.names.insert(addr, name);
        }
    }
}

/// Reverse lookups on a background thread, with a cache the UI reads.
pub struct Resolver {
    cache: Arc<Mutex<HashMap<IpAddr, Option<String>>>>,
    asked: Mutex<HashSet<IpAddr>>,
    tx: mpsc::SyncSender<IpAddr>,
}

impl Resolver {
    pub fn start() -> Resolver {
        let cache: Arc<Mutex<HashMap<IpAddr, Option<String>>>> = Arc::default();
        let (tx, rx) = mpsc::sync_channel::<IpAddr>(MAX_PENDING);
        let c = cache.clone();
        let _ = std::thread::Builder::new()
            .name("reverse-dns".into())
            .spawn(move || {
                for addr in rx {
                    // A failed lookup is remembered as no name, so it is not asked again.
                    let name = dns_lookup::lookup_addr(&addr)
                        .ok()
                        .filter(|n| *n != addr.to_string());
                    if let Ok(mut m) = c.lock() {
                        if m.len() >= MAX_NAMES {
                            m.clear();
                        }
                        m.insert(addr, name);
                    }
                }
            });
        Resolver {
            cache,
            asked: Mutex::new(HashSet::new()),
            tx,
        }
    }

    /// The name of `addr` if known; asks for it (once) otherwise.
    pub fn name(&self, addr: IpAddr) -> Option<String> {
        if let Some(n) = self.cache.lock().ok().and_then(|m| m.get(&addr).cloned()) {
            return n;
        }
        if let Ok(mut asked) = self.asked.lock() {
            if asked.len() < MAX_NAMES && asked.insert(addr) {
                let _ = self.tx.try_send(addr);
            }
        }
        None
    }
}
