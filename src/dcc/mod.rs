//! PTB Digital Calibration Certificate (DCC v3.3.0) export of an issued certificate
//! (DESIGN section 8): the same facts as the PDF, machine-readable, valid against the schema
//! bundled in `tests/data/dcc-3.3.0/`.
//!
//! Fixed labels are written in English and Chinese (`lang="en"` / `lang="zh"`); text typed by
//! people (lab name, customer, procedure, item description) is written once without a language
//! tag, since nobody translated it. Values carry D-SI units from [`dsi`]; each point of each
//! stage is a `dcc:list` holding its reference value, indication, error with expanded
//! uncertainty, error limits, TUR and statement of conformity, so that points with and without
//! limits or decisions can sit side by side.

mod dsi;
mod xml;

#[cfg(test)]
mod tests;

use chrono::NaiveDate;

use crate::domain::calibration::{PointResult, Stage};
use crate::domain::certificate::{CertificateView, ItemView, StandardView};
use crate::domain::conformity::{Decision, DecisionRule};
use crate::domain::quantity::{QuantityJson, QuantityKind};

pub use dsi::{interval_target, point_target, DsiTarget};
use xml::XmlWriter;

const SCHEMA_VERSION: &str = "3.3.0";

/// Renders the certificate as a DCC 3.3.0 document (UTF-8 XML).
///
/// Err when the view cannot be stated truthfully in the schema: a unit the catalogue does not
/// know, a non-finite number, a coverage factor below 1, an unknown decision rule or replacement
/// type, or no results at all. The certificate is then not issued rather than issued with a DCC
/// that says something else.
pub fn render(view: &CertificateView) -> Result<String, String> {
    let mut w = XmlWriter::new();
    w.open(
        "dcc:digitalCalibrationCertificate",
        &[
            ("xmlns:dcc", "https://ptb.de/dcc"),
            ("xmlns:si", "https://ptb.de/si"),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
            (
                "xsi:schemaLocation",
                "https://ptb.de/dcc https://ptb.de/dcc/v3.3.0/dcc.xsd",
            ),
            ("schemaVersion", SCHEMA_VERSION),
        ],
    );
    administrative_data(&mut w, view)?;
    measurement_results(&mut w, view)?;
    w.close();
    w.finish()
}

// ---------------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------------

/// `dcc:notEmptyStringType` forbids leading and trailing whitespace and the empty string.
fn non_empty(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|t| !t.is_empty())
}

fn non_empty_opt(text: &Option<String>) -> Option<&str> {
    text.as_deref().and_then(non_empty)
}

/// A fixed label in both languages.
fn bilingual(w: &mut XmlWriter, element: &'static str, en: &str, zh: &str) {
    w.open(element, &[]);
    w.leaf("dcc:content", &[("lang", "en")], en);
    w.leaf("dcc:content", &[("lang", "zh")], zh);
    w.close();
}

