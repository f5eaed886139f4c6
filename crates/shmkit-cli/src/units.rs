//! Human sizes (`4096`, `4KiB`, `1.5GiB`, `2G`) and durations (`100ms`, `2s`, `1m30s`), parsed
//! by the `parse-size` and `humantime` crates; this module only pins down the two forms in
//! which shmkit differs from their defaults.

use std::time::Duration;

/// Parses a size: a number (fractions allowed: `1.5GiB`), then an optional unit.
/// K/M/G/T and KiB/MiB/GiB/TiB are powers of 1024, KB/MB/GB/TB powers of 1000
/// (case-insensitive), a bare `B` or nothing means bytes.
///
/// `parse-size` reads a bare `K` as 1000 (its decimal default) and `Ki` as 1024, while shmkit
/// has always read `4K` like `dd` and `ls -h` do, as 4096: a lone prefix letter gets its `i`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let binary = matches!(
        t.as_bytes(),
        [
            ..,
            b'0'..=b'9' | b' ' | b'.',
            b'k' | b'K' | b'm' | b'M' | b'g' | b'G' | b't' | b'T'
        ]
    );
    let spelled = if binary {
        format!("{t}i")
    } else {
        t.to_owned()
    };
    parse_size::parse_size(&spelled).map_err(|e| match e {
        parse_size::Error::PosOverflow => format!("{s:?} is too large"),
        e => format!("{s:?} is not a size like 4096, 4KiB, 1.5MiB or 2G ({e})"),
    })
}

/// Unix permission bits in octal (`600`, `0o640`), at most `7777`.
pub fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("{s:?} is not an octal mode like 600"))
}

/// Parses a duration in `humantime`'s syntax (`100ms`, `2s`, `1m30s`, `1h`); a bare number
/// means seconds, as it always has here.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse()
            .map(Duration::from_secs)
            .map_err(|e| format!("{s:?}: {e}"));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("{s:?} is not a duration like 100ms, 2s or 1m30s ({e})"))
}

/// Parses a `--wait` value: a duration as [`parse_duration`] reads it, or `forever` (what
/// `--wait` without a value means): `Duration::MAX`, which the library waits for without end.
pub fn parse_wait(s: &str) -> Result<Duration, String> {
    match s.trim() {
        "forever" => Ok(Duration::MAX),
        t => parse_duration(t),
    }
}

/// Parses a typed message layout, `SIZE:ALIGN[:TAG]` (e.g. `16:8:pose v1`): the size a
/// positive multiple of the alignment, a power of two.
pub fn parse_layout(s: &str) -> Result<shmkit::channel::MessageLayout, String> {
    let mut parts = s.splitn(3, ':');
    let num = |p: Option<&str>, what: &str| {
        p.and_then(|x| x.parse::<u64>().ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("{s:?}: expected SIZE:ALIGN[:TAG], with a positive {what}"))
    };
    let size = num(parts.next(), "size")?;
    let align = num(parts.next(), "alignment")?;
    if !align.is_power_of_two() || size % align != 0 {
        return Err(format!(
            "{s:?}: the alignment must be a power of two that divides the size"
        ));
    }
    Ok(shmkit::channel::MessageLayout::new(
        size,
        align,
        parts.next(),
    ))
}

/// A size for people: `4096` → `4.0 KiB`.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("3KB"), Ok(3000));
        assert_eq!(parse_size("3kb"), Ok(3000));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("8 MiB"), Ok(8 << 20));
        assert_eq!(parse_size("64B"), Ok(64));
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn durations_and_human() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("10ns"), Ok(Duration::from_nanos(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_wait("forever"), Ok(Duration::MAX));
        assert_eq!(parse_wait("0"), Ok(Duration::ZERO));
        assert_eq!(parse_wait("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(human(4096), "4.0 KiB");
        assert_eq!(human(100), "100 B");
    }
}
