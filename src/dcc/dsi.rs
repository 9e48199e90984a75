//! D-SI unit strings for the units a client may write (D-SI v2.2.1, the version DCC 3.3.0
//! imports).
//!
//! Nothing here maps client symbols one by one. Each atom of a unit symbol is read with the
//! project's own [`parse_unit`], which yields its dimension and SI factor; the atom is then
//! matched against the D-SI vocabulary — whose dimensions and factors are likewise read from the
//! catalogue, through the catalogue symbol of each D-SI unit — as prefix × unit. When every atom
//! matches, the D-SI string states exactly the unit the certificate shows and values are
//! written unchanged (`mm` → `\milli\metre`, `mbar` → `\hecto\pascal`, `µV/K` →
//! `\micro\volt\per\kelvin`). Otherwise (`psi`, `bar`, `ppm`, `°F`) the values are converted to
//! the coherent SI unit of the same dimension: a named one (`\pascal`) where there is one, else
//! a product of base units.
//!
//! The vocabulary is deliberately the uncontroversial part of D-SI: the SI base and derived units
//! with special names, the minute, hour and litre, `\gram` for prefixing, `\percent` and `\one`.
//! `\bar`, `\ppm` and the other legacy units some D-SI readers accept are avoided, so the output
//! is readable by every D-SI implementation.

use std::sync::OnceLock;

use crate::domain::quantity::{parse_unit, Dimension, QuantityJson, Unit};

/// D-SI names of the SI base units, in the order of [`Dimension`]'s exponents.
const BASE_UNITS: [&str; 7] = [
    "metre", "kilogram", "second", "ampere", "kelvin", "mole", "candela",
];

/// (D-SI name, the catalogue's symbol for the same unit, whether SI prefixes may precede it).
/// Ordered so that the coherent unit of a dimension comes before its non-coherent relatives.
const VOCABULARY: [(&str, &str, bool); 25] = [
    ("metre", "m", true),
    // D-SI writes the kilogram whole and puts prefixes on the gram, like the SI Brochure.
    ("kilogram", "kg", false),
    ("gram", "g", true),
    ("second", "s", true),
    ("ampere", "A", true),
    ("kelvin", "K", true),
    ("mole", "mol", true),
    ("candela", "cd", true),
    ("hertz", "Hz", true),
    ("newton", "N", true),
    ("pascal", "Pa", true),
    ("joule", "J", true),
    ("watt", "W", true),
    ("coulomb", "C", true),
    ("volt", "V", true),
    ("farad", "F", true),
    ("ohm", "ohm", true),
    ("siemens", "S", true),
    ("weber", "Wb", true),
    ("tesla", "T", true),
    ("henry", "H", true),
    ("minute", "min", false),
    ("hour", "h", false),
    ("litre", "L", true),
    ("one", "1", false),
];

/// `\percent` is kept apart: it shares dimension one with `\one`, and only a factor of exactly
/// 0.01 (`%`, `%RH`) should select it.
const PERCENT: (&str, &str, bool) = ("percent", "%", false);

/// SI prefixes D-SI v2 knows (ronna, quetta, ronto and quecto postdate it).
const PREFIXES: [(&str, i32); 20] = [
    ("yotta", 24),
    ("zetta", 21),
    ("exa", 18),
    ("peta", 15),
    ("tera", 12),
    ("giga", 9),
    ("mega", 6),
    ("kilo", 3),
    ("hecto", 2),
    ("deca", 1),
    ("deci", -1),
    ("centi", -2),
    ("milli", -3),
    ("micro", -6),
    ("nano", -9),
    ("pico", -12),
    ("femto", -15),
    ("atto", -18),
    ("zepto", -21),
    ("yocto", -24),
];

struct DsiUnit {
    name: &'static str,
    dimension: Dimension,
    factor: f64,
    prefixable: bool,
}

