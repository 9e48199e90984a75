//! The calibration certificate as a PDF (ISO/IEC 17025 7.8.2.1, 7.8.4.1, 7.8.6; DESIGN
//! section 8): A4 portrait, bilingual English / 中文, laid out by hand with printpdf's `Op`
//! list so that pagination — and therefore "page x of y" on every page — is decided before the
//! document is serialised. Fonts are embedded and subset (DejaVu Sans, WenQuanYi Micro Hei).

mod archive;
mod canvas;
pub(crate) mod chart;
mod statement;
#[cfg(test)]
mod tests;

use printpdf::{Color, PdfDocument, PdfPage, PdfSaveOptions, Pt};

use crate::domain::calibration::{PointResult, Stage};
use crate::domain::certificate::{printed_budget, printed_point_at, CertificateView, StandardView};
use crate::domain::conformity::{Decision, DecisionRule};
use crate::domain::quantity::{QuantityJson, QuantityKind};

/// A PDF text string (ASCII, else UTF-16BE), for whatever else writes into our PDFs (the
/// signature's reason).
pub(crate) use archive::text as text_string;
use archive::{ArchiveInfo, Attachment};
use canvas::{black, grey, rgb, Align, Canvas, Face, FontIds, Fonts, Style, PAGE_H, PAGE_W};
pub use statement::render_statement;

const MARGIN: f32 = 40.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const RIGHT: f32 = PAGE_W - MARGIN;
/// Body area between the running header and footer.
const BODY_TOP: f32 = PAGE_H - 96.0;
const BODY_BOTTOM: f32 = 60.0;

const TEXT_SIZE: f32 = 8.0;
const LINE_H: f32 = 10.5;
const CELL_SIZE: f32 = 7.5;
const CELL_LINE_H: f32 = 9.0;
const CELL_PAD: f32 = 3.5;
const TABLE_HEADER_H: f32 = 22.0;

/// Renders the certificate. The same view always gives the same pages; the bytes differ only
/// in the PDF's random document id.
pub fn render(view: &CertificateView) -> Result<Vec<u8>, String> {
    render_with(view, &[])
}

/// The certificate with its DCC inside, as the associated file `<number>.xml` (DESIGN 8b):
/// the file an inspector keeps carries the machine-readable certificate too.
pub fn render_with_dcc(view: &CertificateView, dcc: &[u8]) -> Result<Vec<u8>, String> {
    let name = format!("{}.xml", view.number);
    let dcc = Attachment {
        name: &name,
        description: "Digital Calibration Certificate (PTB DCC 3.3.0) / 数字校准证书",
        mime_type: "application/xml",
        bytes: dcc,
    };
    render_with(view, &[dcc])
}

fn render_with(view: &CertificateView, attachments: &[Attachment]) -> Result<Vec<u8>, String> {
    let title = format!("Calibration Certificate / 校准证书 {}", view.number);
    let subject = format!("Calibration certificate {}", view.number);
    let info = ArchiveInfo {
        number: &view.number,
        title: &title,
        author: &view.laboratory.name,
        subject: &subject,
        issued_on: view.issued_on,
    };
    archive::archival(&draw(view)?, &info, attachments)
}

/// The pages as printpdf draws them.
fn draw(view: &CertificateView) -> Result<Vec<u8>, String> {
    let fonts = Fonts::get()?;
    let pages = layout(view, fonts)?;
    let title = format!("Calibration Certificate / 校准证书 {}", view.number);
    let subject = format!("Calibration certificate {}", view.number);
    let info = DocumentInfo {
        title: &title,
        author: &view.laboratory.name,
        subject: &subject,
        identifier: &view.number,
        created: view
            .issued_on
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp()),
    };
    Ok(assemble(&info, fonts, pages, |page, number, total| {
        running_header(page, fonts, view, number, total);
        running_footer(page, fonts, view);
    }))
}

/// What a document's information dictionary says of it.
pub(crate) struct DocumentInfo<'a> {
    pub title: &'a str,
    pub author: &'a str,
    pub subject: &'a str,
    pub identifier: &'a str,
    /// Unix seconds of its creation (the issue date for a certificate).
    pub created: Option<i64>,
}

/// One printpdf document of the laid-out pages, each under the running header and footer
/// `decorate` draws once the page count is known (7.8.2.1 b: "page x of y" on every page).
pub(crate) fn assemble(
    info: &DocumentInfo,
    fonts: &'static Fonts,
    pages: Vec<Canvas>,
    decorate: impl Fn(&mut Canvas, usize, usize),
) -> Vec<u8> {
    let total = pages.len();
    let mut doc = PdfDocument::new(info.title);
    doc.metadata.info.author = info.author.to_string();
    doc.metadata.info.subject = info.subject.to_string();
    doc.metadata.info.identifier = info.identifier.to_string();
    doc.metadata.info.creator = "caltrace".to_string();
    doc.metadata.info.producer = "caltrace (printpdf)".to_string();
    if let Some(Ok(date)) = info
        .created
        .map(printpdf::OffsetDateTime::from_unix_timestamp)
    {
        doc.metadata.info.creation_date = date;
        doc.metadata.info.modification_date = date;
        doc.metadata.info.metadata_date = date;
    }
    let ids = FontIds::register(&mut doc, fonts);
    let pdf_pages = pages
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let mut page = Canvas::default();
            decorate(&mut page, i + 1, total);
            let mut ops = page.finish(&ids);
            ops.extend(body.finish(&ids));
            PdfPage::new(Pt(PAGE_W).into(), Pt(PAGE_H).into(), ops)
        })
        .collect();
    doc.with_pages(pdf_pages)
        .save(&PdfSaveOptions::default(), &mut Vec::new())
}

/// The body of every page; the running header and footer are added once the total is known.
fn layout(view: &CertificateView, fonts: &'static Fonts) -> Result<Vec<Canvas>, String> {
    let mut l = Layout::new(fonts);
    l.title(view);
    l.replacement_notice(view);
    l.info_grid(view);
    l.relate_only_statement();
    l.traceability(view);
    l.results(view);
    l.budgets(view);
    l.decision_rule_and_conformity(view);
    l.charts(view);
    l.deviations(view);
    l.signature(view)?;
    Ok(l.pages)
}

