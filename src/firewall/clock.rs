//! The packet's time as `meta hour`, `meta day` and `meta time` (and iptables' `-m time`) read
//! it: the capture's timestamp in a time zone (`--tz`, else the machine's own).
//!
//! What the kernel compares, and how packetlab mirrors it (nft 1.0.6 `--debug=netlink`,
//! `nft_meta.c`):
//! - `meta hour "17:00"-"19:00"`: nft converts the local times to seconds after midnight UTC with
//!   the zone's offset *when it loads the rule*; the kernel compares the UTC time of day. A range
//!   that wraps past midnight after the conversion becomes `range != hi lo` (so its written
//!   ends no longer match). packetlab converts with the zone's offset at the packet's time (the
//!   rule loaded in the same season as the packet) and applies the same rule, wrap included.
//! - `meta day`: 0 (Sunday) to 6; the kernel counts days in its own time zone (set at boot),
//!   packetlab in the zone given.
//! - `meta time "2024-06-01 12:00"`: nft converts the date with the zone's offset at that date;
//!   packetlab compares the packet's local time with the date as written (the same except
//!   within the hour a clock change repeats or skips).

use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::model::{Kind, OPEN};

const DAY: i64 = 86_400;

/// The time zone of `--tz`: an IANA name (`Europe/Berlin`) or `UTC`; none: the machine's
/// (`TZ`, else `/etc/localtime`), read from the system's time zone database as nft's
/// `localtime()` does.
pub fn zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        None => Ok(TimeZone::try_system().unwrap_or(TimeZone::UTC)),
        Some(n) if n.eq_ignore_ascii_case("utc") => Ok(TimeZone::UTC),
        Some(n) => TimeZone::get(n).map_err(|e| format!("--tz {n}: {e}")),
    }
}

/// The zone's offset from UTC at `ts_ns`, seconds.
pub fn offset(tz: &TimeZone, ts_ns: u64) -> i32 {
    let ts = Timestamp::from_nanosecond(ts_ns as i128).unwrap_or(Timestamp::UNIX_EPOCH);
    tz.to_offset(ts).seconds()
}

