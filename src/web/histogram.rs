//! The Monte Carlo histogram of the calculator page: the distribution of the model values
//! (JCGM 101 7.5, the discrete representation of G_Y) with the Monte Carlo coverage interval
//! and the GUM one marked on it, so that a metrologist sees at a glance whether the GUM
//! interval is validated (JCGM 101 8.2) or where it is too wide or too narrow.
//!
//! House style of `svg.rs`: one pure function returning one `<svg>` string, no JavaScript,
//! `role="img"` with `<title>` and `<desc>`, scaled by its `viewBox`, and what colour says is
//! said a second way too: the GUM interval is dashed, the Monte Carlo one solid.

use std::fmt::Write as _;

use super::svg::{escape, id_prefix, legend, n, open_svg, AS_FOUND, GRID, INK, MUTED, NATIONAL};
use crate::domain::model::Histogram;
use crate::pdf::chart::nice_ticks;

const W: f64 = 760.0;
const PLOT_H: f64 = 240.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 36.0;
const BAR: &str = "#c9d6ea";

/// A coverage interval drawn on the histogram: its ends and the estimate.
#[derive(Debug, Clone, Copy)]
pub struct Marked {
    pub low: f64,
    pub high: f64,
    pub estimate: f64,
}

/// The histogram of `h` (values in `unit`) with the Monte Carlo interval and, when the GUM
/// result exists, the GUM interval y ± U. `p` is the coverage probability, for the legend.
pub fn histogram(
    h: &Histogram,
    unit: &str,
    p: f64,
    monte_carlo: Marked,
    gum: Option<Marked>,
) -> String {
    let central = central_bins(h);
    let (lo, hi) = x_range(h, central, monte_carlo, gum);
    let x = |v: f64| LEFT + (v - lo) / (hi - lo) * (W - LEFT - RIGHT);
    let bottom = TOP + PLOT_H;
    let mut body = String::new();
    let tallest = h.counts[central.0..central.1]
        .iter()
        .copied()
        .max()
        .unwrap_or(1)
        .max(1);
    axes(&mut body, lo, hi, tallest, &x, unit);
    for i in central.0..central.1 {
        let height = h.counts[i] as f64 / tallest as f64 * PLOT_H;
        let (x0, x1) = (x(h.edges[i]), x(h.edges[i + 1]));
        let _ = write!(
            body,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{BAR}"/>"#,
            n(x0),
            n(bottom - height),
            n((x1 - x0).max(0.5)),
            n(height)
        );
    }
    tails(&mut body, h, central, bottom);
    interval(&mut body, monte_carlo, &x, AS_FOUND, None);
    if let Some(g) = gum {
        interval(&mut body, g, &x, NATIONAL, Some("6 4"));
    }
    let (legend_svg, legend_h) = legend(
        &legend_items(p, gum.is_some()),
        LEFT,
        bottom + 44.0,
        W - LEFT - RIGHT,
    );
    let height = bottom + 44.0 + legend_h + 8.0;
    let seed = format!(
        "{:?}{:?}{}",
        h.counts.first(),
        h.edges.last(),
        h.counts.len()
    );
    let mut out = String::with_capacity(body.len() + 2048);
    open_svg(
        &mut out,
        &id_prefix("histogram", &seed),
        W,
        height,
        0.0,
        "Monte Carlo histogram of the model values",
        &description(h, unit, p, monte_carlo, gum),
    );
    out.push_str(&body);
    out.push_str(&legend_svg);
    out.push_str("</svg>");
    out
}

/// The bins drawn to scale: all but a long tail's outer bin on each side (the engine puts
/// the values beyond the central 99.9 % into one wide bin per side, `monte_carlo.rs`).
fn central_bins(h: &Histogram) -> (usize, usize) {
    let bins = h.counts.len();
    let width = |i: usize| h.edges[i + 1] - h.edges[i];
    let mut widths: Vec<f64> = (0..bins).map(width).collect();
    widths.sort_by(f64::total_cmp);
    let typical = widths[bins / 2];
    let wide = |i: usize| width(i) > 1.5 * typical;
    let start = usize::from(bins > 2 && wide(0));
    let end = if bins > 2 && wide(bins - 1) {
        bins - 1
    } else {
        bins
    };
    (start, end)
}