/// Text somebody typed, in whatever language they typed it.
fn plain(w: &mut XmlWriter, element: &'static str, text: &str) {
    w.open(element, &[]);
    w.leaf("dcc:content", &[], text.trim());
    w.close();
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// `si:decimalType`: Rust prints f64 without an exponent and with the shortest digits that
/// read back to the same number, which the pattern accepts; −0 is written 0.
fn decimal(v: f64) -> Result<String, String> {
    if !v.is_finite() {
        return Err(format!("{v} is not a finite number"));
    }
    Ok(if v == 0.0 {
        "0".to_string()
    } else {
        format!("{v}")
    })
}

// ---------------------------------------------------------------------------------------------
// Quantities
// ---------------------------------------------------------------------------------------------

struct Expanded {
    value: f64,
    coverage_factor: f64,
    coverage_probability: f64,
}

fn si_real(w: &mut XmlWriter, value: f64, unit: &str, mu: Option<&Expanded>) -> Result<(), String> {
    w.open("si:real", &[]);
    w.leaf("si:value", &[], &decimal(value)?);
    w.leaf("si:unit", &[], unit);
    if let Some(mu) = mu {
        // si:valueExpandedMU, si:kValueType and si:probabilityValueType restrict the ranges
        // (U ≥ 0, k ≥ 1, 0 ≤ p ≤ 1); say which number broke them rather than emit an invalid file.
        if mu.value.is_nan() || mu.value < 0.0 {
            return Err(format!("expanded uncertainty {} is negative", mu.value));
        }
        if mu.coverage_factor.is_nan() || mu.coverage_factor < 1.0 {
            return Err(format!("coverage factor {} is below 1", mu.coverage_factor));
        }
        if !(0.0..=1.0).contains(&mu.coverage_probability) {
            return Err(format!(
                "coverage probability {} is outside [0, 1]",
                mu.coverage_probability
            ));
        }
        w.open("si:measurementUncertaintyUnivariate", &[]);
        w.open("si:expandedMU", &[]);
        w.leaf("si:valueExpandedMU", &[], &decimal(mu.value.abs())?);
        w.leaf("si:coverageFactor", &[], &decimal(mu.coverage_factor)?);
        w.leaf(
            "si:coverageProbability",
            &[],
            &decimal(mu.coverage_probability)?,
        );
        w.close();
        w.close();
    }
    w.close();
    Ok(())
}

/// A `dcc:quantity` with a bilingual name and one `si:real`.
fn quantity(
    w: &mut XmlWriter,
    ref_type: &str,
    (en, zh): (&str, &str),
    value: f64,
    unit: &str,
    mu: Option<&Expanded>,
) -> Result<(), String> {
    w.open("dcc:quantity", &[("refType", ref_type)]);
    bilingual(w, "dcc:name", en, zh);
    si_real(w, value, unit, mu)?;
    w.close();
    Ok(())
}

fn point_value(q: &QuantityJson) -> Result<(f64, String), String> {
    let target = point_target(&q.unit)?;
    Ok((target.point(q)?, target.unit))
}

// ---------------------------------------------------------------------------------------------
// Administrative data
// ---------------------------------------------------------------------------------------------

fn administrative_data(w: &mut XmlWriter, view: &CertificateView) -> Result<(), String> {
    w.open("dcc:administrativeData", &[]);

    w.open("dcc:dccSoftware", &[]);
    caltrace_software(w, "Export of this DCC", "本数字校准证书的生成");
    w.close();

    core_data(w, view)?;
    items(w, view)?;
    calibration_laboratory(w, view)?;

    w.open("dcc:respPersons", &[]);
    w.open("dcc:respPerson", &[]);
    w.open("dcc:person", &[]);
    let signatory = non_empty(&view.signatory).ok_or("the certificate has no signatory")?;
    plain(w, "dcc:name", signatory);
    w.close();
    if let Some(signature) = &view.electronic_signature {
        // 21 CFR 11.50: the printed name, the date and time, and the meaning of the signature.
        let (en, zh) = signature.words();
        bilingual(w, "dcc:description", &en, &zh);
    }
    w.leaf("dcc:role", &[], "Authorised signatory / 授权签字人");
    w.leaf("dcc:mainSigner", &[], "true");
    w.close();
    w.close();

    customer(w, view)?;
    statements(w, view);
    w.close();
    Ok(())
}

/// caltrace's version as PTB's DCC rules want a software release written: a letter, then
/// the version numbers (`v0.1.0`; the schematron rejects a bare `0.1.0`).
const RELEASE: &str = concat!("v", env!("CARGO_PKG_VERSION"));

fn caltrace_software(w: &mut XmlWriter, purpose_en: &str, purpose_zh: &str) {
    w.open("dcc:software", &[]);
    plain(w, "dcc:name", "caltrace");
    w.leaf("dcc:release", &[], RELEASE);
    w.leaf("dcc:type", &[], "application");
    w.open("dcc:description", &[]);
    w.leaf("dcc:content", &[("lang", "en")], purpose_en);
    w.leaf("dcc:content", &[("lang", "zh")], purpose_zh);
    w.close();
    w.close();
}

fn core_data(w: &mut XmlWriter, view: &CertificateView) -> Result<(), String> {
    let number = non_empty(&view.number).ok_or("the certificate has no number")?;
    w.open("dcc:coreData", &[]);
    w.leaf(
        "dcc:countryCodeISO3166_1",
        &[],
        &laboratory_country(&view.laboratory),
    );
    w.leaf("dcc:usedLangCodeISO639_1", &[], "en");
    w.leaf("dcc:usedLangCodeISO639_1", &[], "zh");
    w.leaf("dcc:mandatoryLangCodeISO639_1", &[], "en");
    w.leaf("dcc:uniqueIdentifier", &[], number);
    w.open("dcc:identifications", &[]);
    identification(
        w,
        "calibrationLaboratory",
        number,
        ("Certificate number", "证书编号"),
    );
    w.close();
    if let Some(received) = view.received_on {
        w.leaf("dcc:receiptDate", &[], &date(received));
    }
    w.leaf("dcc:beginPerformanceDate", &[], &date(view.performed_on));
    w.leaf("dcc:endPerformanceDate", &[], &date(view.performed_on));
    w.leaf(
        "dcc:performanceLocation",
        &[],
        performance_location(view.location.as_deref()),
    );
    w.leaf("dcc:issueDate", &[], &date(view.issued_on));
    if let Some(replaces) = &view.replaces {
        // DCC names the two ways a report can replace another (ISO/IEC 17025 7.8.8) exactly as
        // the API does, so anything else is a broken record, not a third kind.
        let kind = match replaces.replacement_type.trim() {
            "amended" => "amended",
            "substituted" => "substituted",
            other => {
                return Err(format!(
                    "replacement type '{other}' is neither 'amended' nor 'substituted'"
                ))
            }
        };
        let old = non_empty(&replaces.number).ok_or("the replaced certificate has no number")?;
        w.open("dcc:reportAmendedSubstituted", &[]);
        w.leaf("dcc:typeOfChange", &[], kind);
        w.leaf("dcc:replacedUniqueIdentifier", &[], old);
        w.close();
    }
    w.close();
    Ok(())
}

/// The configured `lab.country` when it is a two-letter code, else guessed from the address.
pub(crate) fn laboratory_country(
    laboratory: &crate::domain::certificate::LaboratoryView,
) -> String {
    match laboratory.country.as_deref().map(str::trim) {
        Some(code) if code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic()) => {
            code.to_ascii_uppercase()
        }
        _ => country_code(&laboratory.address).to_string(),
    }
}