fn vocabulary() -> &'static [DsiUnit] {
    static VOCAB: OnceLock<Vec<DsiUnit>> = OnceLock::new();
    VOCAB.get_or_init(|| {
        VOCABULARY
            .iter()
            .chain(std::iter::once(&PERCENT))
            .filter_map(|&(name, symbol, prefixable)| {
                // A symbol the catalogue does not know simply drops out of the vocabulary; the
                // tests check that none does.
                let unit = parse_unit(symbol).ok()?;
                Some(DsiUnit {
                    name,
                    dimension: unit.dimension,
                    factor: unit.factor,
                    prefixable,
                })
            })
            .collect()
    })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Where a quantity's values go: a D-SI unit string and how to get there from any unit of the
/// same dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct DsiTarget {
    /// The D-SI unit string, e.g. `\kilo\pascal`.
    pub unit: String,
    dimension: Dimension,
    /// SI value of one target unit (as an interval).
    factor: f64,
    /// Kelvin value of the target scale's zero (only `\degreeCelsius` points).
    offset: f64,
    /// The client symbol the target states exactly: values in it are copied, not recomputed,
    /// so the DCC carries the very digits of the PDF.
    verbatim: Option<String>,
}

impl DsiTarget {
    /// Whether values in the client's unit are written unchanged.
    pub fn is_verbatim(&self) -> bool {
        self.verbatim.is_some()
    }

    fn source_unit(&self, q: &QuantityJson) -> Result<Unit, String> {
        let unit = parse_unit(&q.unit).map_err(|e| format!("unit '{}': {e}", q.unit))?;
        if unit.dimension != self.dimension {
            return Err(format!(
                "'{}' ({}) cannot be written in {} ({})",
                q.unit,
                unit.dimension.describe(),
                self.unit,
                self.dimension.describe()
            ));
        }
        Ok(unit)
    }

    /// A value read as a point on its scale (a reading, a reference value: 212 °F → 100 °C).
    pub fn point(&self, q: &QuantityJson) -> Result<f64, String> {
        if self.verbatim.as_deref() == Some(q.unit.as_str()) {
            return Ok(q.value);
        }
        let unit = self.source_unit(q)?;
        let si = unit.point_to_si(q.value);
        // Going through kelvin, a point's rounding error scales with its distance from 0 K, not
        // from the target scale's zero (32 °F comes out as 5.7e-14 °C otherwise).
        Ok(tidy((si - self.offset) / self.factor, si / self.factor))
    }

    /// A value read as a difference (an error, a tolerance, an uncertainty: 0.9 °F → 0.5 K).
    pub fn interval(&self, q: &QuantityJson) -> Result<f64, String> {
        if self.verbatim.as_deref() == Some(q.unit.as_str()) {
            return Ok(q.value);
        }
        let unit = self.source_unit(q)?;
        let v = unit.interval_to_si(q.value) / self.factor;
        Ok(tidy(v, v))
    }
}

/// Drops the binary noise a conversion leaves in the last digits (0.9 × 5/9 =
/// 0.500 000 000 000 000 1), which would otherwise be printed on the certificate: the value is
/// rounded to twelve significant digits of `scale`, the magnitude the arithmetic worked at —
/// far beyond any calibration result.
fn tidy(v: f64, scale: f64) -> f64 {
    let scale = scale.abs().max(v.abs());
    if !v.is_finite() || !scale.is_finite() || scale == 0.0 {
        return v;
    }
    let decimals = 11 - scale.log10().floor() as i32;
    let rounded: f64 = if (0..=300).contains(&decimals) {
        format!("{v:.*}", decimals as usize).parse().unwrap_or(v)
    } else {
        format!("{v:.11e}").parse().unwrap_or(v)
    };
    // never −0: it would print as "-0"
    rounded + 0.0
}

