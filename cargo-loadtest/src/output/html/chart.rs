//! Line charts as inline SVG, drawn by hand: no script, no font or stylesheet from anywhere, so
//! the page opens offline and prints as it shows. A chart is a frame with nice ticks on both
//! axes, a legend above it and one polyline per series; the x axis counts seconds, or for the
//! percentile spectrum `log10(1 / (1 - p))` labelled as percentiles, or for a capacity search
//! the offered arrival rate.

use loadtest_report::report::human_us;
use std::fmt::Write as _;

/// The drawing's size in SVG units (it scales to the page's width).
const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 290.0;
/// The plot area's margins: room for the tick labels and the legend.
const LEFT: f64 = 66.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 40.0;

/// What an axis counts, which decides its ticks' labels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Axis {
    /// Seconds since the test started.
    Seconds,
    /// Latency in microseconds, labelled in time units.
    Micros,
    /// Something per second.
    PerSecond,
    /// `log10(1 / (1 - p))` for percentile `p`, labelled `90%`, `99%`, `99.9%`...
    Percentile,
}

/// One series of a chart.
#[derive(Clone, Debug)]
pub(crate) struct Line {
    /// The legend's text.
    pub(crate) label: String,
    /// A CSS colour.
    pub(crate) color: &'static str,
    /// Dashed (a baseline's curve).
    pub(crate) dashed: bool,
    /// `(x, y)` points in the axes' units, in x order.
    pub(crate) points: Vec<(f64, f64)>,
}

/// A chart: its name (for the page and tests), its axes and its series.
#[derive(Clone, Debug)]
pub(crate) struct Chart {
    /// Names the chart in `data-chart`.
    pub(crate) kind: &'static str,
    /// The accessible title.
    pub(crate) title: String,
    pub(crate) x: Axis,
    pub(crate) y: Axis,
    pub(crate) lines: Vec<Line>,
}