/// The laboratory's country, read from the end of its configured address when the
/// configuration does not state it (`lab.country`). caltrace is built for Chinese laboratories
/// (JJG/JJF procedures, Chinese text), hence the default when the address names none.
fn country_code(address: &str) -> &'static str {
    const COUNTRIES: [(&str, &[&str]); 12] = [
        (
            "CN",
            &[
                "cn",
                "china",
                "p.r. china",
                "pr china",
                "prc",
                "中国",
                "中华人民共和国",
            ],
        ),
        ("DE", &["de", "germany", "deutschland", "德国"]),
        (
            "US",
            &[
                "us",
                "usa",
                "united states",
                "united states of america",
                "美国",
            ],
        ),
        ("GB", &["gb", "uk", "united kingdom", "英国"]),
        ("JP", &["jp", "japan", "日本"]),
        ("KR", &["kr", "korea", "republic of korea", "韩国"]),
        ("FR", &["fr", "france", "法国"]),
        ("SG", &["sg", "singapore", "新加坡"]),
        ("HK", &["hk", "hong kong", "香港"]),
        ("TW", &["tw", "taiwan", "台湾"]),
        ("IT", &["it", "italy", "意大利"]),
        ("CH", &["ch", "switzerland", "瑞士"]),
    ];
    let last = address
        .rsplit([',', '，', '\n'])
        .map(str::trim)
        .find(|part| !part.is_empty())
        .unwrap_or("")
        .trim_end_matches('.')
        .to_lowercase();
    for (code, names) in COUNTRIES {
        if names.contains(&last.as_str()) {
            return code;
        }
    }
    for (code, names) in COUNTRIES {
        if names
            .iter()
            .any(|n| n.chars().count() > 2 && last.contains(n))
        {
            return code;
        }
    }
    "CN"
}

/// The location is free text; DCC wants a category. Work away from the laboratory is only
/// claimed when the text says so.
fn performance_location(location: Option<&str>) -> &'static str {
    let Some(text) = location else {
        return "laboratory";
    };
    let lower = text.to_lowercase();
    let on_site = [
        "customer", "on site", "on-site", "onsite", "client", "现场", "客户",
    ];
    if on_site.iter().any(|k| lower.contains(k)) {
        "customer"
    } else {
        "laboratory"
    }
}

fn identification(w: &mut XmlWriter, issuer: &str, value: &str, (en, zh): (&str, &str)) {
    w.open("dcc:identification", &[]);
    w.leaf("dcc:issuer", &[], issuer);
    w.leaf("dcc:value", &[], value.trim());
    bilingual(w, "dcc:name", en, zh);
    w.close();
}

fn items(w: &mut XmlWriter, view: &CertificateView) -> Result<(), String> {
    let item = &view.item;
    let (kind_en, kind_zh) = QuantityKind::names_in_words(&item.quantity_kind);
    w.open("dcc:items", &[]);
    w.open("dcc:item", &[]);
    match non_empty_opt(&item.description) {
        Some(description) => plain(w, "dcc:name", description),
        None => bilingual(
            w,
            "dcc:name",
            &format!("{kind_en} measuring instrument"),
            &format!("{kind_zh}测量仪器"),
        ),
    }
    if let Some(condition) = non_empty_opt(&item.condition) {
        w.open("dcc:description", &[]);
        bilingual(w, "dcc:name", "Condition on receipt", "接收时状态");
        w.leaf("dcc:content", &[], condition);
        w.close();
    }
    if let Some(manufacturer) = non_empty_opt(&item.manufacturer) {
        w.open("dcc:manufacturer", &[]);
        plain(w, "dcc:name", manufacturer);
        w.close();
    }
    if let Some(model) = non_empty_opt(&item.model) {
        w.leaf("dcc:model", &[], model);
    }
    let serial = non_empty_opt(&item.serial_number);
    let asset = non_empty(&item.asset_tag);
    if serial.is_none() && asset.is_none() {
        return Err("the item has neither a serial number nor an asset tag".to_string());
    }
    w.open("dcc:identifications", &[]);
    if let Some(serial) = serial {
        identification(w, "manufacturer", serial, ("Serial number", "出厂编号"));
    }
    if let Some(asset) = asset {
        // An asset tag is given by whoever owns the asset: the laboratory for its own
        // equipment, the customer for theirs.
        identification(w, "owner", asset, ("Asset tag", "资产编号"));
    }
    w.close();
    if item.range.is_some() || item.resolution.is_some() {
        item_quantities(w, item)?;
    }
    w.close();
    w.close();
    Ok(())
}

