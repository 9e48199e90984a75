//! Drawing primitives over printpdf's `Op` list: measured text with a CJK fallback face, lines,
//! rectangles. Everything is positioned by us, in points from the bottom-left corner, so the page
//! layout (and therefore "page x of y", ISO/IEC 17025 7.8.2.1) is known before serialisation.

use std::sync::OnceLock;

use printpdf::{
    Color, FontId, Line, LineDashPattern, LinePoint, Op, PaintMode, ParsedFont, PdfDocument,
    PdfFontHandle, Point, Polygon, PolygonRing, Pt, Rect, Rgb, TextItem, TextRenderingMode,
    WindingOrder,
};

/// A4 portrait in points.
pub const PAGE_W: f32 = 595.276;
pub const PAGE_H: f32 = 841.89;

static DEJAVU_REGULAR: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");
static DEJAVU_BOLD: &[u8] = include_bytes!("../../fonts/DejaVuSans-Bold.ttf");
static WQY_MICROHEI: &[u8] = include_bytes!("../../fonts/WenQuanYiMicroHei.ttf");

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Face {
    Regular,
    Bold,
}

pub struct Fonts {
    regular: ParsedFont,
    bold: ParsedFont,
    cjk: ParsedFont,
    /// Slot and advance (in em) of every char below `TABLE_LEN`, per face: cmap look-ups were
    /// a quarter of the render time.
    table: [Vec<(Slot, f32)>; 2],
}

const TABLE_LEN: u32 = 0x3100;

