//! Go's `time` package as sops uses it: `time.Parse` with the RFC 3339
//! layout (values of type `time`, the MAC's `lastmodified`) and with
//! go-yaml's timestamp layouts, and `Format` with `RFC3339` and
//! `RFC3339Nano`.

use ::time::OffsetDateTime;

/// A time as Go's parsers read it: calendar fields, nanoseconds and the zone
/// offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Time {
    /// Year, 0 to 9999.
    pub year: u32,
    /// Month, 1 to 12.
    pub month: u32,
    /// Day of the month, from 1.
    pub day: u32,
    /// Hour, 0 to 23.
    pub hour: u32,
    /// Minute, 0 to 59.
    pub minute: u32,
    /// Second, 0 to 59.
    pub second: u32,
    /// Nanoseconds, 0 to 999,999,999.
    pub nanos: u32,
    /// Zone offset in minutes east of UTC (Go's parser allows up to 24:60).
    pub offset_min: i32,
}

impl Time {
    /// Whether Go's `MarshalText` can write it: an offset under 24 hours.
    pub fn marshalable(&self) -> bool {
        self.offset_min.unsigned_abs() < 24 * 60
    }

    /// Go `Format(time.RFC3339Nano)`: trailing fractional zeros removed, `Z`
    /// for a zero offset.
    pub fn rfc3339_nano(&self) -> String {
        self.format(true)
    }

    /// Go `Format(time.RFC3339)`: whole seconds, `Z` for a zero offset.
    pub fn rfc3339(&self) -> String {
        self.format(false)
    }

    fn format(&self, with_nanos: bool) -> String {
        let mut out = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        if with_nanos && self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        if self.offset_min == 0 {
            out.push('Z');
        } else {
            let sign = if self.offset_min < 0 { '-' } else { '+' };
            let abs = self.offset_min.unsigned_abs();
            out.push_str(&format!("{sign}{:02}:{:02}", abs / 60, abs % 60));
        }
        out
    }
}

/// Go `Time.UnmarshalText` then `MarshalText` (`RFC3339Nano`): nanosecond
/// text with trailing zeros removed and `Z` for a zero offset; `None` if the
/// text is not a timestamp or cannot be written back.
///
/// Observed with the sops 3.11 binary (Go 1.25): the parser is as lenient
/// as `time.Parse(RFC3339, …)` (one-digit hour, `,` before the fraction,
/// offsets up to `+24:60`), but an offset of 24 hours or more then fails
/// `MarshalText`, so sops cannot use the value; it is refused here.
pub fn normalize_time_nano(s: &str) -> Option<String> {
    parse_rfc3339(s)
        .filter(Time::marshalable)
        .map(|t| t.rfc3339_nano())
}

/// Go `time.Parse(RFC3339, s)` then `Format(RFC3339)` (the MAC's AAD):
/// whole seconds, `…+00:00` → `…Z`, other offsets kept. Go's lenient parser
/// also takes a one-digit hour, `,` before the fraction and offsets up to
/// `24:60`.
pub fn normalize_time_seconds(s: &str) -> Option<String> {
    parse_rfc3339(s).map(|t| t.rfc3339())
}

/// `now` in UTC as Go's `Format(time.RFC3339)` writes it (sops's
/// `lastmodified` and `created_at`).
pub fn format_rfc3339_utc(now: OffsetDateTime) -> String {
    let t = now.to_offset(::time::UtcOffset::UTC);
    Time {
        year: u32::try_from(t.year()).unwrap_or(0),
        month: u32::from(u8::from(t.month())),
        day: u32::from(t.day()),
        hour: u32::from(t.hour()),
        minute: u32::from(t.minute()),
        second: u32::from(t.second()),
        nanos: 0,
        offset_min: 0,
    }
    .rfc3339()
}

/// Drops the fractional seconds of an RFC 3339 time
/// (`2024-01-02T03:04:05.5+02:00` → `2024-01-02T03:04:05+02:00`), which is
/// how Go's `time.RFC3339` layout writes a time.
pub fn rfc3339_seconds(t: &str) -> String {
    let Some(tpos) = t.find(['T', 't']) else {
        return t.to_owned();
    };
    let after = tpos + 1;
    // HH:MM:SS is 8 bytes; a fraction starts right after it.
    let frac_start = after + 8;
    if t.as_bytes().get(frac_start) != Some(&b'.') {
        return t.to_owned();
    }
    let digits = t
        .get(frac_start + 1..)
        .map(|rest| rest.bytes().take_while(u8::is_ascii_digit).count())
        .unwrap_or(0);
    match (t.get(..frac_start), t.get(frac_start + 1 + digits..)) {
        (Some(head), Some(tail)) => format!("{head}{tail}"),
        _ => t.to_owned(),
    }
}