fn item_quantities(w: &mut XmlWriter, item: &ItemView) -> Result<(), String> {
    w.open("dcc:itemQuantities", &[]);
    if let Some((min, max)) = &item.range {
        for (q, ref_type, en, zh) in [
            (
                min,
                "caltrace_rangeMin",
                "Measuring range, lower limit",
                "测量范围下限",
            ),
            (
                max,
                "caltrace_rangeMax",
                "Measuring range, upper limit",
                "测量范围上限",
            ),
        ] {
            let (value, unit) = point_value(q)?;
            w.open("dcc:itemQuantity", &[("refType", ref_type)]);
            bilingual(w, "dcc:name", en, zh);
            si_real(w, value, &unit, None)?;
            w.close();
        }
    }
    if let Some(resolution) = &item.resolution {
        let target = interval_target(&resolution.unit)?;
        w.open("dcc:itemQuantity", &[("refType", "caltrace_resolution")]);
        bilingual(w, "dcc:name", "Resolution", "分辨力");
        si_real(w, target.interval(resolution)?, &target.unit, None)?;
        w.close();
    }
    w.close();
    Ok(())
}

/// `dcc:locationType` needs at least one child; the configured address is one free-text line.
fn laboratory_location(w: &mut XmlWriter, view: &CertificateView) {
    w.open("dcc:location", &[]);
    if let Some(address) = non_empty(&view.laboratory.address) {
        w.open("dcc:further", &[]);
        w.leaf("dcc:content", &[], address);
        w.close();
    }
    w.leaf(
        "dcc:countryCode",
        &[],
        &laboratory_country(&view.laboratory),
    );
    w.close();
}

fn laboratory_name(view: &CertificateView) -> Result<&str, String> {
    non_empty(&view.laboratory.name).ok_or_else(|| "the laboratory has no name".to_string())
}

fn calibration_laboratory(w: &mut XmlWriter, view: &CertificateView) -> Result<(), String> {
    w.open("dcc:calibrationLaboratory", &[]);
    if let Some(code) = non_empty(&view.laboratory.accreditation_number) {
        w.leaf("dcc:calibrationLaboratoryCode", &[], code);
    }
    w.open("dcc:contact", &[]);
    plain(w, "dcc:name", laboratory_name(view)?);
    laboratory_location(w, view);
    w.close();
    w.close();
    Ok(())
}

fn customer(w: &mut XmlWriter, view: &CertificateView) -> Result<(), String> {
    w.open("dcc:customer", &[]);
    match non_empty_opt(&view.customer) {
        Some(name) => {
            plain(w, "dcc:name", name);
            w.open("dcc:location", &[]);
            bilingual(w, "dcc:further", "Address not recorded", "地址未记录");
            w.close();
        }
        // An internal calibration: the laboratory is its own customer.
        None => {
            plain(w, "dcc:name", laboratory_name(view)?);
            laboratory_location(w, view);
        }
    }
    w.close();
    Ok(())
}

/// (convention, English and Chinese description) of a decision rule: the
/// wording of domain::conformity, the same as the PDF's.
fn rule_text(rule: DecisionRule) -> (&'static str, &'static str, &'static str) {
    let statement = rule.statement();
    (statement.convention, statement.english, statement.chinese)
}

fn open_statement(w: &mut XmlWriter, ref_type: &str, en: &str, zh: &str) {
    w.open("dcc:statement", &[("refType", ref_type)]);
    bilingual(w, "dcc:name", en, zh);
}

fn statements(w: &mut XmlWriter, view: &CertificateView) {
    w.open("dcc:statements", &[]);
    scope_statement(w);
    traceability_statement(w, view);
    decision_rule_statement(w, view.decision_rule);
    record_statements(w, view);
    issue_statements(w, view);
    w.close();
}

fn scope_statement(w: &mut XmlWriter) {
    open_statement(w, "caltrace_scope", "Scope of the results", "结果适用范围");
    bilingual(
        w,
        "dcc:declaration",
        "The results relate only to the item calibrated.",
        "本证书所列结果仅对被校准的器具有效。",
    );
    w.close();
}

