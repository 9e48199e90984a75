//! Inline SVG for the server-rendered pages: the traceability chain as a diagram (DESIGN
//! section 7) and the error-versus-reference chart of a calibration (section 6; the same chart
//! the PDF certificate draws, `pdf::chart`).
//!
//! Both functions are pure: they take the domain values and return one `<svg>` element as a
//! string, meant to be placed as is into an HTML page. No JavaScript. Each drawing has
//! `role="img"`, a `<title>` and a `<desc>` (named by `aria-labelledby`), scales with its
//! container through its `viewBox` (`width="100%"`, `max-width` at its natural size), and says
//! what colour says in a second way too (dash pattern, marker shape or a glyph), so it still
//! reads in greyscale. Every piece of text is XML-escaped with [`escape`].
//!
//! Text cannot be measured here, so widths are estimated (generously, for DejaVu Sans, one of
//! the widest common fonts) and long strings are shortened with "…", the full text kept in a
//! tooltip (`<title>`).

use std::fmt::Write as _;

use crate::domain::calibration::{PointResult, Stage};
use crate::domain::traceability::{ChainNode, TraceabilityReport, UNCERTAINTY_BELOW_STANDARD};
use crate::domain::validity::Role;
use crate::pdf::chart::{limits_in_error_unit, nice_ticks, padded_ranges};

/// The most nodes the traceability diagram draws; the rest is counted ("… N more").
pub const MAX_NODES: usize = 200;

const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', 'Noto Sans', \
                    'Helvetica Neue', Arial, sans-serif";

pub(super) const INK: &str = "#1b1f24";
pub(super) const MUTED: &str = "#545d68";
pub(super) const GRID: &str = "#dde1e6";
const BROKEN: &str = "#c62828";
const WARN: &str = "#8a5300";
pub(super) const NATIONAL: &str = "#1f3a68";
const ACCREDITED: &str = "#2e6b3a";
const NATIONAL_FILL: &str = "#e9eef6";
const ACCREDITED_FILL: &str = "#eaf4ec";
pub(super) const AS_FOUND: &str = "#c2540a";
const AS_LEFT: &str = "#1a4da6";
const LIMIT: &str = "#c71a1a";

// ---------------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------------

/// Escapes text for XML character data and attribute values (both quote kinds). Characters
/// XML 1.0 does not allow (C0 controls other than tab, line feed and carriage return; U+FFFE,
/// U+FFFF) become U+FFFD, so that no input can make the document ill-formed.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Estimated advance of a character in em (DejaVu Sans-like, on the generous side).
fn char_em(c: char) -> f64 {
    match c {
        '\u{1100}'..='\u{115F}'
        | '\u{2E80}'..='\u{A4CF}'
        | '\u{AC00}'..='\u{D7A3}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FE30}'..='\u{FE4F}'
        | '\u{FF00}'..='\u{FF60}'
        | '\u{FFE0}'..='\u{FFE6}' => 1.0,
        'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | 'I' => 0.3,
        ' ' | 'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' | '/' => 0.4,
        'm' | 'w' | 'M' | 'W' | '%' | '@' => 0.9,
        '0'..='9' => 0.64,
        c if c.is_ascii_uppercase() => 0.7,
        c if c.is_ascii_lowercase() => 0.6,
        '×' | '±' | '–' | '—' | '…' | '✓' | '✕' | '⚠' | '★' => 0.85,
        _ => 0.65,
    }
}

fn text_width(s: &str, size: f64, bold: bool) -> f64 {
    let em: f64 = s.chars().map(char_em).sum();
    em * size * if bold { 1.08 } else { 1.0 }
}