/// The values shown: the central bins and both intervals, with a little room either side.
fn x_range(
    h: &Histogram,
    (start, end): (usize, usize),
    mc: Marked,
    gum: Option<Marked>,
) -> (f64, f64) {
    let mut lo = h.edges[start].min(mc.low);
    let mut hi = h.edges[end].max(mc.high);
    if let Some(g) = gum {
        lo = lo.min(g.low);
        hi = hi.max(g.high);
    }
    if hi - lo <= 0.0 {
        let d = lo.abs().max(1.0) * 0.1;
        return (lo - d, hi + d);
    }
    let pad = (hi - lo) * 0.03;
    (lo - pad, hi + pad)
}

/// The x axis with its ticks and unit, the y axis with trials per bin.
fn axes(out: &mut String, lo: f64, hi: f64, tallest: u64, x: &dyn Fn(f64) -> f64, unit: &str) {
    let bottom = TOP + PLOT_H;
    let (ticks, decimals) = nice_ticks(lo, hi, 7);
    for t in ticks {
        let _ = write!(
            out,
            r#"<path d="M{x} {TOP}V{bottom}" stroke="{GRID}" stroke-width="1"/><text x="{x}" y="{}" font-size="12" fill="{MUTED}" text-anchor="middle">{}</text>"#,
            n(bottom + 16.0),
            escape(&format!("{t:.decimals$}")),
            x = n(x(t)),
        );
    }
    let _ = write!(
        out,
        r#"<path d="M{LEFT} {bottom}H{}" stroke="{INK}" stroke-width="1.2"/><text x="{}" y="{}" font-size="12.5" fill="{INK}" text-anchor="middle">model value y ({})</text>"#,
        n(W - RIGHT),
        n((LEFT + W - RIGHT) / 2.0),
        n(bottom + 34.0),
        escape(unit)
    );
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" font-size="12" fill="{MUTED}" text-anchor="end">{tallest}</text><text x="{}" y="{}" font-size="12" fill="{MUTED}" text-anchor="end">0</text><text x="14" y="{}" font-size="12" fill="{MUTED}" transform="rotate(-90 14 {})" text-anchor="middle">trials per bin</text>"#,
        n(LEFT - 6.0),
        n(TOP + 4.0),
        n(LEFT - 6.0),
        n(bottom),
        n(TOP + PLOT_H / 2.0),
        n(TOP + PLOT_H / 2.0),
    );
}

/// The trials in a long tail's outer bin, counted in words at that side (they are not lost).
fn tails(out: &mut String, h: &Histogram, (start, end): (usize, usize), bottom: f64) {
    let below: u64 = h.counts[..start].iter().sum();
    let above: u64 = h.counts[end..].iter().sum();
    for (count, x, anchor, arrow) in [
        (below, LEFT + 4.0, "start", "←"),
        (above, W - RIGHT - 4.0, "end", "→"),
    ] {
        if count > 0 {
            let label = if arrow == "←" {
                format!("{arrow} {count} further out")
            } else {
                format!("{count} further out {arrow}")
            };
            let _ = write!(
                out,
                r#"<text x="{}" y="{}" font-size="11.5" fill="{MUTED}" text-anchor="{anchor}">{}</text>"#,
                n(x),
                n(bottom - 6.0),
                escape(&label)
            );
        }
    }
}

