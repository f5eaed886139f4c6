//! `shmkit-bench plot IN.json OUT_DIR`: SVG plots from a `--json` run's results, with
//! `plotters`' SVG backend (no font files or system libraries: text is written as SVG
//! `<text>` and sized by plotters' built-in estimate, the viewer's font draws it).
//!
//! * `latency_sweep.svg`: one-way latency (median, solid; p99, dashed) by payload size,
//!   log-log, one line per transport (the `latency_sweep` table);
//! * `throughput_sweep.svg`: payload bytes per one-way time by size, from the same rows;
//! * `broadcast_fanout.svg`: time per message by subscriber count (the `broadcast_1MiB` and
//!   `broadcast_64KiB` tables' "N subscribers" rows).
//!
//! A plot whose table is not in the JSON is not written.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;

/// The fields of a `--json` row the plots use.
#[derive(serde::Deserialize)]
struct Point {
    bench: String,
    variant: String,
    median_ns: u64,
    p99_ns: u64,
    bytes: Option<u64>,
}

/// One line: its name, its points, dashed or solid, its colour's index.
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
    dashed: bool,
    colour: usize,
}

type Error = Box<dyn std::error::Error>;

/// Reads `input` and writes the plots into `out_dir` (created if missing); returns the files.
pub fn run(input: &Path, out_dir: &Path) -> Result<Vec<String>, Error> {
    let rows: Vec<Point> = serde_json::from_reader(std::io::BufReader::new(
        std::fs::File::open(input).map_err(|e| format!("{}: {e}", input.display()))?,
    ))?;
    std::fs::create_dir_all(out_dir)?;
    let mut written = Vec::new();

    // The sweep: the transport is the variant before its last ", " (the size).
    let mut by: BTreeMap<String, Vec<&Point>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.bench == "latency_sweep") {
        if let (Some((name, _)), Some(_)) = (r.variant.rsplit_once(", "), r.bytes) {
            by.entry(name.to_string()).or_default().push(r);
        }
    }
    if !by.is_empty() {
        let mut lat = Vec::new();
        let mut tput = Vec::new();
        for (k, (name, pts)) in by.iter().enumerate() {
            let at = |f: &dyn Fn(&Point) -> f64| -> Vec<(f64, f64)> {
                let mut v: Vec<(f64, f64)> = pts
                    .iter()
                    .map(|p| (p.bytes.unwrap() as f64, f(p)))
                    .collect();
                v.sort_by(|a, b| a.0.total_cmp(&b.0));
                v
            };
            lat.push(Series {
                name: format!("{name}, median"),
                points: at(&|p| p.median_ns as f64 / 1e3),
                dashed: false,
                colour: k,
            });
            lat.push(Series {
                name: format!("{name}, p99"),
                points: at(&|p| p.p99_ns as f64 / 1e3),
                dashed: true,
                colour: k,
            });
            tput.push(Series {
                name: name.clone(),
                points: at(&|p| p.bytes.unwrap() as f64 / p.median_ns.max(1) as f64),
                dashed: false,
                colour: k,
            });
        }
        let f = out_dir.join("latency_sweep.svg");
        chart(
            &f,
            "one-way latency by payload size: median solid, p99 dashed (busy-poll)",
            "payload",
            "one-way latency (µs)",
            &lat,
            true,
        )?;
        written.push(f.display().to_string());
        let f = out_dir.join("throughput_sweep.svg");
        chart(
            &f,
            "payload delivered per one-way latency (median)",
            "payload",
            "GB/s (10^9 bytes per second)",
            &tput,
            true,
        )?;
        written.push(f.display().to_string());
    }

    // Fan-out: "N subscribers" rows (not the comparison rows, "... vs ...").
    let mut fan: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for r in rows.iter().filter(|r| {
        r.bench.starts_with("broadcast_")
            && !r.variant.contains(" vs ")
            && !r.variant.contains("publisher")
    }) {
        if let Some((n, name)) = subscribers(&r.variant) {
            let size = r.bench.trim_start_matches("broadcast_");
            fan.entry(format!("{size}: {name}"))
                .or_default()
                .push((n as f64, r.median_ns as f64 / 1e3));
        }
    }
    let fan: Vec<Series> = fan
        .into_iter()
        .enumerate()
        .map(|(k, (name, mut points))| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series {
                name,
                points,
                dashed: false,
                colour: k,
            }
        })
        .collect();
    if !fan.is_empty() {
        let f = out_dir.join("broadcast_fanout.svg");
        chart(
            &f,
            "broadcast: time per message by subscriber processes (median)",
            "subscribers",
            "time per message (µs)",
            &fan,
            false,
        )?;
        written.push(f.display().to_string());
    }
    Ok(written)
}