/// `s` shortened with "…" to fit `max_w`.
fn fit(s: &str, max_w: f64, size: f64, bold: bool) -> String {
    if text_width(s, size, bold) <= max_w {
        return s.to_string();
    }
    let budget = max_w - text_width("…", size, bold);
    let mut out = String::new();
    let mut w = 0.0;
    for c in s.chars() {
        let cw = char_em(c) * size * if bold { 1.08 } else { 1.0 };
        if w + cw > budget {
            break;
        }
        w += cw;
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// Words of `s` in lines of at most `max_w`, at most `max_lines` (the last one shortened).
fn wrap(s: &str, max_w: f64, size: f64, bold: bool, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in s.split_whitespace() {
        let candidate = if current.is_empty() {
            word.to_string()
        } else {
            format!("{current} {word}")
        };
        if current.is_empty() || text_width(&candidate, size, bold) <= max_w {
            current = candidate;
        } else {
            lines.push(std::mem::replace(&mut current, word.to_string()));
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > max_lines {
        let rest = lines[max_lines - 1..].join(" ");
        lines.truncate(max_lines - 1);
        lines.push(rest);
    }
    lines
        .into_iter()
        .map(|l| fit(&l, max_w, size, bold))
        .collect()
}

fn superscript(exp: i32) -> String {
    exp.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect()
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A value for reading: up to six significant digits, scientific (`1.5×10⁻⁷`) when very large
/// or very small.
fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    if a == 0.0 {
        return "0".to_string();
    }
    if (1e-4..1e7).contains(&a) {
        let decimals = (5 - a.log10().floor() as i32).clamp(0, 12) as usize;
        let s = trim_zeros(format!("{v:.decimals$}"));
        if s == "-0" {
            "0".to_string()
        } else {
            s
        }
    } else {
        let s = format!("{v:.4e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        format!("{}×10{}", trim_zeros(m.to_string()), superscript(e))
    }
}

/// Numbers in attributes: two decimals are plenty at these sizes.
pub(super) fn n(v: f64) -> String {
    let s = trim_zeros(format!("{v:.2}"));
    if s == "-0" {
        "0".to_string()
    } else {
        s
    }
}

/// A short stable id prefix (FNV-1a) so that several drawings on one page do not share ids.
pub(super) fn id_prefix(kind: &str, seed: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("ctsvg-{kind}-{:08x}", h as u32)
}

/// How a line of text is set: size, weight, colour and anchor.
struct Font<'a> {
    size: f64,
    bold: bool,
    fill: &'a str,
    anchor: &'a str,
}

/// Text element helper: `<text x y font-size [font-weight] fill [anchor]>escaped</text>`.
fn text(out: &mut String, x: f64, y: f64, font: Font, s: &str) {
    let Font {
        size,
        bold,
        fill,
        anchor,
    } = font;
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" font-size="{}"{} fill="{fill}"{}>{}</text>"#,
        n(x),
        n(y),
        n(size),
        if bold { r#" font-weight="700""# } else { "" },
        if anchor == "start" {
            String::new()
        } else {
            format!(r#" text-anchor="{anchor}""#)
        },
        escape(s)
    );
}

pub(super) fn open_svg(
    out: &mut String,
    id: &str,
    w: f64,
    h: f64,
    min_w: f64,
    title: &str,
    desc: &str,
) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMidYMin meet" style="display:block;max-width:{w}px;min-width:{min}px;height:auto" role="img" aria-labelledby="{id}-title {id}-desc" font-family="{FONT}" class="ctsvg"><title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>"#,
        w = n(w),
        h = n(h),
        min = n(min_w.min(w)),
        title = escape(title),
        desc = escape(desc),
    );
}

/// One row of a legend: `(swatch markup drawn in a 22 × 14 box at its origin, label)`, wrapped
/// to `width`. Returns the markup and the height used.
pub(super) fn legend(items: &[(String, String)], x0: f64, y0: f64, width: f64) -> (String, f64) {
    let size = 12.5;
    let (key, gap, line_h) = (24.0, 22.0, 22.0);
    let mut out = String::new();
    let (mut x, mut y) = (x0, y0);
    for (swatch, label) in items {
        let w = key + 6.0 + text_width(label, size, false);
        if x > x0 && x + w > x0 + width {
            x = x0;
            y += line_h;
        }
        let _ = write!(
            out,
            r#"<g transform="translate({},{})">{swatch}</g>"#,
            n(x),
            n(y)
        );
        text(
            &mut out,
            x + key + 6.0,
            y + 11.5,
            Font {
                size,
                bold: false,
                fill: INK,
                anchor: "start",
            },
            label,
        );
        x += w + gap;
    }
    (out, y - y0 + line_h)
}

// ---------------------------------------------------------------------------------------------
// Traceability diagram
// ---------------------------------------------------------------------------------------------

const BOX_W: f64 = 224.0;
const BOX_PAD: f64 = 10.0;
const BAND_H: f64 = 20.0;
const LINE_H: f64 = 17.0;
const ROW_GAP: f64 = 62.0;
const COL_GAP: f64 = 18.0;
const MARGIN: f64 = 16.0;

struct Item<'a> {
    node: &'a ChainNode,
    depth: usize,
    parent: usize,
    children: Vec<usize>,
    /// Standards of this node not drawn (cap reached).
    hidden: usize,
    x: f64,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Instrument,
    Standard,
    National,
    Accredited,
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn role_text(role: Role) -> &'static str {
    match role {
        Role::Working => "Working instrument",
        Role::Reference => "Reference standard",
        Role::National => "National standard",
    }
}

fn count_nodes(node: &ChainNode) -> usize {
    1 + node.standards.iter().map(count_nodes).sum::<usize>()
}

/// Lays out the subtree of `i` (tidy tree: subtrees side by side as close as their contours
/// allow, a parent centred over its first and last standard). Returns the subtree's contour,
/// `(left, right)` per level relative to `i`'s centre, and stores each child's offset from its
/// parent in `rel`.
fn contour(items: &[Item], i: usize, rel: &mut [f64]) -> Vec<(f64, f64)> {
    let own = (-BOX_W / 2.0, BOX_W / 2.0);
    let kids = &items[i].children;
    if kids.is_empty() {
        return vec![own];
    }
    let mut acc: Vec<(f64, f64)> = Vec::new();
    let mut offs = Vec::with_capacity(kids.len());
    for &k in kids {
        let c = contour(items, k, rel);
        let off = if acc.is_empty() {
            0.0
        } else {
            (0..c.len().min(acc.len()))
                .map(|d| acc[d].1 + COL_GAP - c[d].0)
                .fold(f64::NEG_INFINITY, f64::max)
        };
        for (d, (l, r)) in c.iter().enumerate() {
            let (l, r) = (l + off, r + off);
            match acc.get_mut(d) {
                Some(a) => *a = (a.0.min(l), a.1.max(r)),
                None => acc.push((l, r)),
            }
        }
        offs.push(off);
    }
    let mid = (offs[0] + offs[offs.len() - 1]) / 2.0;
    for (&k, off) in kids.iter().zip(&offs) {
        rel[k] = off - mid;
    }
    let mut out = vec![own];
    out.extend(acc.iter().map(|(l, r)| (l - mid, r - mid)));
    out
}

/// The nodes to draw, breadth first (a parent always before its children), and how many nodes
/// were left out. Breadth first, so that what the cap cuts is the far end of the chain, not a
/// whole branch near the instrument.
fn select_items(report: &TraceabilityReport) -> (Vec<Item<'_>>, usize) {
    let mut items = vec![Item {
        node: &report.chain,
        depth: 0,
        parent: 0,
        children: Vec::new(),
        hidden: 0,
        x: 0.0,
    }];
    let mut hidden_total = 0usize;
    let mut q = 0;
    while q < items.len() {
        let (node, depth) = (items[q].node, items[q].depth);
        for s in &node.standards {
            if items.len() < MAX_NODES {
                let idx = items.len();
                items.push(Item {
                    node: s,
                    depth: depth + 1,
                    parent: q,
                    children: Vec::new(),
                    hidden: 0,
                    x: 0.0,
                });
                items[q].children.push(idx);
            } else {
                items[q].hidden += 1;
                hidden_total += count_nodes(s);
            }
        }
        q += 1;
    }
    (items, hidden_total)
}

/// Which style a box gets. Checked in this order, so a national standard that is also an
/// accredited root is styled (and banded) as a national standard.
fn kind_of(report: &TraceabilityReport, item: &Item) -> Kind {
    let node = item.node;
    if node.instrument.role == Role::National {
        Kind::National
    } else if report.accredited_roots.iter().any(|r| {
        r.instrument_id == node.instrument.id && r.certificate_number == node.certificate_number
    }) {
        Kind::Accredited
    } else if item.depth == 0 {
        Kind::Instrument
    } else {
        Kind::Standard
    }
}

fn institute_of(report: &TraceabilityReport, id: i64) -> Option<String> {
    report
        .national_standards
        .iter()
        .find(|s| s.instrument_id == id)
        .and_then(|s| match (&s.institute, &s.country) {
            (Some(i), Some(c)) => Some(format!("{i} ({c})")),
            (Some(i), None) => Some(i.clone()),
            (None, Some(c)) => Some(c.clone()),
            (None, None) => None,
        })
}

/// The text of one box: its band, its lines `(text, colour, bold)` and its tooltip. Computed
/// before any geometry because the tallest box sets the height of every box.
struct BoxText {
    band: Option<String>,
    lines: Vec<(String, &'static str, bool)>,
    tooltip: String,
}

/// The text of `item`'s box. Lines are cut to the box's width ("…"); the tooltip keeps the
/// whole text, so nothing is lost to the cut.
fn box_text(report: &TraceabilityReport, item: &Item) -> BoxText {
    let inner = BOX_W - 2.0 * BOX_PAD;
    let node = item.node;
    let kind = kind_of(report, item);
    let mut lines = vec![(
        fit(&node.instrument.asset_tag, inner, 15.0, true),
        INK,
        true,
    )];
    let mut tip = vec![
        node.instrument.asset_tag.clone(),
        role_text(node.instrument.role).to_string(),
    ];
    let band = match kind {
        Kind::National => Some("NATIONAL STANDARD".to_string()),
        Kind::Accredited => Some("ACCREDITED ROOT".to_string()),
        Kind::Instrument => Some("INSTRUMENT".to_string()),
        Kind::Standard => None,
    };
    lines.push((role_text(node.instrument.role).to_string(), MUTED, false));
    if kind == Kind::National {
        let by = match institute_of(report, node.instrument.id) {
            Some(i) => format!("Realised by {i}"),
            None => "Realised by its NMI".to_string(),
        };
        lines.push((fit(&by, inner, 12.5, false), INK, false));
        tip.push(by);
    }
    if kind == Kind::Accredited {
        if let Some(r) = report.accredited_roots.iter().find(|r| {
            r.instrument_id == node.instrument.id && r.certificate_number == node.certificate_number
        }) {
            let i = &r.issuer;
            let by = format!(
                "{} {} · {}",
                i.accreditation_body, i.accreditation_number, i.name
            );
            tip.push(format!("Accredited calibration (ILAC MRA): {by}"));
            lines.push((fit(&by, inner, 12.5, false), ACCREDITED, false));
        }
    }
    if let Some(c) = &node.certificate_number {
        lines.push((fit(&format!("Cert. {c}"), inner, 12.5, false), INK, false));
        tip.push(format!("Certificate {c}"));
    }
    let mut facts = Vec::new();
    if let Some(d) = node.performed_on {
        facts.push(d.to_string());
        tip.push(format!("Calibrated {d}"));
    }
    if let Some(u) = &node.expanded_uncertainty {
        let s = format!("U = {} {}", fmt_num(u.value), u.unit);
        tip.push(format!("Smallest expanded uncertainty {s}"));
        facts.push(s);
    }
    if !facts.is_empty() {
        lines.push((fit(&facts.join(" · "), inner, 12.5, false), INK, false));
    }
    problem_lines(node, &mut lines, &mut tip);
    BoxText {
        band,
        lines,
        tooltip: tip.join(" · "),
    }
}

/// The broken link's reason and the warnings, last in the box. The reason wraps to a second
/// line rather than being cut: it is why the chain fails, the one line a reader must not lose.
fn problem_lines(
    node: &ChainNode,
    lines: &mut Vec<(String, &'static str, bool)>,
    tip: &mut Vec<String>,
) {
    let inner = BOX_W - 2.0 * BOX_PAD;
    if !node.link_valid {
        let why = node
            .reason
            .map(|r| r.describe())
            .unwrap_or("link not valid")
            .to_string();
        tip.push(format!("Broken link: {why}"));
        for l in wrap(&format!("✕ {}", capitalised(&why)), inner, 12.5, true, 2) {
            lines.push((l, BROKEN, true));
        }
    }
    for w in &node.warnings {
        let s = if w == UNCERTAINTY_BELOW_STANDARD {
            "U below its standard's U".to_string()
        } else {
            w.replace('_', " ")
        };
        tip.push(format!("Warning: {s}"));
        lines.push((fit(&format!("⚠ {s}"), inner, 12.5, false), WARN, false));
    }
}

/// Places the boxes side by side (sets each item's `x`, its centre) and returns the drawing's
/// width. The tree is centred in a drawing at least 600 wide, so that a short chain does not
/// render as a sliver.
fn place_columns(items: &mut [Item]) -> f64 {
    let mut rel = vec![0.0; items.len()];
    contour(items, 0, &mut rel);
    for i in 1..items.len() {
        // Breadth first: a parent comes before its children.
        items[i].x = items[items[i].parent].x + rel[i];
    }
    let min_x = items
        .iter()
        .map(|it| it.x - BOX_W / 2.0)
        .fold(f64::INFINITY, f64::min);
    let max_x = items
        .iter()
        .map(|it| it.x + BOX_W / 2.0)
        .fold(f64::NEG_INFINITY, f64::max);
    let tree_w = max_x - min_x;
    let width = (tree_w + 2.0 * MARGIN).max(600.0);
    let shift = (width - tree_w) / 2.0 - min_x;
    for it in items.iter_mut() {
        it.x += shift;
    }
    width
}

/// An asset tag for an instrument id named by the report; a node not drawn (cut by the cap)
/// is still named, by its id.
fn tag_of(items: &[Item], id: i64) -> String {
    items
        .iter()
        .find(|it| it.node.instrument.id == id)
        .map(|it| it.node.instrument.asset_tag.clone())
        .unwrap_or_else(|| format!("instrument {id}"))
}

/// The text above the tree: the title and the wrapped verdict, national standards and
/// accredited roots. The verdict and the roots are kept apart too, for the description.
struct Header {
    title: String,
    verdict: String,
    roots: Vec<String>,
    lines: Vec<String>,
    height: f64,
}

fn header(report: &TraceabilityReport, items: &[Item], width: f64) -> Header {
    let title = format!(
        "Traceability chain of {} as on {}",
        report.chain.instrument.asset_tag, report.at
    );
    let verdict = verdict(report, items);
    let mut roots = Vec::new();
    for s in &report.national_standards {
        let mut r = tag_of(items, s.instrument_id);
        match (&s.institute, &s.country) {
            (Some(i), Some(c)) => {
                let _ = write!(r, " ({i}, {c})");
            }
            (Some(x), None) | (None, Some(x)) => {
                let _ = write!(r, " ({x})");
            }
            (None, None) => {}
        }
        roots.push(r);
    }
    let roots_line = if roots.is_empty() {
        None
    } else {
        Some(format!("National standards reached: {}", roots.join(" · ")))
    };
    let accredited_line = if report.accredited_roots.is_empty() {
        None
    } else {
        Some(format!(
            "Accredited roots: {}",
            report
                .accredited_roots
                .iter()
                .map(|r| format!(
                    "{} by {} ({} {})",
                    tag_of(items, r.instrument_id),
                    r.issuer.name,
                    r.issuer.accreditation_body,
                    r.issuer.accreditation_number
                ))
                .collect::<Vec<_>>()
                .join(" · ")
        ))
    };
    let lines: Vec<String> = [Some(verdict.clone()), roots_line, accredited_line]
        .into_iter()
        .flatten()
        .flat_map(|l| wrap(&l, width - 2.0 * MARGIN, 13.0, false, 3))
        .collect();
    let height = MARGIN + 26.0 + lines.len() as f64 * 18.0 + 18.0;
    Header {
        title,
        verdict,
        roots,
        lines,
        height,
    }
}

/// The report's verdict in one line, naming the first broken link when there is one.
fn verdict(report: &TraceabilityReport, items: &[Item]) -> String {
    if report.traceable {
        "✓ Traceable: every link valid, every branch ends at a root".to_string()
    } else if let Some(b) = &report.broken_link {
        let mut s = format!(
            "✕ Not traceable: {} — {}",
            b.reason.describe(),
            tag_of(items, b.instrument_id)
        );
        if let Some(c) = &b.certificate_number {
            let _ = write!(s, ", certificate {c}");
        }
        s
    } else {
        "✕ Not traceable".to_string()
    }
}

/// The legend's rows: the arrow always, the other swatches only for what the diagram shows,
/// so the legend never explains a style the reader cannot find.
fn legend_items(report: &TraceabilityReport, items: &[Item]) -> Vec<(String, String)> {
    let any_broken = items.iter().any(|it| !it.node.link_valid);
    let any_national = items
        .iter()
        .any(|it| it.node.instrument.role == Role::National);
    let any_accredited = items
        .iter()
        .any(|it| kind_of(report, it) == Kind::Accredited);
    let any_warning = items.iter().any(|it| !it.node.warnings.is_empty());
    let mut legend_items = vec![(
        format!(
            r#"<path d="M2 7H20" stroke="{MUTED}" stroke-width="1.6" fill="none"/><path d="M14 3L21 7L14 11Z" fill="{MUTED}"/>"#
        ),
        "Calibrated against (arrow to the standard used)".to_string(),
    )];
    if any_broken {
        legend_items.push((
            format!(
                r#"<path d="M1 7H23" stroke="{BROKEN}" stroke-width="2" stroke-dasharray="5 3" fill="none"/><circle cx="12" cy="7" r="6" fill="white" stroke="{BROKEN}" stroke-width="1.5"/><path d="M9.5 4.5L14.5 9.5M14.5 4.5L9.5 9.5" stroke="{BROKEN}" stroke-width="1.6"/>"#
            ),
            "Broken link (dashed, ✕)".to_string(),
        ));
    }
    if any_national {
        legend_items.push((
            format!(
                r#"<path d="M1 1H23V13H1Z" fill="{NATIONAL_FILL}" stroke="{NATIONAL}" stroke-width="2.2"/><path d="M1 1H23V6H1Z" fill="{NATIONAL}"/>"#
            ),
            "National standard (root)".to_string(),
        ));
    }
    if any_accredited {
        legend_items.push((
            format!(
                r#"<path d="M1 1H23V13H1Z" fill="{ACCREDITED_FILL}" stroke="{ACCREDITED}" stroke-width="2.2"/><path d="M1 1H23V6H1Z" fill="{ACCREDITED}"/>"#
            ),
            "Accredited calibration (root, ILAC MRA)".to_string(),
        ));
    }
    if any_warning {
        legend_items.push((
            format!(r#"<text x="4" y="12" font-size="14" fill="{WARN}">⚠</text>"#),
            "Warning: U smaller than the standard's".to_string(),
        ));
    }
    legend_items
}

/// The diagram measured and placed, everything the writer needs and nothing it must work
/// out: the geometry can be read, and changed, apart from the markup.
struct Layout<'a> {
    /// The nodes drawn, breadth first; `x` is each box's centre.
    items: Vec<Item<'a>>,
    /// Nodes left out by the cap (whole subtrees), for the footer and the description.
    hidden_total: usize,
    /// One per item, in the same order.
    texts: Vec<BoxText>,
    /// When any box has a band every box leaves room for one, so that rows line up.
    any_band: bool,
    /// One height for every box (the tallest text's), so rows are straight.
    box_h: f64,
    width: f64,
    height: f64,
    header: Header,
    /// Depth 0 (the instrument) is the bottom row.
    max_depth: usize,
    tree_top: f64,
    /// The legend's markup: `legend` wraps its rows as it writes them, so its height (which
    /// the layout needs) and its markup come out together.
    legend_svg: String,
    legend_top: f64,
    legend_h: f64,
    footer: Option<String>,
}

impl Layout<'_> {
    /// The top of the row of boxes at `depth`.
    fn row_y(&self, depth: usize) -> f64 {
        row_y(self.tree_top, self.max_depth, self.box_h, depth)
    }
}

fn row_y(tree_top: f64, max_depth: usize, box_h: f64, depth: usize) -> f64 {
    tree_top + (max_depth - depth) as f64 * (box_h + ROW_GAP)
}

/// Lays the diagram out, top to bottom: header, a stub row for "not drawn" notes, the tree
/// (its root at the bottom), the legend and the footer.
fn layout(report: &TraceabilityReport) -> Layout<'_> {
    let (mut items, hidden_total) = select_items(report);
    let texts: Vec<BoxText> = items.iter().map(|it| box_text(report, it)).collect();
    let any_band = texts.iter().any(|t| t.band.is_some());
    let max_lines = texts.iter().map(|t| t.lines.len()).max().unwrap_or(1);
    let box_h =
        2.0 * BOX_PAD + 2.0 + max_lines as f64 * LINE_H + if any_band { BAND_H + 2.0 } else { 0.0 };
    let width = place_columns(&mut items);
    let header = header(report, &items, width);

    let max_depth = items.iter().map(|it| it.depth).max().unwrap_or(0);
    // The top row's "+N standards not drawn" notes stand above it: leave them room.
    let stub_h = if items.iter().any(|it| it.hidden > 0) {
        30.0
    } else {
        0.0
    };
    let tree_top = header.height + stub_h;
    let tree_bottom = row_y(tree_top, max_depth, box_h, 0) + box_h;

    let legend_top = tree_bottom + 26.0;
    let (legend_svg, legend_h) = legend(
        &legend_items(report, &items),
        MARGIN,
        legend_top,
        width - 2.0 * MARGIN,
    );
    let footer = if hidden_total > 0 {
        Some(format!(
            "… {hidden_total} more not drawn (the diagram shows the first {} nodes, nearest the instrument first)",
            items.len()
        ))
    } else {
        None
    };
    let height = legend_top + legend_h + if footer.is_some() { 22.0 } else { 0.0 } + MARGIN;
    Layout {
        items,
        hidden_total,
        texts,
        any_band,
        box_h,
        width,
        height,
        header,
        max_depth,
        tree_top,
        legend_svg,
        legend_top,
        legend_h,
        footer,
    }
}

/// The diagram in words, for assistive technology: the verdict, the size of the chain, the
/// roots reached and the broken links, which is what a sighted reader takes from the picture.
fn description(report: &TraceabilityReport, l: &Layout) -> String {
    let root_tag = &report.chain.instrument.asset_tag;
    let (items, hidden_total, max_depth) = (&l.items, l.hidden_total, l.max_depth);
    let mut desc =
        format!(
        "{}. The chain has {} node{} over {} level{}, the instrument {root_tag} at the bottom, \
         each node's standards above it.",
        l.header.verdict,
        items.len() + hidden_total,
        if items.len() + hidden_total == 1 { "" } else { "s" },
        max_depth + 1,
        if max_depth == 0 { "" } else { "s" },
    );
    if !l.header.roots.is_empty() {
        let _ = write!(
            desc,
            " National standards reached: {}.",
            l.header.roots.join("; ")
        );
    }
    let broken: Vec<String> = items
        .iter()
        .filter(|it| !it.node.link_valid)
        .map(|it| {
            format!(
                "{} ({})",
                it.node.instrument.asset_tag,
                it.node
                    .reason
                    .map(|r| r.describe())
                    .unwrap_or("link not valid")
            )
        })
        .collect();
    if !broken.is_empty() {
        let _ = write!(desc, " Broken links: {}.", broken.join("; "));
    }
    if hidden_total > 0 {
        let _ = write!(desc, " {hidden_total} more nodes are not drawn.");
    }
    desc
}

/// The traceability chain as a diagram: the instrument at the bottom, each node's standards
/// (in the order given) on the row above it, up to the national standards and accredited roots.
/// One box per node (asset tag, role, certificate number, date, expanded U), each a link to
/// `link(instrument_id)`. A broken link (`link_valid` false) is drawn red and dashed, with a ✕
/// on its edge and its reason written in the box. National standards carry a dark band naming
/// their institute, accredited roots a green band naming the accreditation; a
/// `uncertainty_below_standard` warning is a ⚠ note. At most [`MAX_NODES`] boxes are drawn
/// (breadth first); the rest is counted.
pub fn traceability_diagram(report: &TraceabilityReport, link: &dyn Fn(i64) -> String) -> String {
    let layout = layout(report);
    draw_diagram(report, &layout, link)
}

/// Writes the laid-out diagram: header, edges, boxes, legend, footer, in that order because
/// later markup paints over earlier (boxes cover the ends of their edges).
fn draw_diagram(
    report: &TraceabilityReport,
    layout: &Layout,
    link: &dyn Fn(i64) -> String,
) -> String {
    let desc = description(report, layout);
    // The id hashes what makes the drawing differ, so two diagrams on one page do not share
    // marker ids.
    let id = id_prefix(
        "trace",
        &format!(
            "{}-{}-{}",
            report.instrument_id,
            report.at,
            layout.items.len()
        ),
    );
    let mut out = String::with_capacity(4096 + layout.items.len() * 1600);
    // On a narrow screen the diagram keeps a readable size (text at 60 % or more) and the page
    // scrolls it sideways: put it in an `overflow-x: auto` container.
    let min_w = (0.6 * layout.width).clamp(480.0, 1600.0);
    open_svg(
        &mut out,
        &id,
        layout.width,
        layout.height,
        min_w,
        &layout.header.title,
        &desc,
    );
    let _ = write!(
        out,
        r#"<style>.ctsvg a.ctsvg-node:hover .ctsvg-box,.ctsvg a.ctsvg-node:focus .ctsvg-box{{stroke-width:3.5px}}.ctsvg a.ctsvg-node:focus{{outline:none}}</style><defs><marker id="{id}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0 0L10 5L0 10Z" fill="{MUTED}"/></marker><marker id="{id}-arrow-broken" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0 0L10 5L0 10Z" fill="{BROKEN}"/></marker></defs>"#
    );
    draw_header(&mut out, &layout.header, report.traceable);
    draw_edges(&mut out, layout, &id);
    for (it, t) in layout.items.iter().zip(&layout.texts) {
        draw_box(&mut out, layout, it, t, kind_of(report, it), link);
    }
    out.push_str(&layout.legend_svg);
    if let Some(f) = &layout.footer {
        text(
            &mut out,
            MARGIN,
            layout.legend_top + layout.legend_h + 14.0,
            Font {
                size: 12.5,
                bold: true,
                fill: MUTED,
                anchor: "start",
            },
            &fit(f, layout.width - 2.0 * MARGIN, 12.5, true),
        );
    }
    out.push_str("</svg>");
    out
}

/// The title, then the header lines; the first (the verdict) in bold and in the verdict's
/// colour, so the answer is what the eye lands on.
fn draw_header(out: &mut String, header: &Header, traceable: bool) {
    text(
        out,
        MARGIN,
        MARGIN + 16.0,
        Font {
            size: 17.0,
            bold: true,
            fill: INK,
            anchor: "start",
        },
        &header.title,
    );
    for (k, l) in header.lines.iter().enumerate() {
        let colour = if k == 0 {
            if traceable {
                ACCREDITED
            } else {
                BROKEN
            }
        } else {
            MUTED
        };
        text(
            out,
            MARGIN,
            MARGIN + 40.0 + k as f64 * 18.0,
            Font {
                size: 13.0,
                bold: k == 0,
                fill: colour,
                anchor: "start",
            },
            l,
        );
    }
}

/// The edges, from a port on the top of each box to the bottom of each of its standards. Valid
/// ones first and broken ones after, so that a red edge is never hidden under a grey one.
fn draw_edges(out: &mut String, layout: &Layout, id: &str) {
    let mut edges_ok = String::new();
    let mut edges_broken = String::new();
    for it in &layout.items {
        // One port per standard drawn, plus one for the "not drawn" stub.
        let total = it.children.len() + usize::from(it.hidden > 0);
        if total == 0 {
            continue;
        }
        let spacing = ((BOX_W - 48.0) / total as f64).min(26.0);
        let port = |k: usize| it.x + (k as f64 + 0.5 - total as f64 / 2.0) * spacing;
        let y0 = layout.row_y(it.depth);
        for (k, &c) in it.children.iter().enumerate() {
            let child = &layout.items[c];
            let (x0, x1, y1) = (port(k), child.x, layout.row_y(child.depth) + layout.box_h);
            let ym = (y0 + y1) / 2.0;
            let d = format!(
                "M{} {}C{} {} {} {} {} {}",
                n(x0),
                n(y0),
                n(x0),
                n(ym),
                n(x1),
                n(ym),
                n(x1),
                n(y1 + 1.5)
            );
            if child.node.link_valid {
                let _ = write!(
                    edges_ok,
                    r#"<path class="ctsvg-edge" d="{d}" fill="none" stroke="{MUTED}" stroke-width="1.6" marker-end="url(#{id}-arrow)"/>"#
                );
            } else {
                let (bx, by) = ((x0 + x1) / 2.0, ym);
                let _ = write!(
                    edges_broken,
                    r#"<path class="ctsvg-edge ctsvg-broken" d="{d}" fill="none" stroke="{BROKEN}" stroke-width="2.2" stroke-dasharray="7 4" marker-end="url(#{id}-arrow-broken)"/><circle cx="{}" cy="{}" r="8" fill="white" stroke="{BROKEN}" stroke-width="1.8"/><path d="M{} {}l7 7m0 -7l-7 7" stroke="{BROKEN}" stroke-width="2" fill="none"/>"#,
                    n(bx),
                    n(by),
                    n(bx - 3.5),
                    n(by - 3.5)
                );
            }
        }
        if it.hidden > 0 {
            draw_stub(&mut edges_ok, port(total - 1), y0, it.hidden);
        }
    }
    out.push_str(&edges_ok);
    out.push_str(&edges_broken);
}

/// A short dotted edge with "+N standards not drawn" above it: the cap cut this node's
/// standards, and the reader should see where.
fn draw_stub(out: &mut String, x: f64, y0: f64, hidden: usize) {
    let _ = write!(
        out,
        r#"<path d="M{} {}V{}" fill="none" stroke="{MUTED}" stroke-width="1.4" stroke-dasharray="2 3"/>"#,
        n(x),
        n(y0),
        n(y0 - 16.0)
    );
    text(
        out,
        x,
        y0 - 21.0,
        Font {
            size: 12.0,
            bold: false,
            fill: MUTED,
            anchor: "middle",
        },
        &format!(
            "+{} standard{} not drawn",
            hidden,
            if hidden == 1 { "" } else { "s" }
        ),
    );
}

/// One node's box, a link to its instrument. The colour says the kind and a dash says a
/// broken link, so the box reads in greyscale too.
fn draw_box(
    out: &mut String,
    layout: &Layout,
    it: &Item,
    t: &BoxText,
    kind: Kind,
    link: &dyn Fn(i64) -> String,
) {
    let node = it.node;
    let (x, y) = (it.x - BOX_W / 2.0, layout.row_y(it.depth));
    let href = escape(&link(node.instrument.id));
    let (fill, stroke, sw) = match (node.link_valid, kind) {
        (false, _) => ("#fdf1f0", BROKEN, 2.2),
        (true, Kind::National) => (NATIONAL_FILL, NATIONAL, 2.4),
        (true, Kind::Accredited) => (ACCREDITED_FILL, ACCREDITED, 2.4),
        (true, Kind::Instrument) => ("#ffffff", INK, 2.0),
        (true, Kind::Standard) => ("#ffffff", "#6b7580", 1.3),
    };
    let dash = if node.link_valid {
        ""
    } else {
        r#" stroke-dasharray="7 4""#
    };
    let _ = write!(
        out,
        r#"<a class="ctsvg-node" href="{href}" xlink:href="{href}"><title>{}</title><rect class="ctsvg-box" x="{}" y="{}" width="{}" height="{}" rx="6" fill="{fill}" stroke="{stroke}" stroke-width="{sw}"{dash}/>"#,
        escape(&t.tooltip),
        n(x),
        n(y),
        n(BOX_W),
        n(layout.box_h),
    );
    let mut ty = y + BOX_PAD;
    if let Some(band) = &t.band {
        draw_band(out, x, y, band, node.link_valid, kind);
        ty += BAND_H + 2.0;
    } else if layout.any_band {
        // No band of its own: centre the text in the room the band would take, rather than
        // leave a gap at the bottom.
        ty += (BAND_H + 2.0) / 2.0;
    }
    for (k, (l, colour, bold)) in t.lines.iter().enumerate() {
        let size = if k == 0 { 15.0 } else { 12.5 };
        text(
            out,
            x + BOX_PAD,
            ty + 13.0,
            Font {
                size,
                bold: *bold,
                fill: colour,
                anchor: "start",
            },
            l,
        );
        ty += if k == 0 { LINE_H + 2.0 } else { LINE_H };
    }
    out.push_str("</a>");
}

/// The band across a box's top naming its kind. A root's band keeps its root colour on a
/// broken link too (the box's red dashed outline already says broken); other bands turn red.
fn draw_band(out: &mut String, x: f64, y: f64, band: &str, link_valid: bool, kind: Kind) {
    let band_fill = match (link_valid, kind) {
        (_, Kind::National) => NATIONAL,
        (_, Kind::Accredited) => ACCREDITED,
        (false, _) => BROKEN,
        (true, _) => INK,
    };
    // The band hugs the box's rounded top corners.
    let _ = write!(
        out,
        r#"<path d="M{} {}a6 6 0 0 1 6 -6h{}a6 6 0 0 1 6 6v{}h{}Z" fill="{band_fill}"/>"#,
        n(x),
        n(y + 6.0),
        n(BOX_W - 12.0),
        n(BAND_H - 6.0),
        n(-BOX_W),
    );
    text(
        out,
        x + BOX_PAD,
        y + 14.5,
        Font {
            size: 11.0,
            bold: true,
            fill: "#ffffff",
            anchor: "start",
        },
        &fit(band, BOX_W - 2.0 * BOX_PAD, 11.0, true),
    );
}

// ---------------------------------------------------------------------------------------------
// Error chart
// ---------------------------------------------------------------------------------------------

const CHART_W: f64 = 640.0;
const PLOT_H: f64 = 250.0;

fn stage_colour(stage: Stage) -> &'static str {
    match stage {
        Stage::AsFound => AS_FOUND,
        Stage::AsLeft => AS_LEFT,
    }
}

fn stage_text(stage: Stage) -> &'static str {
    match stage {
        Stage::AsFound => "As found",
        Stage::AsLeft => "As left",
    }
}

