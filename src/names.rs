//! Names for addresses: learned from the DNS answers in the traffic itself, and (unless `-n`)
//! from reverse DNS lookups made on a thread of their own, never on the UI's. Both are cached
//! and bounded.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Reverse lookups on a background thread. The event loop asks for addresses and takes a copy
/// of the names when they changed, so drawing never waits on the lookup thread's lock.
pub struct Resolver {
    cache: Arc<Mutex<HashMap<IpAddr, Option<String>>>>,
    /// Bumped by the lookup thread at every answer; compared with `seen`.
    answers: Arc<AtomicU64>,
    seen: AtomicU64,
    asked: Mutex<HashSet<IpAddr>>,
    tx: mpsc::SyncSender<IpAddr>,
}

impl Resolver {
    pub fn start() -> Resolver {
        let cache: Arc<Mutex<HashMap<IpAddr, Option<String>>>> = Arc::default();
        let answers = Arc::new(AtomicU64::new(0));
        let (tx, rx) = mpsc::sync_channel::<IpAddr>(MAX_PENDING);
        let (c, n) = (cache.clone(), answers.clone());
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
                    n.fetch_add(1, Ordering::Relaxed);
                }
            });
        Resolver {
            cache,
            answers,
            seen: AtomicU64::new(0),
            asked: Mutex::new(HashSet::new()),
            tx,
        }
    }

    /// Asks for the name of `addr`, once.
    pub fn ask(&self, addr: IpAddr) {
        if let Ok(mut asked) = self.asked.lock() {
            if asked.len() < MAX_NAMES && asked.insert(addr) {
                let _ = self.tx.try_send(addr);
            }
        }
    }

    /// The names found, when there are answers since the last call.
    pub fn names_if_changed(&self) -> Option<HashMap<IpAddr, String>> {
        let now = self.answers.load(Ordering::Relaxed);
        if self.seen.swap(now, Ordering::Relaxed) == now {
            return None;
        }
        let m = self.cache.lock().ok()?;
        Some(
            m.iter()
                .filter_map(|(a, n)| Some((*a, n.clone()?)))
                .collect(),
        )
    }
}