/// The target for values read as points in `symbol` (readings, reference values,
/// environmental conditions).
pub fn point_target(symbol: &str) -> Result<DsiTarget, String> {
    let unit = parse_unit(symbol).map_err(|e| format!("unit '{symbol}': {e}"))?;
    if unit.is_affine() {
        let celsius = celsius();
        let is_celsius = close(unit.factor, celsius.factor) && close(unit.offset, celsius.offset);
        return Ok(DsiTarget {
            unit: "\\degreeCelsius".to_string(),
            dimension: unit.dimension,
            factor: celsius.factor,
            offset: celsius.offset,
            verbatim: is_celsius.then(|| symbol.to_string()),
        });
    }
    Ok(linear_target(symbol, &unit))
}

/// The target for values read as differences in `symbol` (errors, tolerances, uncertainties).
/// A Celsius difference stays `\degreeCelsius` (the certificate's unit; the SI Brochure
/// 2.3.4 lets a difference be given in either), other temperature scales become kelvin.
pub fn interval_target(symbol: &str) -> Result<DsiTarget, String> {
    let unit = parse_unit(symbol).map_err(|e| format!("unit '{symbol}': {e}"))?;
    if unit.is_affine() {
        let celsius = celsius();
        let is_celsius = close(unit.factor, celsius.factor) && close(unit.offset, celsius.offset);
        return Ok(DsiTarget {
            unit: if is_celsius {
                "\\degreeCelsius"
            } else {
                "\\kelvin"
            }
            .to_string(),
            dimension: unit.dimension,
            factor: celsius.factor,
            offset: 0.0,
            verbatim: is_celsius.then(|| symbol.to_string()),
        });
    }
    Ok(linear_target(symbol, &unit))
}

fn celsius() -> &'static Unit {
    static CELSIUS: OnceLock<Unit> = OnceLock::new();
    CELSIUS.get_or_init(|| parse_unit("°C").expect("the catalogue knows °C"))
}

/// A non-affine unit: exact D-SI form when every atom has one, else the coherent SI unit.
fn linear_target(symbol: &str, unit: &Unit) -> DsiTarget {
    if let Some(dsi) = exact_form(symbol, unit) {
        return DsiTarget {
            unit: dsi,
            dimension: unit.dimension,
            factor: unit.factor,
            offset: 0.0,
            verbatim: Some(symbol.to_string()),
        };
    }
    let named = vocabulary()
        .iter()
        .find(|v| v.dimension == unit.dimension && close(v.factor, 1.0));
    let dsi = match named {
        Some(v) => format!("\\{}", v.name),
        None => base_form(unit.dimension),
    };
    DsiTarget {
        unit: dsi,
        dimension: unit.dimension,
        factor: 1.0,
        offset: 0.0,
        verbatim: None,
    }
}

/// The dimension as a product of base units (`\kilogram\metre\tothe{-1}\second\tothe{-2}`).
fn base_form(dimension: Dimension) -> String {
    if dimension.is_dimensionless() {
        return "\\one".to_string();
    }
    let mut out = String::new();
    let positive = (0..7).filter(|&i| dimension.0[i] > 0);
    let negative = (0..7).filter(|&i| dimension.0[i] < 0);
    for i in positive.chain(negative) {
        push_power(
            &mut out,
            &format!("\\{}", BASE_UNITS[i]),
            dimension.0[i].into(),
        );
    }
    out
}

fn push_power(out: &mut String, unit: &str, exponent: i32) {
    out.push_str(unit);
    if exponent != 1 {
        out.push_str(&format!("\\tothe{{{exponent}}}"));
    }
}

/// prefix + unit for one catalogue atom (`kPa` → `\kilo\pascal`), exact ratios only.
fn atom_form(unit: &Unit) -> Option<String> {
    let candidates = || {
        vocabulary()
            .iter()
            .filter(move |v| v.dimension == unit.dimension)
    };
    if let Some(v) = candidates().find(|v| close(unit.factor / v.factor, 1.0)) {
        return Some(format!("\\{}", v.name));
    }
    candidates().filter(|v| v.prefixable).find_map(|v| {
        let ratio = unit.factor / v.factor;
        PREFIXES
            .iter()
            .find(|(_, e)| close(ratio, 10f64.powi(*e)))
            .map(|(p, _)| format!("\\{p}\\{}", v.name))
    })
}