// ---------------------------------------------------------------------------------------------
// Running header and footer
// ---------------------------------------------------------------------------------------------

/// Certificate number and "page x of y" on every page: 7.8.2.1 b requires both so that a page
/// is recognised as part of this certificate and the end of the certificate is clear.
fn running_header(c: &mut Canvas, f: &Fonts, view: &CertificateView, page: usize, total: usize) {
    let lab = &view.laboratory;
    let left_w = CONTENT_W - 190.0;
    c.text_fit(
        f,
        (MARGIN, PAGE_H - 44.0),
        &lab.name,
        &Style::new(Face::Bold, 11.0),
        Align::Left,
        left_w,
    );
    let small = Style::new(Face::Regular, 7.5).color(grey(0.25));
    let mut y = PAGE_H - 56.0;
    for line in f
        .wrap(&lab.address, Face::Regular, 7.5, left_w)
        .iter()
        .take(2)
    {
        c.text(f, MARGIN, y, line, &small, Align::Left);
        y -= 9.0;
    }
    c.text_fit(
        f,
        (MARGIN, y),
        &format!(
            "Accredited by / 认可机构: {} · Accreditation No. / 认可编号: {}",
            lab.accreditation_body, lab.accreditation_number
        ),
        &small,
        Align::Left,
        left_w,
    );

    number_and_page(
        c,
        f,
        "Certificate No. / 证书编号",
        &view.number,
        (page, total),
    );
}

/// The top right of every page of a numbered document (certificate, validity statement):
/// what it is, its number and "page x of y" (ISO/IEC 17025 7.8.2.1 c: identification on
/// each page), above the rule that ends the running header.
pub(crate) fn number_and_page(
    c: &mut Canvas,
    f: &Fonts,
    label: &str,
    number: &str,
    (page, total): (usize, usize),
) {
    c.text(
        f,
        RIGHT,
        PAGE_H - 40.0,
        label,
        &Style::new(Face::Regular, 7.0).color(grey(0.3)),
        Align::Right,
    );
    c.text_fit(
        f,
        (RIGHT, PAGE_H - 53.0),
        number,
        &Style::new(Face::Bold, 11.0),
        Align::Right,
        180.0,
    );
    c.text(
        f,
        RIGHT,
        PAGE_H - 65.0,
        &format!("Page {page} of {total} / 第 {page} 页 共 {total} 页"),
        &Style::new(Face::Regular, 7.5),
        Align::Right,
    );
    c.line(
        (MARGIN, PAGE_H - 82.0),
        (RIGHT, PAGE_H - 82.0),
        1.0,
        accent(),
    );
}

fn running_footer(c: &mut Canvas, f: &Fonts, view: &CertificateView) {
    c.line((MARGIN, 48.0), (RIGHT, 48.0), 0.4, grey(0.6));
    c.text_fit(
        f,
        (MARGIN, 39.0),
        "This certificate shall not be reproduced except in full without the written approval of \
         the laboratory. / 未经本实验室书面批准，不得部分复制本证书。",
        &Style::new(Face::Regular, 6.5).color(grey(0.25)),
        Align::Left,
        CONTENT_W,
    );
    // The audit chain head at issue lets a holder prove later that the log was not rewritten
    // (DESIGN section 8); small type, it is for auditors.
    c.text_fit(
        f,
        (MARGIN, 30.0),
        &format!(
            "Audit chain head at issue / 签发时审计链头: {}",
            view.audit_head
        ),
        &Style::new(Face::Regular, 5.5).color(grey(0.4)),
        Align::Left,
        CONTENT_W,
    );
}

fn accent() -> Color {
    rgb(0.12, 0.23, 0.42)
}

// ---------------------------------------------------------------------------------------------
// Flowing layout
// ---------------------------------------------------------------------------------------------

struct Layout {
    f: &'static Fonts,
    pages: Vec<Canvas>,
    y: f32,
}

#[derive(Clone, Copy)]
struct Column {
    en: &'static str,
    zh: &'static str,
    width: f32,
    align: Align,
    /// Wrap long text onto more lines; otherwise shrink it to fit one line.
    wrap: bool,
}

impl Column {
    const fn new(
        en: &'static str,
        zh: &'static str,
        width: f32,
        align: Align,
        wrap: bool,
    ) -> Column {
        Column {
            en,
            zh,
            width,
            align,
            wrap,
        }
    }
}

struct Cell {
    text: String,
    color: Option<Color>,
}

impl Cell {
    fn plain(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            color: None,
        }
    }
}

enum Row {
    Cells(Vec<Cell>),
    /// A full-width band introducing the rows under it (as found / as left).
    Band(String),
}

impl Layout {
    fn new(f: &'static Fonts) -> Layout {
        Layout {
            f,
            pages: vec![Canvas::default()],
            y: BODY_TOP,
        }
    }

    fn c(&mut self) -> &mut Canvas {
        self.pages.last_mut().expect("at least one page")
    }

    fn new_page(&mut self) {
        self.pages.push(Canvas::default());
        self.y = BODY_TOP;
    }

    /// Starts a new page unless `h` more points fit on this one.
    fn ensure(&mut self, h: f32) -> bool {
        if self.y - h < BODY_BOTTOM && self.y < BODY_TOP {
            self.new_page();
            true
        } else {
            false
        }
    }

    /// A full-width rule at the current position.
    fn hline(&mut self, width: f32, color: Color) {
        let y = self.y;
        self.c().line((MARGIN, y), (RIGHT, y), width, color);
    }

    fn text(&mut self, x: f32, y: f32, text: &str, style: &Style, align: Align) {
        let f = self.f;
        self.c().text(f, x, y, text, style, align);
    }

    fn heading(&mut self, text: &str) {
        self.ensure(18.0 + 3.0 * LINE_H);
        self.y -= 6.0;
        let y = self.y - 9.0;
        self.text(
            MARGIN,
            y,
            text,
            &Style::new(Face::Bold, 9.5).color(accent()),
            Align::Left,
        );
        self.c()
            .line((MARGIN, y - 3.5), (RIGHT, y - 3.5), 0.5, grey(0.7));
        self.y -= 18.0;
    }

