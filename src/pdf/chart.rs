//! Error-versus-reference chart with U bars and tolerance limits: lets the reader see at a
//! glance how the decision rule (ILAC-G8) played out at each point, next to the table that
//! states it (ISO/IEC 17025 7.8.6).

use printpdf::PaintMode;

use super::canvas::{grey, rgb, Align, Canvas, Face, Fonts, Style};
use crate::domain::calibration::{PointResult, Stage};
use crate::domain::quantity::parse_unit;

pub const CHART_H: f32 = 200.0;

/// The tolerance limits of a point's error, in the error's unit.
pub fn limits_in_error_unit(p: &PointResult) -> Option<(f64, f64)> {
    let target = parse_unit(&p.error.unit).ok();
    let convert = |v: f64, unit: &str| -> f64 {
        match (&target, parse_unit(unit)) {
            (Some(t), Ok(u)) if t.is_commensurable_with(&u) => {
                t.interval_from_si(u.interval_to_si(v))
            }
            _ => v,
        }
    };
    if let Some(t) = &p.tolerance {
        let t = convert(t.value, &t.unit).abs();
        return Some((-t, t));
    }
    p.limits.as_ref().map(|l| {
        (
            convert(l.lower.value, &l.lower.unit),
            convert(l.upper.value, &l.upper.unit),
        )
    })
}

/// Ticks at 1, 2 or 5 × 10^n covering [lo, hi]; also the decimals they need.
/// The plotted ranges around the data: a little air on every side, and a usable width when all
/// points share one reference value or one error.
pub fn padded_ranges(
    (mut xmin, mut xmax): (f64, f64),
    (mut ymin, mut ymax): (f64, f64),
) -> ((f64, f64), (f64, f64)) {
    if xmax - xmin <= 0.0 {
        let d = xmin.abs().max(1.0) * 0.1;
        xmin -= d;
        xmax += d;
    }
    let xpad = (xmax - xmin) * 0.05;
    if ymax - ymin <= 0.0 {
        ymin -= 1.0;
        ymax += 1.0;
    }
    let ypad = (ymax - ymin) * 0.08;
    ((xmin - xpad, xmax + xpad), (ymin - ypad, ymax + ypad))
}

pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, usize) {
    let span = (hi - lo).abs().max(f64::MIN_POSITIVE);
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).ceil() as i64;
    let end = (hi / step).floor() as i64;
    let ticks = (start..=end).map(|i| i as f64 * step).collect();
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    (ticks, decimals)
}

