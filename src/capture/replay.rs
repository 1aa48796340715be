//! Replaying a capture file (or stdin) on its own thread into the frame channel. A file uses a
//! blocking send: it can wait, and nothing is lost.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::Sender;

use super::channel::{SourceMsg, SourceStats};
use super::file::CaptureReader;
use super::Frame;

/// Reads a capture file (or stdin) on a thread. With `pace`, frames are released at the rhythm
/// they were captured, as a live capture would deliver them.
pub fn spawn_file(
    path: PathBuf,
    pace: bool,
    stats: Arc<SourceStats>,
    tx: Sender<SourceMsg>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("capture-file".into())
        .spawn(move || read_file(path, pace, &stats, &tx))
        .expect("spawning a thread")
}

fn read_file(path: PathBuf, pace: bool, stats: &SourceStats, tx: &Sender<SourceMsg>) {
    let mut r = match CaptureReader::open(&path) {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.blocking_send(SourceMsg::Error(e.to_string()));
            return;
        }
    };
    let stream = path.as_os_str() == "-";
    let mut batch: Vec<Frame> = Vec::with_capacity(256);
    let mut known_ifaces = 0;
    let mut clock: Option<(Instant, i64)> = None;
    let mut last_send = Instant::now();
    loop {
        if stats.stop.load(Ordering::Relaxed) {
            break;
        }
        while stats.paused.load(Ordering::Relaxed) && !stats.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
            // Pausing shifts the replay clock so the pace resumes where it left off.
            if let Some((t0, _)) = clock.as_mut() {
                *t0 += Duration::from_millis(20);
            }
        }
        let frame = match r.next_frame() {
            Ok(Some(f)) => f.to_owned(),
            Ok(None) => break,
            Err(e) => {
                let _ = tx.blocking_send(SourceMsg::Frames(std::mem::take(&mut batch)));
                let _ = tx.blocking_send(SourceMsg::Error(e.to_string()));
                return;
            }
        };
        if r.interfaces().len() != known_ifaces {
            known_ifaces = r.interfaces().len();
            if !batch.is_empty()
                && tx
                    .blocking_send(SourceMsg::Frames(std::mem::take(&mut batch)))
                    .is_err()
            {
                return;
            }
            let _ = tx.blocking_send(SourceMsg::Interfaces(r.interfaces().to_vec()));
        }
        if pace {
            let (t0, first) = *clock.get_or_insert((Instant::now(), frame.ts.0));
            let due = Duration::from_nanos((frame.ts.0 - first).max(0) as u64);
            // Long silences in a recording are shortened to a second: nobody wants to wait.
            let now = t0.elapsed();
            if due > now {
                if !batch.is_empty()
                    && tx
                        .blocking_send(SourceMsg::Frames(std::mem::take(&mut batch)))
                        .is_err()
                {
                    return;
                }
                let wait = (due - now).min(Duration::from_secs(1));
                std::thread::sleep(wait);
                if due - now > wait {
                    clock = Some((t0 - (due - now - wait), first));
                }
            }
        }
        batch.push(frame);
        // A stream (stdin) is flushed at once so what arrives is shown at once.
        if batch.len() >= 256 || stream || last_send.elapsed() > Duration::from_millis(20) {
            if tx
                .blocking_send(SourceMsg::Frames(std::mem::take(&mut batch)))
                .is_err()
            {
                return;
            }
            last_send = Instant::now();
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(SourceMsg::Frames(batch));
    }
    let _ = tx.blocking_send(SourceMsg::Done);
}