    fn paragraph(&mut self, text: &str, style: &Style, line_h: f32) {
        self.paragraph_indented(text, style, line_h, 0.0);
    }

    /// A paragraph whose lines after the first are indented by `hang` (list items).
    fn paragraph_indented(&mut self, text: &str, style: &Style, line_h: f32, hang: f32) {
        let lines = self.f.wrap(text, style.face, style.size, CONTENT_W - hang);
        for (i, line) in lines.iter().enumerate() {
            self.ensure(line_h);
            let y = self.y - style.size;
            let x = if i == 0 { MARGIN } else { MARGIN + hang };
            self.text(x, y, line, style, Align::Left);
            self.y -= line_h;
        }
    }

    fn gap(&mut self, h: f32) {
        self.y -= h;
    }

    fn title(&mut self, _view: &CertificateView) {
        self.text(
            PAGE_W / 2.0,
            self.y - 16.0,
            "Calibration Certificate / 校准证书",
            &Style::new(Face::Bold, 17.0),
            Align::Center,
        );
        self.y -= 30.0;
    }

    /// 7.8.8.2: a replacement identifies itself and the certificate it replaces, and says why.
    fn replacement_notice(&mut self, view: &CertificateView) {
        let Some(r) = &view.replaces else { return };
        let (en, zh) = if r.replacement_type == "amended" {
            ("amends", "修订")
        } else {
            ("replaces", "替代")
        };
        let text = format!(
            "This certificate {en} certificate {n} because {reason}. / 本证书{zh}证书 {n}，原因：{reason}。",
            n = r.number,
            reason = r.reason.trim_end_matches(['.', '。']),
        );
        let style = Style::new(Face::Bold, 8.5).color(rgb(0.45, 0.2, 0.0));
        let lines = self.f.wrap(&text, Face::Bold, 8.5, CONTENT_W - 16.0);
        let h = lines.len() as f32 * LINE_H + 10.0;
        let top = self.y;
        self.c()
            .fill_rect(MARGIN, top - h, CONTENT_W, h, rgb(1.0, 0.95, 0.85));
        self.c()
            .stroke_rect(MARGIN, top - h, CONTENT_W, h, 0.8, rgb(0.85, 0.55, 0.2));
        let mut y = top - 5.0 - 8.5;
        for line in &lines {
            self.text(MARGIN + 8.0, y, line, &style, Align::Left);
            y -= LINE_H;
        }
        self.y -= h + 10.0;
    }

    /// 7.8.2.1 d–f, i, j: who, what, where, when, how, and in what conditions.
    fn info_grid(&mut self, view: &CertificateView) {
        let top = self.y;
        for row in &info_rows(view) {
            self.info_row(row);
        }
        // Frame of the part of the grid on this page.
        let frame_top = if self.pages.len() == 1 { top } else { BODY_TOP };
        let y = self.y;
        self.c()
            .stroke_rect(MARGIN, y, CONTENT_W, frame_top - y, 0.6, grey(0.45));
        self.gap(8.0);
    }

    /// One row of the grid: label cells shaded, each value wrapped to its cell.
    fn info_row(&mut self, row: &[(Label, String)]) {
        let label_w = 104.0;
        let f = self.f;
        let label_style = Style::new(Face::Regular, 7.0).color(grey(0.3));
        let value_style = Style::new(Face::Regular, 8.5);
        let value_w = CONTENT_W / row.len() as f32 - label_w;
        let cells: Vec<(Vec<String>, Vec<String>)> = row
            .iter()
            .map(|((en, zh), value)| {
                (
                    bilingual_label(f, en, zh, 7.0, label_w - 8.0),
                    f.wrap(value, Face::Regular, 8.5, value_w - 8.0),
                )
            })
            .collect();
        let lines = cells
            .iter()
            .map(|(l, v)| (l.len() as f32 * 8.5).max(v.len() as f32 * 10.5))
            .fold(0.0, f32::max);
        let h = lines + 7.0;
        if self.ensure(h) {
            self.hline(0.4, grey(0.55));
        }
        let y0 = self.y;
        for (i, (label, value)) in cells.iter().enumerate() {
            let x = MARGIN + i as f32 * (label_w + value_w);
            self.c().fill_rect(x, y0 - h, label_w, h, grey(0.95));
            let mut y = y0 - 3.5 - 6.5;
            for l in label {
                self.text(x + 4.0, y, l, &label_style, Align::Left);
                y -= 8.5;
            }
            let mut y = y0 - 3.5 - 7.5;
            for v in value {
                self.text(x + label_w + 4.0, y, v, &value_style, Align::Left);
                y -= 10.5;
            }
            self.c()
                .line((x + label_w, y0), (x + label_w, y0 - h), 0.3, grey(0.75));
            if i > 0 {
                self.c().line((x, y0), (x, y0 - h), 0.3, grey(0.75));
            }
        }
        self.y -= h;
        self.hline(0.3, grey(0.75));
    }

    /// 7.8.2.1 k: the results relate only to the item calibrated.
    fn relate_only_statement(&mut self) {
        self.paragraph(
            "The results in this certificate relate only to the item calibrated. / \
             本证书所列结果仅与被校物品有关。",
            &Style::new(Face::Bold, 8.0),
            LINE_H,
        );
    }

    /// 7.8.4.1 / 6.5: how metrological traceability was established — the standards used,
    /// their certificates and issuers, and the national standards or accredited laboratories
    /// reached.
    fn traceability(&mut self, view: &CertificateView) {
        self.heading("Metrological traceability / 计量溯源性");
        let statement = if view.traceable {
            "The results are metrologically traceable to the International System of Units (SI) \
             through the reference standards below, whose calibrations lead to the national \
             measurement standards or ILAC-MRA accredited laboratories listed. / \
             本次校准结果通过下列参考标准溯源至国际单位制（SI），其校准链到达下列国家计量基准或 \
             ILAC-MRA 认可实验室。"
        } else {
            let link = view.broken_link.as_deref().unwrap_or("—");
            &format!(
                "The traceability chain was broken on the date of calibration at {link}; see \
                 the deviations stated below. / 校准日期时溯源链在以下环节中断：{link}；见下文偏离说明。"
            )
        };
        self.paragraph(statement, &Style::new(Face::Regular, TEXT_SIZE), LINE_H);
        self.gap(4.0);
        self.standards_used(view);
        self.gap(5.0);
        self.traceable_to(view);
    }