// statementMetaDataType is a sequence: convention, traceable, norm, reference, link,
// declaration, valid, date ... in that order.
fn traceability_statement(w: &mut XmlWriter, view: &CertificateView) {
    open_statement(
        w,
        "caltrace_traceability",
        "Metrological traceability",
        "计量溯源性",
    );
    w.leaf(
        "dcc:traceable",
        &[],
        if view.traceable { "true" } else { "false" },
    );
    for root in &view.traceability_roots {
        let Some(name) = non_empty(&root.name) else {
            continue;
        };
        let text = match non_empty_opt(&root.reference) {
            Some(reference) => format!("{name}: {reference}"),
            None => name.to_string(),
        };
        w.leaf("dcc:reference", &[], &text);
    }
    if view.traceable {
        bilingual(
            w,
            "dcc:declaration",
            "The results are traceable to the SI through the national standards or accredited laboratories referenced, by an unbroken chain of calibrations of the standards listed with the measurement results.",
            "测量结果通过所列标准的不间断校准链，经所引用的国家计量基准或获认可的实验室溯源至国际单位制（SI）。",
        );
    } else {
        let link = view.broken_link.as_deref().unwrap_or("—");
        bilingual(
            w,
            "dcc:declaration",
            &format!("The traceability chain was broken on the date of calibration at {link}; see the deviations stated."),
            &format!("校准日期时溯源链在以下环节中断：{link}；见所述偏离说明。"),
        );
    }
    w.close();
}

fn decision_rule_statement(w: &mut XmlWriter, rule: DecisionRule) {
    let (convention, rule_en, rule_zh) = rule_text(rule);
    open_statement(w, "caltrace_decisionRule", "Decision rule", "判定规则");
    w.leaf("dcc:convention", &[], convention);
    if rule != DecisionRule::None {
        w.leaf("dcc:norm", &[], "ILAC-G8:2019");
    }
    bilingual(w, "dcc:declaration", rule_en, rule_zh);
    w.close();
}

/// What the record itself says: where the work was done, how it departed from the method,
/// which certificate it replaces.
fn record_statements(w: &mut XmlWriter, view: &CertificateView) {
    if let Some(location) = non_empty_opt(&view.location) {
        open_statement(w, "caltrace_location", "Location of the work", "校准地点");
        plain(w, "dcc:declaration", location);
        w.close();
    }

    if let Some(deviations) = non_empty_opt(&view.deviations) {
        open_statement(
            w,
            "caltrace_deviations",
            "Deviations from, additions to or exclusions from the method",
            "对方法的偏离、增加或删减",
        );
        plain(w, "dcc:declaration", deviations);
        w.close();
    }

    if let Some(replaces) = &view.replaces {
        let old = replaces.number.trim();
        open_statement(
            w,
            "caltrace_replacement",
            &format!("This certificate replaces certificate {old}"),
            &format!("本证书替代证书 {old}"),
        );
        w.leaf("dcc:reference", &[], old);
        if let Some(reason) = non_empty(&replaces.reason) {
            plain(w, "dcc:declaration", reason);
        }
        w.close();
    }
}

/// What the laboratory says as issuer: accreditation, where to verify, the audit head,
/// and the recommended recalibration.
fn issue_statements(w: &mut XmlWriter, view: &CertificateView) {
    if let Some(body) = non_empty(&view.laboratory.accreditation_body) {
        open_statement(w, "caltrace_accreditation", "Accreditation", "认可");
        let text = match non_empty(&view.laboratory.accreditation_number) {
            Some(number) => format!("{body} {number}"),
            None => body.to_string(),
        };
        w.leaf("dcc:reference", &[], &text);
        w.close();
    }

    if let Some(url) = non_empty(&view.verification_url) {
        open_statement(w, "caltrace_verification", "Verification", "真伪验证");
        w.leaf("dcc:link", &[], url);
        bilingual(
            w,
            "dcc:declaration",
            "Whether this certificate was issued by the laboratory, and whether it is still valid, can be checked at the link given.",
            "可通过所给链接核实本证书是否由本实验室签发及其当前状态。",
        );
        w.close();
    }

    if let Some(head) = non_empty(&view.audit_head) {
        open_statement(
            w,
            "caltrace_auditHead",
            "Head of the audit hash chain at issue",
            "签发时审计哈希链的链头",
        );
        w.leaf("dcc:reference", &[], head);
        w.close();
    }

    if let Some(due) = view.due_on {
        open_statement(
            w,
            "caltrace_recommendedRecalibration",
            "Recommended recalibration date",
            "建议复校日期",
        );
        bilingual(
            w,
            "dcc:declaration",
            "A recommendation only; the user decides the recalibration interval.",
            "仅为建议，复校间隔由用户确定。",
        );
        w.leaf("dcc:date", &[], &date(due));
        w.close();
    }
}

