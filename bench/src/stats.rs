//! Summaries of timing samples: median, 99th and 99.9th percentiles and maximum, and ratios
//! between two series (always of medians).

use std::io::{self, Write};
use std::time::Duration;

/// Median, p99, p99.9 and maximum of one series of per-operation times. What a sample is
/// (one operation, or the mean of a batch) is the bench's to say: a batch mean hides the tail.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub median: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
    pub samples: usize,
}

impl Summary {
    /// Summarises `samples` (sorted in place). Panics on an empty series: a bench bug.
    pub fn of(samples: &mut [Duration]) -> Summary {
        assert!(!samples.is_empty(), "no samples");
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        Summary {
            median: at(0.5),
            p99: at(0.99),
            p999: at(0.999),
            max: samples[samples.len() - 1],
            samples: samples.len(),
        }
    }

    /// Every time halved: a round trip's summary as one way's.
    pub fn halved(self) -> Summary {
        Summary {
            median: self.median / 2,
            p99: self.p99 / 2,
            p999: self.p999 / 2,
            max: self.max / 2,
            samples: self.samples,
        }
    }

    /// `self` over `base`, by medians.
    pub fn ratio(&self, base: &Summary) -> f64 {
        self.median.as_secs_f64() / base.median.as_secs_f64()
    }
}

/// One line of a results table: a variant, its timings, and the baseline it is compared to.
pub struct Row {
    pub bench: &'static str,
    pub label: &'static str,
    pub summary: Summary,
    pub baseline: Option<(&'static str, Summary)>,
    /// Bytes moved per operation, for throughput benches.
    pub bytes: Option<u64>,
    /// Print operations/s (and MB/s, with `bytes`) by the median after the row.
    pub rates: bool,
}

impl Row {
    /// A row with no baseline (it is one).
    pub fn base(bench: &'static str, label: &'static str, summary: Summary) -> Row {
        Row {
            bench,
            label,
            summary,
            baseline: None,
            bytes: None,
            rates: false,
        }
    }

    /// The same row, moving `bytes` per operation (adds a throughput column).
    pub fn moving(mut self, bytes: u64) -> Row {
        self.bytes = Some(bytes);
        self
    }

    /// The same row, printed with its rates: operations/s and, with bytes, MB/s (10^6 bytes).
    #[cfg_attr(not(all(target_os = "linux", feature = "zenoh")), allow(dead_code))]
    pub fn rates(mut self) -> Row {
        self.rates = true;
        self
    }

    /// Operations per second by the median.
    pub fn ops_per_s(&self) -> f64 {
        1.0 / self.summary.median.as_secs_f64()
    }

    /// Throughput by the median, in GiB/s.
    pub fn gib_per_s(&self) -> Option<f64> {
        self.bytes
            .map(|b| b as f64 / self.summary.median.as_secs_f64() / (1u64 << 30) as f64)
    }