/// The D-SI form of a whole symbol when each of its atoms has one, checked against the
/// catalogue's own reading of the symbol (dimension and factor) so that any divergence
/// between this reader and `parse_unit` falls back to conversion instead of mislabelling.
fn exact_form(symbol: &str, unit: &Unit) -> Option<String> {
    let factors = decompose(symbol)?;
    let mut dimension = Dimension::DIMENSIONLESS;
    let mut factor = 1.0;
    let mut numerator = Vec::new();
    let mut denominator = Vec::new();
    for (atom, exponent) in &factors {
        let atom_unit = parse_unit(atom).ok()?;
        dimension = dimension.checked_mul(atom_unit.dimension.checked_powi(*exponent)?)?;
        factor *= atom_unit.factor.powi(*exponent);
        let dsi = atom_form(&atom_unit)?;
        if *exponent > 0 {
            numerator.push((dsi, *exponent));
        } else {
            denominator.push((dsi, *exponent));
        }
    }
    if dimension != unit.dimension || !close(factor, unit.factor) {
        return None;
    }
    if numerator.is_empty() && denominator.is_empty() {
        return Some("\\one".to_string());
    }
    let mut out = String::new();
    for (dsi, e) in &numerator {
        push_power(&mut out, dsi, *e);
    }
    // `\per` binds one unit only; a single plain denominator reads best that way (`\volt\per
    // \kelvin`), anything more is written with negative exponents to stay unambiguous.
    if let ([_, ..], [(dsi, -1)]) = (numerator.as_slice(), denominator.as_slice()) {
        out.push_str("\\per");
        out.push_str(dsi);
    } else {
        for (dsi, e) in &denominator {
            push_power(&mut out, dsi, *e);
        }
    }
    Some(out)
}