/// As found: an open circle; as left: a filled square (as in the PDF) — told apart in black
/// and white too.
fn marker(stage: Stage, x: f64, y: f64, class: &str) -> String {
    let col = stage_colour(stage);
    match stage {
        Stage::AsFound => format!(
            r#"<circle class="{class}" cx="{}" cy="{}" r="4.6" fill="white" stroke="{col}" stroke-width="2"/>"#,
            n(x),
            n(y)
        ),
        Stage::AsLeft => format!(
            r#"<path class="{class}" d="M{} {}h8.6v8.6h-8.6Z" fill="{col}"/>"#,
            n(x - 4.3),
            n(y - 4.3)
        ),
    }
}

/// Labels for ticks: plain, or scaled by an engineering power of ten when the values are very
/// large or very small (the power then goes in the axis label). Returns labels and the power.
fn tick_labels(ticks: &[f64]) -> (Vec<String>, i32) {
    let max = ticks.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let exp = if max >= 1e5 || (max > 0.0 && max < 1e-3) {
        (max.log10().floor() as i32).div_euclid(3) * 3
    } else {
        0
    };
    let scale = 10f64.powi(exp);
    let step = if ticks.len() >= 2 {
        (ticks[1] - ticks[0]).abs() / scale
    } else {
        (max / scale).max(1.0)
    };
    let decimals = (-(step.log10() + 1e-9).floor()).clamp(0.0, 12.0) as usize;
    let labels = ticks
        .iter()
        .map(|v| {
            let s = format!("{:.decimals$}", v / scale);
            if s.trim_start_matches('-')
                .chars()
                .all(|c| c == '0' || c == '.')
            {
                s.trim_start_matches('-').to_string()
            } else {
                s.replace('-', "−")
            }
        })
        .collect();
    (labels, exp)
}

