//! The validity statement as a PDF (DESIGN 9c): the same page, fonts, table and PDF/A-3b
//! archive as a certificate, with its own running header (statement number, "page x of y")
//! and a table of one row per instrument asked, which breaks across pages and repeats its
//! header so every page can be read on its own.

use super::archive::{self, ArchiveInfo};
use super::canvas::{grey, Align, Canvas, Face, Fonts, Style, PAGE_H, PAGE_W};
use super::{
    assemble, qr_code, Cell, Column, DocumentInfo, Layout, Row, CONTENT_W, LINE_H, MARGIN, RIGHT,
};
use crate::domain::statement::{reason_with_detail, StatementRow, StatementView};

const TITLE: &str = "Validity statement / 有效性声明";

/// Renders the statement, PDF/A-3b, unsigned (the workflow signs it).
pub fn render_statement(view: &StatementView) -> Result<Vec<u8>, String> {
    let title = format!("{TITLE} {}", view.number);
    let subject = StatementView::description(view.rows.len(), &view.requested_by);
    let info = ArchiveInfo {
        number: &view.number,
        title: &title,
        author: &view.laboratory.name,
        subject: &subject,
        issued_on: view.created_at.date_naive(),
    };
    archive::archival(&draw(view, &title, &subject)?, &info, &[])
}

fn draw(view: &StatementView, title: &str, subject: &str) -> Result<Vec<u8>, String> {
    let fonts = Fonts::get()?;
    let pages = layout(view, fonts)?;
    let info = DocumentInfo {
        title,
        author: &view.laboratory.name,
        subject,
        identifier: &view.number,
        created: Some(view.created_at.timestamp()),
    };
    Ok(assemble(&info, fonts, pages, |page, number, total| {
        running_header(page, fonts, view, number, total);
        running_footer(page, fonts, view);
    }))
}

fn layout(view: &StatementView, fonts: &'static Fonts) -> Result<Vec<Canvas>, String> {
    let mut l = Layout::new(fonts);
    l.text(
        PAGE_W / 2.0,
        l.y - 16.0,
        TITLE,
        &Style::new(Face::Bold, 17.0),
        Align::Center,
    );
    l.y -= 30.0;
    l.statement_facts(view)?;
    l.table(
        &columns(),
        &view.rows.iter().map(row).collect::<Vec<_>>(),
        "Validity statement (continued) / 有效性声明（续）",
    );
    l.gap(8.0);
    l.paragraph(
        "Each verdict is what the laboratory's register said, at the time of the query, of the \
         instrument on the date asked: its latest calibration on record performed on or before \
         that date, its certificate and due date, and its metrological traceability. An \
         instrument the requester may not see, or that is not registered, is reported as \
         unknown instrument. / 每行结论为查询时登记册对该仪器在所询日期的状态。",
        &Style::new(Face::Regular, 7.0).color(grey(0.25)),
        9.0,
    );
    l.text(
        PAGE_W / 2.0,
        l.y - 10.0,
        "— End of statement / 声明结束 —",
        &Style::new(Face::Regular, 7.5).color(grey(0.35)),
        Align::Center,
    );
    Ok(l.pages)
}

impl Layout {
    /// Who asked, when, of which laboratory, and how to verify the paper: beside the QR code.
    fn statement_facts(&mut self, view: &StatementView) -> Result<(), String> {
        const QR: f32 = 72.0;
        let top = self.y;
        let label = Style::new(Face::Regular, 7.0).color(grey(0.3));
        let value = Style::new(Face::Bold, 9.0);
        let signed = if view.digitally_signed {
            "Digitally signed by the laboratory (PAdES): check it offline or on the \
             verification page. / 本声明带有实验室数字签名。"
        } else {
            "Not digitally signed: the laboratory has no signing identity; check the file's \
             SHA-256 on the verification page. / 本声明未经数字签名。"
        };
        let facts = [
            ("Statement No. / 声明编号", view.number.clone()),
            ("Laboratory / 实验室", view.laboratory.name.clone()),
            ("Requested by / 申请人", view.requested_by.clone()),
            (
                "Time of the query / 查询时间",
                view.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            ),
            ("Instruments / 仪器数量", view.rows.len().to_string()),
            ("Verify at / 验证网址", view.verification_url.clone()),
        ];
        let mut y = top;
        for (name, text) in &facts {
            self.text(MARGIN, y - 8.0, name, &label, Align::Left);
            let f = self.f;
            self.c().text_fit(
                f,
                (MARGIN + 120.0, y - 8.0),
                text,
                &value,
                Align::Left,
                CONTENT_W - QR - 140.0,
            );
            y -= 13.0;
        }
        qr_code(self.c(), &view.verification_url, RIGHT - QR, top - QR, QR)?;
        self.y = y.min(top - QR) - 4.0;
        self.paragraph(signed, &Style::new(Face::Regular, 7.0), LINE_H);
        self.gap(6.0);
        Ok(())
    }
}