/// `17:00`, `17:00:30` (quoted or not), or a number of seconds: seconds after midnight.
fn hour(s: &str) -> Option<u64> {
    if let Ok(n) = s.parse::<u64>() {
        return (n < DAY as u64).then_some(n);
    }
    let mut parts = s.split(':');
    let h: u64 = parts.next()?.parse().ok()?;
    let m: u64 = parts.next()?.parse().ok()?;
    let sec: u64 = match parts.next() {
        Some(x) => x.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() || h > 23 || m > 59 || sec > 59 {
        return None;
    }
    Some(h * 3600 + m * 60 + sec)
}

const DAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

/// `Monday`, `Mon`, `1`: 0 (Sunday) to 6.
fn day(s: &str) -> Option<u64> {
    if let Ok(n) = s.parse::<u64>() {
        return (n < 7).then_some(n);
    }
    let l = s.to_ascii_lowercase();
    DAYS.iter()
        .position(|d| *d == l || (l.len() == 3 && d.starts_with(&l)))
        .map(|i| i as u64)
}

/// `2024-06-01 12:00[:SS]` or `2024-06-01`: the local date and time written, as nanoseconds
/// since the epoch of that wall-clock time read as UTC (compared with the packet's local time).
fn date(s: &str) -> Option<u64> {
    let (d, t) = s.split_once(' ').unwrap_or((s, "00:00"));
    let d: jiff::civil::Date = d.trim().parse().ok()?;
    let secs = hour(t.trim())?;
    let base = days_from_civil(d.year().into(), d.month().into(), d.day().into()) * DAY;
    u64::try_from(base + secs as i64)
        .ok()?
        .checked_mul(1_000_000_000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// One value of a time kind as written; `None` when it is not one (a bare number for `meta
/// time` too: nft reads it as UTC seconds, which this model does not compare).
pub fn value(kind: Kind, s: &str) -> Option<u64> {
    match kind {
        Kind::Hour => hour(s),
        Kind::Day => day(s),
        Kind::Date if s.contains('-') => date(s),
        _ => None,
    }
}

/// The packet's local wall-clock time in nanoseconds (what `meta time` values are compared with).
pub fn local_ns(ts_ns: u64, off: i32) -> u64 {
    (ts_ns as i128 + off as i128 * 1_000_000_000).clamp(0, u64::MAX as i128) as u64
}

/// The local day of the week, 0 = Sunday (1970-01-01 was a Thursday).
pub fn weekday(ts_ns: u64, off: i32) -> u64 {
    let days = (ts_ns as i64 / 1_000_000_000 + off as i64).div_euclid(DAY);
    (days + 4).rem_euclid(7) as u64
}

/// Seconds after midnight UTC (what the kernel's `meta hour` loads).
pub fn utc_second_of_day(ts_ns: u64) -> u64 {
    (ts_ns / 1_000_000_000) % DAY as u64
}

/// Whether `meta hour` with the range `lo`-`hi` (local seconds after midnight; [`OPEN`] for
/// the open end of `<`/`>=`) holds at `utc` seconds after midnight UTC, converted with `off`
/// as nft converts at load time: a single value is `==`; a range whose converted ends are in
/// order is `lo <= x <= hi`, one that wraps past midnight is `x < hi || x > lo`.
pub fn hour_has(lo: u64, hi: u64, utc: u64, off: i32) -> bool {
    let conv = |v: u64| (v as i64 - off as i64).rem_euclid(DAY) as u64;
    match (lo == OPEN, hi == OPEN) {
        (true, true) => true,
        (false, true) => utc >= conv(lo),
        (true, false) => utc <= conv(hi),
        (false, false) => {
            let (a, b) = (conv(lo), conv(hi));
            if a <= b {
                a <= utc && utc <= b
            } else {
                utc < b || utc > a
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_as_nft_reads_them() {
        assert_eq!(hour("17:00"), Some(61_200));
        assert_eq!(hour("17:00:01"), Some(61_201));
        assert_eq!(hour("63000"), Some(63_000));
        assert_eq!(hour("24:00"), None);
        assert_eq!(day("Saturday"), Some(6));
        assert_eq!(day("sun"), Some(0));
        assert_eq!(day("Satturday"), None);
        assert_eq!(
            date("2024-06-01 12:00"),
            Some(1_717_243_200 * 1_000_000_000)
        );
        assert_eq!(value(Kind::Date, "12341234"), None);
    }

    #[test]
    fn hours_convert_and_wrap_as_nft_compiles_them() {
        // nft --debug=netlink, TZ=UTC: "22:00"-"02:00" is `range neq 7200 79200`.
        let (lo, hi) = (79_200, 7_200);
        assert!(hour_has(lo, hi, 7_199, 0));
        assert!(!hour_has(lo, hi, 7_200, 0));
        assert!(!hour_has(lo, hi, 79_200, 0));
        assert!(hour_has(lo, hi, 79_201, 0));
        // America/New_York in winter (-5 h): "17:00"-"19:00" is `range neq 0 79200`, so local
        // 19:00:00 (00:00 UTC) does not match and 18:59:59 does.
        let ny = -5 * 3600;
        assert!(hour_has(61_200, 68_400, 86_399, ny));
        assert!(!hour_has(61_200, 68_400, 0, ny));
        assert!(!hour_has(61_200, 68_400, 79_200, ny));
        // Europe/Berlin in winter (+1 h): "17:00"-"19:00" is `16:00 <= x <= 18:00` UTC.
        assert!(hour_has(61_200, 68_400, 57_600, 3600));
        assert!(!hour_has(61_200, 68_400, 64_801, 3600));
        // `>= "17:00"` converts only its bound.
        assert!(hour_has(61_200, OPEN, 79_200, ny));
        assert!(!hour_has(61_200, OPEN, 3_600, ny));
    }

    #[test]
    fn weekdays_count_from_a_thursday() {
        assert_eq!(weekday(0, 0), 4);
        // 2024-06-01 was a Saturday; at 23:30 UTC it is already Sunday in Berlin (+2 h).
        let ts = (1_717_243_200 + 11 * 3600 + 1800) * 1_000_000_000;
        assert_eq!(weekday(ts, 0), 6);
        assert_eq!(weekday(ts, 7200), 0);
    }

    #[test]
    fn zones_are_found_by_name() {
        let z = zone(Some("Europe/Berlin")).unwrap();
        assert_eq!(offset(&z, 1_717_243_200 * 1_000_000_000), 7200);
        assert_eq!(offset(&z, 1_704_067_200 * 1_000_000_000), 3600);
        assert_eq!(offset(&zone(Some("UTC")).unwrap(), 0), 0);
        assert!(zone(Some("Mars/Olympus")).is_err());
    }
}