/// A step of 1, 2, 2.5 or 5 times a power of ten giving about `want` ticks up to `max`.
fn nice_step(max: f64, want: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / want;
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let m = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 2.5 {
        2.5
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * magnitude
}

/// The tick values from 0 to at least `max`.
fn ticks(axis: Axis, max: f64) -> Vec<f64> {
    if axis == Axis::Percentile {
        let top = max.ceil().max(1.0);
        return (0..=top as u32).map(f64::from).collect();
    }
    let step = nice_step(max, 5.0);
    let n = (max / step).ceil().max(1.0) as u32;
    (0..=n).map(|i| f64::from(i) * step).collect()
}

fn label(axis: Axis, v: f64) -> String {
    match axis {
        Axis::Seconds => {
            if v >= 120.0 && (v % 60.0).abs() < 1e-9 {
                format!("{}m", v / 60.0)
            } else {
                format!("{}s", trim(v))
            }
        }
        Axis::Micros => {
            if v == 0.0 {
                "0".into()
            } else {
                human_us(v)
            }
        }
        Axis::PerSecond => format!("{}/s", trim(v)),
        Axis::Percentile => {
            let nines = v.round() as i32;
            if nines == 0 {
                "0%".into()
            } else {
                let p = 100.0 - 100.0 * 10f64.powi(-nines);
                format!("{}%", trim(p))
            }
        }
    }
}

/// A number without trailing zeros (`2.5`, `10`, `99.99`).
fn trim(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// Escapes text for HTML and SVG.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// The chart as an `<svg>` element.
pub(crate) fn render(c: &Chart) -> String {
    let all = || c.lines.iter().flat_map(|l| l.points.iter());
    let x_max = all().map(|p| p.0).fold(0.0f64, f64::max);
    let y_max = all().map(|p| p.1).fold(0.0f64, f64::max);
    let x_ticks = ticks(c.x, x_max);
    let y_ticks = ticks(c.y, y_max * 1.04);
    let x_top = x_ticks
        .last()
        .copied()
        .unwrap_or(1.0)
        .max(f64::MIN_POSITIVE);
    let y_top = y_ticks
        .last()
        .copied()
        .unwrap_or(1.0)
        .max(f64::MIN_POSITIVE);
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let sx = |x: f64| LEFT + x / x_top * pw;
    let sy = |y: f64| TOP + ph - y / y_top * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" data-chart="{}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" preserveAspectRatio="xMidYMid meet">"#,
        c.kind,
        esc(&c.title)
    );
    let _ = write!(s, "<title>{}</title>", esc(&c.title));
    // Grid and tick labels.
    s.push_str(r##"<g class="grid" stroke="#d9d9d9" stroke-width="1">"##);
    for &t in &y_ticks {
        let y = sy(t);
        let _ = write!(
            s,
            r#"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/>"#,
            WIDTH - RIGHT
        );
    }
    for &t in &x_ticks {
        let x = sx(t);
        let _ = write!(
            s,
            r#"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}"/>"#,
            TOP + ph
        );
    }
    s.push_str("</g>");
    s.push_str(r##"<g class="ticks" font-size="11" fill="#333">"##);
    for &t in &y_ticks {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            sy(t) + 4.0,
            esc(&label(c.y, t))
        );
    }
    for &t in &x_ticks {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            sx(t),
            TOP + ph + 16.0,
            esc(&label(c.x, t))
        );
    }
    let x_name = match c.x {
        Axis::Percentile => "percentile (log scale)",
        Axis::PerSecond => "offered arrival rate",
        _ => "time since the test started",
    };
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">{x_name}</text>"##,
        LEFT + pw / 2.0,
        HEIGHT - 6.0
    );
    s.push_str("</g>");
    let _ = write!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw:.1}" height="{ph:.1}" fill="none" stroke="#888"/>"##
    );
    // The series.
    if c.lines.iter().all(|l| l.points.is_empty()) {
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#777" font-size="13">no data</text>"##,
            LEFT + pw / 2.0,
            TOP + ph / 2.0
        );
    }
    for l in &c.lines {
        if l.points.is_empty() {
            continue;
        }
        let dash = if l.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.6" stroke-linejoin="round"{dash} points=""#,
            l.color
        );
        for (i, &(x, y)) in l.points.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let _ = write!(s, "{:.1},{:.1}", sx(x), sy(y));
        }
        s.push_str(r#""/>"#);
        if l.points.len() == 1 {
            let (x, y) = l.points[0];
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{}"/>"#,
                sx(x),
                sy(y),
                l.color
            );
        }
    }
    // The legend, above the plot.
    s.push_str(r##"<g class="legend" font-size="12" fill="#222">"##);
    let mut x = LEFT;
    for l in &c.lines {
        let dash = if l.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = write!(
            s,
            r#"<line x1="{x:.1}" y1="16" x2="{:.1}" y2="16" stroke="{}" stroke-width="2.5"{dash}/><text x="{:.1}" y="20">{}</text>"#,
            x + 18.0,
            l.color,
            x + 23.0,
            esc(&l.label)
        );
        x += 23.0 + 7.0 * l.label.chars().count() as f64 + 18.0;
    }
    s.push_str("</g></svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_data() {
        assert_eq!(ticks(Axis::Seconds, 9.0), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(Axis::Micros, 0.0), [0.0, 1.0]);
        let t = ticks(Axis::PerSecond, 1234.0);
        assert_eq!(t.first(), Some(&0.0));
        assert!(*t.last().unwrap() >= 1234.0 && t.len() <= 7, "{t:?}");
        assert_eq!(label(Axis::Percentile, 3.0), "99.9%");
        assert_eq!(label(Axis::Percentile, 0.0), "0%");
        assert_eq!(label(Axis::Seconds, 600.0), "10m");
        assert_eq!(label(Axis::Micros, 2_500.0), "2.5ms");
    }

    #[test]
    fn a_chart_is_one_svg_with_a_line_per_series_and_escaped_text() {
        let chart = Chart {
            kind: "latency",
            title: "p99 <of> \"home\"".into(),
            x: Axis::Seconds,
            y: Axis::Micros,
            lines: vec![
                Line {
                    label: "p99".into(),
                    color: "#b2182b",
                    dashed: false,
                    points: vec![(1.0, 100.0), (2.0, 300.0)],
                },
                Line {
                    label: "baseline <p99>".into(),
                    color: "#888",
                    dashed: true,
                    points: vec![(1.0, 90.0)],
                },
            ],
        };
        let svg = render(&chart);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("stroke-dasharray"));
        assert!(!svg.contains("<of>") && svg.contains("&lt;of&gt;"));
        assert!(!svg.contains("http"));
        let empty = render(&Chart {
            lines: vec![],
            ..chart
        });
        assert!(empty.contains("no data"));
    }
}