fn columns() -> [Column; 8] {
    let fixed = 58.0 + 92.0 + 46.0 + 38.0 + 72.0 + 70.0 + 46.0;
    [
        Column::new("Asset tag", "资产编号", 58.0, Align::Left, true),
        Column::new(
            "Make, model, serial",
            "制造商、型号、编号",
            92.0,
            Align::Left,
            true,
        ),
        Column::new("Date asked", "所询日期", 46.0, Align::Center, false),
        Column::new("Verdict", "结论", 38.0, Align::Center, false),
        Column::new("Reason", "原因", 72.0, Align::Left, true),
        // A number is read whole: shrunk to fit rather than broken across lines.
        Column::new("Certificate No.", "证书编号", 70.0, Align::Left, false),
        Column::new("Due", "有效期至", 46.0, Align::Center, false),
        Column::new(
            "Traceability",
            "溯源链",
            CONTENT_W - fixed,
            Align::Left,
            true,
        ),
    ]
}

fn row(r: &StatementRow) -> Row {
    let dash = || "—".to_string();
    let verdict = Cell {
        text: r.verdict().to_string(),
        color: (!r.validity.valid).then(|| super::rgb(0.7, 0.1, 0.1)),
    };
    Row::Cells(vec![
        Cell::plain(r.asset_tag.clone().unwrap_or_else(|| match r.id {
            Some(id) => format!("id {id}"),
            None => dash(),
        })),
        Cell::plain(
            Some(r.plate())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(dash),
        ),
        Cell::plain(r.at.format("%Y-%m-%d").to_string()),
        verdict,
        Cell::plain(reason_with_detail(&r.validity)),
        Cell::plain(r.validity.certificate_number.clone().unwrap_or_else(dash)),
        Cell::plain(
            r.validity
                .due_on
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_else(dash),
        ),
        Cell::plain(r.chain.as_ref().map(|c| c.words()).unwrap_or_else(dash)),
    ])
}

/// Statement number and "page x of y" on every page, as a certificate's.
fn running_header(c: &mut Canvas, f: &Fonts, view: &StatementView, page: usize, total: usize) {
    let left_w = CONTENT_W - 190.0;
    c.text_fit(
        f,
        (MARGIN, PAGE_H - 44.0),
        &view.laboratory.name,
        &Style::new(Face::Bold, 11.0),
        Align::Left,
        left_w,
    );
    c.text_fit(
        f,
        (MARGIN, PAGE_H - 56.0),
        &view.laboratory.address,
        &Style::new(Face::Regular, 7.5).color(grey(0.25)),
        Align::Left,
        left_w,
    );
    super::number_and_page(
        c,
        f,
        "Validity statement No. / 声明编号",
        &view.number,
        (page, total),
    );
}

fn running_footer(c: &mut Canvas, f: &Fonts, view: &StatementView) {
    c.line((MARGIN, 48.0), (RIGHT, 48.0), 0.4, grey(0.6));
    c.text_fit(
        f,
        (MARGIN, 39.0),
        &format!(
            "{} · requested by {} · verify at {}",
            view.number, view.requested_by, view.verification_url
        ),
        &Style::new(Face::Regular, 6.5).color(grey(0.25)),
        Align::Left,
        CONTENT_W,
    );
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;
    use crate::domain::certificate::LaboratoryView;
    use crate::domain::statement::ChainSummary;
    use crate::domain::validity::{Validity, ValidityReason};

    fn view(rows: usize) -> StatementView {
        let at = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let row = |i: usize| StatementRow {
            id: Some(i as i64),
            asset_tag: Some(format!("PG-{i:05}")),
            at,
            manufacturer: Some("WIKA".into()),
            model: Some("CPG1500".into()),
            serial_number: Some(format!("SN-{i:05}")),
            validity: Validity {
                valid: !i.is_multiple_of(3),
                reason: if i.is_multiple_of(3) {
                    ValidityReason::Expired
                } else {
                    ValidityReason::Valid
                },
                certificate_number: Some(format!("CT-2026-{i:06}")),
                calibrated_on: Some(at),
                due_on: Some(at),
                reason_detail: None,
            },
            chain: Some(ChainSummary {
                traceable: true,
                reaches: vec!["NIM (CN)".into()],
                broken_link: None,
            }),
        };
        StatementView {
            number: "VS-2026-000001".into(),
            created_at: Utc.with_ymd_and_hms(2026, 12, 5, 8, 0, 0).unwrap(),
            requested_by: "Zhang Min".into(),
            laboratory: LaboratoryView {
                name: "Lab".into(),
                address: "1 Road".into(),
                accreditation_body: "CNAS".into(),
                accreditation_number: "L0001".into(),
                country: Some("CN".into()),
            },
            rows: (0..rows).map(row).collect(),
            verification_url: "https://lab.example/verify/VS-2026-000001".into(),
            digitally_signed: false,
        }
    }

    /// The cap of a bulk request must not take minutes to print (figure in the README).
    #[test]
    fn ten_thousand_rows_render_on_numbered_pages() {
        let started = std::time::Instant::now();
        let pdf = render_statement(&view(10_000)).unwrap();
        let elapsed = started.elapsed();
        assert!(pdf.starts_with(b"%PDF-"));
        let pages = lopdf::Document::load_mem(&pdf).unwrap().get_pages().len();
        eprintln!(
            "10 000-row validity statement: {pages} pages, {} bytes in {elapsed:.2?}",
            pdf.len()
        );
        assert!(pages > 200, "{pages} pages");
    }
}