    fn standards_used(&mut self, view: &CertificateView) {
        let cols = [
            Column {
                en: "Standard used",
                zh: "所用标准器",
                width: 142.0,
                align: Align::Left,
                wrap: true,
            },
            Column {
                en: "Make, model, serial",
                zh: "制造商、型号、编号",
                width: 118.0,
                align: Align::Left,
                wrap: true,
            },
            Column {
                en: "Certificate No.",
                zh: "证书编号",
                width: 88.0,
                align: Align::Left,
                wrap: true,
            },
            Column {
                en: "Issued by",
                zh: "发证机构",
                width: 110.0,
                align: Align::Left,
                wrap: true,
            },
            Column {
                en: "Valid until",
                zh: "有效期至",
                width: CONTENT_W - 458.0,
                align: Align::Center,
                wrap: true,
            },
        ];
        let rows: Vec<Row> = view.standards.iter().map(standard_row).collect();
        if rows.is_empty() {
            self.paragraph(
                "No reference standards recorded. / 未记录参考标准。",
                &Style::new(Face::Regular, TEXT_SIZE),
                LINE_H,
            );
        } else {
            self.table(
                &cols,
                &rows,
                "Standards used (continued) / 所用标准器（续）",
            );
        }
    }

    /// The national standards and accredited laboratories the chain reaches.
    fn traceable_to(&mut self, view: &CertificateView) {
        let roots: Vec<String> = view
            .traceability_roots
            .iter()
            .map(|r| {
                let kind = match r.kind.as_str() {
                    "national_standard" => "National standard / 国家计量基准",
                    "accredited_laboratory" => "Accredited laboratory / 认可实验室",
                    other => other,
                };
                match &r.reference {
                    Some(reference) => format!("• {kind}: {} ({reference})", r.name),
                    None => format!("• {kind}: {}", r.name),
                }
            })
            .collect();
        self.paragraph(
            "Traceable to / 溯源至:",
            &Style::new(Face::Bold, TEXT_SIZE),
            LINE_H,
        );
        if roots.is_empty() {
            self.paragraph(
                "• None reached through valid links. / 未经有效链接溯源至国家计量基准或认可实验室。",
                &Style::new(Face::Regular, TEXT_SIZE),
                LINE_H,
            );
        }
        for root in roots {
            self.paragraph_indented(&root, &Style::new(Face::Regular, TEXT_SIZE), LINE_H, 8.0);
        }
    }

    /// 7.8.2.1 n / 7.8.4.1 a / 7.8.3.1 b: results with units, as found and as left, with U, k
    /// and p, the decision and the TUR.
    /// GUM 7.2.7 / 8: how U was obtained, for the points whose budget was recorded — each
    /// input's estimate, standard uncertainty, sensitivity coefficient (computed, for a model
    /// budget, at the estimates), contribution and share, then u_c, ν_eff and k.
    fn budgets(&mut self, view: &CertificateView) {
        let mut rows = Vec::new();
        for (i, point) in view.points.iter().enumerate() {
            budget_rows(i + 1, point, &mut rows);
        }
        if rows.is_empty() {
            return;
        }
        self.heading("Uncertainty budgets / 测量不确定度评定");
        self.table(
            &budget_columns(),
            &rows,
            "Uncertainty budgets (continued) / 测量不确定度评定（续）",
        );
        self.gap(6.0);
    }

    fn results(&mut self, view: &CertificateView) {
        self.heading("Calibration results / 校准结果");
        let cols = results_columns();
        let mut rows = Vec::new();
        let mut stage = None;
        for (i, p) in view.points.iter().enumerate() {
            if stage != Some(p.stage) {
                rows.push(Row::Band(stage_label(p.stage).to_string()));
                stage = Some(p.stage);
            }
            rows.push(Row::Cells(result_cells(
                i + 1,
                p,
                view.item.resolution.as_ref(),
            )));
        }
        if rows.is_empty() {
            self.paragraph(
                "No results. / 无校准结果。",
                &Style::new(Face::Regular, TEXT_SIZE),
                LINE_H,
            );
            return;
        }
        self.table(
            &cols,
            &rows,
            "Calibration results (continued) / 校准结果（续）",
        );
        self.gap(3.0);
        let note = Style::new(Face::Regular, 6.8).color(grey(0.25));
        self.paragraph(
            "U: expanded uncertainty of the error, with coverage factor k for a coverage \
             probability p (JCGM 100:2008), rounded to two significant digits; the error is \
             given to the same decimal place. TUR: tolerance span / (2U). / U：误差的扩展不确定度，\
             k 为包含因子，p 为包含概率（JCGM 100:2008），U 修约至两位有效数字，误差修约至同一位。\
             TUR：允差区间宽度 / (2U)。",
            &note,
            8.5,
        );
        if view.points.iter().any(|p| p.tur_flagged) {
            self.paragraph(
                "* TUR below 4:1: the uncertainty is large against the tolerance. / \
                 * 测试不确定度比低于 4:1，测量不确定度相对允差较大。",
                &note,
                8.5,
            );
        }
    }

    /// 7.8.6.1/7.8.6.2: the statement of conformity says which results it covers, which
    /// specification was met, and which decision rule was applied.
    fn decision_rule_and_conformity(&mut self, view: &CertificateView) {
        self.heading("Decision rule and statement of conformity / 判定规则与符合性声明");
        let body = Style::new(Face::Regular, TEXT_SIZE);
        self.paragraph(
            &format!(
                "Decision rule / 判定规则: {}",
                decision_rule_sentence(view.decision_rule)
            ),
            &body,
            LINE_H,
        );
        if view.decision_rule == DecisionRule::None {
            return;
        }
        self.gap(2.0);
        for stage in [Stage::AsFound, Stage::AsLeft] {
            let decisions: Vec<Option<Decision>> = view
                .points
                .iter()
                .filter(|p| p.stage == stage)
                .map(|p| p.decision)
                .collect();
            if decisions.is_empty() {
                continue;
            }
            let (text, color) = conformity_sentence(stage, &decisions);
            self.paragraph(
                &text,
                &Style::new(Face::Bold, TEXT_SIZE).color(color),
                LINE_H,
            );
        }
        if let Some(specification) = specification_sentence(&view.points) {
            self.paragraph(&specification, &body, LINE_H);
        }
    }