// ---------------------------------------------------------------------------------------------
// Measurement results
// ---------------------------------------------------------------------------------------------

fn measurement_results(w: &mut XmlWriter, view: &CertificateView) -> Result<(), String> {
    if view.points.is_empty() {
        return Err("the certificate has no results".to_string());
    }
    let (kind_en, kind_zh) = QuantityKind::names_in_words(&view.item.quantity_kind);
    w.open("dcc:measurementResults", &[]);
    w.open("dcc:measurementResult", &[]);
    bilingual(
        w,
        "dcc:name",
        &format!("Calibration of a {kind_en} measuring instrument"),
        &format!("{kind_zh}测量仪器校准"),
    );
    used_methods(w, view)?;
    w.open("dcc:usedSoftware", &[]);
    caltrace_software(
        w,
        "Evaluation of the measurement uncertainty (GUM) and of conformity",
        "测量不确定度评定（GUM）与符合性判定",
    );
    w.close();
    if !view.standards.is_empty() {
        w.open("dcc:measuringEquipments", &[]);
        for standard in &view.standards {
            measuring_equipment(w, view, standard)?;
        }
        w.close();
    }
    influence_conditions(w, view)?;

    let rule = view.decision_rule;
    w.open("dcc:results", &[]);
    for stage in [Stage::AsFound, Stage::AsLeft] {
        let points: Vec<&PointResult> = view.points.iter().filter(|p| p.stage == stage).collect();
        if !points.is_empty() {
            stage_result(w, stage, &points, rule)?;
        }
    }
    w.close();
    w.close();
    w.close();
    Ok(())
}

fn used_methods(w: &mut XmlWriter, view: &CertificateView) -> Result<(), String> {
    w.open("dcc:usedMethods", &[]);
    if let Some(procedure) = non_empty_opt(&view.procedure) {
        w.open("dcc:usedMethod", &[("refType", "caltrace_procedure")]);
        plain(w, "dcc:name", procedure);
        bilingual(w, "dcc:description", "Calibration procedure", "校准方法");
        w.close();
    }
    w.open(
        "dcc:usedMethod",
        &[("refType", "caltrace_uncertaintyEvaluation")],
    );
    bilingual(
        w,
        "dcc:name",
        "Evaluation of measurement uncertainty",
        "测量不确定度评定",
    );
    w.leaf("dcc:norm", &[], "JCGM 100:2008 (GUM)");
    w.close();
    let rule = view.decision_rule;
    if rule != DecisionRule::None {
        let (convention, en, zh) = rule_text(rule);
        w.open("dcc:usedMethod", &[("refType", "caltrace_decisionRule")]);
        bilingual(w, "dcc:name", "Decision rule", "判定规则");
        bilingual(w, "dcc:description", en, zh);
        w.leaf("dcc:norm", &[], "ILAC-G8:2019");
        w.leaf("dcc:reference", &[], convention);
        w.close();
    }
    w.close();
    Ok(())
}

fn measuring_equipment(
    w: &mut XmlWriter,
    view: &CertificateView,
    standard: &StandardView,
) -> Result<(), String> {
    w.open(
        "dcc:measuringEquipment",
        &[("refType", "caltrace_standard")],
    );
    match non_empty_opt(&standard.description) {
        Some(description) => plain(w, "dcc:name", description),
        None => plain(w, "dcc:name", &standard.asset_tag),
    }
    let issuer = non_empty_opt(&standard.issuer);
    standard_calibration(w, standard, issuer);
    let number = non_empty_opt(&standard.certificate_number);
    if let (Some(number), Some(hash)) = (number, non_empty_opt(&standard.certificate_sha256)) {
        standard_certificate(w, view, standard, (issuer, number, hash));
    }
    if let Some(manufacturer) = non_empty_opt(&standard.manufacturer) {
        w.open("dcc:manufacturer", &[]);
        plain(w, "dcc:name", manufacturer);
        w.close();
    }
    if let Some(model) = non_empty_opt(&standard.model) {
        w.leaf("dcc:model", &[], model);
    }
    standard_identifications(w, view, standard, issuer);
    w.close();
    Ok(())
}

/// When, by whom and until when the standard was calibrated, in both languages.
fn standard_calibration(w: &mut XmlWriter, standard: &StandardView, issuer: Option<&str>) {
    if let (Some(on), issuer) = (standard.calibrated_on, issuer) {
        let due_en = standard
            .due_on
            .map(|d| format!(", due {}", date(d)))
            .unwrap_or_default();
        let due_zh = standard
            .due_on
            .map(|d| format!("，有效期至 {}", date(d)))
            .unwrap_or_default();
        let (by_en, by_zh) = match issuer {
            Some(i) => (format!(" by {i}"), format!("由 {i} ")),
            None => (String::new(), String::new()),
        };
        w.open("dcc:description", &[]);
        w.leaf(
            "dcc:content",
            &[("lang", "en")],
            &format!("Calibrated on {}{by_en}{due_en}", date(on)),
        );
        w.leaf(
            "dcc:content",
            &[("lang", "zh")],
            &format!("{by_zh}于 {} 校准{due_zh}", date(on)),
        );
        w.close();
    }
}

