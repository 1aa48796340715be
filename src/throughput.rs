//! Bytes per second over the last two minutes, by protocol family, for the graphs view.

use crate::decode::{Proto, Summary};

pub const SECONDS: usize = 120;
/// The families graphed, in order.
pub const FAMILIES: [&str; 4] = ["TCP", "UDP", "ICMP", "other"];

#[derive(Clone, Debug)]
pub struct Throughput {
    /// [second slot][family] bytes.
    buckets: Vec<[u64; 4]>,
    /// The newest second counted.
    head: Option<i64>,
}

impl Default for Throughput {
    fn default() -> Self {
        Throughput {
            buckets: vec![[0; 4]; SECONDS],
            head: None,
        }
    }
}

fn family(s: &Summary) -> usize {
    if s.tcp.is_some() {
        return 0;
    }
    match s.proto {
        Proto::Udp | Proto::Dns | Proto::Mdns => 1,
        Proto::Icmp | Proto::Icmpv6 => 2,
        _ => 3,
    }
}

impl Throughput {
    /// Counts one packet of `bytes` at second `sec` (capture time).
    pub fn add(&mut self, sec: i64, s: &Summary, bytes: u32) {
        let head = *self.head.get_or_insert(sec);
        if sec > head {
            for k in 1..=(sec - head).min(SECONDS as i64) {
                self.buckets[(head + k).rem_euclid(SECONDS as i64) as usize] = [0; 4];
            }
            self.head = Some(sec);
        } else if sec <= head - SECONDS as i64 {
            return;
        }
        self.buckets[sec.rem_euclid(SECONDS as i64) as usize][family(s)] += bytes as u64;
    }

    /// The newest second counted (capture time), where [`Throughput::series`] ends.
    pub fn newest(&self) -> Option<i64> {
        self.head
    }

    /// Bytes per second of `fam` (or all, with `None`) for the last `n` seconds, oldest first.
    pub fn series(&self, fam: Option<usize>, n: usize) -> Vec<u64> {
        let Some(head) = self.head else {
            return vec![0; n.min(SECONDS)];
        };
        let n = n.min(SECONDS);
        (0..n)
            .map(|k| {
                let sec = head - (n - 1 - k) as i64;
                let b = &self.buckets[sec.rem_euclid(SECONDS as i64) as usize];
                match fam {
                    Some(f) => b[f],
                    None => b.iter().sum(),
                }
            })
            .collect()
    }
}