/// Go's `time.Time.String()` of an RFC 3339 time, approximately:
/// `2024-01-02 03:04:05.5 +0000 UTC`.
pub fn time_string(t: &str) -> String {
    let (Some(date), Some(rest)) = (t.get(..10), t.get(11..)) else {
        return t.to_owned();
    };
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let zone = match zone {
        "Z" | "z" | "" => "+0000 UTC".to_owned(),
        z => {
            let z = z.replace(':', "");
            format!("{z} {z}")
        }
    };
    format!("{date} {clock} {zone}")
}

/// Days in a month of the proleptic Gregorian calendar.
fn days_in_month(month: u32, year: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads exactly `n` ASCII digits at the start of `s`.
fn take_digits(s: &str, n: usize) -> Option<(u32, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, s.get(n..)?))
}

/// Strips one expected byte.
fn expect_char(s: &str, c: char) -> Option<&str> {
    s.strip_prefix(c)
}

/// Go `time.Parse(time.RFC3339, s)` (which `Time.UnmarshalText` also
/// uses): `YYYY-MM-DDTH[H]:MM:SS[(.|,)digits](Z|±hh:mm)`, fields
/// range-checked (the day against the month), zone offset up to `24:60`,
/// fraction digits beyond the ninth dropped.
pub fn parse_rfc3339(s: &str) -> Option<Time> {
    let (year, s) = take_digits(s, 4)?;
    let (month, s) = take_digits(expect_char(s, '-')?, 2)?;
    let (day, s) = take_digits(expect_char(s, '-')?, 2)?;
    let s = expect_char(s, 'T')?;
    let hour_len = if s.as_bytes().get(1)?.is_ascii_digit() {
        2
    } else {
        1
    };
    let (hour, s) = take_digits(s, hour_len)?;
    let (minute, s) = take_digits(expect_char(s, ':')?, 2)?;
    let (second, mut s) = take_digits(expect_char(s, ':')?, 2)?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(month, year)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut nanos = 0;
    let bytes = s.as_bytes();
    if bytes.len() >= 2 && matches!(bytes[0], b'.' | b',') && bytes[1].is_ascii_digit() {
        let n = 1 + bytes[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        let digits = s.get(1..n)?;
        nanos = nanoseconds(digits.get(..digits.len().min(9))?)?;
        s = s.get(n..)?;
    }
    let offset_min = if s == "Z" { 0 } else { parse_offset(s)? };
    Some(Time {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos,
        offset_min,
    })
}

/// Up to nine fraction digits as nanoseconds (`5` → 500000000).
fn nanoseconds(digits: &str) -> Option<u32> {
    let mut nanos: u32 = digits.parse().ok()?;
    for _ in digits.len()..9 {
        nanos *= 10;
    }
    Some(nanos)
}

/// `±hh:mm` (exactly), hh ≤ 24 and mm ≤ 60 as Go's `Parse` allows.
fn parse_offset(s: &str) -> Option<i32> {
    if s.len() != 6 {
        return None;
    }
    let negative = match s.as_bytes().first()? {
        b'+' => false,
        b'-' => true,
        _ => return None,
    };
    let (hours, rest) = take_digits(s.get(1..)?, 2)?;
    let (minutes, _) = take_digits(expect_char(rest, ':')?, 2)?;
    if hours > 24 || minutes > 60 {
        return None;
    }
    let total = i32::try_from(hours * 60 + minutes).ok()?;
    Some(if negative { -total } else { total })
}

/// go-yaml's `parseTimestamp`: Go `time.Parse` with the layouts
/// `2006-1-2T15:4:5.999999999Z07:00` (also with `t`),
/// `2006-1-2 15:4:5.999999999` and `2006-1-2` (no zone: UTC).
pub fn parse_yaml_layouts(text: &str) -> Option<Time> {
    let b = text.as_bytes();
    let year_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if year_digits != 4 || b.get(4) != Some(&b'-') {
        return None;
    }
    let mut cur = Cursor { b, i: 0 };
    let mut st = Time {
        year: text.get(..4)?.parse().ok()?,
        ..Time::default()
    };
    cur.i = 5;
    st.month = cur.num12().filter(|m| (1..=12).contains(m))?;
    if !cur.eat(b'-') {
        return None;
    }
    st.day = cur.num12()?;
    if st.day < 1 || st.day > days_in_month(st.month, st.year) {
        return None;
    }
    if cur.at_end() {
        return Some(st);
    }
    match cur.peek() {
        Some(b'T' | b't') => {
            cur.i += 1;
            parse_clock(&mut cur, &mut st)?;
            parse_zone(&mut cur, &mut st)?;
        }
        Some(b' ') => {
            while cur.eat(b' ') {}
            parse_clock(&mut cur, &mut st)?;
        }
        _ => return None,
    }
    if !cur.at_end() {
        return None;
    }
    Some(st)
}

/// `15:4:5` with optional `.999999999` (or `,`) fraction.
fn parse_clock(cur: &mut Cursor<'_>, st: &mut Time) -> Option<()> {
    st.hour = cur.num12().filter(|h| *h < 24)?;
    if !cur.eat(b':') {
        return None;
    }
    st.minute = cur.num12().filter(|m| *m < 60)?;
    if !cur.eat(b':') {
        return None;
    }
    st.second = cur.num12().filter(|s| *s < 60)?;
    if matches!(cur.peek(), Some(b'.' | b',')) && cur.digit_at(1).is_some() {
        cur.i += 1;
        let mut nanos: u32 = 0;
        let mut count = 0;
        while let Some(d) = cur.digit_at(0) {
            if count < 9 {
                nanos = nanos * 10 + d;
                count += 1;
            }
            cur.i += 1;
        }
        for _ in count..9 {
            nanos *= 10;
        }
        st.nanos = nanos;
    }
    Some(())
}

/// `Z` or `±hh:mm` (Go accepts hours ≤ 24 and minutes ≤ 60 there).
fn parse_zone(cur: &mut Cursor<'_>, st: &mut Time) -> Option<()> {
    if cur.eat(b'Z') {
        return Some(());
    }
    let sign = match cur.peek()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    cur.i += 1;
    let hours = cur.num2()?;
    if !cur.eat(b':') {
        return None;
    }
    let minutes = cur.num2()?;
    if hours > 24 || minutes > 60 {
        return None;
    }
    st.offset_min = sign * i32::try_from(hours * 60 + minutes).ok()?;
    Some(())
}

/// A cursor over the text for the timestamp layouts.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn digit_at(&self, off: usize) -> Option<u32> {
        self.b
            .get(self.i + off)
            .filter(|c| c.is_ascii_digit())
            .map(|c| u32::from(c - b'0'))
    }

    /// Go `getnum(s, false)`: one or two digits.
    fn num12(&mut self) -> Option<u32> {
        let first = self.digit_at(0)?;
        match self.digit_at(1) {
            Some(second) => {
                self.i += 2;
                Some(first * 10 + second)
            }
            None => {
                self.i += 1;
                Some(first)
            }
        }
    }

    /// Exactly two digits (Go `getnum(s, true)`).
    fn num2(&mut self) -> Option<u32> {
        let v = self.digit_at(0)? * 10 + self.digit_at(1)?;
        self.i += 2;
        Some(v)
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn time_normalisation_nano() {
        let cases: &[(&str, &str)] = &[
            ("2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z"),
            ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
            ("2006-01-02T15:04:05+07:06", "2006-01-02T15:04:05+07:06"),
            ("2024-01-02T03:04:05.1Z", "2024-01-02T03:04:05.1Z"),
            ("2024-01-02T03:04:05.100000000Z", "2024-01-02T03:04:05.1Z"),
            ("2024-01-02T03:04:05.000Z", "2024-01-02T03:04:05Z"),
            (
                "2024-01-02T03:04:05.1234567891Z",
                "2024-01-02T03:04:05.123456789Z",
            ),
            ("2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05Z"),
            ("2024-01-02T03:04:05-00:00", "2024-01-02T03:04:05Z"),
            ("2024-01-02T03:04:05.5-05:30", "2024-01-02T03:04:05.5-05:30"),
            ("2024-02-29T23:59:59+23:59", "2024-02-29T23:59:59+23:59"),
            ("0000-02-29T00:00:00Z", "0000-02-29T00:00:00Z"),
            // Observed with the sops 3.11 binary (Go 1.25 UnmarshalText):
            ("2024-01-02T3:04:05Z", "2024-01-02T03:04:05Z"),
            ("2024-01-02T3:04:05+01:00", "2024-01-02T03:04:05+01:00"),
            ("2024-01-02T03:04:05,5Z", "2024-01-02T03:04:05.5Z"),
            (
                "2024-01-02T03:04:05.1234567891+05:30",
                "2024-01-02T03:04:05.123456789+05:30",
            ),
        ];
        for &(input, want) in cases {
            assert_eq!(normalize_time_nano(input).as_deref(), Some(want), "{input}");
        }
        for bad in [
            "",
            "2024-01-02",
            "2025-01-02 03:04:05",
            "2024-01-02t03:04:05Z",
            "2024-01-02T03:04:05z",
            "2024-01-02T03:04:05",
            "2024-01-02T03:04:05.Z",
            "2024-01-02T03:04:05,Z",
            // Parsed by Go but refused by MarshalText (offset ≥ 24 h) [obs]:
            "2024-01-02T03:04:05+24:00",
            "2024-01-02T03:04:05+23:60",
            "2024-01-02T03:04:05+24:60",
            "2024-01-02T03:04:05+25:00",
            "2024-01-02T03:04:05+01:61",
            "2024-01-02T03:04:05+0100",
            "2024-01-02T03:04:05Z ",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-02T24:00:00Z",
            "2024-01-02T23:60:00Z",
            "2024-01-02T23:59:60Z",
            "2024-02-30T03:04:05Z",
            "2024-01-02T123:04:05Z",
            "+024-01-02T03:04:05Z",
            "2024-01-02T03:04:05Zé",
        ] {
            assert_eq!(normalize_time_nano(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn time_normalisation_seconds() {
        let cases: &[(&str, &str)] = &[
            ("2026-05-22T20:16:23Z", "2026-05-22T20:16:23Z"),
            ("2026-05-22T20:16:23+00:00", "2026-05-22T20:16:23Z"),
            ("2026-05-22T20:16:23.000Z", "2026-05-22T20:16:23Z"),
            ("2026-05-22T20:16:23.999999999Z", "2026-05-22T20:16:23Z"),
            ("2026-05-22T20:16:23+01:00", "2026-05-22T20:16:23+01:00"),
            ("2026-05-22T20:16:23-07:30", "2026-05-22T20:16:23-07:30"),
            // Go's lenient time.Parse:
            ("2026-05-22T2:16:23Z", "2026-05-22T02:16:23Z"),
            ("2026-05-22T20:16:23,5Z", "2026-05-22T20:16:23Z"),
            ("2026-05-22T20:16:23+24:00", "2026-05-22T20:16:23+24:00"),
            ("2026-05-22T20:16:23+24:60", "2026-05-22T20:16:23+25:00"),
        ];
        for &(input, want) in cases {
            assert_eq!(
                normalize_time_seconds(input).as_deref(),
                Some(want),
                "{input}"
            );
        }
        for bad in [
            "",
            "2026-05-22",
            "2026-05-22 20:16:23Z",
            "2026-05-22T20:16:23+25:00",
            "2026-05-22T20:16:23",
        ] {
            assert_eq!(normalize_time_seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn utc_now_is_written_with_whole_seconds() {
        let t = ::time::macros::datetime!(2024-02-29 23:59:58.75 +01:30);
        assert_eq!(format_rfc3339_utc(t), "2024-02-29T22:29:58Z");
    }

    #[test]
    fn yaml_layouts() {
        let t = parse_yaml_layouts("2001-12-14t21:59:43.10-05:00").expect("parses");
        assert_eq!(t.rfc3339_nano(), "2001-12-14T21:59:43.1-05:00");
        assert_eq!(t.rfc3339(), "2001-12-14T21:59:43-05:00");
        let t = parse_yaml_layouts("2002-1-2 3:4:5").expect("parses");
        assert_eq!(t.rfc3339_nano(), "2002-01-02T03:04:05Z");
        assert!(!parse_yaml_layouts("2002-01-02T03:04:05+24:00")
            .expect("parses")
            .marshalable());
        assert_eq!(parse_yaml_layouts("2002-02-30"), None);
    }

    #[test]
    fn rfc3339_of_a_nano_text_and_time_string() {
        assert_eq!(
            rfc3339_seconds("2024-01-02T03:04:05.5+02:00"),
            "2024-01-02T03:04:05+02:00"
        );
        assert_eq!(
            rfc3339_seconds("2024-01-02T03:04:05Z"),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            time_string("2024-01-02T03:04:05.5Z"),
            "2024-01-02 03:04:05.5 +0000 UTC"
        );
        assert_eq!(
            time_string("2024-01-02T03:04:05+05:30"),
            "2024-01-02 03:04:05 +0530 +0530"
        );
    }

    proptest! {
        #[test]
        fn time_normalisation_is_idempotent(
            y in 0u32..10000, mo in 1u32..13, d in 1u32..29, h in 0u32..24, mi in 0u32..60, se in 0u32..60,
            frac in "(\\.[0-9]{1,12})?", zone in "Z|[+-](0[0-9]|1[0-9]|2[0-3]):[0-5][0-9]",
        ) {
            let s = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}{frac}{zone}");
            let n = normalize_time_nano(&s).expect("valid");
            prop_assert_eq!(normalize_time_nano(&n), Some(n.clone()));
            let sec = normalize_time_seconds(&s).expect("valid");
            prop_assert_eq!(normalize_time_seconds(&n), Some(sec));
        }
    }
}