// dcc:certificate (hashType) is where DCC links a standard to the report its traceability
// rests on, by identifier and by hash of the document as issued.
fn standard_certificate(
    w: &mut XmlWriter,
    view: &CertificateView,
    standard: &StandardView,
    (issuer, number, hash): (Option<&str>, &str, &str),
) {
    w.open("dcc:certificate", &[]);
    match issuer {
        Some(issuer) => plain(w, "dcc:referral", issuer),
        None => bilingual(w, "dcc:referral", "Calibration certificate", "校准证书"),
    }
    w.leaf("dcc:referralID", &[], number);
    w.leaf("dcc:procedure", &[], "SHA-256");
    w.leaf("dcc:value", &[], &hash.to_ascii_lowercase());
    bilingual(
        w,
        "dcc:description",
        "SHA-256 of the certificate's PDF as issued",
        "所签发证书 PDF 文件的 SHA-256 值",
    );
    if let Some(due) = standard.due_on {
        let valid = standard
            .calibrated_on
            .is_none_or(|on| on <= view.performed_on)
            && view.performed_on <= due;
        w.leaf(
            "dcc:inValidityRange",
            &[],
            if valid { "true" } else { "false" },
        );
    }
    w.close();
}

fn standard_identifications(
    w: &mut XmlWriter,
    view: &CertificateView,
    standard: &StandardView,
    issuer: Option<&str>,
) {
    let number = non_empty_opt(&standard.certificate_number);
    let asset = non_empty(&standard.asset_tag);
    let serial = non_empty_opt(&standard.serial_number);
    if asset.is_some() || serial.is_some() || number.is_some() {
        w.open("dcc:identifications", &[]);
        if let Some(asset) = asset {
            identification(w, "calibrationLaboratory", asset, ("Asset tag", "资产编号"));
        }
        if let Some(serial) = serial {
            identification(w, "manufacturer", serial, ("Serial number", "出厂编号"));
        }
        if let Some(number) = number {
            let ours = issuer.is_some_and(|i| Some(i) == non_empty(&view.laboratory.name));
            // The date its issuer wrote on it, not the day this laboratory accepted it.
            let (en, zh) = match standard.certificate_dated {
                Some(dated) => (
                    format!("Calibration certificate number, dated {dated}"),
                    format!("校准证书编号，签发日期 {dated}"),
                ),
                None => (
                    "Calibration certificate number".to_string(),
                    "校准证书编号".to_string(),
                ),
            };
            identification(
                w,
                if ours {
                    "calibrationLaboratory"
                } else {
                    "other"
                },
                number,
                (&en, &zh),
            );
        }
        w.close();
    }
}

fn influence_conditions(w: &mut XmlWriter, view: &CertificateView) -> Result<(), String> {
    w.open("dcc:influenceConditions", &[]);
    if view.environment.is_empty() {
        // PTB's DCC rules require influence conditions on every result; with none recorded
        // the certificate says so instead of leaving them out.
        w.open(
            "dcc:influenceCondition",
            &[("refType", "caltrace_environment")],
        );
        bilingual(w, "dcc:name", "Ambient conditions", "环境条件");
        w.open("dcc:data", &[]);
        bilingual(
            w,
            "dcc:text",
            "Not recorded for this calibration",
            "本次校准未记录",
        );
        w.close();
        w.close();
    }
    for (label, q) in &view.environment {
        let (ref_type, en, zh) = match label.as_str() {
            "temperature" => ("basic_temperature", "Ambient temperature", "环境温度"),
            "relative_humidity" => ("basic_humidityRelative", "Relative humidity", "相对湿度"),
            "pressure" => ("basic_pressure", "Ambient pressure", "环境气压"),
            _ => ("caltrace_environment", "", ""),
        };
        w.open("dcc:influenceCondition", &[("refType", ref_type)]);
        if en.is_empty() {
            plain(
                w,
                "dcc:name",
                non_empty(&label.replace('_', " ")).unwrap_or("condition"),
            );
        } else {
            bilingual(w, "dcc:name", en, zh);
        }
        w.open("dcc:data", &[]);
        w.open("dcc:quantity", &[]);
        let (value, unit) = point_value(q)?;
        si_real(w, value, &unit, None)?;
        w.close();
        w.close();
        w.close();
    }
    w.close();
    Ok(())
}