    fn charts(&mut self, view: &CertificateView) {
        let mut units: Vec<&str> = Vec::new();
        for p in &view.points {
            if !units.contains(&p.reference.unit.as_str()) {
                units.push(&p.reference.unit);
            }
        }
        if units.is_empty() {
            return;
        }
        self.ensure(18.0 + 3.0 * LINE_H + chart::CHART_H);
        self.heading("Error versus reference value / 示值误差曲线");
        for unit in units {
            let points: Vec<&PointResult> = view
                .points
                .iter()
                .filter(|p| p.reference.unit == unit)
                .collect();
            self.ensure(chart::CHART_H + 6.0);
            let (f, top) = (self.f, self.y);
            chart::draw(self.c(), f, &points, MARGIN, top, CONTENT_W);
            self.y -= chart::CHART_H + 6.0;
        }
    }

    /// 7.8.2.1 g: deviations from, additions to or exclusions from the method.
    /// Printed only as the technician stated them: no invented "none".
    fn deviations(&mut self, view: &CertificateView) {
        let Some(text) = view
            .deviations
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        else {
            return;
        };
        self.heading("Deviations from the method / 偏离说明");
        self.paragraph(text, &Style::new(Face::Regular, TEXT_SIZE), LINE_H);
    }

    /// 7.8.2.1 o: the person authorising the certificate; the QR code carries the public
    /// verification URL, since a PDF cannot carry its own hash (DESIGN section 8).
    fn signature(&mut self, view: &CertificateView) -> Result<(), String> {
        const QR: f32 = 84.0;
        let block_h = QR + 40.0;
        self.ensure(block_h + 24.0);
        self.gap(10.0);
        let top = self.y;
        let label = Style::new(Face::Regular, 7.0).color(grey(0.3));
        self.text(
            MARGIN,
            top - 10.0,
            "Authorised signatory / 授权签字人",
            &label,
            Align::Left,
        );
        self.text(
            MARGIN,
            top - 26.0,
            &view.signatory,
            &Style::new(Face::Bold, 11.0),
            Align::Left,
        );
        self.c().line(
            (MARGIN, top - 58.0),
            (MARGIN + 200.0, top - 58.0),
            0.6,
            black(),
        );
        self.text(
            MARGIN,
            top - 67.0,
            &format!(
                "Signature / 签名 · Date of issue / 签发日期: {}",
                view.issued_on.format("%Y-%m-%d")
            ),
            &label,
            Align::Left,
        );
        let note = Style::new(Face::Regular, 7.0);
        let signed = match &view.electronic_signature {
            Some(signature) => {
                let (en, zh) = signature.words();
                format!("{en}. / {zh}。")
            }
            None => "Approved electronically. / 本证书经电子批准。".to_string(),
        };
        let digital = if view.digitally_signed {
            "The PDF and its embedded DCC carry the laboratory's digital signature: check them \
             offline with `caltrace verify` or on the verification page. / PDF 及内嵌 DCC 带有\
             本实验室数字签名，可离线或在验证页面核验。"
        } else {
            "Not digitally signed: the laboratory has no signing identity. / 本证书未经数字签名。"
        };
        let text = format!(
            "{signed} {digital} Check the certificate's status with the QR code. / \
             可扫描二维码核验其状态。"
        );
        let mut y = top - 84.0;
        for line in self
            .f
            .wrap(&text, Face::Regular, 7.0, CONTENT_W - QR - 60.0)
        {
            self.text(MARGIN, y, &line, &note, Align::Left);
            y -= 9.0;
        }

        let qr_x = RIGHT - QR;
        qr_code(self.c(), &view.verification_url, qr_x, top - QR, QR)?;
        self.text(
            qr_x + QR / 2.0,
            top - QR - 9.0,
            "Verify / 验证",
            &Style::new(Face::Bold, 7.0),
            Align::Center,
        );
        let f = self.f;
        let url_style = Style::new(Face::Regular, 6.0).color(grey(0.25));
        let mut y = top - QR - 18.0;
        for line in f.wrap(&view.verification_url, Face::Regular, 6.0, 170.0) {
            self.text(RIGHT, y, &line, &url_style, Align::Right);
            y -= 7.5;
        }
        self.y = top - block_h;
        self.text(
            PAGE_W / 2.0,
            self.y - 8.0,
            "— End of certificate / 证书结束 —",
            &Style::new(Face::Regular, 7.5).color(grey(0.35)),
            Align::Center,
        );
        self.y -= 14.0;
        Ok(())
    }

    /// A table that breaks across pages between rows and repeats its header row (and the
    /// stage band it is in) on each page, so every page can be read on its own.
    fn table(&mut self, cols: &[Column], rows: &[Row], continued: &str) {
        let heights = wrap_rows(self.f, cols, rows);
        let first_need = TABLE_HEADER_H + heights.iter().take(2).map(|h| h.0).sum::<f32>();
        self.ensure(first_need);
        self.table_header(cols);
        let mut band: Option<&str> = None;
        let mut zebra = false;
        for (i, row) in rows.iter().enumerate() {
            let mut need = heights[i].0;
            if matches!(row, Row::Band(_)) {
                // A band is never left alone at the foot of a page.
                need += heights.get(i + 1).map_or(0.0, |h| h.0);
            }
            if self.y - need < BODY_BOTTOM {
                let open_band = band.filter(|_| matches!(row, Row::Cells(_)));
                self.continue_table(cols, continued, open_band);
            }
            match row {
                Row::Band(text) => {
                    self.band_row(text);
                    band = Some(text);
                    zebra = false;
                }
                Row::Cells(cells) => {
                    self.cells_row(cols, cells, &heights[i], zebra);
                    zebra = !zebra;
                }
            }
        }
        self.hline(0.8, grey(0.3));
    }