impl Fonts {
    /// Parsing the 4.6 MB CJK face costs more than rendering a certificate, so it is done once
    /// per process.
    pub fn get() -> Result<&'static Fonts, String> {
        static FONTS: OnceLock<Result<Fonts, String>> = OnceLock::new();
        FONTS
            .get_or_init(|| {
                let parse = |bytes: &[u8], name: &str| {
                    ParsedFont::from_bytes(bytes, 0, &mut Vec::new())
                        .ok_or_else(|| format!("cannot parse embedded font {name}"))
                };
                let mut fonts = Fonts {
                    regular: parse(DEJAVU_REGULAR, "DejaVuSans")?,
                    bold: parse(DEJAVU_BOLD, "DejaVuSans-Bold")?,
                    cjk: parse(WQY_MICROHEI, "WenQuanYiMicroHei")?,
                    table: [Vec::new(), Vec::new()],
                };
                for (i, face) in [Face::Regular, Face::Bold].into_iter().enumerate() {
                    fonts.table[i] = (0..TABLE_LEN)
                        .map(|u| {
                            let c = char::from_u32(u).unwrap_or('\u{FFFD}');
                            let slot = fonts.pick_uncached(face, c);
                            (slot, fonts.advance(slot, c))
                        })
                        .collect();
                }
                Ok(fonts)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn face(&self, face: Face) -> &ParsedFont {
        match face {
            Face::Regular => &self.regular,
            Face::Bold => &self.bold,
        }
    }

    /// Which font draws `c`, and its advance in em.
    fn glyph(&self, face: Face, c: char) -> (Slot, f32) {
        let table = &self.table[face as usize];
        match table.get(c as usize) {
            Some(entry) => *entry,
            None => {
                let slot = self.pick_uncached(face, c);
                (slot, self.advance(slot, c))
            }
        }
    }

    fn pick(&self, face: Face, c: char) -> Slot {
        self.glyph(face, c).0
    }

    /// The Latin face when it has the glyph, else the CJK face.
    fn pick_uncached(&self, face: Face, c: char) -> Slot {
        if self.face(face).lookup_glyph_index(c as u32).is_some() {
            match face {
                Face::Regular => Slot::Regular,
                Face::Bold => Slot::Bold,
            }
        } else {
            Slot::Cjk
        }
    }

    fn slot(&self, slot: Slot) -> &ParsedFont {
        match slot {
            Slot::Regular => &self.regular,
            Slot::Bold => &self.bold,
            Slot::Cjk => &self.cjk,
        }
    }

    fn advance(&self, slot: Slot, c: char) -> f32 {
        let font = self.slot(slot);
        let upm = f32::from(font.pdf_font_metrics.units_per_em.max(1));
        let gid = font.lookup_glyph_index(c as u32).unwrap_or(0);
        f32::from(font.get_horizontal_advance(gid)) / upm
    }

    /// Width of `text` in points.
    pub fn width(&self, text: &str, face: Face, size: f32) -> f32 {
        text.chars().map(|c| self.glyph(face, c).1).sum::<f32>() * size
    }

    /// Greedy line breaking: at spaces, and between CJK characters (which have no spaces).
    pub fn wrap(&self, text: &str, face: Face, size: f32, max_w: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            // Width of `line` including its trailing spaces.
            let mut line_w = 0.0;
            for token in tokens(paragraph) {
                let token_w = self.width(token.trim_end(), face, size);
                if line.is_empty() || line_w + token_w <= max_w {
                    line.push_str(&token);
                    line_w += self.width(&token, face, size);
                } else {
                    lines.push(line.trim_end().to_string());
                    line = token.trim_start().to_string();
                    line_w = self.width(&line, face, size);
                }
                // A single token wider than the line (a long hash or URL): break it anywhere.
                while line_w > max_w
                    && self.width(line.trim_end(), face, size) > max_w
                    && line.chars().count() > 1
                {
                    let mut head = String::new();
                    for c in line.chars() {
                        if !head.is_empty() && self.width(&format!("{head}{c}"), face, size) > max_w
                        {
                            break;
                        }
                        head.push(c);
                    }
                    line = line[head.len()..].to_string();
                    line_w = self.width(&line, face, size);
                    lines.push(head);
                }
            }
            lines.push(line.trim_end().to_string());
        }
        lines
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Slot {
    Regular,
    Bold,
    Cjk,
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x2E80..=0x9FFF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF)
}

/// Break opportunities: a word with its trailing spaces, or one CJK character.
fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut in_space = false;
    for c in text.chars() {
        if is_cjk(c) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            // Closing punctuation stays with the character before it.
            if matches!(c, '，' | '。' | '：' | '；' | '）' | '、') {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                    continue;
                }
            }
            out.push(c.to_string());
            in_space = false;
        } else if c == ' ' {
            cur.push(c);
            in_space = true;
        } else {
            if in_space {
                out.push(std::mem::take(&mut cur));
                in_space = false;
            }
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Font resource ids of one document.
pub struct FontIds {
    regular: FontId,
    bold: FontId,
    cjk: FontId,
}

impl FontIds {
    pub fn register(doc: &mut PdfDocument, fonts: &Fonts) -> FontIds {
        FontIds {
            regular: doc.add_font(&fonts.regular),
            bold: doc.add_font(&fonts.bold),
            cjk: doc.add_font(&fonts.cjk),
        }
    }

    fn id(&self, slot: Slot) -> &FontId {
        match slot {
            Slot::Regular => &self.regular,
            Slot::Bold => &self.bold,
            Slot::Cjk => &self.cjk,
        }
    }
}

pub fn rgb(r: f32, g: f32, b: f32) -> Color {
    Color::Rgb(Rgb::new(r, g, b, None))
}

pub fn black() -> Color {
    rgb(0.0, 0.0, 0.0)
}

pub fn grey(level: f32) -> Color {
    rgb(level, level, level)
}

#[derive(Clone, Debug)]
pub struct Style {
    pub face: Face,
    pub size: f32,
    pub color: Color,
}

impl Style {
    pub fn new(face: Face, size: f32) -> Style {
        Style {
            face,
            size,
            color: black(),
        }
    }

    pub fn color(mut self, color: Color) -> Style {
        self.color = color;
        self
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
    Center,
}

/// One page's drawing, as printpdf ops. Text is recorded with its font *slot*; the ops are
/// produced against a document's font ids in `finish`.
#[derive(Default)]
pub struct Canvas {
    items: Vec<Item>,
}

enum Item {
    Op(Op),
    Text {
        x: f32,
        y: f32,
        runs: Vec<(Slot, String)>,
        size: f32,
        color: Color,
        /// The CJK face has no bold: a stroked outline thickens its glyphs in bold labels.
        bold: bool,
    },
}

impl Canvas {
    pub fn text(&mut self, fonts: &Fonts, x: f32, y: f32, text: &str, style: &Style, align: Align) {
        if text.is_empty() {
            return;
        }
        let x = match align {
            Align::Left => x,
            Align::Right => x - fonts.width(text, style.face, style.size),
            Align::Center => x - fonts.width(text, style.face, style.size) / 2.0,
        };
        let mut runs: Vec<(Slot, String)> = Vec::new();
        for c in text.chars() {
            let slot = fonts.pick(style.face, c);
            match runs.last_mut() {
                Some((s, run)) if *s == slot => run.push(c),
                _ => runs.push((slot, c.to_string())),
            }
        }
        self.items.push(Item::Text {
            x,
            y,
            runs,
            size: style.size,
            color: style.color.clone(),
            bold: style.face == Face::Bold,
        });
    }

    /// Text that must fit in `max_w`: shrinks down to 70 % of the size rather than overflow a
    /// table cell.
    pub fn text_fit(
        &mut self,
        fonts: &Fonts,
        (x, y): (f32, f32),
        text: &str,
        style: &Style,
        align: Align,
        max_w: f32,
    ) {
        let w = fonts.width(text, style.face, style.size);
        if w > max_w && w > 0.0 {
            let size = (style.size * max_w / w).max(style.size * 0.7);
            let s = Style {
                size,
                ..style.clone()
            };
            self.text(fonts, x, y, text, &s, align);
        } else {
            self.text(fonts, x, y, text, style, align);
        }
    }

    pub fn op(&mut self, op: Op) {
        self.items.push(Item::Op(op));
    }

    pub fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32, color: Color) {
        self.polyline(&[from, to], width, color, None);
    }

    pub fn polyline(&mut self, pts: &[(f32, f32)], width: f32, color: Color, dash: Option<&[f32]>) {
        if pts.len() < 2 {
            return;
        }
        self.op(Op::SetOutlineColor { col: color });
        self.op(Op::SetOutlineThickness { pt: Pt(width) });
        if let Some(d) = dash {
            self.op(Op::SetLineDashPattern {
                dash: LineDashPattern::new(0.0, d),
            });
        }
        self.op(Op::DrawLine {
            line: Line {
                points: pts
                    .iter()
                    .map(|&(x, y)| LinePoint {
                        p: point(x, y),
                        bezier: false,
                    })
                    .collect(),
                is_closed: false,
            },
        });
        if dash.is_some() {
            self.op(Op::SetLineDashPattern {
                dash: LineDashPattern::solid(),
            });
        }
    }

    pub fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Color) {
        self.op(Op::SetFillColor { col: color });
        self.op(Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(x),
                y: Pt(y),
                width: Pt(w),
                height: Pt(h),
                mode: Some(PaintMode::Fill),
                winding_order: None,
            },
        });
    }

    pub fn stroke_rect(&mut self, x: f32, y: f32, w: f32, h: f32, width: f32, color: Color) {
        self.op(Op::SetOutlineColor { col: color });
        self.op(Op::SetOutlineThickness { pt: Pt(width) });
        self.op(Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(x),
                y: Pt(y),
                width: Pt(w),
                height: Pt(h),
                mode: Some(PaintMode::Stroke),
                winding_order: None,
            },
        });
    }

    /// A closed shape, filled or stroked (chart markers).
    pub fn shape(&mut self, pts: &[(f32, f32)], mode: PaintMode, width: f32, color: Color) {
        self.op(Op::SetOutlineColor { col: color.clone() });
        self.op(Op::SetFillColor { col: color });
        self.op(Op::SetOutlineThickness { pt: Pt(width) });
        self.op(Op::DrawPolygon {
            polygon: Polygon {
                rings: vec![PolygonRing {
                    points: pts
                        .iter()
                        .map(|&(x, y)| LinePoint {
                            p: point(x, y),
                            bezier: false,
                        })
                        .collect(),
                }],
                mode,
                winding_order: WindingOrder::NonZero,
            },
        });
    }

    /// Lowest and highest text baseline on the page (layout tests).
    #[cfg(test)]
    pub fn text_y_range(&self) -> (f32, f32) {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Text { y, .. } => Some(*y),
                Item::Op(_) => None,
            })
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), y| {
                (lo.min(y), hi.max(y))
            })
    }

    pub fn finish(self, ids: &FontIds) -> Vec<Op> {
        let mut out = Ops::default();
        for item in self.items {
            match item {
                Item::Op(op) => out.push(op),
                Item::Text {
                    x,
                    y,
                    runs,
                    size,
                    color,
                    bold,
                } => {
                    out.push(Op::SetFillColor { col: color.clone() });
                    out.push(Op::StartTextSection);
                    out.push(Op::SetTextCursor { pos: point(x, y) });
                    for (slot, run) in runs {
                        let fake_bold = bold && slot == Slot::Cjk;
                        if fake_bold {
                            out.push(Op::SetOutlineColor { col: color.clone() });
                            out.push(Op::SetOutlineThickness {
                                pt: Pt(size * 0.028),
                            });
                            out.push(Op::SetTextRenderingMode {
                                mode: TextRenderingMode::FillStroke,
                            });
                        }
                        out.push(Op::SetFont {
                            font: PdfFontHandle::External(ids.id(slot).clone()),
                            size: Pt(size),
                        });
                        out.push(Op::ShowText {
                            items: vec![TextItem::Text(run)],
                        });
                        if fake_bold {
                            out.push(Op::SetTextRenderingMode {
                                mode: TextRenderingMode::Fill,
                            });
                        }
                    }
                    out.push(Op::EndTextSection);
                }
            }
        }
        out.ops
    }
}