fn stage_result(
    w: &mut XmlWriter,
    stage: Stage,
    points: &[&PointResult],
    rule: DecisionRule,
) -> Result<(), String> {
    let (ref_type, en, zh) = match stage {
        Stage::AsFound => (
            "caltrace_asFound",
            "As found (before adjustment)",
            "调整前（接收时）",
        ),
        Stage::AsLeft => (
            "caltrace_asLeft",
            "As left (after adjustment, or as returned)",
            "调整后（交付时）",
        ),
    };
    w.open("dcc:result", &[("refType", ref_type)]);
    bilingual(w, "dcc:name", en, zh);
    w.open("dcc:data", &[]);
    w.open("dcc:list", &[("refType", "caltrace_calibrationPoints")]);
    bilingual(w, "dcc:name", "Calibration points", "校准点");
    for (i, point) in points.iter().enumerate() {
        calibration_point(w, i + 1, point, rule)?;
    }
    w.close();
    w.close();
    w.close();
    Ok(())
}

fn decision_value(decision: Decision) -> &'static str {
    match decision {
        Decision::Pass => "pass",
        Decision::ConditionalPass => "conditionalPass",
        Decision::ConditionalFail => "conditionalFail",
        Decision::Fail => "fail",
    }
}

fn calibration_point(
    w: &mut XmlWriter,
    n: usize,
    point: &PointResult,
    rule: DecisionRule,
) -> Result<(), String> {
    w.open("dcc:list", &[("refType", "caltrace_calibrationPoint")]);
    bilingual(w, "dcc:name", &format!("Point {n}"), &format!("校准点 {n}"));

    let (value, unit) = point_value(&point.reference)?;
    quantity(
        w,
        "basic_referenceValue",
        ("Reference value", "标准值"),
        value,
        &unit,
        None,
    )?;
    let (value, unit) = point_value(&point.indicated)?;
    quantity(
        w,
        "basic_measuredValue",
        ("Indicated value", "示值"),
        value,
        &unit,
        None,
    )?;

    error_and_limits(w, point)?;
    if let Some(tur) = point.tur.filter(|t| t.is_finite()) {
        test_uncertainty_ratio(w, tur, point.tur_flagged)?;
    }
    if let Some(decision) = point.decision {
        conformity(w, decision, rule);
    }
    w.close();
    Ok(())
}

// The error, its uncertainty and its limits are differences, and share one unit so that a
// reader can compare them without converting.
fn error_and_limits(w: &mut XmlWriter, point: &PointResult) -> Result<(), String> {
    let target = interval_target(&point.error.unit)?;
    let mu = Expanded {
        value: target.interval(&point.expanded_uncertainty)?,
        coverage_factor: point.coverage_factor,
        coverage_probability: point.coverage_probability,
    };
    quantity(
        w,
        "basic_measurementError",
        ("Error of indication", "示值误差"),
        target.interval(&point.error)?,
        &target.unit,
        Some(&mu),
    )?;
    let limits = match (&point.limits, &point.tolerance) {
        (Some(limits), _) => Some((
            target.interval(&limits.lower)?,
            target.interval(&limits.upper)?,
        )),
        (None, Some(tolerance)) => {
            let t = target.interval(tolerance)?.abs();
            Some((-t, t))
        }
        (None, None) => None,
    };
    if let Some((lower, upper)) = limits {
        quantity(
            w,
            "basic_toleranceLimitLower",
            ("Lower limit of permissible error", "允许误差下限"),
            lower,
            &target.unit,
            None,
        )?;
        quantity(
            w,
            "basic_toleranceLimitUpper",
            ("Upper limit of permissible error", "允许误差上限"),
            upper,
            &target.unit,
            None,
        )?;
    }
    Ok(())
}

fn test_uncertainty_ratio(w: &mut XmlWriter, tur: f64, flagged: bool) -> Result<(), String> {
    w.open(
        "dcc:quantity",
        &[("refType", "caltrace_testUncertaintyRatio")],
    );
    bilingual(
        w,
        "dcc:name",
        "Test uncertainty ratio (tolerance span / 2U)",
        "测试不确定度比（允许误差范围 / 2U）",
    );
    if flagged {
        bilingual(w, "dcc:description", "Below 4:1", "低于 4:1");
    }
    si_real(w, tur, "\\one", None)?;
    w.close();
    Ok(())
}

fn conformity(w: &mut XmlWriter, decision: Decision, rule: DecisionRule) {
    let (convention, _, _) = rule_text(rule);
    w.open("dcc:measurementMetaData", &[]);
    w.open("dcc:metaData", &[("refType", "basic_conformity")]);
    bilingual(w, "dcc:name", "Statement of conformity", "符合性声明");
    w.leaf("dcc:convention", &[], convention);
    w.leaf("dcc:conformity", &[], decision_value(decision));
    w.close();
    w.close();
}
