//! Summaries of timing samples: median and 99th percentile, and ratios between two series.

use std::time::Duration;

/// Median and p99 of one series of per-operation times.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub median: Duration,
    pub p99: Duration,
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
            samples: samples.len(),
        }
    }

    /// `self` over `base`, by medians.
    pub fn ratio(&self, base: &Summary) -> f64 {
        self.median.as_secs_f64() / base.median.as_secs_f64()
    }
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