/// Ticks over [lo, hi] whose labels fit side by side in `width`.
fn x_ticks(lo: f64, hi: f64, width: f64) -> (Vec<f64>, Vec<String>, i32) {
    let mut target = 8;
    loop {
        let (t, _) = nice_ticks(lo, hi, target);
        let (labels, exp) = tick_labels(&t);
        let widest = labels
            .iter()
            .map(|l| text_width(l, 12.0, false))
            .fold(0.0, f64::max);
        if target <= 2 || (widest + 14.0) * t.len() as f64 <= width {
            return (t, labels, exp);
        }
        target -= 1;
    }
}

fn unit_label(name: &str, exp: i32, unit: &str) -> String {
    match (exp, unit.is_empty()) {
        (0, true) => name.to_string(),
        (0, false) => format!("{name} ({unit})"),
        (e, true) => format!("{name} (×10{})", superscript(e)),
        (e, false) => format!("{name} (×10{} {unit})", superscript(e)),
    }
}

fn min_max(it: impl Iterator<Item = f64>) -> (f64, f64) {
    it.filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// A panel's plot area and the value ranges it shows: maps values to drawing coordinates.
struct Plot {
    x0: f64,
    x1: f64,
    /// Top of the plot area (y grows downwards in SVG).
    y0: f64,
    y1: f64,
    xmin: f64,
    xmax: f64,
    ymin: f64,
    ymax: f64,
}

impl Plot {
    fn sx(&self, v: f64) -> f64 {
        self.x0 + (v - self.xmin) / (self.xmax - self.xmin) * (self.x1 - self.x0)
    }

    fn sy(&self, v: f64) -> f64 {
        self.y1 - (v - self.ymin) / (self.ymax - self.ymin) * (self.y1 - self.y0)
    }
}

/// The padded `(x, y)` ranges of a panel, as in pdf::chart::draw, so that the page and the
/// certificate show the same picture. The y range holds zero, every U bar and every limit, so
/// nothing the reader must judge against falls off the plot.
fn panel_ranges(points: &[&PointResult]) -> ((f64, f64), (f64, f64)) {
    let (mut xmin, mut xmax) = min_max(points.iter().map(|p| p.reference.value));
    let mut ys: Vec<f64> = vec![0.0];
    for p in points {
        let (e, u) = (p.error.value, p.expanded_uncertainty.value.abs());
        ys.push(e);
        if u.is_finite() {
            ys.extend([e - u, e + u]);
        }
        if let Some((lo, hi)) = limits_in_error_unit(p) {
            ys.extend([lo, hi]);
        }
    }
    let (ymin, ymax) = min_max(ys.into_iter());
    if !(xmin.is_finite() && xmax.is_finite()) {
        xmin = 0.0;
        xmax = 0.0;
    }
    padded_ranges((xmin, xmax), (ymin, ymax))
}

/// One panel (the points of one reference unit), its top edge at `top`. Returns the height.
fn chart_panel(out: &mut String, points: &[&PointResult], top: f64) -> f64 {
    let unit = points
        .first()
        .map(|p| p.reference.unit.as_str())
        .unwrap_or("");
    let ((xmin, xmax), (ymin, ymax)) = panel_ranges(points);

    // The y labels are measured first: the plot starts where the widest one ends.
    let (yt, _) = nice_ticks(ymin, ymax, 6);
    let (ylabels, yexp) = tick_labels(&yt);
    let ylabel_w = ylabels
        .iter()
        .map(|l| text_width(l, 12.0, false))
        .fold(0.0, f64::max);
    let plot = Plot {
        x0: 16.0 + ylabel_w + 10.0,
        x1: CHART_W - 18.0,
        y0: top + 30.0,
        y1: top + 30.0 + PLOT_H,
        xmin,
        xmax,
        ymin,
        ymax,
    };
    let (xt, xlabels, xexp) = x_ticks(xmin, xmax, plot.x1 - plot.x0);

    // The y axis is named above the plot, as in the PDF.
    text(
        out,
        16.0,
        top + 16.0,
        Font {
            size: 14.0,
            bold: true,
            fill: INK,
            anchor: "start",
        },
        &unit_label("Error", yexp, unit),
    );
    draw_grid(out, &plot, (&xt, &xlabels), (&yt, &ylabels));
    text(
        out,
        (plot.x0 + plot.x1) / 2.0,
        plot.y1 + 38.0,
        Font {
            size: 13.0,
            bold: false,
            fill: INK,
            anchor: "middle",
        },
        &unit_label("Reference value", xexp, unit),
    );
    draw_limits(out, points, &plot);
    for p in points {
        draw_point(out, p, &plot);
    }
    // The frame last, over the ends of the grid and the limit lines.
    let _ = write!(
        out,
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#4a525b" stroke-width="1.2"/>"##,
        n(plot.x0),
        n(plot.y0),
        n(plot.x1 - plot.x0),
        n(plot.y1 - plot.y0)
    );
    plot.y1 + 48.0 - top
}

/// The plot's white ground, its grid lines with their tick labels, and a darker zero line when
/// zero is inside the range (an error of zero is the line a reader measures from).
fn draw_grid(out: &mut String, plot: &Plot, x: (&[f64], &[String]), y: (&[f64], &[String])) {
    let _ = write!(
        out,
        r#"<rect x="{}" y="{}" width="{}" height="{}" fill="white"/>"#,
        n(plot.x0),
        n(plot.y0),
        n(plot.x1 - plot.x0),
        n(plot.y1 - plot.y0)
    );
    for (v, l) in x.0.iter().zip(x.1) {
        let x = plot.sx(*v);
        let _ = write!(
            out,
            r#"<path d="M{} {}V{}" stroke="{GRID}" stroke-width="1"/>"#,
            n(x),
            n(plot.y0),
            n(plot.y1)
        );
        text(
            out,
            x,
            plot.y1 + 17.0,
            Font {
                size: 12.0,
                bold: false,
                fill: MUTED,
                anchor: "middle",
            },
            l,
        );
    }
    for (v, l) in y.0.iter().zip(y.1) {
        let y = plot.sy(*v);
        let _ = write!(
            out,
            r#"<path d="M{} {}H{}" stroke="{GRID}" stroke-width="1"/>"#,
            n(plot.x0),
            n(y),
            n(plot.x1)
        );
        text(
            out,
            plot.x0 - 6.0,
            y + 4.2,
            Font {
                size: 12.0,
                bold: false,
                fill: MUTED,
                anchor: "end",
            },
            l,
        );
    }
    if plot.ymin < 0.0 && plot.ymax > 0.0 {
        let _ = write!(
            out,
            r##"<path d="M{} {}H{}" stroke="#8a939d" stroke-width="1.3"/>"##,
            n(plot.x0),
            n(plot.sy(0.0)),
            n(plot.x1)
        );
    }
}

/// Tolerance limits: a line through each point's limit, held flat to the plot edges. Limits
/// may differ from point to point (a tolerance in % of reading), so one straight line would
/// misplace them.
fn draw_limits(out: &mut String, points: &[&PointResult], plot: &Plot) {
    let mut with_limits: Vec<(f64, f64, f64)> = points
        .iter()
        .filter_map(|p| limits_in_error_unit(p).map(|(lo, hi)| (p.reference.value, lo, hi)))
        .filter(|t| t.0.is_finite() && t.1.is_finite() && t.2.is_finite())
        .collect();
    with_limits.sort_by(|a, b| a.0.total_cmp(&b.0));
    with_limits.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1 && a.2 == b.2);
    if with_limits.is_empty() {
        return;
    }
    for (which, pick) in [
        (
            "lower",
            (|t: &(f64, f64, f64)| t.1) as fn(&(f64, f64, f64)) -> f64,
        ),
        ("upper", |t: &(f64, f64, f64)| t.2),
    ] {
        let mut pts = vec![(plot.x0, plot.sy(pick(&with_limits[0])))];
        pts.extend(with_limits.iter().map(|t| (plot.sx(t.0), plot.sy(pick(t)))));
        pts.push((plot.x1, plot.sy(pick(&with_limits[with_limits.len() - 1]))));
        let d: Vec<String> = pts
            .iter()
            .map(|(x, y)| format!("{},{}", n(*x), n(*y)))
            .collect();
        let _ = write!(
            out,
            r#"<polyline class="ctsvg-limit ctsvg-limit-{which}" points="{}" fill="none" stroke="{LIMIT}" stroke-width="1.8" stroke-dasharray="8 4"/>"#,
            d.join(" ")
        );
    }
}