/// One interval: a line at each end, a mark at the estimate and a bar between them above the
/// plot; `dash` for the GUM one.
fn interval(out: &mut String, m: Marked, x: &dyn Fn(f64) -> f64, colour: &str, dash: Option<&str>) {
    let dash = dash.map_or(String::new(), |d| format!(r#" stroke-dasharray="{d}""#));
    let bottom = TOP + PLOT_H;
    let bar_y = if dash.is_empty() {
        TOP - 20.0
    } else {
        TOP - 9.0
    };
    let (x0, x1, xe) = (x(m.low), x(m.high), x(m.estimate));
    let _ = write!(
        out,
        r#"<g stroke="{colour}" stroke-width="2" fill="none"{dash}><path d="M{a} {bar_y}V{bottom}M{b} {bar_y}V{bottom}M{a} {bar_y}H{b}"/></g><path d="M{e} {} L{} {} L{} {}Z" fill="{colour}"/>"#,
        n(bar_y - 5.0),
        n(xe - 4.5),
        n(bar_y + 3.0),
        n(xe + 4.5),
        n(bar_y + 3.0),
        a = n(x0),
        b = n(x1),
        e = n(xe),
        bar_y = n(bar_y),
        bottom = n(bottom),
    );
}

fn legend_items(p: f64, with_gum: bool) -> Vec<(String, String)> {
    let percent = crate::domain::certificate::percent(p);
    let mut items = vec![
        (
            format!(r#"<rect x="2" y="2" width="18" height="10" fill="{BAR}"/>"#),
            "Monte Carlo trials (histogram)".to_string(),
        ),
        (
            format!(r#"<path d="M2 7H20" stroke="{AS_FOUND}" stroke-width="2"/>"#),
            format!("Monte Carlo {percent} % coverage interval (solid), ▼ mean"),
        ),
    ];
    if with_gum {
        items.push((
            format!(
                r#"<path d="M1 7H23" stroke="{NATIONAL}" stroke-width="2" stroke-dasharray="6 4"/>"#
            ),
            format!("GUM interval y ± U at {percent} % (dashed), ▼ y"),
        ));
    }
    items
}

fn description(h: &Histogram, unit: &str, p: f64, mc: Marked, gum: Option<Marked>) -> String {
    let trials: u64 = h.counts.iter().sum();
    let percent = crate::domain::certificate::percent(p);
    let mut text = format!(
        "{trials} Monte Carlo trials in {} bins from {} to {} {unit}. Monte Carlo {percent} % coverage interval from {} to {} {unit}.",
        h.counts.len(),
        h.edges[0],
        h.edges[h.edges.len() - 1],
        mc.low,
        mc.high
    );
    if let Some(g) = gum {
        let _ = write!(text, " GUM interval from {} to {} {unit}.", g.low, g.high);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal_like() -> Histogram {
        let edges: Vec<f64> = (0..=10).map(|i| i as f64).collect();
        Histogram {
            edges,
            counts: vec![1, 4, 9, 16, 20, 20, 16, 9, 4, 1],
        }
    }

    #[test]
    fn draws_bars_both_intervals_and_says_what_it_shows() {
        let mc = Marked {
            low: 1.5,
            high: 8.5,
            estimate: 5.0,
        };
        let gum = Marked {
            low: 1.0,
            high: 9.0,
            estimate: 5.0,
        };
        let svg = histogram(&normal_like(), "mW", 0.95, mc, Some(gum));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(
            svg.matches("<rect").count(),
            10 + 1,
            "ten bars and the legend's swatch"
        );
        assert!(
            svg.contains(r#"stroke-dasharray="6 4""#),
            "the GUM interval is dashed"
        );
        assert!(svg.contains("GUM interval from 1 to 9 mW"));
        assert!(svg.contains("95 % coverage interval"));
        assert!(svg.contains("model value y (mW)"));
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn a_long_tail_bin_is_counted_not_drawn_to_scale() {
        let mut h = normal_like();
        h.edges[0] = -1000.0;
        h.edges[10] = 1000.0;
        let svg = histogram(
            &h,
            "1",
            0.95,
            Marked {
                low: 2.0,
                high: 8.0,
                estimate: 5.0,
            },
            None,
        );
        assert_eq!(svg.matches("further out").count(), 2);
        assert!(
            !svg.contains("dasharray"),
            "no GUM interval without a GUM result"
        );
        assert_eq!(svg.matches("<rect").count(), 8 + 1);
    }

    #[test]
    fn text_is_escaped() {
        let svg = histogram(
            &normal_like(),
            "<b>",
            0.95,
            Marked {
                low: 2.0,
                high: 8.0,
                estimate: 5.0,
            },
            None,
        );
        assert!(!svg.contains("<b>") && svg.contains("&lt;b&gt;"));
    }
}