    /// A row compared to `base`.
    pub fn vs(bench: &'static str, label: &'static str, summary: Summary, base: &Row) -> Row {
        Row {
            bench,
            label,
            summary,
            baseline: Some((base.label, base.summary)),
            bytes: None,
            rates: false,
        }
    }
}

/// One result in `--json` output; the field names are stable.
#[derive(serde::Serialize)]
pub struct JsonRow {
    pub bench: &'static str,
    pub variant: &'static str,
    pub median_ns: u64,
    pub p99_ns: u64,
    /// The 99.9th percentile (equal to the maximum with fewer than 1 000 samples).
    pub p999_ns: u64,
    pub max_ns: u64,
    pub samples: usize,
    /// The variant this one is compared to, if any.
    pub baseline: Option<&'static str>,
    /// Median over the baseline's median (time: below 1 is faster).
    pub ratio: Option<f64>,
    /// Bytes per operation, for throughput benches.
    pub bytes: Option<u64>,
    /// Throughput by the median, GiB/s.
    pub gib_per_s: Option<f64>,
}

impl From<&Row> for JsonRow {
    fn from(r: &Row) -> JsonRow {
        JsonRow {
            bench: r.bench,
            variant: r.label,
            median_ns: r.summary.median.as_nanos() as u64,
            p99_ns: r.summary.p99.as_nanos() as u64,
            p999_ns: r.summary.p999.as_nanos() as u64,
            max_ns: r.summary.max.as_nanos() as u64,
            samples: r.summary.samples,
            baseline: r.baseline.as_ref().map(|(l, _)| *l),
            ratio: r.baseline.as_ref().map(|(_, b)| r.summary.ratio(b)),
            bytes: r.bytes,
            gib_per_s: r.gib_per_s(),
        }
    }
}

/// Prints rows as aligned tables, one per bench, with `title` of each bench from `titles`.
pub fn print(out: &mut dyn Write, rows: &[Row], titles: &[(&str, &str)]) -> io::Result<()> {
    let w = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0)
        .max(7);
    let mut last = "";
    for r in rows {
        if r.bench != last {
            last = r.bench;
            let title = titles
                .iter()
                .find(|(b, _)| *b == r.bench)
                .map_or(r.bench, |(_, t)| t);
            writeln!(out, "\n{title}")?;
            writeln!(
                out,
                "{:<w$} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}  vs",
                "variant", "median", "p99", "p99.9", "max", "ratio", "GiB/s"
            )?;
        }
        let (ratio, base) = match &r.baseline {
            Some((label, b)) => (format!("{:.2}x", r.summary.ratio(b)), *label),
            None => (String::from("-"), ""),
        };
        let gib = r
            .gib_per_s()
            .map_or(String::from("-"), |g| format!("{g:.2}"));
        let rates = match (r.rates, r.bytes) {
            (false, _) => String::new(),
            (true, None) => format!("  [{:.0}/s]", r.ops_per_s()),
            (true, Some(b)) => format!(
                "  [{:.0} msg/s, {:.0} MB/s]",
                r.ops_per_s(),
                r.ops_per_s() * b as f64 / 1e6
            ),
        };
        writeln!(
            out,
            "{:<w$} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}  {}{}",
            r.label,
            fmt(r.summary.median),
            fmt(r.summary.p99),
            fmt(r.summary.p999),
            fmt(r.summary.max),
            ratio,
            gib,
            base,
            rates
        )?;
    }
    Ok(())
}

/// Formats a duration in the unit that reads best.
pub fn fmt(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 10_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.1} ms", ns as f64 / 1e6)
    }
}

/// Runs `round_trip` `warm` times, then times each of `n` more with one [`Ticks`] read per
/// call (the end of one is the start of the next): per-operation samples, so the tail is the
/// operations' own and not hidden in a batch mean.
pub fn each(warm: usize, n: usize, mut round_trip: impl FnMut()) -> Summary {
    for _ in 0..warm {
        round_trip();
    }
    // Written before the clock starts, so no page fault lands in a sample.
    let mut d = vec![0u64; n];
    let clock = Ticks::start();
    let mut last = clock.now();
    for x in d.iter_mut() {
        round_trip();
        let now = clock.now();
        *x = now.wrapping_sub(last);
        last = now;
    }
    let ns_per_tick = clock.calibrate();
    let mut v: Vec<Duration> = d
        .iter()
        .map(|&t| Duration::from_nanos((t as f64 * ns_per_tick) as u64))
        .collect();
    Summary::of(&mut v)
}

/// A cheap clock for timing every message: the time-stamp counter on x86_64 (one `rdtsc`, no
/// vDSO call, no fences: a few ns), converted to time by [`Ticks::calibrate`]; elsewhere, the
/// nanoseconds of an `Instant`. Read on one thread (the benches pin it to one CPU).
pub struct Ticks {
    start: std::time::Instant,
    start_ticks: u64,
}

impl Ticks {
    /// Starts a calibration interval: its length in ticks and in `Instant` time gives the
    /// tick's length.
    pub fn start() -> Ticks {
        let start = std::time::Instant::now();
        Ticks {
            start,
            start_ticks: ticks(start),
        }
    }

    /// Now, in ticks.
    #[inline(always)]
    pub fn now(&self) -> u64 {
        ticks(self.start)
    }

    /// Nanoseconds per tick over the interval since [`Ticks::start`] (make it long: a
    /// millisecond or more).
    pub fn calibrate(&self) -> f64 {
        let (ns, t) = (self.start.elapsed().as_nanos() as f64, self.now());
        ns / (t.wrapping_sub(self.start_ticks).max(1)) as f64
    }
}

#[inline(always)]
fn ticks(_start: std::time::Instant) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` has no preconditions and is present on every x86_64 CPU.
        #[allow(unused_unsafe)]
        unsafe {
            std::arch::x86_64::_rdtsc()
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        _start.elapsed().as_nanos() as u64
    }
}
