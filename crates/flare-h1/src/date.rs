//! The `Date` header value (RFC 9110 section 5.6.7, IMF-fixdate), formatted
//! at most once a second.

use std::time::{SystemTime, UNIX_EPOCH};

/// Cache of the current IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
/// The caller passes the time in; nothing here reads a clock.
#[derive(Clone, Debug)]
pub struct DateCache {
    secs: u64,
    value: [u8; 29],
}

impl DateCache {
    /// Formats `now`. Times before 1970 are written as the epoch.
    pub fn new(now: SystemTime) -> Self {
        let secs = unix_secs(now);
        DateCache {
            secs,
            value: format_imf_fixdate(secs),
        }
    }

    /// Reformats if `now` is in a different second; returns whether the
    /// value changed.
    pub fn update(&mut self, now: SystemTime) -> bool {
        let secs = unix_secs(now);
        if secs == self.secs {
            return false;
        }
        self.secs = secs;
        let value = format_imf_fixdate(secs);
        let changed = value != self.value;
        self.value = value;
        changed
    }

    /// The formatted value (29 bytes).
    pub fn value(&self) -> &[u8] {
        &self.value
    }
}

fn unix_secs(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Formats seconds since the epoch as IMF-fixdate. Years past 9999 wrap.
fn format_imf_fixdate(secs: u64) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86_400;
    let sod = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut v = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    v[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    two(&mut v[5..7], day);
    v[8..11].copy_from_slice(MONTHS[(month - 1) as usize % 12]);
    let y = year % 10_000;
    two(&mut v[12..14], y / 100);
    two(&mut v[14..16], y % 100);
    two(&mut v[17..19], sod / 3600);
    two(&mut v[20..22], sod / 60 % 60);
    two(&mut v[23..25], sod % 60);
    v
}

fn two(dst: &mut [u8], n: u64) {
    dst[0] = b'0' + (n / 10 % 10) as u8;
    dst[1] = b'0' + (n % 10) as u8;
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), proleptic
/// Gregorian (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn known_dates() {
        let at = |s| DateCache::new(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0).value(), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(at(784_111_777).value(), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(at(951_782_400).value(), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(at(4_107_542_399).value(), b"Sun, 28 Feb 2100 23:59:59 GMT");
        assert_eq!(at(1_709_251_199).value(), b"Thu, 29 Feb 2024 23:59:59 GMT");
    }

    #[test]
    fn update_only_on_new_second() {
        let t = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut c = DateCache::new(t);
        assert!(!c.update(t + Duration::from_millis(999)));
        assert!(c.update(t + Duration::from_secs(1)));
        assert_eq!(c.value(), b"Mon, 12 Jan 1970 13:46:41 GMT");
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(
            DateCache::new(before).value(),
            b"Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }
}