/// One point with its U bar, in a group whose tooltip says it in words. As found and as left
/// sit side by side at the same reference, so neither hides the other.
fn draw_point(out: &mut String, p: &PointResult, plot: &Plot) {
    let shift = match p.stage {
        Stage::AsFound => -4.0,
        Stage::AsLeft => 4.0,
    };
    let x = plot.sx(p.reference.value) + shift;
    let (e, u) = (p.error.value, p.expanded_uncertainty.value.abs());
    if !(x.is_finite() && e.is_finite()) {
        return;
    }
    let col = stage_colour(p.stage);
    let _ = write!(out, r#"<g><title>{}</title>"#, escape(&point_tooltip(p)));
    let mut top_y = plot.sy(e) - 5.0;
    if u.is_finite() && u > 0.0 {
        let (lo, hi) = (plot.sy(e - u), plot.sy(e + u));
        top_y = top_y.min(hi);
        let _ = write!(
            out,
            r#"<path class="ctsvg-ubar" d="M{x} {lo}V{hi}M{xl} {lo}H{xr}M{xl} {hi}H{xr}" stroke="{col}" stroke-width="1.5" fill="none"/>"#,
            x = n(x),
            lo = n(lo),
            hi = n(hi),
            xl = n(x - 3.5),
            xr = n(x + 3.5),
        );
    }
    out.push_str(&marker(p.stage, x, plot.sy(e), "ctsvg-marker"));
    if p.decision.is_some_and(|d| d.is_out_of_tolerance()) {
        // ✕ above the bar: outside the tolerance, whatever the colour shows.
        let (cx, cy) = (x, (top_y - 9.0).max(plot.y0 + 6.0));
        let _ = write!(
            out,
            r#"<path class="ctsvg-fail" d="M{} {}l8 8m0 -8l-8 8" stroke="{BROKEN}" stroke-width="2.4" stroke-linecap="round" fill="none"/>"#,
            n(cx - 4.0),
            n(cy - 4.0)
        );
    }
    out.push_str("</g>");
}

/// A point in words: stage, reference, error, U with its k, and the decision.
fn point_tooltip(p: &PointResult) -> String {
    let (e, u) = (p.error.value, p.expanded_uncertainty.value.abs());
    let decision = p.decision.map(|d| d.as_str().replace('_', " "));
    format!(
        "{}: reference {} {}, error {} {}{}{}",
        stage_text(p.stage),
        fmt_num(p.reference.value),
        p.reference.unit,
        fmt_num(e),
        p.error.unit,
        if u.is_finite() && u > 0.0 {
            format!(
                ", U = {} {} (k = {})",
                fmt_num(u),
                p.expanded_uncertainty.unit,
                fmt_num(p.coverage_factor)
            )
        } else {
            String::new()
        },
        decision.map(|d| format!(", {d}")).unwrap_or_default(),
    )
}

/// The error-versus-reference chart (the PDF certificate's chart, `pdf::chart`): reference
/// value across, error up; one marker per point (as found: open circle, as left: filled
/// square, in two colours) with its expanded-uncertainty bar; each point's tolerance limits as
/// red dashed lines, held flat to the plot edges; points outside the tolerance (decision `fail`
/// or `conditional_fail`) marked ✕; a legend. Points in several reference units give one panel
/// per unit, stacked, in the order the units first appear (as the PDF does). No points, no
/// chart: an empty string.
pub fn error_chart(points: &[&PointResult]) -> String {
    if points.is_empty() {
        return String::new();
    }
    let mut units: Vec<&str> = Vec::new();
    for p in points {
        if !units.contains(&p.reference.unit.as_str()) {
            units.push(&p.reference.unit);
        }
    }

    // Errors in different units cannot share an axis: one panel per unit.
    let mut body = String::new();
    let mut y = 12.0;
    for unit in &units {
        let panel: Vec<&PointResult> = points
            .iter()
            .copied()
            .filter(|p| p.reference.unit == *unit)
            .collect();
        y += chart_panel(&mut body, &panel, y) + 10.0;
    }

    let (legend_svg, legend_h) = legend(&chart_legend_items(points), 16.0, y, CHART_W - 32.0);
    let height = y + legend_h + 10.0;

    // The id hashes the points, so two charts on one page do not share ids.
    let seed: String = points
        .iter()
        .map(|p| format!("{}{}{:?};", p.reference.value, p.error.value, p.stage))
        .collect();
    let id = id_prefix("chart", &seed);
    let mut out = String::with_capacity(body.len() + legend_svg.len() + 1024);
    open_svg(
        &mut out,
        &id,
        CHART_W,
        height,
        0.0,
        "Error versus reference value",
        &chart_description(points, &units),
    );
    out.push_str(&body);
    out.push_str(&legend_svg);
    out.push_str("</svg>");
    out
}

/// The chart's legend rows, only for what the chart shows.
fn chart_legend_items(points: &[&PointResult]) -> Vec<(String, String)> {
    let has = |stage: Stage| points.iter().any(|p| p.stage == stage);
    let mut items = Vec::new();
    for stage in [Stage::AsFound, Stage::AsLeft] {
        if has(stage) {
            items.push((
                marker(stage, 12.0, 7.0, "ctsvg-key"),
                stage_text(stage).to_string(),
            ));
        }
    }
    if points
        .iter()
        .any(|p| p.expanded_uncertainty.value.abs() > 0.0)
    {
        items.push((
            format!(
                r#"<path d="M12 0V14M8.5 0H15.5M8.5 14H15.5" stroke="{MUTED}" stroke-width="1.5" fill="none"/>"#
            ),
            "Expanded uncertainty U".to_string(),
        ));
    }
    if any_limits(points) {
        items.push((
            format!(
                r#"<path d="M0 7H24" stroke="{LIMIT}" stroke-width="1.8" stroke-dasharray="8 4" fill="none"/>"#
            ),
            "Tolerance limits".to_string(),
        ));
    }
    if fails(points) > 0 {
        items.push((
            format!(
                r#"<path d="M8 3l8 8m0 -8l-8 8" stroke="{BROKEN}" stroke-width="2.4" stroke-linecap="round" fill="none"/>"#
            ),
            "Outside tolerance (fail)".to_string(),
        ));
    }
    items
}

fn any_limits(points: &[&PointResult]) -> bool {
    points.iter().any(|p| limits_in_error_unit(p).is_some())
}

/// Points outside the tolerance (decision `fail` or `conditional_fail`).
fn fails(points: &[&PointResult]) -> usize {
    points
        .iter()
        .filter(|p| p.decision.is_some_and(|d| d.is_out_of_tolerance()))
        .count()
}

/// The chart in words, for assistive technology: how many points of each stage, over which
/// range (or units), whether limits are drawn and how many points fail.
fn chart_description(points: &[&PointResult], units: &[&str]) -> String {
    let (rmin, rmax) = min_max(points.iter().map(|p| p.reference.value));
    let count = |stage: Stage| points.iter().filter(|p| p.stage == stage).count();
    let mut desc = format!(
        "Error versus reference value for {} point{} ({} as found, {} as left)",
        points.len(),
        if points.len() == 1 { "" } else { "s" },
        count(Stage::AsFound),
        count(Stage::AsLeft),
    );
    if units.len() == 1 {
        let _ = write!(
            desc,
            ", reference values from {} to {} {}",
            fmt_num(rmin),
            fmt_num(rmax),
            units[0]
        );
    } else {
        let _ = write!(desc, ", one panel per unit ({})", units.join(", "));
    }
    desc.push_str(if any_limits(points) {
        "; tolerance limits drawn"
    } else {
        "; no tolerance given"
    });
    let fails = fails(points);
    let _ = write!(
        desc,
        "; {} point{} outside tolerance.",
        fails,
        if fails == 1 { "" } else { "s" }
    );
    desc
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::domain::calibration::Limits;
    use crate::domain::conformity::Decision;
    use crate::domain::quantity::QuantityJson;
    use crate::domain::traceability::BrokenReason;
    use crate::domain::traceability::{
        AccreditedIssuer, AccreditedRootReached, BrokenLink, ExpandedUncertainty,
        NationalStandardReached, NodeInstrument,
    };

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn node(id: i64, tag: &str, role: Role, cert: Option<&str>, date: Option<&str>) -> ChainNode {
        ChainNode {
            instrument: NodeInstrument {
                id,
                asset_tag: tag.to_string(),
                role,
            },
            certificate_number: cert.map(str::to_string),
            performed_on: date.map(day),
            link_valid: true,
            reason: None,
            expanded_uncertainty: None,
            warnings: Vec::new(),
            standards: Vec::new(),
        }
    }

    fn with_u(mut n: ChainNode, value: f64, unit: &str) -> ChainNode {
        n.expanded_uncertainty = Some(ExpandedUncertainty {
            value,
            unit: unit.to_string(),
        });
        n
    }

    fn with(mut n: ChainNode, standards: Vec<ChainNode>) -> ChainNode {
        n.standards = standards;
        n
    }

    fn national(id: i64, tag: &str) -> ChainNode {
        node(id, tag, Role::National, None, None)
    }

    /// Six levels: a working gauge, two standards used for it, both resting on one dead-weight
    /// tester (expired when one of them was calibrated), a transfer standard, a primary
    /// standard, and two national standards (NIM, PTB).
    fn deep_report() -> TraceabilityReport {
        let primary = with(
            with_u(
                node(
                    5,
                    "PPS-0001",
                    Role::Reference,
                    Some("NIM-2025-L-0012"),
                    Some("2025-01-15"),
                ),
                0.8,
                "Pa",
            ),
            vec![national(1, "NIM-P-PRIMARY"), national(2, "PTB-DW-1")],
        );
        let transfer = with(
            with_u(
                node(
                    4,
                    "TS-0001",
                    Role::Reference,
                    Some("CT-2025-000003"),
                    Some("2025-03-02"),
                ),
                2.0,
                "Pa",
            ),
            vec![primary],
        );
        let dwt = with(
            with_u(
                node(
                    3,
                    "DWT-0002",
                    Role::Reference,
                    Some("CT-2025-000011"),
                    Some("2025-04-20"),
                ),
                5.0,
                "Pa",
            ),
            vec![transfer],
        );
        let mut dwt_broken = dwt.clone();
        dwt_broken.link_valid = false;
        dwt_broken.reason = Some(BrokenReason::StandardExpiredAtUse);
        let calibrator = with(
            with_u(
                node(
                    6,
                    "CAL-0007 Fluke 2271A",
                    Role::Reference,
                    Some("CT-2026-000077"),
                    Some("2026-04-30"),
                ),
                0.012,
                "kPa",
            ),
            vec![dwt_broken],
        );
        let mut baro = with(
            with_u(
                node(
                    7,
                    "BARO-0003",
                    Role::Reference,
                    Some("CT-2025-000090"),
                    Some("2025-09-12"),
                ),
                0.004,
                "kPa",
            ),
            vec![dwt],
        );
        baro.warnings = vec![UNCERTAINTY_BELOW_STANDARD.to_string()];
        let chain = with(
            with_u(
                node(
                    42,
                    "PG-0042",
                    Role::Working,
                    Some("CT-2026-000101"),
                    Some("2026-05-10"),
                ),
                0.05,
                "kPa",
            ),
            vec![calibrator, baro],
        );
        TraceabilityReport {
            instrument_id: 42,
            at: day("2026-11-28"),
            traceable: false,
            broken_link: Some(BrokenLink {
                instrument_id: 3,
                certificate_number: Some("CT-2025-000011".to_string()),
                reason: BrokenReason::StandardExpiredAtUse,
            }),
            national_standards: vec![
                NationalStandardReached {
                    instrument_id: 1,
                    institute: Some("NIM".to_string()),
                    country: Some("CN".to_string()),
                },
                NationalStandardReached {
                    instrument_id: 2,
                    institute: Some("PTB".to_string()),
                    country: Some("DE".to_string()),
                },
            ],
            accredited_roots: vec![],
            chain,
        }
    }

    fn report_of(chain: ChainNode) -> TraceabilityReport {
        TraceabilityReport {
            instrument_id: chain.instrument.id,
            at: day("2026-11-28"),
            traceable: true,
            broken_link: None,
            national_standards: vec![],
            accredited_roots: vec![],
            chain,
        }
    }

    fn link(id: i64) -> String {
        format!("/instruments/{id}?tab=trace&x=1")
    }

    fn all_nodes(n: &ChainNode) -> Vec<&ChainNode> {
        let mut v = vec![n];
        for s in &n.standards {
            v.extend(all_nodes(s));
        }
        v
    }

    fn q(value: f64, unit: &str) -> QuantityJson {
        QuantityJson {
            value,
            unit: unit.to_string(),
        }
    }

    /// A point as the PDF tests build them: ± tolerance, simple acceptance.
    fn point(
        stage: Stage,
        reference: f64,
        error: f64,
        unit: &str,
        tol: f64,
        u: f64,
    ) -> PointResult {
        PointResult {
            stage,
            reference: q(reference, unit),
            indicated: q(reference + error, unit),
            tolerance: Some(q(tol, unit)),
            limits: None,
            error: q(error, unit),
            expanded_uncertainty: q(u, unit),
            coverage_factor: 2.0,
            coverage_probability: 0.9545,
            decision: Some(if error.abs() <= tol {
                Decision::Pass
            } else {
                Decision::Fail
            }),
            tur: Some(tol / u),
            tur_flagged: tol / u < 4.0,
            budget: None,
            standards_in_budget: vec![],
            readings: None,
        }
    }

    fn no_tolerance(mut p: PointResult) -> PointResult {
        p.tolerance = None;
        p.decision = None;
        p.tur = None;
        p
    }

    fn pressure_points() -> Vec<PointResult> {
        let found = [0.012, 0.041, 0.083, 0.118, 0.152, 0.171, 0.139];
        let left = [0.002, -0.006, 0.011, 0.004, -0.009, 0.013, 0.007];
        let mut points = Vec::new();
        for (stage, errors) in [(Stage::AsFound, found), (Stage::AsLeft, left)] {
            for (i, e) in errors.iter().enumerate() {
                points.push(point(stage, 10.0 * i as f64, *e, "MPa", 0.15, 0.0213));
            }
        }
        points
    }

    fn refs(points: &[PointResult]) -> Vec<&PointResult> {
        points.iter().collect()
    }

    /// Tags balance, attributes are quoted, every `&` starts an entity this module writes.
    fn assert_well_formed(s: &str) {
        assert!(s.starts_with("<svg "), "{}", &s[..s.len().min(80)]);
        assert!(s.ends_with("</svg>"));
        for (i, _) in s.match_indices('&') {
            let rest = &s[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                    .iter()
                    .any(|e| rest.starts_with(e)),
                "bare & at {}",
                &rest[..rest.len().min(20)]
            );
        }
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = s;
        while let Some(i) = rest.find('<') {
            let end = i + rest[i..].find('>').expect("unclosed tag");
            let tag = &rest[i + 1..end];
            assert!(!tag.contains('<'), "< inside a tag: {tag}");
            assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes: {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name.trim()), "mismatched </{name}>");
            } else if !tag.ends_with('/') {
                stack.push(tag.split_whitespace().next().unwrap_or(""));
            }
            let text = &rest[..i];
            assert!(!text.contains('>'), "stray > in text: {text}");
            rest = &rest[end + 1..];
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        assert!(
            !s.contains("NaN") && !s.contains("inf"),
            "non-finite number"
        );
    }

    fn assert_accessible(s: &str) {
        assert!(s.contains(r#"role="img""#));
        assert!(s.contains("<title id=\"") && s.contains("<desc id=\""));
        assert!(s.contains("aria-labelledby=\""));
        assert!(s.contains(r#"viewBox="0 0 "#) && s.contains(r#"width="100%""#));
        assert!(s.contains("max-width:"));
    }

    #[test]
    fn escape_handles_markup_ampersands_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert('x') & "y"</script>"#),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(escape("a\u{0}b\u{1b}c\td"), "a\u{FFFD}b\u{FFFD}c\td");
        assert_eq!(escape("°C 误差 ±"), "°C 误差 ±");
    }

    #[test]
    fn diagram_draws_one_linked_box_per_node() {
        let report = deep_report();
        let svg = traceability_diagram(&report, &link);
        assert_well_formed(&svg);
        assert_accessible(&svg);
        let nodes = all_nodes(&report.chain);
        assert_eq!(nodes.len(), 13);
        assert_eq!(svg.matches("<rect").count(), nodes.len());
        assert_eq!(svg.matches("<a ").count(), nodes.len());
        for n in &nodes {
            let href = escape(&link(n.instrument.id));
            assert!(svg.contains(&format!(r#" href="{href}""#)), "{href}");
            assert!(svg.contains(&format!(r#"xlink:href="{href}""#)), "{href}");
            assert!(svg.contains(&escape(&n.instrument.asset_tag)));
        }
        // One edge per node but the instrument's own.
        assert_eq!(svg.matches(r#"class="ctsvg-edge"#).count(), nodes.len() - 1);
        for text in [
            "CT-2026-000101",
            "2026-05-10",
            "U = 0.05 kPa",
            "Cert. CT-2025-000011",
        ] {
            assert!(svg.contains(text), "{text}");
        }
    }

    #[test]
    fn diagram_marks_a_broken_link_with_its_reason_and_a_dash() {
        let svg = traceability_diagram(&deep_report(), &link);
        assert!(svg.contains("✕ Standard expired at use"));
        assert_eq!(svg.matches("ctsvg-broken").count(), 1);
        let broken_box = svg
            .split("<rect")
            .skip(1)
            .map(|r| r.split("/>").next().unwrap())
            .filter(|r| r.contains(BROKEN) && r.contains("stroke-dasharray"))
            .count();
        assert_eq!(broken_box, 1);
        assert!(svg.contains("Not traceable: standard expired at use — DWT-0002"));
        assert!(svg.contains("Broken link (dashed, ✕)"));
    }

    #[test]
    fn diagram_styles_national_standards_and_names_their_institute() {
        let svg = traceability_diagram(&deep_report(), &link);
        assert_eq!(svg.matches(">NATIONAL STANDARD<").count(), 4);
        assert!(svg.contains(">Realised by NIM (CN)<"));
        assert!(svg.contains(">Realised by PTB (DE)<"));
        assert!(svg.contains("National standards reached: NIM-P-PRIMARY (NIM, CN)"));
        assert_eq!(
            svg.split("<rect")
                .skip(1)
                .map(|r| r.split("/>").next().unwrap())
                .filter(|r| r.contains(&format!(r#"stroke="{NATIONAL}""#)))
                .count(),
            4
        );
    }

    #[test]
    fn diagram_shows_warnings_and_accredited_roots() {
        let svg = traceability_diagram(&deep_report(), &link);
        assert!(svg.contains("⚠ U below its standard"));
        let mut ext = node(
            9,
            "REF-9",
            Role::Reference,
            Some("CNAS-CAL-77"),
            Some("2026-01-02"),
        );
        ext.standards = vec![];
        let mut report = report_of(with(
            node(8, "PG-8", Role::Working, Some("CT-1"), Some("2026-02-01")),
            vec![ext],
        ));
        report.accredited_roots = vec![AccreditedRootReached {
            instrument_id: 9,
            certificate_number: Some("CNAS-CAL-77".to_string()),
            issuer: AccreditedIssuer {
                name: "Acme Cal Lab".to_string(),
                accreditation_body: "CNAS".to_string(),
                accreditation_number: "L1234".to_string(),
            },
        }];
        let svg = traceability_diagram(&report, &link);
        assert_well_formed(&svg);
        assert!(svg.contains(">ACCREDITED ROOT<"));
        assert!(svg.contains(">CNAS L1234 · Acme Cal Lab<"));
        assert!(svg.contains("✓ Traceable"));
    }

    #[test]
    fn diagram_of_an_uncalibrated_instrument_is_one_broken_box() {
        let mut chain = node(3, "NEW-1", Role::Working, None, None);
        chain.link_valid = false;
        chain.reason = Some(BrokenReason::Uncalibrated);
        let mut report = report_of(chain);
        report.traceable = false;
        let svg = traceability_diagram(&report, &link);
        assert_well_formed(&svg);
        assert_eq!(svg.matches("<rect").count(), 1);
        assert!(svg.contains("No calibration on record"));
        assert!(!svg.contains("ctsvg-edge"));
    }

    #[test]
    fn diagram_escapes_hostile_text() {
        let mut chain = node(
            1,
            "<script>alert(\"x\")</script> & co",
            Role::Working,
            Some("A&B'1"),
            Some("2026-01-01"),
        );
        chain.warnings = vec!["<b>odd</b>".to_string()];
        let svg = traceability_diagram(&report_of(chain), &|_| "/i?a=1&b=\"><script>".to_string());
        assert_well_formed(&svg);
        assert!(!svg.contains("<script"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("A&amp;B&#39;1"));
        assert!(svg.contains(r#"href="/i?a=1&amp;b=&quot;&gt;&lt;script&gt;""#));
    }

    #[test]
    fn diagram_caps_the_nodes_drawn() {
        fn tree(depth: usize, id: &mut i64) -> ChainNode {
            *id += 1;
            let mut n = node(
                *id,
                &format!("S-{id}"),
                Role::Reference,
                Some("C"),
                Some("2026-01-01"),
            );
            if depth > 0 {
                n.standards = vec![tree(depth - 1, id), tree(depth - 1, id)];
            } else {
                n.instrument.role = Role::National;
                n.certificate_number = None;
            }
            n
        }
        let mut id = 0;
        let report = report_of(tree(8, &mut id));
        let total = all_nodes(&report.chain).len();
        assert_eq!(total, 511);
        let svg = traceability_diagram(&report, &link);
        assert_well_formed(&svg);
        assert_eq!(svg.matches("<rect").count(), MAX_NODES);
        assert!(svg.contains(&format!("… {} more not drawn", total - MAX_NODES)));
        assert!(svg.contains("standards not drawn") || svg.contains("standard not drawn"));
    }

    #[test]
    fn deep_single_branch_chain_stacks_levels() {
        let mut chain = national(10, "NAT");
        for i in (1..10).rev() {
            chain = with(
                node(
                    i,
                    &format!("L{i}"),
                    Role::Reference,
                    Some("C"),
                    Some("2026-01-01"),
                ),
                vec![chain],
            );
        }
        let svg = traceability_diagram(&report_of(chain), &link);
        assert_well_formed(&svg);
        assert_eq!(svg.matches("<rect").count(), 10);
        // A single branch stays one box wide (the minimum drawing width).
        assert!(svg.contains(r#"viewBox="0 0 600 "#), "{}", &svg[..300]);
    }

    #[test]
    fn chart_has_one_marker_and_one_u_bar_per_point() {
        let points = pressure_points();
        let svg = error_chart(&refs(&points));
        assert_well_formed(&svg);
        assert_accessible(&svg);
        assert_eq!(svg.matches(r#"class="ctsvg-marker""#).count(), points.len());
        assert_eq!(svg.matches(r#"class="ctsvg-ubar""#).count(), points.len());
        // Two shapes: as found circles, as left squares (plus one of each in the legend).
        assert_eq!(svg.matches("<circle").count(), 7 + 1);
        assert!(svg.contains("As found") && svg.contains("As left"));
        assert!(svg.contains("Error (MPa)") && svg.contains("Reference value (MPa)"));
    }

    #[test]
    fn chart_marks_points_outside_tolerance() {
        let points = pressure_points();
        let fails = points
            .iter()
            .filter(|p| p.decision == Some(Decision::Fail))
            .count();
        assert_eq!(fails, 2);
        let svg = error_chart(&refs(&points));
        assert_eq!(svg.matches(r#"class="ctsvg-fail""#).count(), fails);
        assert!(svg.contains("Outside tolerance (fail)"));
        assert!(svg.contains("2 points outside tolerance"));
    }

    #[test]
    fn chart_draws_limits_only_when_there_is_a_tolerance() {
        let points = pressure_points();
        let svg = error_chart(&refs(&points));
        assert_eq!(svg.matches("ctsvg-limit ").count(), 2);
        assert!(svg.contains("Tolerance limits"));

        let bare: Vec<PointResult> = points.into_iter().map(no_tolerance).collect();
        let svg = error_chart(&refs(&bare));
        assert_well_formed(&svg);
        assert!(!svg.contains("ctsvg-limit"));
        assert!(!svg.contains("Tolerance limits"));
        assert!(!svg.contains("ctsvg-fail"));
        assert!(svg.contains("no tolerance given"));
    }

    #[test]
    fn chart_draws_asymmetric_limits_where_they_are() {
        let mut p = point(Stage::AsFound, 100.0, 0.3, "kPa", 1.0, 0.1);
        p.tolerance = None;
        // Limits in another unit of the same kind: converted to the error's unit (kPa).
        p.limits = Some(Limits {
            lower: q(-200.0, "Pa"),
            upper: q(0.5, "kPa"),
        });
        let svg = error_chart(&[&p]);
        assert_well_formed(&svg);
        let ys = |class: &str| -> Vec<f64> {
            let s = svg.split(class).nth(1).unwrap();
            let pts = s
                .split("points=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            pts.split(' ')
                .map(|xy| xy.split(',').nth(1).unwrap().parse().unwrap())
                .collect()
        };
        let (lower, upper) = (ys("ctsvg-limit-lower"), ys("ctsvg-limit-upper"));
        // SVG y grows downwards; flat lines; the lower limit is further from zero than the upper.
        assert!(lower.iter().all(|y| *y == lower[0]));
        assert!(upper.iter().all(|y| *y == upper[0]));
        assert!(lower[0] > upper[0]);
        let zero_line = svg.split(r##"stroke="#8a939d""##).next().unwrap();
        let zero_y: f64 = zero_line
            .rsplit("<path d=\"M")
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .split('H')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let below = lower[0] - zero_y;
        let above = zero_y - upper[0];
        assert!((below / above - 0.2 / 0.5).abs() < 0.01, "{below} {above}");
    }

    #[test]
    fn chart_handles_single_point_zero_errors_and_extreme_magnitudes() {
        let single = point(Stage::AsLeft, 5.0, 0.01, "V", 0.05, 0.002);
        let svg = error_chart(&[&single]);
        assert_well_formed(&svg);
        assert_eq!(svg.matches(r#"class="ctsvg-marker""#).count(), 1);
        assert!(svg.contains("1 point (0 as found, 1 as left)"));

        let zeros: Vec<PointResult> = (0..4)
            .map(|i| no_tolerance(point(Stage::AsFound, i as f64, 0.0, "degC", 0.0, 0.0)))
            .collect();
        let svg = error_chart(&refs(&zeros));
        assert_well_formed(&svg);
        assert_eq!(svg.matches(r#"class="ctsvg-marker""#).count(), 4);
        assert!(!svg.contains("ctsvg-ubar"));
        assert!(!svg.contains("Expanded uncertainty U"));

        let huge: Vec<PointResult> = (1..4)
            .map(|i| point(Stage::AsFound, i as f64 * 2e9, 3e6, "Hz", 5e6, 1e6))
            .collect();
        let svg = error_chart(&refs(&huge));
        assert_well_formed(&svg);
        assert!(svg.contains("Reference value (×10⁹ Hz)"), "{svg}");
        assert!(svg.contains("Error (×10⁶ Hz)"));

        let tiny: Vec<PointResult> = (1..4)
            .map(|i| point(Stage::AsLeft, i as f64 * 1e-6, 2e-9, "m", 5e-9, 1e-9))
            .collect();
        let svg = error_chart(&refs(&tiny));
        assert_well_formed(&svg);
        assert!(svg.contains("Reference value (×10⁻⁶ m)"));
        assert!(svg.contains("Error (×10⁻⁹ m)"));
        assert_eq!(svg.matches(r#"class="ctsvg-ubar""#).count(), 3);
    }

    #[test]
    fn chart_draws_one_panel_per_reference_unit() {
        let mut points = pressure_points();
        points.push(point(Stage::AsFound, 2.0, 0.001, "bar", 0.002, 0.0005));
        let svg = error_chart(&refs(&points));
        assert_well_formed(&svg);
        assert!(svg.contains("Reference value (MPa)") && svg.contains("Reference value (bar)"));
        assert_eq!(svg.matches("Reference value (").count(), 2);
        assert_eq!(svg.matches(r#"class="ctsvg-marker""#).count(), points.len());
        assert_eq!(error_chart(&[]), "");
    }

    #[test]
    fn fmt_num_and_tick_labels() {
        assert_eq!(fmt_num(0.05), "0.05");
        assert_eq!(fmt_num(0.1 + 0.2), "0.3");
        assert_eq!(fmt_num(-0.0), "0");
        assert_eq!(fmt_num(1.5e-7), "1.5×10⁻⁷");
        assert_eq!(fmt_num(12345.0), "12345");
        let (labels, exp) = tick_labels(&[-0.02, 0.0, 0.02, 0.04]);
        assert_eq!(exp, 0);
        assert_eq!(labels, vec!["−0.02", "0.00", "0.02", "0.04"]);
        let (labels, exp) = tick_labels(&[0.0, 2e9, 4e9]);
        assert_eq!((labels, exp), (vec!["0".into(), "2".into(), "4".into()], 9));
    }

    /// Both drawings are well-formed XML for a real parser (skipped where xmllint is
    /// absent, unless CALTRACE_REQUIRE_TOOLS is set, as scripts/test.sh does).
    #[test]
    fn xmllint_accepts_both_drawings() {
        let required = std::env::var_os("CALTRACE_REQUIRE_TOOLS").is_some();
        let present = std::process::Command::new("xmllint")
            .arg("--version")
            .output()
            .is_ok();
        assert!(
            present || !required,
            "xmllint is required (CALTRACE_REQUIRE_TOOLS is set): apt-get install libxml2-utils"
        );
        if !present {
            eprintln!("xmllint not installed: skipped");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let points = pressure_points();
        for (name, svg) in [
            ("trace.svg", traceability_diagram(&deep_report(), &link)),
            ("chart.svg", error_chart(&refs(&points))),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, svg).unwrap();
            let out = std::process::Command::new("xmllint")
                .arg("--noout")
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// A tool, not a test: `CALTRACE_SVG_SAMPLES=/tmp/svg-samples cargo test --lib
    /// web::svg::tests::write_samples -- --ignored` writes the samples and an HTML page
    /// around them, to look at in a browser.
    #[test]
    #[ignore = "a tool: writes SVG samples for a person to look at"]
    fn write_samples() {
        let Some(dir) = std::env::var_os("CALTRACE_SVG_SAMPLES") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let trace = traceability_diagram(&deep_report(), &link);
        let points = pressure_points();
        let chart = error_chart(&refs(&points));
        let mut asym = point(Stage::AsFound, 100.0, 0.3, "kPa", 1.0, 0.1);
        asym.tolerance = None;
        asym.limits = Some(Limits {
            lower: q(-0.2, "kPa"),
            upper: q(0.5, "kPa"),
        });
        let mut asym2 = point(Stage::AsLeft, 300.0, -0.1, "kPa", 1.0, 0.08);
        asym2.tolerance = None;
        asym2.limits = asym.limits.clone();
        let mut mixed: Vec<PointResult> = (1..6)
            .map(|i| {
                point(
                    Stage::AsFound,
                    i as f64 * 2e9,
                    3e6 * i as f64,
                    "Hz",
                    1e7,
                    1e6,
                )
            })
            .collect();
        mixed.push(no_tolerance(point(
            Stage::AsLeft,
            20.0,
            0.0,
            "degC",
            0.0,
            0.0,
        )));
        let extra = error_chart(&[&asym, &asym2]);
        let mixed = error_chart(&refs(&mixed));
        let mut id = 0;
        fn wide(depth: usize, id: &mut i64) -> ChainNode {
            *id += 1;
            let mut n = node(
                *id,
                &format!("S-{id}"),
                Role::Reference,
                Some("C-1"),
                Some("2026-01-01"),
            );
            if depth > 0 {
                n.standards = vec![
                    wide(depth - 1, id),
                    wide(depth - 1, id),
                    wide(depth - 1, id),
                ];
            }
            n
        }
        let big = traceability_diagram(&report_of(wide(5, &mut id)), &link);
        for (name, svg) in [
            ("trace.svg", &trace),
            ("chart.svg", &chart),
            ("chart-asym.svg", &extra),
            ("chart-mixed.svg", &mixed),
            ("trace-capped.svg", &big),
        ] {
            std::fs::write(dir.join(name), svg).unwrap();
        }
        let page = |body: &str| {
            format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
                 content=\"width=device-width, initial-scale=1\"><title>samples</title></head>\
                 <body style=\"margin:16px;font-family:sans-serif\">{body}</body></html>"
            )
        };
        std::fs::write(
            dir.join("trace.html"),
            page(&format!("<div style=\"overflow-x:auto\">{trace}</div>")),
        )
        .unwrap();
        std::fs::write(
            dir.join("chart.html"),
            page(&format!("{chart}<hr>{extra}<hr>{mixed}")),
        )
        .unwrap();
        std::fs::write(dir.join("capped.html"), page(&big)).unwrap();
    }
}