    /// A new page repeats the table's caption and header, and the band the rows belong to.
    fn continue_table(&mut self, cols: &[Column], continued: &str, band: Option<&str>) {
        self.new_page();
        self.text(
            MARGIN,
            self.y - 9.0,
            continued,
            &Style::new(Face::Bold, 8.5).color(accent()),
            Align::Left,
        );
        self.y -= 16.0;
        self.table_header(cols);
        if let Some(b) = band {
            let text = match b.split_once(" / ") {
                Some((en, zh)) => format!("{en} (continued) / {zh}（续）"),
                None => format!("{b} (continued) / （续）"),
            };
            self.band_row(&text);
        }
    }

    fn cells_row(
        &mut self,
        cols: &[Column],
        cells: &[Cell],
        (h, wrapped): &(f32, Vec<Vec<String>>),
        zebra: bool,
    ) {
        let (f, h) = (self.f, *h);
        let cell = Style::new(Face::Regular, CELL_SIZE);
        let y0 = self.y;
        if zebra {
            self.c()
                .fill_rect(MARGIN, y0 - h, CONTENT_W, h, grey(0.965));
        }
        let mut x = MARGIN;
        for ((c, col), lines) in cells.iter().zip(cols).zip(wrapped) {
            let style = match &c.color {
                Some(color) => cell.clone().color(color.clone()),
                None => cell.clone(),
            };
            let tx = match col.align {
                Align::Left => x + CELL_PAD,
                Align::Right => x + col.width - CELL_PAD,
                Align::Center => x + col.width / 2.0,
            };
            let mut ty = y0 - 1.5 - CELL_SIZE;
            for line in lines {
                let width = col.width - 2.0 * CELL_PAD;
                self.c()
                    .text_fit(f, (tx, ty), line, &style, col.align, width);
                ty -= CELL_LINE_H;
            }
            if x > MARGIN {
                self.c().line((x, y0), (x, y0 - h), 0.3, grey(0.72));
            }
            x += col.width;
        }
        self.y -= h;
        let y1 = self.y;
        self.hline(0.3, grey(0.72));
        self.c().line((MARGIN, y0), (MARGIN, y1), 0.6, grey(0.45));
        self.c().line((RIGHT, y0), (RIGHT, y1), 0.6, grey(0.45));
    }

    fn table_header(&mut self, cols: &[Column]) {
        let f = self.f;
        let y0 = self.y;
        let h = TABLE_HEADER_H;
        self.c()
            .fill_rect(MARGIN, y0 - h, CONTENT_W, h, rgb(0.87, 0.90, 0.95));
        let en = Style::new(Face::Bold, 7.0);
        let zh = Style::new(Face::Regular, 7.0).color(grey(0.2));
        let mut x = MARGIN;
        for col in cols {
            let cx = x + col.width / 2.0;
            let w = col.width - 4.0;
            self.c()
                .text_fit(f, (cx, y0 - 9.0), col.en, &en, Align::Center, w);
            self.c()
                .text_fit(f, (cx, y0 - 18.0), col.zh, &zh, Align::Center, w);
            if x > MARGIN {
                self.c().line((x, y0), (x, y0 - h), 0.3, grey(0.6));
            }
            x += col.width;
        }
        self.c()
            .stroke_rect(MARGIN, y0 - h, CONTENT_W, h, 0.8, grey(0.3));
        self.y -= h;
    }

    fn band_row(&mut self, text: &str) {
        let h = CELL_LINE_H + 4.0;
        let y0 = self.y;
        self.c().fill_rect(MARGIN, y0 - h, CONTENT_W, h, grey(0.90));
        self.c()
            .stroke_rect(MARGIN, y0 - h, CONTENT_W, h, 0.4, grey(0.55));
        self.text(
            MARGIN + CELL_PAD,
            y0 - 2.5 - CELL_SIZE,
            text,
            &Style::new(Face::Bold, CELL_SIZE),
            Align::Left,
        );
        self.y -= h;
    }
}

// ---------------------------------------------------------------------------------------------
// Wording and number formatting
// ---------------------------------------------------------------------------------------------

/// The budget table's columns: what a metrologist checks a budget by (GUM 8, EA-4/02 S).
fn budget_columns() -> [Column; 7] {
    let col = |en, zh, width, align| Column::new(en, zh, width, align, true);
    [
        col("Quantity", "输入量", 120.0, Align::Left),
        col("Estimate xᵢ", "估计值", 82.0, Align::Right),
        col("u(xᵢ)", "标准不确定度", 72.0, Align::Right),
        col("cᵢ", "灵敏系数", 82.0, Align::Right),
        col("uᵢ(y)", "不确定度分量", 72.0, Align::Right),
        col("νᵢ", "自由度", 36.0, Align::Center),
        col("%", "方差占比", CONTENT_W - 464.0, Align::Center),
    ]
}

/// One point's budget: a band naming the point (and the model with y, for a model budget),
/// a row per input, then u_c, ν_eff and k.
fn budget_rows(n: usize, point: &PointResult, rows: &mut Vec<Row>) {
    let Some(budget) = &point.budget else {
        return;
    };
    let printed = printed_budget(budget);
    let band = match (&printed.model, &printed.estimate) {
        (Some(model), Some(y)) => format!("Point {n} / 校准点 {n}: y = {model} = {y}"),
        (Some(model), None) => format!("Point {n} / 校准点 {n}: y = {model}"),
        _ => format!("Point {n} / 校准点 {n}"),
    };
    rows.push(Row::Band(band));
    for c in printed.components {
        rows.push(Row::Cells(
            [
                c.name,
                c.estimate.unwrap_or_else(|| "—".into()),
                c.standard_uncertainty,
                c.sensitivity,
                c.contribution,
                c.degrees_of_freedom,
                c.percent_of_variance,
            ]
            .into_iter()
            .map(Cell::plain)
            .collect(),
        ));
    }
    rows.push(Row::Cells(
        [
            "Combined / 合成".to_string(),
            String::new(),
            String::new(),
            String::new(),
            printed.combined_standard_uncertainty,
            printed.effective_degrees_of_freedom,
            format!("k = {}", printed.coverage_factor),
        ]
        .into_iter()
        .map(Cell::plain)
        .collect(),
    ));
}