fn fmt_tick(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

pub fn stage_color(stage: Stage) -> printpdf::Color {
    match stage {
        Stage::AsFound => rgb(0.80, 0.40, 0.05),
        Stage::AsLeft => rgb(0.10, 0.30, 0.65),
    }
}

/// The plot area on the page and the value ranges it shows: maps values to page coordinates
/// (PDF y grows upwards, so `y0` is the bottom edge).
struct Plot {
    x0: f32,
    x1: f32,
    y0: f32,
    y1: f32,
    xmin: f64,
    xmax: f64,
    ymin: f64,
    ymax: f64,
}

impl Plot {
    fn sx(&self, v: f64) -> f32 {
        self.x0 + ((v - self.xmin) / (self.xmax - self.xmin)) as f32 * (self.x1 - self.x0)
    }

    fn sy(&self, v: f64) -> f32 {
        self.y0 + ((v - self.ymin) / (self.ymax - self.ymin)) as f32 * (self.y1 - self.y0)
    }
}

/// The padded `(x, y)` ranges to plot: the y range holds zero, every U bar and every limit, so
/// that what the decision was judged against is on the chart. None when no value is finite:
/// then there is nothing to draw.
fn plot_ranges(points: &[&PointResult]) -> Option<((f64, f64), (f64, f64))> {
    let xs: Vec<f64> = points.iter().map(|p| p.reference.value).collect();
    let mut ys: Vec<f64> = vec![0.0];
    for p in points {
        let (e, u) = (p.error.value, p.expanded_uncertainty.value.abs());
        ys.extend([e - u, e + u]);
        if let Some((lo, hi)) = limits_in_error_unit(p) {
            ys.extend([lo, hi]);
        }
    }
    let finite = |v: &&f64| v.is_finite();
    let (xmin, xmax) = min_max(xs.iter().filter(finite));
    let (ymin, ymax) = min_max(ys.iter().filter(finite));
    if !(xmin.is_finite() && xmax.is_finite() && ymin.is_finite() && ymax.is_finite()) {
        return None;
    }
    Some(padded_ranges((xmin, xmax), (ymin, ymax)))
}

/// Draws the chart for the points of one reference unit, its top edge at `top`.
pub fn draw(c: &mut Canvas, f: &Fonts, points: &[&PointResult], x0: f32, top: f32, w: f32) {
    let unit = points
        .first()
        .map(|p| p.reference.unit.as_str())
        .unwrap_or("");
    let Some(((xmin, xmax), (ymin, ymax))) = plot_ranges(points) else {
        return;
    };
    // The left margin holds the y tick labels, the top the title line, the bottom the x tick
    // labels and the axis name.
    let plot = Plot {
        x0: x0 + 48.0,
        x1: x0 + w - 6.0,
        y0: top - CHART_H + 30.0,
        y1: top - 26.0,
        xmin,
        xmax,
        ymin,
        ymax,
    };

    // Title line: the y axis is named above the plot, the legend to its right.
    c.text(
        f,
        x0,
        top - 10.0,
        &format!("Error / 误差 ({unit})"),
        &Style::new(Face::Bold, 7.5),
        Align::Left,
    );
    legend(c, f, plot.x1, top - 10.0, points);
    draw_grid(c, f, &plot, unit);
    draw_limits(c, &plot, points);
    draw_points(c, &plot, points);
    // The frame last, over the ends of the grid and the limit lines.
    c.stroke_rect(
        plot.x0,
        plot.y0,
        plot.x1 - plot.x0,
        plot.y1 - plot.y0,
        0.6,
        grey(0.3),
    );
}

/// Grid lines with their tick labels, a darker zero line when zero is inside the range (an
/// error of zero is the line a reader measures from), and the x axis's name.
fn draw_grid(c: &mut Canvas, f: &Fonts, plot: &Plot, unit: &str) {
    let label = Style::new(Face::Regular, 7.0);
    let tick = Style::new(Face::Regular, 6.5).color(grey(0.25));
    let (xt, xd) = nice_ticks(plot.xmin, plot.xmax, 8);
    for v in xt {
        let x = plot.sx(v);
        c.line((x, plot.y0), (x, plot.y1), 0.3, grey(0.85));
        c.text(f, x, plot.y0 - 9.0, &fmt_tick(v, xd), &tick, Align::Center);
    }
    let (yt, yd) = nice_ticks(plot.ymin, plot.ymax, 6);
    for v in yt {
        let y = plot.sy(v);
        c.line((plot.x0, y), (plot.x1, y), 0.3, grey(0.85));
        c.text(
            f,
            plot.x0 - 3.0,
            y - 2.3,
            &fmt_tick(v, yd),
            &tick,
            Align::Right,
        );
    }
    if plot.ymin < 0.0 && plot.ymax > 0.0 {
        let y = plot.sy(0.0);
        c.line((plot.x0, y), (plot.x1, y), 0.6, grey(0.45));
    }
    c.text(
        f,
        (plot.x0 + plot.x1) / 2.0,
        plot.y0 - 19.0,
        &format!("Reference value / 标准值 ({unit})"),
        &label,
        Align::Center,
    );
}

/// Tolerance limits: a line through each point's limit, held flat to the plot edges. Limits
/// may differ from point to point, so one straight line would misplace them.
fn draw_limits(c: &mut Canvas, plot: &Plot, points: &[&PointResult]) {
    let mut with_limits: Vec<(f64, f64, f64)> = points
        .iter()
        .filter_map(|p| limits_in_error_unit(p).map(|(lo, hi)| (p.reference.value, lo, hi)))
        .collect();
    with_limits.sort_by(|a, b| a.0.total_cmp(&b.0));
    with_limits.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1 && a.2 == b.2);
    if with_limits.is_empty() {
        return;
    }
    let limit_color = rgb(0.78, 0.10, 0.10);
    for pick in [|t: &(f64, f64, f64)| t.1, |t: &(f64, f64, f64)| t.2] {
        let mut pts = vec![(plot.x0, plot.sy(pick(&with_limits[0])))];
        pts.extend(with_limits.iter().map(|t| (plot.sx(t.0), plot.sy(pick(t)))));
        pts.push((plot.x1, plot.sy(pick(&with_limits[with_limits.len() - 1]))));
        c.polyline(&pts, 0.9, limit_color.clone(), Some(&[4.0, 2.5]));
    }
}