/// "4 subscribers, in place" → (4, "shmkit, in place"); "iceoryx2, 4 subscribers" → (4,
/// "iceoryx2"); a label without a subscriber count → None.
fn subscribers(label: &str) -> Option<(u32, String)> {
    let words: Vec<&str> = label.split(' ').collect();
    let at = words
        .iter()
        .position(|w| w.trim_end_matches(',').starts_with("subscriber"))?;
    let n: u32 = words.get(at.checked_sub(1)?)?.parse().ok()?;
    let rest: Vec<&str> = words[..at - 1]
        .iter()
        .chain(&words[at + 1..])
        .copied()
        .collect();
    let rest = rest.join(" ");
    let rest = rest.trim_matches(|c: char| c == ',' || c == ' ');
    let name = if rest.starts_with("iceoryx2") {
        rest.to_string()
    } else if rest.is_empty() {
        "shmkit".to_string()
    } else {
        format!("shmkit, {rest}")
    };
    Some((n, name))
}

/// Sizes in bytes as "64 B", "16 KiB", "4 MiB".
fn size_label(x: f64) -> String {
    crate::sweep::size_name(x.round() as usize)
}

/// A tick value without needless digits: "0.1", "10", "1000".
fn number(y: f64) -> String {
    if y >= 10.0 {
        format!("{y:.0}")
    } else {
        format!("{:}", (y * 1000.0).round() / 1000.0)
    }
}

const COLOURS: [RGBColor; 8] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
];

/// Draws `series` into an SVG at `path`: log-log with sizes on x (`sizes`), else linear.
fn chart(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    sizes: bool,
) -> Result<(), Error> {
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    // The x axis of a size sweep is labelled at the measured sizes.
    let mut xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let style = |s: &Series| {
        let c = COLOURS[s.colour % COLOURS.len()];
        ShapeStyle::from(&c).stroke_width(2)
    };
    if sizes {
        let mut c = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (x0 / 1.5..x1 * 1.5).log_scale().with_key_points(xs),
                (y0.max(1e-3) / 1.5..y1 * 1.5).log_scale(),
            )?;
        c.configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|x| size_label(*x))
            .y_label_formatter(&|y| number(*y))
            .draw()?;
        for s in series {
            let st = style(s);
            if s.dashed {
                c.draw_series(DashedLineSeries::new(s.points.iter().copied(), 6, 4, st))?;
            } else {
                c.draw_series(LineSeries::new(s.points.iter().copied(), st))?
                    .label(&s.name)
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], st));
                c.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, st.filled())))?;
            }
        }
        c.configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
    } else {
        let mut c = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0.5..x1 + 0.5, 0.0..y1 * 1.15)?;
        c.configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            // Subscriber counts are whole: no label between them.
            .x_label_formatter(&|x| {
                if x.fract() == 0.0 {
                    format!("{x:.0}")
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| number(*y))
            .draw()?;
        for s in series {
            let st = style(s);
            c.draw_series(LineSeries::new(s.points.iter().copied(), st))?
                .label(&s.name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], st));
            c.draw_series(s.points.iter().map(|&p| Circle::new(p, 4, st.filled())))?;
        }
        c.configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