fn results_columns() -> [Column; 9] {
    let col = |en, zh, width, align| Column::new(en, zh, width, align, false);
    [
        col("No.", "序号", 22.0, Align::Center),
        col("Reference", "标准值", 76.0, Align::Right),
        col("Indicated", "被校示值", 76.0, Align::Right),
        col("Error", "示值误差", 68.0, Align::Right),
        col("U", "扩展不确定度", 62.0, Align::Right),
        col("k", "包含因子", 32.0, Align::Center),
        col("p (%)", "包含概率", 38.0, Align::Center),
        col("Decision", "判定", 92.0, Align::Center),
        col("TUR", "测试不确定度比", CONTENT_W - 466.0, Align::Center),
    ]
}

/// "pressure / 压力": the measured quantity in both languages, so the Chinese
/// reader is not left with an English fragment.
fn quantity_kind_words(kind: &str) -> String {
    match QuantityKind::names_in_words(kind) {
        (english, chinese) if english == chinese => english,
        (english, chinese) => format!("{english} / {chinese}"),
    }
}

fn stage_label(stage: Stage) -> &'static str {
    match stage {
        Stage::AsFound => "As found (before adjustment) / 调整前（接收状态）",
        Stage::AsLeft => "As left (after adjustment) / 调整后（交付状态）",
    }
}

fn result_cells(no: usize, p: &PointResult, resolution: Option<&QuantityJson>) -> Vec<Cell> {
    let printed = printed_point_at(p, resolution);
    let (decision, color) = match p.decision {
        Some(Decision::Pass) => ("Pass / 合格", rgb(0.05, 0.45, 0.15)),
        Some(Decision::ConditionalPass) => ("Cond. pass / 有条件合格", rgb(0.6, 0.42, 0.0)),
        Some(Decision::ConditionalFail) => ("Cond. fail / 有条件不合格", rgb(0.75, 0.3, 0.0)),
        Some(Decision::Fail) => ("Fail / 不合格", rgb(0.75, 0.05, 0.05)),
        None => ("—", black()),
    };
    let tur = match &printed.tur {
        Some(tur) => format!("{tur}{}", if printed.tur_flagged { " *" } else { "" }),
        None => "—".to_string(),
    };
    vec![
        Cell::plain(no.to_string()),
        Cell::plain(printed.reference),
        Cell::plain(printed.indicated),
        Cell::plain(printed.error),
        Cell::plain(printed.expanded_uncertainty),
        Cell::plain(printed.coverage_factor),
        Cell::plain(printed.coverage_probability),
        Cell {
            text: decision.to_string(),
            color: Some(color),
        },
        Cell {
            text: tur,
            color: p.tur_flagged.then(|| rgb(0.75, 0.3, 0.0)),
        },
    ]
}

/// ILAC-G8:09/2019 4.2: the rule in one sentence, in both languages (the
/// wording of domain::conformity, the same as the DCC's). A stored rule that
/// cannot be read was refused before issue; it prints as no statement.
fn decision_rule_sentence(rule: DecisionRule) -> String {
    let statement = rule.statement();
    format!("{} / {}", statement.english, statement.chinese)
}

fn conformity_sentence(stage: Stage, decisions: &[Option<Decision>]) -> (String, Color) {
    let (en_stage, zh_stage) = match stage {
        Stage::AsFound => ("As found", "调整前"),
        Stage::AsLeft => ("As left", "调整后"),
    };
    let n = decisions.len();
    let out = decisions
        .iter()
        .filter(|d| d.is_some_and(|d| d.is_out_of_tolerance()))
        .count();
    let conditional = decisions
        .iter()
        .filter(|d| **d == Some(Decision::ConditionalPass))
        .count();
    let undecided = decisions.iter().filter(|d| d.is_none()).count();
    if out > 0 {
        (
            format!(
                "{en_stage}: the item does NOT conform to the specification at {out} of {n} points \
                 (see table). / {zh_stage}：{n} 个校准点中有 {out} 个不符合要求（见上表）。"
            ),
            rgb(0.7, 0.05, 0.05),
        )
    } else if undecided == n {
        (
            format!("{en_stage}: no statement of conformity. / {zh_stage}：不作符合性声明。"),
            black(),
        )
    } else if conditional > 0 {
        (
            format!(
                "{en_stage}: the item conforms to the specification at all {n} points, {conditional} \
                 of them conditionally (within the guard band of a limit). / {zh_stage}：全部 {n} 个\
                 校准点符合要求，其中 {conditional} 个为有条件合格。"
            ),
            rgb(0.5, 0.35, 0.0),
        )
    } else {
        (
            format!(
                "{en_stage}: the item conforms to the specification at all {n} points. / \
                 {zh_stage}：全部 {n} 个校准点均符合要求。"
            ),
            rgb(0.05, 0.4, 0.12),
        )
    }
}