/// Points with their U bars; as-found and as-left side by side at the same reference, so that
/// neither hides the other.
fn draw_points(c: &mut Canvas, plot: &Plot, points: &[&PointResult]) {
    let m = 2.3;
    for p in points {
        let shift = match p.stage {
            Stage::AsFound => -2.5,
            Stage::AsLeft => 2.5,
        };
        let x = plot.sx(p.reference.value) + shift;
        let (e, u) = (p.error.value, p.expanded_uncertainty.value.abs());
        if !(x.is_finite() && e.is_finite()) {
            continue;
        }
        let col = stage_color(p.stage);
        if u.is_finite() && u > 0.0 {
            let (lo, hi) = (plot.sy(e - u), plot.sy(e + u));
            c.line((x, lo), (x, hi), 0.6, col.clone());
            c.line((x - 1.8, lo), (x + 1.8, lo), 0.6, col.clone());
            c.line((x - 1.8, hi), (x + 1.8, hi), 0.6, col.clone());
        }
        marker(c, p.stage, x, plot.sy(e), m);
    }
}

fn min_max<'a>(it: impl Iterator<Item = &'a f64>) -> (f64, f64) {
    it.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(*v), hi.max(*v))
    })
}

/// As found: an open circle; as left: a filled square — distinguishable in black and white.
fn marker(c: &mut Canvas, stage: Stage, x: f32, y: f32, r: f32) {
    let col = stage_color(stage);
    match stage {
        Stage::AsFound => {
            let ring: Vec<(f32, f32)> = (0..16)
                .map(|i| {
                    let a = i as f32 * std::f32::consts::TAU / 16.0;
                    (x + r * a.cos(), y + r * a.sin())
                })
                .collect();
            c.shape(&ring, PaintMode::Stroke, 0.8, col);
        }
        Stage::AsLeft => {
            let s = r * 0.9;
            c.fill_rect(x - s, y - s, 2.0 * s, 2.0 * s, col);
        }
    }
}

/// The legend names only the series the chart draws: no "As left" key on a
/// chart without as-left points, no tolerance key without a specification.
fn legend(c: &mut Canvas, f: &Fonts, right: f32, y: f32, points: &[&PointResult]) {
    let st = Style::new(Face::Regular, 7.0);
    let has = |stage: Stage| points.iter().any(|p| p.stage == stage);
    let has_limits = points
        .iter()
        .any(|p| p.tolerance.is_some() || p.limits.is_some());
    let all = [
        (0, "As found / 调整前", has(Stage::AsFound)),
        (1, "As left / 调整后", has(Stage::AsLeft)),
        (2, "U (k, p) bars / 扩展不确定度", true),
        (3, "Tolerance limits / 允差限", has_limits),
    ];
    let items: Vec<(usize, &str)> = all
        .iter()
        .filter(|(_, _, present)| *present)
        .map(|(key, text, _)| (*key, *text))
        .collect();
    let gap = 14.0;
    let key = 12.0;
    let total: f32 = items
        .iter()
        .map(|(_, t)| key + 3.0 + f.width(t, Face::Regular, 7.0) + gap)
        .sum::<f32>()
        - gap;
    let mut x = right - total;
    for &(i, t) in &items {
        let cy = y + 2.4;
        match i {
            0 => marker(c, Stage::AsFound, x + key / 2.0, cy, 2.3),
            1 => marker(c, Stage::AsLeft, x + key / 2.0, cy, 2.3),
            2 => {
                let col = grey(0.3);
                let xm = x + key / 2.0;
                c.line((xm, cy - 3.5), (xm, cy + 3.5), 0.6, col.clone());
                c.line((xm - 1.8, cy - 3.5), (xm + 1.8, cy - 3.5), 0.6, col.clone());
                c.line((xm - 1.8, cy + 3.5), (xm + 1.8, cy + 3.5), 0.6, col);
            }
            _ => c.polyline(
                &[(x, cy), (x + key, cy)],
                0.9,
                rgb(0.78, 0.10, 0.10),
                Some(&[4.0, 2.5]),
            ),
        }
        x += key + 3.0;
        c.text(f, x, y, t, &st, Align::Left);
        x += f.width(t, Face::Regular, 7.0) + gap;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let (t, d) = nice_ticks(-0.013, 0.021, 6);
        assert_eq!(d, 2);
        assert!(t.first().unwrap() >= &-0.013 && t.last().unwrap() <= &0.021);
        assert!(t.len() >= 4 && t.len() <= 9, "{t:?}");
        let (t, d) = nice_ticks(0.0, 60.0, 8);
        assert_eq!(d, 0);
        assert_eq!(t, vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]);
        assert_eq!(fmt_tick(-0.0, 2), "0.00");
    }
}