/// An op list that drops colour and line-width changes to the value already in force: a
/// 200-row table would otherwise repeat them for every cell.
#[derive(Default)]
struct Ops {
    ops: Vec<Op>,
    fill: Option<Color>,
    stroke: Option<Color>,
    width: Option<f32>,
}

impl Ops {
    fn push(&mut self, op: Op) {
        match &op {
            Op::SetFillColor { col } => {
                if self.fill.as_ref() == Some(col) {
                    return;
                }
                self.fill = Some(col.clone());
            }
            Op::SetOutlineColor { col } => {
                if self.stroke.as_ref() == Some(col) {
                    return;
                }
                self.stroke = Some(col.clone());
            }
            Op::SetOutlineThickness { pt } => {
                if self.width == Some(pt.0) {
                    return;
                }
                self.width = Some(pt.0);
            }
            _ => {}
        }
        self.ops.push(op);
    }
}

pub fn point(x: f32, y: f32) -> Point {
    Point { x: Pt(x), y: Pt(y) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_latin_at_spaces_and_cjk_anywhere() {
        let f = Fonts::get().unwrap();
        let lines = f.wrap("alpha beta gamma delta", Face::Regular, 10.0, 60.0);
        assert!(lines.len() > 1, "{lines:?}");
        assert!(lines
            .iter()
            .all(|l| f.width(l, Face::Regular, 10.0) <= 60.0));
        let zh = f.wrap(
            "本证书所列结果仅与被校物品有关。",
            Face::Regular,
            10.0,
            50.0,
        );
        assert!(zh.len() > 2, "{zh:?}");
        assert!(zh.iter().all(|l| !l.starts_with('。')));
        let long = f.wrap(&"a".repeat(200), Face::Regular, 10.0, 100.0);
        assert!(
            long.len() > 1
                && long
                    .iter()
                    .all(|l| f.width(l, Face::Regular, 10.0) <= 100.0)
        );
    }

    #[test]
    fn cjk_glyphs_come_from_the_cjk_face() {
        let f = Fonts::get().unwrap();
        assert_eq!(f.pick(Face::Regular, 'A'), Slot::Regular);
        assert_eq!(f.pick(Face::Bold, 'A'), Slot::Bold);
        assert_eq!(f.pick(Face::Regular, '证'), Slot::Cjk);
        assert!(f.width("证书", Face::Regular, 10.0) > 19.0);
    }
}