/// The specification the conformity statement refers to, as numbers (7.8.6.2:
/// the statement identifies the specification): each distinct maximum
/// permissible error or pair of limits, with the points it applies to when
/// there are several.
fn specification_sentence(points: &[PointResult]) -> Option<String> {
    let mut specs: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let spec = match (&p.tolerance, &p.limits) {
            (Some(t), _) => format!("±{}", quantity(t)),
            (None, Some(l)) => format!("{} … {}", quantity(&l.lower), quantity(&l.upper)),
            (None, None) => continue,
        };
        match specs.iter_mut().find(|(s, _)| *s == spec) {
            Some((_, numbers)) => numbers.push(i + 1),
            None => specs.push((spec, vec![i + 1])),
        }
    }
    let listed = match specs.as_slice() {
        [] => return None,
        [(only, _)] => only.clone(),
        several => several
            .iter()
            .map(|(spec, numbers)| {
                let numbers: Vec<String> = numbers.iter().map(usize::to_string).collect();
                format!("{spec} (No. {})", numbers.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; "),
    };
    Some(format!(
        "Specification (maximum permissible error of the indication): {listed}. / \
         技术要求（示值最大允许误差）：{listed}。"
    ))
}

/// "English / 中文" on one line when it fits; otherwise the English (wrapped at spaces) and the
/// Chinese each on their own lines, so a Chinese word is never split.
fn bilingual_label(f: &Fonts, en: &str, zh: &str, size: f32, max_w: f32) -> Vec<String> {
    let one = format!("{en} / {zh}");
    if f.width(&one, Face::Regular, size) <= max_w {
        return vec![one];
    }
    let mut lines = f.wrap(&format!("{en} /"), Face::Regular, size, max_w);
    lines.extend(f.wrap(zh, Face::Regular, size, max_w));
    lines
}

fn environment_label(label: &str) -> String {
    match label.to_ascii_lowercase().as_str() {
        "temperature" => "Temperature / 温度".to_string(),
        "relative_humidity" | "humidity" | "relative humidity" => {
            "Relative humidity / 相对湿度".to_string()
        }
        "pressure" | "atmospheric_pressure" | "barometric_pressure" => {
            "Atmospheric pressure / 大气压力".to_string()
        }
        other => other.replace('_', " "),
    }
}

fn quantity(q: &QuantityJson) -> String {
    format!("{} {}", q.value, q.unit)
}

/// The QR code as vector rectangles (one per run of dark modules in a row): crisp at any zoom
/// and no image decoder needed.
fn qr_code(c: &mut Canvas, data: &str, x: f32, y: f32, size: f32) -> Result<(), String> {
    let code = qrcode::QrCode::new(data.as_bytes())
        .map_err(|e| format!("verification URL cannot be QR-encoded: {e}"))?;
    let n = code.width();
    let colors = code.to_colors();
    let m = size / n as f32;
    for row in 0..n {
        let mut col = 0;
        while col < n {
            if colors[row * n + col] == qrcode::Color::Dark {
                let start = col;
                while col < n && colors[row * n + col] == qrcode::Color::Dark {
                    col += 1;
                }
                // Rows run top-down; a hair of overlap avoids seams between runs in viewers.
                c.fill_rect(
                    x + start as f32 * m,
                    y + size - (row + 1) as f32 * m - 0.05,
                    (col - start) as f32 * m,
                    m + 0.1,
                    black(),
                );
            } else {
                col += 1;
            }
        }
    }
    Ok(())
}

type Label = (&'static str, &'static str);

/// The rows of the information grid, each one to four labelled cells.
fn info_rows(view: &CertificateView) -> Vec<Vec<(Label, String)>> {
    let item = &view.item;
    let or_dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "—".to_string());
    let date = |d: Option<chrono::NaiveDate>| {
        d.map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "—".to_string())
    };
    let kind = quantity_kind_words(&item.quantity_kind);
    let description = match &item.description {
        Some(d) => format!("{d} ({kind})"),
        None => kind,
    };
    let range = item
        .range
        .as_ref()
        .map(|(lo, hi)| format!("{} to / 至 {}", quantity(lo), quantity(hi)))
        .unwrap_or_else(|| "—".to_string());
    let environment = if view.environment.is_empty() {
        "—".to_string()
    } else {
        view.environment
            .iter()
            .map(|(label, q)| format!("{} {}", environment_label(label), quantity(q)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    vec![
        vec![(("Customer", "客户"), or_dash(&view.customer))],
        vec![(("Item", "被校物品"), description)],
        vec![
            (("Manufacturer", "制造商"), or_dash(&item.manufacturer)),
            (("Model", "型号"), or_dash(&item.model)),
        ],
        vec![
            (("Serial number", "出厂编号"), or_dash(&item.serial_number)),
            (("Asset tag", "资产编号"), item.asset_tag.clone()),
        ],
        vec![
            (("Range", "测量范围"), range),
            (
                ("Resolution", "分辨力"),
                item.resolution
                    .as_ref()
                    .map(quantity)
                    .unwrap_or_else(|| "—".to_string()),
            ),
        ],
        vec![(
            ("Condition on receipt", "接收时状态"),
            item.condition
                .clone()
                .unwrap_or_else(|| "Not recorded / 未记录".to_string()),
        )],
        vec![
            (("Date of receipt", "接收日期"), date(view.received_on)),
            (
                ("Date of calibration", "校准日期"),
                date(Some(view.performed_on)),
            ),
        ],
        vec![
            (("Date of issue", "签发日期"), date(Some(view.issued_on))),
            (
                ("Recommended recalibration", "建议复校日期"),
                date(view.due_on),
            ),
        ],
        vec![(
            ("Location of calibration", "校准地点"),
            or_dash(&view.location),
        )],
        vec![(("Method / procedure", "校准方法"), or_dash(&view.procedure))],
        vec![(("Environmental conditions", "环境条件"), environment)],
    ]
}

/// A standard's row: what it is, its make, its certificate and issuer, and until when.
fn standard_row(s: &StandardView) -> Row {
    let ident = [&s.manufacturer, &s.model, &s.serial_number]
        .iter()
        .filter_map(|o| o.as_deref())
        .collect::<Vec<_>>()
        .join(", ");
    let name = match &s.description {
        Some(d) => format!("{} — {d}", s.asset_tag),
        None => s.asset_tag.clone(),
    };
    Row::Cells(vec![
        Cell::plain(name),
        Cell::plain(if ident.is_empty() {
            "—".into()
        } else {
            ident
        }),
        Cell::plain(match (&s.certificate_number, s.certificate_dated) {
            (Some(number), Some(dated)) => format!("{number} of {dated}"),
            (Some(number), None) => number.clone(),
            (None, _) => "—".into(),
        }),
        Cell::plain(s.issuer.clone().unwrap_or_else(|| "—".into())),
        Cell::plain(
            s.due_on
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "—".into()),
        ),
    ])
}

/// Each row's height and its cells' text wrapped to their columns (a band is one line).
fn wrap_rows(f: &Fonts, cols: &[Column], rows: &[Row]) -> Vec<(f32, Vec<Vec<String>>)> {
    let wrap = |c: &Cell, col: &Column| {
        if col.wrap {
            f.wrap(
                &c.text,
                Face::Regular,
                CELL_SIZE,
                col.width - 2.0 * CELL_PAD,
            )
        } else {
            vec![c.text.clone()]
        }
    };
    rows.iter()
        .map(|row| match row {
            Row::Band(_) => (CELL_LINE_H + 4.0, Vec::new()),
            Row::Cells(cells) => {
                let wrapped: Vec<Vec<String>> = cells
                    .iter()
                    .zip(cols)
                    .map(|(c, col)| wrap(c, col))
                    .collect();
                let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
                (lines as f32 * CELL_LINE_H + 3.0, wrapped)
            }
        })
        .collect()
}