/// The atoms of a symbol with their net exponents, read by the catalogue's own parser.
/// `None` for anything it does not read.
fn decompose(symbol: &str) -> Option<Vec<(String, i32)>> {
    crate::domain::quantity::unit_atoms(symbol).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(value: f64, unit: &str) -> QuantityJson {
        QuantityJson {
            value,
            unit: unit.to_string(),
        }
    }

    #[test]
    fn the_whole_vocabulary_is_read_from_the_catalogue() {
        assert_eq!(vocabulary().len(), VOCABULARY.len() + 1);
    }

    #[test]
    fn units_dsi_states_directly_keep_their_values() {
        for (symbol, dsi) in [
            ("mm", "\\milli\\metre"),
            ("m", "\\metre"),
            ("kPa", "\\kilo\\pascal"),
            ("MPa", "\\mega\\pascal"),
            ("Pa", "\\pascal"),
            ("mbar", "\\hecto\\pascal"),
            ("K", "\\kelvin"),
            ("mK", "\\milli\\kelvin"),
            ("V", "\\volt"),
            ("mV", "\\milli\\volt"),
            ("µV/K", "\\micro\\volt\\per\\kelvin"),
            ("uV/K", "\\micro\\volt\\per\\kelvin"),
            ("kg", "\\kilogram"),
            ("mg", "\\milli\\gram"),
            ("g", "\\gram"),
            ("N*m", "\\newton\\metre"),
            ("N·m", "\\newton\\metre"),
            ("m/s^2", "\\metre\\second\\tothe{-2}"),
            ("m·s⁻²", "\\metre\\second\\tothe{-2}"),
            (
                "J/(kg*K)",
                "\\joule\\kilogram\\tothe{-1}\\kelvin\\tothe{-1}",
            ),
            ("mm²", "\\milli\\metre\\tothe{2}"),
            ("mm/°C", "\\milli\\metre\\per\\kelvin"),
            ("kΩ", "\\kilo\\ohm"),
            ("ohm", "\\ohm"),
            ("mA", "\\milli\\ampere"),
            ("MHz", "\\mega\\hertz"),
            ("mL", "\\milli\\litre"),
            ("min", "\\minute"),
            ("h", "\\hour"),
            ("%", "\\percent"),
            ("%RH", "\\percent"),
            ("1", "\\one"),
            ("1/s", "\\second\\tothe{-1}"),
        ] {
            let target = interval_target(symbol).unwrap();
            assert_eq!(target.unit, dsi, "{symbol}");
            assert!(target.is_verbatim(), "{symbol}");
            assert_eq!(target.point(&q(1.234, symbol)).unwrap(), 1.234, "{symbol}");
        }
    }

    #[test]
    fn celsius_stays_celsius_for_points_and_differences() {
        let point = point_target("°C").unwrap();
        assert_eq!(point.unit, "\\degreeCelsius");
        assert_eq!(point.point(&q(20.5, "°C")).unwrap(), 20.5);
        assert_eq!(point.point(&q(20.5, "degC")).unwrap(), 20.5);
        assert!((point.point(&q(293.15, "K")).unwrap() - 20.0).abs() < 1e-9);
        let interval = interval_target("℃").unwrap();
        assert_eq!(interval.unit, "\\degreeCelsius");
        assert_eq!(interval.interval(&q(0.05, "K")).unwrap(), 0.05);
    }

    #[test]
    fn psi_is_converted_to_pascal() {
        let target = point_target("psi").unwrap();
        assert_eq!(target.unit, "\\pascal");
        assert!(!target.is_verbatim());
        let pa = target.point(&q(1.0, "psi")).unwrap();
        assert!((pa - 6_894.757_293_168).abs() < 1e-6, "{pa}");
        let pa = target.interval(&q(100.0, "psi")).unwrap();
        assert!((pa - 689_475.729_316_8).abs() < 1e-4, "{pa}");
    }

    #[test]
    fn bar_and_ppm_are_converted_to_coherent_units() {
        let bar = point_target("bar").unwrap();
        assert_eq!(bar.unit, "\\pascal");
        assert_eq!(bar.point(&q(2.5, "bar")).unwrap(), 250_000.0);
        let ppm = interval_target("ppm").unwrap();
        assert_eq!(ppm.unit, "\\one");
        assert_eq!(ppm.interval(&q(3.0, "ppm")).unwrap(), 3e-6);
    }

    #[test]
    fn fahrenheit_points_become_celsius_and_intervals_kelvin() {
        let point = point_target("°F").unwrap();
        assert_eq!(point.unit, "\\degreeCelsius");
        assert_eq!(point.point(&q(212.0, "°F")).unwrap(), 100.0);
        assert_eq!(point.point(&q(32.0, "degF")).unwrap(), 0.0);
        // inside a point's si:real the uncertainty shares the point's unit
        assert_eq!(point.interval(&q(0.9, "°F")).unwrap(), 0.5);
        let interval = interval_target("°F").unwrap();
        assert_eq!(interval.unit, "\\kelvin");
        assert_eq!(interval.interval(&q(0.9, "°F")).unwrap(), 0.5);
    }

    #[test]
    fn compound_units_without_a_dsi_atom_fall_back_to_base_units() {
        let target = interval_target("mm/psi").unwrap();
        assert_eq!(
            target.unit,
            "\\metre\\tothe{2}\\second\\tothe{2}\\kilogram\\tothe{-1}"
        );
        assert!(!target.is_verbatim());
    }

    #[test]
    fn incommensurable_units_are_refused() {
        let target = point_target("MPa").unwrap();
        assert!(target.point(&q(1.0, "°C")).is_err());
        assert!(point_target("furlong").is_err());
    }

    #[test]
    fn values_in_another_unit_are_converted_into_the_target() {
        let target = interval_target("MPa").unwrap();
        assert_eq!(target.interval(&q(50.0, "kPa")).unwrap(), 0.05);
    }
}
